//go:build e2e

package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/msnbridge/msnbridge/e2e/yamledit"
)

// The contacts of the encrypted journey: alice's contacts that no other test talks to, so that
// their portals are created while encryption is on.
const (
	erin  = "erin@example.com"
	frank = "frank@example.com"
	gina  = "gina@example.com"
)

// setBridgeEncryption restarts the bridge with encryption allowed and on by default (or back
// to the harness's setting, off).
func setBridgeEncryption(t *testing.T, on bool) {
	t.Helper()
	restartBridgeWith(t, map[string]any{"encryption.allow": on, "encryption.default": on})
}

// restartBridgeWith writes settings (dotted config paths) into the bridge's config and restarts
// the bridge with it.
func restartBridgeWith(t *testing.T, settings map[string]any) {
	t.Helper()
	doc, err := yamledit.Read(w.bridge.config)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range settings {
		if err := doc.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := doc.Write(w.bridge.config); err != nil {
		t.Fatal(err)
	}
	w.bridge.stop()
	if err := w.bridge.start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// newCryptoUser is a Matrix user whose client really encrypts and decrypts (mautrix's crypto
// helper with pure-Go Olm): its /sync runs through the crypto machine, and decrypted events are
// recorded like the plain client's events, so the journey's matchers see the plaintext.
func newCryptoUser(t *testing.T, dir string) *matrixUser {
	t.Helper()
	ctx, cancel := reqCtx()
	defer cancel()
	u, err := newMatrixUser(w.hs.URL, registerUser(t, "e2e-crypto-"))
	if err != nil {
		t.Fatal(err)
	}
	helper, err := cryptohelper.NewCryptoHelper(u.cli, []byte("e2e-pickle-key"), filepath.Join(dir, "crypto.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Init(ctx); err != nil {
		t.Fatal(err)
	}
	u.cli.Crypto = helper
	syncer := u.cli.Syncer.(*mautrix.DefaultSyncer)
	syncer.OnEvent(func(ctx context.Context, evt *event.Event) {
		src := evt.Mautrix.EventSource
		var kind seenKind
		switch {
		case src&event.SourceInvite != 0:
			kind = kindInvite
		case src&event.SourceEphemeral != 0:
			kind = kindEphemeral
		case src&event.SourcePresence != 0:
			kind = kindPresence
		case src&event.SourceAccountData != 0:
			kind = kindAccount
		case src&event.SourceTimeline != 0:
			kind = kindTimeline
		default:
			kind = kindState
		}
		if kind == kindInvite && evt.Type == event.StateMember && evt.GetStateKey() == u.ID.String() {
			go func(room id.RoomID) { // accept every invite, like the plain client
				jctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_, _ = u.cli.JoinRoomByID(jctx, room)
			}(evt.RoomID)
		}
		u.mu.Lock()
		u.events = append(u.events, seen{Kind: kind, Room: evt.RoomID, Event: evt})
		close(u.changed)
		u.changed = make(chan struct{})
		u.mu.Unlock()
	})
	syncCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for syncCtx.Err() == nil {
			if err := u.cli.SyncWithContext(syncCtx); err != nil && syncCtx.Err() == nil {
				u.mu.Lock()
				u.syncErr = err
				u.mu.Unlock()
				select {
				case <-syncCtx.Done():
				case <-time.After(500 * time.Millisecond): // back off before retrying a failed /sync
				}
			}
		}
	}()
	u.cancel, u.done = stop, done
	t.Cleanup(func() { _ = helper.Close() })
	return u
}

// TestEncryptedJourney runs the journey's core steps in encrypted portals: the bridge with
// encryption allowed and on by default, a Matrix client that encrypts and decrypts for real.
func TestEncryptedJourney(t *testing.T) {
	setBridgeEncryption(t, true)
	defer setBridgeEncryption(t, false)
	actAs(t, newCryptoUser(t, t.TempDir()))

	j := loggedInJourney(t)
	var room id.RoomID
	if !j.step("incoming-dm", func(t *testing.T) { room = encIncomingDM(t) }) {
		t.Fatal("no encrypted DM: cannot continue")
	}
	j.step("reply", func(t *testing.T) { encReply(t, room) })
	j.step("typing-in", func(t *testing.T) { typingFrom(t, erin, room) })
	j.step("typing-out", func(t *testing.T) { typingTo(t, erin, room) })
	j.step("nudge-in", func(t *testing.T) { encNudgeIn(t, room) })
	j.step("nudge-out", func(t *testing.T) { encNudgeOut(t, room) })
	j.step("long-message-in", func(t *testing.T) { encLongIn(t, room) })
	j.step("long-message-out", func(t *testing.T) { longMessageTo(t, erin, room) })
	j.step("failure-notice", func(t *testing.T) { encRefused(t, room) })
	j.step("offline-message", func(t *testing.T) { encOffline(t, j) })
	j.step("group", func(t *testing.T) { encGroup(t, room) })
	j.step("logout", j.logout)
}

// encrypted says whether a room has encryption on, as the client's state store knows it.
func encrypted(t *testing.T, room id.RoomID) bool {
	t.Helper()
	ctx, cancel := reqCtx()
	defer cancel()
	on, err := w.user.cli.StateStore.IsEncrypted(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	return on
}

// decrypted matches a message that arrived encrypted and was decrypted by the client.
func decrypted(room id.RoomID, sender id.UserID, body func(string) bool) func(seen) bool {
	m := message(room, sender, body)
	return func(s seen) bool { return m(s) && s.Event.Mautrix.EventSource&event.SourceDecrypted != 0 }
}

func encIncomingDM(t *testing.T) id.RoomID {
	u := w.user
	ghost := w.bridge.ghost(erin, w.hs.ServerName)
	cur := u.mark()
	text := "Hello from MSN, in an encrypted room!"
	if err := w.fake.say(erin, alice, text, nil); err != nil {
		t.Fatal(err)
	}
	msg := u.expect(t, cur, long, "erin's message, decrypted", decrypted("", ghost, equals(text)))
	invite := u.all(cur, func(s seen) bool {
		return s.Kind == kindInvite && s.Room == msg.Room && s.Event.Type == event.StateMember && s.Event.GetStateKey() == u.ID.String()
	})
	if len(invite) == 0 || invite[0].Event.Content.Raw["is_direct"] != true {
		t.Errorf("the invite to the DM portal has no is_direct: %v", invite)
	}
	if !encrypted(t, msg.Room) {
		t.Errorf("the DM portal %s is not encrypted", msg.Room)
	}
	return msg.Room
}

func encReply(t *testing.T, room id.RoomID) {
	since, err := w.fake.receivedCount(erin)
	if err != nil {
		t.Fatal(err)
	}
	text := "Hi Erin, this went through Megolm."
	cur := w.user.mark()
	send(t, room, text)
	// The client sent it encrypted: the room shows only the encrypted event.
	w.user.expect(t, cur, short, "the encrypted reply in the timeline", func(s seen) bool {
		return s.Room == room && s.Kind == kindTimeline && s.Event.Type == event.EventEncrypted && s.Event.Sender == w.user.ID
	})
	if _, err := w.fake.expectReceived(erin, since, short, "alice's encrypted reply", func(it receivedItem) bool {
		return it.Kind == "text" && it.Text == text && strings.EqualFold(it.From, alice)
	}); err != nil {
		t.Fatal(err)
	}
}

func encNudgeIn(t *testing.T, room id.RoomID) {
	cur := w.user.mark()
	if err := w.fake.nudge(erin, alice); err != nil {
		t.Fatal(err)
	}
	w.user.expect(t, cur, short, "erin's nudge, decrypted", decrypted(room, w.bridge.ghost(erin, w.hs.ServerName), contains("nudge")))
}

func encNudgeOut(t *testing.T, room id.RoomID) {
	since, err := w.fake.receivedCount(erin)
	if err != nil {
		t.Fatal(err)
	}
	cur := w.user.mark()
	send(t, room, "/nudge")
	if _, err := w.fake.expectReceived(erin, since, short, "a nudge", func(it receivedItem) bool { return it.Kind == "nudge" }); err != nil {
		t.Fatal(err)
	}
	w.user.expect(t, cur, short, "the sent-nudge notice, decrypted", decrypted(room, w.bridge.Bot, equals("You sent Erin a nudge.")))
}

func encLongIn(t *testing.T, room id.RoomID) {
	text := mixedText(5000)
	ghost := w.bridge.ghost(erin, w.hs.ServerName)
	cur := w.user.mark()
	if err := w.fake.say(erin, alice, text, nil); err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for got.Len() < len(text) {
		msg := w.user.expect(t, cur, short, "part of the long message, decrypted", decrypted(room, ghost, func(string) bool { return true }))
		got.WriteString(msg.str("body"))
		cur = indexAfter(msg)
	}
	if !sameText(t, got.String(), text) {
		t.Fatalf("5000-character message arrived altered: %d bytes, want %d", got.Len(), len(text))
	}
}

// encRefused: a failure (an edit MSN cannot carry) comes back as a notice the client decrypts.
func encRefused(t *testing.T, room id.RoomID) {
	cur := w.user.mark()
	orig := send(t, room, "a message to edit")
	ctx, cancel := reqCtx()
	defer cancel()
	content := &event.MessageEventContent{MsgType: event.MsgText, Body: "* edited"}
	content.SetEdit(orig)
	if _, err := w.user.cli.SendMessageEvent(ctx, room, event.EventMessage, content); err != nil {
		t.Fatal(err)
	}
	w.user.expect(t, cur, short, "the failure notice for the edit, decrypted", decrypted(room, w.bridge.Bot, contains("edit")))
}

func encOffline(t *testing.T, j *journey) {
	room := j.openDM(t, gina)
	if !encrypted(t, room) {
		t.Errorf("the DM portal with gina is not encrypted")
	}
	since, err := w.fake.receivedCount(gina)
	if err != nil {
		t.Fatal(err)
	}
	cur := w.user.mark()
	text := "Gina, read this when you are back."
	send(t, room, text)
	w.user.expect(t, cur, short, "the offline notice, decrypted", decrypted(room, "", contains("offline")))
	if _, err := w.fake.expectReceived(gina, since, short, "an offline message", func(it receivedItem) bool {
		return it.Kind == "oim" && it.Text == text
	}); err != nil {
		t.Fatal(err)
	}
}

func encGroup(t *testing.T, dm id.RoomID) {
	u := w.user
	frankGhost := w.bridge.ghost(frank, w.hs.ServerName)
	if err := w.fake.join(frank, alice, erin); err != nil {
		t.Fatal(err)
	}
	cur := u.mark()
	text := "Frank here, hi both!"
	if err := w.fake.sayIn(frank, alice, erin, text); err != nil {
		t.Fatal(err)
	}
	msg := u.expect(t, cur, long, "frank's message in a group room, decrypted", decrypted("", frankGhost, equals(text)))
	if msg.Room == dm {
		t.Fatal("a third participant turned erin's DM room into a group")
	}
	if !encrypted(t, msg.Room) {
		t.Errorf("the group portal %s is not encrypted", msg.Room)
	}
	since := receivedCounts(t, erin, frank)
	answer := "Welcome, Frank - encrypted on Matrix."
	send(t, msg.Room, answer)
	expectFromAlice(t, answer, since)
	for _, c := range []string{frank, erin} {
		if err := w.fake.leave(c, alice); err != nil {
			t.Fatal(err)
		}
	}
}
