package p2p

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"
)

// pump delivers frames between two Responders until neither has anything more to send; it
// returns the number of frames each side sent.
func pump(t *testing.T, a, b *Responder, aName, bName string, fromA []Frame) (sentA, sentB int) {
	t.Helper()
	type msg struct {
		from string
		f    Frame
	}
	queue := make([]msg, 0, len(fromA))
	for _, f := range fromA {
		queue = append(queue, msg{aName, f})
	}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 10000 {
			t.Fatal("no end to the exchange")
		}
		m := queue[0]
		queue = queue[1:]
		to := b
		if m.from == aName {
			sentA++
		} else {
			to = a
			sentB++
		}
		out, err := to.Handle(m.from, m.f.Dest, "", m.f.Data)
		if err != nil {
			t.Fatalf("frame from %s: %v", m.from, err)
		}
		replyFrom := bName
		if to == a {
			replyFrom = aName
		}
		for _, f := range out.Replies {
			queue = append(queue, msg{replyFrom, f})
		}
	}
	return sentA, sentB
}

func picture(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// TestFetchAndServeLoop: one Responder serves its display picture (several chunks), another
// fetches it: INVITE, ACK, 200 OK, data preparation, data, ACKs and BYE; the data matches
// SHA1D and no session is left.
func TestFetchAndServeLoop(t *testing.T) {
	for _, appID := range []int{AppIDObject, AppIDDisplayWLM} {
		t.Run(fmt.Sprint("AppID", appID), func(t *testing.T) {
			pic := picture(5000)
			obj := NewMSNObject("alice@example.com", ObjectDisplayPicture, pic, "", "")
			alice := NewSessionResponder("alice@example.com", "", SessionConfig{Objects: func(d string) ([]byte, bool) {
				return pic, d == obj.SHA1D
			}})
			bob := NewSessionResponder("bob@example.com", "", SessionConfig{})
			f, invite, err := bob.Fetch("Alice@example.com", obj)
			if err != nil {
				t.Fatal(err)
			}
			if appID == AppIDDisplayWLM { // as WLM 2009 asks
				invite = rewriteInvite(t, invite, "AppID: 1\r\n", "AppID: 12\r\n")
			}
			pump(t, bob, alice, "bob@example.com", "alice@example.com", invite)
			<-f.Done()
			data, err := f.Result()
			if err != nil || !bytes.Equal(data, pic) {
				t.Fatalf("fetch: %d bytes, %v", len(data), err)
			}
			if bob.Fetches() != 0 {
				t.Fatalf("%d fetches left", bob.Fetches())
			}
		})
	}
}

func rewriteInvite(t *testing.T, frames []Frame, old, new string) []Frame {
	t.Helper()
	if len(frames) != 1 {
		t.Fatalf("%d INVITE frames", len(frames))
	}
	p := mustPacket(t, frames[0].Data)
	m, err := ParseSLP(p.Data)
	if err != nil {
		t.Fatal(err)
	}
	m.Body = bytes.Replace(m.Body, []byte(old), []byte(new), 1)
	b := m.Bytes()
	h := p.Header
	h.TotalSize = uint64(len(b))
	return []Frame{{Dest: frames[0].Dest, Data: (&Packet{Header: h, Data: b}).Bytes()}}
}

// TestFetchFromTranscript: bob's fetch is fed carol's captured frames
// (transcripts/p2p/01-dp-fetch.txt: ACK, 200 OK, data preparation, 4 data chunks) and ends
// with the 4,238-byte picture whose SHA-1 the capture states; bob ACKs the 200 OK, the data
// preparation and the data like the captured client, then closes with BYE.
func TestFetchFromTranscript(t *testing.T) {
	obj, err := ParseMSNObject(carolObject)
	if err != nil {
		t.Fatal(err)
	}
	bob := NewSessionResponder("bob@example.com", "", SessionConfig{})
	f, invite, err := bob.Fetch("carol@example.com", obj)
	if err != nil {
		t.Fatal(err)
	}
	inv, _ := ParseSLP(mustPacket(t, invite[0].Data).Data)
	if inv.Target != "MSNMSGR:carol@example.com" || inv.BodyFields().Get("Context") != carolContext ||
		inv.BodyFields().Get("EUF-GUID") != EUFGUIDMSNObject || inv.BodyFields().Get("AppID") != "1" {
		t.Fatalf("INVITE %s", inv.Bytes())
	}
	// Give the fetch the captured session's identifiers.
	bob.mu.Lock()
	delete(bob.fetches, f.CallID)
	f.CallID, f.SessionID = "{7D7DE6E4-0B52-8DDE-C1A9-6F77DB5E9C1E}", 846930890
	_, b200 := frame(t, "01.carol-3.msg")
	if m, err := ParseSLP(mustPacket(t, b200).Data); err == nil {
		f.CallID = m.CallID()
	}
	bob.fetches[f.CallID] = f
	bob.mu.Unlock()
	var acks []Header
	var byes int
	for _, name := range []string{"01.carol-2.msg", "01.carol-3.msg", "01.carol-4.msg", "01.carol-5.msg", "01.carol-6.msg", "01.carol-7.msg", "01.carol-8.msg"} {
		_, b := frame(t, name)
		out, err := bob.Handle("carol@example.com", "bob@example.com", "", b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, r := range out.Replies {
			p := mustPacket(t, r.Data)
			if p.Header.IsAck() {
				acks = append(acks, p.Header)
			} else if m, err := ParseSLP(p.Data); err == nil && m.Method == "BYE" && m.CallID() == f.CallID {
				byes++
			}
		}
	}
	data, err := f.Result()
	sum := sha1.Sum(data)
	if err != nil || hex.EncodeToString(sum[:]) != "140d574d896adfcd6066652b496c923c3dc2b01e" {
		t.Fatalf("fetch: %d bytes %v", len(data), err)
	}
	// As the capture: ACK of the 200 OK (327 bytes), of the data preparation (4), of the data (4238).
	if len(acks) != 3 || acks[0].AckSize != 327 || acks[1].AckSize != 4 || acks[2].AckSize != 4238 || acks[2].SessionID != 846930890 {
		t.Fatalf("ACKs %+v", acks)
	}
	if byes != 1 {
		t.Fatalf("%d BYEs", byes)
	}
}

// fetchSetup starts a fetch of a 3000-byte object by bob from alice and returns it with the
// data chunks alice would send.
func fetchSetup(t *testing.T, cfg SessionConfig) (*Responder, *Fetch, []*Packet, []byte) {
	t.Helper()
	pic := picture(3000)
	obj := NewMSNObject("alice@example.com", ObjectDisplayPicture, pic, "", "")
	bob := NewSessionResponder("bob@example.com", "", cfg)
	f, _, err := bob.Fetch("alice@example.com", obj)
	if err != nil {
		t.Fatal(err)
	}
	chunks := Chunks(Header{SessionID: f.SessionID, Identifier: 77, Flags: FlagObjectData, AckID: 5}, pic, 1)
	return bob, f, chunks, pic
}

func feed(t *testing.T, r *Responder, ps ...*Packet) []Frame {
	t.Helper()
	var out []Frame
	for _, p := range ps {
		o, err := r.Handle("alice@example.com", "bob@example.com", "", p.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o.Replies...)
	}
	return out
}

func ended(t *testing.T, f *Fetch, want error) {
	t.Helper()
	select {
	case <-f.Done():
	default:
		t.Fatal("fetch not ended")
	}
	if _, err := f.Result(); !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

// TestFetchBounds: missing, overlapping and oversized chunks, wrong data, a decline, a BYE, a
// timeout and too many sessions end the fetch with an error (never a panic), and a second
// endpoint's copy of the data is ignored.
func TestFetchBounds(t *testing.T) {
	t.Run("missing chunk", func(t *testing.T) {
		bob, f, c, _ := fetchSetup(t, SessionConfig{})
		feed(t, bob, c[0], c[2])
		ended(t, f, ErrMalformed)
	})
	t.Run("overlapping chunk", func(t *testing.T) {
		bob, f, c, _ := fetchSetup(t, SessionConfig{})
		c[1].Header.Offset -= 10
		feed(t, bob, c[0], c[1])
		ended(t, f, ErrMalformed)
	})
	t.Run("oversized", func(t *testing.T) {
		bob, f, c, _ := fetchSetup(t, SessionConfig{})
		c[0].Header.TotalSize = 1 << 30
		feed(t, bob, c[0])
		ended(t, f, ErrTooLarge)
	})
	t.Run("object over the limit", func(t *testing.T) {
		bob := NewSessionResponder("bob@example.com", "", SessionConfig{MaxObjectSize: 100})
		if _, _, err := bob.Fetch("alice@example.com", NewMSNObject("alice@example.com", 3, picture(101), "", "")); !errors.Is(err, ErrTooLarge) {
			t.Fatal(err)
		}
	})
	t.Run("wrong data", func(t *testing.T) {
		bob, f, c, _ := fetchSetup(t, SessionConfig{})
		c[2].Data = bytes.Repeat([]byte{'x'}, len(c[2].Data))
		out := feed(t, bob, c...)
		ended(t, f, ErrChecksum)
		if len(out) != 2 { // the ACK of the data and a BYE
			t.Fatalf("%d replies", len(out))
		}
	})
	t.Run("second endpoint", func(t *testing.T) {
		bob, f, c, pic := fetchSetup(t, SessionConfig{})
		other := Chunks(Header{SessionID: f.SessionID, Identifier: 900, Flags: FlagWLMObject, AckID: 6}, picture(3000), 12)
		other[1].Data = bytes.Repeat([]byte{'y'}, len(other[1].Data))
		feed(t, bob, c[0], other[0], other[1], c[1], other[2], c[2])
		data, err := f.Result()
		if err != nil || !bytes.Equal(data, pic) {
			t.Fatal(err)
		}
	})
	t.Run("declined", func(t *testing.T) {
		bob, f, _, _ := fetchSetup(t, SessionConfig{})
		m := &SLPMessage{StatusCode: 603, Reason: "Decline", Headers: Fields{{Name: "To", Value: "<msnmsgr:bob@example.com>"}, {Name: "Call-ID", Value: f.CallID}}, Body: SLPBody()}
		b := m.Bytes()
		feed(t, bob, &Packet{Header: Header{Identifier: 3, TotalSize: uint64(len(b)), AckID: 9}, Data: b})
		ended(t, f, ErrDeclined)
	})
	t.Run("BYE", func(t *testing.T) {
		bob, f, c, _ := fetchSetup(t, SessionConfig{})
		feed(t, bob, c[0])
		m := &SLPMessage{Method: "BYE", Target: "MSNMSGR:bob@example.com", Headers: Fields{{Name: "To", Value: "<msnmsgr:bob@example.com>"}, {Name: "Call-ID", Value: f.CallID}}, Body: SLPBody()}
		b := m.Bytes()
		feed(t, bob, &Packet{Header: Header{Identifier: 3, TotalSize: uint64(len(b)), AckID: 9}, Data: b})
		ended(t, f, ErrClosed)
	})
	t.Run("timeout", func(t *testing.T) {
		now := time.Unix(1000, 0)
		bob, f, c, _ := fetchSetup(t, SessionConfig{SessionTimeout: time.Minute, Now: func() time.Time { return now }})
		feed(t, bob, c[0])
		now = now.Add(time.Minute)
		feed(t, bob, c[1])
		ended(t, f, ErrClosed)
		if bob.Fetches() != 0 {
			t.Fatal("expired fetch kept")
		}
	})
	t.Run("cancel", func(t *testing.T) {
		bob, f, _, _ := fetchSetup(t, SessionConfig{})
		bye := bob.Cancel(f, errors.New("deadline"))
		ended(t, f, ErrClosed)
		if len(bye) != 1 || bob.Cancel(f, nil) != nil {
			t.Fatal("BYE frames")
		}
	})
	t.Run("busy", func(t *testing.T) {
		bob, _, _, _ := fetchSetup(t, SessionConfig{MaxSessionsPerPeer: 1})
		obj := NewMSNObject("alice@example.com", 3, picture(10), "", "")
		if _, _, err := bob.Fetch("alice@example.com", obj); !errors.Is(err, ErrBusy) {
			t.Fatal(err)
		}
		if _, _, err := bob.Fetch("carol@example.com", obj); err != nil {
			t.Fatal(err)
		}
	})
}

// TestServeOnlyOwnObjects: an INVITE for an object that is not ours is declined on MSNP12
// and, on MSNP16+ (where the user's other endpoints got it too), left to them: acknowledged
// only. An INVITE for our object with data that does not match it is not served.
func TestServeOnlyOwnObjects(t *testing.T) {
	pic := picture(100)
	ours := NewMSNObject("alice@example.com", 3, pic, "", "")
	theirs := NewMSNObject("alice@example.com", 3, picture(99), "", "")
	objects := func(d string) ([]byte, bool) { return pic, d == ours.SHA1D }
	for _, tc := range []struct {
		endpoint string
		obj      *MSNObject
		served   bool
		declined bool
	}{
		{"", ours, true, false},
		{"", theirs, false, true},
		{"{5e3edfe5-440d-5132-a3f3-a7ae35275c64}", ours, true, false},
		{"{5e3edfe5-440d-5132-a3f3-a7ae35275c64}", theirs, false, false},
	} {
		alice := NewSessionResponder("alice@example.com", tc.endpoint, SessionConfig{Objects: objects})
		bob := NewSessionResponder("bob@example.com", "", SessionConfig{})
		_, invite, err := bob.Fetch("alice@example.com", tc.obj)
		if err != nil {
			t.Fatal(err)
		}
		out, err := alice.Handle("bob@example.com", invite[0].Dest, "", invite[0].Data)
		if err != nil || out.Served != tc.served || out.Declined != tc.declined {
			t.Errorf("endpoint %q, ours %v: %+v %v", tc.endpoint, tc.obj == ours, out, err)
		}
		if !tc.served && !tc.declined && len(out.Replies) != 1 {
			t.Errorf("%d replies, want the ACK only", len(out.Replies))
		}
	}
}

// TestDirectConnectionRequestDeclined: during a fetch the peer asks for a direct connection
// (an INVITE with a transreqbody on the session's Call-ID, as WLM does); it is acknowledged
// and declined with a transrespbody, and the fetch goes on over the switchboard.
func TestDirectConnectionRequestDeclined(t *testing.T) {
	bob, f, chunks, pic := fetchSetup(t, SessionConfig{})
	req := &SLPMessage{
		Method: "INVITE", Target: "MSNMSGR:bob@example.com",
		Headers: Fields{
			{Name: "To", Value: "<msnmsgr:bob@example.com>"}, {Name: "From", Value: "<msnmsgr:alice@example.com>"},
			{Name: "Via", Value: "MSNSLP/1.0/TLP ;branch={33333333-4444-5555-6666-777777777777}"},
			{Name: "CSeq", Value: "0"}, {Name: "Call-ID", Value: f.CallID}, {Name: "Max-Forwards", Value: "0"},
			{Name: "Content-Type", Value: ContentTransReq},
		},
		Body: SLPBody(Field{Name: "Bridges", Value: "TCPv1"}, Field{Name: "NetID", Value: "0"}, Field{Name: "Conn-Type", Value: "Direct-Connect"}, Field{Name: "UPnPNat", Value: "false"}),
	}
	b := req.Bytes()
	out, err := bob.Handle("alice@example.com", "bob@example.com", "", (&Packet{Header: Header{Identifier: 40, TotalSize: uint64(len(b)), AckID: 2}, Data: b}).Bytes())
	if err != nil || !out.Declined || len(out.Replies) != 2 {
		t.Fatalf("transreq: %+v %v", out, err)
	}
	resp, err := ParseSLP(mustPacket(t, out.Replies[1].Data).Data)
	if err != nil || resp.StatusCode != 603 || resp.ContentType() != ContentTransResp || resp.CallID() != f.CallID {
		t.Fatalf("answer %+v %v", resp, err)
	}
	feed(t, bob, chunks...)
	if data, err := f.Result(); err != nil || !bytes.Equal(data, pic) {
		t.Fatalf("fetch after the request: %v", err)
	}
}

// TestServeBounds: a contact flooding us with requests for our display picture gets at most
// MaxServesPerPeer served at once and 603 Decline for the rest, as do requests over
// MaxServes overall; another contact's fetch still works while one contact floods, a served
// request stops counting once its data is acknowledged, its session closed with BYE, or
// SessionTimeout passed.
func TestServeBounds(t *testing.T) {
	pic := picture(3000)
	obj := NewMSNObject("alice@example.com", ObjectDisplayPicture, pic, "", "")
	now := time.Unix(1_700_000_000, 0)
	newAlice := func() *Responder {
		return NewSessionResponder("alice@example.com", "", SessionConfig{
			Objects: func(d string) ([]byte, bool) { return pic, d == obj.SHA1D },
			Now:     func() time.Time { return now },
		})
	}
	request := func(alice *Responder, peer string) (*Responder, *Fetch, bool) {
		t.Helper()
		return requestServe(t, alice, peer, obj)
	}
	fetch := func(alice *Responder) error {
		t.Helper()
		bob := NewSessionResponder("bob@example.com", "", SessionConfig{})
		f, invite, err := bob.Fetch("alice@example.com", obj)
		if err != nil {
			t.Fatal(err)
		}
		pump(t, bob, alice, "bob@example.com", "alice@example.com", invite)
		<-f.Done()
		data, err := f.Result()
		if err == nil && !bytes.Equal(data, pic) {
			t.Fatal("fetched data differs")
		}
		return err
	}

	t.Run("per peer", func(t *testing.T) {
		alice := newAlice()
		served := 0
		for range 5 {
			if _, _, ok := request(alice, "mallory@example.com"); ok {
				served++
			}
		}
		if served != DefaultMaxServesPerPeer || alice.Serves() != DefaultMaxServesPerPeer {
			t.Fatalf("%d of 5 served, %d counted", served, alice.Serves())
		}
		// Bob is not held up by mallory, and his fetch, acknowledged, stops counting.
		if err := fetch(alice); err != nil {
			t.Fatalf("bob's fetch during the flood: %v", err)
		}
		if alice.Serves() != DefaultMaxServesPerPeer {
			t.Fatalf("%d served after bob's fetch", alice.Serves())
		}
		// Mallory never acknowledges: her requests count until SessionTimeout.
		now = now.Add(DefaultSessionTimeout)
		if _, _, ok := request(alice, "mallory@example.com"); !ok {
			t.Fatal("mallory declined after her requests timed out")
		}
	})

	t.Run("overall", func(t *testing.T) {
		alice := newAlice()
		var peers []*Responder
		var fetches []*Fetch
		for i := range DefaultMaxServes {
			r, f, ok := request(alice, fmt.Sprintf("peer%d@example.com", i))
			if !ok {
				t.Fatalf("request %d declined", i)
			}
			peers, fetches = append(peers, r), append(fetches, f)
		}
		if _, _, ok := request(alice, "late@example.com"); ok {
			t.Fatal("a request over MaxServes was served")
		}
		if err := fetch(alice); !errors.Is(err, ErrDeclined) {
			t.Fatalf("bob's fetch over MaxServes: %v", err)
		}
		// One peer gives up (BYE): bob's next fetch is served.
		for _, fr := range peers[0].Cancel(fetches[0], errors.New("gave up")) {
			if _, err := alice.Handle("peer0@example.com", fr.Dest, "", fr.Data); err != nil {
				t.Fatal(err)
			}
		}
		if alice.Serves() != DefaultMaxServes-1 {
			t.Fatalf("%d served after a BYE", alice.Serves())
		}
		if err := fetch(alice); err != nil {
			t.Fatalf("bob's fetch after a BYE: %v", err)
		}
	})
}

// requestServe sends alice one INVITE for obj from peer and reports whether it was served; a
// declined one must be answered with the ACK and a 603 for its Call-ID.
func requestServe(t *testing.T, alice *Responder, peer string, obj *MSNObject) (*Responder, *Fetch, bool) {
	t.Helper()
	r := NewSessionResponder(peer, "", SessionConfig{MaxSessionsPerPeer: 100})
	f, invite, err := r.Fetch("alice@example.com", obj)
	if err != nil || len(invite) != 1 {
		t.Fatalf("fetch: %d frames, %v", len(invite), err)
	}
	out, err := alice.Handle(peer, invite[0].Dest, "", invite[0].Data)
	if err != nil || out.Served == out.Declined || !out.Session {
		t.Fatalf("INVITE from %s: %+v %v", peer, out, err)
	}
	if out.Declined {
		if len(out.Replies) != 2 || !out.Replies[0].Ack {
			t.Fatalf("declined with %d replies", len(out.Replies))
		}
		m, err := ParseSLP(mustPacket(t, out.Replies[1].Data).Data)
		if err != nil || m.StatusCode != 603 || m.Reason != "Decline" || m.CallID() != f.CallID || m.To() != peer {
			t.Fatalf("decline %+v %v", m, err)
		}
	}
	return r, f, out.Served
}

// TestServeLimiterShared: Responders sharing a ServeLimiter (one per conversation in msn/sb)
// are bounded together: a contact's requests to either count against its per-contact bound,
// everybody's against the overall one.
func TestServeLimiterShared(t *testing.T) {
	pic := picture(500)
	obj := NewMSNObject("alice@example.com", ObjectDisplayPicture, pic, "", "")
	limit := NewServeLimiter(SessionConfig{MaxServesPerPeer: 2, MaxServes: 3})
	cfg := SessionConfig{Objects: func(d string) ([]byte, bool) { return pic, d == obj.SHA1D }, ServeLimiter: limit}
	one := NewSessionResponder("alice@example.com", "", cfg)
	two := NewSessionResponder("alice@example.com", "", cfg)
	for i, tc := range []struct {
		r      *Responder
		peer   string
		served bool
	}{
		{one, "mallory@example.com", true},
		{one, "mallory@example.com", true},
		{two, "mallory@example.com", false}, // her third, in another conversation
		{two, "carol@example.com", true},
		{two, "dave@example.com", false}, // the fourth overall
		{one, "dave@example.com", false},
	} {
		if _, _, ok := requestServe(t, tc.r, tc.peer, obj); ok != tc.served {
			t.Fatalf("request %d from %s: served %v", i, tc.peer, ok)
		}
	}
	if limit.Active() != 3 || one.Serves() != 2 || two.Serves() != 1 {
		t.Fatalf("active %d, serving %d + %d", limit.Active(), one.Serves(), two.Serves())
	}
}

// TestServeRepeatedInvite: a contact sending the same INVITE again while we serve it gets our
// transport ACK and nothing else: not a 603 after the 200 OK already sent, nor a second copy of
// the data; it does not count as another request being served.
func TestServeRepeatedInvite(t *testing.T) {
	pic := picture(3000)
	obj := NewMSNObject("alice@example.com", ObjectDisplayPicture, pic, "", "")
	alice := NewSessionResponder("alice@example.com", "", SessionConfig{
		Objects: func(d string) ([]byte, bool) { return pic, d == obj.SHA1D },
	})
	bob := NewSessionResponder("bob@example.com", "", SessionConfig{})
	_, invite, err := bob.Fetch("alice@example.com", obj)
	if err != nil || len(invite) != 1 {
		t.Fatalf("fetch: %d frames, %v", len(invite), err)
	}
	first, err := alice.Handle("bob@example.com", invite[0].Dest, "", invite[0].Data)
	if err != nil || !first.Served {
		t.Fatalf("first INVITE: %+v %v", first, err)
	}
	again, err := alice.Handle("bob@example.com", invite[0].Dest, "", invite[0].Data)
	if err != nil || again.Served || again.Declined || !again.Session {
		t.Fatalf("repeated INVITE: %+v %v", again, err)
	}
	if len(again.Replies) != 1 || !again.Replies[0].Ack {
		t.Fatalf("repeated INVITE answered with %d frames, want the ACK only", len(again.Replies))
	}
	if alice.Serves() != 1 {
		t.Fatalf("%d requests counted, want 1", alice.Serves())
	}
}
