package ns_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/ns"
)

// nsGoroutines counts the goroutines that package ns started and that are still running.
func nsGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "created by github.com/msnbridge/msnbridge/msn/ns.") {
			n++
		}
	}
	return n
}

// TestIdleSessionGoroutines: an idle MSNP18 session keeps one goroutine (the reader): keep-alive
// and ticket renewal wait on timers, and the event dispatcher runs only while events are queued.
func TestIdleSessionGoroutines(t *testing.T) {
	srv := startServer(t)
	before := nsGoroutines()
	events := make(chan ns.Event, 256)
	s, err := ns.Login(context.Background(), clientConfig(srv, 18, events), "alice@example.com", "alicepass")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Login returns once the session is up; transient goroutines (a renewal in flight) end soon.
	deadline := time.Now().Add(wait)
	for {
		got := nsGoroutines() - before
		if got <= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle session runs %d goroutines, want 1", got)
		}
		time.Sleep(10 * time.Millisecond) // nothing to wait on: goroutine exits are not observable
	}
	s.Close()
	deadline = time.Now().Add(wait)
	for nsGoroutines() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left after Close", nsGoroutines()-before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
