package msntest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/p2p"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	t.Cleanup(cancel)
	return ctx
}

// online18 logs in a MSNP18 client through its first CHG and returns it after its own UBX.
func online18(t *testing.T, s *Server, email, pw, guid string) *client {
	c := login(t, s, 18, email, pw, guid)
	c.send("CHG 5 NLN 2789003324:48 0")
	c.expect("CHG 5 NLN 2789003324:48 0")
	for {
		cmd := c.read()
		if cmd.Name == "UBX" && cmd.Arg(0) == "1:"+email {
			return c
		}
	}
}

// callCarol opens a switchboard from the MSNP18 client ns (email at endpoint guid) and calls
// the scripted contact carol into it; it returns the switchboard connection once she joined.
func callCarol(t *testing.T, s *Server, ns *client, email, guid string) *client {
	t.Helper()
	x := ns.expectXFR("6", s.SBAddr(), "U messenger.msn.com 1")
	sbc := dial(t, email+" SB", s.SBAddr())
	sbc.send("USR 1 " + email + ";" + guid + " " + x)
	sbc.expect("USR 1 OK *rest")
	sbc.send("CAL 2 carol@example.com")
	sbc.expect("CAL 2 RINGING *")
	sbc.expect("JOI carol@example.com Carol 1073741824:0")
	return sbc
}

// bobWithCarol starts a server with alice and bob, and carol as a scripted contact on bob's
// list: bob is online on MSNP18 and has seen carol come online.
func bobWithCarol(t *testing.T) (*Server, *client, *Contact) {
	t.Helper()
	s := newServer(t, Options{})
	aliceBob(t, s)
	must(t, s.AddAccount("carol@example.com", "carolpass1", "Carol"))
	must(t, s.AddContact("bob@example.com", "carol@example.com", FL|AL))
	bob := online18(t, s, "bob@example.com", "bobpass1", bobGUID)
	carol := s.Contact("carol@example.com")
	must(t, carol.SignIn("NLN"))
	bob.expect("NLN NLN 1:carol@example.com Carol 1073741824:0 %3Cmsnobj%2F%3E")
	bob.expect("UBX 1:carol@example.com *")
	return s, bob, carol
}

func TestScriptedContactChatsWithRealClient(t *testing.T) {
	s, bob, carol := bobWithCarol(t)
	must(t, s.SetPersonalMessage("carol@example.com", "scripted"))
	bob.expect("UBX 1:carol@example.com *")

	done := make(chan error, 1)
	go func() { done <- carol.Say(ctxT(t), "bob@example.com", "Hello from Carol") }()
	rng := bob.expect("RNG * " + s.SBAddr() + " CKI * carol@example.com Carol U messenger.hotmail.com 1")
	bsb := dial(t, "bob SB", s.SBAddr())
	bsb.send("ANS 1 bob@example.com;" + bobGUID + " " + rng.Args[3] + " " + rng.Args[0])
	bsb.expect("IRO 1 1 1 carol@example.com Carol 1073741824:0")
	bsb.expect("ANS 1 OK")
	bsb.expect("JOI bob@example.com bob@example.com 2789003324:48")
	msg := bsb.expect("MSG carol@example.com Carol *")
	if bodyOf(msg.Payload) != "Hello from Carol" {
		t.Fatalf("payload %q", msg.Payload)
	}
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(ioTimeout):
		t.Fatal("Say did not return")
	}
	must(t, carol.Typing(ctxT(t), "bob@example.com"))
	if got := bsb.expect("MSG carol@example.com Carol *"); !strings.Contains(string(got.Payload), "TypingUser: carol@example.com") {
		t.Fatalf("typing %q", got.Payload)
	}
	must(t, carol.Nudge(ctxT(t), "bob@example.com"))
	if got := bsb.expect("MSG carol@example.com Carol *"); !strings.Contains(string(got.Payload), "ID: 1") {
		t.Fatalf("nudge %q", got.Payload)
	}
	reply := "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHi Carol"
	bsb.sendPayload("MSG 2 A", reply)
	bsb.expect("ACK 2")
	m, err := carol.NextText(ctxT(t))
	must(t, err)
	if m.From != "bob@example.com" || m.Body != "Hi Carol" {
		t.Fatalf("carol received %+v", m)
	}
	if len(carol.Received()) != 1 {
		t.Fatalf("Received = %d messages", len(carol.Received()))
	}
	must(t, carol.Leave("bob@example.com"))
	bsb.expect("BYE carol@example.com")
}

