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

// pausedBob is a manager whose OnEvent blocks on bob's messages until release, with flood
// messages of bob sent on bob's open switchboard: its reader ends up paused for the consumer.
type pausedBob struct {
	logs  *syncBuffer
	bob   *Conversation
	pc    *peerConn
	gate  chan struct{}
	all   chan struct{}
	mu    sync.Mutex
	n     int
	flood int
}

// newPausedBob starts a manager with cfg (its Logger and OnEvent set here) and floods bob's
// conversation with maxPendingEvents+200 messages.
func newPausedBob(t *testing.T, cfg Config) *pausedBob {
	t.Helper()
	p := &pausedBob{logs: &syncBuffer{}, gate: make(chan struct{}), all: make(chan struct{}), flood: maxPendingEvents + 200}
	peer := newPeerServer(t)
	f := &fakeNS{passport: "alice@example.com", version: 12, addr: peer.addr()}
	cfg.XFRInterval, cfg.RequestTimeout = -1, waitLimit
	cfg.Logger = zerolog.New(p.logs).Level(zerolog.DebugLevel)
	cfg.OnEvent = func(ev Event) {
		if me, ok := ev.(*MessageEvent); ok && me.Sender.Passport == "bob@example.com" {
			<-p.gate
			p.mu.Lock()
			p.n++
			if p.n == p.flood {
				close(p.all)
			}
			p.mu.Unlock()
		}
	}
	m := NewManager(f, cfg)
	t.Cleanup(func() { m.Close() })
	p.bob = m.Conversation("bob@example.com")
	p.pc = openOneToOne(t, peer, p.bob)
	for i := 0; i < p.flood; i++ {
		p.pc.sendMSG("bob@example.com", "Bob", textPayload(strconv.Itoa(i)))
	}
	return p
}

// waitLog polls the log with a deadline (nothing to wait on) until it holds one of subs.
func (p *pausedBob) waitLog(t *testing.T, what string, subs ...string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		logs := p.logs.String()
		for _, sub := range subs {
			if strings.Contains(logs, sub) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
		runtime.Gosched()
	}
}

// release unblocks the consumer and waits until every one of bob's messages was delivered.
func (p *pausedBob) release(t *testing.T) {
	t.Helper()
	close(p.gate)
	select {
	case <-p.all:
	case <-time.After(waitLimit):
		p.mu.Lock()
		defer p.mu.Unlock()
		t.Fatalf("only %d of %d of bob's messages delivered", p.n, p.flood)
	}
}

// TestPausedReaderKeepsItsSwitchboard: while bob's reader is paused for a slow consumer, the
// ACK of a message sent meanwhile sits unread behind bob's messages: the ACK timeout waits on
// instead of failing the message and retiring the switchboard, and the idle close does not
// close the switchboard under unread messages. Once the consumer runs, every message arrives
// and the sent one is delivered.
func TestPausedReaderKeepsItsSwitchboard(t *testing.T) {
	p := newPausedBob(t, Config{AckTimeout: 100 * time.Millisecond, IdleTimeout: 100 * time.Millisecond})
	deadline := time.Now().Add(waitLimit)
	for waiting, _ := readerWaiting(p.bob); !waiting; waiting, _ = readerWaiting(p.bob) {
		if time.Now().After(deadline) {
			t.Fatal("bob's reader never waited")
		}
		runtime.Gosched() // nothing to wait on: poll with a deadline
	}
	res := p.bob.SendText(context.Background(), "sent while paused", message.Format{})
	msg := p.pc.expect("MSG")
	p.pc.send("ACK %d", msg.TrID) // behind bob's unread messages
	p.waitLog(t, "the ACK timeout never came while paused", "reader is paused")
	if o, err := res.Outcome(); o != Pending {
		t.Fatalf("message resolved while its ACK was unread: %v %v", o, err)
	}
	p.release(t)
	if o, err := wait(t, res); o != Delivered {
		t.Fatalf("message sent while paused: %v %v", o, err)
	}
}

// TestPausedReaderIsNotClosedForIdleness: a one-to-one switchboard whose reader is paused
// for a slow consumer is not closed by the idle timer (closing it would lose what the server
// sent and the reader has not read yet); every message arrives once the consumer runs.
func TestPausedReaderIsNotClosedForIdleness(t *testing.T) {
	p := newPausedBob(t, Config{IdleTimeout: 50 * time.Millisecond})
	p.waitLog(t, "the idle timer never came", "keeping the switchboard", "closing idle switchboard")
	p.release(t)
}
