package auth

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// ErrBadCredentials means the login server rejected the e-mail address or password. Test for
// it with errors.Is; it is usually wrapped in an [*Error].
var ErrBadCredentials = errors.New("wrong e-mail or password")

// Error is a failed HTTP login step: a transport failure, an unexpected HTTP status or an
// unparseable response. It never carries the password or a ticket.
type Error struct {
	// Op names the step, e.g. "passport nexus", "passport login", "sso login".
	Op string
	// URL is the requested URL with any user info removed.
	URL string
	// Status is the HTTP status code, or 0 when no response arrived.
	Status int
	// Err is the underlying cause (may be ErrBadCredentials, a context error, a net error).
	Err error
}

// Error implements the error interface.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("auth: ")
	b.WriteString(e.Op)
	if e.URL != "" {
		b.WriteString(" ")
		b.WriteString(e.URL)
	}
	if e.Status != 0 {
		b.WriteString(": HTTP ")
		b.WriteString(strconv.Itoa(e.Status))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// safeURL returns u without user info, for error messages.
func safeURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	p.User = nil
	return p.String()
}

// stripURLError replaces a *url.Error (whose message repeats the URL, possibly with user info)
// by its cause; the URL is already in the surrounding *Error.
func stripURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
