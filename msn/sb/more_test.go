package sb

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/message"
)

func TestGroupOpensWithEveryMemberAndReopensAfterDrop(t *testing.T) {
	e := newEnv(t, 12, Config{})
	g := e.m.NewGroup("Bob@example.com", "carol@example.com", "alice@example.com", "bob@example.com")
	if !g.IsGroup() || len(g.Participants()) != 2 || e.m.Group(g.ID()) != g {
		t.Fatalf("new group %q %+v", g.ID(), g.Participants())
	}
	for round := 0; round < 2; round++ {
		res := g.SendText(context.Background(), "hello group", message.Format{})
		pc := e.peer.accept()
		usr := pc.expect("USR")
		pc.send("USR %d OK alice@example.com Alice", usr.TrID)
		c1 := pc.expect("CAL")
		c2 := pc.expect("CAL")
		if c1.Arg(0) != "bob@example.com" || c2.Arg(0) != "carol@example.com" {
			t.Fatalf("round %d: CAL %v then %v", round, c1.Args, c2.Args)
		}
		pc.send("CAL %d RINGING 1", c1.TrID)
		pc.send("217 %d", c2.TrID) // carol is offline: bob alone is enough
		pc.send("JOI bob@example.com Bob 0")
		msg := pc.expect("MSG")
		pc.send("ACK %d", msg.TrID)
		if o, err := wait(t, res); o != Delivered {
			t.Fatalf("round %d: %v %v", round, o, err)
		}
		pc.nc.Close()
		cl := waitEvent[*ClosedEvent](t, e.rec)
		if cl.Conv != g || !errors.Is(cl.Err, ErrConnectionLost) {
			t.Fatalf("closed %+v", cl)
		}
	}
	// The offline member stays a member: a later switchboard calls them again.
	if len(g.Participants()) != 2 {
		t.Fatalf("members %+v", g.Participants())
	}
}

func TestAcceptReplacesLiveSwitchboard(t *testing.T) {
	e := newEnv(t, 12, Config{})
	c := e.m.Conversation("bob@example.com")
	res := c.SendText(context.Background(), "one", message.Format{})
	old := e.peer.accept()
	old.openAndJoin("alice@example.com", "bob@example.com")
	msg := old.expect("MSG")
	old.send("ACK %d", msg.TrID)
	wait(t, res)

	done := make(chan error, 1)
	go func() {
		_, err := e.m.Accept(context.Background(), Invitation{SessionID: "2", Addr: e.peer.addr(), Cookie: "c2", Inviter: "bob@example.com"})
		done <- err
	}()
	pc := e.peer.accept()
	ans := pc.expect("ANS")
	pc.send("IRO %d 1 1 bob@example.com Bob 0", ans.TrID)
	pc.send("ANS %d OK", ans.TrID)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := old.expectClosed(); len(got) != 1 || got[0].Name != "OUT" {
		t.Fatalf("old switchboard got %v, want OUT", got)
	}
	res = c.SendText(context.Background(), "two", message.Format{})
	msg = pc.expect("MSG")
	if bodyOf(t, msg.Payload) != "two" {
		t.Fatalf("sent %q", msg.Payload)
	}
	pc.send("ACK %d", msg.TrID)
	if o, _ := wait(t, res); o != Delivered {
		t.Fatalf("outcome %v", o)
	}
	// The replaced switchboard's end is not the conversation's end.
	noEventBefore[*ClosedEvent, *JoinedEvent](t, e.rec) // bob's Joined on the old SB
}

