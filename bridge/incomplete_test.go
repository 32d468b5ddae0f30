package bridge

import (
	"context"
	"strings"
	"testing"

	"maunium.net/go/mautrix/bridgev2"

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
