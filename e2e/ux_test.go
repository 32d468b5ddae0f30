//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// TestRoomsFeelRight checks what a Matrix user sees of the bridge's rooms: DM invites filed as
// direct chats, "/nudge" from a client without the command shown as the nudge notice,
// create-group bridging the room it is run in, and one space per login across logout and login.
// It runs as a Matrix user of its own (its own management room), who leaves space invites
// pending like a user who ignores them.
func TestRoomsFeelRight(t *testing.T) {
	u, err := newMatrixUser(w.hs.URL, registerUser(t, "e2e-ux-"))
	if err != nil {
		t.Fatal(err)
	}
	u.leaveInvited = isSpaceState
	u.start()
	actAs(t, u)

	j := loggedInJourney(t)
	var carolRoom id.RoomID
	j.step("dm-invite-is-direct", func(t *testing.T) { carolRoom = j.dmInviteIsDirect(t) })
	j.step("slash-nudge-shown-as-nudge", func(t *testing.T) { j.slashNudge(t, carolRoom) })
	j.step("create-group-bridges-this-room", j.createGroupHere)
	j.step("one-space-after-relogin", j.oneSpaceAfterRelogin)
	j.step("logout", j.logout)
}

// loggedInJourney opens the acting user's management room and logs alice in (the journey's
// first steps), failing the test when that is not possible.
func loggedInJourney(t *testing.T) *journey {
	j := &journey{t: t}
	if !j.step("management-room", func(t *testing.T) { j.mgmt = j.botDM(t) }) {
		t.Fatal("no management room: cannot continue")
	}
	if !j.step("login", j.login) {
		t.Fatal("login failed: cannot continue")
	}
	j.step("list-logins", j.listLogins)
	return j
}

// registerUser registers a fresh Matrix user whose name starts with prefix.
func registerUser(t *testing.T, prefix string) *registeredUser {
	t.Helper()
	ctx, cancel := reqCtx()
	defer cancel()
	stamp := fmt.Sprint(time.Now().UnixNano())
	reg, err := w.hs.register(ctx, prefix+stamp, "matrix-pw-"+stamp, false)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// actAs makes u the Matrix user the journey helpers act as (w.user) until the test ends, then
// stops its /sync and restores the previous user.
func actAs(t *testing.T, u *matrixUser) {
	prev := w.user
	w.user = u
	t.Cleanup(func() { w.user = prev; u.stop() })
}

// expectFromAlice waits until every contact in since (passport → received count before) got
// text from alice.
func expectFromAlice(t *testing.T, text string, since map[string]int) {
	t.Helper()
	for passport, n := range since {
		if _, err := w.fake.expectReceived(passport, n, short, "alice's message to "+passport, func(it receivedItem) bool {
			return it.Kind == "text" && it.Text == text && strings.EqualFold(it.From, alice)
		}); err != nil {
			t.Error(err)
		}
	}
}

// receivedCounts returns each contact's received count, for expectFromAlice.
func receivedCounts(t *testing.T, passports ...string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, p := range passports {
		n, err := w.fake.receivedCount(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = n
	}
	return out
}

// isSpaceState says whether an invite's stripped state is that of a space.
func isSpaceState(state []*event.Event) bool {
	for _, e := range state {
		if e.Type == event.StateCreate {
			typ, _ := e.Content.Raw["type"].(string)
			return typ == string(event.RoomTypeSpace)
		}
	}
	return false
}

func (j *journey) dmInviteIsDirect(t *testing.T) id.RoomID {
	u := w.user
	cur := u.mark()
	room := j.openDM(t, carol)
	invites := u.all(cur, func(s seen) bool {
		return s.Kind == kindInvite && s.Room == room && s.Event.Type == event.StateMember &&
			s.Event.GetStateKey() == u.ID.String() && s.str("membership") == "invite"
	})
	if len(invites) == 0 {
		t.Fatalf("no invite to the DM room %s seen", room)
	}
	for _, inv := range invites {
		if inv.Event.Content.Raw["is_direct"] != true {
			t.Errorf("the invite to the DM portal has no is_direct: %v", inv.Event.Content.Raw)
		}
	}
	return room
}

func (j *journey) slashNudge(t *testing.T, room id.RoomID) {
	if room == "" {
		t.Fatal("no DM room with carol")
	}
	u := w.user
	since, err := w.fake.receivedCount(carol)
	if err != nil {
		t.Fatal(err)
	}
	cur := u.mark()
	evt := send(t, room, "/nudge")
	if _, err := w.fake.expectReceived(carol, since, short, "a nudge", func(it receivedItem) bool { return it.Kind == "nudge" }); err != nil {
		t.Fatal(err)
	}
	u.expect(t, cur, short, "the sent-nudge notice", func(s seen) bool {
		return message(room, w.bridge.Bot, equals("You sent Carol a nudge."))(s) && s.str("msgtype") == "m.notice"
	})
	u.expect(t, cur, short, "the redaction of the /nudge text", func(s seen) bool {
		if s.Room != room || s.Event.Type != event.EventRedaction {
			return false
		}
		return s.Event.Redacts == evt || s.str("redacts") == evt.String()
	})
	if texts, _, err := w.fake.received(carol, since, 0); err == nil {
		for _, it := range texts {
			if it.Kind == "text" && strings.Contains(it.Text, "/nudge") {
				t.Errorf("carol got /nudge as text")
			}
		}
	}
}

func (j *journey) createGroupHere(t *testing.T) {
	u := w.user
	bobGhost, carolGhost := w.bridge.ghost(bob, w.hs.ServerName), w.bridge.ghost(carol, w.hs.ServerName)
	ctx, cancel := reqCtx()
	defer cancel()
	cur := u.mark()
	resp, err := u.cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset: "private_chat",
		Name:   "Bob, Carol and me",
		Invite: []id.UserID{w.bridge.Bot, bobGhost, carolGhost},
	})
	if err != nil {
		t.Fatal(err)
	}
	room := resp.RoomID
	u.expect(t, cur, short, "the bot joining the room", func(s seen) bool {
		return s.Room == room && s.Event.Type == event.StateMember && s.Event.GetStateKey() == w.bridge.Bot.String() && s.str("membership") == "join"
	})
	before, err := u.cli.JoinedRooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cur = u.mark()
	send(t, room, w.bridge.cmdPrefix+" create-group")
	u.expect(t, cur, short, "the bot's answer to create-group", message(room, w.bridge.Bot, contains("created group")))
	for _, g := range []id.UserID{bobGhost, carolGhost} {
		u.expect(t, cur, short, "ghost "+g.String()+" joining the room", func(s seen) bool {
			return s.Room == room && s.Event.Type == event.StateMember && s.Event.GetStateKey() == g.String() && s.str("membership") == "join"
		})
	}
	// The room is the group conversation: a message in it reaches both contacts.
	since := receivedCounts(t, bob, carol)
	text := "Hello both, from the room I set up."
	send(t, room, text)
	expectFromAlice(t, text, since)
	// No second room: no invite to any other room but a space, and no new joined room.
	if others := u.all(cur, func(s seen) bool {
		return s.Kind == kindInvite && s.Room != room && s.Event.Type == event.StateCreate && !isSpaceState([]*event.Event{s.Event})
	}); len(others) > 0 {
		t.Errorf("create-group invited the user to another room: %v", others[0])
	}
	after, err := u.cli.JoinedRooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.JoinedRooms) != len(before.JoinedRooms) {
		t.Errorf("joined rooms went from %d to %d: create-group made a second room", len(before.JoinedRooms), len(after.JoinedRooms))
	}
}

