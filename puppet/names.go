package puppet

import (
	"fmt"
	"net/url"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"
)

// DefaultNameTemplate is used when the configured template is empty.
const DefaultNameTemplate = "{{or .FriendlyName .Passport}} (MSN)"

// MaxDisplayNameBytes bounds a generated display name.
const MaxDisplayNameBytes = 256

// NameParams are the variables of the display name template.
type NameParams struct {
	FriendlyName string
	Passport     string
}

// ParseNameTemplate parses a display name template (Go text/template syntax) and checks that it
// executes with sample values.
func ParseNameTemplate(tmpl string) (*template.Template, error) {
	if strings.TrimSpace(tmpl) == "" {
		tmpl = DefaultNameTemplate
	}
	t, err := template.New("displayname").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return nil, fmt.Errorf("invalid display name template: %w", err)
	}
	var sb strings.Builder
	if err := t.Execute(&sb, NameParams{FriendlyName: "Friend", Passport: "friend@example.com"}); err != nil {
		return nil, fmt.Errorf("display name template fails: %w", err)
	}
	return t, nil
}

// DecodeFriendlyName turns a friendly name as sent by MSN (URL-encoded on the wire in most
// versions) into display text: percent-decoded when it decodes cleanly, control characters
// removed, whitespace collapsed and length bounded.
func DecodeFriendlyName(raw string) string {
	s := raw
	if strings.Contains(s, "%") {
		if dec, err := url.PathUnescape(s); err == nil && utf8.ValidString(dec) {
			s = dec
		}
	}
	return cleanText(s, MaxDisplayNameBytes)
}

func cleanText(s string, maxBytes int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) > maxBytes {
		cut := maxBytes
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut]
	}
	return out
}

// DisplayName renders the ghost display name for a contact. An empty or failing render falls back
// to the passport.
func DisplayName(t *template.Template, friendlyName, passport string) string {
	params := NameParams{FriendlyName: DecodeFriendlyName(friendlyName), Passport: passport}
	if t == nil {
		t, _ = ParseNameTemplate("")
	}
	var sb strings.Builder
	if err := t.Execute(&sb, params); err != nil {
		return passport
	}
	name := cleanText(sb.String(), MaxDisplayNameBytes)
	if name == "" {
		return passport
	}
	return name
}
