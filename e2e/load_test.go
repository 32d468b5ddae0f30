//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/msnbridge/msnbridge/e2e/yamledit"
	msnmsg "github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/msn/sb"
)

// Issue 9, point 4, through the bridge: bridge RSS per login, bridge CPU per bridged message, and
// the delivery latency MSN→Matrix and Matrix→MSN against the two direct hops measured in the
// same run. It is a measurement, not a test: it runs only with MSNBRIDGE_LOAD=1 (`make
// bench-bridge`) and fails only when something is not delivered at all.
//
// Environment (all optional but MSNBRIDGE_LOAD):
//
//	MSNBRIDGE_LOAD=1            run it
//	MSNBRIDGE_LOAD_LOGINS       bridged logins (default 20)
//	MSNBRIDGE_LOAD_CONTACTS     online scripted contacts of each login (default 5)
//	MSNBRIDGE_LOAD_MESSAGES     latency samples per path (default 200)
//	MSNBRIDGE_LOAD_BURST        messages per direction in the throughput phase (default 200)
//	MSNBRIDGE_LOAD_GAP_MS       pause after each latency sample (default 100), so that the
//	                            tail of one path's work (the homeserver pushing the event to
//	                            the appservice, the bridge storing it) does not fall into the
//	                            next path's sample
//	MSNBRIDGE_LOAD_LOG_LEVEL    the bridge's logging.min_level for the run (default: the
//	                            harness's, debug)
//	MSNBRIDGE_LOAD_RECEIPTS=1   keep matrix.delivery_receipts on as the harness has it for
//	                            TestMedia (one more homeserver request per Matrix→MSN
//	                            message); off by default, as in the shipped config
//	MSNBRIDGE_LOAD_SQLITE_PARAMS  appended to the bridge's SQLite database.uri for the run
//	                            (e.g. "&_stmt_cache_size=64")
//	MSNBRIDGE_LOAD_JSON         write the result as JSON to this file too
//	MSNBRIDGE_LOAD_CPUPROFILE   write a CPU profile of the bridge over the message phases to
//	                            this file (provisioning.debug_endpoints on for the run)
const loadEnv = "MSNBRIDGE_LOAD"

// loadOptions are the sizes of the load run.
type loadOptions struct {
	logins, contacts, messages, burst int
	logLevel, jsonPath                string
	receipts                          bool
	gap                               time.Duration
	cpuProfile, sqliteParams          string
}

// loadOpts reads the options; ok is false unless the measurement is asked for.
func loadOpts() (o loadOptions, ok bool) {
	if os.Getenv(loadEnv) == "" {
		return o, false
	}
	num := func(name string, def, lo, hi int) int {
		v, err := strconv.Atoi(os.Getenv(name))
		if err != nil {
			return def
		}
		return min(max(v, lo), hi)
	}
	return loadOptions{
		logins:       num("MSNBRIDGE_LOAD_LOGINS", 20, 1, 500),
		contacts:     num("MSNBRIDGE_LOAD_CONTACTS", 5, 1, 50),
		messages:     num("MSNBRIDGE_LOAD_MESSAGES", 200, 10, 10000),
		burst:        num("MSNBRIDGE_LOAD_BURST", 200, 0, 20000),
		logLevel:     os.Getenv("MSNBRIDGE_LOAD_LOG_LEVEL"),
		jsonPath:     os.Getenv("MSNBRIDGE_LOAD_JSON"),
		receipts:     os.Getenv("MSNBRIDGE_LOAD_RECEIPTS") == "1",
		gap:          time.Duration(num("MSNBRIDGE_LOAD_GAP_MS", 100, 0, 5000)) * time.Millisecond,
		cpuProfile:   os.Getenv("MSNBRIDGE_LOAD_CPUPROFILE"),
		sqliteParams: os.Getenv("MSNBRIDGE_LOAD_SQLITE_PARAMS"),
	}, true
}

const loadPassword = "Load-e2e-secret!pw"

func loadUser(i int) string    { return fmt.Sprintf("ld%03d@load.test", i) }
func loadContact(i int) string { return fmt.Sprintf("lc%02d@load.test", i) }

