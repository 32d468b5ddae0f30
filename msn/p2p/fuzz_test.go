package p2p

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf16"
)

// The seed corpora in testdata/fuzz/ hold the captured frames of testdata/transcript (see
// its README): P2P frames for FuzzParsePacket and FuzzResponder, SLP texts for FuzzParseSLP.

// FuzzParsePacket: any bytes give a packet or an error; a packet re-encodes to the same bytes
// and keeps its sizes consistent.
func FuzzParsePacket(f *testing.F) {
	f.Add(v2Invite([]byte("INVITE MSNMSGR:a@b MSNSLP/1.0\r\n\r\n\x00")))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePacket(b)
		if err != nil {
			if p != nil {
				t.Fatal("packet and error")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrP2Pv2) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		h := p.Header
		if int(h.MessageSize) != len(p.Data) || h.Offset+uint64(h.MessageSize) > h.TotalSize {
			t.Fatalf("inconsistent packet %+v with %d bytes", h, len(p.Data))
		}
		if !bytes.Equal(p.Bytes(), b) {
			t.Fatal("re-encoding differs")
		}
	})
}

// FuzzParseSLP: any bytes give a message or an error; a message's accessors never panic and
// its encoding parses back to the same start line, headers and body.
func FuzzParseSLP(f *testing.F) {
	f.Add([]byte("MSNSLP/1.0 603 Decline\r\nTo: <msnmsgr:a@b>\r\nContent-Length: 3\r\n\r\nx\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseSLP(b)
		if err != nil {
			return
		}
		_, _, _, _, _ = m.To(), m.From(), m.Branch(), m.CallID(), m.ContentType()
		_, _ = m.SessionID()
		_, _ = FileOffer(m)
		if len(m.BodyFields()) > maxSLPFields {
			t.Fatal("too many body fields")
		}
		again, err := ParseSLP(m.Bytes())
		if err != nil {
			t.Fatalf("re-encoded message does not parse: %v", err)
		}
		if again.StartLine() != m.StartLine() || !bytes.Equal(again.Body, m.Body) || len(again.Headers) < len(m.Headers) {
			t.Fatalf("round trip changed the message: %q → %q", m.StartLine(), again.StartLine())
		}
		if m.IsRequest() {
			d := NewDecline(m, "me@example.com")
			if _, err := ParseSLP(d.Bytes()); err != nil {
				t.Fatalf("decline does not parse: %v", err)
			}
		}
	})
}

// handleFromBob hands frame b from bob to carol's responder r n times (as if split chunks
// repeated): it never gives replies together with an error, and every reply parses back as a
// P2Pv1 frame addressed to bob.
func handleFromBob(t *testing.T, r *Responder, b []byte, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		out, err := r.Handle("bob@example.com", "carol@example.com", "", b)
		if err != nil && len(out.Replies) > 0 {
			t.Fatal("replies and error")
		}
		for _, fr := range out.Replies {
			if fr.Dest != "bob@example.com" {
				t.Fatalf("reply to %q", fr.Dest)
			}
			if _, err := ParsePacket(fr.Data); err != nil {
				t.Fatalf("reply does not parse: %v", err)
			}
		}
	}
}

// FuzzResponder feeds a frame (twice, as if split chunks repeated) to a Responder: it never
// panics, and what it sends parses back as P2Pv1 frames addressed to the sender.
func FuzzResponder(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewResponder("carol@example.com", "{5e3edfe5-440d-5132-a3f3-a7ae35275c64}")
		handleFromBob(t, r, b, 2)
		if r.asm.Pending() > DefaultMaxPending {
			t.Fatalf("%d pending", r.asm.Pending())
		}
	})
}

// FuzzSession feeds frames to a Responder that serves an object and has a fetch in progress
// with a known SessionID (so that fuzzed data chunks reach the fetch): it never panics, what
// it sends parses back, and a fetch that ends with data has data matching the object.
func FuzzSession(f *testing.F) {
	pic := bytes.Repeat([]byte("picture "), 200)
	obj := NewMSNObject("bob@example.com", ObjectDisplayPicture, pic, "", "")
	for _, c := range Chunks(Header{SessionID: 1234, Identifier: 5, Flags: FlagObjectData}, pic, 1) {
		f.Add(c.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewSessionResponder("carol@example.com", "", SessionConfig{Objects: func(d string) ([]byte, bool) {
			return pic, d == obj.SHA1D
		}})
		fe, _, err := r.Fetch("bob@example.com", obj)
		if err != nil {
			t.Fatal(err)
		}
		r.mu.Lock()
		fe.SessionID = 1234
		r.mu.Unlock()
		handleFromBob(t, r, b, 3)
		select {
		case <-fe.Done():
			if data, err := fe.Result(); err == nil && !obj.Matches(data) {
				t.Fatal("fetch ended with wrong data")
			}
		default:
		}
	})
}

// FuzzParseFileContext: any text gives a FileInfo or an error, never a panic; a name parsed
// has no path and no control characters, a preview is never larger than the context, and a
// context built from the result parses back to the same name and size.
func FuzzParseFileContext(f *testing.F) {
	f.Add(FileContext(FileInfo{Name: "hello.txt", Size: 3000}))
	f.Fuzz(func(t *testing.T, s string) {
		fi, err := ParseFileContext(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(fi.Name, "/\\\x00\r\n") || len(fi.Preview) > len(s) {
			t.Fatalf("parsed %q with a %d-byte preview", fi.Name, len(fi.Preview))
		}
		again, err := ParseFileContext(FileContext(fi))
		if err != nil || again.Size != fi.Size || (utf16Len(fi.Name) <= 259 && again.Name != fi.Name) {
			t.Fatalf("round trip %+v → %+v, %v", fi, again, err)
		}
	})
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// FuzzFileReceive feeds frames to a Responder that accepts files, with an incoming transfer
// in progress under a known SessionID (so that fuzzed chunks reach it): it never panics, what
// it sends parses back, and the writer never gets more than the offered size.
func FuzzFileReceive(f *testing.F) {
	data := bytes.Repeat([]byte("file "), 700)
	for _, c := range Chunks(Header{SessionID: 4321, Identifier: 9, Flags: FlagWLMFile}, data, 2) {
		f.Add(c.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var buf bytes.Buffer
		var tr *Transfer
		r := NewSessionResponder("carol@example.com", "", acceptInto(&buf, &tr))
		alice := NewSessionResponder("bob@example.com", "", SessionConfig{})
		_, frames, err := alice.OfferFile("carol@example.com", FileInfo{Name: "f", Size: uint64(len(data))})
		if err != nil {
			t.Fatal(err)
		}
		for _, fr := range frames {
			if _, err := r.Handle("bob@example.com", "carol@example.com", "", fr.Data); err != nil {
				t.Fatal(err)
			}
		}
		if tr == nil {
			t.Fatal("offer not accepted")
		}
		r.mu.Lock()
		tr.SessionID = 4321
		r.mu.Unlock()
		handleFromBob(t, r, b, 3)
		if uint64(buf.Len()) > tr.File.Size {
			t.Fatalf("%d bytes written for a %d-byte file", buf.Len(), tr.File.Size)
		}
	})
}
