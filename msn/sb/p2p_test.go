package sb

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/p2p"
	"github.com/msnbridge/msnbridge/msn/wire"
)

// transcriptP2P returns a captured P2P MSG payload (msn/p2p/testdata/transcript) with carol,
// the capture's receiver, renamed to alice, this package's test account (same length, so
// every size in the frame stays right).
func transcriptP2P(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "p2p", "testdata", "transcript", name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(raw, []byte("carol@example.com"), []byte("alice@example.com"))
}

// readP2P reads the client's next MSG, checks it is a P2P message to bob with ack type D,
// acknowledges it and returns its frame.
func readP2P(t *testing.T, pc *peerConn) (*wire.Command, *p2p.Packet) {
	t.Helper()
	cmd := pc.expect("MSG")
	if cmd.Arg(0) != "D" {
		t.Fatalf("P2P MSG with ack type %q", cmd.Arg(0))
	}
	pc.send("ACK %d", cmd.TrID)
	m, err := message.Parse(cmd.Payload)
	if err != nil || m.Kind != message.KindP2P || m.P2P.Dest != "bob@example.com" {
		t.Fatalf("P2P payload %q: %v", cmd.Payload, err)
	}
	pk, err := p2p.ParsePacket(m.P2P.Data)
	if err != nil {
		t.Fatal(err)
	}
	return cmd, pk
}

// TestFileOfferDeclinedAtOnce: a contact's file offer (the captured INVITE of
// transcripts/p2p/03-file-decline.txt) is acknowledged and answered with 603 Decline at once,
// with the fields the captured client sent; the bridge still gets the offer as content.
func TestFileOfferDeclinedAtOnce(t *testing.T) {
	e := newEnv(t, 12, Config{})
	_, pc := e.acceptInvite(t, Invitation{SessionID: "1", Cookie: "2", Inviter: "bob@example.com", InviterName: "Bob"}, "bob@example.com Bob 1342472228")
	waitEvent[*JoinedEvent](t, e.rec)
	invite := transcriptP2P(t, "03.bob-3.msg")
	pc.sendMSG("bob@example.com", "Bob%20Builder", string(invite))

	_, ack := readP2P(t, pc)
	_, wantAck := splitPayload(t, transcriptP2P(t, "03.carol-3.msg"))
	got, want := ack.Header, wantAck.Header
	got.Identifier, want.Identifier = 0, 0
	if got != want {
		t.Errorf("ACK %+v, want %+v", ack.Header, wantAck.Header)
	}
	cmd, dec := readP2P(t, pc)
	wantMIME, want603 := splitPayload(t, transcriptP2P(t, "03.carol-2.msg"))
	if !bytes.Equal(dec.Data, want603.Data) || !bytes.HasPrefix(cmd.Payload, []byte(wantMIME)) || len(cmd.Payload) != 472 {
		t.Fatalf("603 differs from the capture:\n%q", cmd.Payload)
	}
	slp, err := p2p.ParseSLP(dec.Data)
	if err != nil || slp.StatusCode != 603 || slp.To() != "bob@example.com" || slp.From() != "alice@example.com" ||
		slp.CallID() != "{8147455F-1BE9-9E6D-1C6E-4BEA8B3E9C46}" || slp.Branch() != "{4006A774-4034-2698-4AEB-B61447858F8A}" {
		t.Fatalf("603 %+v %v", slp, err)
	}
	if id, _ := slp.SessionID(); id != 846930890 || dec.Header.TotalSize != 332 || dec.Header.SessionID != 0 || dec.Header.AckID == 0 {
		t.Errorf("603 header %+v session %d", dec.Header, id)
	}
	ce := waitEvent[*ContentEvent](t, e.rec)
	if ce.Kind != message.KindP2P || !bytes.Contains(ce.Message.P2P.Data, []byte(p2p.EUFGUIDFileTransfer)) {
		t.Fatalf("content event %+v", ce)
	}
}

