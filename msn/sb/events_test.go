package sb

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/message"
)

// textPayload is an incoming plain-text MSG payload.
func textPayload(s string) string {
	return "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n" + s
}

// openOneToOne opens the switchboard of conversation c (one message, acknowledged).
func openOneToOne(t *testing.T, peer *peerServer, c *Conversation) *peerConn {
	t.Helper()
	res := c.SendText(context.Background(), "hi", message.Format{})
	pc := peer.accept()
	pc.openAndJoin("alice@example.com", c.Peer())
	msg := pc.expect("MSG")
	pc.send("ACK %d", msg.TrID)
	if o, err := wait(t, res); o != Delivered {
		t.Fatalf("opening %s: %v %v", c.Peer(), o, err)
	}
	return pc
}

// readerWaiting reports whether a switchboard reader waits for room in c's event queue, and
// how many events are queued.
func readerWaiting(c *Conversation) (bool, int) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	return c.evRoom != nil, len(c.evQueue)
}

// TestBlockedConsumerHoldsUpOnlyItsConversation: OnEvent blocked on bob's conversation does
// not stop carol's events; bob's switchboard reader stops at the bound instead of queueing
// the whole flood; once OnEvent runs again, every one of bob's messages arrives, in order.
func TestBlockedConsumerHoldsUpOnlyItsConversation(t *testing.T) {
	peer := newPeerServer(t)
	f := &fakeNS{passport: "alice@example.com", version: 12, addr: peer.addr()}
	gate := make(chan struct{})
	carolMsgs := make(chan string, 16)
	var mu sync.Mutex
	var bobMsgs []string
	const flood = 4 * maxPendingEvents
	allBob := make(chan struct{})
	m := NewManager(f, Config{XFRInterval: -1, RequestTimeout: waitLimit, OnEvent: func(ev Event) {
		me, ok := ev.(*MessageEvent)
		if !ok {
			return
		}
		switch me.Sender.Passport {
		case "bob@example.com":
			<-gate // the consumer of bob's conversation is stuck
			mu.Lock()
			bobMsgs = append(bobMsgs, me.Text)
			if len(bobMsgs) == flood {
				close(allBob)
			}
			mu.Unlock()
		case "carol@example.com":
			carolMsgs <- me.Text
		}
	}})
	t.Cleanup(func() { m.Close() })
	bob := m.Conversation("bob@example.com")
	carol := m.Conversation("carol@example.com")
	pcBob := openOneToOne(t, peer, bob)
	pcCarol := openOneToOne(t, peer, carol)

	floodDone := make(chan struct{})
	go func() {
		defer close(floodDone)
		for i := 0; i < flood; i++ {
			if _, err := pcBob.nc.Write([]byte("MSG bob@example.com Bob " + strconv.Itoa(len(textPayload(strconv.Itoa(i)))) + "\r\n" + textPayload(strconv.Itoa(i)))); err != nil {
				return
			}
		}
	}()
	// Bob's reader ends up waiting for room instead of queueing the flood.
	deadline := time.Now().Add(waitLimit)
	for {
		waiting, n := readerWaiting(bob)
		if n > maxPendingEvents {
			t.Fatalf("%d events of one conversation queued (bound %d)", n, maxPendingEvents)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob's reader never waited (%d queued)", n)
		}
		runtime.Gosched() // nothing to wait on: poll the queue with a deadline
	}
	// Carol's conversation is not held up.
	pcCarol.sendMSG("carol@example.com", "Carol", textPayload("carol gets through"))
	select {
	case got := <-carolMsgs:
		if got != "carol gets through" {
			t.Fatalf("carol's message %q", got)
		}
	case <-time.After(waitLimit):
		t.Fatal("carol's message held up by bob's blocked consumer")
	}
	if _, n := readerWaiting(bob); n > maxPendingEvents {
		t.Fatalf("%d events of bob queued", n)
	}
	// Unblock: all of bob's messages arrive, in order.
	close(gate)
	select {
	case <-allBob:
	case <-time.After(waitLimit):
		mu.Lock()
		n := len(bobMsgs)
		mu.Unlock()
		t.Fatalf("only %d of %d of bob's messages delivered", n, flood)
	}
	<-floodDone
	mu.Lock()
	defer mu.Unlock()
	for i, s := range bobMsgs {
		if s != strconv.Itoa(i) {
			t.Fatalf("bob's message %d is %q", i, s)
		}
	}
}
