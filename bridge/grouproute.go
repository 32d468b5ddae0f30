package bridge

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"

	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/msnbridge/msnbridge/msn/sb"
)

// A group conversation lands in the same portal whenever it has the same people, whichever
// switchboard carries it: after an NS reconnect, a switchboard re-open or a bridge restart. A
// conversation the client has not bound yet is bound to the stored group portal of this login
// whose roster is exactly its participants; when there is none, to the portal whose id is
// derived from the sorted participants, so even a lost roster converges on one room.

// groupPortalID is the deterministic portal id of a group with these participants (lower-case
// passports without the user). It holds no "@", so it never equals a ghost id of a passport.
func groupPortalID(participants []string) networkid.PortalID {
	sum := sha256.Sum256([]byte(strings.Join(participants, "\n")))
	return networkid.PortalID(groupPrefix + "h" + hex.EncodeToString(sum[:16]))
}

// freshGroupPortalID is a new portal id for a group whose deterministic id is taken by a room
// of the same people: base plus a random suffix.
func freshGroupPortalID(base networkid.PortalID) networkid.PortalID {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return networkid.PortalID(string(base) + "." + hex.EncodeToString(b[:]))
}

// groupRoster is the sorted, distinct, lower-case passports of a conversation's participants
// other than the user.
func (c *Client) groupRoster(conv *sb.Conversation) []string {
	self := strings.ToLower(c.meta().Passport)
	seen := map[string]bool{}
	var out []string
	for _, p := range conv.Participants() {
		passport := strings.ToLower(p.Passport)
		if passport == "" || passport == self || seen[passport] {
			continue
		}
		seen[passport] = true
		out = append(out, passport)
	}
	sort.Strings(out)
	return out
}

// portalKeyFor routes a conversation: one-to-one → the contact's DM portal; multi-party → the
// group portal bound to it, or the one its participants already have (see above).
func (c *Client) portalKeyFor(ctx context.Context, conv *sb.Conversation) networkid.PortalKey {
	if !conv.IsGroup() {
		return c.dmKey(conv.Peer())
	}
	c.mu.Lock()
	id, ok := c.convGroup[conv]
	c.mu.Unlock()
	if !ok {
		id = c.bindGroup(conv, c.findGroupPortal(ctx, conv))
	}
	return networkid.PortalKey{ID: id, Receiver: c.login.ID}
}

// findGroupPortal picks the portal of a conversation not bound yet.
func (c *Client) findGroupPortal(ctx context.Context, conv *sb.Conversation) networkid.PortalID {
	roster := c.groupRoster(conv)
	if len(roster) == 0 {
		// Nobody to match by: a portal of this conversation alone.
		return networkid.PortalID(groupPrefix + conv.ID())
	}
	if c.conn.Store != nil {
		id, err := c.conn.Store.GroupByRoster(ctx, c.login.ID, roster)
		if err != nil {
			c.log.Err(err).Msg("Failed to look up the group portal of a conversation")
		} else if id != "" {
			return networkid.PortalID(id)
		}
	}
	id := groupPortalID(roster)
	if c.conn.Store != nil {
		// The deterministic portal may keep a roster from an earlier conversation: it is now this one.
		if err := c.conn.Store.SetGroupMembers(ctx, c.login.ID, string(id), roster); err != nil {
			c.log.Err(err).Msg("Failed to save group roster")
		}
	}
	return id
}

// bindGroup binds a live conversation to a group portal (the first binding of a conversation
// wins) and returns the portal the conversation is bound to.
func (c *Client) bindGroup(conv *sb.Conversation, id networkid.PortalID) networkid.PortalID {
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.convGroup[conv]; ok {
		return prev
	}
	c.sweepGroupsLocked()
	c.rebindGroupLocked(conv, id)
	return id
}

// rebindGroupLocked makes conv the live conversation of portal id, dropping the bindings either
// had before; c.mu is held.
func (c *Client) rebindGroupLocked(conv *sb.Conversation, id networkid.PortalID) {
	if old, ok := c.groupConv[id]; ok && old != conv {
		delete(c.convGroup, old)
	}
	if prev, ok := c.convGroup[conv]; ok && prev != id {
		delete(c.groupConv, prev)
	}
	c.convGroup[conv] = id
	c.groupConv[id] = conv
}

// groupConversationID is the switchboard conversation id a group portal restores its
// conversation under, so that invitations with the same people are routed to it.
func groupConversationID(id networkid.PortalID) string {
	return strings.TrimPrefix(string(id), groupPrefix)
}
