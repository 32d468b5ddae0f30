package portal

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/format"

	"github.com/msnbridge/msnbridge/msn/message"
)

// MaxOutgoingBytes is the longest text accepted from Matrix for one MSN message; the switchboard
// splits it into several MSGs. Longer messages fail with [ErrTooLong] instead of being cut.
const MaxOutgoingBytes = 16 * 1024

// MaxQuoteBytes bounds the quoted text of a reply.
const MaxQuoteBytes = 120

// ErrTooLong is returned for Matrix messages longer than [MaxOutgoingBytes].
var ErrTooLong = errors.New("message is too long for MSN")

// ErrEmpty is returned for messages with no text.
var ErrEmpty = errors.New("message is empty")

// ErrUnsupportedType is returned for message types MSN cannot carry (media, locations, …).
var ErrUnsupportedType = errors.New("MSN can't carry this kind of message")

// Outgoing is a Matrix message converted for MSN.
type Outgoing struct {
	Text   string
	Format message.Format
	// Nudge is set for the "/nudge" text convention: send a nudge instead of text.
	Nudge bool
}

// ToMSNOptions adds context to [ToMSN].
type ToMSNOptions struct {
	// SenderName is the sender's display name, used for emotes ("* name text").
	SenderName string
	// ReplyQuote, when not empty, is quoted above the text (MSN has no replies).
	ReplyQuote string
	// ReplySender is the name of the sender of the replied-to message.
	ReplySender string
	// BaseFormat is the format to start from (font, charset); styles found in the HTML are added.
	BaseFormat message.Format
	// NoticePrefix is put before the text of m.notice messages (MSN has no notices), e.g. "[bot] ".
	NoticePrefix string
}

// ToMSN converts Matrix message content to MSN text and format. Formatted bodies are reduced to
// plain text; a style (bold, italic, underline, strike, colour) wrapping the whole message becomes
// the message's X-MMS-IM-Format. Mentions become display names, emotes "* name text", replies a
// quoted line above the text.
func ToMSN(ctx context.Context, content *event.MessageEventContent, opts ToMSNOptions) (*Outgoing, error) {
	if content == nil {
		return nil, ErrEmpty
	}
	switch content.MsgType {
	case event.MsgText, event.MsgNotice, event.MsgEmote:
	default:
		return nil, fmt.Errorf("%w (%s)", ErrUnsupportedType, content.MsgType)
	}
	if len(content.Body) > 4*MaxOutgoingBytes || len(content.FormattedBody) > 8*MaxOutgoingBytes {
		return nil, fmt.Errorf("%w (%d bytes, the limit is %d)", ErrTooLong, len(content.Body), MaxOutgoingBytes)
	}
	out := &Outgoing{Format: opts.BaseFormat}
	var text string
	if content.Format == event.FormatHTML && content.FormattedBody != "" {
		htmlBody := stripReplyFallback(content.FormattedBody)
		style := wholeMessageStyle(htmlBody)
		style.apply(&out.Format)
		text = htmlToText(ctx, htmlBody)
	} else {
		text = content.Body
		if content.RelatesTo != nil && content.RelatesTo.InReplyTo != nil {
			text = stripPlainReplyFallback(text)
		}
	}
	text = normalizeNewlines(strings.ToValidUTF8(text, "\uFFFD"))
	text = strings.TrimRight(text, " \n\t")
	if content.MsgType == event.MsgText && strings.EqualFold(strings.TrimSpace(text), "/nudge") {
		out.Nudge = true
		return out, nil
	}
	if strings.TrimSpace(text) == "" {
		return nil, ErrEmpty
	}
	if content.MsgType == event.MsgNotice && opts.NoticePrefix != "" {
		text = opts.NoticePrefix + text
	}
	if content.MsgType == event.MsgEmote {
		if name := strings.TrimSpace(opts.SenderName); name != "" {
			text = "* " + name + " " + text
		} else {
			text = "* " + text
		}
	}
	if q := quote(opts.ReplySender, opts.ReplyQuote); q != "" {
		text = q + "\n" + text
	}
	if len(text) > MaxOutgoingBytes {
		return nil, fmt.Errorf("%w (%d bytes, the limit is %d)", ErrTooLong, len(text), MaxOutgoingBytes)
	}
	out.Text = text
	return out, nil
}