func TestRealClientCallsScriptedContactAndInvitesAThird(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	must(t, s.AddAccount("carol@example.com", "carolpass1", "Carol"))
	must(t, s.AddContact("alice@example.com", "carol@example.com", FL|AL))
	carol := s.Contact("carol@example.com")
	must(t, carol.SignIn("NLN"))
	alice := online18(t, s, "alice@example.com", "alicepass1", aliceGUID)
	bob := online18(t, s, "bob@example.com", "bobpass1", bobGUID)
	alice.expect("NLN NLN 1:bob@example.com *rest")
	alice.expect("UBX 1:bob@example.com *")

	asb := callCarol(t, s, alice, "alice@example.com", aliceGUID)
	asb.sendPayload("MSG 3 N", "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhey carol")
	m, err := carol.NextText(ctxT(t))
	must(t, err)
	if m.Body != "hey carol" {
		t.Fatalf("carol got %q", m.Body)
	}
	// Carol pulls bob (a real client) into the conversation: multi-party.
	done := make(chan error, 1)
	go func() { done <- carol.Invite(ctxT(t), "alice@example.com", "bob@example.com") }()
	rng := bob.expect("RNG * " + s.SBAddr() + " CKI * carol@example.com Carol U messenger.hotmail.com 1")
	bsb := dial(t, "bob SB", s.SBAddr())
	bsb.send("ANS 1 bob@example.com;" + bobGUID + " " + rng.Args[3] + " " + rng.Args[0])
	bsb.expect("IRO 1 1 3 alice@example.com;{ca3270cd-85dc-5c21-aa06-ccdc6b86e963} alice@example.com 2789003324:48")
	bsb.expect("IRO 1 2 3 alice@example.com alice@example.com 2789003324:48")
	bsb.expect("IRO 1 3 3 carol@example.com Carol 1073741824:0")
	bsb.expect("ANS 1 OK")
	asb.expect("JOI bob@example.com;{5e3edfe5-440d-5132-a3f3-a7ae35275c64} bob@example.com 2789003324:48")
	asb.expect("JOI bob@example.com bob@example.com 2789003324:48")
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(ioTimeout):
		t.Fatal("Invite did not return")
	}
	if got := carol.Participants("alice@example.com"); len(got) != 3 {
		t.Fatalf("participants %v", got)
	}
	must(t, carol.Say(ctxT(t), "alice@example.com", "hi all"))
	asb.expect("MSG carol@example.com Carol *")
	// bob's own JOI comes first on MSNP16+.
	bsb.expect("JOI bob@example.com bob@example.com 2789003324:48")
	bsb.expect("MSG carol@example.com Carol *")
	must(t, carol.SignOut())
	asb.expect("BYE carol@example.com")
	bsb.expect("BYE carol@example.com")
	alice.expect("FLN 1:carol@example.com 0:0")
}

func TestSayToOfflineFails(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	if err := s.Contact("alice@example.com").Say(ctxT(t), "bob@example.com", "x"); err == nil {
		t.Fatal("Say to an offline account succeeded")
	}
}

func TestAckModesAndIdle(t *testing.T) {
	s := newServer(t, Options{SBIdleTimeout: 200 * time.Millisecond})
	aliceBob(t, s)
	must(t, s.AddAccount("carol@example.com", "carolpass1", "Carol"))
	carol := s.Contact("carol@example.com")
	must(t, carol.SignIn("NLN"))
	alice := login(t, s, 12, "alice@example.com", "alicepass1", "")
	alice.send("CHG 5 NLN 1073741824")
	alice.expect("CHG 5 NLN 1073741824")
	alice.expect("MSG Hotmail Hotmail 195")
	x := alice.expectXFR("6", s.SBAddr(), "")
	asb := dial(t, "alice SB", s.SBAddr())
	asb.send("USR 1 alice@example.com " + x)
	asb.expect("USR 1 OK alice@example.com alice@example.com")
	asb.send("CAL 2 carol@example.com")
	asb.expect("CAL 2 RINGING *")
	asb.expect("JOI carol@example.com Carol 1073741824")
	text := "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nx"
	s.SetAckMode(AckNAK, 0)
	asb.sendPayload("MSG 3 A", text)
	asb.expect("NAK 3")
	s.SetAckMode(AckDelayed, 20*time.Millisecond)
	asb.sendPayload("MSG 4 D", text)
	asb.expect("ACK 4")
	s.SetAckMode(AckNone, 0)
	asb.sendPayload("MSG 5 A", text)
	// The idle timer then drops everyone: alice sees carol leave for idleness.
	asb.expect("BYE carol@example.com 1")
	asb.expectClosed()
	if n := len(carol.Received()); n != 3 {
		t.Fatalf("carol received %d messages", n)
	}
}

