package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"

	"github.com/msnbridge/msnbridge/msn/auth"
	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/msn/wire"
)

// fakeClock is virtual time for the reconnect schedule: sleeping advances it at once.
type fakeClock struct {
	now    time.Duration
	sleeps []time.Duration
}

func (f *fakeClock) sleep(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	f.sleeps = append(f.sleeps, d)
	f.now += d
	return true
}

// maxRand draws the largest value, minRand the smallest.
func maxRand(n int64) int64 { return n - 1 }
func minRand(int64) int64   { return 0 }

func testReconnector(clk *fakeClock, randN func(int64) int64, probe func(context.Context) error) *reconnector {
	r := newReconnector(defaultRetryTiming, probe)
	r.randN, r.sleep = randN, clk.sleep
	return r
}

var errDialRefused = fmt.Errorf("msn: login to 127.0.0.1:1863: dial: %w",
	&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")})

// TestReconnectJitterSpread: the waits of many logins after the same drop are spread over the
// whole [0, base) range rather than all equal.
func TestReconnectJitterSpread(t *testing.T) {
	const n = 200
	seen := map[time.Duration]bool{}
	low, high := 0, 0
	for range n {
		r := newReconnector(defaultRetryTiming, nil)
		w := r.afterSession(0, serverHint{})
		if w < 0 || w >= backoffMin {
			t.Fatalf("first wait %v outside [0, %v)", w, backoffMin)
		}
		seen[w] = true
		if w < backoffMin/4 {
			low++
		}
		if w > backoffMin*3/4 {
			high++
		}
	}
	if len(seen) < n/2 || low == 0 || high == 0 {
		t.Fatalf("waits not spread: %d distinct of %d, %d in the lowest quarter, %d in the highest", len(seen), n, low, high)
	}
}

// TestReconnectRefusedLoginsBackOffToCap: logins the server answers but refuses wait a random
// time below a ceiling that doubles up to backoffMax, and never above it.
func TestReconnectRefusedLoginsBackOffToCap(t *testing.T) {
	clk := &fakeClock{}
	r := testReconnector(clk, maxRand, func(context.Context) error { t.Fatal("a reachable server is not probed"); return nil })
	failure := &auth.Error{Op: "sso login", Status: 500, Err: errors.New("SOAP fault")}
	for range 12 {
		if !r.afterFailure(context.Background(), failure) {
			t.Fatal("afterFailure = false")
		}
	}
	want := []time.Duration{2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300}
	for i, w := range want {
		if got := clk.sleeps[i]; got != w*time.Second-1 {
			t.Errorf("wait %d = %v, want just below %v", i, got, w*time.Second)
		}
	}
	clk.sleeps = nil
	r2 := testReconnector(clk, minRand, nil)
	r2.afterFailure(context.Background(), failure)
	if clk.sleeps[0] != 0 {
		t.Errorf("full jitter must allow an immediate retry, got %v", clk.sleeps[0])
	}
}

// TestReconnectBackWithin30sOfServerReturn: whatever the outage length, a login whose server is
// unreachable is tried again at most 30 s (minus the login itself) after the server returns,
// and the server sees only cheap probes meanwhile.
func TestReconnectBackWithin30sOfServerReturn(t *testing.T) {
	for _, outage := range []time.Duration{time.Second, 46 * time.Second, 10 * time.Minute, 6 * time.Hour} {
		for _, rnd := range []func(int64) int64{minRand, maxRand} {
			clk := &fakeClock{}
			probes := 0
			r := testReconnector(clk, rnd, func(ctx context.Context) error {
				probes++
				if clk.now < outage {
					return errDialRefused
				}
				return nil
			})
			if !r.afterFailure(context.Background(), errDialRefused) {
				t.Fatal("afterFailure = false")
			}
			back := clk.now - max(outage, 0)
			if limit := probeMax + probeTimeout + comebackSpread; back > limit || limit > 25*time.Second {
				t.Errorf("outage %v: login %v after the server returned (limit %v, must stay well below 30s)", outage, back, limit)
			}
			if clk.now < outage {
				t.Errorf("outage %v: login tried at %v while the server was down", outage, clk.now)
			}
			if probes == 0 {
				t.Errorf("outage %v: no probe", outage)
			}
		}
	}
}

// TestReconnectProbeIntervalsJittered: two logins probing the same dead server do not probe in
// lockstep.
func TestReconnectProbeIntervalsJittered(t *testing.T) {
	clk := &fakeClock{}
	n := 0
	r := newReconnector(defaultRetryTiming, func(context.Context) error {
		n++
		if n < 50 {
			return errDialRefused
		}
		return nil
	})
	r.sleep = clk.sleep
	r.afterFailure(context.Background(), errDialRefused)
	distinct := map[time.Duration]bool{}
	for _, d := range clk.sleeps[:len(clk.sleeps)-1] {
		if d < probeMin || d >= probeMax {
			t.Fatalf("probe interval %v outside [%v, %v)", d, probeMin, probeMax)
		}
		distinct[d] = true
	}
	if len(distinct) < 25 {
		t.Fatalf("probe intervals not jittered: %d distinct of %d", len(distinct), len(clk.sleeps)-1)
	}
}

// TestReconnectServerSaidShutdown: OUT SSD, OUT RCT <minutes> and a maintenance announcement
// set the first delay from what the server said.
func TestReconnectServerSaidShutdown(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name          string
		cause         error
		maintenanceAt time.Time
		lo, hi        time.Duration
	}{
		{"OUT SSD", ns.ErrServerShutdown, time.Time{}, shutdownMin, shutdownMin + shutdownSpread},
		{"OUT RCT 5", &ns.DisconnectError{Reason: "x", RetryAfter: 5 * time.Minute}, time.Time{}, 5 * time.Minute, 5*time.Minute + comebackSpread},
		{"connection lost at the announced maintenance", &ns.DisconnectError{Reason: "connection lost"}, now.Add(-30 * time.Second), shutdownMin, shutdownMin + shutdownSpread},
		{"connection lost long after a maintenance", &ns.DisconnectError{Reason: "connection lost"}, now.Add(-time.Hour), 0, backoffMin},
		{"connection lost", &ns.DisconnectError{Reason: "connection lost"}, time.Time{}, 0, backoffMin},
	}
	for _, tt := range tests {
		for _, rnd := range []func(int64) int64{minRand, maxRand} {
			r := testReconnector(&fakeClock{}, rnd, nil)
			w := r.afterSession(stableSession, hintFor(tt.cause, tt.maintenanceAt, now))
			if w < tt.lo || w >= tt.hi {
				t.Errorf("%s: first wait %v outside [%v, %v)", tt.name, w, tt.lo, tt.hi)
			}
		}
	}
}

