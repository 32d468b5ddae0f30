package e2e

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/p2p"
	"github.com/msnbridge/msnbridge/msn/sb"
)

// testPicture is a picture-sized blob (several P2P chunks).
func testPicture(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i/1202)
	}
	return b
}

// contactObject waits until c's contact list shows passport's MSNObject.
func contactObject(t *testing.T, c *client, passport string) *p2p.MSNObject {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		if ct, ok := c.session.Contact(passport); ok && ct.MSNObject != "" {
			o, err := p2p.ParseMSNObject(ct.MSNObject)
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
		time.Sleep(20 * time.Millisecond) // nothing to wait on: the contact list has no notifier here
	}
	t.Fatalf("%s never saw %s's MSNObject", c.passport, passport)
	return nil
}

// TestDisplayPictureFetchThroughFakeServer: alice announces a display picture (CHG with her
// MSNObject); bob sees it in her presence and fetches it over MSNSLP/P2Pv1 through the fake
// server's switchboard: he gets the same bytes (SHA-1 checked). On MSNP18 a second endpoint
// of alice, which has no picture to serve, sits in the same switchboard: it leaves the
// request to the endpoint that has the picture instead of declining it. A request for an
// object alice does not have is declined (MSNP12) and ends bob's fetch with ErrDeclined. A
// switchboard opened only for the fetch is closed after it.
func TestDisplayPictureFetchThroughFakeServer(t *testing.T) {
	pic := testPicture(9000)
	for i, v := range []int{12, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t, "alice@example.com", "bob@example.com")
			obj := p2p.NewMSNObject("alice@example.com", p2p.ObjectDisplayPicture, pic, "", "Alice")
			serves := func(cfg *sb.Config) {
				cfg.P2P.Objects = func(sha1d string) ([]byte, bool) { return pic, sha1d == obj.SHA1D }
			}
			alice := loginWith(t, srv, v, "alice@example.com", 3*i+1, serves)
			var alice2 *client
			if v >= 16 {
				alice2 = login(t, srv, v, "alice@example.com", 3*i+3) // a second endpoint, no picture
			}
			bob := login(t, srv, v, "bob@example.com", 3*i+2)
			ctx, cancel := context.WithTimeout(context.Background(), 2*waitLimit)
			defer cancel()
			if err := alice.session.SetMSNObject(ctx, obj.String()); err != nil {
				t.Fatal(err)
			}
			seen := contactObject(t, bob, "alice@example.com")
			if seen.SHA1D != obj.SHA1D {
				t.Fatalf("bob sees %+v", seen)
			}
			if alice2 != nil {
				// Bob opens the switchboard; both of alice's endpoints join it.
				send(t, bob.mgr.Conversation("alice@example.com"), "hello")
				for _, a := range []*client{alice, alice2} {
					waitEvent(t, a, func(e *sb.JoinedEvent) bool { return e.Participant.Passport == "bob@example.com" })
				}
			}
			data, err := bob.mgr.FetchObject(ctx, seen)
			if err != nil {
				t.Fatal(err)
			}
			if sha1.Sum(data) != sha1.Sum(pic) || !bytes.Equal(data, pic) {
				t.Fatalf("fetched %d bytes that differ", len(data))
			}
			if alice2 != nil {
				// The second endpoint saw the INVITE (and let the other endpoint answer it).
				waitEvent(t, alice2, func(e *sb.ContentEvent) bool {
					return e.Message != nil && e.Message.P2P != nil && bytes.Contains(e.Message.P2P.Data, []byte("INVITE MSNMSGR:alice@example.com"))
				})
			}
			if v < 16 {
				// The switchboard opened for the fetch closes once its last frames went out.
				waitEvent(t, bob, func(e *sb.ClosedEvent) bool { return e.Conv.Peer() == "alice@example.com" })
				// The event can be that of an earlier switchboard of the pair: wait (with a
				// deadline) until none is open.
				deadline := time.After(10 * time.Second)
				tick := time.NewTicker(5 * time.Millisecond)
				for bob.mgr.Conversation("alice@example.com").Connected() {
					select {
					case <-deadline:
						t.Fatal("switchboard still open after the fetch")
					case <-tick.C:
					}
				}
				tick.Stop()
				other := p2p.NewMSNObject("alice@example.com", p2p.ObjectDisplayPicture, pic[:100], "", "")
				if _, err := bob.mgr.FetchObject(ctx, other); !errors.Is(err, p2p.ErrDeclined) {
					t.Fatalf("fetch of an object alice does not have: %v", err)
				}
			}
		})
	}
}

// TestScriptedContactServesDisplayPicture: a scripted contact of the fake server with a
// display picture shows it in its presence and serves it to a client's fetch.
func TestScriptedContactServesDisplayPicture(t *testing.T) {
	pic := testPicture(4238)
	for i, v := range []int{12, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t, "carol@example.com", "bob@example.com")
			carol := srv.Contact("carol@example.com")
			obj, err := carol.ServeDisplayPicture(pic)
			if err != nil {
				t.Fatal(err)
			}
			if err := carol.SignIn("NLN"); err != nil {
				t.Fatal(err)
			}
			bob := login(t, srv, v, "bob@example.com", 10+i)
			seen := contactObject(t, bob, "carol@example.com")
			if seen.SHA1D != obj.SHA1D {
				t.Fatalf("bob sees %+v", seen)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			data, err := bob.mgr.FetchObject(ctx, seen)
			if err != nil || sha1.Sum(data) != sha1.Sum(pic) {
				t.Fatalf("fetch: %d bytes, %v", len(data), err)
			}
			if n := carol.P2PRequests(); n != 1 {
				t.Fatalf("carol served %d requests", n)
			}
		})
	}
}
