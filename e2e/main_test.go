//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// The MSN accounts of the journey. Alice is the bridge user; the others are scripted contacts.
const (
	alice         = "alice@example.com"
	alicePassword = "Al1ce-e2e-secret!pw"
	wrongPassword = "Wr0ng-e2e-guess!pw"
	bob           = "bob@example.com"
	carol         = "carol@example.com"
	dave          = "dave@example.com"
	echoContact   = "echo@example.com"
)

func journeyAccounts() []account {
	return []account{
		{Passport: alice, Password: alicePassword, Name: "Alice", Contacts: []string{bob, carol, dave, echoContact, erin, frank, gina}},
		{Passport: bob, Password: "bob-pw", Name: "Bob Builder", PSM: "Can we fix it?", Status: "NLN", Scripted: true, Contacts: []string{alice}},
		{Passport: carol, Password: "carol-pw", Name: "Carol", PSM: "Out and about", Status: "NLN", Scripted: true, Contacts: []string{alice}},
		{Passport: dave, Password: "dave-pw", Name: "Dave", Status: "FLN", Scripted: true, Contacts: []string{alice}},
		{Passport: echoContact, Password: "echo-pw", Name: "Echo", PSM: "I repeat everything", Status: "NLN", Scripted: true, Echo: true, Contacts: []string{alice}},
		// The encrypted journey's contacts (encrypted_test.go).
		{Passport: erin, Password: "erin-pw", Name: "Erin", Status: "NLN", Scripted: true, Contacts: []string{alice}},
		{Passport: frank, Password: "frank-pw", Name: "Frank", Status: "NLN", Scripted: true, Contacts: []string{alice}},
		{Passport: gina, Password: "gina-pw", Name: "Gina", Status: "FLN", Scripted: true, Contacts: []string{alice}},
	}
}

// allAccounts are the journey's accounts, the fault matrix's, the reconnect test's and the
// media test's, and the load measurement's when it is asked for (load_test.go).
func allAccounts() []account {
	return slices.Concat(journeyAccounts(), faultAccounts(), reconnectAccounts(), mediaAccounts(), loadAccounts())
}

// world is the running environment shared by the journey's steps.
type world struct {
	work           string
	hs             *homeserver
	hsProxy        *hsProxy // the bridge reaches the homeserver through it
	fake           *fakeServer
	bridge         *bridge
	user           *matrixUser
	matrixPassword string
}

var w *world

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	var err error
	var cleanup func(keep bool)
	code := 1
	w, cleanup, err = setup(context.Background())
	if cleanup != nil {
		defer func() {
			keep := code != 0 || os.Getenv("MSNBRIDGE_E2E_KEEP") != ""
			cleanup(keep)
			if keep {
				fmt.Fprintf(os.Stderr, "--- logs kept in %s\n", w.work)
			}
		}()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e setup failed: %v\n", err)
		return code
	}
	code = m.Run()
	return code
}

// setup builds the binaries and starts Synapse, the fake server and the bridge. It prints how
// long each part took.
func setup(ctx context.Context) (*world, func(keep bool), error) {
	root, err := repoRoot()
	if err != nil {
		return nil, nil, err
	}
	work, err := os.MkdirTemp("", "msnbridge-e2e-")
	if err != nil {
		return nil, nil, err
	}
	w := &world{work: work}
	var stops []func()
	cleanup := func(keep bool) {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
		if !keep {
			_ = os.RemoveAll(work)
		}
	}
	timed := func(what string, f func() error) error {
		t0 := time.Now()
		err := f()
		fmt.Fprintf(os.Stderr, "e2e: %-28s %6.1fs\n", what, time.Since(t0).Seconds())
		return err
	}
	bin := filepath.Join(work, "bin")
	if err := timed("build bridge", func() error { return goBuild(ctx, root, ".", filepath.Join(bin, "msnbridge")) }); err != nil {
		return w, cleanup, err
	}
	if err := timed("build fake server", func() error {
		return goBuild(ctx, root, "./cmd/msn-fakeserver", filepath.Join(bin, "msn-fakeserver"))
	}); err != nil {
		return w, cleanup, err
	}
	if err := timed("homeserver install check", func() error {
		w.hs, err = newHomeserver(ctx, root, filepath.Join(work, "synapse"))
		return err
	}); err != nil {
		return w, cleanup, err
	}
	stops = append(stops, w.hs.stop)
	if err := timed("fake MSN server start", func() error {
		w.fake, err = startFakeServer(ctx, filepath.Join(bin, "msn-fakeserver"), filepath.Join(work, "fake"), allAccounts())
		return err
	}); err != nil {
		return w, cleanup, err
	}
	stops = append(stops, w.fake.stop)
	if w.hsProxy, err = startHSProxy(w.hs.URL); err != nil {
		return w, cleanup, err
	}
	stops = append(stops, w.hsProxy.stop)
	if err := timed("bridge config+registration", func() error {
		w.bridge, err = prepareBridge(ctx, filepath.Join(bin, "msnbridge"), filepath.Join(work, "bridge"), w.hs, w.hsProxy.URL, w.fake)
		return err
	}); err != nil {
		return w, cleanup, err
	}
	if typ, _ := bridgeDatabase(w.bridge.dir); typ != "sqlite3-fk-wal" {
		fmt.Fprintf(os.Stderr, "e2e: bridge database: %s (from %s)\n", typ, postgresEnv)
	}
	if err := timed("homeserver start", func() error { return w.hs.install(ctx, w.bridge.reg) }); err != nil {
		return w, cleanup, err
	}
	if err := timed("bridge start", func() error { return w.bridge.start(ctx) }); err != nil {
		return w, cleanup, err
	}
	stops = append(stops, func() {
		if w.bridge.proc != nil {
			w.bridge.stop()
		}
	})
	w.matrixPassword = "matrix-e2e-" + fmt.Sprint(time.Now().UnixNano())
	var reg *registeredUser
	if err := timed("register matrix user", func() error {
		reg, err = w.hs.register(ctx, "e2e-user-"+fmt.Sprint(time.Now().Unix()), w.matrixPassword, false)
		return err
	}); err != nil {
		return w, cleanup, err
	}
	if w.user, err = newMatrixUser(w.hs.URL, reg); err != nil {
		return w, cleanup, err
	}
	w.user.start()
	stops = append(stops, w.user.stop)
	return w, cleanup, nil
}

