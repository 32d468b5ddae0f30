package bridge

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/msn/p2p"
	"github.com/msnbridge/msnbridge/msn/sb"
)

// Switchboard connections are sessions of their own: the server keeps them when the NS
// connection drops (its NS teardown only updates presence), so the client keeps ONE
// sb.Manager from the start of its connection loop to its end. A reconnect of the NS does not
// make contacts see the user leave every chat; only logout, Disconnect or the end of the loop
// (bad credentials, signed in elsewhere) close the switchboards.

// nsRelay is the manager's view of the NS: it forwards to whichever NS session is current.
type nsRelay struct {
	c        *Client
	passport string
	version  atomic.Int64 // version of the latest session (switchboard identities change at 16)
}

// Passport is the account's e-mail address.
func (r *nsRelay) Passport() string { return r.passport }

// Version is the MSNP version of the current session, or of the last one while reconnecting.
func (r *nsRelay) Version() int {
	if sess, _ := r.c.session(); sess != nil {
		return sess.Version()
	}
	return int(r.version.Load())
}

// RequestSwitchboard asks the current NS session for a switchboard; ErrNotConnected while
// there is none.
func (r *nsRelay) RequestSwitchboard(ctx context.Context) (sb.Ticket, error) {
	sess, _ := r.c.session()
	if sess == nil {
		return sb.Ticket{}, ErrNotConnected
	}
	t, err := sess.RequestSwitchboard(ctx)
	return sb.Ticket(t), err
}

// newSwitchboards makes the switchboard manager of one run of the connection loop.
func (c *Client) newSwitchboards(sess *ns.Session) *sb.Manager {
	meta := c.meta()
	relay := &nsRelay{c: c, passport: strings.ToLower(meta.Passport)}
	relay.version.Store(int64(meta.ProtocolVersion))
	if sess != nil {
		relay.passport = strings.ToLower(sess.Passport())
		relay.version.Store(int64(sess.Version()))
	}
	c.relay = relay
	return sb.NewManager(relay, sb.Config{
		MachineGUID: meta.MachineGUID,
		IdleTimeout: c.conn.Config.switchboardIdle,
		Logger:      c.log.With().Str("component", "msn sb").Logger(),
		OnEvent:     c.pushSBEvent,
		// MSNP11 and older carry no capabilities in JOI/IRO: the NS presence tells whether a
		// contact's client reassembles chunked messages (a long text then arrives whole).
		Capabilities: c.contactCaps,
		// The user's display picture is served to contacts who ask for it (ownpicture.go).
		// Files from contacts are accepted up to network.max_file_size and posted to Matrix
		// (files.go).
		P2P:        p2p.SessionConfig{Objects: c.ownObject, MaxFileSize: c.maxFileSize()},
		AcceptFile: c.acceptFile,
	})
}

// contactCaps is the client-capabilities number the NS reported for a contact (the first
// field of NLN/ILN's capabilities; MSNP16+ adds ":extended"), false when unknown.
func (c *Client) contactCaps(passport string) (uint32, bool) {
	sess, _ := c.session()
	if sess == nil {
		return 0, false
	}
	contact, ok := sess.Contact(passport)
	if !ok {
		return 0, false
	}
	return parseCaps(contact.Caps)
}

// parseCaps reads "2788999228" or "2788999228:48" (MSNP16+) as the basic capabilities.
func parseCaps(s string) (uint32, bool) {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}

// closeSwitchboards closes the manager of a loop run that ended, and forgets its conversations.
func (c *Client) closeSwitchboards(mgr *sb.Manager) {
	c.mu.Lock()
	if c.sbm == mgr {
		c.sbm = nil
		c.forgetConversationsLocked()
	}
	c.mu.Unlock()
	if mgr != nil {
		_ = mgr.Close()
	}
}

// Invitations (RNG) that arrive while there is no switchboard manager (the loop has ended, or
// has not started its manager yet) wait for the next one, up to the lifetime of their cookie.
const (
	maxHeldInvites = 32
	heldInviteTTL  = 110 * time.Second // RNG cookies live 120 s
)

type heldInvite struct {
	inv sb.Invitation
	at  time.Time
}

// switchboardInvite answers an invitation, or holds it until a manager exists.
func (c *Client) switchboardInvite(inv sb.Invitation) {
	c.mu.Lock()
	mgr := c.sbm
	if mgr == nil {
		if len(c.heldInvites) >= maxHeldInvites {
			c.heldInvites = c.heldInvites[1:]
		}
		c.heldInvites = append(c.heldInvites, heldInvite{inv: inv, at: time.Now()})
		c.mu.Unlock()
		c.log.Debug().Str("inviter", inv.Inviter).Msg("Holding switchboard invitation until the switchboard manager exists")
		return
	}
	c.mu.Unlock()
	mgr.HandleInvite(inv)
}

// answerHeldInvitesLocked answers the invitations held while there was no manager; c.mu is held.
func (c *Client) answerHeldInvitesLocked(mgr *sb.Manager) {
	held := c.heldInvites
	c.heldInvites = nil
	for _, h := range held {
		if time.Since(h.at) < heldInviteTTL {
			mgr.HandleInvite(h.inv)
		}
	}
}

// forgetConversationsLocked drops the portal bindings of the conversations of a closed
// manager; c.mu is held.
func (c *Client) forgetConversationsLocked() {
	clear(c.groupConv)
	clear(c.convGroup)
}