// splitPayload returns the MIME headers and the frame of a P2P MSG payload.
func splitPayload(t *testing.T, payload []byte) (string, *p2p.Packet) {
	t.Helper()
	i := bytes.Index(payload, []byte("\r\n\r\n"))
	pk, err := p2p.ParsePacket(payload[i+4:])
	if err != nil {
		t.Fatal(err)
	}
	return string(payload[:i+4]), pk
}

// TestP2PForAnotherEndpointIgnored: on MSNP16+ an invitation addressed to another endpoint of
// this account (SLP To "alice;{other guid}", or a P2P-Dest naming it) gets no answer and no
// event; one addressed to our own endpoint is declined from that endpoint.
func TestP2PForAnotherEndpointIgnored(t *testing.T) {
	const guid = "{5E3EDFE5-440D-5132-A3F3-A7AE35275C64}"
	e := newEnv(t, 18, Config{MachineGUID: guid})
	_, pc := e.acceptInvite(t, Invitation{SessionID: "1", Cookie: "2", Inviter: "bob@example.com", InviterName: "Bob"},
		"bob@example.com;{ca3270cd-85dc-5c21-aa06-ccdc6b86e963} Bob 2789003324:48", "bob@example.com Bob 2789003324:48")
	waitEvent[*JoinedEvent](t, e.rec)
	_, inv := splitPayload(t, transcriptP2P(t, "03.bob-3.msg"))
	m, err := p2p.ParseSLP(inv.Data)
	if err != nil {
		t.Fatal(err)
	}
	withTo := func(to, callID string) []byte {
		c := *m
		c.Headers = append(p2p.Fields(nil), m.Headers...)
		for i, f := range c.Headers {
			switch f.Name {
			case "To":
				c.Headers[i].Value = "<msnmsgr:" + to + ">"
			case "Call-ID":
				c.Headers[i].Value = callID
			}
		}
		slp := c.Bytes()
		h := inv.Header
		h.TotalSize = uint64(len(slp))
		return (&p2p.Packet{Header: h, Data: slp}).Bytes()
	}
	send := func(dest string, frame []byte) {
		payload, err := p2p.MessagePayload(dest, frame)
		if err != nil {
			t.Fatal(err)
		}
		pc.sendMSG("bob@example.com", "Bob", string(payload))
	}
	other := "alice@example.com;{00000000-1111-2222-3333-444444444444}"
	send("alice@example.com", withTo(other, "{OTHER-SLP-TO}"))
	send(other, withTo(other, "{OTHER-P2P-DEST}"))
	send("alice@example.com", withTo("alice@example.com;"+guid, "{OURS}"))

	// The first P2P the client sends answers the third invitation: the others got nothing.
	_, ack := readP2P(t, pc)
	if ack.Header.Flags != p2p.FlagAck || ack.Header.AckID != inv.Header.Identifier {
		t.Fatalf("first reply %+v", ack.Header)
	}
	_, dec := readP2P(t, pc)
	slp, err := p2p.ParseSLP(dec.Data)
	if err != nil || slp.StatusCode != 603 || slp.CallID() != "{OURS}" || !strings.EqualFold(slp.From(), "alice@example.com;"+guid) {
		t.Fatalf("603 %+v %v", slp, err)
	}
	ce := waitEvent[*ContentEvent](t, e.rec)
	if !bytes.Contains(ce.Message.P2P.Data, []byte("{OURS}")) {
		t.Fatalf("first content event is not the invitation for us: %q", ce.Message.P2P.Data)
	}
}

