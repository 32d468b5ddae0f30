package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// Direction says which side sent the bytes a [Reader] parses; TrID and payload rules differ.
type Direction int

const (
	// FromServer parses what an NS or SB server sends to a client.
	FromServer Direction = iota
	// FromClient parses what a client sends to a server (used by the fake server in tests).
	FromClient
)

// Default bounds for a Reader.
const (
	// DefaultMaxLine is the longest command line accepted, CRLF excluded. SSO tickets and
	// URL-encoded MSNObjects make lines of a few KiB; 16 KiB leaves room without waste.
	DefaultMaxLine = 16 << 10
	// DefaultMaxPayload is the largest payload accepted. Real payloads are at most a few
	// tens of KiB (initial ADL lists are split at 7500 bytes, SB MSG is capped at 1664).
	DefaultMaxPayload = 1 << 20
)

// Limits bounds what a Reader accepts. Zero fields take the defaults.
type Limits struct {
	// MaxLine is the longest command line accepted, CRLF excluded (default [DefaultMaxLine]).
	MaxLine int
	// MaxPayload is the largest payload accepted (default [DefaultMaxPayload]).
	MaxPayload int
}

func (l Limits) withDefaults() Limits {
	if l.MaxLine <= 0 {
		l.MaxLine = DefaultMaxLine
	}
	if l.MaxPayload <= 0 {
		l.MaxPayload = DefaultMaxPayload
	}
	return l
}

// Reader reads commands from a stream. It is not safe for concurrent use: a connection has one
// reader goroutine.
type Reader struct {
	br     *bufio.Reader
	dir    Direction
	limits Limits
}

// NewReader returns a Reader of commands sent by dir, bounded by limits.
func NewReader(r io.Reader, dir Direction, limits Limits) *Reader {
	limits = limits.withDefaults()
	// The buffer holds a whole line plus its CRLF so that ReadSlice can detect overlong lines
	// without growing.
	return &Reader{br: bufio.NewReaderSize(r, limits.MaxLine+2), dir: dir, limits: limits}
}

// ReadCommand reads the next command. Empty lines are skipped. A *ProtocolError means the
// stream is out of sync or over a bound and the connection must be closed; io.EOF means the
// peer closed cleanly between commands.
func (r *Reader) ReadCommand() (*Command, error) {
	for {
		line, err := r.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, &ProtocolError{Reason: fmt.Sprintf("command line longer than %d bytes", r.limits.MaxLine)}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(line) > 0 {
				return nil, &ProtocolError{Reason: "connection closed in the middle of a command line", Err: io.ErrUnexpectedEOF}
			}
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			continue
		}
		if len(line) > r.limits.MaxLine {
			return nil, &ProtocolError{Reason: fmt.Sprintf("command line longer than %d bytes", r.limits.MaxLine)}
		}
		cmd, plen, err := ParseLine(string(line), r.dir)
		if err != nil {
			return nil, err
		}
		if plen < 0 {
			return cmd, nil
		}
		if plen > r.limits.MaxPayload {
			return nil, &ProtocolError{Command: cmd.Name, Reason: fmt.Sprintf("payload of %d bytes exceeds the limit of %d", plen, r.limits.MaxPayload)}
		}
		cmd.HasPayload = true
		cmd.Payload = make([]byte, plen)
		if _, err := io.ReadFull(r.br, cmd.Payload); err != nil {
			return nil, &ProtocolError{Command: cmd.Name, Reason: "connection closed in the middle of a payload", Err: err}
		}
		return cmd, nil
	}
}

// serverNoTrID lists server commands that never carry a TrID.
var serverNoTrID = map[string]bool{
	"NLN": true, "FLN": true, "UBX": true, "BPR": true, "RNG": true, "JOI": true, "BYE": true,
	"QNG": true, "NOT": true, "UBN": true, "IPG": true, "OUT": true, "UBM": true, "MSG": true,
	"NFY": true,
}

// serverPayload lists server commands whose last argument is a payload length.
var serverPayload = map[string]bool{
	"MSG": true, "NOT": true, "IPG": true, "GCF": true, "UBX": true, "UBN": true, "UBM": true,
	"ADL": true, "RML": true, "FQY": true, "NFY": true, "SDG": true, "PUT": true, "DEL": true,
}

