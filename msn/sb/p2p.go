package sb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/p2p"
)

// SendP2P sends one P2P frame (a P2Pv1 packet: header, data, footer; see package p2p) to the
// participant to — their e-mail, as the P2P-Dest header names it — as an
// application/x-msnmsgrp2p message with ack type D, on the conversation's switchboard. It
// returns at once like Send; the Result ends Delivered when the server acknowledged the MSG.
func (c *Conversation) SendP2P(ctx context.Context, to string, frame []byte) *Result {
	payload, err := p2p.MessagePayload(to, frame)
	if err != nil {
		res := newResult(1)
		res.resolve(Failed, err)
		return res
	}
	return c.Send(ctx, Outgoing{Kind: OutRaw, Payload: payload, Ack: AckData})
}

// p2pState is the conversation's P2P responder, made on first use.
type p2pState struct {
	once sync.Once
	r    *p2p.Responder
	// sendMu is held while a frame is handled and its replies are queued, so that a fetch
	// that ended sees the replies (the data's ACK, BYE) queued; last is the Result of the
	// last reply queued for one of our sessions.
	sendMu sync.Mutex
	last   *Result
}

func (ps *p2pState) responder(c *Conversation) *p2p.Responder {
	ps.once.Do(func() {
		cfg := c.m.cfg.P2P
		if accept := c.m.cfg.AcceptFile; accept != nil {
			cfg.AcceptFile = func(t *p2p.Transfer) io.Writer { return accept(c, t) }
		}
		ps.r = p2p.NewSessionResponder(c.m.self(), c.p2pEndpoint(), cfg)
	})
	return ps.r
}

// handleP2P runs an incoming P2P frame through the conversation's responder: the answers and
// data of our fetches, requests for our own display picture (served), and every invitation
// the client cannot serve (file transfers, direct-connection requests), answered with an ACK
// and 603 Decline at once so the sender's transfer ends instead of hanging until the
// switchboard idles out. It reports false for a frame addressed to another participant or to
// another endpoint of this account, which must be ignored entirely, and for a frame of one of
// our own sessions, which is nobody else's business.
func (c *Conversation) handleP2P(s *switchboard, from Participant, m *message.P2P) bool {
	if m == nil || from.Passport == c.m.self() {
		return m == nil || m.Dest == "" || p2pForUs(c, m.Dest)
	}
	c.p2p.sendMu.Lock()
	defer c.p2p.sendMu.Unlock()
	out, err := c.p2p.responder(c).Handle(from.Passport, m.Dest, m.Src, m.Data)
	switch {
	case errors.Is(err, p2p.ErrP2Pv2):
		c.log.Info().Str("from", from.Passport).Msg("dropping a P2Pv2 packet: only P2Pv1 is spoken")
	case err != nil:
		c.log.Debug().Err(err).Str("from", from.Passport).Msg("unusable P2P frame")
	}
	switch {
	case out.Served:
		c.log.Debug().Str("from", from.Passport).Msg("serving our display picture")
	case out.Declined && out.Session:
		c.log.Debug().Str("from", from.Passport).Msg("declining a request for our display picture: too many being served")
	}
	if out.File != nil {
		c.log.Debug().Str("from", from.Passport).Uint64("size", out.File.File.Size).Msg("accepted a file transfer")
		go c.watchTransfer(out.File)
	}
	if res := c.sendFrames(c.m.ctx, s, out.Replies); res != nil && out.Session {
		c.p2p.last = res
	}
	if out.NotForUs || out.Session {
		return false
	}
	if out.Declined {
		c.log.Debug().Str("from", from.Passport).Str("call_id", out.SLP.CallID()).Msg("declining a P2P invitation the bridge cannot serve")
	}
	return true
}

// sendFrames queues P2P frames on the conversation and returns the Result of the last one (nil
// when there is none). With s, the ACKs among them are bound to s, the switchboard whose
// frames they acknowledge (sendBound).
func (c *Conversation) sendFrames(ctx context.Context, s *switchboard, frames []p2p.Frame) *Result {
	var last *Result
	for _, f := range frames {
		if f.Ack && s != nil {
			last = c.sendBound(s, f)
		} else {
			last = c.SendP2P(ctx, f.Dest, f.Data)
		}
	}
	return last
}

// sendBound sends P2P frame f on switchboard s only, the one whose frame it acknowledges: it is
// dropped when s is closing or ends before the server acknowledged it.
// An ACK re-sent elsewhere would acknowledge nothing the peer still waits for (the ACK of a
// BYE, typically, after the peer left), and opening a switchboard for it would cross the
// peer's next one.
func (c *Conversation) sendBound(s *switchboard, f p2p.Frame) *Result {
	res := newResult(1)
	payload, err := p2p.MessagePayload(f.Dest, f.Data)
	if err != nil {
		res.resolve(Failed, err)
		return res
	}
	p := &part{res: res, conv: c, ack: AckData, payload: payload, bound: s}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed && !c.m.isClosed() && c.active != s {
		// Replaced but still open (it waits for its last ACKs): the ACK goes there directly;
		// once closing, it is dropped.
		res.arm(c.m.ctx, c.m.cfg.SendTimeout)
		if err := s.sendPart(p, nil); errors.Is(err, errNotSent) {
			res.resolve(Failed, fmt.Errorf("%w: the switchboard of the acknowledged frame ended", ErrNotConnected))
		}
		return res
	}
	// On the live switchboard, in order with what is queued (flushLocked keeps a part bound to
	// another switchboard from going elsewhere).
	c.enqueueLocked(c.m.ctx, res, []*part{p})
	return res
}

