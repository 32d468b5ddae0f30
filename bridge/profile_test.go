package bridge

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/status"

	"github.com/msnbridge/msnbridge/msn/msntest"
	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/puppet"
)

// commandLog collects the NS commands one account sends to the fake server once started.
type commandLog struct {
	mu sync.Mutex
	on bool
	ch chan string
}

func watchCommands(srv *msntest.Server, passport string) *commandLog {
	l := &commandLog{ch: make(chan string, 100)}
	srv.OnCommand(func(ev msntest.CommandEvent) {
		l.mu.Lock()
		on := l.on
		l.mu.Unlock()
		if !on || ev.Service != "NS" || ev.Passport != passport || ev.Command == nil {
			return
		}
		line := ev.Command.Name + " " + strings.Join(ev.Command.Args, " ") + " " + string(ev.Command.Payload)
		select {
		case l.ch <- line:
		default:
		}
	})
	return l
}

func (l *commandLog) start() {
	l.mu.Lock()
	l.on = true
	l.mu.Unlock()
}

// TestClientStatusSurvivesReconnectAndRestart: set-status and set-psm are remembered in the
// login metadata and applied again by the next session, after a dropped connection and after a
// bridge restart (a new client on the stored login).
func TestClientStatusSurvivesReconnectAndRestart(t *testing.T) {
	h := newHarness(t, 18)
	cmds := watchCommands(h.srv, "alice@example.com")
	h.connect(t)
	sess, _ := h.client.session()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.client.setStatus(ctx, sess, ns.Busy); err != nil {
		t.Fatal(err)
	}
	if err := h.client.setPersonalMessage(ctx, sess, "in a meeting"); err != nil {
		t.Fatal(err)
	}
	if m := h.client.meta(); m.Status != "BSY" || m.PersonalMessage != "in a meeting" || !m.PersonalMessageSet {
		t.Fatalf("metadata after set-status/set-psm: %+v", m)
	}

	// Reconnect: the new session starts busy and sends the personal message again.
	cmds.start()
	h.srv.DropConnections("alice@example.com")
	wait(t, h.rec.states, "transient disconnect", func(st status.BridgeState) bool { return st.StateEvent == status.StateTransientDisconnect })
	wait(t, h.rec.states, "reconnected", func(st status.BridgeState) bool { return st.StateEvent == status.StateConnected })
	if got := h.srv.Status("alice@example.com"); got != "BSY" {
		t.Fatalf("status after reconnect = %s, want BSY", got)
	}
	wait(t, cmds.ch, "UUX with the personal message after reconnect", func(line string) bool {
		return strings.HasPrefix(line, "UUX ") && strings.Contains(line, "<PSM>in a meeting</PSM>")
	})

	// Restart: a fresh client on the same stored login.
	h.client.Disconnect()
	logins := h.srv.Logins("alice@example.com")
	restarted := newClient(h.conn, nil)
	restarted.mx = h.rec
	restarted.backoffMin = h.client.backoffMin
	restarted.attach(h.login)
	h.login.Client = restarted
	t.Cleanup(restarted.Disconnect)
	restarted.Connect(context.Background())
	wait(t, h.rec.states, "CONNECTED after restart", func(st status.BridgeState) bool { return st.StateEvent == status.StateConnected })
	if got, n := h.srv.Status("alice@example.com"), h.srv.Logins("alice@example.com"); got != "BSY" || n != logins+1 {
		t.Fatalf("after restart: status %s, logins %d → %d; want BSY from one new login", got, logins, n)
	}
}

// TestChosenStatus: unknown or offline stored statuses fall back to online.
func TestChosenStatus(t *testing.T) {
	h := newHarness(t, 18)
	for stored, want := range map[string]ns.Status{"": ns.Online, "BSY": ns.Busy, "HDN": ns.Hidden, "FLN": ns.Online, "bogus": ns.Online} {
		h.client.meta().Status = stored
		if got := h.client.chosenStatus(h.client.meta()); got != want {
			t.Errorf("stored %q: initial status %q, want %q", stored, got, want)
		}
	}
}

// TestClientOwnGhostName: the user's own ghost shows the friendly name the server reports at
// login and the new one after set-nick.
func TestClientOwnGhostName(t *testing.T) {
	h := newHarness(t, 18)
	own := puppet.GhostID("alice@example.com")
	h.connect(t)
	wait(t, h.rec.ghostUpdates, "own ghost named at login", func(u ghostUpdate) bool { return u.id == own && u.name == "Alice (MSN)" })
	if h.login.RemoteProfile.Name != "Alice" {
		t.Errorf("login remote name = %q, want Alice", h.login.RemoteProfile.Name)
	}
	// bridgev2 asks GetUserInfo when it (re)creates the ghost: it must not fall back to the passport.
	info, err := h.client.GetUserInfo(context.Background(), &bridgev2.Ghost{Ghost: &bridgedb.Ghost{ID: own}})
	if err != nil || info == nil || info.Name == nil || *info.Name != "Alice (MSN)" {
		t.Fatalf("GetUserInfo(own ghost) = %+v, %v; want the name Alice (MSN)", info, err)
	}
	sess, _ := h.client.session()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sess.SetFriendlyName(ctx, "Alice in Wonderland"); err != nil {
		t.Fatal(err)
	}
	wait(t, h.rec.ghostUpdates, "own ghost renamed after set-nick", func(u ghostUpdate) bool {
		return u.id == own && u.name == "Alice in Wonderland (MSN)"
	})
}
