package p2p

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/msnbridge/msnbridge/msn/message"
)

// MSNSLP constants (FACTS §9.2).
const (
	SLPVersion = "MSNSLP/1.0"

	ContentSessionReq   = "application/x-msnmsgr-sessionreqbody"
	ContentTransReq     = "application/x-msnmsgr-transreqbody"
	ContentTransResp    = "application/x-msnmsgr-transrespbody"
	ContentSessionClose = "application/x-msnmsgr-sessionclosebody"

	// EUF-GUIDs of the applications (FACTS §9.2).
	EUFGUIDMSNObject    = "{A4268EEC-FEC5-49E5-95C3-F126696BDBF6}" // display picture, emoticon, wink, voice clip
	EUFGUIDFileTransfer = "{5D3E02AB-6190-11D3-BBBB-00C04F795683}"
	EUFGUIDWebcam       = "{4BD96FC0-AB17-4425-A14A-439185962DC8}"
	EUFGUIDPhotoShare   = "{41D3E74E-04A2-4B37-96F8-08ACDB610874}"
)

// Bounds of the SLP parser.
const (
	MaxSLPSize    = 64 << 10 // a whole SLP message (an INVITE with a preview image stays far below)
	maxSLPHeaders = 64
	maxSLPFields  = 64
)

// Field is one "Name: value" line of an SLP header block or body (the same shape as MIME
// headers).
type Field = message.Header

// Fields is an ordered list of fields; Get and Lookup ignore the case of names.
type Fields = message.Headers

// SLPMessage is an MSNSLP request (INVITE, BYE, …) or response ("MSNSLP/1.0 200 OK").
type SLPMessage struct {
	Method     string // request method; "" for a response
	Target     string // request URI, e.g. "MSNMSGR:bob@example.com"
	StatusCode int    // response status; 0 for a request
	Reason     string // response reason phrase, e.g. "Decline"
	// Headers in wire order. Content-Length is recomputed from Body by Bytes.
	Headers Fields
	// Body is the Content-Length bytes after the blank line, the trailing NUL included.
	Body []byte
}

// IsRequest reports whether m is a request.
func (m *SLPMessage) IsRequest() bool { return m.Method != "" }

// StartLine returns the first line, e.g. "INVITE MSNMSGR:bob@example.com MSNSLP/1.0".
func (m *SLPMessage) StartLine() string {
	if m.IsRequest() {
		return m.Method + " " + m.Target + " " + SLPVersion
	}
	return SLPVersion + " " + strconv.Itoa(m.StatusCode) + " " + m.Reason
}

// To returns the To address without "<msnmsgr:" and ">" (e.g. "bob@example.com;{guid}").
func (m *SLPMessage) To() string { return addrValue(m.Headers.Get("To")) }

// From returns the From address like To.
func (m *SLPMessage) From() string { return addrValue(m.Headers.Get("From")) }

// CallID returns the Call-ID header.
func (m *SLPMessage) CallID() string { return m.Headers.Get("Call-ID") }

// Branch returns the branch of the Via header ("MSNSLP/1.0/TLP ;branch={…}").
func (m *SLPMessage) Branch() string {
	via := m.Headers.Get("Via")
	const key = "branch="
	i := -1
	for j := 0; j+len(key) <= len(via); j++ { // byte-wise: ToLower may change lengths
		if strings.EqualFold(via[j:j+len(key)], key) {
			i = j
			break
		}
	}
	if i < 0 {
		return ""
	}
	b := via[i+len(key):]
	if j := strings.IndexAny(b, "; \t"); j >= 0 {
		b = b[:j]
	}
	return b
}

// CSeq returns the CSeq header as a number (0 when absent or not a number).
func (m *SLPMessage) CSeq() int {
	n, _ := strconv.Atoi(strings.TrimSpace(m.Headers.Get("CSeq")))
	return n
}

// ContentType returns the Content-Type header in lower case.
func (m *SLPMessage) ContentType() string {
	return strings.ToLower(strings.TrimSpace(m.Headers.Get("Content-Type")))
}

