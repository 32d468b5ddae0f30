package msntest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/msnbridge/msnbridge/msn/p2p"
)

// Message is a switchboard message received by a scripted contact.
type Message struct {
	// From is the sender's passport.
	From string
	// Session is the switchboard session id.
	Session string
	// ContentType is the MIME Content-Type header.
	ContentType string
	// Body is the text after the MIME headers.
	Body string
	// Payload is the whole MSG payload.
	Payload []byte
}

// Contact is a scripted MSN contact: a test acts as this account without writing a client.
// It appears online virtually, opens conversations with real logged-in clients, and records
// what they send it.
type Contact struct {
	s        *Server
	passport string

	mu       sync.Mutex
	received []Message
	ch       chan Message
	// p2p serves the contact's display picture and runs its file transfers (p2p.go); nil
	// until ServeDisplayPicture, SetFilePolicy or SendFile.
	p2p        *contactP2P
	p2pServed  int
	picture    []byte
	pictureObj *p2p.MSNObject
	filePolicy FilePolicy
	// held is closed when the FilesHold policy ends (nil while none is held).
	held  chan struct{}
	files []ReceivedFile
}

// Contact returns the scripted handle of an existing account (the same handle every time).
func (s *Server) Contact(passport string) *Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := normPassport(passport)
	if a := s.accounts[p]; a != nil {
		if a.contact == nil {
			a.contact = &Contact{s: s, passport: p, ch: make(chan Message, 256)}
		}
		return a.contact
	}
	return &Contact{s: s, passport: p, ch: make(chan Message, 256)}
}

// Passport returns the contact's passport.
func (c *Contact) Passport() string { return c.passport }

func (c *Contact) record(m Message) {
	c.mu.Lock()
	c.received = append(c.received, m)
	c.mu.Unlock()
	select {
	case c.ch <- m:
	default:
	}
	c.offerP2P(m)
}

// Received returns every message the contact received so far.
func (c *Contact) Received() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.received...)
}

// Next waits for the next received message.
func (c *Contact) Next(ctx context.Context) (Message, error) {
	select {
	case m := <-c.ch:
		return m, nil
	case <-ctx.Done():
		return Message{}, fmt.Errorf("msntest: waiting for a message to %s: %w", c.passport, ctx.Err())
	case <-c.s.closed:
		return Message{}, errors.New("msntest: server closed")
	}
}

// NextText waits for the next text/plain message and returns its body.
func (c *Contact) NextText(ctx context.Context) (Message, error) {
	for {
		m, err := c.Next(ctx)
		if err != nil {
			return m, err
		}
		if len(m.ContentType) >= 10 && m.ContentType[:10] == "text/plain" {
			return m, nil
		}
	}
}

