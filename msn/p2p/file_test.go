package p2p

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

// acceptInto returns a SessionConfig whose AcceptFile streams every file into buf and reports
// the transfer on got.
func acceptInto(buf *bytes.Buffer, got **Transfer) SessionConfig {
	return SessionConfig{AcceptFile: func(t *Transfer) io.Writer {
		*got = t
		return buf
	}}
}

// TestFileReceiveFromTranscript: carol's side of transcripts/p2p/02-file-3k.txt. The
// captured INVITE is acknowledged and accepted with a 200 OK byte-identical to the captured
// one; the three captured data chunks stream into the writer (3,000 bytes, hello.txt), and
// the last one is acknowledged with the captured ACK's fields.
func TestFileReceiveFromTranscript(t *testing.T) {
	var buf bytes.Buffer
	var tr *Transfer
	carol := NewSessionResponder("carol@example.com", "", acceptInto(&buf, &tr))
	handle := func(name string) Outcome {
		t.Helper()
		_, b := frame(t, name)
		out, err := carol.Handle("bob@example.com", "carol@example.com", "", b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return out
	}
	out := handle("02.bob-3.msg")
	if out.File == nil || tr != out.File || out.Offer == nil || out.Offer.Name != "hello.txt" || out.Offer.Size != 3000 || out.Declined {
		t.Fatalf("offer outcome %+v", out)
	}
	if len(out.Replies) != 2 {
		t.Fatalf("%d replies", len(out.Replies))
	}
	sameExceptID := func(got []byte, capture string) {
		t.Helper()
		_, want := frame(t, capture)
		g, w := mustPacket(t, got), mustPacket(t, want)
		g.Header.Identifier, w.Header.Identifier = 0, 0
		if g.Header != w.Header || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("differs from %s:\n%+v\n%+v", capture, g.Header, w.Header)
		}
	}
	sameExceptID(out.Replies[0].Data, "02.carol-3.msg") // ACK of the INVITE
	ok := mustPacket(t, out.Replies[1].Data)
	_, want := frame(t, "02.carol-2.msg")
	if !bytes.Equal(ok.Data, mustPacket(t, want).Data) {
		t.Fatalf("200 OK differs from the capture:\n%q", ok.Data)
	}
	for _, name := range []string{"02.bob-5.msg", "02.bob-6.msg", "02.bob-7.msg"} {
		if o := handle(name); len(o.Replies) != 0 || !o.Session && name != "02.bob-6.msg" {
			t.Fatalf("%s: %+v", name, o)
		}
	}
	select {
	case <-tr.Done():
		t.Fatal("ended before the last chunk")
	default:
	}
	o := handle("02.bob-8.msg")
	if len(o.Replies) != 1 {
		t.Fatalf("last chunk: %+v", o)
	}
	sameExceptID(o.Replies[0].Data, "02.carol-4.msg")
	if err := tr.Err(); err != nil || buf.Len() != 3000 || carol.Transfers() != 0 {
		t.Fatalf("transfer: %v, %d bytes", err, buf.Len())
	}
	for _, name := range []string{"02.bob-5.msg", "02.bob-7.msg", "02.bob-8.msg"} {
		_, b := frame(t, name)
		if !bytes.Contains(buf.Bytes(), mustPacket(t, b).Data) {
			t.Fatalf("data of %s missing", name)
		}
	}
}

// sendSetup runs an offer from alice to bob up to bob's acceptance.
func sendSetup(t *testing.T, size int, cfg SessionConfig) (alice, bob *Responder, out, in *Transfer, buf *bytes.Buffer) {
	t.Helper()
	buf = &bytes.Buffer{}
	bcfg := acceptInto(buf, &in)
	bcfg.MaxFileSize, bcfg.FileTimeout = cfg.MaxFileSize, cfg.FileTimeout
	alice = NewSessionResponder("alice@example.com", "", SessionConfig{})
	bob = NewSessionResponder("bob@example.com", "", bcfg)
	out, frames, err := alice.OfferFile("bob@example.com", FileInfo{Name: "dir/photo.jpg", Size: uint64(size)})
	if err != nil {
		t.Fatal(err)
	}
	pump(t, alice, bob, "alice@example.com", "bob@example.com", frames)
	return alice, bob, out, in, buf
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestFileSendAndReceive: an offer from one Responder accepted by another; the data sent in
// ≤1202-byte chunks (flags 0x1000030, footer 2) arrives whole, and the receiver's ACK ends
// the sender's transfer.
func TestFileSendAndReceive(t *testing.T) {
	data := picture(10_000)
	alice, bob, out, in, buf := sendSetup(t, len(data), SessionConfig{})
	if in == nil || in.File.Name != "photo.jpg" || in.File.Size != 10_000 || in.SessionID != out.SessionID || !isDone(out.Accepted()) {
		t.Fatalf("bob got %+v", in)
	}
	var frames []Frame
	for off := 0; off < len(data); off += MaxChunk {
		f := alice.FileChunk(out, uint64(off), data[off:min(off+MaxChunk, len(data))])
		p := mustPacket(t, f.Data)
		if p.Header.Flags != FlagWLMFile || p.Footer != AppIDFile || len(p.Data) > MaxChunk || f.Dest != "bob@example.com" {
			t.Fatalf("chunk %+v footer %d", p.Header, p.Footer)
		}
		frames = append(frames, f)
	}
	pump(t, alice, bob, "alice@example.com", "bob@example.com", frames)
	if !isDone(out.Done()) || out.Err() != nil || in.Err() != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("sender %v, receiver %v, %d bytes", out.Err(), in.Err(), buf.Len())
	}
	if alice.Transfers() != 0 || bob.Transfers() != 0 {
		t.Fatal("transfers left over")
	}
}

