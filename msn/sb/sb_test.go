package sb

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/wire"
)

func bodyOf(t *testing.T, payload []byte) string {
	t.Helper()
	m, err := message.Parse(payload)
	if err != nil {
		t.Fatalf("parse payload: %v", err)
	}
	if m.Kind != message.KindText {
		t.Fatalf("payload kind %v, want text", m.Kind)
	}
	return m.Text.Body
}

func TestOpenCallJoinSendAck(t *testing.T) {
	e := newEnv(t, 12, Config{})
	c := e.m.Conversation("Bob@Example.com")
	if c.ID() != "bob@example.com" || c.IsGroup() {
		t.Fatalf("conversation %q group=%v", c.ID(), c.IsGroup())
	}
	ctx := context.Background()
	r1 := c.SendText(ctx, "first", message.Format{})
	r2 := c.SendText(ctx, "second", message.Format{})

	pc := e.peer.accept()
	usr := pc.expect("USR")
	if usr.Arg(0) != "alice@example.com" || usr.Arg(1) != "cookie1" {
		t.Fatalf("USR args %v", usr.Args)
	}
	pc.send("USR %d OK alice@example.com Alice", usr.TrID)
	cal := pc.expect("CAL")
	if cal.Arg(0) != "bob@example.com" {
		t.Fatalf("CAL %v", cal.Args)
	}
	pc.send("CAL %d RINGING 11752013", cal.TrID)
	pc.send("JOI bob@example.com Bob%%20Nick 1073741824")

	m1 := pc.expect("MSG")
	m2 := pc.expect("MSG")
	if m1.Arg(0) != "A" || bodyOf(t, m1.Payload) != "first" || bodyOf(t, m2.Payload) != "second" {
		t.Fatalf("messages out of order or wrong ack: %v %q %q", m1.Args, m1.Payload, m2.Payload)
	}
	if o, _ := r1.Outcome(); o != Pending {
		t.Fatalf("delivered before ACK: %v", o)
	}
	pc.send("ACK %d", m1.TrID)
	pc.send("ACK %d", m2.TrID)
	for _, r := range []*Result{r1, r2} {
		if o, err := wait(t, r); o != Delivered || err != nil {
			t.Fatalf("outcome %v %v", o, err)
		}
	}
	j := waitEvent[*JoinedEvent](t, e.rec)
	if j.Conv != c || j.Participant.Passport != "bob@example.com" || j.Participant.FriendlyName != "Bob Nick" {
		t.Fatalf("joined %+v", j)
	}
	if !c.Connected() {
		t.Fatal("not connected after JOI")
	}

	// Typing goes with U and is done once written; an incoming message becomes an event.
	typ := c.SendTyping(ctx)
	tm := pc.expect("MSG")
	if tm.Arg(0) != "U" || !strings.Contains(string(tm.Payload), "TypingUser: alice@example.com") {
		t.Fatalf("typing %v %q", tm.Args, tm.Payload)
	}
	if o, err := wait(t, typ); o != Delivered {
		t.Fatalf("typing %v %v", o, err)
	}
	pc.sendMSG("bob@example.com", "Bob%20Nick", "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=B; CO=ff; CS=0; PF=22\r\n\r\nHi\r\nAlice")
	msg := waitEvent[*MessageEvent](t, e.rec)
	if msg.Conv != c || msg.Text != "Hi\nAlice" || msg.Sender.Passport != "bob@example.com" || !msg.Format.Bold || msg.Format.Font != "Arial" || msg.FromSelf {
		t.Fatalf("message event %+v", msg)
	}
	pc.sendMSG("bob@example.com", "Bob", "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: bob@example.com\r\n\r\n\r\n")
	if ty := waitEvent[*TypingEvent](t, e.rec); ty.Sender.Passport != "bob@example.com" {
		t.Fatalf("typing %+v", ty)
	}
	pc.sendMSG("bob@example.com", "Bob", "MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\nID: 1\r\n\r\n")
	waitEvent[*NudgeEvent](t, e.rec)
	pc.sendMSG("bob@example.com", "Bob", "MIME-Version: 1.0\r\nContent-Type: application/x-unheard-of\r\n\r\nxyz")
	ce := waitEvent[*ContentEvent](t, e.rec)
	if ce.Kind != message.KindUnknown || ce.Message == nil || ce.Message.ContentType != "application/x-unheard-of" {
		t.Fatalf("content event %+v", ce)
	}
	if e.ns.xfrCount() != 1 {
		t.Fatalf("%d XFRs, want 1", e.ns.xfrCount())
	}
}

