package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/p2p"
	"github.com/msnbridge/msnbridge/msn/sb"
)

// TestFileOfferDeclinedThroughFakeServer: bob's client sends alice the captured file offer
// (transcripts/p2p/03-file-decline.txt, receiver renamed) with SendP2P through the fake
// server; alice's client declines it at once, and bob receives her ACK of the INVITE and the
// 603 Decline for its Call-ID, so his transfer ends; alice still sees the offer as content.
func TestFileOfferDeclinedThroughFakeServer(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "p2p", "testdata", "transcript", "03.bob-3.msg"))
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.ReplaceAll(raw, []byte("carol@example.com"), []byte("alice@example.com"))
	invite, err := message.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range []int{12, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t, "alice@example.com", "bob@example.com")
			alice := login(t, srv, v, "alice@example.com", 2*i+1)
			bob := login(t, srv, v, "bob@example.com", 2*i+2)
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			toAlice := bob.mgr.Conversation("alice@example.com")
			if o, err := toAlice.SendP2P(ctx, "alice@example.com", invite.P2P.Data).Wait(ctx); o != sb.Delivered {
				t.Fatalf("INVITE: %v %v", o, err)
			}
			isP2P := func(e *sb.ContentEvent) bool { return e.Kind == message.KindP2P }
			offer := waitEvent(t, alice, isP2P)
			if fi, ok := p2p.FileOfferIn(offer.Message.P2P.Data); !ok || fi.Name != "hello.txt" {
				t.Fatalf("alice's content event %+v", offer.Message.P2P)
			}
			var got []*p2p.Packet
			for len(got) < 2 {
				ev := waitEvent(t, bob, isP2P)
				if ev.Message.P2P.Dest != "bob@example.com" {
					t.Fatalf("P2P-Dest %q", ev.Message.P2P.Dest)
				}
				pk, err := p2p.ParsePacket(ev.Message.P2P.Data)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, pk)
			}
			if ack := got[0].Header; ack.Flags != p2p.FlagAck || ack.AckID != 1804289387 || ack.AckUID != 304089172 || ack.AckSize != 1193 {
				t.Fatalf("ACK %+v", ack)
			}
			slp, err := p2p.ParseSLP(got[1].Data)
			if err != nil || slp.StatusCode != 603 || slp.CallID() != "{8147455F-1BE9-9E6D-1C6E-4BEA8B3E9C46}" ||
				slp.To() != "bob@example.com" || slp.From() != "alice@example.com" {
				t.Fatalf("603 %+v %v", slp, err)
			}
		})
	}
}
