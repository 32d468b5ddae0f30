package bridge

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	_ "go.mau.fi/util/dbutil/litestream"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"

	"github.com/msnbridge/msnbridge/database"
	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/msntest"
	"github.com/msnbridge/msnbridge/puppet"
)

// recorder is a matrixSide that records what the client does to Matrix.
type recorder struct {
	events  chan bridgev2.RemoteEvent
	states  chan status.BridgeState
	notices chan string
	mu      sync.Mutex
	ghosts  map[networkid.UserID]string
	saves   int
	// ghostUpdates sees every ghost name update (dropped when nobody reads and it is full).
	ghostUpdates chan ghostUpdate
	// stored holds the ids of the messages "bridgev2 stored"; with failStore set, messages are
	// handled but not stored (the homeserver is down), as bridgev2's post-handle hook would see.
	stored    map[networkid.MessageID]bool
	failStore bool
	// pending holds the outcome handlers of Matrix messages sent in the background
	// (AddPendingSend), by transaction id.
	pending map[networkid.TransactionID]bridgev2.RemoteEchoHandler
}

type ghostUpdate struct {
	id   networkid.UserID
	name string
}

func newRecorder() *recorder {
	return &recorder{
		events:  make(chan bridgev2.RemoteEvent, 100),
		states:  make(chan status.BridgeState, 100),
		notices: make(chan string, 100),
		ghosts:  make(map[networkid.UserID]string),

		ghostUpdates: make(chan ghostUpdate, 100),
		stored:       make(map[networkid.MessageID]bool),
	}
}

// QueueRemoteEvent records the event and, like bridgev2 after handling it, stores a message
// (unless failStore) and runs the event's post-handle hook.
func (r *recorder) QueueRemoteEvent(evt bridgev2.RemoteEvent) bool {
	if msg, ok := evt.(bridgev2.RemoteMessage); ok {
		r.mu.Lock()
		if !r.failStore {
			r.stored[msg.GetID()] = true
		}
		r.mu.Unlock()
	}
	r.events <- evt
	if ph, ok := evt.(bridgev2.RemotePostHandler); ok {
		ph.PostHandle(context.Background(), portalFor(evt.GetPortalKey()))
	}
	return true
}

func (r *recorder) EnsurePortal(context.Context, networkid.PortalKey) error { return nil }

func (r *recorder) MessageStored(_ context.Context, _ *bridgev2.Portal, id networkid.MessageID) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stored[id], nil
}
func (r *recorder) UpdateGhost(_ context.Context, id networkid.UserID, info *bridgev2.UserInfo) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if info.Name != nil {
		r.ghosts[id] = *info.Name
		select {
		case r.ghostUpdates <- ghostUpdate{id, *info.Name}:
		default:
		}
	}
	return nil
}
func (r *recorder) NotifyUser(_ context.Context, text string) error { r.notices <- text; return nil }
func (r *recorder) PortalNotice(_ context.Context, _ *bridgev2.Portal, text string) error {
	r.notices <- text
	return nil
}
func (r *recorder) SaveLogin(context.Context) error {
	r.mu.Lock()
	r.saves++
	r.mu.Unlock()
	return nil
}
func (r *recorder) SendState(st status.BridgeState) { r.states <- st }
func (r *recorder) AddPendingSend(_ *bridgev2.MatrixMessage, _ *bridgedb.Message, txn networkid.TransactionID, handle bridgev2.RemoteEchoHandler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending == nil {
		r.pending = make(map[networkid.TransactionID]bridgev2.RemoteEchoHandler)
	}
	r.pending[txn] = handle
}

func (r *recorder) RemovePendingSend(_ *bridgev2.MatrixMessage, txn networkid.TransactionID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pending, txn)
}