func TestInviteErrors(t *testing.T) {
	e := newEnv(t, 12, Config{})
	c := e.m.Conversation("bob@example.com")
	if err := c.Invite(context.Background(), "carol@example.com"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("invite without switchboard: %v", err)
	}
	if err := c.Invite(context.Background(), "not a passport"); !errors.Is(err, ErrInvalidUser) {
		t.Fatalf("invite of a bad passport: %v", err)
	}
	res := c.SendText(context.Background(), "hi", message.Format{})
	pc := e.peer.accept()
	pc.openAndJoin("alice@example.com", "bob@example.com")
	msg := pc.expect("MSG")
	pc.send("ACK %d", msg.TrID)
	wait(t, res)
	errc := make(chan error, 1)
	go func() { errc <- c.Invite(context.Background(), "carol@example.com") }()
	cal := pc.expect("CAL")
	pc.send("217 %d", cal.TrID)
	err := <-errc
	var ce *CallError
	if !errors.Is(err, ErrOffline) || !errors.As(err, &ce) || ce.Passport != "carol@example.com" {
		t.Fatalf("invite error %v", err)
	}
	if !c.Connected() {
		t.Fatal("a failed CAL closed the switchboard")
	}
}

func TestOpenFailures(t *testing.T) {
	t.Run("XFR error", func(t *testing.T) {
		e := newEnv(t, 12, Config{})
		e.ns.err = errors.New("913 not allowed while hidden")
		o, err := wait(t, e.m.Conversation("bob@example.com").SendText(context.Background(), "x", message.Format{}))
		if o != Failed || err == nil || !strings.Contains(err.Error(), "913") {
			t.Fatalf("outcome %v %v", o, err)
		}
	})
	t.Run("USR refused", func(t *testing.T) {
		e := newEnv(t, 12, Config{})
		res := e.m.Conversation("bob@example.com").SendText(context.Background(), "x", message.Format{})
		pc := e.peer.accept()
		usr := pc.expect("USR")
		pc.send("911 %d", usr.TrID)
		if o, err := wait(t, res); o != Failed || !strings.Contains(err.Error(), "911") {
			t.Fatalf("outcome %v %v", o, err)
		}
	})
	t.Run("nobody joins", func(t *testing.T) {
		e := newEnv(t, 12, Config{OpenTimeout: 300 * time.Millisecond})
		res := e.m.Conversation("bob@example.com").SendText(context.Background(), "x", message.Format{})
		pc := e.peer.accept()
		usr := pc.expect("USR")
		pc.send("USR %d OK alice@example.com Alice", usr.TrID)
		cal := pc.expect("CAL")
		pc.send("CAL %d RINGING 1", cal.TrID)
		if o, err := wait(t, res); o != Failed || !errors.Is(err, ErrTimeout) {
			t.Fatalf("outcome %v %v", o, err)
		}
		if got := pc.expectClosed(); len(got) != 1 || got[0].Name != "OUT" {
			t.Fatalf("after the join timeout the client sent %v", got)
		}
	})
}

func TestQueueBound(t *testing.T) {
	e := newEnv(t, 12, Config{})
	c := e.m.Conversation("bob@example.com")
	for i := 0; i < maxQueue; i++ {
		c.SendTyping(context.Background())
	}
	pc := e.peer.accept()
	pc.expect("USR") // never answered: everything stays queued
	if o, err := wait(t, c.SendTyping(context.Background())); o != Failed || !errors.Is(err, ErrQueueFull) {
		t.Fatalf("outcome %v %v", o, err)
	}
}

func TestRawPayloads(t *testing.T) {
	e := newEnv(t, 12, Config{})
	c := e.m.Conversation("bob@example.com")
	if o, err := wait(t, c.Send(context.Background(), Outgoing{Kind: OutRaw, Payload: make([]byte, MaxPayload+1)})); o != Failed || !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("oversized: %v %v", o, err)
	}
	if o, _ := wait(t, c.Send(context.Background(), Outgoing{Kind: OutRaw, Payload: []byte("x"), Ack: 'Q'})); o != Failed {
		t.Fatalf("bad ack type: %v", o)
	}
	if o, _ := wait(t, c.SendText(context.Background(), "", message.Format{})); o != Failed {
		t.Fatalf("empty text: %v", o)
	}
	p2p := "MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: bob@example.com\r\n\r\n" + strings.Repeat("\x00", 52)
	res := c.Send(context.Background(), Outgoing{Kind: OutRaw, Payload: []byte(p2p), Ack: AckAlways})
	pc := e.peer.accept()
	pc.openAndJoin("alice@example.com", "bob@example.com")
	msg := pc.expect("MSG")
	if msg.Arg(0) != "D" || string(msg.Payload) != p2p {
		t.Fatalf("P2P sent with %v", msg.Args)
	}
	pc.send("ACK %d", msg.TrID)
	if o, _ := wait(t, res); o != Delivered {
		t.Fatalf("outcome %v", o)
	}
}

