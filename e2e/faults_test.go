//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// The fault matrix of issue #11. Each scenario is its own test with its own Matrix user, MSN
// account and scripted contacts, so that what one counts is not disturbed by another; the
// bridge, Synapse and the fake server are shared and every test leaves them running.

const faultPassword = "Fault-e2e-secret!pw"

// Accounts of the fault matrix: the user of each scenario and its scripted contacts.
const (
	faUser, faBob           = "fa@example.com", "fa-bob@example.com"
	fbUser                  = "fb@example.com"
	fcUser, fcX, fcY        = "fc@example.com", "fc-x@example.com", "fc-y@example.com"
	fdUser, fdBob           = "fd@example.com", "fd-bob@example.com"
	feUser, feBob           = "fe@example.com", "fe-bob@example.com"
	ffUser, ffBob           = "ff@example.com", "ff-bob@example.com"
	fgUser, fgDave          = "fg@example.com", "fg-dave@example.com"
	fhUser, fhX, fhY, fhOld = "fh@example.com", "fh-x@example.com", "fh-y@example.com", "fh-old@example.com"
)

// fbContacts are the five contacts of scenario b, one room each.
var fbContacts = []string{"fb-c1@example.com", "fb-c2@example.com", "fb-c3@example.com", "fb-c4@example.com", "fb-c5@example.com"}

// chunkCaps are client capabilities with 0x20 (multi-packet messaging, FACTS §7.2) and the
// MSNC10 bits of WLM 2009: a contact that reassembles chunked messages.
const chunkCaps = "2684354592:48"

func faultAccounts() []account {
	var out []account
	user := func(passport string, contacts ...string) {
		out = append(out, account{Passport: passport, Password: faultPassword, Name: "Fault " + passport, Contacts: contacts})
		for _, c := range contacts {
			out = append(out, account{Passport: c, Password: "x", Name: "Contact " + c, Status: "NLN", Scripted: true, Contacts: []string{passport}})
		}
	}
	user(faUser, faBob)
	user(fbUser, fbContacts...)
	user(fcUser, fcX, fcY)
	user(fdUser, fdBob)
	user(feUser, feBob)
	user(ffUser, ffBob)
	user(fgUser, fgDave)
	user(fhUser, fhX, fhY, fhOld)
	for i := range out {
		switch out[i].Passport {
		case fgDave:
			out[i].Status = "FLN"
		case fhX, fhY:
			out[i].Caps = chunkCaps
		}
	}
	return out
}

// faultUser is a Matrix user logged in to the bridge with one fault scenario's MSN account.
type faultUser struct {
	u        *matrixUser
	mgmt     id.RoomID
	passport string
}

// newFaultUser registers a Matrix user, opens its management room and logs it in as passport.
func newFaultUser(t *testing.T, passport string) *faultUser {
	t.Helper()
	return newFaultUserWith(t, passport, nil)
}

// newFaultUserWith is newFaultUser calling before (when not nil) with the Matrix user before
// it logs in to the bridge.
func newFaultUserWith(t *testing.T, passport string, before func(*matrixUser)) *faultUser {
	t.Helper()
	ctx, cancel := reqCtx()
	defer cancel()
	local := strings.NewReplacer("@", "-", ".", "-").Replace(passport)
	reg, err := w.hs.register(ctx, fmt.Sprintf("%s-%d", local, time.Now().UnixNano()), "matrix-"+faultPassword, false)
	if err != nil {
		t.Fatal(err)
	}
	u, err := newMatrixUser(w.hs.URL, reg)
	if err != nil {
		t.Fatal(err)
	}
	u.start()
	t.Cleanup(u.stop)
	if before != nil {
		before(u)
	}
	f := &faultUser{u: u, passport: passport}
	f.mgmt = openBotDM(t, u)
	if reply, _ := loginDialogue(t, u, f.mgmt, passport, faultPassword); isFailure(reply.str("body")) {
		t.Fatalf("login of %s failed: %q", passport, reply.str("body"))
	}
	eventually(t, short, passport+" signed in on the fake server", func() error { return w.fake.signedIn(passport, true) })
	return f
}

func ghostOf(passport string) id.UserID { return w.bridge.ghost(passport, w.hs.ServerName) }

// dmFrom makes contact say text and returns the room it arrived in.
func (f *faultUser) dmFrom(t *testing.T, contact, text string) id.RoomID {
	t.Helper()
	cur := f.u.mark()
	if err := w.fake.say(contact, f.passport, text, nil); err != nil {
		t.Fatal(err)
	}
	return f.u.expect(t, cur, short, contact+"'s first message", message("", ghostOf(contact), equals(text))).Room
}

// openDM asks the bot for a DM portal with a contact and returns the room.
func (f *faultUser) openDM(t *testing.T, contact string) id.RoomID {
	t.Helper()
	cur := f.u.mark()
	sendAs(t, f.u, f.mgmt, "start-chat "+contact)
	return f.u.expect(t, cur, short, "the DM portal with "+contact, func(s seen) bool {
		return s.Kind == kindTimeline && s.Room != f.mgmt && s.Event.Type == event.StateMember &&
			s.Event.GetStateKey() == ghostOf(contact).String() && s.str("membership") == "join"
	}).Room
}