// The journey runs as ordered steps: each may rely on what the previous ones set up.
type journey struct {
	t          *testing.T
	mgmt       id.RoomID // the DM with the bridge bot
	loginID    string
	bobRoom    id.RoomID
	groupRoom  id.RoomID
	daveRoom   id.RoomID
	passwordIn bool // the password was typed in Matrix
}

const (
	short = 20 * time.Second // one bridged hop
	long  = 60 * time.Second // reconnects and restarts
)

// pendingEnv names the flag that runs journey steps whose bridge feature is not written yet.
const pendingEnv = "MSNBRIDGE_E2E_PENDING"

// pending lists the journey steps the bridge cannot do yet, with the missing feature. They are
// reported as skipped with that reason unless MSNBRIDGE_E2E_PENDING=all (or a comma-separated
// list of step names) asks to run them, so that they fail visibly.
var pending = map[string]string{}

func (j *journey) step(name string, f func(t *testing.T)) bool {
	return j.t.Run(name, func(t *testing.T) {
		if why, ok := pending[name]; ok && !runPending(name) {
			t.Skipf("PENDING: %s (run with %s=%s or =all)", why, pendingEnv, name)
		}
		f(t)
	})
}

func runPending(name string) bool {
	v := os.Getenv(pendingEnv)
	if v == "all" {
		return true
	}
	for _, n := range strings.Split(v, ",") {
		if strings.TrimSpace(n) == name {
			return true
		}
	}
	return false
}

// botDM opens a direct chat with the bridge bot and waits until the bot is in it.
func (j *journey) botDM(t *testing.T) id.RoomID { return openBotDM(t, w.user) }

// openBotDM opens u's direct chat with the bridge bot and waits until the bot is in it.
func openBotDM(t *testing.T, u *matrixUser) id.RoomID {
	cur := u.mark()
	ctx, cancel := reqCtx()
	defer cancel()
	resp, err := u.cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset:   "trusted_private_chat",
		Invite:   []id.UserID{w.bridge.Bot},
		IsDirect: true,
	})
	if err != nil {
		t.Fatalf("creating the DM with the bot: %v", err)
	}
	u.expect(t, cur, short, "bot join in the management room", func(s seen) bool {
		return s.Room == resp.RoomID && s.Event.Type == event.StateMember &&
			s.Event.GetStateKey() == w.bridge.Bot.String() && s.str("membership") == "join"
	})
	u.expect(t, cur, short, "the bot's welcome", message(resp.RoomID, w.bridge.Bot, contains("management room")))
	return resp.RoomID
}

// send sends a plain text message and returns its event ID.
func send(t *testing.T, room id.RoomID, text string) id.EventID {
	t.Helper()
	return sendAs(t, w.user, room, text)
}

// sendAs sends a plain text message as u and returns its event ID.
func sendAs(t *testing.T, u *matrixUser, room id.RoomID, text string) id.EventID {
	t.Helper()
	ctx, cancel := reqCtx()
	defer cancel()
	resp, err := u.cli.SendText(ctx, room, text)
	if err != nil {
		t.Fatalf("sending %q: %v", truncate(text, 40), err)
	}
	return resp.EventID
}

// command sends a bot command and returns the bot's first reply matching want.
func (j *journey) command(t *testing.T, text string, want func(string) bool) seen {
	t.Helper()
	cur := w.user.mark()
	send(t, j.mgmt, text)
	return w.user.expect(t, cur, short, fmt.Sprintf("bot reply to %q", strings.SplitN(text, " ", 2)[0]),
		message(j.mgmt, w.bridge.Bot, want))
}

// eventually calls f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %s: %v", what, timeout, err)
		}
		<-tick.C
	}
}