// TestP2PAckNotResentOnAnotherSwitchboard: the ACK of a contact's P2P frame belongs to the
// switchboard that frame came in on. When that switchboard drops before the server
// acknowledged the client's answers, the SLP answer (603 Decline) is re-sent on a new
// switchboard, but the ACK is not: the new switchboard's first P2P frame is the 603.
func TestP2PAckNotResentOnAnotherSwitchboard(t *testing.T) {
	e := newEnv(t, 12, Config{})
	_, pc := e.acceptInvite(t, Invitation{SessionID: "1", Cookie: "2", Inviter: "bob@example.com", InviterName: "Bob"}, "bob@example.com Bob 1342472228")
	waitEvent[*JoinedEvent](t, e.rec)
	pc.sendMSG("bob@example.com", "Bob", string(transcriptP2P(t, "03.bob-3.msg")))
	ackCmd := pc.expect("MSG")
	if _, ack := splitPayload(t, ackCmd.Payload); ack.Header.Flags != p2p.FlagAck {
		t.Fatalf("first answer %+v", ack.Header)
	}
	decCmd := pc.expect("MSG")
	pc.nc.Close() // drops both without ACK

	pc2 := e.peer.accept()
	pc2.openAndJoin("alice@example.com", "bob@example.com")
	again := pc2.expect("MSG")
	if _, pk := splitPayload(t, again.Payload); pk.Header.Flags == p2p.FlagAck {
		t.Fatalf("the ACK of the dropped switchboard's frame was re-sent: %+v", pk.Header)
	}
	if !bytes.Equal(again.Payload, decCmd.Payload) {
		t.Fatalf("re-sent %q, want the 603 %q", again.Payload, decCmd.Payload)
	}
	pc2.send("ACK %d", again.TrID)
	// Nothing else follows: a message the client sends now is the next MSG.
	c := e.m.Conversation("bob@example.com")
	res := c.SendText(context.Background(), "after", message.Format{})
	next := pc2.expect("MSG")
	if !bytes.Contains(next.Payload, []byte("after")) {
		t.Fatalf("next MSG %q", next.Payload)
	}
	pc2.send("ACK %d", next.TrID)
	if o, err := wait(t, res); o != Delivered {
		t.Fatalf("outcome %v %v", o, err)
	}
}

// TestIncomingP2PAckIsNoContent: a contact's P2P ACK of a frame the client's responder sent
// (here its 603; the ACK of a fetch's BYE arrives the same way after the fetch ended) is the
// client's own business: no ContentEvent, which would also keep a switchboard opened for a
// fetch from closing. An ACK of anything else is left to the application.
func TestIncomingP2PAckIsNoContent(t *testing.T) {
	e := newEnv(t, 12, Config{})
	_, pc := e.acceptInvite(t, Invitation{SessionID: "1", Cookie: "2", Inviter: "bob@example.com", InviterName: "Bob"}, "bob@example.com Bob 1342472228")
	waitEvent[*JoinedEvent](t, e.rec)
	pc.sendMSG("bob@example.com", "Bob", string(transcriptP2P(t, "03.bob-3.msg")))
	readP2P(t, pc)
	_, dec := readP2P(t, pc)
	waitEvent[*ContentEvent](t, e.rec) // the offer
	sendAck := func(of p2p.Header) {
		payload, err := p2p.MessagePayload("alice@example.com", p2p.NewAck(of, 1000).Bytes())
		if err != nil {
			t.Fatal(err)
		}
		pc.sendMSG("bob@example.com", "Bob", string(payload))
	}
	text := func(s string) {
		pc.sendMSG("bob@example.com", "Bob", "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"+s)
	}
	sendAck(dec.Header)
	text("hi")
	if ev := noEventBefore[*ContentEvent, *MessageEvent](t, e.rec); ev.Text != "hi" {
		t.Fatalf("message %+v", ev)
	}
	foreign := dec.Header
	foreign.Identifier = dec.Header.Identifier + 1_000_000
	sendAck(foreign)
	if ce := waitEvent[*ContentEvent](t, e.rec); ce.Kind != message.KindP2P {
		t.Fatalf("content %+v", ce)
	}
}

