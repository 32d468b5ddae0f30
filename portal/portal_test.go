package portal

import (
	"context"
	"errors"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/msnbridge/msnbridge/msn/message"
)

func TestFromMSN(t *testing.T) {
	tests := []struct {
		name     string
		text     message.Text
		body     string
		html     string
		noFormat bool
	}{
		{name: "plain default font", text: message.Text{Body: "hi there", Format: message.Format{Font: "Segoe UI", HasColor: true}}, body: "hi there", noFormat: true},
		{name: "bold", text: message.Text{Body: "hey", Format: message.Format{Bold: true}}, body: "hey", html: "<strong>hey</strong>"},
		{name: "all styles and colour", text: message.Text{Body: "x", Format: message.Format{Bold: true, Italic: true, Underline: true, Strike: true, Color: 0xff0000, HasColor: true}},
			body: "x", html: `<font data-mx-color="#ff0000" color="#ff0000"><strong><em><u><del>x</del></u></em></strong></font>`},
		{name: "custom font", text: message.Text{Body: "a", Format: message.Format{Font: "Comic Sans MS"}}, body: "a", html: `<font face="Comic Sans MS"><strong>`[:27] + `a</font>`},
		{name: "html injection is escaped", text: message.Text{Body: `<script>alert(1)</script><a href="x">&amp;`, Format: message.Format{Bold: true}},
			body: `<script>alert(1)</script><a href="x">&amp;`, html: `<strong>&lt;script&gt;alert(1)&lt;/script&gt;&lt;a href=&#34;x&#34;&gt;&amp;amp;</strong>`},
		{name: "font name injection is escaped", text: message.Text{Body: "a", Format: message.Format{Font: `x"><img src=x>`}}, body: "a",
			html: `<font face="x&#34;&gt;&lt;img src=x&gt;">a</font>`},
		{name: "newlines", text: message.Text{Body: "a\nb", Format: message.Format{Italic: true}}, body: "a\nb", html: "<em>a<br>b</em>"},
		{name: "control characters dropped", text: message.Text{Body: "a\x00b\x07c"}, body: "abc", noFormat: true},
		{name: "invalid utf8 replaced", text: message.Text{Body: "a\xffb"}, body: "a\uFFFDb", noFormat: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := FromMSN(tt.text)
			if c.MsgType != event.MsgText || c.Body != tt.body {
				t.Errorf("body = %q (%s), want %q", c.Body, c.MsgType, tt.body)
			}
			if tt.noFormat {
				if c.Format != "" || c.FormattedBody != "" {
					t.Errorf("unexpected formatted body %q", c.FormattedBody)
				}
				return
			}
			if c.Format != event.FormatHTML || c.FormattedBody != tt.html {
				t.Errorf("formatted = %q, want %q", c.FormattedBody, tt.html)
			}
			if strings.Contains(c.FormattedBody, "<script") || strings.Contains(c.FormattedBody, "<img") || strings.Contains(c.FormattedBody, "<a ") {
				t.Errorf("injected HTML survived: %q", c.FormattedBody)
			}
		})
	}
}

func TestFromMSNBounded(t *testing.T) {
	c := FromMSN(message.Text{Body: strings.Repeat("é", MaxIncomingBytes)})
	if len(c.Body) > MaxIncomingBytes+10 || !strings.HasSuffix(c.Body, "[…]") {
		t.Errorf("oversized incoming text not cut: %d bytes", len(c.Body))
	}
}