// roomTexts returns the bodies of every m.room.message sent by sender in room, oldest first,
// from the room's history on the homeserver (not /sync, which may skip events).
func (f *faultUser) roomTexts(t *testing.T, room id.RoomID, sender id.UserID) []string {
	t.Helper()
	var out []string
	from := ""
	for range 100 {
		ctx, cancel := reqCtx()
		resp, err := f.u.cli.Messages(ctx, room, from, "", mautrix.DirectionBackward, nil, 100)
		cancel()
		if err != nil {
			t.Fatalf("reading the history of %s: %v", room, err)
		}
		for _, evt := range resp.Chunk {
			if evt.Type != event.EventMessage || evt.Sender != sender {
				continue
			}
			body, _ := evt.Content.Raw["body"].(string)
			out = append(out, body)
		}
		if resp.End == "" || len(resp.Chunk) == 0 {
			break
		}
		from = resp.End
	}
	slices.Reverse(out)
	return out
}

// roomsWith lists the rooms in which u saw a message from sender.
func (f *faultUser) roomsWith(sender id.UserID) []id.RoomID {
	var rooms []id.RoomID
	for _, s := range f.u.all(0, message("", sender, func(string) bool { return true })) {
		if !slices.Contains(rooms, s.Room) {
			rooms = append(rooms, s.Room)
		}
	}
	return rooms
}

// exactlyOnceInOrder compares the messages that arrived (got, filtered by keep) with want: each
// must be there exactly once, in want's order. It describes every difference.
func exactlyOnceInOrder(got, want []string, keep func(string) bool) []string {
	var problems []string
	count := map[string]int{}
	var kept []string
	for _, g := range got {
		if keep(g) {
			count[g]++
			kept = append(kept, g)
		}
	}
	var missing []string
	for _, x := range want {
		switch n := count[x]; {
		case n == 0:
			missing = append(missing, truncate(x, 60))
		case n > 1:
			problems = append(problems, fmt.Sprintf("%q arrived %d times", truncate(x, 60), n))
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d messages never arrived: %q", len(missing), len(want), missing[:min(len(missing), 5)]))
	}
	pos := map[string]int{}
	for i, x := range want {
		pos[x] = i
	}
	last := -1
	for _, g := range kept {
		p, ok := pos[g]
		if !ok {
			problems = append(problems, fmt.Sprintf("unexpected message %q", truncate(g, 60)))
			continue
		}
		if p < last {
			problems = append(problems, fmt.Sprintf("%q arrived after a later message", truncate(g, 60)))
		}
		last = max(last, p)
	}
	return problems
}

// ---- fake server fault API ------------------------------------------------------------

// faultEvent is an entry of the fake server's fault log (GET /v1/faults).
type faultEvent struct {
	Index    int       `json:"index"`
	Kind     string    `json:"kind"`
	Passport string    `json:"passport"`
	Conn     uint64    `json:"conn"`
	TrID     uint32    `json:"trid"`
	Detail   string    `json:"detail"`
	Status   int       `json:"status"`
	At       time.Time `json:"at"`
}

func (e faultEvent) String() string {
	return fmt.Sprintf("%s %s conn=%d trid=%d %s", e.Kind, e.Passport, e.Conn, e.TrID, e.Detail)
}

// faults long-polls the fault log after index since.
func (f *fakeServer) faults(since int, wait time.Duration) ([]faultEvent, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait+30*time.Second)
	defer cancel()
	q := url.Values{"since": {fmt.Sprint(since)}, "wait_ms": {fmt.Sprint(wait.Milliseconds())}}
	var out struct {
		Events []faultEvent `json:"events"`
		Next   int          `json:"next"`
	}
	err := longPollJSON(ctx, http.MethodGet, f.Control+"/v1/faults?"+q.Encode(), nil, &out)
	return out.Events, out.Next, err
}

