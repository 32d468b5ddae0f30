package message

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Bounds applied by [ParseHeaders] and [Parse].
const (
	// MaxHeaders is the largest number of header lines accepted in one payload. The profile
	// message, the biggest real header block, has about twenty.
	MaxHeaders = 128
	// MaxHeaderBytes is the largest header block accepted (everything before the blank line).
	MaxHeaderBytes = 64 << 10
)

// Errors returned by the parsers; they are wrapped with context, test with errors.Is.
var (
	// ErrMalformed means the payload is not "Name: value" lines, a blank line and a body.
	ErrMalformed = errors.New("message: malformed payload")
	// ErrTooLarge means a bound (header count, header size, chunk count, total size) was hit.
	ErrTooLarge = errors.New("message: payload exceeds a limit")
)

// Header is one "Name: value" line. Name keeps the sender's spelling; lookups ignore case.
type Header struct {
	Name, Value string
}

// Headers is an ordered list of header lines.
type Headers []Header

// Get returns the value of the first header called name (case-insensitive), or "".
func (h Headers) Get(name string) string {
	v, _ := h.Lookup(name)
	return v
}

// Lookup returns the value of the first header called name (case-insensitive) and whether it
// exists.
func (h Headers) Lookup(name string) (string, bool) {
	for _, x := range h {
		if strings.EqualFold(x.Name, name) {
			return x.Value, true
		}
	}
	return "", false
}

// Without returns a copy of h without the headers called by any of names.
func (h Headers) Without(names ...string) Headers {
	out := make(Headers, 0, len(h))
next:
	for _, x := range h {
		for _, n := range names {
			if strings.EqualFold(x.Name, n) {
				continue next
			}
		}
		out = append(out, x)
	}
	return out
}

// ParseHeaders splits data into its header lines and its body. Lines end with CRLF or LF; the
// first empty line ends the headers (a payload with no empty line is all headers and has an
// empty body). A line starting with a space or a tab continues the previous header (RFC 822
// folding, used by the mail-style OIM messages). Header names are trimmed, values are trimmed
// of surrounding spaces. More than [MaxHeaders] lines or a header block over [MaxHeaderBytes]
// is [ErrTooLarge]; a line without a colon is [ErrMalformed].
func ParseHeaders(data []byte) (Headers, []byte, error) {
	var hs Headers
	rest := data
	consumed := 0
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		var line []byte
		if i < 0 {
			line, rest = rest, nil
		} else {
			line, rest = rest[:i], rest[i+1:]
		}
		consumed += len(line) + 1
		if consumed > MaxHeaderBytes+1 {
			return nil, nil, fmt.Errorf("%w: header block longer than %d bytes", ErrTooLarge, MaxHeaderBytes)
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			return hs, rest, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(hs) == 0 {
				return nil, nil, fmt.Errorf("%w: continuation line before any header", ErrMalformed)
			}
			cont := strings.TrimSpace(string(line))
			if cont != "" {
				if hs[len(hs)-1].Value == "" {
					hs[len(hs)-1].Value = cont
				} else {
					hs[len(hs)-1].Value += " " + cont
				}
			}
			continue
		}
		c := bytes.IndexByte(line, ':')
		if c <= 0 {
			return nil, nil, fmt.Errorf("%w: header line %q has no name", ErrMalformed, truncate(string(line), 40))
		}
		if len(hs) >= MaxHeaders {
			return nil, nil, fmt.Errorf("%w: more than %d header lines", ErrTooLarge, MaxHeaders)
		}
		hs = append(hs, Header{
			Name:  strings.TrimSpace(string(line[:c])),
			Value: strings.TrimSpace(string(line[c+1:])),
		})
	}
	return hs, nil, nil
}

// ParseContentType splits a Content-Type value into its lower-case media type and its
// parameters (lower-case keys, unquoted values). It is tolerant: a missing value, stray
// semicolons or a parameter without '=' are skipped.
func ParseContentType(v string) (mediaType string, params map[string]string) {
	parts := strings.Split(v, ";")
	mediaType = strings.ToLower(strings.TrimSpace(parts[0]))
	for _, p := range parts[1:] {
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "" {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		if params == nil {
			params = make(map[string]string)
		}
		if _, dup := params[k]; !dup {
			params[k] = val
		}
	}
	return mediaType, params
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
