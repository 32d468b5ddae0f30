package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/puppet"
)

var (
	_ bridgev2.UserSearchingNetworkAPI      = (*Client)(nil)
	_ bridgev2.GroupCreatingNetworkAPI      = (*Client)(nil)
	_ bridgev2.MembershipHandlingNetworkAPI = (*Client)(nil)
)

// maxSearchResults bounds a contact search.
const maxSearchResults = 50

// groupTypeMSN is the only group type: a multi-party switchboard conversation.
const groupTypeMSN = "group"

// SearchUsers finds contacts whose passport or friendly name contains the query.
func (c *Client) SearchUsers(ctx context.Context, query string) ([]*bridgev2.ResolveIdentifierResponse, error) {
	sess, _ := c.session()
	if sess == nil {
		return nil, ErrNotConnected
	}
	q := strings.ToLower(strings.TrimSpace(query))
	if q == "" {
		return nil, nil
	}
	return c.forwardContacts(ctx, sess, maxSearchResults, func(contact ns.Contact) bool {
		name := strings.ToLower(puppet.DecodeFriendlyName(contact.FriendlyName))
		return strings.Contains(strings.ToLower(contact.Passport), q) || strings.Contains(name, q)
	})
}

// CreateGroup starts a multi-party conversation with the given contacts. MSN has no group
// objects: the switchboard opens and calls everyone with the first message.
func (c *Client) CreateGroup(ctx context.Context, params *bridgev2.GroupCreateParams) (*bridgev2.CreateChatResponse, error) {
	_, mgr := c.session()
	if mgr == nil {
		return nil, ErrNotConnected
	}
	if params.Type != "" && params.Type != groupTypeMSN {
		return nil, fmt.Errorf("unknown group type %q", params.Type)
	}
	var passports []string
	seen := map[string]bool{}
	for _, uid := range params.Participants {
		p, ok := c.passportOf(ctx, uid)
		if !ok {
			return nil, fmt.Errorf("unknown contact %s", uid)
		}
		if p != c.meta().Passport && !seen[p] {
			seen[p] = true
			passports = append(passports, p)
		}
	}
	if len(passports) < 2 {
		return nil, errors.New("an MSN group conversation needs at least two other contacts (use start-chat for one)")
	}
	conv := mgr.NewGroup(passports...)
	// The same people as a stored group: that room again, else a new one (see grouproute.go).
	key := c.portalKeyFor(ctx, conv)
	if params.RoomID != "" && c.conn.Bridge != nil {
		// Run in a room the user set up: that room is to become the conversation. When the same
		// people already have a group room, it stays as it is and this room gets a portal of
		// its own (the newest group with a roster is where their next call lands).
		if existing, err := c.conn.Bridge.GetExistingPortalByKey(ctx, key); err != nil {
			return nil, fmt.Errorf("get portal: %w", err)
		} else if existing != nil && existing.MXID != "" && existing.MXID != params.RoomID {
			key.ID = freshGroupPortalID(key.ID)
			c.mu.Lock()
			c.rebindGroupLocked(conv, key.ID)
			c.mu.Unlock()
		}
	}
	for _, p := range passports {
		if err := c.conn.Store.AddGroupMember(ctx, c.login.ID, string(key.ID), p); err != nil {
			return nil, fmt.Errorf("save group roster: %w", err)
		}
	}
	info, err := c.GetChatInfo(ctx, &bridgev2.Portal{Portal: portalRow(key)})
	if err != nil {
		return nil, err
	}
	resp := &bridgev2.CreateChatResponse{PortalKey: key, PortalInfo: info}
	if params.RoomID != "" && c.conn.Bridge != nil {
		// `create-group` is run in the Matrix room to bridge, and bridgev2 names it here: the
		// group portal takes over that room, so that no second room appears and the one the
		// user set up (with the contacts' ghosts in it) is the conversation.
		if resp.Portal, err = c.bindGroupRoom(ctx, key, params.RoomID, info); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// bindGroupRoom makes an existing Matrix room the room of a new group portal and brings its
// members in line with the group (the contacts' ghosts join, the user's own ghost too).
func (c *Client) bindGroupRoom(ctx context.Context, key networkid.PortalKey, roomID id.RoomID, info *bridgev2.ChatInfo) (*bridgev2.Portal, error) {
	p, err := c.conn.Bridge.GetPortalByKey(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("get portal: %w", err)
	}
	// The member sync runs in the background after this call returns; it must outlive the
	// command's context.
	err = p.UpdateMatrixRoomID(context.WithoutCancel(ctx), roomID, bridgev2.UpdateMatrixRoomIDParams{
		FailIfMXIDSet:  true,
		ChatInfo:       info,
		ChatInfoSource: c.login,
	})
	if err != nil {
		return nil, fmt.Errorf("bridge room %s: %w", roomID, err)
	}
	c.log.Info().Stringer("room_id", roomID).Str("portal_id", string(key.ID)).Msg("Bound the room of create-group to the new group portal")
	return p, nil
}

// HandleMatrixMembership invites contacts into group conversations and leaves them. Other
// membership changes have no MSN meaning and are accepted without action. Failures carry a
// visible status.
func (c *Client) HandleMatrixMembership(ctx context.Context, msg *bridgev2.MatrixMembershipChange) (*bridgev2.MatrixMembershipResult, error) {
	res, err := c.handleMembership(ctx, msg)
	return res, visibleErr(err)
}

func (c *Client) handleMembership(ctx context.Context, msg *bridgev2.MatrixMembershipChange) (*bridgev2.MatrixMembershipResult, error) {
	p := msg.Portal
	switch msg.Type {
	case bridgev2.Invite:
		ghost, ok := msg.Target.(*bridgev2.Ghost)
		if !ok {
			return nil, nil
		}
		if !isGroupPortal(p.ID) {
			return nil, statusErr(errors.New("MSN can't add people to a one-to-one chat; start a group with create-group"), event.MessageStatusUnsupported)
		}
		passport, ok := c.passportOf(ctx, ghost.ID)
		if !ok {
			return nil, fmt.Errorf("unknown contact %s", ghost.ID)
		}
		conv, _, err := c.conversationFor(ctx, p)
		if err != nil {
			return nil, err
		}
		if err := conv.Invite(ctx, passport); err != nil {
			return nil, fmt.Errorf("invite %s: %w", passport, err)
		}
		if err := c.conn.Store.AddGroupMember(ctx, c.login.ID, string(p.ID), passport); err != nil {
			return nil, fmt.Errorf("save group roster: %w", err)
		}
	case bridgev2.Leave:
		if !isGroupPortal(p.ID) {
			return nil, nil
		}
		c.mu.Lock()
		conv, ok := c.groupConv[p.ID]
		c.mu.Unlock()
		if ok {
			if err := conv.Leave(); err != nil {
				c.log.Debug().Err(err).Msg("Leaving group switchboard failed")
			}
		}
	}
	return nil, nil
}

// groupCapabilities describes group creation for the provisioning API.
var groupCapabilities = map[string]bridgev2.GroupTypeCapabilities{
	groupTypeMSN: {
		TypeDescription: "MSN group conversation",
		Participants:    bridgev2.GroupFieldCapability{Allowed: true, Required: true, MinLength: 2},
	},
}

// portalRow makes a database portal row for a key (for GetChatInfo before the portal exists).
func portalRow(key networkid.PortalKey) *bridgedb.Portal {
	return &bridgedb.Portal{PortalKey: key}
}
