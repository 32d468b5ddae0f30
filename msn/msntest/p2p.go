package msntest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/msnbridge/msnbridge/msn/p2p"
	"github.com/msnbridge/msnbridge/msn/wire"
)

// contactP2P is a scripted contact's P2P side: the responder that serves its display
// picture and runs its file transfers, and the frames waiting to be answered, in order, by one
// goroutine.
type contactP2P struct {
	r  *p2p.Responder
	in chan Message
}

// FilePolicy says what a scripted contact does with the files offered to it.
type FilePolicy int

// File policies of a scripted contact.
const (
	// FilesDecline answers every file offer with 603 Decline (the default once P2P runs).
	FilesDecline FilePolicy = iota
	// FilesAccept accepts every offer and records the file (ReceivedFiles).
	FilesAccept
	// FilesHold answers no offer until the policy changes (as a user who has not clicked yet),
	// then answers the held offers by the new policy. The contact's other P2P traffic waits
	// meanwhile.
	FilesHold
)

// ReceivedFile is a file offered to a scripted contact that accepted it.
type ReceivedFile struct {
	From   string `json:"from"`
	Name   string `json:"name"`
	Size   uint64 `json:"size"`
	Got    uint64 `json:"received"`
	SHA256 string `json:"sha256"`          // hex, of the bytes received
	Error  string `json:"error,omitempty"` // why the transfer failed; "" when complete
}

// ensureP2P starts the contact's P2P side once: a responder serving its display picture (if
// any) and deciding on file offers by its FilePolicy.
func (c *Contact) ensureP2P() *contactP2P {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p2p != nil {
		return c.p2p
	}
	r := p2p.NewSessionResponder(c.passport, "", p2p.SessionConfig{
		Objects: func(sha1d string) ([]byte, bool) {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.picture, c.pictureObj != nil && sha1d == c.pictureObj.SHA1D
		},
		AcceptFile: c.acceptFile,
	})
	c.p2p = &contactP2P{r: r, in: make(chan Message, 4096)}
	go c.runP2P(c.p2p)
	return c.p2p
}

// ServeDisplayPicture gives the scripted contact a display picture (data, e.g. a PNG): its
// presence (NLN/ILN) carries the returned MSNObject from its next sign-in or status change
// on, and it answers clients' requests for the picture over P2P on the switchboard like a
// real client (ACK, 200 OK, data preparation, data), declining other invitations unless its
// FilePolicy accepts files. Requests count in Contact.P2PRequests.
func (c *Contact) ServeDisplayPicture(data []byte) (*p2p.MSNObject, error) {
	obj := p2p.NewMSNObject(c.passport, p2p.ObjectDisplayPicture, data, "", "")
	err := c.s.withAccounts(func(acc ...*Account) error {
		acc[0].msnobj = wire.EncodeParam(obj.String())
		return nil
	}, c.passport)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.picture, c.pictureObj = append([]byte(nil), data...), obj
	c.mu.Unlock()
	c.ensureP2P()
	return obj, nil
}

// SetFilePolicy sets what the contact does with files offered to it from now on.
func (c *Contact) SetFilePolicy(p FilePolicy) {
	c.mu.Lock()
	c.filePolicy = p
	if p != FilesHold && c.held != nil {
		close(c.held)
		c.held = nil
	}
	c.mu.Unlock()
	c.ensureP2P()
}

// ReceivedFiles returns the files the contact accepted whose transfer ended, in order.
func (c *Contact) ReceivedFiles() []ReceivedFile {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ReceivedFile(nil), c.files...)
}

// hashSink counts and hashes what it is given.
type hashSink struct {
	h hash.Hash
	n uint64
}

func (s *hashSink) Write(b []byte) (int, error) {
	s.n += uint64(len(b))
	return s.h.Write(b)
}

// acceptFile is the responder's AcceptFile: by the FilePolicy, a hashing sink, recorded in
// ReceivedFiles when the transfer ends.
func (c *Contact) acceptFile(t *p2p.Transfer) io.Writer {
	c.mu.Lock()
	policy := c.filePolicy
	for policy == FilesHold {
		if c.held == nil {
			c.held = make(chan struct{})
		}
		held := c.held
		c.mu.Unlock()
		select {
		case <-held:
		case <-c.s.closed:
			return nil
		}
		c.mu.Lock()
		policy = c.filePolicy
	}
	c.mu.Unlock()
	if policy != FilesAccept {
		return nil
	}
	s := &hashSink{h: sha256.New()}
	go func() {
		select {
		case <-t.Done():
		case <-c.s.closed:
			return
		}
		rf := ReceivedFile{From: t.Peer, Name: t.File.Name, Size: t.File.Size, Got: s.n, SHA256: hex.EncodeToString(s.h.Sum(nil))}
		if err := t.Err(); err != nil {
			rf.Error = err.Error()
		}
		c.mu.Lock()
		c.files = append(c.files, rf)
		c.mu.Unlock()
	}()
	return s
}

