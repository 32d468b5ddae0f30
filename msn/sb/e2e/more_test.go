package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/msntest"
	"github.com/msnbridge/msnbridge/msn/sb"
)

// collectUntil gathers c's events up to and including the first that satisfies stop.
func collectUntil(t *testing.T, c *client, stop func(sb.Event) bool) []sb.Event {
	t.Helper()
	deadline := time.After(waitLimit)
	var evs []sb.Event
	for {
		select {
		case ev := <-c.events:
			evs = append(evs, ev)
			if stop(ev) {
				return evs
			}
		case <-deadline:
			t.Fatalf("%s: stop event never came; got %d events", c.passport, len(evs))
			return nil
		}
	}
}

// joinsIn counts the JoinedEvents of conversation conv among evs.
func joinsIn(evs []sb.Event, conv *sb.Conversation) int {
	n := 0
	for _, ev := range evs {
		if j, ok := ev.(*sb.JoinedEvent); ok && j.Conv == conv {
			n++
		}
	}
	return n
}

// describe lists events for a failure message.
func describe(evs []sb.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "\n\t%T %+v", ev, ev)
	}
	return b.String()
}

func isText(sender, text string) func(sb.Event) bool {
	return func(ev sb.Event) bool {
		m, ok := ev.(*sb.MessageEvent)
		return ok && m.Sender.Passport == sender && m.Text == text
	}
}

// TestOpenedByTheOtherSide: Bob opens the switchboard (XFR, USR, CAL) and Alice is invited
// (RNG, ANS, IRO); both talk on it. On MSNP18 the server sends every participant twice
// ("email;{guid}" and "email") and the answering client its own JOI: each side must still see
// exactly one participant and one join.
func TestOpenedByTheOtherSide(t *testing.T) {
	for _, v := range []int{7, 12, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t, "alice@example.com", "bob@example.com")
			alice := login(t, srv, v, "alice@example.com", 1)
			bob := login(t, srv, v, "bob@example.com", 2)

			toAlice := bob.mgr.Conversation("alice@example.com")
			send(t, toAlice, "Bob calls first")
			aliceEvs := collectUntil(t, alice, isText("bob@example.com", "Bob calls first"))
			toBob := aliceEvs[len(aliceEvs)-1].(*sb.MessageEvent).Conv
			if toBob != alice.mgr.Conversation("bob@example.com") || toBob.IsGroup() {
				t.Fatalf("alice's conversation %q group=%v", toBob.ID(), toBob.IsGroup())
			}
			send(t, toBob, "Alice answers on Bob's switchboard")
			bobEvs := collectUntil(t, bob, isText("alice@example.com", "Alice answers on Bob's switchboard"))

			if n := joinsIn(aliceEvs, toBob); n != 1 {
				t.Errorf("alice saw %d joins, want 1: %s", n, describe(aliceEvs))
			}
			if n := joinsIn(bobEvs, toAlice); n != 1 {
				t.Errorf("bob saw %d joins, want 1: %s", n, describe(bobEvs))
			}
			for who, conv := range map[string]*sb.Conversation{"alice": toBob, "bob": toAlice} {
				ps := conv.Participants()
				if len(ps) != 1 || ps[0].Passport != conv.Peer() {
					t.Errorf("%s's roster %+v", who, ps)
				}
				if !conv.Connected() {
					t.Errorf("%s's conversation is not connected", who)
				}
			}
			if v >= 18 {
				// The MSNP16+ identities carry caps on JOI/IRO.
				if ps := toBob.Participants(); len(ps) == 1 && ps[0].Caps == "" {
					t.Errorf("alice's roster entry has no caps: %+v", ps[0])
				}
			}
		})
	}
}

