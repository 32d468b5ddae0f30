package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"

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

func (p *oimProbe) QueueRemoteEvent(evt bridgev2.RemoteEvent) bool {
	if evt.GetType() == bridgev2.RemoteEventMessage {
		p.left <- len(p.srv.OfflineMessages(p.passport))
	}
	return p.recorder.QueueRemoteEvent(evt)
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

// TestClientOfflineMessagesKeptUntilStored: offline messages that bridgev2 handled but could
// not store (homeserver down) stay on the server while the client hands them over again, in
// order and under the same message ids (so bridgev2 drops any copy it did store: exactly once);
// once they are stored they are deleted. (A bridge killed before they reach Matrix finds them
// on the server at the next login: e2e TestFaultOIMKillAfterFetch.)
func TestClientOfflineMessagesKeptUntilStored(t *testing.T) {
	h := newHarness(t, 18)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for i, text := range []string{"one", "two"} {
		if _, err := h.srv.QueueOfflineMessage("bob@example.com", "alice@example.com", text, t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	setFail := func(v bool) {
		h.rec.mu.Lock()
		h.rec.failStore = v
		h.rec.mu.Unlock()
	}
	next := func(what string) bridgev2.RemoteMessage {
		return wait(t, h.rec.events, what, func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage }).(bridgev2.RemoteMessage)
	}
	type settled struct{ deleted, kept int }
	settles := make(chan settled, 10)
	h.client.oimSettled = func(d, k int) { settles <- settled{d, k} }
	setFail(true)
	h.connect(t)
	first := next("the first offline message")
	again := next("the first offline message, handed over again")
	if again.GetID() != first.GetID() {
		t.Fatalf("while the first offline message was not stored, %q was handed over instead of it again", again.GetID())
	}
	if n := len(h.srv.OfflineMessages("alice@example.com")); n != 2 {
		t.Fatalf("%d of 2 offline messages left on the server while bridging fails", n)
	}
	setFail(false)
	var ids []networkid.MessageID // distinct ids in the order they were first handed over
	seen := map[networkid.MessageID]bool{first.GetID(): true}
	ids = append(ids, first.GetID())
	for len(ids) < 2 {
		if m := next("offline messages once the homeserver is back"); !seen[m.GetID()] {
			seen[m.GetID()] = true
			ids = append(ids, m.GetID())
		}
	}
	h.rec.mu.Lock()
	firstStored := h.rec.stored[first.GetID()]
	h.rec.mu.Unlock()
	if !firstStored {
		t.Fatal("the second offline message was handed over before the first was stored")
	}
	if s := wait(t, settles, "deletion decision", func(settled) bool { return true }); s != (settled{2, 0}) {
		t.Fatalf("after the homeserver came back: deleted %d, kept %d; want 2 and 0", s.deleted, s.kept)
	}
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for len(h.srv.OfflineMessages("alice@example.com")) != 0 {
		select {
		case <-deadline:
			t.Fatalf("%d offline messages still on the server after they were stored", len(h.srv.OfflineMessages("alice@example.com")))
		case <-tick.C:
		}
	}
}

// TestOIMMessageIDStable: the message id of an offline message depends only on its OIM id, long
// ones included, so a refetch is recognised.
func TestOIMMessageIDStable(t *testing.T) {
	long := strings.Repeat("x", 300)
	if a, b := newMessageIDFrom("oim", long), newMessageIDFrom("oim", long); a != b || len(a) > 255 {
		t.Fatalf("long OIM id gives %q then %q", a, b)
	}
	if newMessageIDFrom("oim", long) == newMessageIDFrom("oim", long+"y") {
		t.Fatal("different long OIM ids give the same message id")
	}
}

// TestClientOfflineImpossibleIsPermanent: on MSNP12 and older a message to an offline contact
// can never be stored; it fails for good (FAIL, UNSUPPORTED), with the reason in the notice,
// instead of the retriable failure that invites pointless retries.
func TestClientOfflineImpossibleIsPermanent(t *testing.T) {
	h := newHarness(t, 12)
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	carolKey := networkid.PortalKey{ID: "carol@example.com", Receiver: "alice@example.com"}
	_, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content: &event.MessageEventContent{MsgType: event.MsgText, Body: "are you there?"}, Portal: portalFor(carolKey),
	}})
	if err == nil {
		t.Fatal("message to an offline contact on MSNP12 succeeded")
	}
	ms := bridgev2.WrapErrorInStatus(err)
	if ms.Status != event.MessageStatusFail || ms.ErrorReason != event.MessageStatusUnsupported {
		t.Fatalf("status %s/%s, want FAIL/UNSUPPORTED (retrying cannot help)", ms.Status, ms.ErrorReason)
	}
	if !ms.SendNotice || !ms.ErrorAsMessage || !strings.Contains(err.Error(), "MSNP12") || !strings.Contains(err.Error(), "offline") {
		t.Fatalf("notice %v (send %v): must say the contact is offline and why", err, ms.SendNotice)
	}
}

// TestOfflineDeliveryDoesNotHoldTheNSLane: while offline messages cannot reach Matrix (the
// homeserver is down, their delivery retries), the NS lane still serves the session: a
// contact's invitation is answered. Offline messages were delivered on the NS lane, which a
// homeserver outage held for as long as it lasted (invitation cookies live two minutes).
func TestOfflineDeliveryDoesNotHoldTheNSLane(t *testing.T) {
	h := newHarness(t, 18)
	if _, err := h.srv.QueueOfflineMessage("carol@example.com", "alice@example.com", "while you were away", time.Now()); err != nil {
		t.Fatal(err)
	}
	h.rec.mu.Lock()
	h.rec.failStore = true
	h.rec.mu.Unlock()
	sbw := watchSB(h.srv, "alice@example.com")
	h.connect(t)
	wait(t, h.rec.events, "the offline message (not stored)", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob := h.online(t, "bob@example.com")
	go func() { _ = bob.Say(ctx, "alice@example.com", "are you there?") }()
	select {
	case <-sbw.ans:
	case <-ctx.Done():
		t.Fatal("bob's invitation was not answered while an offline message waited for Matrix")
	}
	if n := len(h.srv.OfflineMessages("alice@example.com")); n != 1 {
		t.Fatalf("%d offline messages on the server; the one not in Matrix must stay", n)
	}
}
