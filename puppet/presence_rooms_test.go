package puppet

import (
	"fmt"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
)

// roomPusher is a pusher that needs rooms, on the fake clock *now, with every push allowed as
// soon as it is due (MinInterval 1 ns, a large burst) so the tests see scheduling only.
func roomPusher(now *time.Time) *Pusher {
	return NewPusher(PusherConfig{MinInterval: time.Nanosecond, Burst: 1000, RequireRoom: true,
		Resolve: noSetter, Now: func() time.Time { return *now }})
}

// drainNow returns every push due at the current fake time, and the wait until the next one.
func drainNow(t *testing.T, p *Pusher) (map[string]Presence, time.Duration) {
	t.Helper()
	got := map[string]Presence{}
	for {
		key, pres, wait := p.next()
		if key == "" {
			return got, wait
		}
		if _, dup := got[key]; dup {
			t.Fatalf("%q pushed twice at one instant", key)
		}
		got[key] = pres
	}
}

// TestPusherSkipsGhostsWithoutRoom: a ghost that shares no room with a Matrix user is neither
// pushed on a change nor refreshed; once a room is registered its current presence is pushed at
// once and then refreshed like any other; when the room goes, so do the pushes and the refresh
// timer.
func TestPusherSkipsGhostsWithoutRoom(t *testing.T) {
	now := time.Unix(1000, 0)
	p := roomPusher(&now)
	away := Presence{State: event.PresenceUnavailable, StatusMsg: "Away"}
	p.UpdateFrom("lonely", "login", Presence{State: event.PresenceOnline})
	p.UpdateFrom("friend", "login", Presence{State: event.PresenceOnline})
	p.JoinRoom("login", "dm-friend", "friend")

	counts := map[string]int{}
	simulate(t, p, &now, 2*time.Minute, func(key string, _ time.Time) { counts[key]++ })
	if counts["lonely"] != 0 || counts["friend"] < 6 {
		t.Fatalf("pushes in 2 min: %v; want none of lonely and friend refreshed every %v", counts, DefaultRefresh)
	}
	p.UpdateFrom("lonely", "login", away) // a change without a room: recorded, not pushed
	if got, _ := drainNow(t, p); got["lonely"] != (Presence{}) {
		t.Fatalf("a change of a ghost without a room was pushed: %v", got)
	}

	p.JoinRoom("login", "dm-lonely", "lonely")
	got, _ := drainNow(t, p)
	if got["lonely"] != away {
		t.Fatalf("on its first room pushed %v, want lonely's current state %+v at once", got, away)
	}
	clear(counts)
	last := now
	var worst time.Duration
	simulate(t, p, &now, 2*time.Minute, func(key string, at time.Time) {
		if key == "lonely" {
			worst = max(worst, at.Sub(last))
			last = at
		}
		counts[key]++
	})
	if counts["lonely"] < 5 || worst > DefaultRefresh+time.Second {
		t.Fatalf("with a room lonely was pushed %d times in 2 min, worst gap %v; want a refresh every %v", counts["lonely"], worst, DefaultRefresh)
	}

	p.LeaveRoom("login", "dm-lonely", "lonely")
	p.LeaveRoom("login", "dm-friend", "friend")
	p.UpdateFrom("lonely", "login", Presence{State: event.PresenceOnline})
	clear(counts)
	if n := simulate(t, p, &now, 2*time.Minute, func(key string, _ time.Time) { counts[key]++ }); n != 0 {
		t.Fatalf("after the rooms went: %d pushes %v, want none", n, counts)
	}
	if _, _, wait := p.next(); wait != time.Hour {
		t.Fatalf("no ghost has a room and the pusher wakes in %v, want no timer (1h)", wait)
	}
	if p.HasRoom("lonely") || p.HasRoom("friend") {
		t.Fatal("HasRoom true after leaving every room")
	}
}

// TestPusherRoomOfOneOfTwoLogins: a ghost seen by two logins of which only one has a room with it
// is pushed (with the most online state of both views, presence being global) and refreshed; once
// that login drops its rooms (logout) it is no longer pushed, although the other login still sees
// it online.
func TestPusherRoomOfOneOfTwoLogins(t *testing.T) {
	now := time.Unix(1000, 0)
	p := roomPusher(&now)
	p.UpdateFrom("bob", "login1", Presence{State: event.PresenceOnline})
	p.UpdateFrom("bob", "login2", Presence{State: event.PresenceUnavailable, StatusMsg: "Busy"})
	if got, _ := drainNow(t, p); len(got) != 0 {
		t.Fatalf("pushed %v before any room", got)
	}
	p.SetRoom("login2", "dm-bob", []string{"bob"})
	if got, _ := drainNow(t, p); got["bob"].State != event.PresenceOnline {
		t.Fatalf("with login2's room pushed %v, want bob online (login1's view is the most online)", got)
	}
	n := simulate(t, p, &now, time.Minute, func(string, time.Time) {})
	if n < 2 {
		t.Fatalf("%d refreshes in a minute, want one every %v", n, DefaultRefresh)
	}
	p.DropSource("login2")
	if n := simulate(t, p, &now, 2*time.Minute, func(string, time.Time) {}); n != 0 {
		t.Fatalf("%d pushes after the only login with a room logged out, want none", n)
	}
	p.SetRoom("login1", "dm-bob", []string{"bob"})
	if got, _ := drainNow(t, p); got["bob"].State != event.PresenceOnline {
		t.Fatalf("with login1's room pushed %v, want bob online again", got)
	}
}