func TestMSNP16IdentityAndDuplicateJoins(t *testing.T) {
	e := newEnv(t, 18, Config{MachineGUID: "CA3270CD-85DC-5C21-AA06-CCDC6B86E963"})
	c := e.m.Conversation("bob@example.com")
	res := c.SendText(context.Background(), "hello", message.Format{})
	pc := e.peer.accept()
	usr := pc.expect("USR")
	if usr.Arg(0) != "alice@example.com;{CA3270CD-85DC-5C21-AA06-CCDC6B86E963}" {
		t.Fatalf("USR identity %q", usr.Arg(0))
	}
	pc.send("USR %d OK alice@example.com;{CA3270CD-85DC-5C21-AA06-CCDC6B86E963} Alice", usr.TrID)
	cal := pc.expect("CAL")
	pc.send("CAL %d RINGING 9f44", cal.TrID)
	pc.send("JOI alice@example.com;{ca3270cd-85dc-5c21-aa06-ccdc6b86e963} Alice 2789003324:48")
	pc.send("JOI bob@example.com;{5e3edfe5-440d-5132-a3f3-a7ae35275c64} Bob 2789003324:48")
	pc.send("JOI bob@example.com Bob 2789003324:48")
	pc.send("JOI alice@example.com Alice 2789003324:48")
	msg := pc.expect("MSG")
	pc.send("ACK %d", msg.TrID)
	if o, err := wait(t, res); o != Delivered {
		t.Fatalf("outcome %v %v", o, err)
	}
	j := waitEvent[*JoinedEvent](t, e.rec)
	if j.Participant.Passport != "bob@example.com" || j.Participant.Caps != "2789003324:48" {
		t.Fatalf("joined %+v", j.Participant)
	}
	pc.sendMSG("bob@example.com", "Bob", "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nsync")
	noEventBefore[*JoinedEvent, *MessageEvent](t, e.rec)
	if ps := c.Participants(); len(ps) != 1 || ps[0].Passport != "bob@example.com" {
		t.Fatalf("participants %+v", ps)
	}
	// Our own other endpoint's message (MPOP) is marked as ours.
	pc.sendMSG("alice@example.com", "Alice", "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nsent from my phone")
	if m := waitEvent[*MessageEvent](t, e.rec); !m.FromSelf || m.Text != "sent from my phone" {
		t.Fatalf("own message %+v", m)
	}
	// The last endpoint's BYE (without a bare one) means bob left; we close the SB.
	pc.send("BYE bob@example.com;{5e3edfe5-440d-5132-a3f3-a7ae35275c64}")
	l := waitEvent[*LeftEvent](t, e.rec)
	if l.Passport != "bob@example.com" || l.Idle {
		t.Fatalf("left %+v", l)
	}
	got := pc.expectClosed()
	if len(got) != 1 || got[0].Name != "OUT" {
		t.Fatalf("client sent %v before closing, want OUT", got)
	}
	if cl := waitEvent[*ClosedEvent](t, e.rec); cl.Conv != c || cl.Err != nil {
		t.Fatalf("closed %+v", cl)
	}
}