// TestReconnectStableSessionStartsOver: flapping sessions double the ceiling; a stable one
// starts again from the shortest.
func TestReconnectStableSessionStartsOver(t *testing.T) {
	r := testReconnector(&fakeClock{}, maxRand, nil)
	var got []time.Duration
	for range 3 {
		got = append(got, r.afterSession(time.Second, serverHint{}))
	}
	got = append(got, r.afterSession(stableSession, serverHint{}))
	want := []time.Duration{2, 4, 8, 2}
	for i, w := range want {
		if got[i] != w*time.Second-1 {
			t.Errorf("wait %d = %v, want just below %v", i, got[i], w*time.Second)
		}
	}
}

// TestReconnectStopsWithContext: a cancelled context ends the probing.
func TestReconnectStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := testReconnector(&fakeClock{}, minRand, func(context.Context) error { cancel(); return errDialRefused })
	if r.afterFailure(ctx, errDialRefused) {
		t.Fatal("afterFailure = true after cancel")
	}
}

func TestUnreachable(t *testing.T) {
	httpDial := &auth.Error{Op: "sso login", Err: &net.OpError{Op: "dial", Err: errors.New("refused")}}
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{errDialRefused, true},
		{httpDial, true},
		{&net.OpError{Op: "read", Err: errors.New("reset")}, false},
		{&auth.Error{Op: "sso login", Status: 503}, false},
		{auth.ErrBadCredentials, false},
	} {
		if got := unreachable(tt.err); got != tt.want {
			t.Errorf("unreachable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestProbeTargets(t *testing.T) {
	got := probeTargets("ns.example:1863", ns.Endpoints{
		Login: "http://web.example:8081/login", RST: "http://web.example:8081/RST.srf",
		Sharing: "https://ab.example/abservice/SharingService.asmx", Nexus: "::bad",
	})
	want := []string{"ns.example:1863", "web.example:8081", "ab.example:443"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("probeTargets = %v, want %v", got, want)
	}
}

// TestProbeTCPLoopback: the probe succeeds against a listener and fails once it is gone.
func TestProbeTCPLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := probeTCP(ctx, []string{addr}); err != nil {
		t.Fatalf("probe of a listening server: %v", err)
	}
	_ = ln.Close()
	if err := probeTCP(ctx, []string{addr}); err == nil || !unreachable(err) {
		t.Fatalf("probe of a closed port = %v, want a dial error", err)
	}
}

func TestNoteMaintenance(t *testing.T) {
	c := &Client{}
	now := time.Now()
	c.noteMaintenance("5", now)
	if got := c.maintenanceTime(); !got.Equal(now.Add(5 * time.Minute)) {
		t.Fatalf("maintenanceAt = %v", got)
	}
	c.noteMaintenance("soon", now.Add(time.Hour))
	if got := c.maintenanceTime(); !got.Equal(now.Add(5 * time.Minute)) {
		t.Fatalf("an unparsable announcement changed maintenanceAt to %v", got)
	}
}

// TestLoginErrorThrottled: a busy login service is not reported as a wrong password.
func TestLoginErrorThrottled(t *testing.T) {
	err := &auth.Error{Op: "sso login", Status: 503, Err: auth.ErrThrottled}
	var re bridgev2.RespError
	if !errors.As(loginError(err, "ns.example:1863"), &re) || re.ErrCode != "NET.MSNBRIDGE.THROTTLED" {
		t.Fatalf("loginError = %v", loginError(err, "ns.example:1863"))
	}
}

// TestReconnectDroppedLoginsStayShort: a server that accepts the connection and drops it before
// answering (a daemon restarting behind a listening proxy, the fake server's /v1/down) is not
// back yet; however long that lasts, the next try stays within droppedMax, so the login is back
// soon after the server is. A login the server answers and refuses still backs off to the cap.
func TestReconnectDroppedLoginsStayShort(t *testing.T) {
	drops := []error{
		fmt.Errorf("msn: login to 127.0.0.1:1863: msn: VER: %w", &ns.DisconnectError{Reason: "connection lost", Err: io.EOF}),
		fmt.Errorf("msn: login: read: %w", syscall.ECONNRESET),
		fmt.Errorf("msn: login: %w", io.ErrUnexpectedEOF),
	}
	for _, failure := range drops {
		clk := &fakeClock{}
		r := testReconnector(clk, maxRand, func(context.Context) error { t.Fatal("a reachable server is not probed"); return nil })
		for range 12 {
			if !r.afterFailure(context.Background(), failure) {
				t.Fatal("afterFailure = false")
			}
		}
		for i, got := range clk.sleeps {
			if got >= droppedMax {
				t.Fatalf("%v: wait %d = %v, want below %v", failure, i, got, droppedMax)
			}
		}
		if last := clk.sleeps[len(clk.sleeps)-1]; last < droppedMax/2 {
			t.Errorf("%v: ceiling never grew: last wait %v", failure, last)
		}
	}
	refused := &auth.Error{Op: "sso login", Status: 500, Err: errors.New("SOAP fault")}
	if dropped(refused) || dropped(fmt.Errorf("x: %w", &wire.ServerError{Code: 500})) {
		t.Fatal("an answer from the server counted as a dropped connection")
	}
}
