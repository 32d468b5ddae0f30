package portal

import (
	"fmt"
	"html"
	"strings"
	"unicode/utf8"

	"maunium.net/go/mautrix/event"

	"github.com/msnbridge/msnbridge/msn/message"
)

// MaxIncomingBytes bounds the text of one incoming MSN message put into Matrix (reassembled
// chunked messages can be long); longer text is cut and marked.
const MaxIncomingBytes = 64 * 1024

// defaultFonts are fonts MSN clients send by default; they are not worth a formatted body.
var defaultFonts = map[string]bool{
	"":                     true,
	"ms sans serif":        true,
	"microsoft sans serif": true,
	"segoe ui":             true,
	"tahoma":               true,
	"arial":                true,
	"verdana":              true,
	"times new roman":      true,
}

// hasStyle reports whether a format carries anything Matrix should render: bold, italic,
// underline, strike, a colour other than black, or a font that is not a client default.
func hasStyle(f message.Format) bool {
	return f.Bold || f.Italic || f.Underline || f.Strike || (f.HasColor && f.Color != 0) ||
		!defaultFonts[strings.ToLower(strings.TrimSpace(f.Font))]
}

// cleanIncoming makes incoming text safe to hand to Matrix: valid UTF-8, no NUL or other control
// characters except newline and tab, bounded length.
func cleanIncoming(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > MaxIncomingBytes {
		cut := MaxIncomingBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + " […]"
	}
	return s
}

// FromMSN converts an MSN text message into Matrix content. The body is the text; when the
// X-MMS-IM-Format carries visible styling, a formatted body is added in which the text is
// HTML-escaped and wrapped in the matching tags (never interpreted as HTML).
func FromMSN(text message.Text) *event.MessageEventContent {
	body := cleanIncoming(text.Body)
	content := &event.MessageEventContent{MsgType: event.MsgText, Body: body}
	if !hasStyle(text.Format) || body == "" {
		return content
	}
	inner := strings.ReplaceAll(html.EscapeString(body), "\n", "<br>")
	f := text.Format
	if f.Strike {
		inner = "<del>" + inner + "</del>"
	}
	if f.Underline {
		inner = "<u>" + inner + "</u>"
	}
	if f.Italic {
		inner = "<em>" + inner + "</em>"
	}
	if f.Bold {
		inner = "<strong>" + inner + "</strong>"
	}
	var attrs []string
	if f.HasColor && f.Color != 0 {
		c := fmt.Sprintf("#%06x", f.Color&0xffffff)
		attrs = append(attrs, `data-mx-color="`+c+`"`, `color="`+c+`"`)
	}
	if font := strings.TrimSpace(f.Font); !defaultFonts[strings.ToLower(font)] {
		attrs = append(attrs, `face="`+html.EscapeString(cleanAttr(font))+`"`)
	}
	if len(attrs) > 0 {
		inner = "<font " + strings.Join(attrs, " ") + ">" + inner + "</font>"
	}
	content.Format = event.FormatHTML
	content.FormattedBody = inner
	return content
}

// cleanAttr keeps a font name short and free of characters that have no business in it.
func cleanAttr(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// Notice builds an m.notice with plain text.
func Notice(text string) *event.MessageEventContent {
	return &event.MessageEventContent{MsgType: event.MsgNotice, Body: cleanIncoming(text)}
}

// Unsupported describes MSN content that cannot be shown in Matrix.
type Unsupported int

// Kinds of unsupported MSN content.
const (
	UnsupportedWink Unsupported = iota
	UnsupportedVoiceClip
	UnsupportedFile
	UnsupportedInvite
	UnsupportedOther
)

// NudgeNotice is the notice for an incoming nudge.
func NudgeNotice(senderName string) *event.MessageEventContent {
	return Notice(nameOr(senderName) + " sent you a nudge.")
}

// UnsupportedNotice is the notice for MSN content that Matrix cannot show.
func UnsupportedNotice(kind Unsupported, senderName string) *event.MessageEventContent {
	name := nameOr(senderName)
	switch kind {
	case UnsupportedWink:
		return Notice(name + " sent a wink, which can't be shown here.")
	case UnsupportedVoiceClip:
		return Notice(name + " sent a voice clip, which can't be played here.")
	case UnsupportedFile:
		return Notice(name + " wants to send a file, but file transfers are not supported by the bridge yet.")
	case UnsupportedInvite:
		return Notice(name + " sent an invitation (file, game or call), which is not supported by the bridge.")
	default:
		return Notice(name + " sent something this bridge can't show.")
	}
}

func nameOr(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		return "Your contact"
	}
	return name
}
