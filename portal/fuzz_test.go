package portal

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"
	"maunium.net/go/mautrix/event"

	"github.com/msnbridge/msnbridge/msn/message"
)

// FuzzFromMSN feeds arbitrary MSN text and X-MMS-IM-Format values (network input) to FromMSN:
// the result must be valid UTF-8, bounded, and the formatted body may only contain the tags
// FromMSN writes itself, so nothing from the network is ever interpreted as HTML.
func FuzzFromMSN(f *testing.F) {
	f.Add("hello", "FN=Segoe%20UI; EF=B; CO=ff0000; CS=0; PF=22")
	f.Add("<script>alert(1)</script>", "EF=BIUS; CO=0")
	f.Add("a\x00b\r\nc", `FN=x"><img src=x onerror=alert(1)>; EF=I`)
	f.Add("\xff\xfe", "FN=%ZZ; CO=zz")
	f.Fuzz(func(t *testing.T, body, format string) {
		c := FromMSN(message.Text{Body: body, Format: message.ParseFormat(format)})
		if !utf8.ValidString(c.Body) || len(c.Body) > MaxIncomingBytes+10 {
			t.Fatalf("bad body: valid=%v len=%d", utf8.ValidString(c.Body), len(c.Body))
		}
		if c.FormattedBody == "" {
			return
		}
		allowed := map[string]bool{"font": true, "strong": true, "em": true, "u": true, "del": true, "br": true}
		z := html.NewTokenizer(strings.NewReader(c.FormattedBody))
		for {
			tt := z.Next()
			if tt == html.ErrorToken {
				break
			}
			if tt == html.StartTagToken || tt == html.EndTagToken || tt == html.SelfClosingTagToken {
				name, hasAttr := z.TagName()
				if !allowed[string(name)] {
					t.Fatalf("unexpected tag <%s> in %q", name, c.FormattedBody)
				}
				for hasAttr {
					var key []byte
					key, _, hasAttr = z.TagAttr()
					switch string(key) {
					case "color", "data-mx-color", "face":
					default:
						t.Fatalf("unexpected attribute %q in %q", key, c.FormattedBody)
					}
				}
			}
		}
	})
}

// FuzzToMSN feeds arbitrary Matrix bodies and formatted bodies (network input from the
// homeserver) to ToMSN: it must never panic and never return text over the limit.
func FuzzToMSN(f *testing.F) {
	f.Add("hello", "<strong>hello</strong>", false)
	f.Add("x", `<mx-reply><blockquote>q</blockquote></mx-reply><font data-mx-color="#ff00ff"><em>x</em></font>`, true)
	f.Add("/nudge", "", false)
	f.Add("> <@a:b> q\n\nanswer", "<a href=\"https://matrix.to/#/@a:b\">A</a>", true)
	f.Fuzz(func(t *testing.T, body, formatted string, reply bool) {
		content := &event.MessageEventContent{MsgType: event.MsgText, Body: body}
		if formatted != "" {
			content.Format, content.FormattedBody = event.FormatHTML, formatted
		}
		if reply {
			content.RelatesTo = &event.RelatesTo{InReplyTo: &event.InReplyTo{EventID: "$x"}}
		}
		out, err := ToMSN(context.Background(), content, ToMSNOptions{ReplyQuote: body, ReplySender: "S"})
		if err != nil {
			return
		}
		if len(out.Text) > MaxOutgoingBytes {
			t.Fatalf("text over limit: %d", len(out.Text))
		}
		if !out.Nudge && strings.TrimSpace(out.Text) == "" {
			t.Fatal("empty text returned without error")
		}
	})
}