// loadDirect is the MSN account this process signs in with for the direct MSN hop.
const loadDirect = "ldirect@load.test"

// loadAccounts are the load run's MSN accounts: the bridged logins, their scripted contacts
// (each a contact of every login and of loadDirect) and loadDirect. None without MSNBRIDGE_LOAD.
func loadAccounts() []account {
	o, ok := loadOpts()
	if !ok {
		return nil
	}
	var users, contacts []string
	for i := range o.logins {
		users = append(users, loadUser(i))
	}
	for i := range o.contacts {
		contacts = append(contacts, loadContact(i))
	}
	var out []account
	for i, u := range users {
		out = append(out, account{Passport: u, Password: loadPassword, Name: fmt.Sprintf("Load %d", i), Contacts: contacts})
	}
	for i, c := range contacts {
		out = append(out, account{Passport: c, Password: "lc-pw", Name: fmt.Sprintf("Contact %d", i), Status: "NLN",
			Scripted: true, Contacts: append(slices.Clone(users), loadDirect)})
	}
	return append(out, account{Passport: loadDirect, Password: loadPassword, Name: "Direct", Contacts: []string{loadContact(0)}})
}

// procStat reads a process's CPU time (user + system) and resident set size from /proc.
func procStat(pid int) (cpu time.Duration, rss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// Fields after the command name (which may hold spaces) start at field 3 (state).
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 22 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	pages, err3 := strconv.ParseInt(f[21], 10, 64) // field 24, rss in pages
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: bad numbers", pid)
	}
	// USER_HZ is 100 on Linux whatever the kernel's HZ.
	return time.Duration(utime+stime) * 10 * time.Millisecond, pages * int64(os.Getpagesize()), nil
}

// latencies are the samples of one path.
type latencies []time.Duration

