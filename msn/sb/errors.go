package sb

import (
	"errors"
	"fmt"

	"github.com/msnbridge/msnbridge/msn/wire"
)

// Errors reported by the package. Match them with errors.Is.
var (
	// ErrOffline: the contact is offline, invisible or does not exist (CAL → 217), or a
	// message was not delivered to the only other participant (NAK).
	ErrOffline = errors.New("sb: contact is offline or not accepting messages")
	// ErrBlocked: the contact blocks us (CAL → 216).
	ErrBlocked = errors.New("sb: contact blocks this account")
	// ErrInvalidUser: the passport is malformed (CAL → 208).
	ErrInvalidUser = errors.New("sb: invalid passport")
	// ErrAlreadyInSession: the contact is already in the session or already invited (CAL → 215).
	ErrAlreadyInSession = errors.New("sb: contact already in the session")
	// ErrNotDelivered: the server answered NAK to a message.
	ErrNotDelivered = errors.New("sb: message not delivered (NAK)")
	// ErrConnectionLost: the switchboard connection dropped before the message was acknowledged.
	ErrConnectionLost = errors.New("sb: switchboard connection lost")
	// ErrTimeout: a request or a message got no answer in time.
	ErrTimeout = errors.New("sb: timed out")
	// ErrClosed: the manager or conversation was closed.
	ErrClosed = errors.New("sb: closed")
	// ErrNoParticipants: there is nobody to talk to in this conversation.
	ErrNoParticipants = errors.New("sb: conversation has no participants")
	// ErrNotJoined: a member of a multi-party conversation was called but was not on the
	// switchboard when a message went out (did not join in time, or left); see Result.Missed.
	ErrNotJoined = errors.New("sb: participant not in the switchboard")
	// ErrNotConnected: the operation needs a live switchboard and there is none.
	ErrNotConnected = errors.New("sb: no live switchboard")
	// ErrQueueFull: too many messages are already waiting for a switchboard.
	ErrQueueFull = errors.New("sb: too many messages waiting")
	// ErrMessageTooLarge: a raw payload is larger than MaxPayload.
	ErrMessageTooLarge = errors.New("sb: payload larger than the switchboard limit")
)

// CallError is a failed CAL (invitation of a contact into a switchboard). It matches the
// sentinel for its code (ErrOffline, ErrBlocked, ErrInvalidUser, ErrAlreadyInSession) and the
// underlying *wire.ServerError with errors.Is / errors.As.
type CallError struct {
	Passport string
	Code     int
	Err      error // the server error or transport error
}

// Error says which contact could not be called and why.
func (e *CallError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("sb: CAL %s: %d (%s)", e.Passport, e.Code, wire.ErrorText(e.Code))
	}
	return fmt.Sprintf("sb: CAL %s: %v", e.Passport, e.Err)
}

// Unwrap returns the sentinel matching the code (if any) and the underlying error.
func (e *CallError) Unwrap() []error {
	out := make([]error, 0, 2)
	if s := sentinelFor(e.Code); s != nil {
		out = append(out, s)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

func sentinelFor(code int) error {
	switch code {
	case wire.ErrPrincipalOffline:
		return ErrOffline
	case wire.ErrNotInList:
		return ErrBlocked
	case wire.ErrInvalidUsername:
		return ErrInvalidUser
	case wire.ErrAlreadyInList:
		return ErrAlreadyInSession
	}
	return nil
}

func newCallError(passport string, err error) error {
	return &CallError{Passport: passport, Code: wire.ErrorCode(err), Err: err}
}