// sendOutcome waits for the echo of a Matrix message sent in the background (resp.Pending) and
// returns what bridgev2 makes of it: nil when the message was delivered (and is saved), its
// failure status otherwise.
func (h *harness) sendOutcome(t *testing.T, resp *bridgev2.MatrixMessageResponse) error {
	t.Helper()
	if resp == nil || !resp.Pending || resp.DB == nil {
		t.Fatalf("not a pending send: %+v", resp)
	}
	txn := networkid.TransactionID(resp.DB.ID)
	echo := wait(t, h.rec.events, "the outcome of "+string(txn), func(e bridgev2.RemoteEvent) bool {
		m, ok := e.(bridgev2.RemoteMessageWithTransactionID)
		return ok && m.GetTransactionID() == txn
	})
	h.rec.mu.Lock()
	handle := h.rec.pending[txn]
	delete(h.rec.pending, txn)
	h.rec.mu.Unlock()
	if handle == nil {
		t.Fatalf("echo %s without a pending send", txn)
	}
	saved, err := handle(echo.(bridgev2.RemoteMessage), resp.DB)
	if saved != (err == nil) {
		t.Fatalf("outcome of %s: saved %v with error %v", txn, saved, err)
	}
	return err
}

func wait[T any](t *testing.T, ch chan T, what string, ok func(T) bool) T {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case v := <-ch:
			if ok(v) {
				return v
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

type harness struct {
	srv    *msntest.Server
	conn   *Connector
	client *Client
	rec    *recorder
	login  *bridgev2.UserLogin
}

func newHarness(t *testing.T, version int) *harness {
	t.Helper()
	srv := newFakeServer(t)
	for _, a := range [][2]string{{"alice@example.com", "Alice"}, {"bob@example.com", "Bob"}, {"carol@example.com", "Carol"}, {"dave@example.com", "Dave"}} {
		if err := srv.AddAccount(a[0], "pw-"+a[1], a[1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"bob@example.com", "carol@example.com"} {
		if err := srv.AddContact("alice@example.com", c, msntest.FL|msntest.AL); err != nil {
			t.Fatal(err)
		}
		if err := srv.AddContact(c, "alice@example.com", msntest.FL|msntest.AL); err != nil {
			t.Fatal(err)
		}
	}
	conn := testConnector(t, srv, version)
	conn.Store = testStore(t)
	sealed, err := conn.sealer.Seal("pw-Alice", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	meta := &database.UserLoginMetadata{Passport: "alice@example.com", Password: sealed, MachineGUID: newMachineGUID(), ProtocolVersion: version}
	login := &bridgev2.UserLogin{UserLogin: &bridgedb.UserLogin{ID: "alice@example.com", Metadata: meta}, Log: testLogger(t)}
	rec := newRecorder()
	client := newClient(conn, nil)
	client.mx = rec
	client.backoffMin = 50 * time.Millisecond
	client.deliverRetryMin = 10 * time.Millisecond
	client.attach(login)
	login.Client = client
	t.Cleanup(client.Disconnect)
	return &harness{srv: srv, conn: conn, client: client, rec: rec, login: login}
}

// testDB is an in-memory SQLite database named after the test.
func testDB(t *testing.T) *dbutil.Database {
	t.Helper()
	db, err := dbutil.NewWithDialect("file:"+strings.ReplaceAll(t.Name(), "/", "_")+"?mode=memory&cache=shared&_txlock=immediate", "sqlite3-fk-wal")
	if err != nil {
		t.Fatal(err)
	}
	db.RawDB.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// testStore is a bridge store in an in-memory SQLite database named after the test.
func testStore(t *testing.T) *database.Store {
	t.Helper()
	store := database.New("test", testDB(t), dbutil.ZeroLogger(zerolog.Nop()))
	if err := store.Upgrade(context.Background()); err != nil {
		t.Fatal(err)
	}
	return store
}

func (h *harness) online(t *testing.T, passport string) *msntest.Contact {
	t.Helper()
	c := h.srv.Contact(passport)
	if err := c.SignIn("NLN"); err != nil {
		t.Fatal(err)
	}
	return c
}

func (h *harness) connect(t *testing.T) {
	t.Helper()
	h.client.Connect(context.Background())
	wait(t, h.rec.states, "CONNECTED", func(st status.BridgeState) bool { return st.StateEvent == status.StateConnected })
}

func portalFor(key networkid.PortalKey) *bridgev2.Portal {
	return &bridgev2.Portal{Portal: &bridgedb.Portal{PortalKey: key}}
}

func convert(t *testing.T, evt bridgev2.RemoteEvent) *event.MessageEventContent {
	t.Helper()
	msg, ok := evt.(bridgev2.RemoteMessage)
	if !ok {
		t.Fatalf("event %T is not a message", evt)
	}
	cm, err := msg.ConvertMessage(context.Background(), nil, nil)
	if err != nil || len(cm.Parts) != 1 {
		t.Fatalf("convert: %v %+v", err, cm)
	}
	return cm.Parts[0].Content
}

func TestClientChatsThroughFakeServer(t *testing.T) {
	for _, v := range []int{18, 12} {
		t.Run("MSNP"+string(rune('0'+v/10))+string(rune('0'+v%10)), func(t *testing.T) {
			h := newHarness(t, v)
			h.connect(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			bob := h.online(t, "bob@example.com")
			bobKey := networkid.PortalKey{ID: "bob@example.com", Receiver: "alice@example.com"}

			// MSN → Matrix: text arrives in Bob's DM portal, HTML in it stays text.
			if err := bob.Say(ctx, "alice@example.com", "<b>hi</b> & bye"); err != nil {
				t.Fatal(err)
			}
			evt := wait(t, h.rec.events, "bob's message", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
			if evt.GetPortalKey() != bobKey || evt.GetSender().Sender != "bob@example.com" || evt.GetSender().IsFromMe {
				t.Fatalf("message routed to %+v from %+v", evt.GetPortalKey(), evt.GetSender())
			}
			if c := convert(t, evt); c.Body != "<b>hi</b> & bye" || strings.Contains(c.FormattedBody, "<b>") {
				t.Fatalf("content = %+v", c)
			}

			// Typing and nudges.
			if err := bob.Typing(ctx, "alice@example.com"); err != nil {
				t.Fatal(err)
			}
			wait(t, h.rec.events, "typing", func(e bridgev2.RemoteEvent) bool {
				_, ok := e.(*simplevent.Typing)
				return ok && e.GetPortalKey() == bobKey
			})
			if err := bob.Nudge(ctx, "alice@example.com"); err != nil {
				t.Fatal(err)
			}
			nudge := wait(t, h.rec.events, "nudge notice", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
			if c := convert(t, nudge); c.MsgType != event.MsgNotice || !strings.Contains(c.Body, "nudge") {
				t.Fatalf("nudge notice = %+v", c)
			}

			// Matrix → MSN: delivered, formatting carried in X-MMS-IM-Format.
			resp, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
				Content: &event.MessageEventContent{MsgType: event.MsgText, Body: "hello bob", Format: event.FormatHTML, FormattedBody: "<strong>hello bob</strong>"},
				Portal:  portalFor(bobKey),
			}})
			if err != nil || resp == nil || resp.DB == nil {
				t.Fatalf("HandleMatrixMessage = %+v, %v", resp, err)
			}
			got, err := bob.NextText(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got.Body != "hello bob" || !strings.Contains(string(got.Payload), "EF=B") {
				t.Fatalf("bob got %q / %q", got.Body, got.Payload)
			}

			// Unsupported content fails with a status instead of vanishing.
			if _, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
				Content: &event.MessageEventContent{MsgType: event.MsgImage, Body: "a.png"}, Portal: portalFor(bobKey),
			}}); err == nil {
				t.Fatal("image was accepted")
			}

			// Someone adds Alice: the request is stored and shown in the management room.
			if err := h.srv.AddedBy("alice@example.com", "dave@example.com"); err != nil {
				t.Fatal(err)
			}
			wait(t, h.rec.notices, "contact request notice", func(s string) bool {
				return strings.Contains(s, "dave@example.com") && strings.Contains(s, "accept")
			})
			reqs, err := h.conn.Store.PendingRequests(ctx, "alice@example.com")
			if err != nil || len(reqs) != 1 || reqs[0].Passport != "dave@example.com" {
				t.Fatalf("pending requests = %+v, %v", reqs, err)
			}
		})
	}
}

func TestClientOfflineContactGetsOIM(t *testing.T) {
	h := newHarness(t, 18)
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	carolKey := networkid.PortalKey{ID: "carol@example.com", Receiver: "alice@example.com"}
	_, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content: &event.MessageEventContent{MsgType: event.MsgText, Body: "are you there?"}, Portal: portalFor(carolKey),
	}})
	if err != nil {
		t.Fatalf("message to offline contact failed: %v", err)
	}
	wait(t, h.rec.notices, "offline notice", func(s string) bool { return strings.Contains(s, "offline message") })
	// UUM has no answer: wait (with a deadline) until the server has stored it.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		found := false
		for _, m := range h.srv.OfflineMessages("carol@example.com") {
			found = found || (m.Text == "are you there?" && strings.EqualFold(m.From, "alice@example.com"))
		}
		if found {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("no OIM stored for carol: %+v", h.srv.OfflineMessages("carol@example.com"))
		}
	}
}