func (l latencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// loadPath is one measured path in the result.
type loadPath struct {
	Name    string  `json:"name"`
	Samples int     `json:"samples"`
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
}

// loadResult is what the run reports (and writes as JSON).
type loadResult struct {
	Date             string     `json:"date"`
	LoadAvg          string     `json:"loadavg"`
	LogLevel         string     `json:"bridge_log_level"`
	GapMs            int64      `json:"gap_ms"`
	SQLiteParams     string     `json:"sqlite_params,omitempty"`
	DeliveryReceipts bool       `json:"delivery_receipts"`
	Logins           int        `json:"logins"`
	Contacts         int        `json:"contacts_per_login"`
	LoginSeconds     float64    `json:"login_seconds"`
	RSSBeforeMiB     float64    `json:"bridge_rss_before_mib"`
	RSSAfterMiB      float64    `json:"bridge_rss_after_mib"`
	RSSPerLoginKiB   float64    `json:"bridge_rss_per_login_kib"`
	CPUPerLoginMs    float64    `json:"bridge_cpu_per_login_ms"`
	Paths            []loadPath `json:"paths"`
	RatioMSNToMatrix float64    `json:"ratio_msn_to_matrix"`
	RatioMatrixToMSN float64    `json:"ratio_matrix_to_msn"`
	// MSN→Matrix breakdown, from the bridge's debug log: from the switchboard message to the
	// start of the bridge's PUT /send, and that PUT's duration; the direct Matrix hop's PUT.
	BridgeBeforePUTP50Ms float64 `json:"bridge_before_put_p50_ms,omitempty"`
	BridgePUTP50Ms       float64 `json:"bridge_put_p50_ms,omitempty"`
	DirectPUTP50Ms       float64 `json:"direct_put_p50_ms"`
	LatencyCPUUsM2X      float64 `json:"bridge_cpu_per_message_latency_phase_us_msn_to_matrix"`
	LatencyCPUUsX2M      float64 `json:"bridge_cpu_per_message_latency_phase_us_matrix_to_msn"`
	IdleCPUPerSecMs      float64 `json:"bridge_idle_cpu_ms_per_s"`
	Burst                int     `json:"burst_messages"`
	BurstCPUUsM2X        float64 `json:"bridge_cpu_per_message_burst_us_msn_to_matrix"`
	BurstCPUUsX2M        float64 `json:"bridge_cpu_per_message_burst_us_matrix_to_msn"`
	BurstRateM2X         float64 `json:"burst_messages_per_s_msn_to_matrix"`
	BurstRateX2M         float64 `json:"burst_messages_per_s_matrix_to_msn"`
}

// directMSN is an MSN client in this process (the direct MSN hop's other end).
type directMSN struct {
	s   *ns.Session
	m   atomic.Pointer[sb.Manager]
	got chan stamped
}

// stamped is a received text with the time it arrived.
type stamped struct {
	text string
	at   time.Time
}

type directNS struct{ s *ns.Session }

func (a directNS) Passport() string { return a.s.Passport() }
func (a directNS) Version() int     { return a.s.Version() }
func (a directNS) RequestSwitchboard(ctx context.Context) (sb.Ticket, error) {
	t, err := a.s.RequestSwitchboard(ctx)
	return sb.Ticket(t), err
}

func loginDirectMSN(ctx context.Context, passport string) (*directMSN, error) {
	d := &directMSN{got: make(chan stamped, 64)}
	base := w.fake.HTTP
	cfg := ns.Config{
		Server:   w.fake.NS,
		Versions: []int{18},
		Endpoints: ns.Endpoints{
			Login: base + "/login", RST: base + "/RST.srf",
			Sharing: base + "/abservice/SharingService.asmx", AddressBook: base + "/abservice/abservice.asmx",
			RSI: base + "/rsi/rsi.asmx", OIM: base + "/OimWS/oim.asmx",
		},
		MachineGUID:        "{0B6C8E04-7A1F-4D9B-9E51-2D6A3C1F7E20}",
		InsecureSkipVerify: true,
		Logger:             zerolog.Nop(),
		OnEvent: func(ev ns.Event) {
			if inv, ok := ev.(*ns.SwitchboardInviteEvent); ok {
				if m := d.m.Load(); m != nil {
					m.HandleInvite(sb.Invitation(*inv))
				}
			}
		},
	}
	s, err := ns.Login(ctx, cfg, passport, loadPassword)
	if err != nil {
		return nil, fmt.Errorf("direct MSN login: %w", err)
	}
	d.s = s
	d.m.Store(sb.NewManager(directNS{s}, sb.Config{
		MachineGUID: cfg.MachineGUID,
		OnEvent: func(ev sb.Event) {
			if m, ok := ev.(*sb.MessageEvent); ok {
				select {
				case d.got <- stamped{m.Text, time.Now()}:
				default:
				}
			}
		},
	}))
	return d, nil
}

func (d *directMSN) close() {
	if m := d.m.Load(); m != nil {
		m.Close()
	}
	_ = d.s.Close()
}

// await returns when text arrived at the direct client.
func (d *directMSN) await(text string, timeout time.Duration) (time.Time, error) {
	deadline := time.After(timeout)
	for {
		select {
		case s := <-d.got:
			if s.text == text {
				return s.at, nil
			}
		case <-deadline:
			return time.Time{}, fmt.Errorf("the direct MSN client did not receive %q within %s", text, timeout)
		}
	}
}

// pollReceived starts waiting (before the send) for contact to receive text and returns when
// the fake server's control API answered that it did.
func pollReceived(contact, text string, timeout time.Duration) (func() (time.Time, error), error) {
	since, err := w.fake.receivedCount(contact)
	if err != nil {
		return nil, err
	}
	type res struct {
		at  time.Time
		err error
	}
	ch := make(chan res, 1)
	go func() {
		_, err := w.fake.expectReceived(contact, since, timeout, fmt.Sprintf("%q", text), func(it receivedItem) bool {
			return it.Kind == "text" && it.Text == text
		})
		ch <- res{time.Now(), err}
	}()
	return func() (time.Time, error) { r := <-ch; return r.at, r.err }, nil
}

// matrixReceipt waits until u's /sync carried a message with body text in room (any if empty)
// and returns when that /sync answer arrived.
func matrixReceipt(u *matrixUser, cursor int, room id.RoomID, sender id.UserID, text string) (seen, error) {
	return u.waitFor(cursor, short, fmt.Sprintf("message %q", text), message(room, sender, equals(text)))
}

// waitCount waits until n events recorded by u at or after cursor match.
func waitCount(u *matrixUser, cursor, n int, timeout time.Duration, match func(seen) bool) error {
	deadline := time.After(timeout)
	for {
		u.mu.Lock()
		ch := u.changed
		u.mu.Unlock()
		got := len(u.all(cursor, match))
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-deadline:
			return fmt.Errorf("%d of %d messages within %s", got, n, timeout)
		}
	}
}