func TestAcceptInvitation(t *testing.T) {
	e := newEnv(t, 16, Config{MachineGUID: "{5E3EDFE5-440D-5132-A3F3-A7AE35275C64}"})
	type accepted struct {
		c   *Conversation
		err error
	}
	done := make(chan accepted, 1)
	go func() {
		c, err := e.m.Accept(context.Background(), Invitation{SessionID: "9f44428a", Addr: e.peer.addr(), Cookie: "f5d26dd3", Inviter: "carol@example.com", InviterName: "Carol"})
		done <- accepted{c, err}
	}()
	pc := e.peer.accept()
	ans := pc.expect("ANS")
	if ans.Arg(0) != "alice@example.com;{5E3EDFE5-440D-5132-A3F3-A7AE35275C64}" || ans.Arg(1) != "f5d26dd3" || ans.Arg(2) != "9f44428a" {
		t.Fatalf("ANS args %v", ans.Args)
	}
	pc.send("IRO %d 1 2 carol@example.com;{ca3270cd-85dc-5c21-aa06-ccdc6b86e963} Carol%%20C 2789003324:48", ans.TrID)
	pc.send("IRO %d 2 2 carol@example.com Carol%%20C 2789003324:48", ans.TrID)
	pc.send("ANS %d OK", ans.TrID)
	pc.send("JOI alice@example.com Alice 2789003324:48")
	var a accepted
	select {
	case a = <-done:
	case <-time.After(waitLimit):
		t.Fatal("Accept did not return")
	}
	if a.err != nil || a.c == nil || a.c.IsGroup() || a.c.ID() != "carol@example.com" {
		t.Fatalf("accepted %+v", a)
	}
	if a.c != e.m.Conversation("carol@example.com") {
		t.Fatal("not routed to the one-to-one conversation")
	}
	j := waitEvent[*JoinedEvent](t, e.rec)
	if j.Participant.Passport != "carol@example.com" || j.Participant.FriendlyName != "Carol C" {
		t.Fatalf("joined %+v", j.Participant)
	}
	pc.sendMSG("carol@example.com", "Carol%20C", "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhi alice")
	if m := noEventBefore[*JoinedEvent, *MessageEvent](t, e.rec); m.Conv != a.c || m.Text != "hi alice" {
		t.Fatalf("message %+v", m)
	}
	// Replies use the accepted switchboard: no XFR.
	res := a.c.SendText(context.Background(), "hi carol", message.Format{})
	msg := pc.expect("MSG")
	pc.send("ACK %d", msg.TrID)
	if o, err := wait(t, res); o != Delivered {
		t.Fatalf("outcome %v %v", o, err)
	}
	if e.ns.xfrCount() != 0 {
		t.Fatalf("%d XFRs for an accepted switchboard", e.ns.xfrCount())
	}
	// Server idle drop: BYE email 1.
	pc.send("BYE carol@example.com 1")
	if l := waitEvent[*LeftEvent](t, e.rec); !l.Idle {
		t.Fatalf("left %+v", l)
	}
}

func TestCALErrors(t *testing.T) {
	cases := []struct {
		code    int
		outcome Outcome
		target  error
	}{
		{217, Offline, ErrOffline},
		{216, Failed, ErrBlocked},
		{208, Failed, ErrInvalidUser},
		{215, Failed, ErrAlreadyInSession},
	}
	for _, tc := range cases {
		t.Run(wire.ErrorText(tc.code), func(t *testing.T) {
			e := newEnv(t, 12, Config{})
			res := e.m.Conversation("nobody@example.com").SendText(context.Background(), "hello?", message.Format{})
			pc := e.peer.accept()
			usr := pc.expect("USR")
			pc.send("USR %d OK alice@example.com Alice", usr.TrID)
			cal := pc.expect("CAL")
			pc.send("%d %d", tc.code, cal.TrID)
			o, err := wait(t, res)
			if o != tc.outcome || !errors.Is(err, tc.target) {
				t.Fatalf("outcome %v %v, want %v %v", o, err, tc.outcome, tc.target)
			}
			var ce *CallError
			if !errors.As(err, &ce) || ce.Code != tc.code || ce.Passport != "nobody@example.com" {
				t.Fatalf("call error %+v", ce)
			}
			if wire.ErrorCode(err) != tc.code {
				t.Fatalf("wire code %d", wire.ErrorCode(err))
			}
			got := pc.expectClosed()
			if len(got) != 1 || got[0].Name != "OUT" {
				t.Fatalf("after CAL error the client sent %v, want OUT", got)
			}
		})
	}
}

