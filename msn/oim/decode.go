package oim

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/msnbridge/msnbridge/msn/message"
)

// MaxMessageBytes bounds a fetched message (the RFC 822 text of GetMessageResult).
const MaxMessageBytes = 256 << 10

// OfflineMessage is a fetched and decoded offline message.
type OfflineMessage struct {
	ID       string    // message id from Mail-Data
	From     string    // sender passport
	FromName string    // sender friendly name (RFC 2047 decoded)
	Time     time.Time // Date header, else X-OriginalArrivalTime, else the Mail-Data RT
	Seq      int       // X-OIM-Sequence-Num
	Text     string    // UTF-8 text, line breaks normalised to "\n"
	RunID    string    // X-OIM-Run-Id: messages of one sending session share it
}

// DecodeMessage decodes the RFC 822 text returned by RSI GetMessage: the From header (with an
// RFC 2047 encoded-word name), X-OIM-Sequence-Num, X-OIM-Run-Id, Date / X-OriginalArrivalTime,
// and the body according to Content-Transfer-Encoding (base64, quoted-printable or none) and
// the charset (UTF-8 by default; Latin-1/Windows-1252 are converted).
func DecodeMessage(id string, raw []byte) (*OfflineMessage, error) {
	if len(raw) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: message of %d bytes (max %d)", ErrTooLarge, len(raw), MaxMessageBytes)
	}
	raw = bytes.TrimLeft(raw, " \t\r\n")
	hs, body, err := message.ParseHeaders(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: message %s headers: %v", ErrMalformed, truncate(id, 40), err)
	}
	from, ok := hs.Lookup("From")
	if !ok {
		return nil, fmt.Errorf("%w: message %s has no From header", ErrMalformed, truncate(id, 40))
	}
	m := &OfflineMessage{ID: id, RunID: hs.Get("X-OIM-Run-Id")}
	m.From, m.FromName = parseFrom(from)
	if seq, err := strconv.Atoi(hs.Get("X-OIM-Sequence-Num")); err == nil {
		m.Seq = seq
	}
	if d := hs.Get("Date"); d != "" {
		if t, err := mail.ParseDate(d); err == nil {
			m.Time = t.UTC()
		}
	}
	if m.Time.IsZero() {
		m.Time = parseArrivalTime(hs.Get("X-OriginalArrivalTime"))
	}

	mediaType, params := message.ParseContentType(hs.Get("Content-Type"))
	if mediaType != "" && !strings.HasPrefix(mediaType, "text/") {
		return nil, fmt.Errorf("%w: message %s has content type %q", ErrMalformed, truncate(id, 40), truncate(mediaType, 60))
	}
	text, err := decodeBody(body, hs.Get("Content-Transfer-Encoding"))
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", truncate(id, 40), err)
	}
	m.Text = normaliseNewlines(toUTF8(text, params["charset"]))
	return m, nil
}

func decodeBody(body []byte, cte string) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			switch r {
			case '\r', '\n', '\t', ' ':
				return -1
			}
			return r
		}, body)
		// RawStdEncoding's length bound covers inputs without padding too.
		dec := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean))+3)
		n, err := base64.StdEncoding.Decode(dec, clean)
		if err != nil {
			n, err = base64.RawStdEncoding.Decode(dec, bytes.TrimRight(clean, "="))
		}
		if err != nil || !utf8.Valid(dec[:n]) && utf8.Valid(body) {
			// Escargot's MSNP18 UUM path stores the text unencoded under a base64 header:
			// plain text that is not base64 (or decodes to garbage) is taken as it is.
			return body, nil
		}
		return dec[:n], nil
	case "quoted-printable":
		out, err := io.ReadAll(io.LimitReader(quotedprintable.NewReader(bytes.NewReader(body)), MaxMessageBytes))
		if err != nil {
			return nil, fmt.Errorf("%w: quoted-printable body: %v", ErrMalformed, err)
		}
		return out, nil
	default:
		return body, nil
	}
}

// parseFrom splits `=?utf-8?B?…?= <alice@example.com>` into the address and decoded name.
func parseFrom(v string) (addr, name string) {
	v = strings.TrimSpace(v)
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		addr = v[i+1:]
		if j := strings.IndexByte(addr, '>'); j >= 0 {
			addr = addr[:j]
		}
		name = v[:i]
	} else {
		addr = v
	}
	name = strings.TrimSpace(name)
	if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
		name = name[1 : len(name)-1]
	}
	return strings.ToValidUTF8(strings.TrimSpace(addr), "\uFFFD"), decodeWords(name)
}

// parseArrivalTime reads "15 Nov 2005 22:24:27.0000 (UTC) FILETIME=[HIGH:LOW]": the FILETIME
// when present (100 ns ticks since 1601), else the date part.
func parseArrivalTime(v string) time.Time {
	if i := strings.Index(v, "FILETIME=["); i >= 0 {
		ft := v[i+len("FILETIME=["):]
		if j := strings.IndexByte(ft, ']'); j >= 0 {
			if lo, hi, ok := strings.Cut(ft[:j], ":"); ok {
				l, err1 := strconv.ParseUint(lo, 16, 32)
				h, err2 := strconv.ParseUint(hi, 16, 32)
				if err1 == nil && err2 == nil {
					// The header writes LOW:HIGH (Exchange style).
					ticks := h<<32 | l
					const epochDiff = 116444736000000000 // 1601→1970 in 100 ns ticks
					if ticks > epochDiff {
						d := ticks - epochDiff
						return time.Unix(int64(d/10_000_000), int64(d%10_000_000)*100).UTC()
					}
				}
			}
		}
	}
	date := v
	if i := strings.IndexByte(date, '('); i >= 0 {
		date = date[:i]
	}
	date = strings.TrimSpace(date)
	if i := strings.IndexByte(date, '.'); i >= 0 {
		date = date[:i]
	}
	if t, err := time.Parse("_2 Jan 2006 15:04:05", date); err == nil {
		return t.UTC()
	}
	return time.Time{}
}

// toUTF8 converts text in charset to valid UTF-8.
func toUTF8(b []byte, charset string) string {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "iso-8859-1", "latin1", "latin-1", "windows-1252", "cp1252", "us-ascii":
		if !utf8.Valid(b) {
			return latin1(b)
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func latin1(b []byte) string {
	var s strings.Builder
	s.Grow(len(b) * 2)
	for _, c := range b {
		s.WriteRune(rune(c))
	}
	return s.String()
}

func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "windows-1252", "cp1252", "latin1", "latin-1":
		b, err := io.ReadAll(io.LimitReader(input, MaxMessageBytes))
		if err != nil {
			return nil, err
		}
		return strings.NewReader(latin1(b)), nil
	}
	return nil, fmt.Errorf("unsupported charset %q", truncate(charset, 20))
}

func normaliseNewlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}
