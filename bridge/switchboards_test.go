package bridge

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"

	"github.com/msnbridge/msnbridge/msn/msntest"
	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/msn/sb"
)

// sbCommands records the switchboard commands the bridge's account sends.
type sbCommands struct {
	mu   sync.Mutex
	seen map[string]int
	ans  chan struct{}
}

func watchSB(srv *msntest.Server, passport string) *sbCommands {
	w := &sbCommands{seen: map[string]int{}, ans: make(chan struct{}, 10)}
	srv.OnCommand(func(ev msntest.CommandEvent) {
		if ev.Service != "SB" {
			return
		}
		// USR and ANS log in to the switchboard: the connection has no account yet.
		login := (ev.Command.Name == "USR" || ev.Command.Name == "ANS") && len(ev.Command.Args) > 0 &&
			strings.HasPrefix(strings.ToLower(ev.Command.Args[0]), passport)
		if ev.Passport != passport && !login {
			return
		}
		w.mu.Lock()
		w.seen[ev.Command.Name]++
		w.mu.Unlock()
		if ev.Command.Name == "ANS" {
			select {
			case w.ans <- struct{}{}:
			default:
			}
		}
	})
	return w
}

func (w *sbCommands) count(name string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen[name]
}

func nextMessage(t *testing.T, h *harness, what string) bridgev2.RemoteEvent {
	t.Helper()
	return wait(t, h.rec.events, what, func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
}

// TestClientSwitchboardSurvivesNSReconnect: the NS connection drops while a conversation is
// open; the switchboard is a separate session the server keeps, so the bridge neither leaves it
// (no OUT on it) nor opens another one, and messages keep flowing both ways on it.
func TestClientSwitchboardSurvivesNSReconnect(t *testing.T) {
	h := newHarness(t, 18)
	sbw := watchSB(h.srv, "alice@example.com")
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob := h.online(t, "bob@example.com")
	if err := bob.Say(ctx, "alice@example.com", "before"); err != nil {
		t.Fatal(err)
	}
	if body := convert(t, nextMessage(t, h, "message before the drop")).Body; body != "before" {
		t.Fatalf("got %q", body)
	}
	sess, _ := h.client.session()
	_ = sess.Close() // the NS connection ends; the switchboard stays
	wait(t, h.rec.states, "transient disconnect", func(st status.BridgeState) bool { return st.StateEvent == status.StateTransientDisconnect })
	wait(t, h.rec.states, "reconnected", func(st status.BridgeState) bool { return st.StateEvent == status.StateConnected })
	if err := bob.Say(ctx, "alice@example.com", "after"); err != nil {
		t.Fatal(err)
	}
	if body := convert(t, nextMessage(t, h, "message after the reconnect")).Body; body != "after" {
		t.Fatalf("got %q", body)
	}
	bobKey := networkid.PortalKey{ID: "bob@example.com", Receiver: "alice@example.com"}
	if _, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content: &event.MessageEventContent{MsgType: event.MsgText, Body: "reply"}, Portal: portalFor(bobKey),
	}}); err != nil {
		t.Fatal(err)
	}
	if m, err := bob.NextText(ctx); err != nil || m.Body != "reply" {
		t.Fatalf("bob got %q, %v", m.Body, err)
	}
	if n := sbw.count("OUT"); n != 0 {
		t.Errorf("the bridge sent OUT on %d switchboards when the NS reconnected: contacts saw it leave", n)
	}
	if n := sbw.count("USR") + sbw.count("ANS"); n != 1 {
		t.Errorf("the bridge joined %d switchboards, want the one conversation kept", n)
	}
}

