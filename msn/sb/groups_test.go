package sb

import (
	"context"
	"testing"

	"github.com/msnbridge/msnbridge/msn/message"
)

// groupCount is how many multi-party conversations the manager keeps.
func groupCount(m *Manager) int {
	n := 0
	for _, c := range m.Conversations() {
		if c.IsGroup() {
			n++
		}
	}
	return n
}

// TestManagerForgetsDormantGroups: beyond Config.MaxGroups the least recently used group
// conversations without a switchboard are forgotten (a live one never is), RestoreGroup brings
// one back by id, and a forgotten conversation someone still holds is registered again when it
// sends, and works.
func TestManagerForgetsDormantGroups(t *testing.T) {
	e := newEnv(t, 12, Config{MaxGroups: 2})

	// The oldest group has a live switchboard (an accepted invitation).
	live := e.m.RestoreGroup("room-live", "bob@example.com", "carol@example.com")
	c, _ := e.acceptInvite(t, Invitation{SessionID: "9", Cookie: "k", Inviter: "carol@example.com"},
		"carol@example.com Carol 0", "bob@example.com Bob 0")
	if c != live || !live.Connected() {
		t.Fatalf("invitation routed to %v (connected %v), want the restored group", c, live.Connected())
	}

	a := e.m.NewGroup("bob@example.com", "dave@example.com")
	b := e.m.NewGroup("carol@example.com", "dave@example.com")
	if e.m.Group(a.ID()) != nil || e.m.Group(b.ID()) != b || e.m.Group(live.ID()) != live {
		t.Fatalf("after a third group: a kept %v, b kept %v, live kept %v (want false, true, true)",
			e.m.Group(a.ID()) != nil, e.m.Group(b.ID()) == b, e.m.Group(live.ID()) == live)
	}
	var last *Conversation
	for i := 0; i < 50; i++ {
		last = e.m.NewGroup("dave@example.com", "erin@example.com")
		if n := groupCount(e.m); n > 2 {
			t.Fatalf("%d group conversations kept with MaxGroups 2", n)
		}
	}
	if e.m.Group(live.ID()) != live || e.m.Group(last.ID()) != last || e.m.Group(b.ID()) != nil {
		t.Fatal("did not keep the live and the newest group, forgetting the others")
	}

	// RestoreGroup brings a forgotten one back by id and roster.
	r := e.m.RestoreGroup(a.ID(), "bob@example.com", "dave@example.com")
	if r == nil || e.m.Group(a.ID()) != r || len(r.Participants()) != 2 || e.m.Group(live.ID()) != live || groupCount(e.m) != 2 {
		t.Fatalf("restore of a forgotten group: %v, %d groups", r, groupCount(e.m))
	}

	// b was forgotten but is still held: sending on it registers it again and works.
	res := b.SendText(context.Background(), "still here", message.Format{})
	if e.m.Group(b.ID()) != b || e.m.Group(live.ID()) != live {
		t.Fatal("sending on a forgotten group did not register it again")
	}
	pc2 := e.peer.accept()
	usr := pc2.expect("USR")
	pc2.send("USR %d OK alice@example.com Alice", usr.TrID)
	for i := 0; i < 2; i++ {
		cal := pc2.expect("CAL")
		pc2.send("CAL %d RINGING 1", cal.TrID)
		pc2.send("JOI %s X 0", cal.Arg(0))
	}
	msg := pc2.expect("MSG")
	pc2.send("ACK %d", msg.TrID)
	if o, err := wait(t, res); o != Delivered {
		t.Fatalf("send on the re-registered group: %v %v", o, err)
	}
	if n := groupCount(e.m); n != 2 {
		t.Fatalf("%d groups after re-registering one, want 2", n)
	}
}

// TestManagerMaxGroupsNegativeKeepsAll: a negative MaxGroups keeps every group.
func TestManagerMaxGroupsNegativeKeepsAll(t *testing.T) {
	e := newEnv(t, 12, Config{MaxGroups: -1})
	for i := 0; i < DefaultMaxGroups+10; i++ {
		e.m.NewGroup("bob@example.com", "carol@example.com")
	}
	if n := groupCount(e.m); n != DefaultMaxGroups+10 {
		t.Fatalf("%d groups kept, want all %d", n, DefaultMaxGroups+10)
	}
}
