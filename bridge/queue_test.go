package bridge

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/msnbridge/msnbridge/msn/ns"
)

// laneItem is a test item: which lane it was pushed to and its number there.
type laneItem struct {
	lane string
	n    int
}

// recordingDispatcher makes a dispatcher whose handler reports every item and, for lanes in
// gates, first waits until that gate is closed.
func recordingDispatcher(gates map[string]chan struct{}) (*dispatcher, chan laneItem) {
	got := make(chan laneItem, 10000)
	d := newDispatcher(func(_ context.Context, key queueKey, item any) {
		it := item.(laneItem)
		if g, ok := gates[key.(string)]; ok {
			<-g
		}
		got <- it
	})
	return d, got
}

func next(t *testing.T, got chan laneItem, what string) laneItem {
	t.Helper()
	select {
	case it := <-got:
		return it
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	return laneItem{}
}

// TestDispatcherSlowLaneDoesNotStallOthers: a portal whose handler blocks (bridgev2's buffer of
// that portal is full) does not delay the events of another portal.
func TestDispatcherSlowLaneDoesNotStallOthers(t *testing.T) {
	gate := make(chan struct{})
	d, got := recordingDispatcher(map[string]chan struct{}{"slow": gate})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.start(ctx)
	d.push("slow", laneItem{"slow", 0}, nil, true)
	for i := 0; i < 50; i++ {
		d.push("fast", laneItem{"fast", i}, nil, true)
	}
	for i := 0; i < 50; i++ {
		if it := next(t, got, "fast lane item"); it != (laneItem{"fast", i}) {
			t.Fatalf("got %+v while the slow lane blocks, want fast item %d", it, i)
		}
	}
	close(gate)
	if it := next(t, got, "slow lane item"); it != (laneItem{"slow", 0}) {
		t.Fatalf("slow lane item = %+v", it)
	}
}

// TestDispatcherFullLaneBlocksWithoutLoss: pushing to a full lane waits (the switchboard reader
// is held) instead of dropping, memory stays at the lane's limit, and once the handler moves
// again every item arrives, in order.
func TestDispatcherFullLaneBlocksWithoutLoss(t *testing.T) {
	const limit, total = 8, 40
	gate := make(chan struct{})
	d, got := recordingDispatcher(map[string]chan struct{}{"room": gate})
	d.limits = func(queueKey) int { return limit }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.start(ctx)
	pushed := make(chan int, total)
	go func() {
		for i := 0; i < total; i++ {
			d.push("room", laneItem{"room", i}, nil, true)
			pushed <- i
		}
		close(pushed)
	}()
	// The worker holds item 0 in the blocked handler; the lane fills to its limit, then the pusher waits.
	deadline := time.Now().Add(10 * time.Second)
	for d.waiting("room") < limit {
		if time.Now().After(deadline) {
			t.Fatalf("lane holds %d items, want it to fill to %d", d.waiting("room"), limit)
		}
		time.Sleep(time.Millisecond)
	}
	n := 0
	for range len(pushed) {
		<-pushed
		n++
	}
	if n > limit+1 || d.waiting("room") > limit {
		t.Fatalf("%d pushes returned with the handler blocked and %d waiting: the lane is not bounded at %d", n, d.waiting("room"), limit)
	}
	close(gate)
	for i := 0; i < total; i++ {
		if it := next(t, got, fmt.Sprintf("item %d", i)); it.n != i {
			t.Fatalf("item %d arrived as %d: lost or out of order", i, it.n)
		}
	}
}

// TestDispatcherCoalescesPresence: presence updates of one contact that wait together collapse
// into the latest (in the place of the first); messages and other events are all kept.
func TestDispatcherCoalescesPresence(t *testing.T) {
	var mu sync.Mutex
	var handled []any
	done := make(chan struct{})
	d := newDispatcher(func(_ context.Context, _ queueKey, item any) {
		mu.Lock()
		handled = append(handled, item)
		n := len(handled)
		mu.Unlock()
		if n == 4 {
			close(done)
		}
	})
	c := &Client{events: d}
	presence := func(passport string, st ns.Status) *ns.PresenceEvent {
		return &ns.PresenceEvent{Contact: ns.Contact{Passport: passport, Status: st}}
	}
	c.pushNSEvent(presence("bob@example.com", ns.Online))
	c.pushNSEvent(&ns.ListChangeEvent{Passport: "dave@example.com"})
	c.pushNSEvent(presence("Bob@example.com", ns.Busy))
	c.pushNSEvent(presence("carol@example.com", ns.Away))
	c.pushNSEvent(presence("bob@example.com", ns.Idle))
	c.pushNSEvent(&ns.SwitchboardInviteEvent{Inviter: "bob@example.com"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.start(ctx)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("events not handled")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(handled) != 4 {
		t.Fatalf("handled %d events, want 4: %v", len(handled), handled)
	}
	if p, ok := handled[0].(*ns.PresenceEvent); !ok || p.Contact.Status != ns.Idle {
		t.Errorf("first = %+v, want bob's latest presence (IDL)", handled[0])
	}
	if _, ok := handled[1].(*ns.ListChangeEvent); !ok {
		t.Errorf("second = %T, want the list change", handled[1])
	}
	if p, ok := handled[2].(*ns.PresenceEvent); !ok || p.Contact.Passport != "carol@example.com" {
		t.Errorf("third = %+v, want carol's presence", handled[2])
	}
	if _, ok := handled[3].(*ns.SwitchboardInviteEvent); !ok {
		t.Errorf("fourth = %T, want the invitation", handled[3])
	}
}

// TestDispatcherKeepsItemsWhenContextEnds: items not handled yet when the workers' context ends
// (reconnect, logout, stop) are handled by the next start, in order.
func TestDispatcherKeepsItemsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan laneItem, 100)
	d := newDispatcher(func(_ context.Context, _ queueKey, item any) {
		it := item.(laneItem)
		if it.n == 1 {
			cancel() // the run ends while items 2–4 wait
		}
		got <- it
	})
	for i := 0; i < 5; i++ {
		d.push(nsLane, laneItem{"ns", i}, nil, false)
	}
	d.start(ctx)
	for i := 0; i < 2; i++ {
		if it := next(t, got, "first run"); it.n != i {
			t.Fatalf("first run handled %d, want %d", it.n, i)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		d.mu.Lock()
		l := d.lanes[nsLane]
		running := l != nil && l.running
		d.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("worker did not end with its context")
		}
		time.Sleep(time.Millisecond)
	}
	if n := d.waiting(nsLane); n != 3 {
		t.Fatalf("%d items left after the context ended, want 3", n)
	}
	d.push(nsLane, laneItem{"ns", 5}, nil, true) // stopped: does not block
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	d.start(ctx2)
	for i := 2; i <= 5; i++ {
		if it := next(t, got, "second run"); it.n != i {
			t.Fatalf("second run handled %d, want %d", it.n, i)
		}
	}
}

// portalGate is a matrixSide whose QueueRemoteEvent blocks for one portal until released, as
// bridgev2's does when that portal's event buffer is full.
type portalGate struct {
	*recorder
	portal  networkid.PortalKey
	release chan struct{}
}

func (g *portalGate) QueueRemoteEvent(evt bridgev2.RemoteEvent) bool {
	if evt.GetPortalKey() == g.portal {
		<-g.release
	}
	return g.recorder.QueueRemoteEvent(evt)
}

// TestClientSlowPortalDoesNotStallOthers: while Bob's room does not take events, Carol's
// messages still reach her room; Bob's arrive, in order, once his room moves again.
func TestClientSlowPortalDoesNotStallOthers(t *testing.T) {
	h := newHarness(t, 18)
	gate := &portalGate{recorder: h.rec, portal: networkid.PortalKey{ID: "bob@example.com", Receiver: "alice@example.com"}, release: make(chan struct{})}
	h.client.mx = gate
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob, carol := h.online(t, "bob@example.com"), h.online(t, "carol@example.com")
	for i := 0; i < 3; i++ {
		if err := bob.Say(ctx, "alice@example.com", fmt.Sprintf("bob %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := carol.Say(ctx, "alice@example.com", "carol"); err != nil {
		t.Fatal(err)
	}
	evt := wait(t, h.rec.events, "carol's message while bob's room is stuck", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
	if body := convert(t, evt).Body; body != "carol" {
		t.Fatalf("got %q while bob's room is stuck", body)
	}
	close(gate.release)
	for i := 0; i < 3; i++ {
		evt := wait(t, h.rec.events, "bob's messages", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
		if body := convert(t, evt).Body; body != fmt.Sprintf("bob %d", i) {
			t.Fatalf("bob's message %d = %q", i, body)
		}
	}
}