func TestNAKInOneToOneIsOffline(t *testing.T) {
	e := newEnv(t, 12, Config{})
	c := e.m.Conversation("bob@example.com")
	res := c.SendText(context.Background(), "hello", message.Format{})
	pc := e.peer.accept()
	pc.openAndJoin("alice@example.com", "bob@example.com")
	msg := pc.expect("MSG")
	pc.send("NAK %d", msg.TrID)
	o, err := wait(t, res)
	if o != Offline || !errors.Is(err, ErrNotDelivered) || !errors.Is(err, ErrOffline) {
		t.Fatalf("outcome %v %v", o, err)
	}
	// An error reply to a MSG fails that message.
	res2 := c.SendText(context.Background(), "again", message.Format{})
	msg = pc.expect("MSG")
	pc.send("282 %d", msg.TrID)
	if o, err := wait(t, res2); o != Failed || wire.ErrorCode(err) != 282 {
		t.Fatalf("outcome %v %v", o, err)
	}
}

func TestDroppedSwitchboardResendsPendingOnce(t *testing.T) {
	e := newEnv(t, 12, Config{})
	c := e.m.Conversation("bob@example.com")
	res := c.SendText(context.Background(), "survives one drop", message.Format{})
	pc := e.peer.accept()
	pc.openAndJoin("alice@example.com", "bob@example.com")
	first := pc.expect("MSG")
	pc.nc.Close() // drop without ACK

	pc2 := e.peer.accept()
	pc2.openAndJoin("alice@example.com", "bob@example.com")
	again := pc2.expect("MSG")
	if string(again.Payload) != string(first.Payload) {
		t.Fatalf("re-sent payload differs")
	}
	if o, _ := res.Outcome(); o != Pending {
		t.Fatalf("resolved before ACK: %v", o)
	}
	pc2.send("ACK %d", again.TrID)
	if o, err := wait(t, res); o != Delivered {
		t.Fatalf("outcome %v %v", o, err)
	}
	if cl := waitEvent[*ClosedEvent](t, e.rec); !errors.Is(cl.Err, ErrConnectionLost) {
		t.Fatalf("closed event %+v", cl)
	}
	if e.ns.xfrCount() != 2 {
		t.Fatalf("%d XFRs", e.ns.xfrCount())
	}
}

func TestDroppedTwiceFails(t *testing.T) {
	e := newEnv(t, 12, Config{})
	res := e.m.Conversation("bob@example.com").SendText(context.Background(), "unlucky", message.Format{})
	for i := 0; i < 2; i++ {
		pc := e.peer.accept()
		pc.openAndJoin("alice@example.com", "bob@example.com")
		pc.expect("MSG")
		pc.nc.Close()
	}
	o, err := wait(t, res)
	if o != Failed || !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("outcome %v %v", o, err)
	}
}

func TestSendTimeout(t *testing.T) {
	e := newEnv(t, 12, Config{SendTimeout: 300 * time.Millisecond})
	res := e.m.Conversation("bob@example.com").SendText(context.Background(), "into the void", message.Format{})
	pc := e.peer.accept()
	pc.openAndJoin("alice@example.com", "bob@example.com")
	pc.expect("MSG") // never acknowledged
	o, err := wait(t, res)
	if o != Failed || !errors.Is(err, ErrTimeout) {
		t.Fatalf("outcome %v %v", o, err)
	}
}

