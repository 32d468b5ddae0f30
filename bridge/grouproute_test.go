package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"

	"github.com/msnbridge/msnbridge/msn/msntest"
)

// groupMessage waits for the next message and returns its portal, checking its text.
func groupMessage(t *testing.T, h *harness, body string) networkid.PortalKey {
	t.Helper()
	evt := wait(t, h.rec.events, "message "+body, func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
	if got := convert(t, evt).Body; got != body {
		t.Fatalf("got %q, want %q", got, body)
	}
	return evt.GetPortalKey()
}

// startGroup has bob open a conversation with alice and call carol in, then carol speak.
func startGroup(ctx context.Context, t *testing.T, h *harness, bob, carol *msntest.Contact, body string) networkid.PortalKey {
	t.Helper()
	if err := bob.Say(ctx, "alice@example.com", "hi alice"); err != nil {
		t.Fatal(err)
	}
	groupMessage(t, h, "hi alice")
	if err := bob.Invite(ctx, "alice@example.com", "carol@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := carol.Say(ctx, "alice@example.com", body); err != nil {
		t.Fatal(err)
	}
	return groupMessage(t, h, body)
}

// restartHarness replaces h's client by a new one on the same login and database (a bridge
// restart) and connects it.
func restartHarness(t *testing.T, h *harness) {
	t.Helper()
	h.client.Disconnect()
	c := newClient(h.conn, nil)
	c.mx = h.rec
	c.backoffMin = 50 * time.Millisecond
	c.attach(h.login)
	h.login.Client = c
	t.Cleanup(c.Disconnect)
	h.client = c
	h.connect(t)
}

// TestClientGroupKeepsItsRoom: the same people land in the same group room after their
// switchboard closed and the NS reconnected, and after a bridge restart — whether they call the
// user back in or the user writes in the room (which calls them back in).
func TestClientGroupKeepsItsRoom(t *testing.T) {
	h := newHarness(t, 18)
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bob, carol := h.online(t, "bob@example.com"), h.online(t, "carol@example.com")
	room := startGroup(ctx, t, h, bob, carol, "first group")
	if !isGroupPortal(room.ID) {
		t.Fatalf("group message in %v", room)
	}

	// The NS reconnects and the group's switchboard is gone: the same people meet again.
	sess, _ := h.client.session()
	_ = sess.Close()
	wait(t, h.rec.states, "reconnected", func(st status.BridgeState) bool { return st.StateEvent == status.StateConnected })
	h.srv.CloseSwitchboards("alice@example.com")
	if got := startGroup(ctx, t, h, bob, carol, "after reconnect"); got != room {
		t.Fatalf("after a reconnect the group went to %v, want its room %v", got, room)
	}

	// The bridge restarts (a new client on the same login and database).
	restartHarness(t, h)
	h.online(t, "bob@example.com")
	h.online(t, "carol@example.com")
	if _, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content: &event.MessageEventContent{MsgType: event.MsgText, Body: "back again"}, Portal: portalFor(room),
	}}); err != nil {
		t.Fatalf("write in the group room after a restart: %v", err)
	}
	for _, c := range []*msntest.Contact{bob, carol} {
		for {
			m, err := c.NextText(ctx)
			if err != nil {
				t.Fatalf("%s was not called back into the group: %v", c.Passport(), err)
			}
			if m.Body == "back again" {
				break
			}
		}
	}
	if err := bob.Say(ctx, "alice@example.com", "welcome back"); err != nil {
		t.Fatal(err)
	}
	if got := groupMessage(t, h, "welcome back"); got != room {
		t.Fatalf("reply after the restart went to %v, want %v", got, room)
	}

	// Restarted again, and this time the contacts call the user in first.
	restartHarness(t, h)
	h.online(t, "bob@example.com")
	h.online(t, "carol@example.com")
	if got := startGroup(ctx, t, h, bob, carol, "after restart"); got != room {
		t.Fatalf("after a restart the group went to %v, want its room %v", got, room)
	}
}

// TestGroupPortalID: the deterministic id depends on the set of people only, never looks like a
// passport's ghost id, and differs between sets.
func TestGroupPortalID(t *testing.T) {
	ab := groupPortalID([]string{"a@x.com", "b@x.com"})
	if ab != groupPortalID([]string{"a@x.com", "b@x.com"}) || !isGroupPortal(ab) || strings.Contains(string(ab), "@") {
		t.Fatalf("id %q", ab)
	}
	if ab == groupPortalID([]string{"a@x.com", "b@x.com", "c@x.com"}) {
		t.Fatal("different sets, same id")
	}
}
