package sb

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

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

// TestPausedReaderKeepsItsSwitchboard: while bob's reader is paused for a slow consumer, the
// ACK of a message sent meanwhile sits unread behind bob's messages: the ACK timeout waits on
// instead of failing the message and retiring the switchboard, and the idle close does not
// close the switchboard under unread messages. Once the consumer runs, every message arrives
// and the sent one is delivered.
func TestPausedReaderKeepsItsSwitchboard(t *testing.T) {
	var logs syncBuffer
	peer := newPeerServer(t)
	f := &fakeNS{passport: "alice@example.com", version: 12, addr: peer.addr()}
	gate := make(chan struct{})
	var mu sync.Mutex
	n := 0
	const flood = maxPendingEvents + 200
	all := make(chan struct{})
	m := NewManager(f, Config{
		XFRInterval: -1, RequestTimeout: waitLimit, Logger: zerolog.New(&logs).Level(zerolog.DebugLevel),
		AckTimeout: 100 * time.Millisecond, IdleTimeout: 100 * time.Millisecond,
		OnEvent: func(ev Event) {
			if me, ok := ev.(*MessageEvent); ok && me.Sender.Passport == "bob@example.com" {
				<-gate
				mu.Lock()
				n++
				if n == flood {
					close(all)
				}
				mu.Unlock()
			}
		}})
	t.Cleanup(func() { m.Close() })
	bob := m.Conversation("bob@example.com")
	pc := openOneToOne(t, peer, bob)
	for i := 0; i < flood; i++ {
		pc.sendMSG("bob@example.com", "Bob", textPayload(strconv.Itoa(i)))
	}
	deadline := time.Now().Add(waitLimit)
	for waiting, _ := readerWaiting(bob); !waiting; waiting, _ = readerWaiting(bob) {
		if time.Now().After(deadline) {
			t.Fatal("bob's reader never waited")
		}
		runtime.Gosched() // nothing to wait on: poll with a deadline
	}
	res := bob.SendText(context.Background(), "sent while paused", message.Format{})
	msg := pc.expect("MSG")
	pc.send("ACK %d", msg.TrID) // behind bob's unread messages
	for !strings.Contains(logs.String(), "reader is paused") {
		if time.Now().After(deadline) {
			t.Fatal("the ACK timeout never came while paused")
		}
		runtime.Gosched()
	}
	if o, err := res.Outcome(); o != Pending {
		t.Fatalf("message resolved while its ACK was unread: %v %v", o, err)
	}
	close(gate)
	select {
	case <-all:
	case <-time.After(waitLimit):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("only %d of %d of bob's messages delivered", n, flood)
	}
	if o, err := wait(t, res); o != Delivered {
		t.Fatalf("message sent while paused: %v %v", o, err)
	}
}

// TestPausedReaderIsNotClosedForIdleness: a one-to-one switchboard whose reader is paused
// for a slow consumer is not closed by the idle timer (closing it would lose what the server
// sent and the reader has not read yet); every message arrives once the consumer runs.
func TestPausedReaderIsNotClosedForIdleness(t *testing.T) {
	var logs syncBuffer
	peer := newPeerServer(t)
	f := &fakeNS{passport: "alice@example.com", version: 12, addr: peer.addr()}
	gate := make(chan struct{})
	var mu sync.Mutex
	n := 0
	const flood = maxPendingEvents + 200
	all := make(chan struct{})
	m := NewManager(f, Config{
		XFRInterval: -1, RequestTimeout: waitLimit, Logger: zerolog.New(&logs).Level(zerolog.DebugLevel),
		IdleTimeout: 50 * time.Millisecond,
		OnEvent: func(ev Event) {
			if me, ok := ev.(*MessageEvent); ok && me.Sender.Passport == "bob@example.com" {
				<-gate
				mu.Lock()
				n++
				if n == flood {
					close(all)
				}
				mu.Unlock()
			}
		}})
	t.Cleanup(func() { m.Close() })
	bob := m.Conversation("bob@example.com")
	pc := openOneToOne(t, peer, bob)
	for i := 0; i < flood; i++ {
		pc.sendMSG("bob@example.com", "Bob", textPayload(strconv.Itoa(i)))
	}
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(logs.String(), "keeping the switchboard") && !strings.Contains(logs.String(), "closing idle switchboard") {
		if time.Now().After(deadline) {
			t.Fatal("the idle timer never came")
		}
		runtime.Gosched() // nothing to wait on: poll the log with a deadline
	}
	close(gate)
	select {
	case <-all:
	case <-time.After(waitLimit):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("only %d of %d of bob's messages delivered", n, flood)
	}
}
