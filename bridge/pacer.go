package bridge

import (
	"context"
	"math/rand/v2"
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
// server. It is a token bucket that holds one token and gains one every interval: a login is
// admitted at least interval after the one before it (measured when that one was let through,
// so a late timer never lets two through together), never in a burst. Waiters queue on a
// channel, so they take turns about in the order they arrive.
type loginPacer struct {
	clock pacerClock
	// interval is 1/logins_per_second; zero means no limit (then only a random spread).
	interval time.Duration
	// spread is the ceiling of the random pause of an unlimited pacer.
	spread time.Duration
	// randN returns a uniform random number in [0, n) for n > 0.
	randN func(n int64) int64

	// turn is held by the one waiter waiting for the next token; the others queue on it.
	turn chan struct{}
	// next is when the next token is available; only the holder of turn reads or writes it.
	next time.Time
}

// newLoginPacer returns a pacer admitting perSecond logins per second (0: no limit).
func newLoginPacer(perSecond int) *loginPacer {
	p := &loginPacer{clock: realClock{}, spread: unlimitedSpread, randN: rand.Int64N, turn: make(chan struct{}, 1)}
	if perSecond > 0 {
		p.interval = max(time.Second/time.Duration(perSecond), time.Nanosecond)
	}
	return p
}

// wait blocks until the caller may log in, or until ctx ends (then it returns ctx's error and
// the turn goes to the next waiter).
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
	select {
	case p.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.turn }()
	if err := p.sleep(ctx, p.next.Sub(p.clock.Now())); err != nil {
		return err
	}
	p.next = p.clock.Now().Add(p.interval)
	return nil
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
