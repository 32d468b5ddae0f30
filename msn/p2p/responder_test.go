package p2p

import (
	"bytes"
	"testing"
)

// TestSenderIsTheStampedOne: in a multi-party switchboard a participant may put another
// account in P2P-Src; the frame is attributed to the sender the server stamped on the MSG,
// so it cannot reach that account's sessions. P2P-Src only fills in a missing sender.
func TestSenderIsTheStampedOne(t *testing.T) {
	for _, tc := range []struct{ from, src, want string }{
		{"Carol@example.com", "alice@example.com;{6ab9a48e-3b2c-4f39-9c8f-2a3f6f5f1e10}", "carol@example.com"},
		{"bob@example.com", "bob@example.com", "bob@example.com"},
		{"", "Alice@Example.com", "alice@example.com"},
	} {
		if got := senderOf(tc.from, tc.src); got != tc.want {
			t.Errorf("senderOf(%q, %q) = %q, want %q", tc.from, tc.src, got, tc.want)
		}
	}
}

// TestAcksAreMarkedAndNothingToShow: in a whole fetch (INVITE, 200 OK, data preparation,
// data, BYE), every ACK a Responder sends is marked Frame.Ack (it belongs to the switchboard
// it answers) and no other frame is; every ACK it receives is reported as session traffic
// (Outcome.Session), never as content to show — also the ACK of the final BYE, which
// arrives after the fetch ended.
func TestAcksAreMarkedAndNothingToShow(t *testing.T) {
	pic := picture(3000)
	obj := NewMSNObject("alice@example.com", ObjectDisplayPicture, pic, "", "")
	alice := NewSessionResponder("alice@example.com", "", SessionConfig{Objects: func(d string) ([]byte, bool) {
		return pic, d == obj.SHA1D
	}})
	bob := NewSessionResponder("bob@example.com", "", SessionConfig{})
	f, frames, err := bob.Fetch("alice@example.com", obj)
	if err != nil {
		t.Fatal(err)
	}
	type msg struct {
		from string
		f    Frame
	}
	var queue []msg
	for _, fr := range frames {
		queue = append(queue, msg{"bob@example.com", fr})
	}
	acks := 0
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 1000 {
			t.Fatal("no end to the exchange")
		}
		m := queue[0]
		queue = queue[1:]
		p, err := ParsePacket(m.f.Data)
		if err != nil {
			t.Fatal(err)
		}
		if isAck := p.Header.Flags&FlagAck != 0; isAck != m.f.Ack {
			t.Fatalf("frame from %s with flags %#x marked Ack=%v", m.from, p.Header.Flags, m.f.Ack)
		}
		to, replyFrom := alice, "alice@example.com"
		if m.from == "alice@example.com" {
			to, replyFrom = bob, "bob@example.com"
		}
		out, err := to.Handle(m.from, m.f.Dest, "", m.f.Data)
		if err != nil {
			t.Fatal(err)
		}
		if m.f.Ack {
			acks++
			if !out.Session || len(out.Replies) != 0 {
				t.Fatalf("ACK from %s: Session=%v, %d replies", m.from, out.Session, len(out.Replies))
			}
		}
		for _, r := range out.Replies {
			queue = append(queue, msg{replyFrom, r})
		}
	}
	if data, err := f.Result(); err != nil || !bytes.Equal(data, pic) {
		t.Fatalf("fetch: %d bytes, %v", len(data), err)
	}
	// ACKs of the INVITE, 200 OK, data preparation, data and BYE.
	if acks != 5 {
		t.Fatalf("%d ACKs exchanged", acks)
	}
	// An ACK of a frame the Responder never sent (the application's own) is not its business.
	foreign := NewAck(Header{Identifier: bob.firstID - 1, TotalSize: 10}, 1)
	if out, err := bob.Handle("alice@example.com", "bob@example.com", "", foreign.Bytes()); err != nil || out.Session {
		t.Fatalf("foreign ACK: %+v %v", out, err)
	}
}

// TestAddressedTo: an address names a client by its e-mail, bare or with the client's own
// endpoint; another endpoint, or any endpoint before MSNP16 (none of our own), does not.
func TestAddressedTo(t *testing.T) {
	const guid = "{5E3EDFE5-440D-5132-A3F3-A7AE35275C64}"
	for _, tc := range []struct {
		addr, endpoint string
		want           bool
	}{
		{"alice@example.com", "", true},
		{"<msnmsgr:Alice@Example.com>", guid, true},
		{"alice@example.com;" + guid, guid, true},
		{"MSNMSGR:alice@example.com;{5e3edfe5-440d-5132-a3f3-a7ae35275c64}", " " + guid + " ", true},
		{"alice@example.com;{00000000-1111-2222-3333-444444444444}", guid, false},
		{"alice@example.com;" + guid, "", false},
		{"bob@example.com", "", false},
		{"", "", false},
	} {
		if got := AddressedTo(tc.addr, "Alice@example.com", tc.endpoint); got != tc.want {
			t.Errorf("AddressedTo(%q, endpoint %q) = %v, want %v", tc.addr, tc.endpoint, got, tc.want)
		}
	}
}
