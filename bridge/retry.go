package bridge

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/msnbridge/msnbridge/msn/ns"
)

// The reconnect schedule. Every wait is drawn at random ("full jitter") so that the logins of a
// big bridge do not retry in lockstep against a small revival server.
//
// A login that fails because the server cannot be reached does not sleep through a growing
// delay: the client probes the server with a plain TCP connect every probeMin…probeMax and logs
// in, after a random pause of at most comebackSpread, once the probe succeeds. A login is thus
// back at most probeMax+probeTimeout+comebackSpread (plus the login itself) after the server
// returns, however long the outage was. Logins the server answers but refuses (throttling,
// server faults) back off exponentially up to backoffMax.
type retryTiming struct {
	// base is the ceiling of the first wait after a dropped session; it doubles per failure.
	base time.Duration
	// max caps the ceiling of logins the server answered but refused.
	max time.Duration
	// probeMin and probeMax bound the random interval between two probes.
	probeMin, probeMax time.Duration
	// probeTimeout bounds one probe connect.
	probeTimeout time.Duration
	// droppedMax caps the ceiling of logins whose connection dropped before the server
	// answered (see dropped).
	droppedMax time.Duration
	// comebackSpread is the ceiling of the random pause between a successful probe and the login.
	comebackSpread time.Duration
	// shutdownMin and shutdownSpread: after OUT SSD (or a disconnect right after a maintenance
	// announcement) the first login waits shutdownMin plus up to shutdownSpread.
	shutdownMin, shutdownSpread time.Duration
}

// Reconnect bounds (see retryTiming).
const (
	backoffMin     = 2 * time.Second
	backoffMax     = 5 * time.Minute
	probeMin       = 2 * time.Second
	probeMax       = 5 * time.Second
	probeTimeout   = 3 * time.Second
	comebackSpread = 10 * time.Second
	droppedMax     = 20 * time.Second
	shutdownMin    = 5 * time.Second
	shutdownSpread = 20 * time.Second
	// maintenanceGrace is how long after the announced maintenance time a disconnect still
	// counts as that maintenance.
	maintenanceGrace = 10 * time.Minute
	// maxServerDelay caps a delay the server asks for (OUT RCT <minutes>).
	maxServerDelay = 2 * time.Hour
)

var defaultRetryTiming = retryTiming{
	base: backoffMin, max: backoffMax,
	probeMin: probeMin, probeMax: probeMax, probeTimeout: probeTimeout,
	comebackSpread: comebackSpread, droppedMax: droppedMax,
	shutdownMin: shutdownMin, shutdownSpread: shutdownSpread,
}

// retryTimingFor returns the schedule with base as its first ceiling; a shorter base (tests)
// shortens every other bound in the same proportion.
func retryTimingFor(base time.Duration) retryTiming {
	t := defaultRetryTiming
	if base <= 0 || base == t.base {
		return t
	}
	scale := func(d time.Duration) time.Duration {
		return max(time.Duration(float64(d)*float64(base)/float64(backoffMin)), time.Millisecond)
	}
	return retryTiming{
		base: base, max: scale(t.max),
		probeMin: scale(t.probeMin), probeMax: scale(t.probeMax), probeTimeout: max(scale(t.probeTimeout), 100*time.Millisecond),
		comebackSpread: scale(t.comebackSpread), droppedMax: scale(t.droppedMax),
		shutdownMin: scale(t.shutdownMin), shutdownSpread: scale(t.shutdownSpread),
	}
}

// reconnector decides when a login is tried again. Its clock, random source and probe are
// functions so that the schedule can be tested without waiting.
type reconnector struct {
	timing retryTiming
	// failures counts the logins that failed (and short sessions) since the last stable session.
	failures int
	// randN returns a uniform random number in [0, n) for n > 0.
	randN func(n int64) int64
	// sleep waits d or until ctx ends; it reports whether the wait ran out.
	sleep func(ctx context.Context, d time.Duration) bool
	// probe checks cheaply whether the server accepts connections again.
	probe func(ctx context.Context) error
	// onProbe, when set, is told of every failed probe (for logs and states).
	onProbe func(err error)
}

func newReconnector(timing retryTiming, probe func(ctx context.Context) error) *reconnector {
	return &reconnector{timing: timing, randN: rand.Int64N, sleep: waitCtx, probe: probe}
}

// jitter is a uniform random duration in [0, ceiling).
func (r *reconnector) jitter(ceiling time.Duration) time.Duration {
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(r.randN(int64(ceiling)))
}

// ceiling is the current exponential ceiling: base·2^failures, capped at max.
func (r *reconnector) ceiling() time.Duration {
	c := r.timing.base
	for i := 0; i < r.failures && c < r.timing.max; i++ {
		c *= 2
	}
	return min(c, r.timing.max)
}

// serverHint is what the server said about going away.
type serverHint struct {
	// shutdown: OUT SSD, or a disconnect within the window of a maintenance announcement.
	shutdown bool
	// retryAfter is a delay the server asked for (OUT RCT <minutes>); zero when none.
	retryAfter time.Duration
}