// SendFile offers the logged-in client "to" a file named name holding data, like a real
// client (MSNSLP INVITE with the file context, then 1202-byte chunks once accepted), and
// waits until the client acknowledged the data (nil), declined (an error wrapping
// p2p.ErrDeclined), cancelled (p2p.ErrClosed), or ctx ended.
func (c *Contact) SendFile(ctx context.Context, to, name string, data []byte) error {
	to = normPassport(to)
	cp := c.ensureP2P()
	t, frames, err := cp.r.OfferFile(to, p2p.FileInfo{Name: name, Size: uint64(len(data))})
	if err != nil {
		return err
	}
	fail := func(err error) error {
		c.sendFrames(ctx, to, cp.r.CancelTransfer(t, err))
		if e := t.Err(); e != nil && !errors.Is(e, err) {
			return e
		}
		return err
	}
	if err := c.sendFrames(ctx, to, frames); err != nil {
		return fail(err)
	}
	select {
	case <-t.Accepted():
	case <-t.Done():
		return t.Err()
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	for off := 0; off == 0 || off < len(data); off += p2p.MaxChunk {
		select {
		case <-t.Done():
			return t.Err()
		default:
		}
		f := cp.r.FileChunk(t, uint64(off), data[off:min(off+p2p.MaxChunk, len(data))])
		if err := c.sendFrames(ctx, to, []p2p.Frame{f}); err != nil {
			return fail(err)
		}
		if len(data) == 0 {
			break
		}
	}
	select {
	case <-t.Done():
		return t.Err()
	case <-ctx.Done():
		return fail(ctx.Err())
	}
}

// sendFrames sends P2P frames to "to" on the contact's conversation with them.
func (c *Contact) sendFrames(ctx context.Context, to string, frames []p2p.Frame) error {
	for _, f := range frames {
		payload, err := p2p.MessagePayload(f.Dest, f.Data)
		if err != nil {
			return err
		}
		if err := c.Send(ctx, to, payload); err != nil {
			return fmt.Errorf("msntest: sending P2P to %s: %w", to, err)
		}
	}
	return nil
}

// reply sends P2P frames answering m on the switchboard m came in on, as real clients do (the
// sender's P2P state may be tied to that conversation). When that switchboard is gone, an ACK
// goes nowhere (it acknowledges a frame of a switchboard the sender left, e.g. its BYE; ringing
// the sender again for it would open a switchboard nobody wants), and an SLP answer or data
// goes on another conversation with m's sender, as a real client sends them.
func (c *Contact) reply(ctx context.Context, m Message, frames []p2p.Frame) {
	for _, f := range frames {
		payload, err := p2p.MessagePayload(f.Dest, f.Data)
		if err != nil {
			continue
		}
		c.s.mu.Lock()
		ss := c.s.sessions[m.Session]
		var me *sbPart
		if ss != nil {
			for _, p := range ss.parts {
				if p.virt == c {
					me = p
				}
			}
		}
		if me != nil {
			c.s.touch(ss)
			c.s.deliver(ss, me, payload)
			c.s.mu.Unlock()
			continue
		}
		c.s.mu.Unlock()
		if f.Ack {
			continue
		}
		_ = c.Send(ctx, m.From, payload)
	}
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
		out, err := cp.r.Handle(m.From, headerValue(m.Payload, "P2P-Dest"), headerValue(m.Payload, "P2P-Src"), m.Payload[i+4:])
		if err != nil {
			continue
		}
		if out.Served {
			c.mu.Lock()
			c.p2pServed++
			c.mu.Unlock()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c.reply(ctx, m, out.Replies)
		cancel()
	}
}

// FetchDisplayPicture fetches the display picture of the signed-in account "from" (the
// MSNObject its last CHG announced) over P2P on a switchboard, like a real client fetching a
// contact's picture (MSNSLP INVITE, then the data), and returns the data once it matches the
// object's size and SHA1D. It fails when from announced no picture, declines, or ctx ends
// (the session is then closed with BYE).
func (c *Contact) FetchDisplayPicture(ctx context.Context, from string) ([]byte, error) {
	from = normPassport(from)
	var encoded string
	if err := c.s.withAccounts(func(acc ...*Account) error {
		encoded = acc[0].msnobj
		return nil
	}, from); err != nil {
		return nil, err
	}
	xml := wire.DecodeParam(encoded)
	if xml == "" || xml == "0" || xml == wire.DecodeParam(emptyMsnObj) {
		return nil, fmt.Errorf("msntest: %s announced no display picture", from)
	}
	obj, err := p2p.ParseMSNObject(xml)
	if err != nil {
		return nil, fmt.Errorf("msntest: %s's MSNObject: %w", from, err)
	}
	cp := c.ensureP2P()
	f, frames, err := cp.r.Fetch(from, obj)
	if err != nil {
		return nil, err
	}
	bye := func(cause error) {
		bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.sendFrames(bctx, from, cp.r.Cancel(f, cause))
	}
	if err := c.sendFrames(ctx, from, frames); err != nil {
		bye(err)
		return nil, err
	}
	select {
	case <-f.Done():
	case <-ctx.Done():
		bye(ctx.Err())
	}
	return f.Result()
}
