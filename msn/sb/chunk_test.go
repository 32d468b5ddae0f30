package sb

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/wire"
)

// readParts reads the next n MSGs.
func readParts(t *testing.T, pc *peerConn, n int) []*wire.Command {
	t.Helper()
	out := make([]*wire.Command, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, pc.expect("MSG"))
	}
	return out
}

// checkChunked checks the wire format of a chunked text message (FACTS §7.2): every MSG within
// MaxPayload, the same Message-ID on all, "Chunks: n" on the first, "Chunk: i" (1-based) on
// the others, the MIME headers repeated on each; and that msn/message reassembles the text.
func checkChunked(t *testing.T, msgs []*wire.Command, text string) {
	t.Helper()
	r := message.NewReassembler(message.ReassemblerConfig{})
	var id string
	var whole *message.Message
	for i, m := range msgs {
		if len(m.Payload) > MaxPayload {
			t.Fatalf("chunk %d: %d bytes", i, len(m.Payload))
		}
		if m.Arg(0) != "A" {
			t.Fatalf("chunk %d sent with ack %q", i, m.Arg(0))
		}
		p, err := message.Parse(m.Payload)
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if p.Header("MIME-Version") != "1.0" || !strings.HasPrefix(p.Header("Content-Type"), "text/plain") || p.Header("X-MMS-IM-Format") == "" {
			t.Fatalf("chunk %d does not repeat the MIME headers: %q", i, m.Payload)
		}
		mid := p.Header("Message-ID")
		if i == 0 {
			id = mid
			if !strings.HasPrefix(id, "{") || p.Header("Chunks") != strconv.Itoa(len(msgs)) {
				t.Fatalf("first chunk headers: Message-ID %q Chunks %q (%d MSGs)", id, p.Header("Chunks"), len(msgs))
			}
		} else if mid != id || p.Header("Chunk") != strconv.Itoa(i) {
			t.Fatalf("chunk %d headers: Message-ID %q Chunk %q", i, mid, p.Header("Chunk"))
		}
		whole, err = r.Add("alice@example.com", p)
		if err != nil {
			t.Fatal(err)
		}
		if (whole != nil) != (i == len(msgs)-1) {
			t.Fatalf("reassembled after chunk %d of %d", i, len(msgs))
		}
	}
	if whole.Kind != message.KindText || whole.Text.Body != text {
		t.Fatal("chunks do not reassemble to the text")
	}
}

// readSeparate reads the MSGs of text sent as several ordinary (unchunked) messages and
// checks that they are at least two and join up to text.
func readSeparate(t *testing.T, pc *peerConn, text string) []*wire.Command {
	t.Helper()
	var got strings.Builder
	var msgs []*wire.Command
	for got.Len() < len(text) {
		m := pc.expect("MSG")
		if p, _ := message.Parse(m.Payload); p == nil || p.Header("Message-ID") != "" {
			t.Fatalf("chunked MSG to a peer that cannot reassemble: %q", m.Payload)
		}
		got.WriteString(bodyOf(t, m.Payload))
		msgs = append(msgs, m)
	}
	if got.String() != text || len(msgs) < 2 {
		t.Fatalf("%d separate messages, joined equal %v", len(msgs), got.String() == text)
	}
	return msgs
}

// chunksFor is how many MSGs the chunked form of text takes.
func chunksFor(t *testing.T, text string) int {
	t.Helper()
	pl, err := message.ChunkedTextPayloads(text, message.Format{}, "", MaxPayload)
	if err != nil || len(pl) < 2 {
		t.Fatalf("test text gives %d chunks: %v", len(pl), err)
	}
	return len(pl)
}

// TestLongTextChunkedForCapablePeer: a long text to a peer whose JOI announces chunking (WLM
// 2009 on MSNP18, msn-pecan on MSNP12) goes as one chunked message.
func TestLongTextChunkedForCapablePeer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version int
		caps    string
	}{
		{"WLM 2009, MSNP18", 18, "2789003324:48"},
		{"msn-pecan, MSNP12", 12, "1342472228"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.version, Config{})
			text := strings.Repeat("3000 chars. ", 250)
			res := e.m.Conversation("bob@example.com").SendText(context.Background(), text, message.Format{})
			pc := e.peer.accept()
			pc.openAndJoinCaps("alice@example.com", "bob@example.com", tc.caps)
			msgs := readParts(t, pc, chunksFor(t, text))
			checkChunked(t, msgs, text)
			for _, m := range msgs {
				pc.send("ACK %d", m.TrID)
			}
			if o, err := wait(t, res); o != Delivered || res.Undelivered() != "" {
				t.Fatalf("outcome %v %v, undelivered %q", o, err, res.Undelivered())
			}
		})
	}
}

