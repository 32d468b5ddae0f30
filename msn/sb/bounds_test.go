package sb

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/message"
)

// directCount is how many one-to-one conversations the manager keeps.
func directCount(m *Manager) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.direct)
}

// TestManagerForgetsDormantOneToOnes: beyond Config.MaxConversations the least recently used
// one-to-one conversations without a switchboard are forgotten (a live one never is); asking
// for a forgotten contact again gives a new, working conversation, and a forgotten one a
// caller still holds works and is registered again when it sends.
func TestManagerForgetsDormantOneToOnes(t *testing.T) {
	e := newEnv(t, 12, Config{MaxConversations: 2})
	live := e.m.Conversation("bob@example.com")
	pc := openOneToOne(t, e.peer, live)
	old := e.m.Conversation("carol@example.com")
	for i := 0; i < 100; i++ {
		e.m.Conversation("contact" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "@example.com")
		if n := directCount(e.m); n > 2 {
			t.Fatalf("%d one-to-one conversations kept with MaxConversations 2", n)
		}
	}
	if e.m.Conversation("bob@example.com") != live || !live.Connected() {
		t.Fatal("the live conversation was forgotten")
	}
	fresh := e.m.Conversation("dave@example.com")
	if directCount(e.m) != 2 {
		t.Fatalf("%d kept", directCount(e.m))
	}
	// The held, forgotten conversation still sends, and takes its place back.
	res := old.SendText(context.Background(), "still here", message.Format{})
	if e.m.Conversation("carol@example.com") != old {
		t.Fatal("sending on a forgotten conversation did not register it again")
	}
	pc2 := e.peer.accept()
	pc2.openAndJoin("alice@example.com", "carol@example.com")
	msg := pc2.expect("MSG")
	pc2.send("ACK %d", msg.TrID)
	if o, err := wait(t, res); o != Delivered {
		t.Fatalf("send on the re-registered conversation: %v %v", o, err)
	}
	// dave was forgotten meanwhile (least recently used, dormant): asking again makes a new one.
	if d := e.m.Conversation("dave@example.com"); d == fresh {
		t.Fatal("dave's dormant conversation was not forgotten")
	}
	// The live one still works on its switchboard.
	res = live.SendText(context.Background(), "and you", message.Format{})
	msg = pc.expect("MSG")
	pc.send("ACK %d", msg.TrID)
	if o, _ := wait(t, res); o != Delivered {
		t.Fatalf("live conversation: %v", o)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestInvitationFloodIsBounded: a flood of RNGs is accepted by a few goroutines at a time,
// a bounded number waits, and the rest is refused with a log line; the waiting ones are
// accepted once the first ones are done.
func TestInvitationFloodIsBounded(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, 12, Config{Logger: zerolog.New(&logs)})
	const extra = 5
	for i := 0; i < maxInviteWorkers+maxInviteBacklog+extra; i++ {
		e.m.HandleInvite(Invitation{SessionID: "1", Addr: e.peer.addr(), Cookie: "c", Inviter: "bob@example.com"})
	}
	// The accepting goroutines may not have taken their first invitation off the backlog yet.
	if n := strings.Count(logs.String(), "refusing"); n < extra || n > extra+maxInviteWorkers {
		t.Fatalf("%d invitations refused, want %d to %d", n, extra, extra+maxInviteWorkers)
	}
	if n := len(e.m.invites); n > maxInviteBacklog {
		t.Fatalf("%d invitations waiting", n)
	}
	// The first ones are being answered (ANS waits for the server); no more run at once.
	var conns []*peerConn
	for i := 0; i < maxInviteWorkers; i++ {
		pc := e.peer.accept()
		pc.expect("ANS")
		conns = append(conns, pc)
	}
	e.m.invMu.Lock()
	active := e.m.invActive
	e.m.invMu.Unlock()
	if active != maxInviteWorkers {
		t.Fatalf("%d goroutines accepting invitations, want %d", active, maxInviteWorkers)
	}
	// One answered (the server drops it): the next waiting invitation is taken up.
	conns[0].nc.Close()
	pc := e.peer.accept()
	ans := pc.expect("ANS")
	pc.send("IRO %d 1 1 bob@example.com Bob 0", ans.TrID)
	pc.send("ANS %d OK", ans.TrID)
	if j := waitEvent[*JoinedEvent](t, e.rec); j.Participant.Passport != "bob@example.com" {
		t.Fatalf("joined %+v", j)
	}
}

// TestPruneSkipsBusyConversation: pruning runs with the manager's lock held; a one-to-one
// conversation busy under its own lock (its reader may be turning it into a group, which takes
// the manager's lock) is passed over, not waited for: waiting deadlocked both.
func TestPruneSkipsBusyConversation(t *testing.T) {
	e := newEnv(t, 12, Config{MaxConversations: 1})
	busy := e.m.Conversation("bob@example.com")
	busy.mu.Lock()
	done := make(chan *Conversation, 1)
	go func() { done <- e.m.Conversation("carol@example.com") }() // prunes: over the limit
	select {
	case c := <-done:
		busy.mu.Unlock()
		if c == nil || c.Peer() != "carol@example.com" {
			t.Fatalf("got %v", c)
		}
	case <-time.After(10 * time.Second):
		busy.mu.Unlock()
		t.Fatal("pruning waited for a conversation's lock while holding the manager's")
	}
}