// faultCursor returns the index of the next fault event.
func (f *fakeServer) faultCursor(t *testing.T) int {
	t.Helper()
	_, next, err := f.faults(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

// faultsSoFar returns the fault events after since that are already logged.
func (f *fakeServer) faultsSoFar(t *testing.T, since int) []faultEvent {
	t.Helper()
	evs, _, err := f.faults(since, 0)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// expectFault waits for a fault event after since matching match.
func (f *fakeServer) expectFault(since int, timeout time.Duration, what string, match func(faultEvent) bool) (faultEvent, error) {
	deadline := time.Now().Add(timeout)
	var got []string
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return faultEvent{}, fmt.Errorf("no %s within %s; the fault log has: [%s]", what, timeout, strings.Join(got, "; "))
		}
		evs, next, err := f.faults(since, left)
		if err != nil {
			return faultEvent{}, err
		}
		for _, e := range evs {
			if match(e) {
				return e, nil
			}
			got = append(got, e.String())
		}
		since = next
	}
}

// storedOIM is an offline message still on the fake server (GET /v1/oims).
type storedOIM struct {
	ID, From, To, Text string
	Seq                int
}

func (f *fakeServer) storedOIMs(to string) ([]storedOIM, error) {
	ctx, cancel := reqCtx()
	defer cancel()
	var out struct {
		OIMs []storedOIM `json:"oims"`
	}
	err := doJSON(ctx, http.MethodGet, f.Control+"/v1/oims?to="+url.QueryEscape(to), nil, &out)
	return out.OIMs, err
}

// queueOIM queues an offline message and returns its id.
func (f *fakeServer) queueOIM(from, to, text string) (string, error) {
	ctx, cancel := reqCtx()
	defer cancel()
	var out struct {
		ID string `json:"id"`
	}
	err := doJSON(ctx, http.MethodPost, f.Control+"/v1/oim", map[string]any{"from": from, "to": to, "text": text}, &out)
	return out.ID, err
}

// nsVersions returns the protocol versions of passport's live NS connections.
func (f *fakeServer) nsVersions(passport string) ([]int, error) {
	ctx, cancel := reqCtx()
	defer cancel()
	var out struct {
		Versions []int `json:"ns_versions"`
	}
	err := doJSON(ctx, http.MethodGet, f.Control+"/v1/logins?passport="+url.QueryEscape(passport), nil, &out)
	return out.Versions, err
}

func (f *fakeServer) knob(t *testing.T, path string, body map[string]any) {
	t.Helper()
	if err := f.post(path, body); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// ---- shared environment ---------------------------------------------------------------

// ensureBridge restarts the bridge if a test left it dead.
func ensureBridge(t *testing.T) {
	if done, _ := w.bridge.proc.exited(); done {
		if err := w.bridge.start(context.Background()); err != nil {
			t.Errorf("restarting the bridge after the test: %v", err)
		}
	}
}

// homeserverUp reports whether the homeserver answers.
func homeserverUp() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return doJSON(ctx, http.MethodGet, w.hs.URL+"/_matrix/client/versions", nil, nil) == nil
}

// newLogin waits until passport made another NS login than the before-th and is signed in.
func newLogin(t *testing.T, passport string, before int) {
	t.Helper()
	eventually(t, long, passport+" signed in again", func() error {
		n, status, err := w.fake.account(passport)
		if err == nil && (n <= before || status == "FLN") {
			err = fmt.Errorf("%d logins (%d before), status %s", n, before, status)
		}
		return err
	})
}

func logins(t *testing.T, passport string) int {
	t.Helper()
	n, _, err := w.fake.account(passport)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// ---- a: SIGKILL right after fetching offline messages ----------------------------------

// TestFaultOIMKillAfterFetch: offline messages fetched by the bridge while Matrix cannot take
// them yet (the homeserver proxy holds their events), then SIGKILL. After a restart each must
// appear exactly once, in order, in the contact's room; the server may delete them only once
// Matrix has them.
func TestFaultOIMKillAfterFetch(t *testing.T) {
	f := newFaultUser(t, faUser)
	ghost := ghostOf(faBob)
	room := f.dmFrom(t, faBob, "Hello before the crash.")
	t.Cleanup(func() {
		w.hsProxy.release()
		ensureBridge(t)
	})

	w.bridge.stop()
	eventually(t, short, "fa signed out", func() error { return w.fake.signedIn(faUser, false) })
	texts := []string{"Offline 1 of 3: written while you were away.", "Offline 2 of 3: still away?", "Offline 3 of 3: talk later."}
	var ids []string
	for _, text := range texts {
		oid, err := w.fake.queueOIM(faBob, faUser, text)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, strings.ToUpper(oid))
	}
	cursor := w.fake.faultCursor(t)
	held := w.hsProxy.holdIf(func(r *http.Request, body []byte) bool {
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/send/") {
			return false
		}
		for _, text := range texts {
			if strings.Contains(string(body), text) {
				return true
			}
		}
		return false
	})
	if err := w.bridge.start(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case body := <-held:
		t.Logf("an offline message is on its way to Matrix (held): %s", truncate(body, 120))
	case <-time.After(long):
		t.Fatalf("the bridge never sent the offline messages to Matrix within %s; fault log: %v", long, w.fake.faultsSoFar(t, cursor))
	}
	w.bridge.kill()
	beforeKill := w.fake.faultsSoFar(t, cursor)
	w.hsProxy.release()
	fetched, deleted := 0, 0
	for _, e := range beforeKill {
		if !slices.Contains(ids, e.Detail) {
			continue
		}
		switch e.Kind {
		case "rsi-GetMessage":
			fetched++
		case "rsi-DeleteMessages":
			deleted++
			t.Errorf("the server was told to delete offline message %s before Matrix had it (its event was still held on the way to the homeserver when the bridge was killed)", e.Detail)
		}
	}
	if fetched == 0 {
		t.Errorf("no RSI GetMessage for the offline messages before the kill: %v", beforeKill)
	}
	t.Logf("before the kill: %d GetMessage, %d deletions of the %d offline messages", fetched, deleted, len(ids))

	// Deleted on the server and never in Matrix: nothing can bring them back. The restart
	// below still shows that the bridge comes back, without waiting for what cannot come.
	lost := deleted == len(ids) && len(mustOIMs(t, faUser)) == 0
	if lost {
		t.Errorf("all %d offline messages are lost: deleted on the server, never stored in Matrix", len(ids))
	}
	cur := f.u.mark()
	if err := w.bridge.start(t.Context()); err != nil {
		t.Fatal(err)
	}
	marker := "Live again after the crash."
	eventually(t, long, "fa signed in after the restart", func() error { return w.fake.signedIn(faUser, true) })
	if !lost {
		if _, err := f.u.waitFor(cur, long, "the last offline message after the restart", message(room, ghost, equals(texts[len(texts)-1]))); err != nil {
			t.Errorf("%v (stored on the server now: %d)", err, len(mustOIMs(t, faUser)))
		}
	}
	if err := w.fake.say(faBob, faUser, marker, nil); err != nil {
		t.Fatal(err)
	}
	f.u.expect(t, cur, short, "bob's live message after the restart", message(room, ghost, equals(marker)))
	got := f.roomTexts(t, room, ghost)
	for _, p := range exactlyOnceInOrder(got, texts, func(s string) bool { return strings.HasPrefix(s, "Offline ") }) {
		t.Error(p)
	}
	if rooms := f.roomsWith(ghost); len(rooms) != 1 {
		t.Errorf("bob's messages are in %d rooms, want only his DM room: %v", len(rooms), rooms)
	}
	// Delivered now: the server deletes them (after Matrix has them).
	eventually(t, short, "the offline messages deleted on the server after delivery", func() error {
		if left := mustOIMs(t, faUser); len(left) > 0 {
			return fmt.Errorf("%d still stored", len(left))
		}
		return nil
	})
}