// setBridgeForLoad restarts the bridge talking to the homeserver directly (not through the
// test's proxy, which would add a hop to the bridged path only), with the options' log level,
// delivery receipts, debug endpoints and SQLite parameters; the returned function restores the
// harness's settings.
func setBridgeForLoad(t *testing.T, o loadOptions) func() {
	t.Helper()
	doc, err := yamledit.Read(w.bridge.config)
	if err != nil {
		t.Fatal(err)
	}
	oldLevel, _ := doc.Get("logging.min_level")
	oldURI, _ := doc.Get("database.uri")
	apply := func(addr, level, uri string, receipts, debug bool) {
		settings := map[string]any{
			"database.uri":                 uri,
			"provisioning.debug_endpoints": debug,
			"homeserver.address":           addr,
			"matrix.delivery_receipts":     receipts,
		}
		if level != "" {
			settings["logging.min_level"] = level
		}
		restartBridgeWith(t, settings)
	}
	uri := oldURI
	if typ, _ := doc.Get("database.type"); typ == "sqlite3-fk-wal" {
		uri += o.sqliteParams
	}
	apply(w.hs.URL, o.logLevel, uri, o.receipts, o.cpuProfile != "")
	return func() { apply(w.hsProxy.URL, oldLevel, oldURI, true, false) }
}

// profileBridge fetches a CPU profile of the bridge over the next seconds (pprof through its
// debug endpoints) into path; the returned function waits for it.
func profileBridge(t *testing.T, path string, seconds int) func() {
	doc, err := yamledit.Read(w.bridge.config)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := doc.Get("provisioning.shared_secret")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+60)*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", w.bridge.asURL, seconds), nil)
		if err != nil {
			done <- err
			return
		}
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := httpClientNoTimeout.Do(req)
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			done <- fmt.Errorf("profile: HTTP %d", resp.StatusCode)
			return
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err == nil {
			err = os.WriteFile(path, b, 0o644)
		}
		done <- err
	}()
	return func() {
		if err := <-done; err != nil {
			t.Errorf("bridge CPU profile: %v", err)
		}
	}
}