// p2pBusy reports whether a P2P session of the conversation is in progress: a file transfer
// either way, a display-picture fetch or one being served.
func (c *Conversation) p2pBusy() bool {
	r := c.p2p.responder(c)
	return r.Transfers() > 0 || r.Fetches() > 0 || r.Serves() > 0
}

// p2pEndpoint is this client's endpoint in P2P addresses: its machine GUID on MSNP16+, ""
// before.
func (c *Conversation) p2pEndpoint() string {
	if c.m.ns.Version() >= 16 {
		return c.m.cfg.MachineGUID
	}
	return ""
}

// p2pForUs reports whether a P2P-Dest names this client (bare, or with our own endpoint).
func p2pForUs(c *Conversation, dest string) bool {
	return p2p.AddressedTo(dest, c.m.self(), c.p2pEndpoint())
}

// FetchObject fetches obj — a contact's display picture or other MSNObject — from its creator
// over this one-to-one conversation (MSNSLP over P2Pv1 on the switchboard, FACTS §9.3),
// opening a switchboard when needed. It returns the data once it matches the object's Size
// and SHA1D. It fails when the contact declines or is offline, when the data breaks the
// bounds of Config.P2P, and when ctx ends or Config.P2P.SessionTimeout passes (the session
// is then closed with BYE). Errors wrap those of package p2p (ErrDeclined, ErrBusy, …).
func (c *Conversation) FetchObject(ctx context.Context, obj *p2p.MSNObject) ([]byte, error) {
	if c.group {
		return nil, errors.New("msn: display pictures are fetched over a one-to-one conversation")
	}
	if obj == nil || !strings.EqualFold(obj.Creator, c.peer) {
		return nil, fmt.Errorf("msn: object of %q fetched from %s", objCreator(obj), c.peer)
	}
	timeout := c.m.cfg.P2P.SessionTimeout
	if timeout <= 0 {
		timeout = p2p.DefaultSessionTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	opened := !c.Connected()
	r := c.p2p.responder(c)
	f, frames, err := r.Fetch(c.peer, obj)
	if err != nil {
		return nil, fmt.Errorf("msn: fetching %s's picture: %w", c.peer, err)
	}
	if o, err := c.sendFrames(ctx, nil, frames).Wait(ctx); o != Delivered {
		r.Cancel(f, fmt.Errorf("invitation not delivered: %w", err))
		return nil, fmt.Errorf("msn: fetching %s's picture: invitation %s: %w", c.peer, o, err)
	}
	select {
	case <-f.Done():
	case <-ctx.Done():
		c.sendFrames(c.m.ctx, nil, r.Cancel(f, ctx.Err()))
	}
	data, err := f.Result()
	if err != nil {
		return nil, fmt.Errorf("msn: fetching %s's picture: %w", c.peer, err)
	}
	if opened {
		c.releaseAfterFetch(ctx)
	}
	return data, nil
}

// releaseAfterFetch closes the switchboard that a fetch opened, once the fetch's last
// replies (the data's ACK, BYE) went out, unless something else uses it by then (a message
// queued or in flight, events other than joins and leaves waiting): fetching the pictures of
// many contacts must not leave a switchboard open per contact until each idles out.
func (c *Conversation) releaseAfterFetch(ctx context.Context) {
	c.p2p.sendMu.Lock()
	last := c.p2p.last
	c.p2p.sendMu.Unlock()
	if last != nil {
		if o, err := last.Wait(ctx); o != Delivered {
			c.log.Debug().Err(err).Stringer("outcome", o).Msg("keeping the switchboard of a fetch: its last frame was not delivered")
			return
		}
	}
	if r := c.p2p.responder(c); r.Fetches() > 0 || r.Transfers() > 0 {
		c.log.Debug().Msg("keeping the switchboard of a fetch: another P2P session uses it")
		return // another picture or a file is still on its way over this switchboard
	}
	c.mu.Lock()
	s := c.active
	if s == nil {
		c.mu.Unlock()
		return // it ended already
	}
	// Events that only tell who joined or left (the peer joining this very switchboard, say)
	// do not count: a consumer slow to take them would keep every fetch's switchboard open.
	inflight, queued, paused, events := s.busy(), len(c.queue) > 0, s.paused.Load(), c.usePending()
	if inflight || queued || paused || events {
		c.mu.Unlock()
		c.log.Debug().Bool("in_flight", inflight).Bool("queued", queued).Bool("paused", paused).Bool("events", events).
			Msg("keeping the switchboard of a fetch: it is in use")
		return
	}
	c.active = nil
	c.stopIdleLocked()
	c.mu.Unlock()
	c.log.Debug().Msg("closing the switchboard opened for a display picture")
	s.leave()
	c.m.emit(&ClosedEvent{Conv: c, Idle: true})
}

func objCreator(o *p2p.MSNObject) string {
	if o == nil {
		return ""
	}
	return o.Creator
}

// FetchObject fetches a contact's MSNObject (display picture) from its creator: see
// Conversation.FetchObject.
func (m *Manager) FetchObject(ctx context.Context, obj *p2p.MSNObject) ([]byte, error) {
	if obj == nil {
		return nil, errors.New("msn: no object to fetch")
	}
	return m.Conversation(strings.ToLower(obj.Creator)).FetchObject(ctx, obj)
}