// afterSession returns the wait before the first login after a session that was up for uptime
// ended. A session that stayed up for stableSession starts again from the shortest delay, so
// that a server restart next week is not met with last week's delay; shorter (flapping)
// sessions keep doubling it.
func (r *reconnector) afterSession(uptime time.Duration, hint serverHint) time.Duration {
	if uptime >= stableSession {
		r.failures = 0
	}
	switch {
	case hint.retryAfter > 0:
		return min(hint.retryAfter, maxServerDelay) + r.jitter(r.timing.comebackSpread)
	case hint.shutdown:
		return r.timing.shutdownMin + r.jitter(r.timing.shutdownSpread)
	}
	wait := r.jitter(r.ceiling())
	r.failures++
	return wait
}

// afterFailure waits before the next login after one that failed with err. It reports false
// when ctx ended. An unreachable server is probed until it answers; any other failure waits a
// random time below the growing ceiling.
func (r *reconnector) afterFailure(ctx context.Context, err error) bool {
	if unreachable(err) {
		return r.untilReachable(ctx)
	}
	ceiling := r.ceiling()
	if dropped(err) {
		// The server took the connection but dropped it before answering: it is not back
		// yet (a restarting daemon behind a listening proxy, a half-started server). Those
		// retries stay short so that the login is back soon after the server, whatever the
		// outage length; only answers that refuse the login earn the long back-off.
		ceiling = min(ceiling, r.timing.droppedMax)
	}
	wait := r.jitter(ceiling)
	r.failures++
	return r.sleep(ctx, wait)
}

// untilReachable probes the server at random intervals until it accepts a connection, then
// waits a random pause (spreading the logins of the bridge) and returns true.
func (r *reconnector) untilReachable(ctx context.Context) bool {
	t := r.timing
	for {
		if !r.sleep(ctx, t.probeMin+r.jitter(t.probeMax-t.probeMin)) {
			return false
		}
		pctx, cancel := context.WithTimeout(ctx, t.probeTimeout)
		err := r.probe(pctx)
		cancel()
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			return r.sleep(ctx, r.jitter(t.comebackSpread))
		}
		if r.onProbe != nil {
			r.onProbe(err)
		}
	}
}

// unreachable reports whether a login failed because a connection to the NS or an HTTP service
// could not be made (refused, no route, DNS, connect timeout).
func unreachable(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// dropped reports whether a login failed because the connection ended or stalled before the
// server answered: EOF, reset, broken pipe, a read/write timeout, or the NS session ending
// during the login without the server naming a delay.
func dropped(err error) bool {
	var de *ns.DisconnectError
	if errors.As(err, &de) && de.RetryAfter == 0 && !errors.Is(err, ns.ErrServerShutdown) {
		return true
	}
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) || (errors.As(err, &ne) && ne.Timeout())
}

// probeTargets lists the distinct TCP addresses a login needs: the NS and the hosts of the HTTP
// services.
func probeTargets(server string, ep ns.Endpoints) []string {
	seen := map[string]bool{}
	var out []string
	add := func(addr string) {
		if addr != "" && !seen[addr] {
			seen[addr] = true
			out = append(out, addr)
		}
	}
	add(server)
	for _, raw := range []string{ep.Nexus, ep.Login, ep.RST, ep.Sharing, ep.AddressBook} {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			continue
		}
		port := u.Port()
		if port == "" {
			port = "80"
			if u.Scheme == "https" {
				port = "443"
			}
		}
		add(net.JoinHostPort(u.Hostname(), port))
	}
	return out
}

// probeTCP connects to every address and closes the connection at once.
func probeTCP(ctx context.Context, addrs []string) error {
	var d net.Dialer
	for _, a := range addrs {
		conn, err := d.DialContext(ctx, "tcp", a)
		if err != nil {
			return err
		}
		_ = conn.Close()
	}
	return nil
}

// hintFor turns the cause of a disconnect and the last maintenance announcement into a hint.
func hintFor(cause error, maintenanceAt, now time.Time) serverHint {
	var de *ns.DisconnectError
	switch {
	case errors.As(cause, &de) && de.RetryAfter > 0:
		return serverHint{retryAfter: de.RetryAfter}
	case errors.Is(cause, ns.ErrServerShutdown):
		return serverHint{shutdown: true}
	case !maintenanceAt.IsZero() && now.After(maintenanceAt.Add(-time.Minute)) && now.Before(maintenanceAt.Add(maintenanceGrace)):
		return serverHint{shutdown: true}
	}
	return serverHint{}
}

// newReconnector makes the reconnect schedule of this client, probing its server.
func (c *Client) newReconnector() *reconnector {
	r := newReconnector(retryTimingFor(c.backoffMin), func(ctx context.Context) error {
		srv, err := c.conn.serverOf(c.meta())
		if err != nil {
			return err
		}
		return probeTCP(ctx, probeTargets(srv.NSAddress, srv.Endpoints()))
	})
	r.onProbe = func(err error) {
		c.log.Debug().Err(err).Msg("MSN server still unreachable")
	}
	return r
}

// noteMaintenance records a maintenance announcement ("down in <minutes> minutes"), so that the
// disconnect it announces is met with the shutdown delay.
func (c *Client) noteMaintenance(minutes string, now time.Time) {
	n, err := strconv.Atoi(strings.TrimSpace(minutes))
	if err != nil || n < 0 || n > 24*60 {
		return
	}
	c.mu.Lock()
	c.maintenanceAt = now.Add(time.Duration(n) * time.Minute)
	c.mu.Unlock()
}

func (c *Client) maintenanceTime() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maintenanceAt
}
