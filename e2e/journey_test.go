//go:build e2e

package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// TestJourney drives one Matrix user through the bridge, step by step, as a person would.
func TestJourney(t *testing.T) {
	j := &journey{t: t}
	if !j.step("management-room", func(t *testing.T) { j.mgmt = j.botDM(t) }) {
		t.Fatal("no management room: cannot continue")
	}
	j.step("login-wrong-password", j.loginWrongPassword)
	if !j.step("login", j.login) {
		t.Fatal("login failed: cannot continue")
	}
	j.step("list-logins", j.listLogins)
	j.step("ghost-profiles", j.ghostProfiles)
	if j.step("incoming-dm", j.incomingDM) {
		j.step("presence", j.presence) // Synapse shows presence only to users sharing a room
		j.step("reply", j.reply)
		j.step("typing-in", j.typingIn)
		j.step("typing-out", j.typingOut)
		j.step("nudge-in", j.nudgeIn)
		j.step("nudge-out", j.nudgeOut)
		j.step("edit-reaction-refused", j.refusedEvents)
		j.step("group-join", j.groupJoin)
		j.step("long-message-in", j.longMessageIn)
		j.step("long-message-out", j.longMessageOut)
		j.step("bridge-restart-oim", j.bridgeRestartOIM)
		j.step("server-restart", j.serverRestart)
	}
	j.step("echo-contact", j.echoContact)
	j.step("offline-oim", j.offlineOIM)
	j.step("logout", j.logout)
	j.step("no-password-in-log", j.noPasswordInLog)
}

