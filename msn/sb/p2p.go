package sb

import (
	"context"
	"errors"
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
}

func (ps *p2pState) responder(c *Conversation) *p2p.Responder {
	ps.once.Do(func() {
		endpoint := ""
		if c.m.ns.Version() >= 16 {
			endpoint = c.m.cfg.MachineGUID
		}
		ps.r = p2p.NewResponder(c.m.self(), endpoint)
	})
	return ps.r
}

// handleP2P answers an incoming P2P frame that the client cannot serve (every invitation: file
// transfers, requests for our display picture, direct-connection requests) with an ACK and
// 603 Decline at once, so the sender's transfer ends instead of hanging until the switchboard
// idles out. It reports false for a frame addressed to another participant or to another
// endpoint of this account, which must be ignored entirely.
func (c *Conversation) handleP2P(from Participant, m *message.P2P) bool {
	if m == nil || from.Passport == c.m.self() {
		return m == nil || m.Dest == "" || p2pForUs(c, m.Dest)
	}
	out, err := c.p2p.responder(c).Handle(from.Passport, m.Dest, m.Src, m.Data)
	switch {
	case errors.Is(err, p2p.ErrP2Pv2):
		c.log.Info().Str("from", from.Passport).Msg("dropping a P2Pv2 packet: only P2Pv1 is spoken")
	case err != nil:
		c.log.Debug().Err(err).Str("from", from.Passport).Msg("unusable P2P frame")
	}
	if out.NotForUs {
		return false
	}
	if out.Declined {
		c.log.Debug().Str("from", from.Passport).Str("call_id", out.SLP.CallID()).Msg("declining a P2P invitation the bridge cannot serve")
	}
	for _, f := range out.Replies {
		c.SendP2P(c.m.ctx, f.Dest, f.Data)
	}
	return true
}

// p2pForUs reports whether a P2P-Dest names this client (bare, or with our own endpoint).
func p2pForUs(c *Conversation, dest string) bool {
	email, guid := p2p.SplitAddress(dest)
	if email != c.m.self() {
		return false
	}
	if guid == "" {
		return true
	}
	_, own := p2p.SplitAddress(";" + c.m.cfg.MachineGUID)
	return c.m.ns.Version() >= 16 && guid == own
}
