package sb

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/message"
)

// TestLostAckFailsMessageAndRetiresSwitchboard: a server that never acknowledges one MSG
// makes that message fail (not hang), the switchboard is closed (it no longer counts as busy,
// so it can be retired), and the next message goes out on a new switchboard.
func TestLostAckFailsMessageAndRetiresSwitchboard(t *testing.T) {
	e := newEnv(t, 12, Config{AckTimeout: 200 * time.Millisecond})
	c := e.m.Conversation("bob@example.com")
	lost := c.SendText(context.Background(), "lost", message.Format{})
	pc := e.peer.accept()
	pc.openAndJoin("alice@example.com", "bob@example.com")
	if msg := pc.expect("MSG"); bodyOf(t, msg.Payload) != "lost" {
		t.Fatalf("sent %q", msg.Payload)
	} // never acknowledged
	if o, err := wait(t, lost); o != Failed || !errors.Is(err, ErrTimeout) {
		t.Fatalf("outcome of the unacknowledged message %v %v, want failed (timeout)", o, err)
	}
	if got := pc.expectClosed(); len(got) != 1 || got[0].Name != "OUT" {
		t.Fatalf("the switchboard that lost an ACK got %v, want OUT", got)
	}
	if cl := waitEvent[*ClosedEvent](t, e.rec); cl.Conv != c || !errors.Is(cl.Err, ErrTimeout) {
		t.Fatalf("closed %+v", cl)
	}
	next := c.SendText(context.Background(), "next", message.Format{})
	pc2 := e.peer.accept()
	pc2.openAndJoin("alice@example.com", "bob@example.com")
	msg := pc2.expect("MSG")
	if bodyOf(t, msg.Payload) != "next" {
		t.Fatalf("sent %q on the new switchboard", msg.Payload)
	}
	pc2.send("ACK %d", msg.TrID)
	if o, err := wait(t, next); o != Delivered {
		t.Fatalf("next message %v %v", o, err)
	}
	if n := e.ns.xfrCount(); n != 2 {
		t.Fatalf("%d XFRs, want 2", n)
	}
}

// TestLostAckInGroupFailsOnlyThatMessage: in a multi-party conversation a lost ACK fails the
// message but keeps the switchboard (reopening would call everybody again).
func TestLostAckInGroupFailsOnlyThatMessage(t *testing.T) {
	e := newEnv(t, 12, Config{AckTimeout: 200 * time.Millisecond})
	g, pc := e.acceptInvite(t, Invitation{SessionID: "1", Cookie: "c", Inviter: "bob@example.com"},
		"bob@example.com Bob 0", "carol@example.com Carol 0")
	lost := g.SendText(context.Background(), "lost", message.Format{})
	pc.expect("MSG")
	if o, err := wait(t, lost); o != Failed || !errors.Is(err, ErrTimeout) {
		t.Fatalf("outcome %v %v", o, err)
	}
	next := g.SendText(context.Background(), "next", message.Format{})
	msg := pc.expect("MSG")
	if bodyOf(t, msg.Payload) != "next" {
		t.Fatalf("sent %q", msg.Payload)
	}
	pc.send("ACK %d", msg.TrID)
	if o, err := wait(t, next); o != Delivered || !g.Connected() {
		t.Fatalf("next %v %v, connected %v", o, err, g.Connected())
	}
}
