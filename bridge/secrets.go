package bridge

import (
	"errors"
	"net/url"
	"strings"

	"maunium.net/go/mautrix/bridgev2"
)

// minRedactLen is the shortest password that is searched for in messages: shorter ones would
// blank out ordinary words and are no real secret anyway.
const minRedactLen = 3

// redact removes the password (as is, and in the percent- and XML-encoded forms the login
// protocols use) from a text shown to users or stored in a bridge state. The login clients
// never put it into errors; this is the last line for server texts that echo it.
func redact(text, password string) string {
	if len(password) < minRedactLen {
		return text
	}
	for _, form := range []string{password, url.QueryEscape(password), percentEncodeAll(password), xmlEscape(password)} {
		if form != "" {
			text = strings.ReplaceAll(text, form, "[redacted]")
		}
	}
	return text
}

// percentEncodeAll escapes every byte outside the RFC 3986 unreserved set (the Passport 1.4
// header form).
func percentEncodeAll(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func xmlEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// redactErr returns err with the password removed from its text (a RespError keeps its code).
func redactErr(err error, password string) error {
	if err == nil {
		return nil
	}
	var re bridgev2.RespError
	if errors.As(err, &re) {
		re.Err = redact(re.Err, password)
		return re
	}
	if msg := redact(err.Error(), password); msg != err.Error() {
		return errors.New(msg)
	}
	return err
}