func TestClientOfflineMessagesAtLogin(t *testing.T) {
	h := newHarness(t, 18)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for i, text := range []string{"first", "second"} {
		if _, err := h.srv.QueueOfflineMessage("bob@example.com", "alice@example.com", text, t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	h.connect(t)
	var got []string
	for len(got) < 2 {
		evt := wait(t, h.rec.events, "offline message", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
		ts := evt.(bridgev2.RemoteEventWithTimestamp).GetTimestamp()
		if ts.Before(t0.Add(-time.Minute)) || ts.After(t0.Add(2*time.Minute)) {
			t.Errorf("offline message timestamp %v, want around %v", ts, t0)
		}
		got = append(got, convert(t, evt).Body)
	}
	if got[0] != "first" || got[1] != "second" {
		t.Fatalf("offline messages in order %v", got)
	}
}

func TestClientSignedInElsewhereStops(t *testing.T) {
	h := newHarness(t, 15)
	h.connect(t)
	logins := h.srv.Logins("alice@example.com")
	h.srv.Kick("alice@example.com", "OTH")
	st := wait(t, h.rec.states, "signed-in-elsewhere state", func(st status.BridgeState) bool { return st.Error == StateErrSignedInElsewhere })
	if st.StateEvent == status.StateBadCredentials {
		t.Fatal("signed in elsewhere reported as BAD_CREDENTIALS: clients would ask for a new password")
	}
	if st.StateEvent != status.StateUnknownError || !strings.Contains(st.Message, "signed in from another location") || !strings.Contains(st.Message, "`reconnect`") {
		t.Fatalf("state = %s %q %q", st.StateEvent, st.Error, st.Message)
	}
	h.client.mu.Lock()
	done, running := h.client.loopDone, h.client.running
	h.client.mu.Unlock()
	if running {
		t.Fatal("connection loop still marked running")
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("connection loop did not end")
	}
	if n := h.srv.Logins("alice@example.com"); n != logins {
		t.Fatalf("bridge logged in again after OUT OTH (%d → %d logins)", logins, n)
	}
	if !h.client.meta().SignedInElsewhere {
		t.Error("signed-in-elsewhere not remembered in login metadata")
	}
	// A restart of the bridge must not reconnect either.
	h.client.Connect(context.Background())
	st = wait(t, h.rec.states, "state after restart", func(status.BridgeState) bool { return true })
	if st.Error != StateErrSignedInElsewhere || st.StateEvent != status.StateUnknownError || h.srv.Logins("alice@example.com") != logins {
		t.Fatalf("Connect after OTH: state %+v, logins %d", st, h.srv.Logins("alice@example.com"))
	}
}

func TestClientReconnectsAfterDrop(t *testing.T) {
	h := newHarness(t, 18)
	h.connect(t)
	logins := h.srv.Logins("alice@example.com")
	h.srv.DropConnections("alice@example.com")
	wait(t, h.rec.states, "transient disconnect", func(st status.BridgeState) bool { return st.StateEvent == status.StateTransientDisconnect })
	wait(t, h.rec.states, "reconnected", func(st status.BridgeState) bool { return st.StateEvent == status.StateConnected })
	if n := h.srv.Logins("alice@example.com"); n != logins+1 {
		t.Fatalf("logins %d → %d, want one more", logins, n)
	}
	if !h.client.IsLoggedIn() {
		t.Error("IsLoggedIn false after reconnect")
	}
}

// TestClientMessageWaitsForReconnect: a Matrix message sent while the connection loop is
// reconnecting is not refused as "not logged in"; it waits for the new session and is delivered.
func TestClientMessageWaitsForReconnect(t *testing.T) {
	h := newHarness(t, 18)
	h.client.backoffMin = 500 * time.Millisecond
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob := h.online(t, "bob@example.com")
	bobKey := networkid.PortalKey{ID: "bob@example.com", Receiver: "alice@example.com"}
	h.srv.DropConnections("alice@example.com")
	wait(t, h.rec.states, "transient disconnect", func(st status.BridgeState) bool { return st.StateEvent == status.StateTransientDisconnect })
	if !h.client.IsLoggedIn() {
		t.Fatal("IsLoggedIn false while reconnecting: bridgev2 would refuse messages as not logged in")
	}
	resp, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content: &event.MessageEventContent{MsgType: event.MsgText, Body: "sent during the outage"},
		Portal:  portalFor(bobKey),
	}})
	if err != nil || resp == nil {
		t.Fatalf("HandleMatrixMessage during reconnect = %+v, %v", resp, err)
	}
	got, err := bob.NextText(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Body != "sent during the outage" {
		t.Fatalf("bob got %q", got.Body)
	}
}

// TestClientWaitSessionStoppedLoop: a stopped loop is not "logged in" and nobody waits on it.
func TestClientWaitSessionStoppedLoop(t *testing.T) {
	h := newHarness(t, 18)
	h.connect(t)
	h.client.Disconnect()
	if h.client.IsLoggedIn() {
		t.Fatal("IsLoggedIn true after Disconnect")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if sess, _ := h.client.waitSession(ctx, time.Hour); sess != nil || ctx.Err() != nil {
		t.Fatalf("waitSession on a stopped loop = %v (ctx %v), want an immediate nil", sess, ctx.Err())
	}
}

var _ = message.Text{}

func testLogger(t *testing.T) zerolog.Logger {
	if testing.Verbose() {
		w := &endingTestWriter{t: t}
		t.Cleanup(w.end)
		return zerolog.New(w).Level(zerolog.DebugLevel)
	}
	return zerolog.Nop()
}

// endingTestWriter logs through t until the test ends, and drops what goroutines still log
// after (t.Log would panic then): a client's goroutines may outlive the test by a moment.
type endingTestWriter struct {
	t     *testing.T
	mu    sync.Mutex
	ended bool
}

func (w *endingTestWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.ended {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *endingTestWriter) end() {
	w.mu.Lock()
	w.ended = true
	w.mu.Unlock()
}

func TestClientGroupConversation(t *testing.T) {
	h := newHarness(t, 18)
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob, carol := h.online(t, "bob@example.com"), h.online(t, "carol@example.com")
	if err := bob.Say(ctx, "alice@example.com", "one to one"); err != nil {
		t.Fatal(err)
	}
	dm := wait(t, h.rec.events, "dm message", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
	if isGroupPortal(dm.GetPortalKey().ID) {
		t.Fatalf("1:1 message went to %v", dm.GetPortalKey())
	}
	// A third participant joins: a group portal starts, the DM stays a DM.
	if err := bob.Invite(ctx, "alice@example.com", "carol@example.com"); err != nil {
		t.Fatal(err)
	}
	resync := wait(t, h.rec.events, "group portal", func(e bridgev2.RemoteEvent) bool {
		return e.GetType() == bridgev2.RemoteEventChatResync && isGroupPortal(e.GetPortalKey().ID)
	})
	groupKey := resync.GetPortalKey()
	roster, err := h.conn.Store.GroupMembers(ctx, "alice@example.com", string(groupKey.ID))
	if err != nil || len(roster) != 2 {
		t.Fatalf("group roster = %v, %v", roster, err)
	}
	info, err := h.client.GetChatInfo(ctx, portalFor(groupKey))
	if err != nil || info.Name == nil || !strings.Contains(*info.Name, "Bob") || !strings.Contains(*info.Name, "Carol") || len(info.Members.MemberMap) != 3 {
		t.Fatalf("group info = %+v, %v", info, err)
	}
	if err := carol.Say(ctx, "alice@example.com", "hello group"); err != nil {
		t.Fatal(err)
	}
	msg := wait(t, h.rec.events, "group message", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
	if msg.GetPortalKey() != groupKey || msg.GetSender().Sender != "carol@example.com" {
		t.Fatalf("group message routed to %v from %v", msg.GetPortalKey(), msg.GetSender())
	}
	if _, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content: &event.MessageEventContent{MsgType: event.MsgText, Body: "hi both"}, Portal: portalFor(groupKey),
	}}); err != nil {
		t.Fatalf("send to group: %v", err)
	}
	for _, c := range []*msntest.Contact{bob, carol} {
		for {
			m, err := c.NextText(ctx)
			if err != nil {
				t.Fatalf("%s did not get the group message: %v", c.Passport(), err)
			}
			if m.Body == "hi both" {
				break
			}
		}
	}
	// The DM stays a DM: a message in Bob's DM portal reaches Bob alone. Carol's next text must be
	// the next group message, not the DM (messages on one switchboard arrive in order).
	send := func(key networkid.PortalKey, body string) {
		t.Helper()
		if _, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
			Content: &event.MessageEventContent{MsgType: event.MsgText, Body: body}, Portal: portalFor(key),
		}}); err != nil {
			t.Fatalf("send %q: %v", body, err)
		}
	}
	send(dm.GetPortalKey(), "just bob")
	if m, err := bob.NextText(ctx); err != nil || m.Body != "just bob" {
		t.Fatalf("bob got %q, %v; want the DM", m.Body, err)
	}
	send(groupKey, "group again")
	if m, err := carol.NextText(ctx); err != nil || m.Body != "group again" {
		t.Fatalf("carol got %q, %v; want the group message only", m.Body, err)
	}
	// Carol leaves: the roster follows.
	if err := carol.Leave("alice@example.com"); err != nil {
		t.Fatal(err)
	}
	leave := wait(t, h.rec.events, "leave", func(e bridgev2.RemoteEvent) bool {
		return e.GetType() == bridgev2.RemoteEventChatInfoChange && e.GetPortalKey() == groupKey
	}).(*simplevent.ChatInfoChange)
	if ci := leave.ChatInfoChange.ChatInfo; ci == nil || ci.Name == nil || strings.Contains(*ci.Name, "Carol") || !strings.Contains(*ci.Name, "Bob") {
		t.Errorf("group name after carol left = %+v", ci)
	}
	if m, ok := leave.ChatInfoChange.MemberChanges.MemberMap["carol@example.com"]; !ok || m.Membership != event.MembershipLeave {
		t.Errorf("member change = %+v", leave.ChatInfoChange.MemberChanges.MemberMap)
	}
	if roster, _ = h.conn.Store.GroupMembers(ctx, "alice@example.com", string(groupKey.ID)); len(roster) != 1 || roster[0] != "bob@example.com" {
		t.Fatalf("roster after leave = %v", roster)
	}
}