// TestBridgeLoad measures the bridge with N logins against the two direct hops (see loadEnv).
func TestBridgeLoad(t *testing.T) {
	o, ok := loadOpts()
	if !ok {
		t.Skipf("a measurement: run with %s=1 (make bench-bridge)", loadEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	restore := setBridgeForLoad(t, o)
	defer restore()
	pid := w.bridge.proc.cmd.Process.Pid
	stat := func() (time.Duration, int64) {
		cpu, rss, err := procStat(pid)
		if err != nil {
			t.Fatalf("bridge process: %v", err)
		}
		return cpu, rss
	}
	res := loadResult{Date: time.Now().UTC().Format(time.RFC3339), Logins: o.logins, Contacts: o.contacts, Burst: o.burst,
		LogLevel: o.logLevel, DeliveryReceipts: o.receipts, GapMs: o.gap.Milliseconds(),
		SQLiteParams: o.sqliteParams}
	if res.LogLevel == "" {
		res.LogLevel = "debug (harness)"
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		res.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}

	// The Matrix users: one per login (the first with a /sync loop, it is measured), and two
	// that talk to each other directly.
	regs := make([]*registeredUser, o.logins+2)
	stamp := time.Now().UnixNano()
	if errs := parallel(len(regs), 4, func(i int) error {
		var err error
		regs[i], err = w.hs.register(ctx, fmt.Sprintf("load-%d-%d", i, stamp), "matrix-"+loadPassword, false)
		return err
	}); len(errs) > 0 {
		t.Fatalf("registering Matrix users: %v", errs)
	}
	mx := make([]*matrixUser, 3) // mx[0]: login 0's user; mx[1], mx[2]: the direct pair
	for i, r := range []*registeredUser{regs[0], regs[o.logins], regs[o.logins+1]} {
		u, err := newMatrixUser(w.hs.URL, r)
		if err != nil {
			t.Fatal(err)
		}
		u.start()
		defer u.stop()
		mx[i] = u
	}

	// Logins: the bridge's RSS and CPU before and after, once it settled.
	settle := func() { <-time.After(5 * time.Second) } // a measurement's settling time, not a wait for an event
	settle()
	cpu0, rss0 := stat()
	users := make([]*provUser, o.logins)
	t0 := time.Now()
	if errs := parallel(o.logins, 5, func(i int) error {
		var cli *mautrix.Client
		if i == 0 {
			cli = mx[0].cli
		} else {
			var err error
			if cli, err = mautrix.NewClient(w.hs.URL, id.UserID(regs[i].UserID), regs[i].AccessToken); err != nil {
				return err
			}
			cli.Client = httpClient
		}
		u, err := provLogin(ctx, cli, loadUser(i), loadPassword)
		users[i] = u
		return err
	}); len(errs) > 0 {
		t.Fatalf("%d of %d logins failed: %v", len(errs), o.logins, errs)
	}
	defer parallel(o.logins, 5, func(i int) error {
		ctx, cancel := reqCtx()
		defer cancel()
		return users[i].call(ctx, http.MethodPost, "/v3/logout/all", struct{}{}, nil)
	})
	eventually(t, 5*time.Minute, "all logins connected", func() error {
		if off := rcStates(users, status.StateConnected); len(off) > 0 {
			return fmt.Errorf("not connected: %v", off)
		}
		return nil
	})
	res.LoginSeconds = time.Since(t0).Seconds()
	settle()
	cpu1, rss1 := stat()
	res.RSSBeforeMiB = float64(rss0) / (1 << 20)
	res.RSSAfterMiB = float64(rss1) / (1 << 20)
	res.RSSPerLoginKiB = float64(rss1-rss0) / 1024 / float64(o.logins)
	res.CPUPerLoginMs = float64(cpu1-cpu0) / 1e6 / float64(o.logins)
	t.Logf("%d logins connected in %.1fs; bridge RSS %.1f → %.1f MiB", o.logins, res.LoginSeconds, res.RSSBeforeMiB, res.RSSAfterMiB)

	// The direct pair's room.
	room, err := mx[1].cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{mx[2].ID}})
	if err != nil {
		t.Fatal(err)
	}
	mx[1].expect(t, 0, short, "the direct peer's join", func(s seen) bool {
		return s.Room == room.RoomID && s.Event.Type == event.StateMember && s.Event.GetStateKey() == mx[2].ID.String() && s.str("membership") == "join"
	})
	// A room of the direct sender with the bridged user: the same Matrix hop, received by the
	// bridged user's /sync (many rooms, online ghosts), tells the receiver's share apart.
	room0, err := mx[1].cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{mx[0].ID}})
	if err != nil {
		t.Fatal(err)
	}
	mx[1].expect(t, 0, short, "the bridged user's join", func(s seen) bool {
		return s.Room == room0.RoomID && s.Event.Type == event.StateMember && s.Event.GetStateKey() == mx[0].ID.String() && s.str("membership") == "join"
	})
	direct, err := loginDirectMSN(ctx, loadDirect)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.close()

	// Portals of login 0 with each contact: the first message creates the room.
	user0 := loadUser(0)
	rooms := make([]id.RoomID, o.contacts)
	for i := range o.contacts {
		text := fmt.Sprintf("hello from %d", i)
		cur := mx[0].mark()
		if err := w.fake.say(loadContact(i), user0, text, nil); err != nil {
			t.Fatal(err)
		}
		s, err := mx[0].waitFor(cur, long, "the first message", message("", w.bridge.ghost(loadContact(i), w.hs.ServerName), equals(text)))
		if err != nil {
			t.Fatal(err)
		}
		rooms[i] = s.Room
	}
	c0, ghost0 := loadContact(0), w.bridge.ghost(loadContact(0), w.hs.ServerName)

	// The paths, one message in flight, interleaved so that the machine's load varies
	// alike for all.
	type path struct {
		name string
		lat  latencies
		cpu  time.Duration // the bridge's CPU during the path's messages (bridged paths)
		run  func(k int) (time.Duration, error)
	}
	m2x := &path{name: "MSN → Matrix through the bridge", run: func(k int) (time.Duration, error) {
		text := fmt.Sprintf("m2x %d", k)
		cur := mx[0].mark()
		t0 := time.Now()
		if err := w.fake.say(c0, user0, text, nil); err != nil {
			return 0, err
		}
		s, err := matrixReceipt(mx[0], cur, rooms[0], ghost0, text)
		return s.At.Sub(t0), err
	}}
	x2m := &path{name: "Matrix → MSN through the bridge", run: func(k int) (time.Duration, error) {
		text := fmt.Sprintf("x2m %d", k)
		wait, err := pollReceived(c0, text, short)
		if err != nil {
			return 0, err
		}
		t0 := time.Now()
		if _, err := mx[0].cli.SendText(ctx, rooms[0], text); err != nil {
			return 0, err
		}
		at, err := wait()
		return at.Sub(t0), err
	}}
	msnIn := &path{name: "MSN direct: contact → MSN client", run: func(k int) (time.Duration, error) {
		text := fmt.Sprintf("msn-in %d", k)
		t0 := time.Now()
		if err := w.fake.say(c0, loadDirect, text, nil); err != nil {
			return 0, err
		}
		at, err := direct.await(text, short)
		return at.Sub(t0), err
	}}
	conv := direct.m.Load().Conversation(c0)
	msnOut := &path{name: "MSN direct: MSN client → contact", run: func(k int) (time.Duration, error) {
		text := fmt.Sprintf("msn-out %d", k)
		wait, err := pollReceived(c0, text, short)
		if err != nil {
			return 0, err
		}
		t0 := time.Now()
		conv.SendText(ctx, text, msnmsg.Format{})
		at, err := wait()
		return at.Sub(t0), err
	}}
	var directPUT latencies
	mxDirect := &path{name: "Matrix direct: user → user", run: func(k int) (time.Duration, error) {
		text := fmt.Sprintf("mx %d", k)
		cur := mx[2].mark()
		t0 := time.Now()
		if _, err := mx[1].cli.SendText(ctx, room.RoomID, text); err != nil {
			return 0, err
		}
		if k >= 0 {
			directPUT = append(directPUT, time.Since(t0))
		}
		s, err := matrixReceipt(mx[2], cur, room.RoomID, mx[1].ID, text)
		return s.At.Sub(t0), err
	}}
	mxToBridged := &path{name: "Matrix direct: user → bridged user", run: func(k int) (time.Duration, error) {
		text := fmt.Sprintf("mx0 %d", k)
		cur := mx[0].mark()
		t0 := time.Now()
		if _, err := mx[1].cli.SendText(ctx, room0.RoomID, text); err != nil {
			return 0, err
		}
		s, err := matrixReceipt(mx[0], cur, room0.RoomID, mx[1].ID, text)
		return s.At.Sub(t0), err
	}}
	paths := []*path{m2x, msnIn, mxDirect, x2m, msnOut, mxToBridged}
	bridged := map[*path]bool{m2x: true, x2m: true}
	const warmup = 5
	if o.cpuProfile != "" {
		defer profileBridge(t, o.cpuProfile, 60)()
	}
	for k := -warmup; k < o.messages; k++ {
		for _, p := range paths {
			c0, _ := stat()
			d, err := p.run(k)
			if err != nil {
				t.Fatalf("%s, message %d: %v", p.name, k, err)
			}
			if k < 0 {
				continue
			}
			p.lat = append(p.lat, d)
			if bridged[p] {
				c1, _ := stat()
				p.cpu += c1 - c0
			}
			<-time.After(o.gap) // spacing between samples, not a wait for an event
		}
	}
	for _, p := range paths {
		res.Paths = append(res.Paths, loadPath{Name: p.name, Samples: len(p.lat), P50Ms: ms(p.lat.pct(0.5)), P99Ms: ms(p.lat.pct(0.99))})
	}
	res.RatioMSNToMatrix = float64(m2x.lat.pct(0.5)) / float64(msnIn.lat.pct(0.5)+mxDirect.lat.pct(0.5))
	res.RatioMatrixToMSN = float64(x2m.lat.pct(0.5)) / float64(mxDirect.lat.pct(0.5)+msnOut.lat.pct(0.5))
	res.DirectPUTP50Ms = ms(directPUT.pct(0.5))
	if before, put := bridgePUTs(w.bridge.log(), "m2x "); len(put) > 0 {
		res.BridgeBeforePUTP50Ms, res.BridgePUTP50Ms = ms(before.pct(0.5)), ms(put.pct(0.5))
	}
	res.LatencyCPUUsM2X = float64(m2x.cpu) / 1e3 / float64(len(m2x.lat))
	res.LatencyCPUUsX2M = float64(x2m.cpu) / 1e3 / float64(len(x2m.lat))

	// Throughput: the bridge's CPU per message with every contact's conversation busy at once,
	// against its idle CPU over the same time.
	if o.burst > 0 {
		idle0, _ := stat()
		settle()
		idle1, _ := stat()
		res.IdleCPUPerSecMs = float64(idle1-idle0) / 1e6 / 5
		burst := func(send func(i, k int) error, wait func() error) (time.Duration, time.Duration) {
			cpu0, _ := stat()
			t0 := time.Now()
			errs := parallel(o.contacts, o.contacts, func(i int) error {
				for k := i; k < o.burst; k += o.contacts {
					if err := send(i, k); err != nil {
						return err
					}
				}
				return nil
			})
			if len(errs) > 0 {
				t.Fatalf("burst: %v", errs)
			}
			if err := wait(); err != nil {
				t.Fatal(err)
			}
			el := time.Since(t0)
			cpu1, _ := stat()
			return cpu1 - cpu0, el
		}
		cur := mx[0].mark()
		cpu, el := burst(func(i, k int) error {
			return w.fake.say(loadContact(i), user0, fmt.Sprintf("burst-in %d", k), nil)
		}, func() error {
			return waitCount(mx[0], cur, o.burst, 5*time.Minute, message("", "", contains("burst-in ")))
		})
		res.BurstCPUUsM2X = float64(cpu) / 1e3 / float64(o.burst)
		res.BurstRateM2X = float64(o.burst) / el.Seconds()
		since := make([]int, o.contacts)
		for i := range since {
			if since[i], err = w.fake.receivedCount(loadContact(i)); err != nil {
				t.Fatal(err)
			}
		}
		cpu, el = burst(func(i, k int) error {
			_, err := mx[0].cli.SendText(ctx, rooms[i], fmt.Sprintf("burst-out %d", k))
			return err
		}, func() error {
			errs := parallel(o.contacts, o.contacts, func(i int) error {
				last := i + ((o.burst-1-i)/o.contacts)*o.contacts
				if last >= o.burst || last < 0 {
					return nil
				}
				want := fmt.Sprintf("burst-out %d", last)
				_, err := w.fake.expectReceived(loadContact(i), since[i], 110*time.Second, want, func(it receivedItem) bool { return it.Text == want })
				return err
			})
			if len(errs) > 0 {
				return fmt.Errorf("%v", errs)
			}
			return nil
		})
		res.BurstCPUUsX2M = float64(cpu) / 1e3 / float64(o.burst)
		res.BurstRateX2M = float64(o.burst) / el.Seconds()
	}
	report := loadReport(res)
	fmt.Print(report)
	t.Log("\n" + report)
	if o.jsonPath != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(o.jsonPath, append(b, '\n'), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// bridgePUTs reads, from the bridge's JSON debug log, the PUT /send requests of messages whose
// body starts with prefix: the time from the switchboard message (the event's remote timestamp,
// taken when the bridge read it) to the request's start (its transaction ID holds the start in
// Unix nanoseconds), and the request's duration. Nothing at a log level above debug.
func bridgePUTs(log, prefix string) (before, put latencies) {
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `"method":"PUT"`) || !strings.Contains(line, `"body":"`+prefix) {
			continue
		}
		var e struct {
			URL      string    `json:"url"`
			Remote   time.Time `json:"remote_timestamp"`
			Duration float64   `json:"duration"` // milliseconds
		}
		if json.Unmarshal([]byte(line), &e) != nil || e.Remote.IsZero() {
			continue
		}
		_, txn, ok := strings.Cut(e.URL, "/mautrix-go_")
		if !ok {
			continue
		}
		ns, err := strconv.ParseInt(strings.SplitN(txn, "_", 2)[0], 10, 64)
		if err != nil {
			continue
		}
		before = append(before, time.Unix(0, ns).Sub(e.Remote))
		put = append(put, time.Duration(e.Duration*float64(time.Millisecond)))
	}
	return before, put
}

