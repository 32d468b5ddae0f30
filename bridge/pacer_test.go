package bridge

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2/status"
)

// pacerFakeClock is a pacerClock whose time only moves when the test advances it.
type pacerFakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []pacerTimer
	// armed receives one value per timer set (so the test knows a waiter is waiting).
	armed chan struct{}
}

type pacerTimer struct {
	at time.Time
	ch chan time.Time
}

func newPacerFakeClock() *pacerFakeClock {
	return &pacerFakeClock{now: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), armed: make(chan struct{}, 10000)}
}

func (c *pacerFakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *pacerFakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, pacerTimer{at: c.now.Add(d), ch: ch})
	c.armed <- struct{}{}
	return ch
}

// advanceToNext moves the time to the earliest pending timer and fires every timer due then;
// it returns how many fired (0 when none is pending).
func (c *pacerFakeClock) advanceToNext() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return 0
	}
	earliest := c.timers[0].at
	for _, t := range c.timers {
		if t.at.Before(earliest) {
			earliest = t.at
		}
	}
	if earliest.After(c.now) {
		c.now = earliest
	}
	fired, kept := 0, c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			kept = append(kept, t)
			continue
		}
		t.ch <- c.now
		fired++
	}
	c.timers = kept
	return fired
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// TestLoginPacerRate: 1,000 logins that all want to start at once are admitted at most
// logins_per_second in any second, evenly, and all within 1000/logins_per_second seconds.
func TestLoginPacerRate(t *testing.T) {
	const logins = 1000
	for _, perSecond := range []int{50, 100, 1000} {
		clock := newPacerFakeClock()
		p := newLoginPacer(perSecond)
		p.clock = clock
		start := clock.Now()
		admitted := make(chan time.Time, logins)
		for range logins {
			go func() {
				if err := p.wait(context.Background()); err != nil {
					t.Error(err)
				}
				admitted <- clock.Now()
			}()
		}
		// One waiter at a time waits for a token (the first gets one at once): move the clock
		// to its timer and take its admission before the next one is let in.
		times := []time.Time{recv(t, admitted, "the first login")}
		for len(times) < logins {
			recv(t, clock.armed, "the next waiter to wait for its token")
			if clock.advanceToNext() != 1 {
				t.Fatalf("%d/s: more than one waiter waits for a token", perSecond)
			}
			times = append(times, recv(t, admitted, "an admitted login"))
		}
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		// At most perSecond logins in any one-second window: login i+perSecond comes a full
		// second (or more) after login i.
		for i := 0; i+perSecond < len(times); i++ {
			if gap := times[i+perSecond].Sub(times[i]); gap < time.Second {
				t.Fatalf("%d/s: logins %d and %d only %v apart", perSecond, i, i+perSecond, gap)
			}
		}
		if took, limit := times[len(times)-1].Sub(start), time.Duration(logins)*time.Second/time.Duration(perSecond); took >= limit {
			t.Fatalf("%d/s: the last login started after %v, want under %v", perSecond, took, limit)
		}
	}
}

// TestLoginPacerCancel: a waiter whose context ends stops waiting at once, and its unused turn
// goes to the next waiter.
func TestLoginPacerCancel(t *testing.T) {
	clock := newPacerFakeClock()
	p := newLoginPacer(1)
	p.clock = clock
	start := clock.Now()
	if err := p.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.wait(ctx) }()
	recv(t, clock.armed, "the second waiter to queue")
	cancel()
	if err := recv(t, done, "the cancelled waiter"); err != context.Canceled {
		t.Fatalf("cancelled wait returned %v, want context.Canceled", err)
	}
	third := make(chan time.Time, 1)
	go func() {
		if err := p.wait(context.Background()); err != nil {
			t.Error(err)
		}
		third <- clock.Now()
	}()
	recv(t, clock.armed, "the third waiter to queue")
	// The cancelled waiter's timer is still pending at the same time; one advance serves both.
	clock.advanceToNext()
	if at := recv(t, third, "the third login").Sub(start); at != time.Second {
		t.Fatalf("third login admitted at %v, want 1s (the cancelled turn)", at)
	}
}

// TestLoginPacerUnlimited: with no limit a login waits only a random pause below the spread.
func TestLoginPacerUnlimited(t *testing.T) {
	clock := newPacerFakeClock()
	p := newLoginPacer(0)
	p.clock = clock
	var asked []int64
	p.randN = func(n int64) int64 { asked = append(asked, n); return n - 1 }
	done := make(chan error, 1)
	go func() { done <- p.wait(context.Background()) }()
	recv(t, clock.armed, "the waiter to queue")
	clock.advanceToNext()
	if err := recv(t, done, "the login"); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 || asked[0] != int64(unlimitedSpread) {
		t.Fatalf("random pause drawn from %v, want one draw below %v", asked, unlimitedSpread)
	}
	if waited := clock.Now().Sub(time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)); waited != unlimitedSpread-1 {
		t.Fatalf("waited %v, want the drawn %v", waited, unlimitedSpread-1)
	}
}

// TestLoginsPerSecondConfig: the example config sets 50 and a negative value is refused.
func TestLoginsPerSecondConfig(t *testing.T) {
	cfg := loadExample(t)
	if cfg.LoginsPerSecond != 50 {
		t.Fatalf("example logins_per_second = %d, want 50", cfg.LoginsPerSecond)
	}
	cfg.LoginsPerSecond = -1
	if err := cfg.Validate(); err == nil {
		t.Fatal("logins_per_second -1 accepted")
	}
}

// TestClientWaitsForLoginTurn: a stored login does not reach the server before the bridge's
// login pacer gives it its turn.
func TestClientWaitsForLoginTurn(t *testing.T) {
	h := newHarness(t, 15)
	clock := newPacerFakeClock()
	p := newLoginPacer(1)
	p.clock = clock
	p.next = clock.Now().Add(time.Hour) // another login holds the turns of the next hour
	h.conn.pacerOnce.Do(func() { h.conn.pacer = p })
	h.client.Connect(context.Background())
	recv(t, clock.armed, "the login to wait for its turn")
	if n := h.srv.Logins("alice@example.com"); n != 0 {
		t.Fatalf("%d logins reached the server before the turn", n)
	}
	clock.advanceToNext()
	wait(t, h.rec.states, "CONNECTED", func(st status.BridgeState) bool { return st.StateEvent == status.StateConnected })
	if n := h.srv.Logins("alice@example.com"); n != 1 {
		t.Fatalf("%d logins after the turn, want 1", n)
	}
}
