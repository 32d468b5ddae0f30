package e2e

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/msn/sb"
)

// swapNS is an sb.NotificationServer that forwards to whichever NS session is current, as a
// caller that keeps one Manager across NS reconnects does.
type swapNS struct {
	passport string
	version  int

	mu   sync.Mutex
	sess *ns.Session
}

var errNoSession = errors.New("no NS session right now")

func (w *swapNS) Passport() string { return w.passport }
func (w *swapNS) Version() int     { return w.version }
func (w *swapNS) RequestSwitchboard(ctx context.Context) (sb.Ticket, error) {
	w.mu.Lock()
	s := w.sess
	w.mu.Unlock()
	if s == nil {
		return sb.Ticket{}, errNoSession
	}
	t, err := s.RequestSwitchboard(ctx)
	return sb.Ticket(t), err
}

func (w *swapNS) set(s *ns.Session) {
	w.mu.Lock()
	w.sess = s
	w.mu.Unlock()
}

// TestManagerOutlivesNSSession: a Manager kept across an NS reconnect keeps its switchboards
// (separate connections the server keeps), fails a new conversation visibly while there is
// no NS session, and opens switchboards through the new session once there is one.
func TestManagerOutlivesNSSession(t *testing.T) {
	srv := startServer(t, "alice@example.com", "bob@example.com", "carol@example.com")
	alice1 := login(t, srv, 12, "alice@example.com", 1)
	bob := login(t, srv, 12, "bob@example.com", 2)
	carol := login(t, srv, 12, "carol@example.com", 3)
	w := &swapNS{passport: "alice@example.com", version: 12, sess: alice1.session}
	events := make(chan sb.Event, 64)
	mgr := sb.NewManager(w, sb.Config{XFRInterval: -1, OnEvent: func(ev sb.Event) { events <- ev }})
	t.Cleanup(func() { mgr.Close() })

	toBob := mgr.Conversation("bob@example.com")
	send(t, toBob, "before the NS drop")
	waitEvent(t, bob, textFrom("alice@example.com", "before the NS drop"))

	alice1.session.Close()
	<-alice1.session.Done()
	w.set(nil)
	send(t, toBob, "switchboard still up")
	waitEvent(t, bob, textFrom("alice@example.com", "switchboard still up"))

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	toCarol := mgr.Conversation("carol@example.com")
	if o, err := toCarol.SendText(ctx, "no NS", message.Format{}).Wait(ctx); o != sb.Failed || !errors.Is(err, errNoSession) {
		t.Fatalf("new conversation without an NS session: %v %v", o, err)
	}

	alice2 := login(t, srv, 12, "alice@example.com", 1)
	w.set(alice2.session)
	send(t, toCarol, "through the new session")
	waitEvent(t, carol, textFrom("alice@example.com", "through the new session"))
	send(t, toBob, "and the old switchboard")
	waitEvent(t, bob, textFrom("alice@example.com", "and the old switchboard"))
}
