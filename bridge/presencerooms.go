package bridge

import (
	"context"
	"fmt"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/msnbridge/msnbridge/puppet"
)

// Presence is pushed only for ghosts that share a room with a bridged Matrix user (Synapse
// shows a user's presence only to users it shares a room with; see puppet.PusherConfig's
// RequireRoom). The rooms of a login are its portals with a Matrix room: a DM portal holds
// its contact's ghost, a group portal the ghosts of its stored roster. The pusher learns them:
//   - at the login's first connect, from the database in one query (loadPresenceRooms);
//   - when a portal's room is created or its info is synced (the ChatInfo of dmInfo and
//     GetChatInfo carries a hook that bridgev2 runs in UpdateInfo, which it calls before creating
//     a room and on every resync);
//   - when a contact joins or leaves a group room (the member change's post-handle hook);
//   - when the login logs out (all its rooms go).
// bridgev2 does not tell the network connector about portals deleted by its own commands or by a
// tombstone: such a room keeps counting until the bridge restarts. A room the Matrix user left
// keeps its portal, so it keeps counting too. Both err on the side of refreshing a ghost nobody
// sees, as every ghost was before, never of hiding one.

// roomCreateWait bounds how long the hook waits for a room being created when it runs before
// the creation (the room is usually there within seconds).
const roomCreateWait = 10 * time.Minute

// roomPresence returns the pusher when presence is bridged, else nil.
func (c *Connector) roomPresence() *puppet.Pusher {
	if c.presence == nil || !c.Config.BridgePresence {
		return nil
	}
	return c.presence
}

// presenceRoomsQuery lists the ghosts of a login's portals that have a Matrix room: one row per
// DM portal (its id is the contact's ghost id) and one per roster entry of a group portal.
const presenceRoomsQuery = `
	SELECT p.id, COALESCE(m.passport, '')
	FROM portal p LEFT JOIN msn_group_member m
		ON m.bridge_id=p.bridge_id AND m.login_id=p.receiver AND m.group_id=p.id
	WHERE p.bridge_id=$1 AND p.receiver=$2 AND p.mxid IS NOT NULL AND p.mxid<>''`

// loadPresenceRooms tells the pusher the rooms of this login's stored portals, once per client
// (the hooks keep them current afterwards); a load that failed is tried again at the next
// connect. It runs on the NS lane, so two loads never overlap.
func (c *Client) loadPresenceRooms(ctx context.Context) {
	pusher := c.conn.roomPresence()
	if pusher == nil || c.conn.Store == nil || c.login == nil {
		return
	}
	c.mu.Lock()
	done := c.roomsLoaded
	c.mu.Unlock()
	if done {
		return
	}
	rooms, err := c.presenceRooms(ctx)
	if err != nil {
		c.log.Err(err).Msg("Failed to load the portal rooms for presence; tried again at the next connect, and a room counts once it is synced")
		return
	}
	c.mu.Lock()
	c.roomsLoaded = true
	c.mu.Unlock()
	for room, ghosts := range rooms {
		pusher.SetRoom(string(c.login.ID), string(room), ghosts)
	}
	c.log.Debug().Int("rooms", len(rooms)).Msg("Loaded the portal rooms for presence")
}

// presenceRooms reads the ghosts of each of the login's portals with a room.
func (c *Client) presenceRooms(ctx context.Context) (map[networkid.PortalID][]string, error) {
	rows, err := c.conn.Store.DB.Query(ctx, presenceRoomsQuery, c.conn.Store.BridgeID, c.login.ID)
	if err != nil {
		return nil, fmt.Errorf("list portal rooms: %w", err)
	}
	defer rows.Close()
	rooms := make(map[networkid.PortalID][]string)
	for rows.Next() {
		var id networkid.PortalID
		var passport string
		if err := rows.Scan(&id, &passport); err != nil {
			return nil, fmt.Errorf("scan portal room: %w", err)
		}
		switch {
		case !isGroupPortal(id):
			rooms[id] = []string{string(id)}
		case passport != "":
			rooms[id] = append(rooms[id], string(c.ghostID(passport)))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list portal rooms: %w", err)
	}
	return rooms, nil
}

// withRoomHook makes bridgev2 tell the pusher the ghosts of the portal's room whenever it
// applies this info: now if the room exists, else once it has been created.
func (c *Client) withRoomHook(info *bridgev2.ChatInfo, passports []string) *bridgev2.ChatInfo {
	ghosts := make([]string, len(passports))
	for i, p := range passports {
		ghosts[i] = string(c.ghostID(p))
	}
	prev := info.ExtraUpdates
	info.ExtraUpdates = func(ctx context.Context, p *bridgev2.Portal) bool {
		c.portalRoom(p, ghosts)
		return prev != nil && prev(ctx, p)
	}
	return info
}

// portalRoom records the ghosts of a portal's room with the pusher once the room exists.
func (c *Client) portalRoom(p *bridgev2.Portal, ghosts []string) {
	pusher := c.conn.roomPresence()
	if pusher == nil || c.login == nil || p == nil {
		return
	}
	login, room := string(c.login.ID), string(p.ID)
	if p.MXID != "" {
		pusher.SetRoom(login, room, ghosts)
		return
	}
	if p.RoomCreated == nil {
		return
	}
	// Called just before bridgev2 creates the room (it applies the info first). A creation
	// that fails is tried again with every event for the portal: one waiter per portal.
	c.mu.Lock()
	if _, waiting := c.roomWaits[p.PortalKey]; waiting {
		c.mu.Unlock()
		return
	}
	if c.roomWaits == nil {
		c.roomWaits = make(map[networkid.PortalKey]struct{})
	}
	c.roomWaits[p.PortalKey] = struct{}{}
	c.mu.Unlock()
	go func() {
		created := p.RoomCreated.WaitTimeout(roomCreateWait)
		c.mu.Lock()
		delete(c.roomWaits, p.PortalKey)
		c.mu.Unlock()
		if created {
			pusher.SetRoom(login, room, ghosts)
		}
	}()
}

// memberRoomHook is the post-handle hook of a group member change: once bridgev2 has applied
// it, the contact is in (or out of) the portal's room if there is one.
func (c *Client) memberRoomHook(passport string, joined bool) func(context.Context, *bridgev2.Portal) {
	ghost := string(c.ghostID(passport))
	return func(_ context.Context, p *bridgev2.Portal) {
		pusher := c.conn.roomPresence()
		if pusher == nil || c.login == nil || p == nil || p.MXID == "" {
			return
		}
		if joined {
			pusher.JoinRoom(string(c.login.ID), string(p.ID), ghost)
		} else {
			pusher.LeaveRoom(string(c.login.ID), string(p.ID), ghost)
		}
	}
}

// dropPresenceRooms forgets the login's rooms (logout).
func (c *Client) dropPresenceRooms() {
	if pusher := c.conn.roomPresence(); pusher != nil && c.login != nil {
		pusher.DropSource(string(c.login.ID))
	}
	c.mu.Lock()
	c.roomsLoaded = false
	c.mu.Unlock()
}