// BodyFields parses the body's "Name: value" lines (EUF-GUID, SessionID, AppID, Context, …)
// up to the blank line or NUL that ends them.
func (m *SLPMessage) BodyFields() Fields {
	body := m.Body
	if i := bytes.IndexByte(body, 0); i >= 0 {
		body = body[:i]
	}
	var out Fields
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			if len(out) > 0 {
				break
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || len(out) >= maxSLPFields {
			continue
		}
		out = append(out, Field{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	}
	return out
}

// SessionID returns the body's SessionID field and whether it holds a number.
func (m *SLPMessage) SessionID() (uint32, bool) {
	v, ok := m.BodyFields().Lookup("SessionID")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 32)
	return uint32(n), err == nil
}

func addrValue(v string) string {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(strings.TrimSuffix(v, ">"), "<")
	if len(v) >= 8 && strings.EqualFold(v[:8], "msnmsgr:") {
		v = v[8:]
	}
	return v
}

// ParseSLP parses an MSNSLP message: start line, headers, blank line, then Content-Length
// bytes of body (the rest when there is no Content-Length; bytes after it are ignored). Lines
// may end in CRLF or LF.
func ParseSLP(b []byte) (*SLPMessage, error) {
	if len(b) > MaxSLPSize {
		return nil, fmt.Errorf("%w: SLP message of %d bytes (max %d)", ErrTooLarge, len(b), MaxSLPSize)
	}
	line, rest, ok := cutLine(b)
	if !ok {
		return nil, fmt.Errorf("%w: SLP start line not terminated", ErrMalformed)
	}
	m := &SLPMessage{}
	parts := strings.SplitN(line, " ", 3)
	if len(parts) < 3 {
		return nil, fmt.Errorf("%w: SLP start line %q", ErrMalformed, clip(line))
	}
	if parts[0] == SLPVersion {
		code, err := strconv.Atoi(parts[1])
		if err != nil || code < 100 || code > 999 {
			return nil, fmt.Errorf("%w: SLP status %q", ErrMalformed, clip(parts[1]))
		}
		m.StatusCode, m.Reason = code, strings.TrimSpace(parts[2])
	} else {
		if strings.TrimSpace(parts[2]) != SLPVersion || !isToken(parts[0]) || parts[1] == "" {
			return nil, fmt.Errorf("%w: SLP start line %q", ErrMalformed, clip(line))
		}
		m.Method, m.Target = parts[0], parts[1]
	}
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return nil, fmt.Errorf("%w: SLP headers not terminated by a blank line", ErrMalformed)
		}
		if line == "" {
			break
		}
		name, value, found := strings.Cut(line, ":")
		if !found || !isToken(strings.TrimSpace(name)) {
			return nil, fmt.Errorf("%w: SLP header line %q", ErrMalformed, clip(line))
		}
		if len(m.Headers) >= maxSLPHeaders {
			return nil, fmt.Errorf("%w: more than %d SLP headers", ErrTooLarge, maxSLPHeaders)
		}
		m.Headers = append(m.Headers, Field{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	}
	body := rest
	if cl, ok := m.Headers.Lookup("Content-Length"); ok {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: Content-Length %q", ErrMalformed, clip(cl))
		}
		if n > len(rest) {
			return nil, fmt.Errorf("%w: Content-Length %d but %d body bytes", ErrMalformed, n, len(rest))
		}
		body = rest[:n]
	}
	m.Body = append([]byte(nil), body...)
	return m, nil
}

// Bytes encodes m with CRLF line ends and a Content-Length equal to len(Body) (added after
// the other headers when m has none).
func (m *SLPMessage) Bytes() []byte {
	var b bytes.Buffer
	b.WriteString(m.StartLine() + "\r\n")
	hasCL := false
	for _, f := range m.Headers {
		v := f.Value
		if strings.EqualFold(f.Name, "Content-Length") {
			v, hasCL = strconv.Itoa(len(m.Body)), true
		}
		b.WriteString(f.Name + ": " + v + "\r\n")
	}
	if !hasCL {
		b.WriteString("Content-Length: " + strconv.Itoa(len(m.Body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(m.Body)
	return b.Bytes()
}

// SLPBody builds an SLP body from fields: "Name: value" lines, a blank line and the NUL that
// every captured client ends bodies with (Content-Length counts it).
func SLPBody(fields ...Field) []byte {
	var b bytes.Buffer
	for _, f := range fields {
		b.WriteString(f.Name + ": " + f.Value + "\r\n")
	}
	b.WriteString("\r\n\x00")
	return b.Bytes()
}

// NewResponse answers the request req with status code and reason (e.g. 603 "Decline"), as
// msn-pecan and MSNPSharp do: To = the request's From, From = from (our address as the
// request named it, e.g. its To), the request's Via (branch) and Call-ID, CSeq + 1,
// Max-Forwards 0, and a body naming the request's SessionID. The Content-Type is the
// request's, except that a transreqbody is answered with a transrespbody.
func NewResponse(req *SLPMessage, code int, reason, from string) *SLPMessage {
	ct := req.Headers.Get("Content-Type")
	if strings.EqualFold(ct, ContentTransReq) {
		ct = ContentTransResp
	}
	if ct == "" {
		ct = ContentSessionReq
	}
	var body []byte
	if v, ok := req.BodyFields().Lookup("SessionID"); ok {
		body = SLPBody(Field{Name: "SessionID", Value: v})
	} else {
		body = SLPBody()
	}
	return &SLPMessage{
		StatusCode: code,
		Reason:     reason,
		Headers: Fields{
			{Name: "To", Value: "<msnmsgr:" + req.From() + ">"},
			{Name: "From", Value: "<msnmsgr:" + from + ">"},
			{Name: "Via", Value: req.Headers.Get("Via")},
			{Name: "CSeq", Value: strconv.Itoa(req.CSeq() + 1)},
			{Name: "Call-ID", Value: req.CallID()},
			{Name: "Max-Forwards", Value: "0"},
			{Name: "Content-Type", Value: ct},
			{Name: "Content-Length", Value: ""},
		},
		Body: body,
	}
}

// NewDecline is NewResponse with "603 Decline".
func NewDecline(req *SLPMessage, from string) *SLPMessage {
	return NewResponse(req, 603, "Decline", from)
}

// cutLine returns the first line of b (without CR LF) and what follows it.
func cutLine(b []byte) (line string, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return "", b, false
	}
	return strings.TrimSuffix(string(b[:i]), "\r"), b[i+1:], true
}

func isToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
