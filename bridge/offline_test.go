package bridge

import (
	"context"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/msnbridge/msnbridge/msn/msntest"
)

// oimProbe records, for every message event the bridge queues, how many offline messages the
// server still held at that moment, then passes the event on to the recorder.
type oimProbe struct {
	*recorder
	srv      *msntest.Server
	passport string
	left     chan int
}

func (p *oimProbe) QueueRemoteEvent(evt bridgev2.RemoteEvent) {
	if evt.GetType() == bridgev2.RemoteEventMessage {
		p.left <- len(p.srv.OfflineMessages(p.passport))
	}
	p.recorder.QueueRemoteEvent(evt)
}

// TestClientOfflineMessagesDeletedAfterQueueing: offline messages stay on the server until the
// bridge has queued them into their portals (a crash before that must not lose them), are
// deleted afterwards, and carry message ids made from the OIM ids so that fetching them again
// after a crash between queueing and deleting is de-duplicated by bridgev2's message table.
func TestClientOfflineMessagesDeletedAfterQueueing(t *testing.T) {
	h := newHarness(t, 18)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	texts := []string{"one", "two", "three"}
	wantIDs := make(map[string]networkid.MessageID, len(texts))
	for i, text := range texts {
		id, err := h.srv.QueueOfflineMessage("bob@example.com", "alice@example.com", text, t0.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		wantIDs[text] = networkid.MessageID("oim." + id)
	}
	probe := &oimProbe{recorder: h.rec, srv: h.srv, passport: "alice@example.com", left: make(chan int, 10)}
	h.client.mx = probe
	h.connect(t)
	for i, text := range texts {
		evt := wait(t, h.rec.events, "offline message", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
		if body := convert(t, evt).Body; body != text {
			t.Fatalf("offline message %d is %q, want %q", i, body, text)
		}
		if got := evt.(bridgev2.RemoteMessage).GetID(); got != wantIDs[text] {
			t.Errorf("offline message %q has id %q, want the stable %q", text, got, wantIDs[text])
		}
		if left := wait(t, probe.left, "probe", func(int) bool { return true }); left != len(texts) {
			t.Fatalf("offline message %d queued when the server held %d of %d: deleted before it reached its portal", i, left, len(texts))
		}
	}
	// Then they are deleted.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for len(h.srv.OfflineMessages("alice@example.com")) != 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("%d offline messages still on the server after they were bridged", len(h.srv.OfflineMessages("alice@example.com")))
		case <-tick.C:
		}
	}
}
