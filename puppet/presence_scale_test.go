package puppet

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
)

func noSetter(context.Context, string) (PresenceSetter, error) { return nil, nil }

// simulate drives p on its fake clock for span, calling onPush for every push, and returns the
// number of pushes. Each step either pushes or jumps the clock to the next wake-up.
func simulate(t *testing.T, p *Pusher, now *time.Time, span time.Duration, onPush func(key string, at time.Time)) int {
	t.Helper()
	end := now.Add(span)
	pushes := 0
	for steps := 0; now.Before(end); steps++ {
		if steps > 10_000_000 {
			t.Fatal("simulation does not advance")
		}
		key, _, wait := p.next()
		if key != "" {
			pushes++
			onPush(key, *now)
			continue
		}
		if wait <= 0 {
			t.Fatalf("next() returned nothing and wait %v", wait)
		}
		*now = now.Add(wait)
	}
	return pushes
}

// TestPusherKeeps10000GhostsWithinRefresh: 10,000 ghosts come online at once; on a fake clock
// every one of them is pushed within the refresh period and then again at most one refresh
// period (plus a second of scheduling slack) after its previous push, for three minutes. With one
// shared 5/s bucket picked in map order (the old scheduler) most of them went minutes unrefreshed.
func TestPusherKeeps10000GhostsWithinRefresh(t *testing.T) {
	const ghosts = 10_000
	start := time.Unix(1000, 0)
	now := start
	p := NewPusher(PusherConfig{Resolve: noSetter, Now: func() time.Time { return now }})
	for i := range ghosts {
		p.UpdateFrom(fmt.Sprintf("ghost%d", i), "login", Presence{State: event.PresenceOnline})
	}
	last := make(map[string]time.Time, ghosts)
	var worst time.Duration
	simulate(t, p, &now, 3*time.Minute, func(key string, at time.Time) {
		prev, ok := last[key]
		if !ok {
			prev = start
		}
		if gap := at.Sub(prev); gap > worst {
			worst = gap
		}
		last[key] = at
	})
	if len(last) != ghosts {
		t.Fatalf("%d of %d ghosts pushed", len(last), ghosts)
	}
	for _, at := range last {
		if gap := now.Sub(at); gap > worst {
			worst = gap
		}
	}
	if limit := DefaultRefresh + time.Second; worst > limit {
		t.Fatalf("worst gap between two pushes of one ghost %v, want ≤ %v", worst, limit)
	}
}

// TestPusherNoRefreshTraffic: with refreshes off (the homeserver keeps presence) each ghost is
// pushed exactly once and then the pusher has nothing to do, however long it waits.
func TestPusherNoRefreshTraffic(t *testing.T) {
	now := time.Unix(1000, 0)
	p := NewPusher(PusherConfig{Refresh: -1, Resolve: noSetter, Now: func() time.Time { return now }})
	for i := range 1000 {
		p.Update(fmt.Sprintf("g%d", i), Presence{State: event.PresenceOnline})
	}
	counts := map[string]int{}
	n := simulate(t, p, &now, 10*time.Minute, func(key string, _ time.Time) { counts[key]++ })
	if n != 1000 || len(counts) != 1000 {
		t.Fatalf("%d pushes for %d ghosts, want each of 1000 exactly once", n, len(counts))
	}
	if _, _, wait := p.next(); wait != time.Hour {
		t.Fatalf("idle pusher wakes in %v, want no timer (1h)", wait)
	}
}