// isFailure says whether a bot reply reports a failed login.
func isFailure(s string) bool {
	s = strings.ToLower(s)
	for _, w := range []string{"fail", "wrong", "invalid", "incorrect", "error", "denied"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

var flowRe = regexp.MustCompile("`login ([a-z0-9_-]+)`")

// doLogin runs the bot's login dialogue and returns the bot's final answer.
func (j *journey) doLogin(t *testing.T, passport, password string) seen {
	t.Helper()
	reply, typed := loginDialogue(t, w.user, j.mgmt, passport, password)
	j.passwordIn = j.passwordIn || typed
	return reply
}

// loginDialogue runs u's login dialogue with the bot in mgmt and returns the bot's final
// answer and whether the password was typed in Matrix.
func loginDialogue(t *testing.T, u *matrixUser, mgmt id.RoomID, passport, password string) (seen, bool) {
	t.Helper()
	typed := false
	cur := u.mark()
	sendAs(t, u, mgmt, "login")
	for range 8 {
		reply := u.expect(t, cur, short, "bot reply during login", message(mgmt, w.bridge.Bot, func(string) bool { return true }))
		cur = u.indexAfter(reply)
		body := strings.ToLower(reply.str("body"))
		prompt, _, _ := strings.Cut(strings.TrimPrefix(body, "please enter your "), "\n")
		switch {
		case isFailure(body), strings.Contains(body, "logged in"):
			return reply, typed
		case flowRe.MatchString(body):
			sendAs(t, u, mgmt, "login "+flowRe.FindStringSubmatch(body)[1])
		case !strings.HasPrefix(body, "please enter your "):
			continue // instructions and other chatter: wait for the prompt
		case strings.Contains(prompt, "password"):
			typed = true
			sendAs(t, u, mgmt, password)
		case strings.Contains(prompt, "passport"), strings.Contains(prompt, "mail"):
			sendAs(t, u, mgmt, passport)
		default:
			t.Fatalf("unexpected login prompt: %q", reply.str("body"))
		}
	}
	t.Fatalf("login dialogue did not end after 8 bot messages")
	return seen{}, typed
}

func (j *journey) loginWrongPassword(t *testing.T) {
	reply := j.doLogin(t, alice, wrongPassword)
	if !isFailure(reply.str("body")) {
		t.Fatalf("login with a wrong password answered %q, want a failure", reply.str("body"))
	}
	if !strings.Contains(strings.ToLower(reply.str("body")), "password") {
		t.Errorf("failure %q does not tell the user the password is wrong", reply.str("body"))
	}
	j.command(t, "list-logins", contains("not logged in"))
}

func (j *journey) login(t *testing.T) {
	reply := j.doLogin(t, alice, alicePassword)
	if isFailure(reply.str("body")) {
		t.Fatalf("login failed: %q", reply.str("body"))
	}
	eventually(t, short, "alice signed in on the fake server", func() error { return w.fake.signedIn(alice, true) })
}

var backticked = regexp.MustCompile("`([^`]+)`")

func (j *journey) listLogins(t *testing.T) {
	reply := j.command(t, "list-logins", contains(alice))
	m := backticked.FindStringSubmatch(reply.str("body"))
	if m == nil {
		t.Fatalf("list-logins answer %q has no login ID", reply.str("body"))
	}
	j.loginID = m[1]
}

func (j *journey) ghostProfiles(t *testing.T) {
	for _, c := range []struct{ passport, name string }{{bob, "Bob Builder"}, {carol, "Carol"}, {echoContact, "Echo"}} {
		ghost := w.bridge.ghost(c.passport, w.hs.ServerName)
		eventually(t, short, "ghost profile of "+c.passport, func() error {
			ctx, cancel := reqCtx()
			defer cancel()
			p, err := w.user.cli.GetProfile(ctx, ghost)
			if err != nil {
				return err
			}
			if !strings.Contains(p.DisplayName, c.name) {
				return fmt.Errorf("display name %q does not contain %q", p.DisplayName, c.name)
			}
			return nil
		})
	}
}

// ghostPresence waits until the ghost's Matrix presence satisfies want. The bridge pushes a
// ghost's presence at most every few seconds, so this waits longer than one hop.
func ghostPresence(t *testing.T, passport string, what string, want func(presence event.Presence, statusMsg string) bool) {
	ghostPresenceWithin(t, long, passport, what, want)
}

// ghostPresenceWithin is ghostPresence with its own deadline.
func ghostPresenceWithin(t *testing.T, timeout time.Duration, passport string, what string, want func(presence event.Presence, statusMsg string) bool) {
	ghost := w.bridge.ghost(passport, w.hs.ServerName)
	eventually(t, timeout, what, func() error {
		ctx, cancel := reqCtx()
		defer cancel()
		p, err := w.user.cli.GetPresence(ctx, ghost)
		if err != nil {
			return err
		}
		if !want(p.Presence, p.StatusMsg) {
			return fmt.Errorf("presence %q, status %q", p.Presence, p.StatusMsg)
		}
		return nil
	})
}

func (j *journey) presence(t *testing.T) {
	ghostPresence(t, bob, "bob online with his personal message", func(p event.Presence, msg string) bool {
		return p == event.PresenceOnline && msg == "Can we fix it?"
	})
	if err := w.fake.presence(bob, "AWY", "Gone fishing", ""); err != nil {
		t.Fatal(err)
	}
	ghostPresence(t, bob, "bob away with his new personal message", func(p event.Presence, msg string) bool {
		return p == event.PresenceUnavailable && strings.Contains(msg, "Gone fishing")
	})
	// Signing out shows as offline; the later steps need bob online again.
	if err := w.fake.presence(bob, "FLN", "", ""); err != nil {
		t.Fatal(err)
	}
	// Within 20 s: Synapse itself turns a ghost offline 30 s after the bridge's last push
	// (sync_online_timeout); the away state was pushed just now, so only the bridge relaying FLN
	// can pass this.
	ghostPresenceWithin(t, short, bob, "bob offline after signing out", func(p event.Presence, _ string) bool { return p == event.PresenceOffline })
	if err := w.fake.presence(bob, "NLN", "", ""); err != nil {
		t.Fatal(err)
	}
	ghostPresence(t, bob, "bob back online", func(p event.Presence, _ string) bool { return p == event.PresenceOnline })
}

func (j *journey) incomingDM(t *testing.T) {
	u := w.user
	ghost := w.bridge.ghost(bob, w.hs.ServerName)
	cur := u.mark()
	text := "Hello from MSN, Alice!"
	if err := w.fake.say(bob, alice, text, &msgFormat{Font: "Comic Sans MS", Color: "ff0000", Bold: true}); err != nil {
		t.Fatal(err)
	}
	msg := u.expect(t, cur, short, "bob's message", message("", ghost, equals(text)))
	j.bobRoom = msg.Room
	if j.bobRoom == j.mgmt {
		t.Fatal("bob's message arrived in the management room")
	}
	formatted := msg.str("formatted_body")
	if !strings.Contains(formatted, "<strong>") && !strings.Contains(formatted, "<b>") {
		t.Errorf("bold MSN text lost its formatting: formatted_body %q", formatted)
	}
	if !strings.Contains(strings.ToLower(formatted), "#ff0000") {
		t.Errorf("red MSN text lost its colour: formatted_body %q", formatted)
	}
	ctx, cancel := reqCtx()
	defer cancel()
	members, err := u.cli.JoinedMembers(ctx, j.bobRoom)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := members.Joined[ghost]; !ok {
		t.Errorf("bob's ghost is not in the DM room (members %v)", keys(members.Joined))
	}
	self := w.bridge.ghost(alice, w.hs.ServerName) // the login's own ghost may sit in its rooms
	for m := range members.Joined {
		if m != ghost && m != u.ID && m != w.bridge.Bot && m != self {
			t.Errorf("unexpected member %s in the DM room", m)
		}
	}
}

func keys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (j *journey) reply(t *testing.T) {
	since, err := w.fake.receivedCount(bob)
	if err != nil {
		t.Fatal(err)
	}
	text := "Hi Bob, this is Alice writing from Matrix."
	send(t, j.bobRoom, text)
	if _, err := w.fake.expectReceived(bob, since, short, "alice's reply", func(it receivedItem) bool {
		return it.Kind == "text" && it.Text == text && strings.EqualFold(it.From, alice)
	}); err != nil {
		t.Fatal(err)
	}
}

func (j *journey) typingIn(t *testing.T) { typingFrom(t, bob, j.bobRoom) }

// typingFrom checks that a contact typing on MSN shows as its ghost typing in room.
func typingFrom(t *testing.T, contact string, room id.RoomID) {
	ghost := w.bridge.ghost(contact, w.hs.ServerName)
	cur := w.user.mark()
	if err := w.fake.typing(contact, alice); err != nil {
		t.Fatal(err)
	}
	w.user.expect(t, cur, short, contact+" typing in the room", func(s seen) bool {
		if s.Kind != kindEphemeral || s.Room != room || s.Event.Type != event.EphemeralEventTyping {
			return false
		}
		ids, _ := s.Event.Content.Raw["user_ids"].([]any)
		for _, v := range ids {
			if v == ghost.String() {
				return true
			}
		}
		return false
	})
}

func (j *journey) typingOut(t *testing.T) { typingTo(t, bob, j.bobRoom) }

// typingTo checks that the user typing in room reaches the contact as a typing notification.
func typingTo(t *testing.T, contact string, room id.RoomID) {
	since, err := w.fake.receivedCount(contact)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := reqCtx()
	defer cancel()
	if _, err := w.user.cli.UserTyping(ctx, room, true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := w.fake.expectReceived(contact, since, short, "a typing notification", func(it receivedItem) bool {
		return it.Kind == "typing"
	}); err != nil {
		t.Fatal(err)
	}
	_, _ = w.user.cli.UserTyping(ctx, room, false, 0)
}

func (j *journey) nudgeIn(t *testing.T) {
	ghost := w.bridge.ghost(bob, w.hs.ServerName)
	cur := w.user.mark()
	if err := w.fake.nudge(bob, alice); err != nil {
		t.Fatal(err)
	}
	w.user.expect(t, cur, short, "bob's nudge in the DM room", message(j.bobRoom, ghost, contains("nudge")))
}

func (j *journey) nudgeOut(t *testing.T) {
	since, err := w.fake.receivedCount(bob)
	if err != nil {
		t.Fatal(err)
	}
	// A Matrix user nudges with the bridge command in the portal room.
	send(t, j.bobRoom, w.bridge.cmdPrefix+" nudge")
	if _, err := w.fake.expectReceived(bob, since, short, "a nudge", func(it receivedItem) bool {
		return it.Kind == "nudge"
	}); err != nil {
		t.Fatal(err)
	}
}

func (j *journey) groupJoin(t *testing.T) {
	u := w.user
	carolGhost := w.bridge.ghost(carol, w.hs.ServerName)
	bobGhost := w.bridge.ghost(bob, w.hs.ServerName)
	if err := w.fake.join(carol, alice, bob); err != nil {
		t.Fatal(err)
	}
	cur := u.mark()
	text := "Carol here, hi both of you!"
	if err := w.fake.sayIn(carol, alice, bob, text); err != nil {
		t.Fatal(err)
	}
	msg := u.expect(t, cur, short, "carol's message in a group room", message("", carolGhost, equals(text)))
	if msg.Room == j.bobRoom {
		t.Fatal("a third participant turned bob's DM room into a group")
	}
	j.groupRoom = msg.Room
	ctx, cancel := reqCtx()
	defer cancel()
	members, err := u.cli.JoinedMembers(ctx, j.groupRoom)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []id.UserID{bobGhost, carolGhost, u.ID} {
		if _, ok := members.Joined[g]; !ok {
			t.Errorf("%s is not in the group room (members %v)", g, keys(members.Joined))
		}
	}
	// Bob speaks in the same conversation: his message lands in the group room, from his ghost.
	cur = u.mark()
	text = "Bob here too, welcome Carol!"
	if err := w.fake.sayIn(bob, alice, carol, text); err != nil {
		t.Fatal(err)
	}
	if msg := u.expect(t, cur, short, "bob's message in the group room", message("", bobGhost, equals(text))); msg.Room != j.groupRoom {
		t.Errorf("bob's group message went to %s, not the group room %s (bob's DM room is %s)", msg.Room, j.groupRoom, j.bobRoom)
	}
	// The user's answer in the group room reaches both contacts, from alice.
	sinceCarol, err := w.fake.receivedCount(carol)
	if err != nil {
		t.Fatal(err)
	}
	sinceBob, err := w.fake.receivedCount(bob)
	if err != nil {
		t.Fatal(err)
	}
	answer := "Welcome to the group, Carol."
	send(t, j.groupRoom, answer)
	for _, c := range []struct {
		passport string
		since    int
	}{{carol, sinceCarol}, {bob, sinceBob}} {
		if _, err := w.fake.expectReceived(c.passport, c.since, short, "alice's group message", func(it receivedItem) bool {
			return it.Kind == "text" && it.Text == answer && strings.EqualFold(it.From, alice)
		}); err != nil {
			t.Error(err)
		}
	}
	// Both contacts leave the group conversation, so that bob's next message opens a 1:1 one.
	cur = u.mark()
	for _, c := range []string{carol, bob} {
		if err := w.fake.leave(c, alice); err != nil {
			t.Fatal(err)
		}
	}
	u.expect(t, cur, short, "carol leaving the group room", func(s seen) bool {
		return s.Room == j.groupRoom && s.Event.Type == event.StateMember &&
			s.Event.GetStateKey() == carolGhost.String() && s.str("membership") == "leave"
	})
	cur = u.mark()
	text = "Back to just the two of us."
	if err := w.fake.say(bob, alice, text, nil); err != nil {
		t.Fatal(err)
	}
	if msg := u.expect(t, cur, short, "bob's next 1:1 message", message("", bobGhost, equals(text))); msg.Room != j.bobRoom {
		t.Errorf("bob's 1:1 message after the group went to %s, not his DM room %s", msg.Room, j.bobRoom)
	}
}

// mixedText returns a message of exactly n characters mixing scripts: Latin, Cyrillic, Greek,
// CJK, Arabic, Hebrew, emoji and markup-like characters.
func mixedText(n int) string {
	parts := []string{"Hello world. ", "Привет мир. ", "Γειά σου κόσμε. ", "你好，世界。", "مرحبا بالعالم. ", "שלום עולם. ", "🙂🎉👍 ", "<b>&amp;</b> ", "naïve café ", "\n"}
	var b []rune
	for i := 0; len(b) < n; i++ {
		b = append(b, []rune(parts[i%len(parts)])...)
	}
	return string(b[:n-1]) + "."
}

// joinedBodies collects the bodies of consecutive messages from sender in room after cursor
// until their concatenation is as long as want (messages may be split on the way).
func (j *journey) collect(t *testing.T, cur int, room id.RoomID, sender id.UserID, want string) string {
	t.Helper()
	var got strings.Builder
	for got.Len() < len(want) {
		msg := w.user.expect(t, cur, short, "part of the long message", message(room, sender, func(string) bool { return true }))
		got.WriteString(msg.str("body"))
		cur = indexAfter(msg)
	}
	return got.String()
}

// indexAfter returns the cursor just after an event already recorded.
func indexAfter(s seen) int { return w.user.indexAfter(s) }

// indexAfter returns the cursor just after an event u already recorded.
func (u *matrixUser) indexAfter(s seen) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := len(u.events) - 1; i >= 0; i-- {
		if u.events[i].Event == s.Event {
			return i + 1
		}
	}
	return len(u.events)
}

// sameText compares a long text that may have been split into several messages at whitespace on
// the way (the split may eat the whitespace at the cut). It logs when the match is not exact.
func sameText(t *testing.T, got, want string) bool {
	if got == want {
		return true
	}
	if strings.Join(strings.Fields(got), "") == strings.Join(strings.Fields(want), "") {
		t.Logf("the long message differs only in whitespace (%d bytes, want %d)", len(got), len(want))
		return true
	}
	return false
}

func (j *journey) longMessageIn(t *testing.T) {
	text := mixedText(5000)
	ghost := w.bridge.ghost(bob, w.hs.ServerName)
	cur := w.user.mark()
	if err := w.fake.say(bob, alice, text, nil); err != nil {
		t.Fatal(err)
	}
	if got := j.collect(t, cur, j.bobRoom, ghost, text); !sameText(t, got, text) {
		t.Fatalf("5000-character message arrived altered: %d bytes, want %d", len(got), len(text))
	}
}

func (j *journey) longMessageOut(t *testing.T) { longMessageTo(t, bob, j.bobRoom) }

// longMessageTo sends a 5000-character message in room and checks that the contact gets all of
// it, in as many MSN messages as it takes.
func longMessageTo(t *testing.T, contact string, room id.RoomID) {
	text := mixedText(5000)
	since, err := w.fake.receivedCount(contact)
	if err != nil {
		t.Fatal(err)
	}
	send(t, room, text)
	var got strings.Builder
	for got.Len() < len(text) {
		it, err := w.fake.expectReceived(contact, since, short, "part of the long message", func(it receivedItem) bool { return it.Kind == "text" })
		if err != nil {
			t.Fatalf("%v (have %d of %d bytes)", err, got.Len(), len(text))
		}
		got.WriteString(it.Text)
		since = it.Index + 1
	}
	if !sameText(t, got.String(), text) {
		t.Fatalf("5000-character message arrived altered: %d bytes, want %d", got.Len(), len(text))
	}
}

func (j *journey) bridgeRestartOIM(t *testing.T) {
	ghost := w.bridge.ghost(bob, w.hs.ServerName)
	w.bridge.stop()
	eventually(t, short, "alice signed out after the bridge stopped", func() error { return w.fake.signedIn(alice, false) })
	text := "I sent this while your bridge was down."
	if err := w.fake.presence(bob, "NLN", "", ""); err != nil {
		t.Fatal(err)
	}
	if err := w.fake.oim(bob, alice, text); err != nil {
		t.Fatal(err)
	}
	cur := w.user.mark()
	if err := w.bridge.start(t.Context()); err != nil {
		t.Fatal(err)
	}
	msg := w.user.expect(t, cur, long, "the offline message after the bridge restart", message("", ghost, equals(text)))
	if msg.Room != j.bobRoom {
		t.Errorf("the offline message went to %s, not bob's DM room %s", msg.Room, j.bobRoom)
	}
	// A live message after it proves the session is up; the OIM must not have come twice.
	marker := "And this one is live."
	if err := w.fake.say(bob, alice, marker, nil); err != nil {
		t.Fatal(err)
	}
	w.user.expect(t, cur, short, "bob's live message after the restart", message(j.bobRoom, ghost, equals(marker)))
	if n := len(w.user.all(cur, message("", ghost, equals(text)))); n != 1 {
		t.Errorf("the offline message appeared %d times, want once", n)
	}
}

// loginStateRe finds a login's bridge state in the list-logins answer: "* `id` (name) - `STATE`".
var loginStateRe = regexp.MustCompile("- `([A-Z_]+)`")

// loginState asks the bot for list-logins and returns the state it shows for the login.
func (j *journey) loginState() (string, error) {
	cur := w.user.mark()
	ctx, cancel := reqCtx()
	defer cancel()
	if _, err := w.user.cli.SendText(ctx, j.mgmt, "list-logins"); err != nil {
		return "", err
	}
	reply, err := w.user.waitFor(cur, short, "bot reply to list-logins", message(j.mgmt, w.bridge.Bot, func(string) bool { return true }))
	if err != nil {
		return "", err
	}
	body := reply.str("body")
	for _, line := range strings.Split(body, "\n") {
		if m := loginStateRe.FindStringSubmatch(line); m != nil && strings.Contains(line, j.loginID) {
			return m[1], nil
		}
	}
	return "", fmt.Errorf("list-logins answer %q shows no state for login %s", body, j.loginID)
}

// waitLoginState polls list-logins until the login's state satisfies want.
func (j *journey) waitLoginState(t *testing.T, timeout time.Duration, what string, want func(string) bool) {
	t.Helper()
	eventually(t, timeout, what, func() error {
		state, err := j.loginState()
		if err == nil && !want(state) {
			err = fmt.Errorf("list-logins shows %s", state)
		}
		return err
	})
}

// statusNotice matches the bridge bot's notice in room about the user's event evt (bridgev2's
// message error notice replies to the event it is about).
func statusNotice(room id.RoomID, evt id.EventID) func(seen) bool {
	return func(s seen) bool {
		if !message(room, w.bridge.Bot, func(string) bool { return true })(s) || s.str("msgtype") != string(event.MsgNotice) {
			return false
		}
		rel, _ := s.Event.Content.Raw["m.relates_to"].(map[string]any)
		reply, _ := rel["m.in_reply_to"].(map[string]any)
		return reply["event_id"] == evt.String()
	}
}

func (j *journey) serverRestart(t *testing.T) {
	if j.loginID == "" {
		t.Fatal("no login ID from list-logins")
	}
	ghost := w.bridge.ghost(bob, w.hs.ServerName)
	before, _, err := w.fake.account(alice)
	if err != nil {
		t.Fatal(err)
	}
	j.waitLoginState(t, short, "CONNECTED in list-logins before the outage", func(s string) bool { return s == "CONNECTED" })
	if err := w.fake.down(); err != nil {
		t.Fatal(err)
	}
	isUp := false
	defer func() {
		if !isUp { // never leave the server down for the later steps
			_ = w.fake.up()
		}
	}()
	// The user sees the outage: list-logins no longer says CONNECTED.
	j.waitLoginState(t, long, "the outage in list-logins", func(s string) bool { return s != "CONNECTED" })

	// A message sent during the outage must not vanish: it fails visibly now, or is delivered
	// after the reconnect.
	since, err := w.fake.receivedCount(bob)
	if err != nil {
		t.Fatal(err)
	}
	cur := w.user.mark()
	during := "Sent while the MSN server was down."
	evt := send(t, j.bobRoom, during)
	notice, noticeErr := w.user.waitFor(cur, short, "a failure notice for the message sent during the outage", statusNotice(j.bobRoom, evt))

	if err := w.fake.up(); err != nil {
		t.Fatal(err)
	}
	isUp = true
	eventually(t, long, "alice signed in again after the server restart", func() error {
		n, status, err := w.fake.account(alice)
		if err == nil && (n <= before || status == "FLN") {
			err = fmt.Errorf("%d logins (%d before the restart), status %s", n, before, status)
		}
		return err
	})
	j.waitLoginState(t, long, "CONNECTED in list-logins after the reconnect", func(s string) bool { return s == "CONNECTED" })

	if noticeErr != nil {
		// Not failed yet: it may still wait for the reconnect (the bridge holds a message for
		// up to 30 s), then be delivered or fail. Wait for either outcome.
		deadline := time.Now().Add(long)
		next := since
		for noticeErr != nil && time.Now().Before(deadline) {
			if n := w.user.all(cur, statusNotice(j.bobRoom, evt)); len(n) > 0 {
				notice, noticeErr = n[0], nil
				break
			}
			items, more, err := w.fake.received(bob, next, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			next = more
			if slices.ContainsFunc(items, func(it receivedItem) bool { return it.Kind == "text" && it.Text == during }) {
				break
			}
		}
		if noticeErr != nil && !slices.ContainsFunc(mustReceived(t, bob, since), func(it receivedItem) bool { return it.Kind == "text" && it.Text == during }) {
			t.Fatalf("the message sent during the outage neither failed visibly nor reached bob after the reconnect within %s", long)
		}
	}
	if noticeErr == nil {
		t.Logf("the message sent during the outage failed visibly: %q", notice.str("body"))
	}

	// Both directions work again. A message failed with a notice must not reach bob later:
	// everything bob gets before the marker is checked.
	cur = w.user.mark()
	text := "Still there after the server restart?"
	if err := w.fake.say(bob, alice, text, nil); err != nil {
		t.Fatal(err)
	}
	w.user.expect(t, cur, long, "bob's message after the server restart", message(j.bobRoom, ghost, equals(text)))
	marker := "Yes, back after the restart."
	send(t, j.bobRoom, marker)
	var early []receivedItem
	if _, err := w.fake.expectReceived(bob, since, short, "alice's message after the restart", func(it receivedItem) bool {
		early = append(early, it)
		return it.Kind == "text" && it.Text == marker
	}); err != nil {
		t.Fatal(err)
	}
	if noticeErr == nil {
		for _, it := range early {
			if it.Text == during {
				t.Errorf("the message reported as not bridged reached bob anyway")
			}
		}
	}
}

// mustReceived returns what contact received after since, without waiting.
func mustReceived(t *testing.T, contact string, since int) []receivedItem {
	t.Helper()
	items, _, err := w.fake.received(contact, since, 0)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// refusedEvents checks that an edit and a reaction, which MSN cannot carry, get a visible notice
// in the room and reach the contact as nothing at all.
func (j *journey) refusedEvents(t *testing.T) {
	ctx, cancel := reqCtx()
	defer cancel()
	since, err := w.fake.receivedCount(bob)
	if err != nil {
		t.Fatal(err)
	}
	orig := "A message I will try to edit."
	origID := send(t, j.bobRoom, orig)
	if _, err := w.fake.expectReceived(bob, since, short, "the message to edit", func(it receivedItem) bool {
		return it.Kind == "text" && it.Text == orig
	}); err != nil {
		t.Fatal(err)
	}
	cur := w.user.mark()
	edited := "A message I edited."
	edit := &event.MessageEventContent{
		MsgType:    event.MsgText,
		Body:       "* " + edited,
		NewContent: &event.MessageEventContent{MsgType: event.MsgText, Body: edited},
		RelatesTo:  (&event.RelatesTo{}).SetReplace(origID),
	}
	resp, err := w.user.cli.SendMessageEvent(ctx, j.bobRoom, event.EventMessage, edit)
	if err != nil {
		t.Fatal(err)
	}
	n := w.user.expect(t, cur, short, "a notice that the edit was not bridged", statusNotice(j.bobRoom, resp.EventID))
	t.Logf("edit: %q", n.str("body"))
	cur = w.user.mark()
	react, err := w.user.cli.SendReaction(ctx, j.bobRoom, origID, "👍")
	if err != nil {
		t.Fatal(err)
	}
	n = w.user.expect(t, cur, short, "a notice that the reaction was not bridged", statusNotice(j.bobRoom, react.EventID))
	t.Logf("reaction: %q", n.str("body"))
	// Nothing of either reached bob: everything he got up to a marker message is checked.
	marker := "After the edit and the reaction."
	send(t, j.bobRoom, marker)
	var got []receivedItem
	if _, err := w.fake.expectReceived(bob, since, short, "the marker message", func(it receivedItem) bool {
		got = append(got, it)
		return it.Kind == "text" && it.Text == marker
	}); err != nil {
		t.Fatal(err)
	}
	for _, it := range got {
		if it.Kind == "text" && it.Text != orig && it.Text != marker {
			t.Errorf("bob received %q besides the message and the marker", truncate(it.Text, 80))
		}
	}
}

// openDM asks the bot for a DM portal with a contact and returns the room.
func (j *journey) openDM(t *testing.T, passport string) id.RoomID {
	ghost := w.bridge.ghost(passport, w.hs.ServerName)
	cur := w.user.mark()
	send(t, j.mgmt, "start-chat "+passport)
	s := w.user.expect(t, cur, short, "the DM portal with "+passport, func(s seen) bool {
		return s.Kind == kindTimeline && s.Room != j.mgmt && s.Event.Type == event.StateMember &&
			s.Event.GetStateKey() == ghost.String() && s.str("membership") == "join"
	})
	return s.Room
}

func (j *journey) echoContact(t *testing.T) {
	room := j.openDM(t, echoContact)
	ghost := w.bridge.ghost(echoContact, w.hs.ServerName)
	cur := w.user.mark()
	send(t, room, "ping from Matrix")
	w.user.expect(t, cur, short, "the echo", message(room, ghost, contains("ping from Matrix")))
}

func (j *journey) offlineOIM(t *testing.T) {
	j.daveRoom = j.openDM(t, dave)
	ghostPresence(t, dave, "dave offline", func(p event.Presence, _ string) bool { return p == event.PresenceOffline })
	since, err := w.fake.receivedCount(dave)
	if err != nil {
		t.Fatal(err)
	}
	cur := w.user.mark()
	text := "Dave, read this when you are back."
	send(t, j.daveRoom, text)
	w.user.expect(t, cur, short, "a notice that dave gets an offline message", message(j.daveRoom, "", contains("offline")))
	if _, err := w.fake.expectReceived(dave, since, short, "an offline message", func(it receivedItem) bool {
		return it.Kind == "oim" && it.Text == text
	}); err != nil {
		t.Fatal(err)
	}
}

func (j *journey) logout(t *testing.T) {
	if j.loginID == "" {
		t.Fatal("no login ID from list-logins")
	}
	j.command(t, "logout "+j.loginID, contains("logged out"))
	eventually(t, short, "alice signed out on the fake server", func() error { return w.fake.signedIn(alice, false) })
	// With the session gone, nothing of alice is left on MSN that a contact could write to.
	eventually(t, short, "the fake server refusing a message to alice", func() error {
		if err := w.fake.say(bob, alice, "Are you still there?", nil); err == nil {
			return fmt.Errorf("bob could still send alice a message")
		}
		return nil
	})
	j.command(t, "list-logins", contains("not logged in"))
}

func (j *journey) noPasswordInLog(t *testing.T) {
	log := w.bridge.log()
	if log == "" {
		t.Fatal("the bridge log is empty")
	}
	for _, pw := range []string{alicePassword, wrongPassword} {
		if strings.Contains(log, pw) {
			t.Errorf("the bridge log contains a password (%d bytes of log)", len(log))
		}
	}
	if fake, err := readFile(w.fake.proc.logPath); err == nil && strings.Contains(fake, alicePassword) {
		t.Errorf("the fake server log contains alice's password")
	}
}
