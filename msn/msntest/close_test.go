package msntest

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// closeWithin runs s.Close and fails the test (with every goroutine's stack) when it has not
// returned within d.
func closeWithin(t *testing.T, s *Server, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Close()
	}()
	select {
	case <-done:
	case <-time.After(d):
		buf := make([]byte, 1<<20)
		t.Fatalf("Close has not returned after %v\n%s", d, buf[:runtime.Stack(buf, true)])
	}
}

// fillUnread logs alice in on MSNP12 and makes the server push her large UBX commands she never
// reads, fewer than an outbox holds but far more than the socket buffers take, so that her
// outbox writer is blocked in a write; it checks that commands are still queued.
func fillUnread(t *testing.T, s *Server) *client {
	t.Helper()
	aliceBob(t, s)
	alice := login(t, s, 12, "alice@example.com", "alicepass1", "")
	alice.send("CHG 5 NLN 0")
	alice.expect("CHG 5 NLN 0")
	must(t, s.SetPresence("bob@example.com", "NLN"))
	psm := strings.Repeat("x", 10000)
	for i := 0; i < 3000; i++ {
		must(t, s.SetPersonalMessage("bob@example.com", psm+itoa(i)))
	}
	s.mu.Lock()
	queued := 0
	for c := range s.ns {
		queued += len(c.out.ch)
	}
	s.mu.Unlock()
	// 1000 commands of 10 kB are more than any loopback socket buffers hold.
	if queued < 1000 {
		t.Fatalf("%d commands queued: the writer never blocked, the test proves nothing", queued)
	}
	return alice
}

// A client that never reads while the server pushes it more than the socket buffers hold:
// the outbox writer is blocked in a write, and Close must still return at once.
func TestCloseWithBlockedWriter(t *testing.T) {
	s := newServer(t, Options{WriteTimeout: time.Hour})
	fillUnread(t, s)
	closeWithin(t, s, 10*time.Second)
}

// The same after the connection was dropped (Kick): the writer is still flushing the queue to
// a peer that does not read, and the connection is no longer among the live ones. Close must
// not wait for that flush.
func TestCloseAfterKickWithBlockedWriter(t *testing.T) {
	s := newServer(t, Options{WriteTimeout: time.Hour})
	fillUnread(t, s)
	if n := s.Kick("alice@example.com", "SSD"); n != 1 {
		t.Fatalf("Kick: %d sessions", n)
	}
	closeWithin(t, s, 10*time.Second)
}
