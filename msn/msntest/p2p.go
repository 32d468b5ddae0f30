package msntest

import (
	"context"
	"strings"
	"time"

	"github.com/msnbridge/msnbridge/msn/p2p"
	"github.com/msnbridge/msnbridge/msn/wire"
)

// contactP2P is a scripted contact's P2P side: the responder that serves its display
// picture, and the frames waiting to be answered, in order, by one goroutine.
type contactP2P struct {
	r  *p2p.Responder
	in chan Message
}

// ServeDisplayPicture gives the scripted contact a display picture (data, e.g. a PNG): its
// presence (NLN/ILN) carries the returned MSNObject from its next sign-in or status change
// on, and it answers clients' requests for the picture over P2P on the switchboard like a
// real client (ACK, 200 OK, data preparation, data), declining other invitations. Requests
// count in Contact.P2PRequests.
func (c *Contact) ServeDisplayPicture(data []byte) (*p2p.MSNObject, error) {
	obj := p2p.NewMSNObject(c.passport, p2p.ObjectDisplayPicture, data, "", "")
	pic := append([]byte(nil), data...)
	err := c.s.withAccounts(func(acc ...*Account) error {
		acc[0].msnobj = wire.EncodeParam(obj.String())
		return nil
	}, c.passport)
	if err != nil {
		return nil, err
	}
	r := p2p.NewSessionResponder(c.passport, "", p2p.SessionConfig{Objects: func(sha1d string) ([]byte, bool) {
		return pic, sha1d == obj.SHA1D
	}})
	c.mu.Lock()
	start := c.p2p == nil
	if start {
		c.p2p = &contactP2P{in: make(chan Message, 1024)}
	}
	c.p2p.r = r
	cp := c.p2p
	c.mu.Unlock()
	if start {
		go c.runP2P(cp)
	}
	return obj, nil
}

// P2PRequests returns how many display-picture requests the contact served.
func (c *Contact) P2PRequests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.p2pServed
}

// offerP2P hands a received P2P message to the contact's responder. It is called with the
// server's lock held, so it never blocks.
func (c *Contact) offerP2P(m Message) {
	c.mu.Lock()
	cp := c.p2p
	c.mu.Unlock()
	if cp == nil || !strings.Contains(strings.ToLower(m.ContentType), "application/x-msnmsgrp2p") {
		return
	}
	select {
	case cp.in <- m:
	default: // a flood: drop, as a busy client would
	}
}

// runP2P answers the contact's P2P messages one at a time until the server closes.
func (c *Contact) runP2P(cp *contactP2P) {
	for {
		var m Message
		select {
		case m = <-cp.in:
		case <-c.s.closed:
			return
		}
		i := strings.Index(string(m.Payload), "\r\n\r\n")
		if i < 0 {
			continue
		}
		c.mu.Lock()
		r := cp.r
		c.mu.Unlock()
		out, err := r.Handle(m.From, headerValue(m.Payload, "P2P-Dest"), headerValue(m.Payload, "P2P-Src"), m.Payload[i+4:])
		if err != nil {
			continue
		}
		if out.Served {
			c.mu.Lock()
			c.p2pServed++
			c.mu.Unlock()
		}
		for _, f := range out.Replies {
			payload, err := p2p.MessagePayload(f.Dest, f.Data)
			if err != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = c.Send(ctx, m.From, payload)
			cancel()
		}
	}
}
