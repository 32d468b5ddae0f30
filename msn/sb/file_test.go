package sb

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/p2p"
)

// readBYE reads the client's next P2P frame that is not an ACK and checks it is an SLP BYE for
// callID. (The client's ACK of the contact's 200 OK is sent by the switchboard's reader while
// the data goes out from SendFile: it may come after the last chunk.)
func readBYE(t *testing.T, pc *peerConn, callID string) {
	t.Helper()
	_, pk := readP2P(t, pc)
	for pk.Header.Flags == p2p.FlagAck {
		_, pk = readP2P(t, pc)
	}
	m, err := p2p.ParseSLP(pk.Data)
	if err != nil || m.Method != "BYE" || m.CallID() != callID {
		t.Fatalf("expected BYE for %s, got %+v %v", callID, m, err)
	}
}

// TestSendFileEndsWhenManagerCloses: an offer waiting for the contact's answer ends with
// ErrClosed as soon as the manager closes (logout, shutdown), not when the answer times out.
func TestSendFileEndsWhenManagerCloses(t *testing.T) {
	e := newEnv(t, 12, Config{P2P: p2p.SessionConfig{FileTimeout: time.Hour}})
	conv, pc := e.acceptInvite(t, Invitation{SessionID: "1", Cookie: "2", Inviter: "bob@example.com", InviterName: "Bob"}, "bob@example.com Bob 1342472228")
	waitEvent[*JoinedEvent](t, e.rec)
	errc := make(chan error, 1)
	go func() {
		errc <- conv.SendFile(context.Background(), "a.txt", 3, bytes.NewReader([]byte("abc")))
	}()
	if _, inv := readP2P(t, pc); inv.Header.SessionID != 0 {
		t.Fatalf("expected the offer, got %+v", inv.Header)
	}
	e.m.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("SendFile after Close: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("SendFile still waits for the answer after the manager closed")
	}
}

// TestSendFileSenderTimeouts: a contact that never answers the offer, and one that accepts and
// takes the data (the server ACKs every chunk) but never acknowledges it, make SendFile fail
// with p2p.ErrTimeout after P2P.FileTimeout and close the session with BYE. The data goes out
// in chunks of at most 1202 bytes with the file flags and footer.
func TestSendFileSenderTimeouts(t *testing.T) {
	for _, accept := range []bool{false, true} {
		e := newEnv(t, 12, Config{P2P: p2p.SessionConfig{FileTimeout: 300 * time.Millisecond}})
		conv, pc := e.acceptInvite(t, Invitation{SessionID: "1", Cookie: "2", Inviter: "bob@example.com", InviterName: "Bob"}, "bob@example.com Bob 1342472228")
		waitEvent[*JoinedEvent](t, e.rec)
		data := bytes.Repeat([]byte("0123456789"), 300)
		errc := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			errc <- conv.SendFile(ctx, "a.txt", int64(len(data)), bytes.NewReader(data))
		}()
		_, inv := readP2P(t, pc)
		m, err := p2p.ParseSLP(inv.Data)
		if err != nil || m.Method != "INVITE" {
			t.Fatalf("offer %+v %v", m, err)
		}
		if fi, ok := p2p.FileOffer(m); !ok || fi.Name != "a.txt" || fi.Size != 3000 {
			t.Fatalf("offer of %+v", fi)
		}
		if accept {
			for _, c := range p2p.Chunks(p2p.Header{Identifier: 7, AckID: 9}, p2p.NewResponse(m, 200, "OK", "bob@example.com").Bytes(), 0) {
				payload, err := p2p.MessagePayload("alice@example.com", c.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				pc.sendMSG("bob@example.com", "Bob", string(payload))
			}
			var got []byte
			for len(got) < len(data) {
				_, pk := readP2P(t, pc)
				if pk.Header.SessionID == 0 {
					continue // the ACK of our 200 OK
				}
				if len(pk.Data) > p2p.MaxChunk || pk.Header.Flags != p2p.FlagWLMFile || pk.Footer != p2p.AppIDFile || pk.Header.Offset != uint64(len(got)) {
					t.Fatalf("chunk %+v footer %d", pk.Header, pk.Footer)
				}
				got = append(got, pk.Data...)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("data differs")
			}
		}
		select {
		case err := <-errc:
			if !errors.Is(err, p2p.ErrTimeout) {
				t.Fatalf("accept=%v: SendFile: %v", accept, err)
			}
		case <-time.After(waitLimit):
			t.Fatal("SendFile never timed out")
		}
		readBYE(t, pc, m.CallID())
		if conv.FileTransfers() != 0 {
			t.Fatal("transfer left over")
		}
	}
}
