package bridge

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/format"

	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/sb"
	"github.com/msnbridge/msnbridge/portal"
)

func TestUnsupportedKind(t *testing.T) {
	p2pFile := []byte("\x00\x00INVITE MSNMSGR:bob@example.com MSNSLP/1.0\r\nEUF-GUID: {5D3E02AB-6190-11D3-BBBB-00C04F795683}\r\n")
	tests := []struct {
		name string
		ev   *sb.ContentEvent
		kind portal.Unsupported
		show bool
	}{
		{"wink", &sb.ContentEvent{Kind: message.KindWink, Message: &message.Message{}}, portal.UnsupportedWink, true},
		{"voice clip", &sb.ContentEvent{Kind: message.KindVoiceClip, Message: &message.Message{}}, portal.UnsupportedVoiceClip, true},
		{"legacy file invite", &sb.ContentEvent{Kind: message.KindInvite, Message: &message.Message{Invite: &message.Invite{Command: "INVITE", ApplicationName: "File Transfer"}}}, portal.UnsupportedFile, true},
		{"legacy game invite", &sb.ContentEvent{Kind: message.KindInvite, Message: &message.Message{Invite: &message.Invite{Command: "INVITE", ApplicationName: "Tic Tac Toe"}}}, portal.UnsupportedInvite, true},
		{"invite cancel", &sb.ContentEvent{Kind: message.KindInvite, Message: &message.Message{Invite: &message.Invite{Command: "CANCEL"}}}, 0, false},
		{"p2p file", &sb.ContentEvent{Kind: message.KindP2P, Message: &message.Message{P2P: &message.P2P{Data: p2pFile}}}, portal.UnsupportedFile, true},
		{"p2p data", &sb.ContentEvent{Kind: message.KindP2P, Message: &message.Message{P2P: &message.P2P{Data: []byte("xyz")}}}, 0, false},
		{"caps", &sb.ContentEvent{Kind: message.KindClientCaps, Message: &message.Message{}}, 0, false},
		{"unknown", &sb.ContentEvent{Kind: message.KindUnknown, Message: &message.Message{}}, portal.UnsupportedOther, true},
		{"unparsable", &sb.ContentEvent{Kind: message.KindUnknown}, portal.UnsupportedOther, true},
		{"unparsable wink", &sb.ContentEvent{Kind: message.KindWink}, portal.UnsupportedOther, false},
	}
	for _, tt := range tests {
		kind, show := unsupportedKind(tt.ev)
		if show != tt.show || (show && kind != tt.kind) {
			t.Errorf("%s: got %v %v, want %v %v", tt.name, kind, show, tt.kind, tt.show)
		}
	}
}

func TestGroupNameAndSnippet(t *testing.T) {
	if got := groupName(nil); got == "" {
		t.Error("empty group name")
	}
	if got := groupName([]string{"A", "B"}); got != "A, B" {
		t.Errorf("groupName = %q", got)
	}
	if got := groupName([]string{"A", "B", "C", "D", "E", "F"}); got != "A, B, C, D and 2 more" {
		t.Errorf("groupName = %q", got)
	}
	if got := snippet("  a \n b  "); got != "a b" {
		t.Errorf("snippet = %q", got)
	}
	if got := snippet(strings.Repeat("é", 500)); len(got) > portal.MaxQuoteBytes+2 {
		t.Errorf("snippet not bounded: %d", len(got))
	}
}

func TestIDs(t *testing.T) {
	if a, b := newMessageID("x"), newMessageID("x"); a == b || !strings.HasPrefix(string(a), "x.") {
		t.Errorf("message ids %q %q", a, b)
	}
	if got := newMessageIDFrom("oim", "ABC-1"); got != "oim.ABC-1" {
		t.Errorf("newMessageIDFrom = %q", got)
	}
	if got := newMessageIDFrom("oim", ""); !strings.HasPrefix(string(got), "oim.") || got == "oim." {
		t.Errorf("newMessageIDFrom empty = %q", got)
	}
	if !isGroupPortal("group:abc") || isGroupPortal("bob@example.com") {
		t.Error("isGroupPortal wrong")
	}
}