func mustOIMs(t *testing.T, to string) []storedOIM {
	t.Helper()
	oims, err := w.fake.storedOIMs(to)
	if err != nil {
		t.Fatal(err)
	}
	return oims
}

// ---- b: Synapse down for 60 s while 200 messages arrive --------------------------------

// TestFaultHomeserverOutage: Synapse is stopped for 60 s while five contacts send 40 messages
// each; once it is back, all 200 must be in their five rooms, once each, in order.
func TestFaultHomeserverOutage(t *testing.T) {
	if w.hs.external {
		t.Skip("needs the Synapse started by synapse-env.sh: an external homeserver cannot be stopped by the tests")
	}
	const perRoom, outage = 40, 60 * time.Second
	f := newFaultUser(t, fbUser)
	rooms := map[string]id.RoomID{}
	for _, c := range fbContacts {
		rooms[c] = f.dmFrom(t, c, "Hello from "+c)
	}
	t.Cleanup(func() {
		if !homeserverUp() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if err := w.hs.install(ctx, w.bridge.reg); err != nil {
				t.Errorf("restarting Synapse after the test: %v", err)
			}
		}
	})
	text := func(c string, i int) string { return fmt.Sprintf("%s says %02d of %d", c, i, perRoom) }

	w.hs.stop()
	stopped := time.Now()
	if homeserverUp() {
		t.Fatal("Synapse still answers after stop")
	}
	for i := 1; i <= perRoom; i++ {
		for _, c := range fbContacts {
			if err := w.fake.say(c, fbUser, text(c, i), nil); err != nil {
				t.Fatalf("%s's message %d: %v", c, i, err)
			}
		}
	}
	t.Logf("200 messages sent to the bridge %.1f s into the outage", time.Since(stopped).Seconds())
	time.Sleep(time.Until(stopped.Add(outage))) // the outage's length (the fault itself), not a wait for an event
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	t0 := time.Now()
	if err := w.hs.install(ctx, w.bridge.reg); err != nil {
		t.Fatalf("starting Synapse again: %v", err)
	}
	t.Logf("Synapse back after %.1f s down (start took %.1f s)", time.Since(stopped).Seconds(), time.Since(t0).Seconds())

	deadline := time.Now().Add(3 * time.Minute) // one deadline for all rooms
	for _, c := range fbContacts {
		if _, err := f.u.waitFor(0, max(time.Until(deadline), time.Second), c+"'s last message", message(rooms[c], ghostOf(c), equals(text(c, perRoom)))); err != nil {
			t.Errorf("%v", err)
		}
	}
	total := 0
	for _, c := range fbContacts {
		want := make([]string, 0, perRoom)
		for i := 1; i <= perRoom; i++ {
			want = append(want, text(c, i))
		}
		got := f.roomTexts(t, rooms[c], ghostOf(c))
		problems := exactlyOnceInOrder(got, want, func(s string) bool { return strings.HasPrefix(s, c+" says ") })
		for _, p := range problems {
			t.Errorf("%s's room: %s", c, p)
		}
		for _, g := range got {
			if slices.Contains(want, g) {
				total++
			}
		}
		if rs := f.roomsWith(ghostOf(c)); len(rs) != 1 {
			t.Errorf("%s's messages are in %d rooms, want one: %v", c, len(rs), rs)
		}
	}
	t.Logf("%d of %d messages arrived (duplicates not counted twice)", total, perRoom*len(fbContacts))
}