func TestIncomingSpecialPayloads(t *testing.T) {
	e := newEnv(t, 12, Config{})
	c := e.m.Conversation("bob@example.com")
	res := c.SendText(context.Background(), "hi", message.Format{})
	pc := e.peer.accept()
	pc.openAndJoin("alice@example.com", "bob@example.com")
	msg := pc.expect("MSG")
	pc.send("ACK %d", msg.TrID)
	wait(t, res)

	// P2P for someone else in the switchboard is not ours.
	pc.sendMSG("bob@example.com", "Bob", "MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: carol@example.com\r\n\r\n0123")
	pc.sendMSG("bob@example.com", "Bob", "MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: alice@example.com\r\n\r\n4567")
	ce := waitEvent[*ContentEvent](t, e.rec)
	if ce.Kind != message.KindP2P || ce.Message.P2P == nil || string(ce.Message.P2P.Data) != "4567" {
		t.Fatalf("p2p event %+v", ce)
	}
	// A chunked message arrives as one.
	pc.sendMSG("bob@example.com", "Bob", "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nMessage-ID: {AB}\r\nChunks: 2\r\n\r\nfirst half, ")
	pc.sendMSG("bob@example.com", "Bob", "Message-ID: {AB}\r\nChunk: 1\r\n\r\nsecond half")
	if m := waitEvent[*MessageEvent](t, e.rec); m.Text != "first half, second half" {
		t.Fatalf("reassembled %q", m.Text)
	}
	// Garbage is reported, not fatal.
	pc.sendMSG("bob@example.com", "Bob", "no headers at all")
	if ce := waitEvent[*ContentEvent](t, e.rec); ce.Kind != message.KindUnknown || (ce.ParseErr == nil && ce.Message == nil) {
		t.Fatalf("garbage event %+v", ce)
	}
	// A wink is a typed content event.
	pc.sendMSG("bob@example.com", "Bob", "MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\nID: 2\r\nData: <msnobj/>\r\n\r\n")
	if ce := waitEvent[*ContentEvent](t, e.rec); ce.Kind != message.KindWink {
		t.Fatalf("wink event %+v", ce)
	}
	if !c.Connected() {
		t.Fatal("odd payloads closed the switchboard")
	}
}

func TestLeaveAndClose(t *testing.T) {
	e := newEnv(t, 12, Config{})
	g := e.m.NewGroup("bob@example.com", "carol@example.com")
	res := g.SendText(context.Background(), "hi all", message.Format{})
	pc := e.peer.accept()
	usr := pc.expect("USR")
	pc.send("USR %d OK alice@example.com Alice", usr.TrID)
	for i := 0; i < 2; i++ {
		cal := pc.expect("CAL")
		pc.send("CAL %d RINGING 1", cal.TrID)
		pc.send("JOI %s X 0", cal.Arg(0))
	}
	msg := pc.expect("MSG")
	pc.send("ACK %d", msg.TrID)
	wait(t, res)
	if err := g.Leave(); err != nil {
		t.Fatal(err)
	}
	if got := pc.expectClosed(); len(got) != 1 || got[0].Name != "OUT" {
		t.Fatalf("leave sent %v", got)
	}
	if e.m.Group(g.ID()) != nil {
		t.Fatal("left group still known")
	}
	if o, err := wait(t, g.SendText(context.Background(), "too late", message.Format{})); o != Failed || !errors.Is(err, ErrClosed) {
		t.Fatalf("send after leave: %v %v", o, err)
	}

	// Close fails what is queued and ends every switchboard.
	c := e.m.Conversation("bob@example.com")
	queued := c.SendText(context.Background(), "queued", message.Format{})
	pc2 := e.peer.accept()
	pc2.expect("USR")
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}
	if o, err := wait(t, queued); o != Failed || !errors.Is(err, ErrClosed) {
		t.Fatalf("queued at close: %v %v", o, err)
	}
	pc2.expectClosed()
	if o, _ := wait(t, c.SendText(context.Background(), "after close", message.Format{})); o != Failed {
		t.Fatalf("send after close: %v", o)
	}
}