// TestLongTextCapabilitiesFromNS: on MSNP11 the JOI carries no capabilities; Config.Capabilities
// (what the NS said) decides, and an unknown or incapable peer gets separate messages.
func TestLongTextCapabilitiesFromNS(t *testing.T) {
	text := strings.Repeat("NS-known caps. ", 200)
	for _, tc := range []struct {
		name    string
		caps    func(string) (uint32, bool)
		chunked bool
	}{
		{"capable", func(p string) (uint32, bool) { return 0x50048024, p == "bob@example.com" }, true},
		{"incapable", func(string) (uint32, bool) { return 0x40000000, true }, false},
		{"unknown", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 11, Config{Capabilities: tc.caps})
			res := e.m.Conversation("bob@example.com").SendText(context.Background(), text, message.Format{})
			pc := e.peer.accept()
			pc.openAndJoinCaps("alice@example.com", "bob@example.com", "")
			var msgs []*wire.Command
			if tc.chunked {
				msgs = readParts(t, pc, chunksFor(t, text))
				checkChunked(t, msgs, text)
			} else {
				msgs = readSeparate(t, pc, text)
			}
			for _, m := range msgs {
				pc.send("ACK %d", m.TrID)
			}
			if o, err := wait(t, res); o != Delivered {
				t.Fatalf("outcome %v %v", o, err)
			}
		})
	}
}

// TestLongTextInGroupChunkedOnlyIfAllCan: one participant without chunking means separate
// messages for everybody.
func TestLongTextInGroupChunkedOnlyIfAllCan(t *testing.T) {
	e := newEnv(t, 12, Config{})
	g, pc := e.acceptInvite(t, Invitation{SessionID: "1", Cookie: "c", Inviter: "bob@example.com"},
		"bob@example.com Bob 1342472228", "carol@example.com Carol 1073741824")
	text := strings.Repeat("group text ", 300)
	res := g.SendText(context.Background(), text, message.Format{})
	for _, m := range readSeparate(t, pc, text) {
		pc.send("ACK %d", m.TrID)
	}
	if o, err := wait(t, res); o != Delivered {
		t.Fatalf("outcome %v %v", o, err)
	}
}

// TestUndeliveredIsTheRemainder: a long message split into several MSGs whose third part is
// NAKed (the contact went offline) reports only the parts not acknowledged as undelivered, so
// an offline fallback does not send the contact the first parts twice.
func TestUndeliveredIsTheRemainder(t *testing.T) {
	e := newEnv(t, 12, Config{})
	c := e.m.Conversation("bob@example.com")
	text := strings.Repeat("the contact leaves in the middle. ", 200)
	res := c.SendText(context.Background(), text, message.Format{})
	pc := e.peer.accept()
	pc.openAndJoin("alice@example.com", "bob@example.com") // caps without chunking
	var bodies []string
	var msgs []*wire.Command
	for total := 0; total < len(text); {
		m := pc.expect("MSG")
		b := bodyOf(t, m.Payload)
		bodies = append(bodies, b)
		msgs = append(msgs, m)
		total += len(b)
	}
	if len(msgs) < 4 {
		t.Fatalf("only %d parts", len(msgs))
	}
	if u := res.Undelivered(); u != text {
		t.Fatalf("undelivered before any ACK is %d bytes, want the whole text", len(u))
	}
	pc.send("ACK %d", msgs[0].TrID)
	pc.send("ACK %d", msgs[1].TrID)
	pc.send("NAK %d", msgs[2].TrID)
	o, err := wait(t, res)
	if o != Offline || !errors.Is(err, ErrOffline) {
		t.Fatalf("outcome %v %v", o, err)
	}
	if want := strings.Join(bodies[2:], ""); res.Undelivered() != want {
		t.Fatalf("undelivered %q..., want the parts from the third on", res.Undelivered()[:40])
	}
}

// TestUndeliveredWholeText: nothing delivered (contact offline at CAL), a partly delivered
// chunked message, and non-text messages.
func TestUndeliveredWholeText(t *testing.T) {
	e := newEnv(t, 12, Config{})
	res := e.m.Conversation("nobody@example.com").SendText(context.Background(), "are you there?", message.Format{})
	pc := e.peer.accept()
	usr := pc.expect("USR")
	pc.send("USR %d OK alice@example.com Alice", usr.TrID)
	cal := pc.expect("CAL")
	pc.send("217 %d", cal.TrID)
	if o, _ := wait(t, res); o != Offline || res.Undelivered() != "are you there?" {
		t.Fatalf("outcome %v, undelivered %q", o, res.Undelivered())
	}

	c := e.m.Conversation("bob@example.com")
	text := strings.Repeat("chunky ", 600)
	res = c.SendText(context.Background(), text, message.Format{})
	pc = e.peer.accept()
	pc.openAndJoinCaps("alice@example.com", "bob@example.com", "1342472228")
	msgs := readParts(t, pc, chunksFor(t, text))
	pc.send("ACK %d", msgs[0].TrID)
	pc.send("NAK %d", msgs[1].TrID)
	if o, _ := wait(t, res); o != Offline || res.Undelivered() != text {
		t.Fatalf("partly delivered chunked message: %v, undelivered is the whole text: %v", o, res.Undelivered() == text)
	}
	nudge := c.SendNudge(context.Background())
	m := pc.expect("MSG")
	pc.send("NAK %d", m.TrID)
	if o, _ := wait(t, nudge); o != Offline || nudge.Undelivered() != "" {
		t.Fatalf("nudge %v, undelivered %q", o, nudge.Undelivered())
	}
}