// TestClientAnswersInvitationDuringLogin: an invitation (RNG) that arrives before the session is
// installed (onConnected) is answered, and the conversation is bridged.
func TestClientAnswersInvitationDuringLogin(t *testing.T) {
	h := newHarness(t, 18)
	sbw := watchSB(h.srv, "alice@example.com")
	bob := h.online(t, "bob@example.com")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	said := make(chan error, 1)
	var once sync.Once
	login := h.conn.loginFunc
	h.conn.loginFunc = func(lctx context.Context, cfg ns.Config, passport, password string) (*ns.Session, error) {
		sess, err := login(lctx, cfg, passport, password)
		if err != nil {
			return sess, err
		}
		once.Do(func() {
			// Bob writes while the bridge is still logging in: the RNG reaches the new session's
			// events before the connection loop installs it. Wait (bounded) for the answer.
			go func() { said <- bob.Say(ctx, "alice@example.com", "during login") }()
			select {
			case <-sbw.ans:
			case <-time.After(5 * time.Second):
			}
		})
		return sess, nil
	}
	h.connect(t)
	if body := convert(t, nextMessage(t, h, "message of the invitation during login")).Body; body != "during login" {
		t.Fatalf("got %q", body)
	}
	if err := <-said; err != nil {
		t.Fatal(err)
	}
}

// TestClientHoldsInvitationWithoutManager: an invitation that finds no switchboard manager is
// held and answered (the switchboard dialled) once the connection loop has made one.
func TestClientHoldsInvitationWithoutManager(t *testing.T) {
	h := newHarness(t, 18)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	h.client.switchboardInvite(sb.Invitation{SessionID: "1", Addr: ln.Addr().String(), Cookie: "c", Inviter: "bob@example.com"})
	h.client.mu.Lock()
	held := len(h.client.heldInvites)
	h.client.mu.Unlock()
	if held != 1 {
		t.Fatalf("%d invitations held without a manager, want 1", held)
	}
	h.connect(t)
	select {
	case c := <-accepted:
		_ = c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("held invitation not answered once the manager existed")
	}
}

// TestHeldInvitationsBounded: invitations held without a manager are bounded (oldest dropped).
func TestHeldInvitationsBounded(t *testing.T) {
	h := newHarness(t, 18)
	for i := 0; i < maxHeldInvites+5; i++ {
		h.client.switchboardInvite(sb.Invitation{SessionID: strconv.Itoa(i), Addr: "127.0.0.1:1"})
	}
	h.client.mu.Lock()
	defer h.client.mu.Unlock()
	if n := len(h.client.heldInvites); n != maxHeldInvites {
		t.Fatalf("%d invitations held, want the bound %d", n, maxHeldInvites)
	}
	if first := h.client.heldInvites[0].inv.SessionID; first != "5" {
		t.Fatalf("oldest held invitation is %s, want 5 (the oldest ones dropped)", first)
	}
}

// TestClientGroupMessageNamesWhoMissedIt: writing in a group room whose switchboard is gone
// calls the stored participants back; one of them is offline, so the message reaches the other
// and the room says who did not get it.
func TestClientGroupMessageNamesWhoMissedIt(t *testing.T) {
	h := newHarness(t, 18)
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob := h.online(t, "bob@example.com") // carol stays offline: calling her fails
	groupID := "group:missed-test"
	if err := h.conn.Store.SetGroupMembers(ctx, "alice@example.com", groupID, []string{"bob@example.com", "carol@example.com"}); err != nil {
		t.Fatal(err)
	}
	key := networkid.PortalKey{ID: networkid.PortalID(groupID), Receiver: "alice@example.com"}
	if _, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content: &event.MessageEventContent{MsgType: event.MsgText, Body: "anyone there?"}, Portal: portalFor(key),
	}}); err != nil {
		t.Fatalf("send to group: %v", err)
	}
	if m, err := bob.NextText(ctx); err != nil || m.Body != "anyone there?" {
		t.Fatalf("bob got %q, %v", m.Body, err)
	}
	notice := wait(t, h.rec.notices, "missed notice", func(s string) bool { return strings.Contains(s, "did not reach") })
	if !strings.Contains(notice, "Carol") || strings.Contains(notice, "Bob") {
		t.Fatalf("notice = %q; want it to name Carol only", notice)
	}
}

func TestParseCaps(t *testing.T) {
	for in, want := range map[string]uint32{"2788999228": 2788999228, "2788999228:48": 2788999228, "32": 32} {
		if got, ok := parseCaps(in); !ok || got != want {
			t.Errorf("parseCaps(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "x", "99999999999", "-1"} {
		if _, ok := parseCaps(in); ok {
			t.Errorf("parseCaps(%q) accepted", in)
		}
	}
}