// ---- c: NS drop and bridge restart in a group conversation ----------------------------

// TestFaultGroupSurvivesReconnect: a group conversation goes on in the same room after the NS
// connection drops, and again after the bridge restarts.
func TestFaultGroupSurvivesReconnect(t *testing.T) {
	f := newFaultUser(t, fcUser)
	t.Cleanup(func() { ensureBridge(t) })
	gx, gy := ghostOf(fcX), ghostOf(fcY)
	w.fake.knob(t, "/v1/join", map[string]any{"who": fcY, "to": fcUser, "with": fcX})
	cur := f.u.mark()
	first := "Group hello before any fault."
	if err := w.fake.sayIn(fcX, fcUser, fcY, first); err != nil {
		t.Fatal(err)
	}
	group := f.u.expect(t, cur, short, "x's message in a group room", message("", gx, equals(first))).Room
	sent := []string{first}

	goOn := func(t *testing.T, after string) {
		// The contacts carry on: y is (still, or again) in the conversation, x writes.
		w.fake.knob(t, "/v1/join", map[string]any{"who": fcY, "to": fcUser, "with": fcX})
		cur := f.u.mark()
		text := "Group message after the " + after + "."
		if err := w.fake.sayIn(fcX, fcUser, fcY, text); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, text)
		if msg := f.u.expect(t, cur, short, "x's message after the "+after, message("", gx, equals(text))); msg.Room != group {
			t.Errorf("after the %s the conversation went on in room %s, not the group room %s", after, msg.Room, group)
		}
		// The user answers in the group room: both contacts get it once.
		sx, err := w.fake.receivedCount(fcX)
		if err != nil {
			t.Fatal(err)
		}
		sy, err := w.fake.receivedCount(fcY)
		if err != nil {
			t.Fatal(err)
		}
		answer := "Answer in the group room after the " + after + "."
		sendAs(t, f.u, group, answer)
		for _, c := range []struct {
			who   string
			since int
		}{{fcX, sx}, {fcY, sy}} {
			if _, err := w.fake.expectReceived(c.who, c.since, short, "the answer in the group room", func(it receivedItem) bool {
				return it.Kind == "text" && it.Text == answer
			}); err != nil {
				t.Error(err)
			}
		}
	}

	t.Run("ns-drop", func(t *testing.T) {
		before := logins(t, fcUser)
		w.fake.knob(t, "/v1/ns/drop", map[string]any{"who": fcUser})
		newLogin(t, fcUser, before)
		goOn(t, "NS connection dropped")
	})
	t.Run("bridge-restart", func(t *testing.T) {
		before := logins(t, fcUser)
		w.bridge.stop()
		if err := w.bridge.start(t.Context()); err != nil {
			t.Fatal(err)
		}
		newLogin(t, fcUser, before)
		goOn(t, "bridge restart")
	})
	for _, p := range exactlyOnceInOrder(f.roomTexts(t, group, gx), sent, func(string) bool { return true }) {
		t.Errorf("group room: %s", p)
	}
	for _, g := range []id.UserID{gx, gy} {
		for _, r := range f.roomsWith(g) {
			if r != group {
				t.Errorf("%s wrote in another room %s besides the group room %s", g, r, group)
			}
		}
	}
}

// ---- d: a switchboard drops with 20 messages in flight ---------------------------------

