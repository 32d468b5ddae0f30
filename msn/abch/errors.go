package abch

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Errors returned for responses the client refuses to process.
var (
	// ErrResponseTooLarge means the response body exceeded MaxResponseBytes.
	ErrResponseTooLarge = errors.New("abch: response body too large")
	// ErrTooManyEntries means a response listed more than MaxEntries contacts, groups or
	// members.
	ErrTooManyEntries = errors.New("abch: too many entries in response")
	// ErrMalformed means the response was not the SOAP document the call expects.
	ErrMalformed = errors.New("abch: malformed response")
	// ErrForbidden matches (with errors.Is) an HTTP 403 answer: the ticket was not accepted,
	// e.g. because the notification-server session it belongs to has ended.
	ErrForbidden = errors.New("abch: forbidden")
)

// Fault is a SOAP fault returned by the address book or sharing service. Code is the
// faultcode (e.g. "soap:Client"), String the faultstring, ErrorCode the service's
// detail/errorcode (e.g. "FullSyncRequired", "ContactAlreadyExists") and HTTPStatus the
// status of the HTTP response that carried it.
type Fault struct {
	Code, String, ErrorCode string
	HTTPStatus              int
}

// maxFaultErrorText bounds how much of a faultstring Error() repeats: servers put stack
// traces there.
const maxFaultErrorText = 200

// Error describes the fault; a long faultstring (servers put stack traces there) is cut.
func (f *Fault) Error() string {
	var b strings.Builder
	b.WriteString("abch: SOAP fault")
	if f.Code != "" {
		b.WriteString(" " + f.Code)
	}
	if f.ErrorCode != "" {
		b.WriteString(" (" + f.ErrorCode + ")")
	}
	if f.HTTPStatus != 0 && f.HTTPStatus != http.StatusOK {
		fmt.Fprintf(&b, " [HTTP %d]", f.HTTPStatus)
	}
	if s := strings.TrimSpace(f.String); s != "" {
		if len(s) > maxFaultErrorText {
			s = truncateUTF8(s, maxFaultErrorText) + "…"
		}
		b.WriteString(": " + s)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrForbidden) true for a fault delivered with HTTP 403.
func (f *Fault) Is(target error) bool {
	return target == ErrForbidden && f.HTTPStatus == http.StatusForbidden
}

// IsFullSyncRequired reports whether err is the fault that tells a client to drop its delta
// state and fetch the whole list again (errorcode "FullSyncRequired"; Escargot's
// Fault.fullsync).
func IsFullSyncRequired(err error) bool {
	var f *Fault
	if !errors.As(err, &f) {
		return false
	}
	if strings.EqualFold(f.ErrorCode, "FullSyncRequired") {
		return true
	}
	s := strings.ToLower(f.String)
	return strings.Contains(s, "full sync required") || strings.Contains(s, "fullsync")
}

// StatusError is an HTTP error status answered without a SOAP fault (Escargot answers 403
// when the ticket has no live NS session and 500 when a request makes it raise).
type StatusError struct {
	Method     string // SOAP method, e.g. "ABFindAll"
	StatusCode int
}

// Error names the method and the HTTP status.
func (e *StatusError) Error() string {
	return fmt.Sprintf("abch: %s: HTTP %d %s", e.Method, e.StatusCode, http.StatusText(e.StatusCode))
}

// Is makes errors.Is(err, ErrForbidden) true for HTTP 403.
func (e *StatusError) Is(target error) bool {
	return target == ErrForbidden && e.StatusCode == http.StatusForbidden
}

// truncateUTF8 cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
