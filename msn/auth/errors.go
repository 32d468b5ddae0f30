package auth

import (
	"errors"
	"fmt"
	"net/http"
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

// ErrThrottled means the login service asked the client to come back later (HTTP 429 or 503,
// or a throttling SOAP fault). It is not a wrong password: retry after a while. Test for it
// with errors.Is.
var ErrThrottled = errors.New("login service busy, try again later")

// statusError describes an unexpected HTTP status, marking the throttling ones.
func statusError(resp *http.Response) error {
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if ra := printable(resp.Header.Get("Retry-After"), 32); ra != "" {
			return fmt.Errorf("%w (Retry-After %s)", ErrThrottled, ra)
		}
		return ErrThrottled
	}
	return errors.New("unexpected status")
}

// throttled reports whether a SOAP fault is about request rates.
func throttled(code, sub, text string) bool {
	for _, s := range []string{code, sub, text} {
		l := strings.ToLower(s)
		if strings.Contains(l, "throttl") || strings.Contains(l, "too many") || strings.Contains(l, "busy") {
			return true
		}
	}
	return false
}

// printable returns s cut to at most n bytes with control characters replaced, so that server
// words can be shown in states and logs.
func printable(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = s[:n]
	}
	s = strings.ToValidUTF8(s, "?")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