// TestFaultSwitchboardDropInFlight: the server holds everything the user sends on the
// switchboard, 20 Matrix messages go out, and the switchboard drops (the held ones are lost
// with it). Each message must then be delivered once or visibly failed, never both, never
// silently lost. bridgev2 hands a room's messages to the bridge one at a time, so one is on
// the switchboard and the others wait in the bridge when it drops: all 20 are in flight.
func TestFaultSwitchboardDropInFlight(t *testing.T) {
	const n = 20
	f := newFaultUser(t, fdUser)
	room := f.dmFrom(t, fdBob, "Hello, let us talk.")
	cursor := w.fake.faultCursor(t)
	since, err := w.fake.receivedCount(fdBob)
	if err != nil {
		t.Fatal(err)
	}
	w.fake.knob(t, "/v1/sb/hold", map[string]any{"who": fdUser})
	dropped := false
	t.Cleanup(func() {
		if !dropped {
			_ = w.fake.post("/v1/sb/drop", map[string]any{"who": fdUser})
		}
	})
	cur := f.u.mark()
	texts := make([]string, n)
	evts := make([]id.EventID, n)
	for i := range n {
		texts[i] = fmt.Sprintf("In flight %02d of %d.", i+1, n)
		evts[i] = sendAs(t, f.u, room, texts[i])
	}
	if _, err := w.fake.expectFault(cursor, short, "a held MSG", func(e faultEvent) bool {
		return e.Kind == "sb-held" && e.Passport == fdUser
	}); err != nil {
		t.Fatal(err)
	}
	w.fake.knob(t, "/v1/sb/drop", map[string]any{"who": fdUser})
	dropped = true

	// Wait until each message is resolved: received by bob, or failed with a notice.
	received := map[string]int{}
	var order []string
	resolved := func() int {
		k := 0
		for i := range n {
			if received[texts[i]] > 0 || len(f.u.all(cur, statusNotice(room, evts[i]))) > 0 {
				k++
			}
		}
		return k
	}
	deadline := time.Now().Add(4 * time.Minute)
	for resolved() < n && time.Now().Before(deadline) {
		items, next, err := w.fake.received(fdBob, since, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.Kind == "text" {
				received[it.Text]++
				order = append(order, it.Text)
			}
		}
		since = next
	}
	// A last message proves the conversation works and flushes late duplicates.
	marker := "After the switchboard dropped."
	sendAs(t, f.u, room, marker)
	if _, err := w.fake.expectReceived(fdBob, since, long, "the message after the drop", func(it receivedItem) bool {
		if it.Kind == "text" && it.Text != marker {
			received[it.Text]++
			order = append(order, it.Text)
		}
		return it.Kind == "text" && it.Text == marker
	}); err != nil {
		t.Error(err)
	}
	delivered, failed := 0, 0
	for i := range n {
		got := received[texts[i]]
		notices := f.u.all(cur, statusNotice(room, evts[i]))
		switch {
		case got > 1:
			t.Errorf("%q reached bob %d times", texts[i], got)
		case got == 1 && len(notices) > 0:
			t.Errorf("%q reached bob and was reported failed (%q)", texts[i], notices[0].str("body"))
		case got == 0 && len(notices) == 0:
			t.Errorf("%q neither reached bob nor was reported failed: silently lost", texts[i])
		}
		if got > 0 {
			delivered++
		}
		if len(notices) > 0 {
			failed++
		}
	}
	for _, p := range exactlyOnceInOrder(order, texts, func(string) bool { return true }) {
		if strings.Contains(p, "after a later") {
			t.Error(p)
		}
	}
	t.Logf("%d delivered, %d visibly failed of %d", delivered, failed, n)
}

// ---- e: one ACK lost -------------------------------------------------------------------

// TestFaultLostACK: the server swallows the ACK of one message; that message must be reported
// failed, and the next one delivered, on a fresh switchboard (issue point 6).
func TestFaultLostACK(t *testing.T) {
	f := newFaultUser(t, feUser)
	room := f.dmFrom(t, feBob, "Hello, acknowledge me.")
	cursor := w.fake.faultCursor(t)
	w.fake.knob(t, "/v1/sb/swallow-ack", map[string]any{"who": feUser, "count": 1})
	cur := f.u.mark()
	lost := sendAs(t, f.u, room, "The ACK of this one gets lost.")
	swallowed, err := w.fake.expectFault(cursor, short, "the swallowed ACK", func(e faultEvent) bool {
		return e.Kind == "ack-swallowed" && e.Passport == feUser
	})
	if err != nil {
		t.Fatal(err)
	}
	notice, err := f.u.waitFor(cur, 150*time.Second, "a failure notice for the message whose ACK was lost", statusNotice(room, lost))
	if err != nil {
		t.Error(err)
	} else {
		t.Logf("reported failed: %q", notice.str("body"))
	}
	since, err := w.fake.receivedCount(feBob)
	if err != nil {
		t.Fatal(err)
	}
	next := "The next one, after the lost ACK."
	nextEvt := sendAs(t, f.u, room, next)
	count := 0
	marker := "And a third one."
	if _, err := w.fake.expectReceived(feBob, since, long, "the next message", func(it receivedItem) bool {
		return it.Kind == "text" && it.Text == next
	}); err != nil {
		t.Fatal(err)
	}
	sendAs(t, f.u, room, marker)
	if _, err := w.fake.expectReceived(feBob, since, short, "the third message", func(it receivedItem) bool {
		if it.Kind == "text" && it.Text == next {
			count++
		}
		return it.Kind == "text" && it.Text == marker
	}); err != nil {
		t.Fatal(err)
	}
	if count != 1 {
		t.Errorf("the next message reached bob %d times", count)
	}
	if n := f.u.all(cur, statusNotice(room, nextEvt)); len(n) > 0 {
		t.Errorf("the next message was delivered but reported failed: %q", n[0].str("body"))
	}
	// Which switchboard carried it: the one that lost the ACK is stuck and must be retired.
	var conns []uint64
	for _, e := range w.fake.faultsSoFar(t, swallowed.Index+1) {
		if e.Kind == "sb-msg" && e.Passport == feUser && strings.HasPrefix(e.Detail, "text/plain") {
			conns = append(conns, e.Conn)
		}
	}
	if len(conns) == 0 || conns[0] == swallowed.Conn {
		t.Errorf("the next message went out on the switchboard that lost the ACK (conn %d, later text MSGs on conns %v): it must be retired and a fresh one opened", swallowed.Conn, conns)
	}
}