// TestFormattingRoundTrip sends the font, each effect, a colour and right-to-left through the
// fake server and checks that the receiver decodes the same format.
func TestFormattingRoundTrip(t *testing.T) {
	srv := startServer(t, "alice@example.com", "bob@example.com")
	alice := login(t, srv, 12, "alice@example.com", 1)
	bob := login(t, srv, 12, "bob@example.com", 2)
	toBob := alice.mgr.Conversation("bob@example.com")
	base := message.Format{Font: "Comic Sans MS", CharSet: "0", PitchFamily: "22"}
	with := func(f func(*message.Format)) message.Format { g := base; f(&g); return g }
	cases := []struct {
		name string
		f    message.Format
	}{
		{"font", base},
		{"bold", with(func(f *message.Format) { f.Bold = true })},
		{"italic", with(func(f *message.Format) { f.Italic = true })},
		{"underline", with(func(f *message.Format) { f.Underline = true })},
		{"strike", with(func(f *message.Format) { f.Strike = true })},
		{"colour", with(func(f *message.Format) { f.Color, f.HasColor = 0x12A4F0, true })},
		{"everything", message.Format{Font: "MS Shell Dlg 2", Bold: true, Italic: true, Underline: true, Strike: true,
			Color: 0xFF0080, HasColor: true, CharSet: "80", PitchFamily: "12", RightToLeft: true}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for _, tc := range cases {
		text := "formatted: " + tc.name
		if o, err := toBob.SendText(ctx, text, tc.f).Wait(ctx); o != sb.Delivered {
			t.Fatalf("%s: %v %v", tc.name, o, err)
		}
		got := waitEvent(t, bob, textFrom("alice@example.com", text))
		want, have := tc.f, got.Format
		if !want.HasColor {
			// Without a colour the wire still says CO=0 (black), as real clients do.
			have.Color, have.HasColor = 0, false
		}
		if have != want {
			t.Errorf("%s: sent %#v, received %#v", tc.name, tc.f, got.Format)
		}
	}
}

// TestUnknownContentTypeIsAnEvent: a payload of a content type nobody knows arrives as a
// ContentEvent with its content type and body, next to typing and nudges.
func TestUnknownContentTypeIsAnEvent(t *testing.T) {
	srv := startServer(t, "alice@example.com", "bob@example.com")
	alice := login(t, srv, 18, "alice@example.com", 1)
	bob := login(t, srv, 18, "bob@example.com", 2)
	toBob := alice.mgr.Conversation("bob@example.com")
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	payload := []byte("MIME-Version: 1.0\r\nContent-Type: application/x-msnbridge-test; charset=UTF-8\r\nX-Thing: 42\r\n\r\nopaque body")
	if o, err := toBob.Send(ctx, sb.Outgoing{Kind: sb.OutRaw, Payload: payload}).Wait(ctx); o != sb.Delivered {
		t.Fatalf("raw: %v %v", o, err)
	}
	ev := waitEvent[*sb.ContentEvent](t, bob, nil)
	if ev.Kind != message.KindUnknown || ev.Message == nil || ev.Message.ContentType != "application/x-msnbridge-test" ||
		string(ev.Message.Body) != "opaque body" || ev.Sender.Passport != "alice@example.com" || ev.Conv.ID() != "alice@example.com" {
		t.Fatalf("content event %+v (message %+v)", ev, ev.Message)
	}
	if o, err := toBob.SendTyping(ctx).Wait(ctx); o != sb.Delivered {
		t.Fatalf("typing: %v %v", o, err)
	}
	if ty := waitEvent[*sb.TypingEvent](t, bob, nil); ty.Sender.Passport != "alice@example.com" {
		t.Fatalf("typing from %+v", ty.Sender)
	}
	if o, err := toBob.SendNudge(ctx).Wait(ctx); o != sb.Delivered {
		t.Fatalf("nudge: %v %v", o, err)
	}
	if n := waitEvent[*sb.NudgeEvent](t, bob, nil); n.Sender.Passport != "alice@example.com" {
		t.Fatalf("nudge from %+v", n.Sender)
	}
}

// longText is 5,000 characters of mixed one- to four-byte UTF-8.
func longText() string {
	words := []string{"héllo", "wörld", "日本語の文章", "emoji😀🎉", "ĉiuĵaŭde", "Ελληνικά", "𝄞music"}
	var b strings.Builder
	for i := 0; utf8.RuneCountInString(b.String()) < 5000; i++ {
		b.WriteString(words[i%len(words)])
		b.WriteByte(' ')
	}
	return string([]rune(b.String())[:5000])
}

// TestLongMessageThroughFakeServer sends 5,000 multi-byte characters to a scripted contact
// (which records every MSG and does not announce chunking) and to a real client (which does):
// the scripted contact gets several MSGs, each within the server's payload limit, none
// splitting a character, joining up to the text in order; the real client gets one chunked
// message that it reassembles into one message.
func TestLongMessageThroughFakeServer(t *testing.T) {
	srv := startServer(t, "alice@example.com", "bob@example.com", "bot@example.com")
	bot := srv.Contact("bot@example.com")
	if err := bot.SignIn("NLN"); err != nil {
		t.Fatal(err)
	}
	alice := login(t, srv, 18, "alice@example.com", 1)
	bob := login(t, srv, 18, "bob@example.com", 2)
	text := longText()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()

	if o, err := alice.mgr.Conversation("bot@example.com").SendText(ctx, text, message.Format{}).Wait(ctx); o != sb.Delivered {
		t.Fatalf("to the scripted contact: %v %v", o, err)
	}
	var joined strings.Builder
	parts := 0
	for joined.Len() < len(text) {
		m, err := bot.NextText(ctx)
		if err != nil {
			t.Fatalf("after %d parts: %v", parts, err)
		}
		parts++
		if len(m.Payload) > sb.MaxPayload {
			t.Fatalf("part %d: payload of %d bytes", parts, len(m.Payload))
		}
		if !utf8.ValidString(m.Body) {
			t.Fatalf("part %d splits a character", parts)
		}
		joined.WriteString(m.Body)
	}
	if joined.String() != text {
		t.Fatal("the parts the contact received do not join up to the text")
	}
	if parts < 3 {
		t.Fatalf("only %d MSGs", parts)
	}

	if o, err := alice.mgr.Conversation("bob@example.com").SendText(ctx, text, message.Format{}).Wait(ctx); o != sb.Delivered {
		t.Fatalf("to bob: %v %v", o, err)
	}
	joined.Reset()
	events := 0
	for joined.Len() < len(text) {
		m := waitEvent[*sb.MessageEvent](t, bob, nil)
		events++
		joined.WriteString(m.Text)
	}
	if joined.String() != text || events != 1 {
		t.Fatalf("bob got %d messages that join up to the text: %v; want one message", events, joined.String() == text)
	}
}

// TestSendOutcomes covers the results a caller waits on: NAK, an ACK that never comes
// (timeout), a delayed ACK, and a switchboard dropped with a message waiting for its ACK (sent
// once more on a new switchboard; reported failed when that one drops too).
func TestSendOutcomes(t *testing.T) {
	srv := startServer(t, "alice@example.com", "bob@example.com")
	alice := loginWith(t, srv, 12, "alice@example.com", 1, func(c *sb.Config) { c.SendTimeout = 2 * time.Second })
	bob := login(t, srv, 12, "bob@example.com", 2)
	toBob := alice.mgr.Conversation("bob@example.com")
	send(t, toBob, "warm-up")
	waitEvent(t, bob, textFrom("alice@example.com", "warm-up"))
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()

	t.Run("NAK", func(t *testing.T) {
		srv.SetAckMode(msntest.AckNAK, 0)
		defer srv.SetAckMode(msntest.AckNormal, 0)
		o, err := toBob.SendText(ctx, "refused", message.Format{}).Wait(ctx)
		if o != sb.Offline || !errors.Is(err, sb.ErrNotDelivered) {
			t.Fatalf("NAK in a one-to-one conversation: %v %v", o, err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		srv.SetAckMode(msntest.AckNone, 0)
		defer srv.SetAckMode(msntest.AckNormal, 0)
		o, err := toBob.SendText(ctx, "never acknowledged", message.Format{}).Wait(ctx)
		if o != sb.Failed || !errors.Is(err, sb.ErrTimeout) {
			t.Fatalf("no ACK: %v %v", o, err)
		}
	})
	t.Run("delayed ACK", func(t *testing.T) {
		srv.SetAckMode(msntest.AckDelayed, 300*time.Millisecond)
		defer srv.SetAckMode(msntest.AckNormal, 0)
		res := toBob.SendText(ctx, "slow", message.Format{})
		waitEvent(t, bob, textFrom("alice@example.com", "slow"))
		if o, err := res.Wait(ctx); o != sb.Delivered {
			t.Fatalf("delayed ACK: %v %v", o, err)
		}
	})
	t.Run("dropped then re-sent", func(t *testing.T) {
		srv.SetAckMode(msntest.AckNone, 0)
		res := toBob.SendText(ctx, "in flight when dropped", message.Format{})
		// Bob has it, so the server handled the MSG and sent no ACK: it is waiting.
		waitEvent(t, bob, textFrom("alice@example.com", "in flight when dropped"))
		if o, _ := res.Outcome(); o != sb.Pending {
			t.Fatalf("resolved without an ACK: %v", o)
		}
		srv.SetAckMode(msntest.AckNormal, 0)
		if n := srv.CloseSwitchboards("alice@example.com"); n == 0 {
			t.Fatal("no switchboard to drop")
		}
		if o, err := res.Wait(ctx); o != sb.Delivered {
			t.Fatalf("after the drop: %v %v", o, err)
		}
		waitEvent(t, bob, textFrom("alice@example.com", "in flight when dropped"))
	})
	t.Run("dropped twice fails", func(t *testing.T) {
		srv.SetAckMode(msntest.AckNone, 0)
		defer srv.SetAckMode(msntest.AckNormal, 0)
		res := toBob.SendText(ctx, "unlucky", message.Format{})
		for i := 0; i < 2; i++ {
			waitEvent(t, bob, textFrom("alice@example.com", "unlucky"))
			if n := srv.CloseSwitchboards("alice@example.com"); n == 0 {
				t.Fatalf("drop %d: no switchboard", i+1)
			}
		}
		o, err := res.Wait(ctx)
		if o != sb.Failed || !errors.Is(err, sb.ErrConnectionLost) {
			t.Fatalf("after two drops: %v %v", o, err)
		}
	})
	// Everything above still leaves a working conversation.
	send(t, toBob, "still here")
	waitEvent(t, bob, textFrom("alice@example.com", "still here"))
}

// TestClientIdleCloseAndReopen: the client closes a quiet one-to-one switchboard after
// Config.IdleTimeout and opens a new one for the next message.
func TestClientIdleCloseAndReopen(t *testing.T) {
	srv := startServer(t, "alice@example.com", "bob@example.com")
	alice := loginWith(t, srv, 18, "alice@example.com", 1, func(c *sb.Config) { c.IdleTimeout = 300 * time.Millisecond })
	bob := login(t, srv, 18, "bob@example.com", 2)
	toBob := alice.mgr.Conversation("bob@example.com")
	send(t, toBob, "first")
	waitEvent(t, bob, textFrom("alice@example.com", "first"))
	if c := waitEvent[*sb.ClosedEvent](t, alice, nil); !c.Idle || c.Conv != toBob || c.Err != nil {
		t.Fatalf("closed %+v", c)
	}
	if toBob.Connected() {
		t.Fatal("still connected after the idle close")
	}
	waitEvent(t, bob, func(e *sb.LeftEvent) bool { return e.Passport == "alice@example.com" })
	send(t, toBob, "second")
	if m := waitEvent(t, bob, textFrom("alice@example.com", "second")); m.Conv != bob.mgr.Conversation("alice@example.com") {
		t.Fatalf("routed to %q", m.Conv.ID())
	}
}

// lockedBuffer is a log sink shared by goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogsCarryNoCookies logs every switchboard command at trace level while a switchboard is
// opened (USR with the XFR cookie) and an invitation answered (ANS with the RNG cookie): no
// cookie may reach the log.
func TestLogsCarryNoCookies(t *testing.T) {
	srv := startServer(t, "alice@example.com", "bob@example.com")
	var mu sync.Mutex
	var cookies []string
	srv.OnCommand(func(ev msntest.CommandEvent) {
		if ev.Service == "SB" && (ev.Command.Name == "USR" || ev.Command.Name == "ANS") && len(ev.Command.Args) >= 2 {
			mu.Lock()
			cookies = append(cookies, ev.Command.Args[1])
			mu.Unlock()
		}
	})
	logs := &lockedBuffer{}
	withLog := func(c *sb.Config) { c.Logger = zerolog.New(logs).Level(zerolog.TraceLevel) }
	alice := loginWith(t, srv, 18, "alice@example.com", 1, withLog)
	bob := loginWith(t, srv, 18, "bob@example.com", 2, withLog)
	send(t, alice.mgr.Conversation("bob@example.com"), "secretive")
	waitEvent(t, bob, textFrom("alice@example.com", "secretive"))
	mu.Lock()
	defer mu.Unlock()
	if len(cookies) < 2 {
		t.Fatalf("saw %d switchboard cookies, want USR and ANS", len(cookies))
	}
	out := logs.String()
	if !strings.Contains(out, `"USR`) || !strings.Contains(out, `"ANS`) {
		t.Fatalf("trace log lacks the USR/ANS lines:\n%s", out)
	}
	for _, c := range cookies {
		if strings.Contains(out, c) {
			t.Fatalf("cookie %q in the log", c)
		}
	}
}

// TestCallErrorsThroughFakeServer: CAL answers 215 (already there), 216 (blocked) and 217
// (offline) come back typed, from Invite and from opening a conversation.
func TestCallErrorsThroughFakeServer(t *testing.T) {
	srv := startServer(t, "alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com")
	if err := srv.AddContact("carol@example.com", "alice@example.com", msntest.BL); err != nil {
		t.Fatal(err)
	}
	alice := login(t, srv, 18, "alice@example.com", 1)
	bob := login(t, srv, 18, "bob@example.com", 2)
	login(t, srv, 18, "carol@example.com", 3)
	toBob := alice.mgr.Conversation("bob@example.com")
	send(t, toBob, "hello")
	waitEvent(t, bob, textFrom("alice@example.com", "hello"))
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()

	for _, tc := range []struct {
		who  string
		want error
		code int
	}{
		{"bob@example.com", sb.ErrAlreadyInSession, 215},
		{"carol@example.com", sb.ErrBlocked, 216},
		{"dave@example.com", sb.ErrOffline, 217},
	} {
		err := toBob.Invite(ctx, tc.who)
		var ce *sb.CallError
		if !errors.Is(err, tc.want) || !errors.As(err, &ce) || ce.Code != tc.code || ce.Passport != tc.who {
			t.Errorf("invite %s: %v", tc.who, err)
		}
	}
	if err := toBob.Invite(ctx, "not-a-passport"); !errors.Is(err, sb.ErrInvalidUser) {
		t.Errorf("invite of a malformed passport: %v", err)
	}

	// Opening a conversation with the contact who blocks us fails; one with an offline
	// contact ends Offline.
	if o, err := alice.mgr.Conversation("carol@example.com").SendText(ctx, "hi carol", message.Format{}).Wait(ctx); o != sb.Failed || !errors.Is(err, sb.ErrBlocked) {
		t.Errorf("to carol: %v %v", o, err)
	}
	if o, err := alice.mgr.Conversation("dave@example.com").SendText(ctx, "hi dave", message.Format{}).Wait(ctx); o != sb.Offline || !errors.Is(err, sb.ErrOffline) {
		t.Errorf("to dave: %v %v", o, err)
	}
	// The live conversation is unharmed.
	send(t, toBob, "still there")
	waitEvent(t, bob, textFrom("alice@example.com", "still there"))
}

// TestQueuedWhileOpeningArriveInOrder: messages sent before the switchboard is ready are
// queued and arrive in order, each with its own result.
func TestQueuedWhileOpeningArriveInOrder(t *testing.T) {
	srv := startServer(t, "alice@example.com", "bob@example.com")
	alice := login(t, srv, 12, "alice@example.com", 1)
	bob := login(t, srv, 12, "bob@example.com", 2)
	toBob := alice.mgr.Conversation("bob@example.com")
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	// The server holds alice's CAL until every message is queued: on a loaded machine the
	// switchboard could otherwise open in between, and nothing would be queued.
	gate := make(chan struct{})
	var gateOnce sync.Once
	release := func() { gateOnce.Do(func() { close(gate) }) }
	defer release()
	srv.OnCommand(func(ev msntest.CommandEvent) {
		if ev.Service == "SB" && ev.Command.Name == "CAL" {
			select {
			case <-gate:
			case <-time.After(waitLimit):
			}
		}
	})
	var results []*sb.Result
	for i := 0; i < 10; i++ {
		results = append(results, toBob.SendText(ctx, fmt.Sprintf("queued %d", i), message.Format{}))
	}
	if toBob.Connected() {
		t.Fatal("connected before the switchboard could open")
	}
	release()
	for i := 0; i < 10; i++ {
		m := waitEvent[*sb.MessageEvent](t, bob, nil)
		if want := fmt.Sprintf("queued %d", i); m.Text != want {
			t.Fatalf("message %d is %q", i, m.Text)
		}
	}
	for i, r := range results {
		if o, err := r.Wait(ctx); o != sb.Delivered {
			t.Fatalf("result %d: %v %v", i, o, err)
		}
	}
}
