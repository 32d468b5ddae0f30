package wire

import (
	"bytes"
	"strconv"
	"strings"
)

// Command is one MSNP command as it appears on the wire.
type Command struct {
	// Name is the command code, e.g. "USR", or a three-digit error code such as "911".
	Name string
	// TrID is the transaction id; meaningful only when HasTrID is true. Unsolicited server
	// commands that syntactically need one carry 0.
	TrID uint32
	// HasTrID reports whether the command carries a transaction id.
	HasTrID bool
	// HasPayload reports whether the command is a payload command (a zero-length payload is
	// still a payload: "UBX 1:x 0"). It sits with the other small fields so that a Command
	// is 72 bytes, not 80: the reader allocates one per command read.
	HasPayload bool
	// Args are the parameters after the name and the TrID. For payload commands the final
	// byte count is not included: it is derived from Payload when encoding.
	Args []string
	// Payload holds the bytes after the line for payload commands, nil otherwise.
	Payload []byte
}

// Arg returns the i-th argument, or "" when there are fewer.
func (c *Command) Arg(i int) string {
	if i < 0 || i >= len(c.Args) {
		return ""
	}
	return c.Args[i]
}

// IsError reports whether the command is a numeric error reply.
func (c *Command) IsError() bool { return isErrorCode(c.Name) }

// ErrorCode returns the numeric error code, or 0 when the command is not an error.
func (c *Command) ErrorCode() int {
	if !c.IsError() {
		return 0
	}
	n, _ := strconv.Atoi(c.Name)
	return n
}

// Err returns the command as a *ServerError when it is an error reply, nil otherwise.
func (c *Command) Err() error {
	if !c.IsError() {
		return nil
	}
	return &ServerError{Code: c.ErrorCode(), TrID: c.TrID, Args: c.Args, Payload: c.Payload}
}

// New builds a command with a TrID and no payload.
func New(name string, trid uint32, args ...string) *Command {
	return &Command{Name: name, TrID: trid, HasTrID: true, Args: args}
}

// NewNoTrID builds a command without a TrID and without payload (PNG, OUT, NLN, …).
func NewNoTrID(name string, args ...string) *Command {
	return &Command{Name: name, Args: args}
}

// NewPayload builds a payload command with a TrID.
func NewPayload(name string, trid uint32, payload []byte, args ...string) *Command {
	return &Command{Name: name, TrID: trid, HasTrID: true, Args: args, Payload: payload, HasPayload: true}
}

// NewPayloadNoTrID builds a payload command without a TrID (server MSG, UBX, NOT, …).
func NewPayloadNoTrID(name string, payload []byte, args ...string) *Command {
	return &Command{Name: name, Args: args, Payload: payload, HasPayload: true}
}

// Encode returns the command as wire bytes: the line, CRLF and the payload if any.
func (c *Command) Encode() []byte {
	var b bytes.Buffer
	c.appendTo(&b)
	return b.Bytes()
}

func (c *Command) appendTo(b *bytes.Buffer) {
	b.Grow(len(c.Name) + 16 + len(c.Payload) + 16*len(c.Args))
	b.WriteString(c.Name)
	if c.HasTrID {
		b.WriteByte(' ')
		b.WriteString(strconv.FormatUint(uint64(c.TrID), 10))
	}
	for _, a := range c.Args {
		b.WriteByte(' ')
		b.WriteString(a)
	}
	if c.HasPayload || c.Payload != nil {
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(len(c.Payload)))
	}
	b.WriteString("\r\n")
	b.Write(c.Payload)
}

// String renders the command line for logs: the payload is summarised by its length and the
// arguments of commands that carry secrets (USR hashes and tickets, SB cookies) are masked.
func (c *Command) String() string {
	var b strings.Builder
	b.WriteString(c.Name)
	if c.HasTrID {
		b.WriteByte(' ')
		b.WriteString(strconv.FormatUint(uint64(c.TrID), 10))
	}
	for i, a := range c.Args {
		b.WriteByte(' ')
		if secretArg(c, i) {
			b.WriteString("***")
		} else {
			b.WriteString(a)
		}
	}
	if c.HasPayload {
		b.WriteString(" [")
		b.WriteString(strconv.Itoa(len(c.Payload)))
		b.WriteString(" bytes]")
	}
	return b.String()
}

// secretArg reports whether argument i of c is a credential that must not be logged: USR
// ticket/hash/blob arguments, SB cookies in USR/ANS/XFR/RNG.
func secretArg(c *Command, i int) bool {
	switch c.Name {
	case "USR":
		// USR t MD5|TWN|SSO S <secret> [blob] [guid]; SB: USR t email cookie
		if len(c.Args) >= 3 && c.Args[1] == "S" {
			return i >= 2 && i <= 3
		}
		if len(c.Args) == 2 && c.Args[0] != "OK" {
			return i == 1
		}
	case "ANS":
		return i == 1 && len(c.Args) >= 3
	case "XFR":
		return i == 3 && c.Arg(0) == "SB"
	case "RNG":
		// RNG sessid host:port CKI cookie email friendly
		return i == 3
	}
	return false
}

func isErrorCode(name string) bool {
	return len(name) == 3 && IsDigits(name)
}

// IsDigits reports whether s is a non-empty run of ASCII decimal digits (TrIDs, lengths,
// network ids).
func IsDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