// ---- f: RNG while the bridge is reconnecting -------------------------------------------

// TestFaultInviteDuringReconnect: after the NS connection drops, the contact rings the user the
// moment the new login's CHG is answered, before the login is complete (the server holds the
// rest of the login's answers for 3 s). The conversation must be bridged.
func TestFaultInviteDuringReconnect(t *testing.T) {
	f := newFaultUser(t, ffUser)
	ghost := ghostOf(ffBob)
	room := f.dmFrom(t, ffBob, "Hello before the reconnect.")
	// bob leaves, so that his next message needs a new switchboard: an invitation (RNG).
	if err := w.fake.leave(ffBob, ffUser); err != nil {
		t.Fatal(err)
	}
	text := "I called you while you were reconnecting."
	cursor := w.fake.faultCursor(t)
	w.fake.knob(t, "/v1/ns/ring-on-login", map[string]any{"who": ffUser, "from": ffBob, "text": text, "hold_ms": 3000})
	before := logins(t, ffUser)
	cur := f.u.mark()
	w.fake.knob(t, "/v1/ns/drop", map[string]any{"who": ffUser})
	if _, err := w.fake.expectFault(cursor, long, "bob ringing during the new login", func(e faultEvent) bool {
		return e.Kind == "ring-on-login" && e.Passport == ffUser
	}); err != nil {
		t.Fatal(err)
	}
	outcome, err := w.fake.expectFault(cursor, long, "the outcome of bob's call", func(e faultEvent) bool {
		return (e.Kind == "ring-sent" || e.Kind == "ring-failed") && e.Passport == ffUser
	})
	if err != nil {
		t.Fatal(err)
	}
	if outcome.Kind == "ring-failed" {
		// bob's message was never sent: nothing more can arrive.
		t.Fatalf("bob's invitation during the login was never answered: %s", outcome.Detail)
	}
	newLogin(t, ffUser, before)
	msg, err := f.u.waitFor(cur, short, "bob's message sent with the invitation", message("", ghost, equals(text)))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Room != room {
		t.Errorf("bob's message went to %s, not his DM room %s", msg.Room, room)
	}
}

// ---- g: a 5,000-character offline message on MSNP18 -----------------------------------

// TestFaultLongOfflineMessage: a 5,000-character message to an offline contact on MSNP18 must
// be stored whole (in one or several offline messages, in order) and read whole.
func TestFaultLongOfflineMessage(t *testing.T) {
	f := newFaultUser(t, fgUser)
	if v, err := w.fake.nsVersions(fgUser); err != nil || len(v) != 1 || v[0] != 18 {
		t.Fatalf("the scenario needs an MSNP18 session; the fake server sees %v (%v)", v, err)
	}
	room := f.openDM(t, fgDave)
	since, err := w.fake.receivedCount(fgDave)
	if err != nil {
		t.Fatal(err)
	}
	text := mixedText(5000)
	cur := f.u.mark()
	evt := sendAs(t, f.u, room, text)
	reply := f.u.expect(t, cur, short, "the offline notice or a failure", func(s seen) bool {
		return message(room, w.bridge.Bot, contains("offline"))(s) || statusNotice(room, evt)(s)
	})
	if statusNotice(room, evt)(reply) {
		// Failed: report what the server stored anyway, without waiting for more.
		items, _, err := w.fake.received(fgDave, since, 0)
		stored := 0
		for _, it := range items {
			if it.Kind == "oim" {
				stored += len(it.Text)
			}
		}
		t.Fatalf("the long offline message failed: %q (stored: %d of %d bytes, %v)", reply.str("body"), stored, len(text), err)
	}
	var got strings.Builder
	parts := 0
	for got.Len() < len(text) {
		it, err := w.fake.expectReceived(fgDave, since, short, "the offline message (or its next part)", func(it receivedItem) bool { return it.Kind == "oim" })
		if err != nil {
			t.Fatalf("%v (have %d of %d bytes in %d offline messages)", err, got.Len(), len(text), parts)
		}
		got.WriteString(it.Text)
		parts++
		since = it.Index + 1
	}
	if !sameText(t, got.String(), text) {
		t.Fatalf("the offline message arrived altered: %d bytes in %d parts, want %d", got.Len(), parts, len(text))
	}
	t.Logf("stored whole in %d offline message(s)", parts)
}

// ---- h: first message to a new group; a chunked long message ---------------------------