// clientNoTrID lists client commands that never carry a TrID.
var clientNoTrID = map[string]bool{"PNG": true, "OUT": true}

// clientPayload lists client commands whose last argument is a payload length.
var clientPayload = map[string]bool{
	"MSG": true, "QRY": true, "UUX": true, "ADL": true, "RML": true, "FQY": true, "UUN": true,
	"UUM": true, "PUT": true, "DEL": true, "SDG": true, "VAS": true, "SDC": true, "PAG": true,
	"PGD": true, "NOT": true,
}

// ParseLine parses one command line (without CRLF) sent by dir. It returns the command and
// the payload length that follows the line, or -1 when the command has no payload.
func ParseLine(line string, dir Direction) (*Command, int, error) {
	fields := splitFields(line)
	if len(fields) == 0 {
		return nil, -1, &ProtocolError{Reason: "empty command line"}
	}
	name := fields[0]
	if len(name) != 3 || !isAlnum(name) {
		return nil, -1, &ProtocolError{Reason: fmt.Sprintf("malformed command code %q", truncate(name, 16))}
	}
	cmd := &Command{Name: name}
	rest := fields[1:]

	noTrID := serverNoTrID
	if dir == FromClient {
		noTrID = clientNoTrID
	}
	if !noTrID[name] && len(rest) > 0 {
		if v, err := strconv.ParseUint(rest[0], 10, 32); err == nil {
			cmd.TrID = uint32(v)
			cmd.HasTrID = true
			rest = rest[1:]
		} else if dir == FromClient {
			return nil, -1, &ProtocolError{Command: name, Reason: fmt.Sprintf("non-numeric transaction id %q", truncate(rest[0], 16))}
		}
	}
	cmd.Args = rest

	if !hasPayload(cmd, dir) {
		return cmd, -1, nil
	}
	last := rest[len(rest)-1]
	n, err := strconv.Atoi(last)
	if err != nil || n < 0 || !IsDigits(last) {
		return nil, -1, &ProtocolError{Command: name, Reason: fmt.Sprintf("bad payload length %q", truncate(last, 16))}
	}
	cmd.Args = rest[:len(rest)-1]
	return cmd, n, nil
}

func hasPayload(cmd *Command, dir Direction) bool {
	rest := cmd.Args
	if len(rest) == 0 {
		return false
	}
	last := rest[len(rest)-1]
	if isErrorCode(cmd.Name) {
		// An error with a numeric parameter after the TrID carries a payload (241, 509, FQY).
		return dir == FromServer && cmd.HasTrID && IsDigits(rest[0]) && len(rest) == 1
	}
	if dir == FromClient {
		return clientPayload[cmd.Name]
	}
	if !serverPayload[cmd.Name] {
		return false
	}
	switch cmd.Name {
	case "ADL", "RML", "FQY", "PUT", "DEL", "SDG", "GCF":
		// "ADL 5 OK", "GCF 3 Shields.xml" (request echo) carry none.
		return IsDigits(last)
	}
	return true
}

// splitFields splits on runs of spaces (the server emits exactly one; be tolerant). Tabs and
// stray CRs separate too, so that no parsed argument holds a control separator.
func splitFields(s string) []string {
	out := make([]string, 0, 8)
	start := -1
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '\t' || s[i] == '\r' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Writer serialises commands onto a stream; it is safe for concurrent use.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf bytes.Buffer
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteCommand writes one command atomically. A command whose name or arguments would break
// the line framing (a space, CR or LF inside an argument, a malformed name) is refused with a
// *ProtocolError and nothing is written, so that no caller can inject a second command.
func (w *Writer) WriteCommand(c *Command) error {
	if err := c.checkFraming(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Reset()
	c.appendTo(&w.buf)
	if _, err := w.w.Write(w.buf.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", c.Name, err)
	}
	return nil
}

// checkFraming reports whether c can be written as one well-formed line.
func (c *Command) checkFraming() error {
	if len(c.Name) != 3 || !isAlnum(c.Name) {
		return &ProtocolError{Command: truncate(c.Name, 16), Reason: "refusing to write a malformed command code"}
	}
	for i, a := range c.Args {
		if strings.ContainsAny(a, " \r\n") {
			return &ProtocolError{Command: c.Name, Reason: fmt.Sprintf("refusing to write argument %d: it holds a space, CR or LF", i+1)}
		}
	}
	return nil
}
