package bridge

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
)

// TestClientMessageRetriedUntilStored: while the homeserver is down bridgev2 handles a
// contact's message but cannot store it (it would drop it); the client hands the same message
// over again until it is stored, and the next messages of that room wait behind it, so each
// arrives once and in order.
func TestClientMessageRetriedUntilStored(t *testing.T) {
	h := newHarness(t, 18)
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob := h.online(t, "bob@example.com")
	h.rec.mu.Lock()
	h.rec.failStore = true
	h.rec.mu.Unlock()
	for i := 1; i <= 3; i++ {
		if err := bob.Say(ctx, "alice@example.com", fmt.Sprintf("message %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	next := func(what string) bridgev2.RemoteMessage {
		return wait(t, h.rec.events, what, func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage }).(bridgev2.RemoteMessage)
	}
	first := next("message 1")
	for range 2 {
		if m := next("message 1 handed over again"); m.GetID() != first.GetID() {
			t.Fatalf("message %q handed over while message 1 was not stored", convert(t, m).Body)
		}
	}
	h.rec.mu.Lock()
	h.rec.failStore = false
	h.rec.mu.Unlock()
	var order []string
	seen := map[networkid.MessageID]bool{}
	for len(order) < 3 {
		m := next("the messages once the homeserver is back")
		if !seen[m.GetID()] {
			seen[m.GetID()] = true
			order = append(order, convert(t, m).Body)
		}
	}
	if fmt.Sprint(order) != "[message 1 message 2 message 3]" {
		t.Fatalf("messages handed over in order %q", order)
	}
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	for id := range seen {
		if !h.rec.stored[id] {
			t.Errorf("message %s never stored", id)
		}
	}
}

// refusingSide refuses the first n events outright (bridgev2 neither queued nor handled them:
// the portal was being deleted), as bridgev2's QueueRemoteEvent result says.
type refusingSide struct {
	*recorder
	mu      sync.Mutex
	refuse  int
	refused int
}

func (r *refusingSide) QueueRemoteEvent(evt bridgev2.RemoteEvent) bool {
	r.mu.Lock()
	if r.refuse > 0 {
		r.refuse--
		r.refused++
		r.mu.Unlock()
		return false // no post-handle hook will ever run for it
	}
	r.mu.Unlock()
	return r.recorder.QueueRemoteEvent(evt)
}

// TestClientMessageRefusedByBridgeIsRetried: an event bridgev2 did not take is handed over
// again at once, instead of waiting minutes for a post-handle hook that never comes; each
// attempt is a copy of its own (an earlier copy may still be in bridgev2's queue), with the
// same message id.
func TestClientMessageRefusedByBridgeIsRetried(t *testing.T) {
	h := newHarness(t, 18)
	side := &refusingSide{recorder: h.rec, refuse: 2}
	h.client.mx = side
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob := h.online(t, "bob@example.com")
	if err := bob.Say(ctx, "alice@example.com", "hello"); err != nil {
		t.Fatal(err)
	}
	m := wait(t, h.rec.events, "the message after two refusals", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage }).(bridgev2.RemoteMessage)
	side.mu.Lock()
	refused := side.refused
	side.mu.Unlock()
	h.rec.mu.Lock()
	stored := h.rec.stored[m.GetID()]
	h.rec.mu.Unlock()
	if refused != 2 || !stored || convert(t, m).Body != "hello" {
		t.Fatalf("refused %d times, stored %v", refused, stored)
	}
}