// TestFaultNewGroupAndChunks: the first message in a new three-party group reaches both
// contacts even when one answers the call late; a 3,000-character message reaches a
// chunk-capable contact as one chunked message, and a contact without the capability as
// separate messages.
func TestFaultNewGroupAndChunks(t *testing.T) {
	f := newFaultUser(t, fhUser)
	t.Run("first-group-message", func(t *testing.T) {
		w.fake.knob(t, "/v1/sb/call-delay", map[string]any{"who": fhY, "delay_ms": 1500})
		t.Cleanup(func() { _ = w.fake.post("/v1/sb/call-delay", map[string]any{"who": fhY, "delay_ms": 0}) })
		room := f.createGroup(t, fhX, fhY)
		sx, err := w.fake.receivedCount(fhX)
		if err != nil {
			t.Fatal(err)
		}
		sy, err := w.fake.receivedCount(fhY)
		if err != nil {
			t.Fatal(err)
		}
		cur := f.u.mark()
		first := "The first message in our new group."
		evt := sendAs(t, f.u, room, first)
		for _, c := range []struct {
			who   string
			since int
		}{{fhX, sx}, {fhY, sy}} {
			if _, err := w.fake.expectReceived(c.who, c.since, short, "the first group message", func(it receivedItem) bool {
				return it.Kind == "text" && it.Text == first
			}); err != nil {
				t.Errorf("%v (y answers the call 1.5 s after x)", err)
			}
		}
		if n := f.u.all(cur, statusNotice(room, evt)); len(n) > 0 {
			t.Logf("bridge notice: %q", n[0].str("body"))
		}
	})
	t.Run("chunked-to-capable", func(t *testing.T) {
		room := f.openDM(t, fhX)
		f.longTo(t, room, fhX, true)
	})
	t.Run("split-to-old-client", func(t *testing.T) {
		room := f.openDM(t, fhOld)
		f.longTo(t, room, fhOld, false)
	})
}

// longTo sends a 3,000-character message in room and checks how contact received it: as one
// chunked message (chunked) or as several plain ones.
func (f *faultUser) longTo(t *testing.T, room id.RoomID, contact string, chunked bool) {
	t.Helper()
	since, err := w.fake.receivedCount(contact)
	if err != nil {
		t.Fatal(err)
	}
	text := mixedText(3000)
	sendAs(t, f.u, room, text)
	var items []receivedItem
	var got strings.Builder
	for got.Len() < len(text) {
		it, err := w.fake.expectReceived(contact, since, short, "the long message (or its next part)", func(it receivedItem) bool { return it.Kind == "text" })
		if err != nil {
			t.Fatalf("%v (have %d of %d bytes)", err, got.Len(), len(text))
		}
		items = append(items, it)
		got.WriteString(it.Text)
		since = it.Index + 1
	}
	if !sameText(t, got.String(), text) {
		t.Fatalf("the long message arrived altered: %d bytes, want %d", got.Len(), len(text))
	}
	if chunked {
		if len(items) != 1 {
			t.Errorf("%s reassembles chunks (caps %s) but got the message as %d separate messages", contact, chunkCaps, len(items))
		} else if items[0].Chunks < 2 || items[0].MsgID == "" {
			t.Errorf("one message, but not chunked: %d chunks, Message-ID %q", items[0].Chunks, items[0].MsgID)
		}
		return
	}
	for _, it := range items {
		if it.Chunks > 1 {
			t.Errorf("%s cannot reassemble chunks but got a chunked message (%d chunks)", contact, it.Chunks)
		}
	}
}

// createGroup makes a Matrix room with the bot and the contacts' ghosts, runs the bot's
// create-group command in it and returns the group's portal room (that same room).
func (f *faultUser) createGroup(t *testing.T, contacts ...string) id.RoomID {
	t.Helper()
	ctx, cancel := reqCtx()
	defer cancel()
	invite := []id.UserID{w.bridge.Bot}
	for _, c := range contacts {
		invite = append(invite, ghostOf(c))
	}
	cur := f.u.mark()
	resp, err := f.u.cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset: "private_chat",
		Name:   "Fault group",
		Invite: invite,
		PowerLevelOverride: &event.PowerLevelsEventContent{Users: map[id.UserID]int{
			f.u.ID: 100, w.bridge.Bot: 100,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.u.expect(t, cur, short, "the bot joining the new room", func(s seen) bool {
		return s.Room == resp.RoomID && s.Event.Type == event.StateMember &&
			s.Event.GetStateKey() == w.bridge.Bot.String() && s.str("membership") == "join"
	})
	cur = f.u.mark()
	sendAs(t, f.u, resp.RoomID, w.bridge.cmdPrefix+" create-group")
	reply := f.u.expect(t, cur, short, "the bot's answer to create-group", message(resp.RoomID, w.bridge.Bot, func(string) bool { return true }))
	if !strings.Contains(strings.ToLower(reply.str("body")), "created") {
		t.Fatalf("create-group answered %q", reply.str("body"))
	}
	// create-group bridges the room it is typed in (TestRoomsFeelRight checks no second room
	// appears): the group's portal room is this one.
	return resp.RoomID
}
