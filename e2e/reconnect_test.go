//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/id"
)

// Issue #8's end-to-end point: with many logins connected, the MSN server goes away for 90 s;
// after it returns every login is back within 30 s, and the logins do not come back in lockstep.

const (
	rcLogins = 20
	// rcOutage is how long the server is away. For its first rcRefusing the process is gone
	// (connects refused, the bridge probes); for the rest it accepts connections and closes them
	// at once (a daemon starting behind its listener, the bridge's logins fail with EOF).
	rcOutage   = 90 * time.Second
	rcRefusing = 60 * time.Second
	// rcBack is how soon after the server's return every login must be connected again.
	rcBack = 30 * time.Second
	// rcMinSpan is the least time between the first and the last login to come back, and
	// rcPerSecond the most logins that may come back within one second.
	rcMinSpan   = 2 * time.Second
	rcPerSecond = rcLogins / 2
)

const rcPassword = "Reconnect-e2e-secret!pw"

func rcPassport(i int) string { return fmt.Sprintf("rc%02d@example.com", i+1) }

// reconnectAccounts are the MSN accounts of TestReconnectManyLogins (no contacts: the test is
// about the connections).
func reconnectAccounts() []account {
	out := make([]account, rcLogins)
	for i := range out {
		out[i] = account{Passport: rcPassport(i), Password: rcPassword, Name: "Reconnect " + fmt.Sprint(i+1)}
	}
	return out
}

// provUser is a Matrix user that talks to the bridge's provisioning API with its own access
// token (provisioning.allow_matrix_auth).
type provUser struct {
	cli      *mautrix.Client
	passport string
	loginID  string
}

// call sends a provisioning API request as the user.
func (p *provUser) call(ctx context.Context, method, path string, body, out any) error {
	u := w.bridge.asURL + "/_matrix/provision" + path + "?user_id=" + url.QueryEscape(p.cli.UserID.String())
	_, err := p.cli.MakeFullRequest(ctx, mautrix.FullRequest{Method: method, URL: u, RequestJSON: body, ResponseJSON: out})
	return err
}

// provStep is a login step answered by the provisioning API.
type provStep struct {
	LoginID   string `json:"login_id"`
	Type      string `json:"type"`
	StepID    string `json:"step_id"`
	UserInput *struct {
		Fields []struct {
			ID string `json:"id"`
		} `json:"fields"`
	} `json:"user_input"`
	Complete *struct {
		UserLoginID string `json:"user_login_id"`
	} `json:"complete"`
}

// newProvUser registers a Matrix user and logs it in as passport through the provisioning API.
func newProvUser(ctx context.Context, passport string) (*provUser, error) {
	local := strings.NewReplacer("@", "-", ".", "-").Replace(passport)
	reg, err := w.hs.register(ctx, fmt.Sprintf("%s-%d", local, time.Now().UnixNano()), "matrix-"+rcPassword, false)
	if err != nil {
		return nil, err
	}
	cli, err := mautrix.NewClient(w.hs.URL, id.UserID(reg.UserID), reg.AccessToken)
	if err != nil {
		return nil, err
	}
	cli.Client = httpClient
	return provLogin(ctx, cli, passport, rcPassword)
}

// provLogin logs the Matrix user of cli in as passport through the provisioning API.
func provLogin(ctx context.Context, cli *mautrix.Client, passport, password string) (*provUser, error) {
	p := &provUser{cli: cli, passport: passport}
	var step provStep
	if err := p.call(ctx, http.MethodPost, "/v3/login/start/password", struct{}{}, &step); err != nil {
		return nil, fmt.Errorf("starting the login of %s: %w", passport, err)
	}
	if step.Type != "user_input" || step.UserInput == nil {
		return nil, fmt.Errorf("login of %s: first step %+v, want user_input", passport, step)
	}
	input := map[string]string{}
	for _, f := range step.UserInput.Fields {
		switch f.ID {
		case "passport":
			input[f.ID] = passport
		case "password":
			input[f.ID] = password
		default:
			return nil, fmt.Errorf("login of %s: unexpected field %q", passport, f.ID)
		}
	}
	loginID := step.LoginID
	path := fmt.Sprintf("/v3/login/step/%s/%s/user_input", url.PathEscape(loginID), url.PathEscape(step.StepID))
	step = provStep{}
	if err := p.call(ctx, http.MethodPost, path, input, &step); err != nil {
		return nil, fmt.Errorf("login of %s: %w", passport, err)
	}
	if step.Type != "complete" || step.Complete == nil {
		return nil, fmt.Errorf("login of %s: step %+v, want complete", passport, step)
	}
	p.loginID = step.Complete.UserLoginID
	return p, nil
}