func normalizeNewlines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// quote renders a reply as one quoted line.
func quote(sender, text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		return ""
	}
	if len(text) > MaxQuoteBytes {
		cut := MaxQuoteBytes
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut] + "…"
	}
	if sender = strings.TrimSpace(sender); sender != "" {
		return "> " + sender + ": " + text
	}
	return "> " + text
}

// stripReplyFallback removes an <mx-reply> block from a formatted body.
func stripReplyFallback(s string) string {
	start := strings.Index(s, "<mx-reply>")
	if start < 0 {
		return s
	}
	end := strings.Index(s[start:], "</mx-reply>")
	if end < 0 {
		return s
	}
	return s[:start] + s[start+end+len("</mx-reply>"):]
}

// stripPlainReplyFallback removes the "> <@user> quoted" lines Matrix clients used to prepend.
func stripPlainReplyFallback(s string) string {
	if !strings.HasPrefix(s, "> ") {
		return s
	}
	lines := strings.Split(s, "\n")
	i := 0
	for i < len(lines) && strings.HasPrefix(lines[i], ">") {
		i++
	}
	if i < len(lines) && lines[i] == "" {
		i++
	}
	return strings.Join(lines[i:], "\n")
}

func htmlToText(ctx context.Context, body string) string {
	parser := &format.HTMLParser{
		TabsToSpaces:   4,
		Newline:        "\n",
		HorizontalLine: "\n---\n",
		PillConverter:  format.DefaultPillConverter,
		// MSN shows one style per message: inline styles become plain text.
		BoldConverter:          plainText,
		ItalicConverter:        plainText,
		StrikethroughConverter: plainText,
		UnderlineConverter:     plainText,
		ColorConverter:         func(text, _, _ string, _ format.Context) string { return text },
		LinkConverter: func(text, href string, ctx format.Context) string {
			if text == href || href == "" || strings.TrimPrefix(href, "mailto:") == text {
				return text
			}
			return text + " (" + href + ")"
		},
		SpoilerConverter: func(text, reason string, ctx format.Context) string {
			if reason != "" {
				return "[spoiler: " + reason + "]"
			}
			return "[spoiler]"
		},
		ImageConverter: func(src, alt, title, width, height string, isEmoji bool) string {
			if alt != "" {
				return alt
			}
			return title
		},
	}
	return parser.Parse(body, format.NewContext(ctx))
}

func plainText(s string, _ format.Context) string { return s }

// style is a style that covers a whole message.
type style struct {
	bold, italic, underline, strike bool
	color                           uint32
	hasColor                        bool
}

func (s style) apply(f *message.Format) {
	f.Bold = f.Bold || s.bold
	f.Italic = f.Italic || s.italic
	f.Underline = f.Underline || s.underline
	f.Strike = f.Strike || s.strike
	if s.hasColor {
		f.Color, f.HasColor = s.color, true
	}
}

// wholeMessageStyle finds the styles whose element wraps all of the message's content.
func wholeMessageStyle(body string) style {
	var st style
	nodes, err := html.ParseFragment(strings.NewReader(body), &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div})
	if err != nil {
		return st
	}
	for depth := 0; depth < 16; depth++ {
		var only *html.Node
		for _, n := range nodes {
			switch {
			case n.Type == html.TextNode && strings.TrimSpace(n.Data) == "":
				continue
			case n.Type == html.ElementNode && only == nil:
				only = n
				continue
			}
			return st
		}
		if only == nil {
			return st
		}
		switch only.DataAtom {
		case atom.B, atom.Strong:
			st.bold = true
		case atom.I, atom.Em:
			st.italic = true
		case atom.U:
			st.underline = true
		case atom.S, atom.Del, atom.Strike:
			st.strike = true
		case atom.Font, atom.Span:
			for _, a := range only.Attr {
				if a.Key == "data-mx-color" || (a.Key == "color" && only.DataAtom == atom.Font) {
					if c, ok := parseColor(a.Val); ok {
						st.color, st.hasColor = c, true
					}
				}
			}
		case atom.P:
		default:
			return st
		}
		nodes = nodes[:0:0]
		for c := only.FirstChild; c != nil; c = c.NextSibling {
			nodes = append(nodes, c)
		}
	}
	return st
}

// parseColor parses "#rrggbb".
func parseColor(s string) (uint32, bool) {
	s = strings.TrimSpace(s)
	if len(s) != 7 || s[0] != '#' {
		return 0, false
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}
