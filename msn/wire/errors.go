package wire

import (
	"errors"
	"fmt"
)

// ProtocolError means the peer sent something that cannot be framed: an overlong line or
// payload, a bad length, a malformed code. The connection cannot continue after it.
type ProtocolError struct {
	// Command is the code of the command being framed, "" when the line itself is bad.
	Command string
	// Reason says what was wrong, e.g. "command line longer than 16384 bytes".
	Reason string
	// Err is the underlying cause (io.ErrUnexpectedEOF for a cut stream), or nil.
	Err error
}

// Error describes the framing problem.
func (e *ProtocolError) Error() string {
	msg := "msnp protocol error"
	if e.Command != "" {
		msg += " in " + e.Command
	}
	msg += ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying cause, if any.
func (e *ProtocolError) Unwrap() error { return e.Err }

// ServerError is a numeric error reply ("911 4") from the server.
type ServerError struct {
	// Code is the three-digit error code; [ErrorText] gives its meaning.
	Code int
	// TrID is the transaction id of the request the error answers (0 when unsolicited).
	TrID uint32
	// Args are any extra parameters after the TrID.
	Args []string
	// Payload is the payload some MSNP13+ errors carry (241 echoes the rejected ADL), or nil.
	Payload []byte
}

// Error gives the code and its meaning, e.g. "msnp server error 911 (authentication failed)".
func (e *ServerError) Error() string {
	return fmt.Sprintf("msnp server error %d (%s)", e.Code, ErrorText(e.Code))
}

// Is lets errors.Is(err, &ServerError{Code: n}) match by code.
func (e *ServerError) Is(target error) bool {
	var t *ServerError
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// ErrorCode returns the MSNP error code carried by err, or 0.
func ErrorCode(err error) int {
	var se *ServerError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// Well-known error codes a client acts on.
const (
	ErrSyntax             = 200
	ErrInvalidParameter   = 201
	ErrInvalidNetworkID   = 204
	ErrInvalidUser        = 205
	ErrAlreadyLoggedIn    = 207
	ErrInvalidUsername    = 208
	ErrListFull           = 210
	ErrAlreadyInList      = 215
	ErrNotInList          = 216
	ErrPrincipalOffline   = 217
	ErrAlreadyInMode      = 218
	ErrInOppositeList     = 219
	ErrXMLInvalid         = 241
	ErrNotLoggedIn        = 302
	ErrInternal           = 500
	ErrCommandDisabled    = 502
	ErrChallengeFailed    = 540
	ErrServerBusy         = 600
	ErrServerUnavailable  = 601
	ErrServerGoingDown    = 604
	ErrBadCVR             = 710
	ErrTooRapid           = 713
	ErrNotExpected        = 715
	ErrAuthFailed         = 911
	ErrNotAllowedWhileHDN = 913
	ErrBadTicket          = 928
)

var errorTexts = map[int]string{
	200: "syntax error", 201: "invalid parameter", 203: "invalid federated user",
	204: "invalid network id", 205: "invalid user", 206: "domain name missing",
	207: "already logged in", 208: "invalid username", 209: "friendly name not allowed",
	210: "list full", 212: "unexpected", 213: "invalid rename request",
	215: "already on that list or in the session", 216: "not on list or blocked",
	217: "contact offline or not accepting messages", 218: "already in that mode",
	219: "already in the opposite list", 220: "not accepting pages", 223: "too many groups",
	224: "invalid group", 225: "contact not in group", 227: "group not empty",
	228: "group name already exists", 229: "group name too long", 230: "cannot remove group 0",
	231: "group does not exist", 232: "invalid mobile number", 233: "unknown mobile number",
	234: "unknown mobile domain", 240: "empty domain in contact list XML",
	241: "invalid contact list XML", 280: "switchboard failed", 281: "transfer to switchboard failed",
	282: "P2P error", 300: "required fields missing", 301: "too many search results",
	302: "not logged in", 402: "error accessing contact list", 403: "error accessing contact list",
	420: "invalid account permissions", 500: "internal server error", 501: "database server error",
	502: "command disabled", 509: "UPS failure", 510: "file operation failed", 511: "banned",
	520: "memory allocation failed", 540: "challenge response failed", 600: "server busy",
	601: "server unavailable", 602: "peer notification server down", 603: "database connection failed",
	604: "server going down", 605: "server unavailable", 700: "could not create connection",
	707: "could not create connection", 710: "bad CVR parameters", 711: "write is blocking",
	712: "session overload", 713: "acting too rapidly", 714: "too many sessions",
	715: "not expected", 717: "bad friend file", 731: "not expected",
	800: "changing too rapidly", 910: "server too busy", 911: "authentication failed",
	912: "server too busy", 913: "not allowed while appearing offline", 914: "server unavailable",
	915: "server unavailable", 916: "server unavailable", 917: "authentication failed",
	918: "server too busy", 919: "server too busy", 920: "not accepting new users",
	921: "server too busy", 922: "server too busy", 923: "parental consent required",
	924: "account not verified", 928: "bad ticket", 931: "account not on this server",
	933: "invalid circle membership",
}

// ErrorText returns the meaning of an MSNP error code, or "unknown error".
func ErrorText(code int) string {
	if t, ok := errorTexts[code]; ok {
		return t
	}
	return "unknown error"
}
