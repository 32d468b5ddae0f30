package auth

import (
	"bytes"
	"encoding/xml"
	"net/url"
	"strings"
)

// minRedactLen is the shortest password Redact searches for: shorter ones would blank out
// ordinary words.
const minRedactLen = 3

// Redact removes password from text in every form the login clients send it in (as is,
// percent-encoded in the Passport 1.4 header, XML-escaped in the RST envelope, form-encoded),
// for texts shown to users or logged that may repeat what a server echoed back.
func Redact(text, password string) string {
	if len(password) < minRedactLen {
		return text
	}
	var x bytes.Buffer
	_ = xml.EscapeText(&x, []byte(password))
	for _, form := range []string{password, percentEncode(password), url.QueryEscape(password), x.String()} {
		text = strings.ReplaceAll(text, form, "[redacted]")
	}
	return text
}