type presenceCall struct {
	key string
	req mautrix.ReqPresence
}

type presenceRec struct {
	key   string
	calls chan presenceCall
}

func (p *presenceRec) SetPresence(_ context.Context, req mautrix.ReqPresence) error {
	p.calls <- presenceCall{p.key, req}
	return nil
}

func TestClientPresenceBridged(t *testing.T) {
	h := newHarness(t, 18)
	calls := make(chan presenceCall, 100)
	h.conn.Config.BridgePresence = true
	h.conn.presence = puppet.NewPusher(puppet.PusherConfig{
		MinInterval: time.Millisecond,
		Resolve: func(_ context.Context, key string) (puppet.PresenceSetter, error) {
			return &presenceRec{key: key, calls: calls}, nil
		},
	})
	h.conn.presence.Start()
	defer h.conn.presence.Stop()
	h.connect(t)
	if err := h.srv.Contact("bob@example.com").SignIn("AWY"); err != nil {
		t.Fatal(err)
	}
	c := wait(t, calls, "bob away", func(c presenceCall) bool {
		return c.key == "bob@example.com" && c.req.Presence == event.PresenceUnavailable
	})
	if c.req.StatusMsg != "Away" {
		t.Errorf("status message = %q", c.req.StatusMsg)
	}
	if err := h.srv.Contact("bob@example.com").SignOut(); err != nil {
		t.Fatal(err)
	}
	wait(t, calls, "bob offline", func(c presenceCall) bool {
		return c.key == "bob@example.com" && c.req.Presence == event.PresenceOffline
	})
	h.rec.mu.Lock()
	name := h.rec.ghosts["bob@example.com"]
	h.rec.mu.Unlock()
	if name != "Bob (MSN)" {
		t.Errorf("ghost name = %q, want %q", name, "Bob (MSN)")
	}
	// When the bridge's session ends (logout, stop), contacts seen online go offline in Matrix
	// instead of being refreshed as online forever.
	if err := h.srv.Contact("carol@example.com").SignIn("NLN"); err != nil {
		t.Fatal(err)
	}
	wait(t, calls, "carol online", func(c presenceCall) bool {
		return c.key == "carol@example.com" && c.req.Presence == event.PresenceOnline
	})
	h.client.Disconnect()
	wait(t, calls, "carol offline after disconnect", func(c presenceCall) bool {
		return c.key == "carol@example.com" && c.req.Presence == event.PresenceOffline
	})
}