// state returns the bridge state of the user's login (GET /v3/whoami).
func (p *provUser) state(ctx context.Context) (status.BridgeStateEvent, error) {
	var who struct {
		Logins []struct {
			ID    string             `json:"id"`
			State status.BridgeState `json:"state"`
		} `json:"logins"`
	}
	if err := p.call(ctx, http.MethodGet, "/v3/whoami", nil, &who); err != nil {
		return "", err
	}
	for _, l := range who.Logins {
		if l.ID == p.loginID {
			return l.State.StateEvent, nil
		}
	}
	return "", fmt.Errorf("%s: login %s not listed by whoami", p.passport, p.loginID)
}

// rcStates returns the passports whose login is not in state want (with what it is in).
func rcStates(users []*provUser, want status.BridgeStateEvent) []string {
	var off []string
	for _, u := range users {
		ctx, cancel := reqCtx()
		st, err := u.state(ctx)
		cancel()
		switch {
		case err != nil:
			off = append(off, fmt.Sprintf("%s: %v", u.passport, err))
		case st != want:
			off = append(off, fmt.Sprintf("%s: %s", u.passport, st))
		}
	}
	return off
}

// parallel runs f for 0…n-1, at most limit at a time, and returns the errors.
func parallel(n, limit int, f func(i int) error) []error {
	errs := make([]error, n)
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	return slices.DeleteFunc(errs, func(err error) bool { return err == nil })
}

// waitFaults long-polls the fault log from since until stop returns true for an event or the
// deadline passes; it returns the events seen and the next cursor.
func waitFaults(t *testing.T, since int, deadline time.Time, stop func(faultEvent) bool) ([]faultEvent, int) {
	t.Helper()
	var all []faultEvent
	for {
		left := time.Until(deadline)
		evs, next, err := w.fake.faults(since, max(left, 0))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, evs...)
		since = next
		if slices.ContainsFunc(evs, stop) || left <= 0 {
			return all, since
		}
	}
}

