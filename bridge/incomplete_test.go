package bridge

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"maunium.net/go/mautrix/bridgev2"

	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/sb"
)

// TestIncompleteMessageGetsNotice: what arrived of a chunked message whose rest never came is
// bridged with a notice saying so; a complete message has none.
func TestIncompleteMessageGetsNotice(t *testing.T) {
	h := newHarness(t, 12)
	h.connect(t)
	_, mgr := h.client.session()
	if mgr == nil {
		t.Fatal("no switchboard manager after connect")
	}
	conv := mgr.Conversation("bob@example.com")
	isMessage := func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage }
	ctx := context.Background()

	h.client.handleSBEvent(ctx, &sb.MessageEvent{Conv: conv, Sender: sb.Participant{Passport: "bob@example.com"}, Text: "the first half\n", Incomplete: true, Missing: 1})
	c := convert(t, wait(t, h.rec.events, "incomplete message", isMessage))
	if c.Body != "the first half\n\n"+incompleteNotice || !strings.Contains(incompleteNotice, "never arrived") {
		t.Fatalf("incomplete message bridged as %q", c.Body)
	}

	h.client.handleSBEvent(ctx, &sb.MessageEvent{Conv: conv, Sender: sb.Participant{Passport: "bob@example.com"}, Text: "whole"})
	if c := convert(t, wait(t, h.rec.events, "complete message", isMessage)); c.Body != "whole" {
		t.Fatalf("complete message bridged as %q", c.Body)
	}
}

// TestFileOfferNoticeNamesTheFile: the notice for a P2P file offer that was declined (the
// captured INVITE of transcripts/p2p/03-file-decline.txt) names the file and its size.
func TestFileOfferNoticeNamesTheFile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "msn", "p2p", "testdata", "transcript", "03.bob-3.msg"))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := message.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, 12)
	h.connect(t)
	_, mgr := h.client.session()
	conv := mgr.Conversation("bob@example.com")
	h.client.handleSBEvent(context.Background(), &sb.ContentEvent{Conv: conv, Sender: sb.Participant{Passport: "bob@example.com", FriendlyName: "Bob"}, Kind: message.KindP2P, Message: msg, Payload: raw})
	c := convert(t, wait(t, h.rec.events, "file offer notice", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage }))
	if !strings.Contains(c.Body, "Bob wanted to send hello.txt (2.9 KiB)") || !strings.Contains(c.Body, "could not accept") {
		t.Fatalf("notice %q", c.Body)
	}
	if humanSize(999) != "999 bytes" || humanSize(5<<20) != "5.0 MiB" {
		t.Errorf("humanSize %q %q", humanSize(999), humanSize(5<<20))
	}
}