// TestFetchSwitchboardClosedDespiteSlowConsumer: a switchboard opened to fetch a picture is
// closed once the fetch is over even while the application is still busy with the event of
// the contact joining it: a join is no use of the conversation. (Under load the JoinedEvent
// of the fetch's own switchboard could still be in delivery when the fetch ended, and the
// switchboard stayed until it idled out.)
func TestFetchSwitchboardClosedDespiteSlowConsumer(t *testing.T) {
	peer := newPeerServer(t)
	gate := make(chan struct{})
	var release sync.Once
	open := func() { release.Do(func() { close(gate) }) }
	t.Cleanup(open)
	m := NewManager(&fakeNS{passport: "alice@example.com", version: 12, addr: peer.addr()}, Config{
		XFRInterval: -1, RequestTimeout: waitLimit,
		OnEvent: func(ev Event) {
			if _, ok := ev.(*JoinedEvent); ok {
				<-gate // the application is slow with the join
			}
		},
	})
	t.Cleanup(func() { m.Close() })

	pic := bytes.Repeat([]byte("picture!"), 400)
	obj := p2p.NewMSNObject("bob@example.com", p2p.ObjectDisplayPicture, pic, "", "")
	bob := p2p.NewSessionResponder("bob@example.com", "", p2p.SessionConfig{Objects: func(d string) ([]byte, bool) {
		return pic, d == obj.SHA1D
	}})
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		data, err := m.FetchObject(ctx, obj)
		done <- result{data, err}
	}()
	pc := peer.accept()
	pc.openAndJoin("alice@example.com", "bob@example.com")
	// Bob's client: every P2P frame from alice goes to bob's responder, its answers back.
	for {
		cmd, err := pc.read()
		if err != nil {
			t.Fatalf("no OUT after the fetch: %v", err)
		}
		if cmd.Name == "OUT" {
			break
		}
		if cmd.Name != "MSG" {
			t.Fatalf("unexpected %s", cmd.Name)
		}
		pc.send("ACK %d", cmd.TrID)
		msg, err := message.Parse(cmd.Payload)
		if err != nil || msg.P2P == nil {
			t.Fatalf("payload %q: %v", cmd.Payload, err)
		}
		out, err := bob.Handle("alice@example.com", msg.P2P.Dest, "", msg.P2P.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range out.Replies {
			payload, err := p2p.MessagePayload(f.Dest, f.Data)
			if err != nil {
				t.Fatal(err)
			}
			pc.sendMSG("bob@example.com", "Bob", string(payload))
		}
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(waitLimit):
		t.Fatal("FetchObject did not return")
	}
	if r.err != nil || !bytes.Equal(r.data, pic) {
		t.Fatalf("fetch: %d bytes, %v", len(r.data), r.err)
	}
	open()
}