// TestPusherSharedGhostMostOnline: a ghost seen by two logins shows the most online of their
// views, goes offline only when no login sees it, and is pushed once per real change.
func TestPusherSharedGhostMostOnline(t *testing.T) {
	now := time.Unix(1000, 0)
	p := NewPusher(PusherConfig{MinInterval: time.Nanosecond, Refresh: -1, Resolve: noSetter, Now: func() time.Time { return now }})
	step := func(name string, want event.Presence) {
		t.Helper()
		now = now.Add(time.Second)
		key, pres, _ := p.next()
		if want == "" {
			if key != "" {
				t.Fatalf("%s: pushed %s %+v, want nothing", name, key, pres)
			}
			return
		}
		if key != "bob" || pres.State != want {
			t.Fatalf("%s: pushed %q %+v, want bob %s", name, key, pres, want)
		}
		if k2, _, _ := p.next(); k2 != "" {
			t.Fatalf("%s: pushed %q twice", name, k2)
		}
	}
	away := Presence{State: event.PresenceUnavailable, StatusMsg: "Away"}
	p.UpdateFrom("bob", "login1", away)
	p.UpdateFrom("bob", "login2", Presence{State: event.PresenceOnline})
	step("both see bob", event.PresenceOnline)
	p.UpdateFrom("bob", "login1", Presence{State: event.PresenceOnline})
	step("login1 now online too", "")
	p.UpdateFrom("bob", "login2", Presence{State: event.PresenceOffline})
	step("login2 disconnects", "")
	p.UpdateFrom("bob", "login1", away)
	step("login1 sees away", event.PresenceUnavailable)
	p.UpdateFrom("bob", "login1", Presence{State: event.PresenceOffline})
	step("nobody sees bob", event.PresenceOffline)
}

// TestPusherWarnsAtCeiling: more online ghosts than the configured ceiling can refresh in time
// give a warning in the log.
func TestPusherWarnsAtCeiling(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	p := NewPusher(PusherConfig{MaxRate: 10, Resolve: noSetter, Logger: zerolog.New(&buf), Now: func() time.Time { return now }})
	for i := range 1000 {
		p.Update(fmt.Sprintf("g%d", i), Presence{State: event.PresenceOnline})
	}
	simulate(t, p, &now, 2*time.Minute, func(string, time.Time) {})
	if !strings.Contains(buf.String(), "cannot keep up") {
		t.Fatalf("no warning at the ceiling; log: %q", buf.String())
	}
	buf.Reset()
	q := NewPusher(PusherConfig{Resolve: noSetter, Logger: zerolog.New(&buf), Now: func() time.Time { return now }})
	for i := range 1000 {
		q.Update(fmt.Sprintf("g%d", i), Presence{State: event.PresenceOnline})
	}
	simulate(t, q, &now, 2*time.Minute, func(string, time.Time) {})
	if buf.Len() != 0 {
		t.Fatalf("warning below the ceiling: %q", buf.String())
	}
}

// BenchmarkPresenceChange measures one presence change with many tracked contacts, all online,
// each in a room (RequireRoom, as the bridge runs it) and waiting in the refresh heap: the update
// and the worker's step that pushes it. The cost must
// not grow with their number (compare contacts=1000 with contacts=100000; the old scheduler
// scanned every tracked contact per push). The changes cycle over the same 1,000 contacts in both
// cases so the figures compare the algorithm, not the CPU cache.
func BenchmarkPresenceChange(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		b.Run(fmt.Sprintf("contacts=%d", n), func(b *testing.B) {
			now := time.Unix(1000, 0)
			p := NewPusher(PusherConfig{MinInterval: time.Nanosecond, Refresh: time.Hour, MaxRate: 1e9, Burst: 1 << 30,
				RequireRoom: true, Resolve: noSetter, Now: func() time.Time { return now }})
			keys := make([]string, n)
			for i := range keys {
				keys[i] = fmt.Sprintf("ghost%d", i)
				p.UpdateFrom(keys[i], "login", Presence{State: event.PresenceOnline})
				p.JoinRoom("login", "dm-"+keys[i], keys[i])
			}
			for p.online < n { // push them all, so the refresh heap holds every ghost
				if k, _, wait := p.next(); k == "" {
					now = now.Add(wait)
				}
			}
			states := [2]Presence{{State: event.PresenceUnavailable, StatusMsg: "Away"}, {State: event.PresenceOnline}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				now = now.Add(time.Microsecond)
				p.UpdateFrom(keys[i%1000], "login", states[(i/1000)%2])
				if k, _, _ := p.next(); k != keys[i%1000] {
					b.Fatalf("pushed %q, want %q", k, keys[i%1000])
				}
			}
		})
	}
}