// SignIn makes the contact appear online with status (e.g. "NLN") to its watchers.
func (c *Contact) SignIn(status string) error {
	if err := c.s.SetPresence(c.passport, status); err != nil {
		return err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if a := c.s.accounts[c.passport]; a != nil {
		a.virtual = true
		if a.contact == nil {
			a.contact = c
		}
	}
	return nil
}

// SignOut makes the contact leave every conversation and appear offline.
func (c *Contact) SignOut() error {
	c.s.mu.Lock()
	for _, ss := range c.s.sessions {
		for _, p := range append([]*sbPart(nil), ss.parts...) {
			if p.virt == c {
				c.s.leaveSession(ss, p, false)
			}
		}
	}
	c.s.mu.Unlock()
	return c.s.SetPresence(c.passport, "FLN")
}

// session finds the conversation of c with a real participant "to" (mu held).
func (c *Contact) session(to string) (*sbSession, *sbPart) {
	for _, id := range sortedKeys(c.s.sessions) {
		ss := c.s.sessions[id]
		var me *sbPart
		other := false
		for _, p := range ss.parts {
			if p.virt == c {
				me = p
			}
			if p.acct.passport == to && p.virt == nil {
				other = true
			}
		}
		if me != nil && other {
			return ss, me
		}
	}
	return nil, nil
}

// open returns the conversation with "to", ringing them if there is none and waiting until
// they answered.
func (c *Contact) open(ctx context.Context, to string) (*sbSession, *sbPart, error) {
	s := c.s
	to = normPassport(to)
	s.mu.Lock()
	me := s.accounts[c.passport]
	callee := s.accounts[to]
	if me == nil || callee == nil {
		s.mu.Unlock()
		return nil, nil, fmt.Errorf("msntest: unknown account %s or %s", c.passport, to)
	}
	if ss, p := c.session(to); ss != nil {
		s.mu.Unlock()
		return ss, p, nil
	}
	if !callee.visible() || !callee.allows(me.passport) {
		s.mu.Unlock()
		return nil, nil, fmt.Errorf("msntest: %s is offline or blocks %s (217)", to, c.passport)
	}
	ss := s.newSession()
	p := &sbPart{acct: me, virt: c}
	ss.parts = append(ss.parts, p)
	s.ring(ss, callee, me)
	joined := ss.joined
	s.mu.Unlock()
	select {
	case <-joined:
		return ss, p, nil
	case <-ctx.Done():
		s.mu.Lock()
		s.leaveSession(ss, p, false)
		s.mu.Unlock()
		return nil, nil, fmt.Errorf("msntest: %s did not answer %s: %w", to, c.passport, ctx.Err())
	case <-s.closed:
		return nil, nil, errors.New("msntest: server closed")
	}
}

// Send sends a raw MSG payload to the conversation with "to", opening it if needed.
func (c *Contact) Send(ctx context.Context, to string, payload []byte) error {
	ss, p, err := c.open(ctx, to)
	if err != nil {
		return err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.touch(ss)
	c.s.deliver(ss, p, payload)
	return nil
}

// Say sends a text message to "to" (RNG to their client first when there is no conversation).
func (c *Contact) Say(ctx context.Context, to, text string) error {
	return c.Send(ctx, to, []byte("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Segoe%20UI; EF=; CO=0; CS=1; PF=0\r\n\r\n"+text))
}

// Typing sends a typing notification to "to".
func (c *Contact) Typing(ctx context.Context, to string) error {
	return c.Send(ctx, to, []byte("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: "+c.passport+"\r\n\r\n\r\n"))
}

// Nudge sends a nudge (datacast ID 1) to "to".
func (c *Contact) Nudge(ctx context.Context, to string) error {
	return c.Send(ctx, to, []byte("MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\nID: 1\r\n\r\n"))
}

// Invite brings third into the conversation with "to" (RNG for a real client, immediate join
// for another scripted contact) and waits until the roster grew.
func (c *Contact) Invite(ctx context.Context, to, third string) error {
	s := c.s
	ss, _, err := c.open(ctx, to)
	if err != nil {
		return err
	}
	s.mu.Lock()
	t := s.accounts[normPassport(third)]
	me := s.accounts[c.passport]
	if t == nil || !t.visible() {
		s.mu.Unlock()
		return fmt.Errorf("msntest: %s is offline (217)", third)
	}
	n := len(ss.parts)
	s.ring(ss, t, me)
	s.mu.Unlock()
	for {
		s.mu.Lock()
		grown := len(ss.parts) > n
		s.mu.Unlock()
		if grown {
			return nil
		}
		if err := sleepCtx(ctx, s, 5); err != nil {
			return fmt.Errorf("msntest: %s did not join: %w", third, err)
		}
	}
}

// Leave leaves the conversation with "to" (the others get BYE).
func (c *Contact) Leave(to string) error {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, p := c.session(normPassport(to))
	if ss == nil {
		return fmt.Errorf("msntest: %s has no conversation with %s", c.passport, to)
	}
	s.leaveSession(ss, p, false)
	return nil
}

// Participants returns the passports in the conversation of c with "to".
func (c *Contact) Participants(to string) []string {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, _ := c.session(normPassport(to))
	if ss == nil {
		return nil
	}
	var out []string
	for _, p := range ss.parts {
		out = append(out, p.acct.passport)
	}
	return out
}