// TestServeBoundsShareAcrossConversations: the bound on serving our display picture holds
// for all conversations of a login together, not per conversation (each has its own
// responder): with P2P.MaxServes 1, a second contact asking in another conversation while
// the first is served is declined.
func TestServeBoundsShareAcrossConversations(t *testing.T) {
	pic := bytes.Repeat([]byte("me"), 300)
	obj := p2p.NewMSNObject("alice@example.com", p2p.ObjectDisplayPicture, pic, "", "")
	e := newEnv(t, 12, Config{P2P: p2p.SessionConfig{
		Objects:   func(d string) ([]byte, bool) { return pic, d == obj.SHA1D },
		MaxServes: 1,
	}})
	ask := func(peer string) p2p.Outcome {
		t.Helper()
		c := e.m.Conversation(peer)
		fetcher := p2p.NewSessionResponder(peer, "", p2p.SessionConfig{})
		_, invite, err := fetcher.Fetch("alice@example.com", obj)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.p2p.responder(c).Handle(peer, invite[0].Dest, "", invite[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := ask("bob@example.com"); !out.Served {
		t.Fatalf("bob's request: %+v", out)
	}
	if out := ask("carol@example.com"); out.Served || !out.Declined {
		t.Fatalf("carol's request over the bound: %+v", out)
	}
}

// TestRetiredSwitchboardKeptForP2P: our file offer goes out on our switchboard, then the
// contact's own switchboard (opened at the same moment: they cross) replaces it. The contact
// answers the offer on the switchboard it came on, as clients do: the replaced one stays open
// while the transfer runs, its answer is acknowledged there and the data goes out on the live
// one; once the transfer ended, the replaced switchboard is left.
func TestRetiredSwitchboardKeptForP2P(t *testing.T) {
	e := newEnv(t, 12, Config{P2P: p2p.SessionConfig{FileTimeout: time.Hour}})
	c := e.m.Conversation("bob@example.com")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	data := bytes.Repeat([]byte("x"), 3000)
	go func() { errc <- c.SendFile(ctx, "a.txt", int64(len(data)), bytes.NewReader(data)) }()
	old := e.peer.accept()
	old.openAndJoin("alice@example.com", "bob@example.com")
	_, inv := readP2P(t, old) // acknowledged by the server: nothing in flight on old
	m, err := p2p.ParseSLP(inv.Data)
	if err != nil || m.Method != "INVITE" {
		t.Fatalf("offer %+v %v", m, err)
	}

	_, pc := e.acceptInvite(t, Invitation{SessionID: "2", Cookie: "c2", Inviter: "bob@example.com", InviterName: "Bob"}, "bob@example.com Bob 1342472228")
	for _, ch := range p2p.Chunks(p2p.Header{Identifier: 7, AckID: 9}, p2p.NewResponse(m, 200, "OK", "bob@example.com").Bytes(), 0) {
		payload, err := p2p.MessagePayload("alice@example.com", ch.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		old.sendMSG("bob@example.com", "Bob", string(payload))
	}
	// The answer is acknowledged on the switchboard it came on (a closed one would say OUT).
	if _, ack := readP2P(t, old); ack.Header.Flags != p2p.FlagAck {
		t.Fatalf("on the replaced switchboard: %+v", ack.Header)
	}
	// The data goes out on the live switchboard.
	if _, chunk := readP2P(t, pc); chunk.Header.SessionID == 0 || chunk.Header.Flags != p2p.FlagWLMFile {
		t.Fatalf("on the live switchboard: %+v", chunk.Header)
	}
	cancel() // the transfer ends (BYE): the replaced switchboard may go
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("SendFile: %v", err)
	}
	if got := old.expectClosed(); len(got) == 0 || got[len(got)-1].Name != "OUT" {
		t.Fatalf("replaced switchboard got %v, want OUT at the end", got)
	}
}

// TestP2PAckOnReplacedSwitchboard: a contact's P2P frame that arrives on a switchboard
// another one replaced, still open for its last ACKs, is acknowledged on that switchboard;
// the SLP answer goes on the live one.
func TestP2PAckOnReplacedSwitchboard(t *testing.T) {
	e := newEnv(t, 12, Config{})
	c := e.m.Conversation("bob@example.com")
	res := c.SendText(context.Background(), "one", message.Format{})
	old := e.peer.accept()
	old.openAndJoin("alice@example.com", "bob@example.com")
	inFlight := old.expect("MSG") // not acknowledged yet: the old switchboard stays open

	_, pc := e.acceptInvite(t, Invitation{SessionID: "2", Cookie: "c2", Inviter: "bob@example.com", InviterName: "Bob"}, "bob@example.com Bob 1342472228")
	old.sendMSG("bob@example.com", "Bob", string(transcriptP2P(t, "03.bob-3.msg")))
	ackCmd := old.expect("MSG")
	if _, ack := splitPayload(t, ackCmd.Payload); ack.Header.Flags != p2p.FlagAck {
		t.Fatalf("on the old switchboard %+v", ack.Header)
	}
	old.send("ACK %d", ackCmd.TrID)
	decCmd := pc.expect("MSG")
	if _, dec := splitPayload(t, decCmd.Payload); !bytes.Contains(dec.Data, []byte("603 Decline")) {
		t.Fatalf("on the live switchboard %q", dec.Data)
	}
	pc.send("ACK %d", decCmd.TrID)
	old.send("ACK %d", inFlight.TrID)
	if o, err := wait(t, res); o != Delivered {
		t.Fatalf("outcome %v %v", o, err)
	}
	if got := old.expectClosed(); len(got) != 1 || got[0].Name != "OUT" {
		t.Fatalf("old switchboard got %v, want OUT", got)
	}
}