func TestLeaveFailsUnacknowledgedWithoutReopening(t *testing.T) {
	e := newEnv(t, 12, Config{})
	c := e.m.Conversation("bob@example.com")
	res := c.SendText(context.Background(), "pending", message.Format{})
	pc := e.peer.accept()
	pc.openAndJoin("alice@example.com", "bob@example.com")
	pc.expect("MSG") // no ACK
	if err := c.Leave(); err != nil {
		t.Fatal(err)
	}
	if o, err := wait(t, res); o != Failed || !errors.Is(err, ErrClosed) {
		t.Fatalf("outcome %v %v", o, err)
	}
	pc.expectClosed()
	if cl := waitEvent[*ClosedEvent](t, e.rec); cl.Conv != c || cl.Err != nil {
		t.Fatalf("closed %+v", cl)
	}
	e.peer.noConnection()
	if e.ns.xfrCount() != 1 {
		t.Fatalf("%d XFRs after leave", e.ns.xfrCount())
	}
	// The one-to-one conversation is still usable.
	res = c.SendText(context.Background(), "later", message.Format{})
	pc = e.peer.accept()
	pc.openAndJoin("alice@example.com", "bob@example.com")
	msg := pc.expect("MSG")
	pc.send("ACK %d", msg.TrID)
	if o, _ := wait(t, res); o != Delivered {
		t.Fatalf("outcome %v", o)
	}
}

func TestOpeningSwitchboardTakenOverByGroup(t *testing.T) {
	e := newEnv(t, 12, Config{})
	c := e.m.Conversation("bob@example.com")
	res := c.SendText(context.Background(), "for bob only", message.Format{})
	pc := e.peer.accept()
	usr := pc.expect("USR")
	pc.send("USR %d OK alice@example.com Alice", usr.TrID)
	cal := pc.expect("CAL")
	pc.send("CAL %d RINGING 1", cal.TrID)
	// Someone else is already there when bob joins: it is a group, not our 1:1.
	pc.send("JOI carol@example.com Carol 0")
	pc.send("JOI bob@example.com Bob 0")
	bg := waitEvent[*BecameGroupEvent](t, e.rec)
	if bg.From != c || !bg.Conv.IsGroup() {
		t.Fatalf("became group %+v", bg)
	}
	// The 1:1 message goes out on a new switchboard of its own.
	pc2 := e.peer.accept()
	pc2.openAndJoin("alice@example.com", "bob@example.com")
	msg := pc2.expect("MSG")
	if bodyOf(t, msg.Payload) != "for bob only" {
		t.Fatalf("sent %q", msg.Payload)
	}
	pc2.send("ACK %d", msg.TrID)
	if o, err := wait(t, res); o != Delivered {
		t.Fatalf("outcome %v %v", o, err)
	}
}

func TestRestoreGroupReceivesItsInvitations(t *testing.T) {
	e := newEnv(t, 12, Config{})
	g := e.m.RestoreGroup("room-42", "bob@example.com", "Carol@example.com")
	if e.m.RestoreGroup("room-42") != g || g.ID() != "room-42" || len(g.Participants()) != 2 {
		t.Fatalf("restored %q %+v", g.ID(), g.Participants())
	}
	c, _ := e.acceptInvite(t, Invitation{SessionID: "9", Cookie: "k", Inviter: "carol@example.com"},
		"carol@example.com Carol 0", "bob@example.com Bob 0")
	if c != g {
		t.Fatalf("invitation routed to %v, want the restored group", c)
	}
}
