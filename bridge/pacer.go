package bridge

import (
	"context"
	"sync"
	"time"
)

// unlimitedSpread is the ceiling of the random pause before a login when
// network.logins_per_second is 0 (no limit): a thousand logins started together then reach the
// server over a second instead of in the same millisecond.
const unlimitedSpread = time.Second

// pacerClock is the time source of a loginPacer; tests replace it with a fake clock.
type pacerClock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// loginPacer spaces the MSN logins of the whole bridge: the first connect of every stored login
// at start and every reconnect wait on it, so that a bridge with many logins does not flood the
// server. It is a token bucket that holds one token and gains one every interval: two logins
// are at least interval apart, so at most one per interval and never a burst. Waiters are
// served in the order they arrive.
type loginPacer struct {
	clock pacerClock
	// interval is 1/logins_per_second; zero means no limit (then only a random spread).
	interval time.Duration
	// spread is the ceiling of the random pause of an unlimited pacer.
	spread time.Duration
	// randN returns a uniform random number in [0, n) for n > 0.
	randN func(n int64) int64

	mu sync.Mutex
	// next is when the next token is available (the slot the next waiter gets).
	next time.Time
}

// newLoginPacer returns a pacer admitting perSecond logins per second (0: no limit).
func newLoginPacer(perSecond int) *loginPacer {
	p := &loginPacer{clock: realClock{}, spread: unlimitedSpread, randN: cryptoRandN}
	if perSecond > 0 {
		p.interval = max(time.Second/time.Duration(perSecond), time.Nanosecond)
	}
	return p
}

// wait blocks until the caller may log in, or until ctx ends (then it returns ctx's error and
// gives its turn back when no later waiter took one after it).
func (p *loginPacer) wait(ctx context.Context) error {
	if p == nil {
		return ctx.Err()
	}
	if p.interval <= 0 {
		if p.spread <= 0 {
			return ctx.Err()
		}
		return p.sleep(ctx, time.Duration(p.randN(int64(p.spread))))
	}
	p.mu.Lock()
	now := p.clock.Now()
	slot := p.next
	if slot.Before(now) {
		slot = now
	}
	p.next = slot.Add(p.interval)
	p.mu.Unlock()
	err := p.sleep(ctx, slot.Sub(now))
	if err != nil {
		p.mu.Lock()
		if p.next.Equal(slot.Add(p.interval)) {
			// Nobody queued behind this turn: the next waiter may have it.
			p.next = slot
		}
		p.mu.Unlock()
	}
	return err
}

func (p *loginPacer) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.clock.After(d):
		return nil
	}
}

// loginPacer returns the bridge's login pacer, made from network.logins_per_second on first use.
func (c *Connector) loginPacer() *loginPacer {
	c.pacerOnce.Do(func() {
		c.pacer = newLoginPacer(c.Config.LoginsPerSecond)
	})
	return c.pacer
}

// paceLogin waits for this login's turn to log in (see loginPacer); it reports false when ctx
// ended first.
func (c *Client) paceLogin(ctx context.Context) bool {
	return c.conn.loginPacer().wait(ctx) == nil
}