// TestRefusalsAreVisible checks that events MSN cannot carry end in a failed status that
// bridgev2 posts as a notice (message_error_notices), not in a silent "ignored".
func TestRefusalsAreVisible(t *testing.T) {
	refusals := map[string]error{
		"edit":          bridgev2.ErrEditsNotSupported,
		"edit (portal)": bridgev2.ErrEditsNotSupportedInPortal,
		"reaction":      bridgev2.ErrReactionsNotSupported,
		"redaction":     bridgev2.ErrRedactionsNotSupported,
	}
	for name, err := range refusals {
		ms := bridgev2.WrapErrorInStatus(err)
		if !ms.SendNotice || ms.Status != event.MessageStatusFail || ms.ErrorReason != event.MessageStatusUnsupported {
			t.Errorf("%s: status %+v is not a visible failure", name, ms)
			continue
		}
		notice := ms.ToNoticeEvent(&bridgev2.MessageStatusEventInfo{SourceEventID: "$x"})
		if !strings.Contains(notice.Body, "MSN") {
			t.Errorf("%s: notice %q does not say why", name, notice.Body)
		}
	}
}

func TestVisibleErr(t *testing.T) {
	if visibleErr(nil) != nil {
		t.Error("nil error became non-nil")
	}
	plain := errors.New("unknown contact for portal x")
	ms := bridgev2.WrapErrorInStatus(visibleErr(plain))
	if !ms.SendNotice || !ms.IsCertain || !errors.Is(visibleErr(plain), plain) {
		t.Errorf("plain error not made visible: %+v", ms)
	}
	if ms := bridgev2.WrapErrorInStatus(visibleErr(ErrNotConnected)); ms.ErrorReason != event.MessageStatusNetworkError || ms.Error() != "not connected to MSN" {
		t.Errorf("visible status was rewrapped: %+v", ms)
	}
	hidden := bridgev2.WrapErrorInStatus(plain).WithSendNotice(false)
	if ms := bridgev2.WrapErrorInStatus(visibleErr(hidden)); !ms.SendNotice {
		t.Error("status without notice stayed invisible")
	}
}

// TestMatrixMessageFailuresAreVisible: every way a Matrix message can fail ends in an error that
// bridgev2 shows as a notice (a certain failure), never in a success or a silent status.
func TestMatrixMessageFailuresAreVisible(t *testing.T) {
	text := func(body string) *event.MessageEventContent {
		return &event.MessageEventContent{MsgType: event.MsgText, Body: body}
	}
	tests := []struct {
		name    string
		version int
		noOIM   bool
		connect bool
		portal  networkid.PortalKey
		content *event.MessageEventContent
	}{
		{name: "not connected", version: 18, portal: networkid.PortalKey{ID: "bob@example.com"}, content: text("hi")},
		{name: "offline contact, MSNP12 has no offline messages", version: 12, connect: true,
			portal: networkid.PortalKey{ID: "carol@example.com"}, content: text("are you there?")},
		{name: "offline contact, offline messages disabled", version: 18, noOIM: true, connect: true,
			portal: networkid.PortalKey{ID: "carol@example.com"}, content: text("are you there?")},
		{name: "media", version: 18, connect: true, portal: networkid.PortalKey{ID: "bob@example.com"},
			content: &event.MessageEventContent{MsgType: event.MsgImage, Body: "cat.png"}},
		{name: "oversized text", version: 18, connect: true, portal: networkid.PortalKey{ID: "bob@example.com"},
			content: text(strings.Repeat("a", portal.MaxOutgoingBytes+1))},
		{name: "group without roster", version: 18, connect: true, portal: networkid.PortalKey{ID: groupPrefix + "gone"}, content: text("hi")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.version)
			h.conn.Config.OfflineMessages = !tt.noOIM
			if tt.connect {
				h.connect(t)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			key := tt.portal
			key.Receiver = h.login.ID
			resp, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
				Content: tt.content, Portal: portalFor(key),
			}})
			if err == nil {
				t.Fatalf("no error (response %+v)", resp)
			}
			ms := bridgev2.WrapErrorInStatus(err)
			if !ms.SendNotice || !ms.IsCertain || ms.Error() == "" {
				t.Fatalf("error %v has status %+v: not a visible failure", err, ms)
			}
		})
	}
}

// TestCommandRepliesEscapeMSNText: bot replies are rendered as Markdown, so MSN-supplied text in
// them (friendly names, server errors) must not become links, images or styles.
func TestCommandRepliesEscapeMSNText(t *testing.T) {
	for _, name := range []string{"[click](https://evil.example)", "![x](mxc://evil/x)", "**loud** _name_", "<b>x</b>", "a`b`c"} {
		out := format.RenderMarkdown("* "+md(name), true, false)
		if strings.Contains(out.FormattedBody, "<a ") || strings.Contains(out.FormattedBody, "<img") ||
			strings.Contains(out.FormattedBody, "<strong>") || strings.Contains(out.FormattedBody, "<em>") ||
			strings.Contains(out.FormattedBody, "<b>") || strings.Contains(out.FormattedBody, "<code>") {
			t.Errorf("%q rendered as %q", name, out.FormattedBody)
		}
	}
}