// spaceView is what a client keeps of the user's spaces from /sync: the spaces the user is in
// or invited to, updated by each incremental /sync the way a client updates its room list
// (a client never re-reads the full list, so a stale invite stays until a leave arrives).
type spaceView struct {
	rooms map[id.RoomID]bool
	since string
}

// sync applies one /sync (the initial one when since is empty) to the view.
func (v *spaceView) sync(t *testing.T) {
	t.Helper()
	ctx, cancel := reqCtx()
	defer cancel()
	resp, err := w.user.cli.SyncRequest(ctx, 0, v.since, "", false, event.PresenceOffline)
	if err != nil {
		t.Fatal(err)
	}
	if v.rooms == nil {
		v.rooms = map[id.RoomID]bool{}
	}
	for room, r := range resp.Rooms.Join {
		if isSpaceState(r.State.Events) || isSpaceState(r.Timeline.Events) {
			v.rooms[room] = true
		}
	}
	for room, r := range resp.Rooms.Invite {
		if isSpaceState(r.State.Events) {
			v.rooms[room] = true
		}
	}
	for room := range resp.Rooms.Leave {
		delete(v.rooms, room)
	}
	v.since = resp.NextBatch
}

func (v *spaceView) list() []id.RoomID {
	out := make([]id.RoomID, 0, len(v.rooms))
	for r := range v.rooms {
		out = append(out, r)
	}
	return out
}

func (j *journey) oneSpaceAfterRelogin(t *testing.T) {
	u := w.user
	var view spaceView
	eventually(t, short, "the login's space", func() error {
		view = spaceView{}
		view.sync(t)
		if n := len(view.rooms); n != 1 {
			return fmt.Errorf("%d spaces", n)
		}
		return nil
	})
	j.logout(t)
	cur := u.mark()
	j.login(t)
	// A message from a contact puts its portal into the new login's space, which creates it.
	text := "Welcome back!"
	if err := w.fake.say(carol, alice, text, nil); err != nil {
		t.Fatal(err)
	}
	u.expect(t, cur, short, "carol's message after the new login", message("", w.bridge.ghost(carol, w.hs.ServerName), equals(text)))
	u.expect(t, cur, short, "the new login's space invite", func(s seen) bool {
		return s.Kind == kindInvite && s.Event.Type == event.StateCreate && isSpaceState([]*event.Event{s.Event})
	})
	view.sync(t)
	if got := view.list(); len(got) != 1 {
		t.Fatalf("after logout and login the user has %d spaces: %v", len(got), got)
	}
	j.listLogins(t) // the new login's ID, for the final logout
}