func TestToMSN(t *testing.T) {
	ctx := context.Background()
	reply := &event.RelatesTo{InReplyTo: &event.InReplyTo{EventID: "$x"}}
	tests := []struct {
		name    string
		content *event.MessageEventContent
		opts    ToMSNOptions
		text    string
		format  message.Format
		nudge   bool
		err     error
	}{
		{name: "plain", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "hello"}, text: "hello"},
		{name: "whole bold", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "**hi**", Format: event.FormatHTML, FormattedBody: "<strong>hi</strong>"},
			text: "hi", format: message.Format{Bold: true}},
		{name: "nested styles and colour", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "x", Format: event.FormatHTML,
			FormattedBody: `<font data-mx-color="#00ff00"><em><u><del>x</del></u></em></font>`},
			text: "x", format: message.Format{Italic: true, Underline: true, Strike: true, Color: 0x00ff00, HasColor: true}},
		{name: "partial style is dropped", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "a **b**", Format: event.FormatHTML, FormattedBody: "a <b>b</b>"},
			text: "a b"},
		{name: "mention becomes display name", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "Alice: hi", Format: event.FormatHTML,
			FormattedBody: `<a href="https://matrix.to/#/@alice:example.com">Alice</a>: hi`}, text: "Alice: hi"},
		{name: "link keeps target", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "site", Format: event.FormatHTML,
			FormattedBody: `<a href="https://example.com">site</a>`}, text: "site (https://example.com)"},
		{name: "line break becomes newline", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "x", Format: event.FormatHTML,
			FormattedBody: `a<br>b`}, text: "a\nb"},
		{name: "tags never reach MSN", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "x", Format: event.FormatHTML,
			FormattedBody: `x <img src=x onerror=y><a href="javascript:x">y</a><table><tr><td>z</td></tr></table>`}, text: "x y (javascript:x)\nz"},
		{name: "reply fallback stripped and quote added", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "> <@a:b> old\n\nnew", RelatesTo: reply},
			opts: ToMSNOptions{ReplyQuote: "old message text", ReplySender: "Bob"}, text: "> Bob: old message text\nnew"},
		{name: "html reply fallback stripped", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "x", Format: event.FormatHTML,
			FormattedBody: `<mx-reply><blockquote>old</blockquote></mx-reply>new`, RelatesTo: reply}, text: "new"},
		{name: "emote", content: &event.MessageEventContent{MsgType: event.MsgEmote, Body: "waves"}, opts: ToMSNOptions{SenderName: "Carol"}, text: "* Carol waves"},
		{name: "notice", content: &event.MessageEventContent{MsgType: event.MsgNotice, Body: "bot says"}, text: "bot says"},
		{name: "notice with prefix", content: &event.MessageEventContent{MsgType: event.MsgNotice, Body: "bot says"}, opts: ToMSNOptions{NoticePrefix: "[bot] "}, text: "[bot] bot says"},
		{name: "prefix only for notices", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "me"}, opts: ToMSNOptions{NoticePrefix: "[bot] "}, text: "me"},
		{name: "nudge convention", content: &event.MessageEventContent{MsgType: event.MsgText, Body: " /nudge "}, nudge: true},
		{name: "image unsupported", content: &event.MessageEventContent{MsgType: event.MsgImage, Body: "a.png"}, err: ErrUnsupportedType},
		{name: "empty", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "  \n "}, err: ErrEmpty},
		{name: "oversized", content: &event.MessageEventContent{MsgType: event.MsgText, Body: strings.Repeat("a", MaxOutgoingBytes+1)}, err: ErrTooLong},
		{name: "huge", content: &event.MessageEventContent{MsgType: event.MsgText, Body: strings.Repeat("a", 10*MaxOutgoingBytes)}, err: ErrTooLong},
		{name: "crlf normalised", content: &event.MessageEventContent{MsgType: event.MsgText, Body: "a\r\nb\rc"}, text: "a\nb\nc"},
		{name: "max size ok", content: &event.MessageEventContent{MsgType: event.MsgText, Body: strings.Repeat("a", MaxOutgoingBytes)}, text: strings.Repeat("a", MaxOutgoingBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := ToMSN(ctx, tt.content, tt.opts)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if out.Nudge != tt.nudge || out.Text != tt.text || out.Format != tt.format {
				t.Errorf("got %+v, want text %q format %+v nudge %v", out, tt.text, tt.format, tt.nudge)
			}
		})
	}
}

func TestRoundTripStyles(t *testing.T) {
	f := message.Format{Bold: true, Italic: true, Color: 0x123456, HasColor: true}
	c := FromMSN(message.Text{Body: "round <trip> & back", Format: f})
	out, err := ToMSN(context.Background(), c, ToMSNOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Text != "round <trip> & back" || out.Format != f {
		t.Errorf("round trip = %+v, want text and %+v", out, f)
	}
}

func TestNotices(t *testing.T) {
	if c := NudgeNotice("Alice"); c.MsgType != event.MsgNotice || c.Body != "Alice sent you a nudge." {
		t.Errorf("nudge notice = %+v", c)
	}
	if c := NudgeNotice(""); !strings.HasPrefix(c.Body, "Your contact") {
		t.Errorf("nudge notice without name = %q", c.Body)
	}
	for _, k := range []Unsupported{UnsupportedWink, UnsupportedVoiceClip, UnsupportedFile, UnsupportedInvite, UnsupportedOther} {
		c := UnsupportedNotice(k, "Bob")
		if c.MsgType != event.MsgNotice || !strings.HasPrefix(c.Body, "Bob ") {
			t.Errorf("notice %d = %+v", k, c)
		}
	}
}

var _ = id.UserID("")