func TestClientReplyAndNudgeConvention(t *testing.T) {
	h := newHarness(t, 18)
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob := h.online(t, "bob@example.com")
	bobKey := networkid.PortalKey{ID: "bob@example.com", Receiver: "alice@example.com"}
	_, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{
		MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
			Content: &event.MessageEventContent{MsgType: event.MsgText, Body: "answer",
				RelatesTo: &event.RelatesTo{InReplyTo: &event.InReplyTo{EventID: "$q"}}},
			Portal: portalFor(bobKey),
		},
		ReplyTo: &bridgedb.Message{Metadata: &database.MessageMetadata{Snippet: "earlier question", SenderName: "Bob"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := bob.NextText(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(m.Body, "\r\n", "\n"); got != "> Bob: earlier question\nanswer" {
		t.Fatalf("bob got %q", got)
	}
	// "/nudge" sends a nudge, not text.
	if _, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content: &event.MessageEventContent{MsgType: event.MsgText, Body: "/nudge"}, Portal: portalFor(bobKey),
	}}); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := bob.Next(ctx)
		if err != nil {
			t.Fatalf("no nudge: %v", err)
		}
		if strings.Contains(m.ContentType, "datacast") {
			if !strings.Contains(m.Body, "ID: 1") {
				t.Fatalf("datacast is not a nudge: %q", m.Body)
			}
			break
		}
		if strings.Contains(m.Body, "/nudge") {
			t.Fatalf("/nudge was sent as text")
		}
	}
}

func TestClientCreateGroup(t *testing.T) {
	h := newHarness(t, 18)
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob, carol := h.online(t, "bob@example.com"), h.online(t, "carol@example.com")
	if _, err := h.client.CreateGroup(ctx, &bridgev2.GroupCreateParams{Participants: []networkid.UserID{"bob@example.com"}}); err == nil {
		t.Fatal("group with one contact accepted")
	}
	resp, err := h.client.CreateGroup(ctx, &bridgev2.GroupCreateParams{Participants: []networkid.UserID{"bob@example.com", "carol@example.com", "bob@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if !isGroupPortal(resp.PortalKey.ID) || resp.PortalInfo == nil || len(resp.PortalInfo.Members.MemberMap) != 3 {
		t.Fatalf("create group = %+v", resp)
	}
	if _, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content: &event.MessageEventContent{MsgType: event.MsgText, Body: "welcome all"}, Portal: portalFor(resp.PortalKey),
	}}); err != nil {
		t.Fatalf("first group message: %v", err)
	}
	for _, c := range []*msntest.Contact{bob, carol} {
		m, err := c.NextText(ctx)
		if err != nil || m.Body != "welcome all" {
			t.Fatalf("%s got %+v, %v", c.Passport(), m, err)
		}
	}
}