// TestPusherGroupRoomMembers: SetRoom replaces a room's members, so a ghost that left the only
// group room it was in stops being pushed while the others stay; a ghost in two rooms keeps
// being pushed while either remains; an offline ghost already pushed as offline is not pushed
// again when it gets a room, and a ghost whose presence is not known yet waits for its first
// report.
func TestPusherGroupRoomMembers(t *testing.T) {
	now := time.Unix(1000, 0)
	p := roomPusher(&now)
	online := Presence{State: event.PresenceOnline}
	for _, k := range []string{"a", "b", "c"} {
		p.UpdateFrom(k, "login", online)
	}
	p.SetRoom("login", "group1", []string{"a", "b", "c"})
	p.SetRoom("login", "dm-b", []string{"b"})
	if got, _ := drainNow(t, p); len(got) != 3 {
		t.Fatalf("pushed %v, want a, b and c", got)
	}
	p.SetRoom("login", "group1", []string{"b", "c"}) // a left the group
	counts := map[string]int{}
	simulate(t, p, &now, time.Minute, func(key string, _ time.Time) { counts[key]++ })
	if counts["a"] != 0 || counts["b"] < 2 || counts["c"] < 2 {
		t.Fatalf("refreshes after a left: %v; want none of a, b and c refreshed", counts)
	}
	p.SetRoom("login", "group1", nil) // the group room is gone; b keeps its DM
	if p.HasRoom("c") || !p.HasRoom("b") {
		t.Fatalf("HasRoom c=%v b=%v after the group went, want false and true", p.HasRoom("c"), p.HasRoom("b"))
	}

	// Offline: pushed once with a room; leaving and rejoining does not push it again.
	p.UpdateFrom("b", "login", Presence{State: event.PresenceOffline})
	if got, _ := drainNow(t, p); got["b"].State != event.PresenceOffline {
		t.Fatalf("pushed %v, want b offline", got)
	}
	p.LeaveRoom("login", "dm-b", "b")
	p.JoinRoom("login", "dm-b", "b")
	if got, _ := drainNow(t, p); len(got) != 0 {
		t.Fatalf("rejoining an offline ghost pushed %v, want nothing (offline does not time out)", got)
	}
	// Never pushed and offline: its first room pushes offline once (it may show a stale state).
	p.UpdateFrom("d", "login", Presence{State: event.PresenceOffline})
	p.JoinRoom("login", "dm-d", "d")
	if got, _ := drainNow(t, p); got["d"].State != event.PresenceOffline {
		t.Fatalf("pushed %v, want d offline once", got)
	}
	// No presence known: nothing until it is reported, then at once.
	p.JoinRoom("login", "dm-e", "e")
	if got, _ := drainNow(t, p); len(got) != 0 {
		t.Fatalf("a ghost without presence got a push: %v", got)
	}
	p.UpdateFrom("e", "login", online)
	if got, _ := drainNow(t, p); got["e"] != online {
		t.Fatalf("pushed %v, want e online", got)
	}
}

// TestPusherRoomsKeep10000Within: 10,000 online ghosts with a room and 10,000 without: those with
// one are all refreshed within the refresh period for three minutes, the others never pushed,
// and the rate needed counts only the first ones.
func TestPusherRoomsKeep10000Within(t *testing.T) {
	const ghosts = 10_000
	start := time.Unix(1000, 0)
	now := start
	p := NewPusher(PusherConfig{RequireRoom: true, Resolve: noSetter, Now: func() time.Time { return now }})
	for i := range ghosts {
		p.UpdateFrom(fmt.Sprintf("room%d", i), "login", Presence{State: event.PresenceOnline})
		p.JoinRoom("login", fmt.Sprintf("dm%d", i), fmt.Sprintf("room%d", i))
		p.UpdateFrom(fmt.Sprintf("none%d", i), "login", Presence{State: event.PresenceOnline})
	}
	last := make(map[string]time.Time, ghosts)
	var worst time.Duration
	simulate(t, p, &now, 3*time.Minute, func(key string, at time.Time) {
		if key[0] == 'n' {
			t.Fatalf("%s has no room and was pushed", key)
		}
		prev, ok := last[key]
		if !ok {
			prev = start
		}
		worst = max(worst, at.Sub(prev))
		last[key] = at
	})
	for _, at := range last {
		worst = max(worst, now.Sub(at))
	}
	if len(last) != ghosts || worst > DefaultRefresh+time.Second {
		t.Fatalf("%d of %d ghosts with a room pushed, worst gap %v; want all within %v", len(last), ghosts, worst, DefaultRefresh+time.Second)
	}
	if p.online != ghosts || p.wanted != ghosts {
		t.Fatalf("online %d wanted %d, want %d each (ghosts without a room do not count)", p.online, p.wanted, ghosts)
	}
}
