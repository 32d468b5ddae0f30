package ns

import (
	"context"
	"errors"
	"sync"
)

var errNotImplemented = errors.New("ns: not implemented yet")

// Session is a logged-in Notification Server session.
type Session struct {
	mu       sync.Mutex
	version  int
	passport string
	name     string
	contacts map[string]*Contact
	done     chan struct{}
	err      error
}

// Login connects to cfg.Server, negotiates a version, authenticates and fetches the contact list.
func Login(ctx context.Context, cfg Config, passport, password string) (*Session, error) {
	return nil, errNotImplemented
}

// Version returns the negotiated protocol version.
func (s *Session) Version() int { return s.version }

// Passport returns the account's passport (e-mail).
func (s *Session) Passport() string { return s.passport }

// FriendlyName returns our own friendly name.
func (s *Session) FriendlyName() string { s.mu.Lock(); defer s.mu.Unlock(); return s.name }

// Contacts returns a snapshot of the contact list.
func (s *Session) Contacts() []Contact { return nil }

// Contact returns one contact by passport.
func (s *Session) Contact(passport string) (Contact, bool) { return Contact{}, false }

// SetStatus changes our presence status.
func (s *Session) SetStatus(ctx context.Context, st Status) error { return errNotImplemented }

// SetFriendlyName changes our friendly name.
func (s *Session) SetFriendlyName(ctx context.Context, name string) error { return errNotImplemented }

// SetPersonalMessage changes our personal message (MSNP11+).
func (s *Session) SetPersonalMessage(ctx context.Context, psm string) error {
	return errNotImplemented
}

// AddContact adds passport to the forward and allow lists.
func (s *Session) AddContact(ctx context.Context, passport string) error { return errNotImplemented }

// RemoveContact removes passport from the forward list.
func (s *Session) RemoveContact(ctx context.Context, passport string) error {
	return errNotImplemented
}

// Block moves passport from the allow to the block list.
func (s *Session) Block(ctx context.Context, passport string) error { return errNotImplemented }

// Unblock moves passport from the block to the allow list.
func (s *Session) Unblock(ctx context.Context, passport string) error { return errNotImplemented }

// AcceptAddedBy allows someone who added us, optionally adding them back to the forward list.
func (s *Session) AcceptAddedBy(ctx context.Context, passport string, addBack bool) error {
	return errNotImplemented
}

// IgnoreAddedBy acknowledges an add without allowing (puts the contact on the block list).
func (s *Session) IgnoreAddedBy(ctx context.Context, passport string) error {
	return errNotImplemented
}

// RequestSwitchboard asks for a new switchboard session (XFR SB).
func (s *Session) RequestSwitchboard(ctx context.Context) (SwitchboardTicket, error) {
	return SwitchboardTicket{}, errNotImplemented
}

// SendOfflineText sends a text to an offline contact via UUM (MSNP18 only).
func (s *Session) SendOfflineText(ctx context.Context, to, text string) error {
	return errNotImplemented
}

// Ticket returns the SSO/TWN ticket for a domain, or "".
func (s *Session) Ticket(domain string) string { return "" }

// MSPAuth returns the MSPAuth value of the profile message.
func (s *Session) MSPAuth() string { return "" }

// ChallengeAnswer computes the answer to a challenge for the negotiated version.
func (s *Session) ChallengeAnswer(chl string) (productID, answer string) { return "", "" }

// Close logs out (OUT) and closes the connection.
func (s *Session) Close() error { return errNotImplemented }

// Done is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns the disconnect cause after Done is closed.
func (s *Session) Err() error { s.mu.Lock(); defer s.mu.Unlock(); return s.err }