// loadReport renders the result as a table.
func loadReport(r loadResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "bridge load, %s, load average %s; bridge log level %s, delivery receipts %v", r.Date, r.LoadAvg, r.LogLevel, r.DeliveryReceipts)
	if r.SQLiteParams != "" {
		fmt.Fprintf(&b, ", SQLite URI + %q", r.SQLiteParams)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "logins: %d (%d online contacts each) in %.1f s; bridge RSS %.1f → %.1f MiB: %.0f KiB per login; %.1f ms bridge CPU per login\n",
		r.Logins, r.Contacts, r.LoginSeconds, r.RSSBeforeMiB, r.RSSAfterMiB, r.RSSPerLoginKiB, r.CPUPerLoginMs)
	fmt.Fprintf(&b, "%-36s %8s %9s %9s\n", fmt.Sprintf("path (one in flight, %d ms apart)", r.GapMs), "samples", "p50 ms", "p99 ms")
	for _, p := range r.Paths {
		fmt.Fprintf(&b, "%-36s %8d %9.2f %9.2f\n", p.Name, p.Samples, p.P50Ms, p.P99Ms)
	}
	fmt.Fprintf(&b, "p50 through the bridge / (p50 MSN direct + p50 Matrix direct): MSN→Matrix %.2f, Matrix→MSN %.2f (bar: ≤ 1.10)\n",
		r.RatioMSNToMatrix, r.RatioMatrixToMSN)
	if r.BridgePUTP50Ms > 0 {
		fmt.Fprintf(&b, "MSN→Matrix p50 breakdown: switchboard message → bridge's PUT /send %.2f ms, the bridge's PUT %.2f ms; the direct Matrix hop's PUT %.2f ms\n",
			r.BridgeBeforePUTP50Ms, r.BridgePUTP50Ms, r.DirectPUTP50Ms)
	}
	fmt.Fprintf(&b, "bridge CPU per message, one in flight: MSN→Matrix %.0f µs, Matrix→MSN %.0f µs\n", r.LatencyCPUUsM2X, r.LatencyCPUUsX2M)
	if r.Burst > 0 {
		fmt.Fprintf(&b, "burst of %d per direction, %d conversations at once (bridge idle: %.1f ms CPU/s): MSN→Matrix %.0f µs CPU per message, %.0f msg/s; Matrix→MSN %.0f µs, %.0f msg/s\n",
			r.Burst, r.Contacts, r.IdleCPUPerSecMs, r.BurstCPUUsM2X, r.BurstRateM2X, r.BurstCPUUsX2M, r.BurstRateX2M)
	}
	return b.String()
}