func TestCancelledBeforeWriteFails(t *testing.T) {
	e := newEnv(t, 12, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	res := e.m.Conversation("bob@example.com").SendText(ctx, "never mind", message.Format{})
	pc := e.peer.accept()
	usr := pc.expect("USR")
	cancel()
	if o, err := wait(t, res); o != Failed || !errors.Is(err, context.Canceled) {
		t.Fatalf("outcome %v %v", o, err)
	}
	pc.send("USR %d OK alice@example.com Alice", usr.TrID)
	cal := pc.expect("CAL")
	pc.send("CAL %d RINGING 1", cal.TrID)
	pc.send("JOI bob@example.com Bob")
	// The cancelled message is not sent: the next thing on the wire is the next message.
	res2 := e.m.Conversation("bob@example.com").SendText(context.Background(), "this one", message.Format{})
	msg := pc.expect("MSG")
	if bodyOf(t, msg.Payload) != "this one" {
		t.Fatalf("sent %q", msg.Payload)
	}
	pc.send("ACK %d", msg.TrID)
	if o, _ := wait(t, res2); o != Delivered {
		t.Fatalf("outcome %v", o)
	}
}

func TestIdleCloseAndTransparentReopen(t *testing.T) {
	e := newEnv(t, 12, Config{IdleTimeout: 100 * time.Millisecond})
	c := e.m.Conversation("bob@example.com")
	res := c.SendText(context.Background(), "one", message.Format{})
	pc := e.peer.accept()
	pc.openAndJoin("alice@example.com", "bob@example.com")
	msg := pc.expect("MSG")
	pc.send("ACK %d", msg.TrID)
	if o, _ := wait(t, res); o != Delivered {
		t.Fatalf("outcome %v", o)
	}
	cl := waitEvent[*ClosedEvent](t, e.rec)
	if !cl.Idle || cl.Err != nil || cl.Conv != c {
		t.Fatalf("closed %+v", cl)
	}
	if got := pc.expectClosed(); len(got) != 1 || got[0].Name != "OUT" {
		t.Fatalf("idle close sent %v", got)
	}
	if c.Connected() {
		t.Fatal("still connected after idle close")
	}
	res = c.SendText(context.Background(), "two", message.Format{})
	pc2 := e.peer.accept()
	pc2.openAndJoin("alice@example.com", "bob@example.com")
	msg = pc2.expect("MSG")
	if bodyOf(t, msg.Payload) != "two" {
		t.Fatalf("reopened with %q", msg.Payload)
	}
	pc2.send("ACK %d", msg.TrID)
	if o, _ := wait(t, res); o != Delivered {
		t.Fatalf("outcome %v", o)
	}
	if e.ns.xfrCount() != 2 {
		t.Fatalf("%d XFRs", e.ns.xfrCount())
	}
}

func TestLongMultiByteMessageIsSplit(t *testing.T) {
	e := newEnv(t, 12, Config{})
	var b strings.Builder
	words := []string{"héllo", "wörld", "日本語の文章", "emoji😀🎉", "ĉiuĵaŭde", "Ελληνικά"}
	for i := 0; utf8.RuneCountInString(b.String()) < 5000; i++ {
		b.WriteString(words[i%len(words)])
		b.WriteByte(' ')
	}
	text := string([]rune(b.String())[:5000])
	res := e.m.Conversation("bob@example.com").SendText(context.Background(), text, message.Format{})
	pc := e.peer.accept()
	pc.openAndJoin("alice@example.com", "bob@example.com")
	var got strings.Builder
	var trids []uint32
	for got.Len() < len(text) {
		msg := pc.expect("MSG")
		if len(msg.Payload) > MaxPayload {
			t.Fatalf("MSG payload of %d bytes", len(msg.Payload))
		}
		body := bodyOf(t, msg.Payload)
		if !utf8.ValidString(body) {
			t.Fatal("a rune was split")
		}
		got.WriteString(body)
		trids = append(trids, msg.TrID)
	}
	if got.String() != text {
		t.Fatal("parts do not join up to the text")
	}
	if len(trids) < 3 {
		t.Fatalf("only %d parts", len(trids))
	}
	for i, trid := range trids {
		if o, _ := res.Outcome(); o != Pending {
			t.Fatalf("resolved after %d of %d ACKs", i, len(trids))
		}
		pc.send("ACK %d", trid)
	}
	if o, err := wait(t, res); o != Delivered {
		t.Fatalf("outcome %v %v", o, err)
	}
}

func TestThreePartyConversation(t *testing.T) {
	e := newEnv(t, 12, Config{})
	c := e.m.Conversation("bob@example.com")
	res := c.SendText(context.Background(), "hi bob", message.Format{})
	pc := e.peer.accept()
	pc.openAndJoin("alice@example.com", "bob@example.com")
	msg := pc.expect("MSG")
	pc.send("ACK %d", msg.TrID)
	if o, _ := wait(t, res); o != Delivered {
		t.Fatalf("outcome %v", o)
	}
	inviteErr := make(chan error, 1)
	go func() { inviteErr <- c.Invite(context.Background(), "carol@example.com") }()
	cal := pc.expect("CAL")
	if cal.Arg(0) != "carol@example.com" {
		t.Fatalf("CAL %v", cal.Args)
	}
	pc.send("CAL %d RINGING 1234", cal.TrID)
	if err := <-inviteErr; err != nil {
		t.Fatalf("invite: %v", err)
	}
	pc.send("JOI carol@example.com Carol 1073741824")
	bg := waitEvent[*BecameGroupEvent](t, e.rec)
	g := bg.Conv
	if bg.From != c || !g.IsGroup() || len(bg.Participants) != 2 || e.m.Group(g.ID()) != g {
		t.Fatalf("became group %+v", bg)
	}
	if ps := g.Participants(); len(ps) != 2 || ps[0].Passport != "bob@example.com" || ps[1].Passport != "carol@example.com" {
		t.Fatalf("group roster %+v", ps)
	}
	if c.Connected() || !g.Connected() {
		t.Fatal("switchboard not moved to the group")
	}
	pc.sendMSG("carol@example.com", "Carol", "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhello all")
	if m := waitEvent[*MessageEvent](t, e.rec); m.Conv != g || m.Sender.Passport != "carol@example.com" {
		t.Fatalf("message %+v", m)
	}
	gres := g.SendText(context.Background(), "hi both", message.Format{})
	msg = pc.expect("MSG")
	pc.send("ACK %d", msg.TrID)
	if o, _ := wait(t, gres); o != Delivered {
		t.Fatalf("group outcome %v", o)
	}
	// A NAK in a group is a failure, not "offline".
	gres = g.SendText(context.Background(), "lost", message.Format{})
	msg = pc.expect("MSG")
	pc.send("NAK %d", msg.TrID)
	if o, err := wait(t, gres); o != Failed || !errors.Is(err, ErrNotDelivered) {
		t.Fatalf("group NAK outcome %v %v", o, err)
	}
	pc.send("BYE carol@example.com")
	if l := waitEvent[*LeftEvent](t, e.rec); l.Conv != g || l.Passport != "carol@example.com" {
		t.Fatalf("left %+v", l)
	}
	if ps := g.Participants(); len(ps) != 1 || ps[0].Passport != "bob@example.com" {
		t.Fatalf("group roster after BYE %+v", ps)
	}
	// The group stays open; the one-to-one conversation opens its own switchboard.
	res = c.SendText(context.Background(), "just you", message.Format{})
	pc2 := e.peer.accept()
	pc2.openAndJoin("alice@example.com", "bob@example.com")
	msg = pc2.expect("MSG")
	pc2.send("ACK %d", msg.TrID)
	if o, _ := wait(t, res); o != Delivered {
		t.Fatalf("outcome %v", o)
	}
	if !g.Connected() {
		t.Fatal("group switchboard closed")
	}
}

func TestInvitationWithSeveralParticipantsIsGroup(t *testing.T) {
	e := newEnv(t, 12, Config{})
	g, pc := e.acceptInvite(t, Invitation{SessionID: "1", Cookie: "c", Inviter: "bob@example.com"},
		"bob@example.com Bob 1073741824", "carol@example.com Carol 1073741824")
	if g == nil || !g.IsGroup() || len(g.Participants()) != 3-1 {
		t.Fatalf("group %+v", g)
	}
	pc.send("JOI dave@example.com Dave 1073741824")
	if j := waitEvent[*JoinedEvent](t, e.rec); j.Conv != g {
		t.Fatalf("joined %+v", j)
	}
	// third joiner
	for j := waitEvent[*JoinedEvent](t, e.rec); j.Participant.Passport != "dave@example.com"; j = waitEvent[*JoinedEvent](t, e.rec) {
	}
	if len(g.Participants()) != 3 {
		t.Fatalf("roster %+v", g.Participants())
	}
}

func TestXFRThrottle(t *testing.T) {
	e := newEnv(t, 12, Config{XFRInterval: 200 * time.Millisecond})
	start := time.Now()
	r1 := e.m.Conversation("bob@example.com").SendText(context.Background(), "a", message.Format{})
	r2 := e.m.Conversation("carol@example.com").SendText(context.Background(), "b", message.Format{})
	for i := 0; i < 2; i++ {
		pc := e.peer.accept()
		usr := pc.expect("USR")
		pc.send("USR %d OK alice@example.com Alice", usr.TrID)
		cal := pc.expect("CAL")
		pc.send("CAL %d RINGING 1", cal.TrID)
		pc.send("JOI %s X", cal.Arg(0))
		msg := pc.expect("MSG")
		pc.send("ACK %d", msg.TrID)
	}
	wait(t, r1)
	wait(t, r2)
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("two XFRs within %v", el)
	}
}