func TestIdleOutAndCloseSwitchboards(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	must(t, s.AddAccount("carol@example.com", "carolpass1", "Carol"))
	must(t, s.Contact("carol@example.com").SignIn("NLN"))
	alice := login(t, s, 9, "alice@example.com", "alicepass1", "")
	alice.send("CHG 5 NLN 0 0")
	alice.expect("CHG 5 NLN 0 0")
	bob := login(t, s, 9, "bob@example.com", "bobpass1", "")
	bob.send("CHG 5 NLN 0 0")
	bob.expect("CHG 5 NLN 0 0")
	bob.expect("ILN 5 NLN alice@example.com alice@example.com 0 0")
	alice.expect("NLN NLN bob@example.com bob@example.com 0 0")
	x := alice.expectXFR("6", s.SBAddr(), "")
	asb := dial(t, "alice SB", s.SBAddr())
	asb.send("USR 1 alice@example.com " + x)
	asb.expect("USR 1 OK *rest")
	asb.send("CAL 2 bob@example.com")
	sid := asb.expect("CAL 2 RINGING *").Args[1]
	rng := bob.expect("RNG " + sid + " *rest")
	bsb := dial(t, "bob SB", s.SBAddr())
	bsb.send("ANS 1 bob@example.com " + rng.Args[3] + " " + sid)
	bsb.expect("IRO 1 1 1 alice@example.com alice@example.com")
	bsb.expect("ANS 1 OK")
	asb.expect("JOI bob@example.com bob@example.com")
	if n := s.IdleOutSwitchboards("bob@example.com"); n != 1 {
		t.Fatalf("IdleOutSwitchboards = %d", n)
	}
	asb.expect("BYE bob@example.com 1")
	bsb.expectClosed()
	if n := s.CloseSwitchboards("alice@example.com"); n != 1 {
		t.Fatalf("CloseSwitchboards = %d", n)
	}
	asb.expectClosed()
}

func TestSelfCALPullsOtherEndpoints(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	first := online18(t, s, "alice@example.com", "alicepass1", aliceGUID)
	second := online18(t, s, "alice@example.com", "alicepass1", "{11111111-2222-3333-4444-555555555555}")
	first.expect("NLN NLN 1:alice@example.com *rest")
	first.expect("UBX 1:alice@example.com *")
	x := second.expectXFR("6", s.SBAddr(), "U messenger.msn.com 1")
	sb := dial(t, "second SB", s.SBAddr())
	sb.send("USR 1 alice@example.com;{11111111-2222-3333-4444-555555555555} " + x)
	sb.expect("USR 1 OK *rest")
	sb.send("CAL 2 alice@example.com")
	sid := sb.expect("CAL 2 RINGING *").Args[1]
	sb.expect("JOI alice@example.com alice@example.com 2789003324:48")
	first.expect("RNG " + sid + " " + s.SBAddr() + " CKI * alice@example.com alice@example.com U messenger.hotmail.com 1")
}

// TestContactAckForClosedSwitchboardGoesNowhere: a scripted contact answering a P2P frame of
// a switchboard the client already left (the ACK of the client's BYE, typically) sends the
// ACK nowhere: it does not ring the client for a new switchboard, which would cross the
// client's next one.
func TestContactAckForClosedSwitchboardGoesNowhere(t *testing.T) {
	s, bob, carol := bobWithCarol(t)

	// Bob talks to carol on a switchboard, then leaves it.
	bsb := callCarol(t, s, bob, "bob@example.com", bobGUID)
	bsb.sendPayload("MSG 3 N", "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nbye now")
	m, err := carol.NextText(ctxT(t))
	must(t, err)
	bsb.send("OUT")
	deadline := time.Now().Add(ioTimeout)
	for carol.Participants("bob@example.com") != nil { // nothing to wait on: the server has no notifier
		if time.Now().After(deadline) {
			t.Fatal("the switchboard did not end")
		}
		time.Sleep(5 * time.Millisecond)
	}

	ack := p2p.Frame{Dest: "bob@example.com", Data: p2p.NewAck(p2p.Header{Identifier: 9, TotalSize: 320, AckID: 4}, 100).Bytes(), Ack: true}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		carol.reply(ctx, m, []p2p.Frame{ack})
	}()
	select {
	case <-done:
	case <-time.After(ioTimeout):
		t.Fatal("reply did not return: it is waiting for bob to answer a new switchboard")
	}
	// Bob's next notification is carol's status, not a RNG.
	must(t, s.SetPersonalMessage("carol@example.com", "after"))
	bob.expect("UBX 1:carol@example.com *")
}