// TestReconnectManyLogins: 20 logins are connected; the MSN server is away for 90 s (60 s gone,
// 30 s accepting and closing connections); after its return all 20 are connected again within
// 30 s, and their reconnect times are spread.
func TestReconnectManyLogins(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	users := make([]*provUser, rcLogins)
	t0 := time.Now()
	if errs := parallel(rcLogins, 5, func(i int) error {
		u, err := newProvUser(ctx, rcPassport(i))
		users[i] = u
		return err
	}); len(errs) > 0 {
		t.Fatalf("%d of %d logins failed: %v", len(errs), rcLogins, errs)
	}
	t.Cleanup(func() {
		// The logins end with the test: later tests count on a bridge without them.
		parallel(rcLogins, 5, func(i int) error {
			ctx, cancel := reqCtx()
			defer cancel()
			if err := users[i].call(ctx, http.MethodPost, "/v3/logout/all", struct{}{}, nil); err != nil {
				t.Logf("logging out %s: %v", users[i].passport, err)
			}
			return nil
		})
	})
	eventually(t, long, "all logins connected", func() error {
		for _, u := range users {
			if err := w.fake.signedIn(u.passport, true); err != nil {
				return err
			}
		}
		if off := rcStates(users, status.StateConnected); len(off) > 0 {
			return fmt.Errorf("not connected: %v", off)
		}
		return nil
	})
	t.Logf("%d logins connected in %s", rcLogins, time.Since(t0).Round(100*time.Millisecond))

	// The server goes away: its process is gone, connects are refused.
	cursor := w.fake.faultCursor(t)
	downAt := time.Now()
	if err := w.fake.post("/v1/down", map[string]any{"refuse": true}); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", w.fake.NS, 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("a connect to the NS during the outage: %v, want connection refused", err)
	}
	eventually(t, short, "every login seeing the outage", func() error {
		if on := rcStates(users, status.StateTransientDisconnect); len(on) > 0 {
			return fmt.Errorf("not in TRANSIENT_DISCONNECT: %v", on)
		}
		return nil
	})
	// The fault lasts a fixed time: these are the only timer waits of the test.
	<-time.After(time.Until(downAt.Add(rcRefusing)))
	// The process starts again: it listens, but closes every connection until it is ready.
	if err := w.fake.post("/v1/down", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	<-time.After(time.Until(downAt.Add(rcOutage)))
	if err := w.fake.post("/v1/up", map[string]any{}); err != nil {
		t.Fatal(err)
	}

	// The server's own clock says when it came back and when each login was accepted.
	evs, next := waitFaults(t, cursor, time.Now().Add(short), func(e faultEvent) bool { return e.Kind == "server-up" })
	upIdx := slices.IndexFunc(evs, func(e faultEvent) bool { return e.Kind == "server-up" })
	if upIdx < 0 {
		t.Fatal("the fault log has no server-up")
	}
	upAt := evs[upIdx].At
	ours := map[string]bool{}
	for _, u := range users {
		ours[u.passport] = true
	}
	for _, e := range evs[:upIdx] {
		if e.Kind == "ns-login" && ours[e.Passport] {
			t.Errorf("%s logged in during the outage (%s)", e.Passport, e.At.Sub(downAt))
		}
	}
	back := map[string]time.Time{}
	count := map[string]int{}
	note := func(evs []faultEvent) {
		for _, e := range evs {
			if e.Kind != "ns-login" || !ours[e.Passport] {
				continue
			}
			count[e.Passport]++
			if _, ok := back[e.Passport]; !ok {
				back[e.Passport] = e.At
			}
		}
	}
	note(evs[upIdx+1:])
	for len(back) < rcLogins && time.Now().Before(upAt.Add(rcBack)) {
		evs, next = waitFaults(t, next, upAt.Add(rcBack), func(e faultEvent) bool { return e.Kind == "ns-login" })
		note(evs)
	}

	var times []time.Time
	var missing []string
	var report []string
	for _, u := range users {
		at, ok := back[u.passport]
		if !ok || at.Sub(upAt) > rcBack {
			missing = append(missing, u.passport)
			continue
		}
		times = append(times, at)
		report = append(report, fmt.Sprintf("%s +%.1fs", strings.TrimSuffix(u.passport, "@example.com"), at.Sub(upAt).Seconds()))
	}
	sort.Strings(report)
	t.Logf("logins back after the server's return: %s", strings.Join(report, ", "))
	if len(missing) > 0 {
		t.Fatalf("%d of %d logins not back within %s of the server's return: %v; their bridge states: %v",
			len(missing), rcLogins, rcBack, missing, rcStates(users, status.StateConnected))
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	span := times[len(times)-1].Sub(times[0])
	t.Logf("first back +%.1fs, last +%.1fs, span %.1fs", times[0].Sub(upAt).Seconds(), times[len(times)-1].Sub(upAt).Seconds(), span.Seconds())
	if span < rcMinSpan {
		t.Errorf("the %d logins came back within %s of each other, want a spread of at least %s (lockstep)", rcLogins, span, rcMinSpan)
	}
	for i, at := range times {
		n := 0
		for _, other := range times[i:] {
			if other.Sub(at) < time.Second {
				n++
			}
		}
		if n > rcPerSecond {
			t.Errorf("%d logins came back within one second from +%.1fs, want at most %d", n, at.Sub(upAt).Seconds(), rcPerSecond)
			break
		}
	}

	// Connected for good: signed in on the server, CONNECTED in the bridge, one login each.
	lastBack := times[len(times)-1]
	eventually(t, time.Until(lastBack.Add(5*time.Second)), "every login signed in and CONNECTED", func() error {
		for _, u := range users {
			if err := w.fake.signedIn(u.passport, true); err != nil {
				return err
			}
		}
		if off := rcStates(users, status.StateConnected); len(off) > 0 {
			return fmt.Errorf("not connected: %v", off)
		}
		return nil
	})
	evs, _ = waitFaults(t, next, time.Now(), func(faultEvent) bool { return false })
	note(evs)
	for p, n := range count {
		if n > 1 {
			t.Errorf("%s logged in %d times after the server's return: its session did not hold", p, n)
		}
	}
}
