package sb

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/internal/transcript"
	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/wire"
)

// compareSB compares a client command with the transcript's: exactly, except that our text
// messages ask for an ACK ("A") where the transcript's client used "N".
func compareSB(want, got *wire.Command) error {
	if want.Name == "MSG" && len(want.Args) == 1 && len(got.Args) == 1 && want.Args[0] == "N" && got.Args[0] == "A" {
		if string(want.Payload) != string(got.Payload) {
			return fmt.Errorf("payload differs: %q", got.Payload)
		}
		return nil
	}
	if !slices.Equal(want.Args, got.Args) {
		return fmt.Errorf("arguments differ")
	}
	if string(want.Payload) != string(got.Payload) {
		return fmt.Errorf("payload differs: %q", got.Payload)
	}
	return nil
}

// serveReplay plays the transcript's side of one switchboard connection on the next
// connection to ln.
func serveReplay(t *testing.T, ln net.Listener, entries []transcript.Entry) <-chan error {
	done := make(chan error, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer nc.Close()
		r := &transcript.Replay{Entries: entries, Compare: compareSB}
		if err := r.Serve(nc); err != nil {
			done <- err
			return
		}
		// The transcript ends with the client's OUT, which the server answers by closing the
		// socket (SERVER-NOTES item 12); the deferred Close does that.
		done <- nil
	}()
	return done
}

func waitReplay(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("replay did not finish")
	}
}

// TestReplayTranscripts plays the server side of both switchboard connections of every real
// wire transcript (MSNP2 … MSNP18) to the client and checks every command it sends.
func TestReplayTranscripts(t *testing.T) {
	for v := 2; v <= 18; v++ {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			tr, err := transcript.Load(fmt.Sprintf("transcript_msnp%d.txt", v))
			if err != nil {
				t.Skipf("transcript not available: %v", err)
			}
			aliceSB, bobSB := tr.Conn("alice", "SB"), tr.Conn("bob", "SB")
			if len(aliceSB) == 0 || len(bobSB) == 0 {
				t.Fatal("transcript has no switchboard")
			}
			// The opener's identity and cookie, and bob's invitation, as the NS gave them.
			usr := strings.Fields(aliceSB[0].Line) // USR 1 alice[;{guid}] cookie
			aliceID, cookie := usr[2], usr[3]
			_, aliceGUID, _ := strings.Cut(aliceID, ";")
			ans := strings.Fields(bobSB[0].Line) // ANS 1 bob[;{guid}] cookie session
			_, bobGUID, _ := strings.Cut(ans[2], ";")
			var rng []string
			for _, e := range tr.Conn("bob", "NS") {
				if strings.HasPrefix(e.Line, "RNG ") {
					rng = strings.Fields(e.Line)
				}
			}
			if len(rng) < 6 {
				t.Fatal("transcript has no RNG for bob")
			}

			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()

			// Alice opens the switchboard and talks first.
			aliceRec := newRecorder()
			alice := NewManager(&fakeNSTicket{fakeNS: fakeNS{passport: "alice@example.com", version: v, addr: ln.Addr().String()}, cookie: cookie},
				Config{MachineGUID: aliceGUID, XFRInterval: -1, OnEvent: aliceRec.on})
			defer alice.Close()
			aliceDone := serveReplay(t, ln, aliceSB)
			toBob := alice.Conversation("bob@example.com")
			ctx := context.Background()
			typing := toBob.SendTyping(ctx)
			hello := toBob.SendText(ctx, "Hello Bob, this is Alice via Escargot!", message.Format{})
			select {
			case err := <-aliceDone:
				t.Fatalf("replay ended before the ACK: %v", err)
			case <-hello.Done():
			}
			if o, err := wait(t, hello); o != Delivered {
				t.Fatalf("alice's message: %v %v", o, err)
			}
			if o, _ := wait(t, typing); o != Delivered {
				t.Fatalf("typing: %v", o)
			}
			if m := waitEvent[*MessageEvent](t, aliceRec); m.Text != "Hi Alice, Bob here." || m.Sender.Passport != "bob@example.com" {
				t.Fatalf("alice got %+v", m)
			}
			if err := toBob.Leave(); err != nil {
				t.Fatal(err)
			}
			waitReplay(t, aliceDone)

			// Bob is invited, reads, answers; alice's BYE makes him leave.
			bobRec := newRecorder()
			bob := NewManager(&fakeNS{passport: "bob@example.com", version: v}, Config{MachineGUID: bobGUID, XFRInterval: -1, OnEvent: bobRec.on})
			defer bob.Close()
			bobDone := serveReplay(t, ln, bobSB)
			conv, err := bob.Accept(ctx, Invitation{SessionID: rng[1], Addr: ln.Addr().String(), Cookie: rng[4], Inviter: rng[5]})
			if err != nil {
				t.Fatalf("accept: %v", err)
			}
			if conv.ID() != "alice@example.com" || conv.IsGroup() {
				t.Fatalf("routed to %q", conv.ID())
			}
			waitEvent[*TypingEvent](t, bobRec)
			if m := waitEvent[*MessageEvent](t, bobRec); m.Text != "Hello Bob, this is Alice via Escargot!" || m.Conv != conv {
				t.Fatalf("bob got %+v", m)
			}
			conv.SendText(ctx, "Hi Alice, Bob here.", message.Format{})
			waitEvent[*LeftEvent](t, bobRec)
			waitReplay(t, bobDone)
			if len(conv.Participants()) != 1 {
				t.Fatalf("bob's roster %+v", conv.Participants())
			}
		})
	}
}

// fakeNSTicket hands out one fixed cookie (the transcript's).
type fakeNSTicket struct {
	fakeNS
	cookie string
}

func (f *fakeNSTicket) RequestSwitchboard(ctx context.Context) (Ticket, error) {
	return Ticket{Addr: f.addr, Cookie: f.cookie}, nil
}