// TestFileBounds: missing, overlapping and mis-sized chunks end an incoming transfer with
// ErrMalformed and a BYE (never a panic); a failing writer ends it with its error; a BYE ends
// either side with ErrClosed; a decline ends the offer with ErrDeclined, but a decline from
// another endpoint after a 200 OK does not; a file over MaxFileSize is declined unseen; and
// CancelTransfer sends BYE once.
func TestFileBounds(t *testing.T) {
	data := picture(5000)
	chunks := func(out *Transfer, alice *Responder) []*Packet {
		var ps []*Packet
		for off := 0; off < len(data); off += MaxChunk {
			ps = append(ps, mustPacket(t, alice.FileChunk(out, uint64(off), data[off:min(off+MaxChunk, len(data))]).Data))
		}
		return ps
	}
	deliver := func(r *Responder, from string, ps ...*Packet) []Frame {
		var out []Frame
		for _, p := range ps {
			o, err := r.Handle(from, "", "", p.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, o.Replies...)
		}
		return out
	}
	isBye := func(fs []Frame) bool {
		if len(fs) != 1 {
			return false
		}
		m, err := ParseSLP(mustPacket(t, fs[0].Data).Data)
		return err == nil && m.Method == "BYE"
	}
	for _, tc := range []struct {
		name   string
		mangle func([]*Packet) []*Packet
	}{
		{"missing chunk", func(ps []*Packet) []*Packet { return []*Packet{ps[0], ps[2]} }},
		{"overlapping chunk", func(ps []*Packet) []*Packet {
			p := *ps[1]
			p.Header.Offset -= 10
			return []*Packet{ps[0], &p}
		}},
		{"wrong total", func(ps []*Packet) []*Packet {
			p := *ps[0]
			p.Header.TotalSize++
			return []*Packet{&p}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice, bob, out, in, _ := sendSetup(t, len(data), SessionConfig{})
			replies := deliver(bob, "alice@example.com", tc.mangle(chunks(out, alice))...)
			if !errors.Is(in.Err(), ErrMalformed) || !isBye(replies) {
				t.Fatalf("receiver %v, replies %d", in.Err(), len(replies))
			}
			// The BYE ends the sender's transfer too; later chunks are ignored.
			pump(t, bob, alice, "bob@example.com", "alice@example.com", replies)
			if !errors.Is(out.Err(), ErrClosed) {
				t.Fatalf("sender %v", out.Err())
			}
			if r := deliver(bob, "alice@example.com", chunks(out, alice)...); len(r) != 0 {
				t.Fatal("answered chunks of an ended transfer")
			}
		})
	}
	t.Run("writer fails", func(t *testing.T) {
		alice := NewSessionResponder("alice@example.com", "", SessionConfig{})
		var in *Transfer
		bob := NewSessionResponder("bob@example.com", "", SessionConfig{AcceptFile: func(t *Transfer) io.Writer {
			in = t
			return failWriter{}
		}})
		out, frames, _ := alice.OfferFile("bob@example.com", FileInfo{Name: "a", Size: uint64(len(data))})
		pump(t, alice, bob, "alice@example.com", "bob@example.com", frames)
		if r := deliver(bob, "alice@example.com", chunks(out, alice)[0]); !isBye(r) || !strings.Contains(in.Err().Error(), "disk full") {
			t.Fatalf("receiver %v", in.Err())
		}
	})
	t.Run("declined, late decline ignored", func(t *testing.T) {
		alice := NewSessionResponder("alice@example.com", "", SessionConfig{})
		bob := NewSessionResponder("bob@example.com", "", SessionConfig{}) // declines everything
		out, frames, _ := alice.OfferFile("bob@example.com", FileInfo{Name: "a", Size: 10})
		pump(t, alice, bob, "alice@example.com", "bob@example.com", frames)
		if !errors.Is(out.Err(), ErrDeclined) {
			t.Fatalf("sender %v", out.Err())
		}
		alice2, _, out2, _, _ := sendSetup(t, 10, SessionConfig{})
		// A 603 for out2's Call-ID after its 200 OK: another endpoint declined.
		late := &SLPMessage{StatusCode: 603, Reason: "Decline", Headers: Fields{{Name: "To", Value: "<msnmsgr:alice@example.com>"}, {Name: "Call-ID", Value: out2.CallID}}}
		for _, c := range Chunks(Header{Identifier: 9, AckID: 3}, late.Bytes(), 0) {
			if _, err := alice2.Handle("bob@example.com", "", "", c.Bytes()); err != nil {
				t.Fatal(err)
			}
		}
		if isDone(out2.Done()) {
			t.Fatalf("a late decline ended an accepted transfer: %v", out2.Err())
		}
	})
	t.Run("too large", func(t *testing.T) {
		alice := NewSessionResponder("alice@example.com", "", SessionConfig{})
		bob := NewSessionResponder("bob@example.com", "", SessionConfig{MaxFileSize: 100, AcceptFile: func(*Transfer) io.Writer {
			t.Fatal("asked about a file over the limit")
			return nil
		}})
		out, frames, _ := alice.OfferFile("bob@example.com", FileInfo{Name: "big.iso", Size: 101})
		o, err := bob.Handle("alice@example.com", "", "", frames[0].Data)
		if err != nil || !o.TooLarge || !o.Declined || o.File != nil || o.Offer == nil || o.Offer.Name != "big.iso" || o.Offer.Size != 101 {
			t.Fatalf("outcome %+v %v", o, err)
		}
		pump(t, bob, alice, "bob@example.com", "alice@example.com", o.Replies)
		if !errors.Is(out.Err(), ErrDeclined) {
			t.Fatalf("sender %v", out.Err())
		}
	})
	t.Run("cancel", func(t *testing.T) {
		alice, bob, out, in, _ := sendSetup(t, len(data), SessionConfig{})
		bye := alice.CancelTransfer(out, io.ErrUnexpectedEOF)
		if !isBye(bye) || !errors.Is(out.Err(), ErrClosed) || alice.CancelTransfer(out, io.ErrUnexpectedEOF) != nil {
			t.Fatalf("cancel: %v", out.Err())
		}
		pump(t, alice, bob, "alice@example.com", "bob@example.com", bye)
		if !errors.Is(in.Err(), ErrClosed) {
			t.Fatalf("receiver %v", in.Err())
		}
	})
	t.Run("busy", func(t *testing.T) {
		alice := NewSessionResponder("alice@example.com", "", SessionConfig{})
		for i := 0; i < maxFilesPerPeer; i++ {
			if _, _, err := alice.OfferFile("bob@example.com", FileInfo{Name: "a", Size: 1}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := alice.OfferFile("bob@example.com", FileInfo{Name: "a", Size: 1}); !errors.Is(err, ErrBusy) {
			t.Fatalf("offer %d: %v", maxFilesPerPeer+1, err)
		}
	})
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestFileContextRoundTrip: FileContext gives the captured 574-byte layout (the capture's
// context for hello.txt, 3,000 bytes, byte for byte) and parses back; a preview after the
// fixed part is returned; names lose their path and control characters.
func TestFileContextRoundTrip(t *testing.T) {
	m, err := ParseSLP(mustPacket(t, func() []byte { _, b := frame(t, "02.bob-3.msg"); return b }()).Data)
	if err != nil {
		t.Fatal(err)
	}
	if got := FileContext(FileInfo{Name: "hello.txt", Size: 3000}); got != m.BodyFields().Get("Context") {
		t.Fatalf("context differs from the capture:\n%s", got)
	}
	fi, err := ParseFileContext(FileContext(FileInfo{Name: "Grüße 📷.png", Size: 1 << 40}))
	if err != nil || fi.Name != "Grüße 📷.png" || fi.Size != 1<<40 || fi.Preview != nil {
		t.Fatalf("%+v %v", fi, err)
	}
	raw, _ := base64.StdEncoding.DecodeString(FileContext(FileInfo{Name: "p.png", Size: 5}))
	raw = append(raw, "PNGDATA"...)
	binary.LittleEndian.PutUint32(raw, uint32(len(raw)))
	if fi, err := ParseFileContext(base64.StdEncoding.EncodeToString(raw)); err != nil || string(fi.Preview) != "PNGDATA" {
		t.Fatalf("preview %q %v", fi.Preview, err)
	}
	if n := cleanFileName("../..\\evil\x00\n.exe"); n != "evil.exe" {
		t.Fatalf("name %q", n)
	}
}
