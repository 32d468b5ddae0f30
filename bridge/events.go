package bridge

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"

	"github.com/msnbridge/msnbridge/database"
	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/msn/oim"
	"github.com/msnbridge/msnbridge/msn/p2p"
	"github.com/msnbridge/msnbridge/msn/sb"
	"github.com/msnbridge/msnbridge/portal"
	"github.com/msnbridge/msnbridge/puppet"
)

// syncContacts asks the worker to sync the contact list after login.
type syncContacts struct{}

// loadRoomsItem asks the worker to load the login's portal rooms for presence after login
// (presencerooms.go); off the connect path, as presence that arrives first is kept until then.
type loadRoomsItem struct{}

// restoreProfileItem asks the worker to apply the user's chosen status and personal message
// after login and to update the user's own ghost.
type restoreProfileItem struct{}

// fetchOIMs asks the worker to fetch offline messages listed in mail data.
type fetchOIMs struct {
	list []oim.MailMessage
	full bool // "too-large": fetch the list with GetMetadata first
}

// typingTimeout is how long an MSN typing notification shows in Matrix (clients repeat it every ~5 s).
const typingTimeout = 7 * time.Second

var msgSeq atomic.Uint64

// newMessageID makes an id for a message; MSN messages have none of their own.
func newMessageID(prefix string) networkid.MessageID {
	return networkid.MessageID(fmt.Sprintf("%s.%d.%d", prefix, time.Now().UnixNano(), msgSeq.Add(1)))
}

// dmKey is the portal key of the one-to-one chat with a contact.
func (c *Client) dmKey(passport string) networkid.PortalKey {
	return networkid.PortalKey{ID: networkid.PortalID(c.ghostID(passport)), Receiver: c.login.ID}
}

// groupPrefix starts the ids of group portals.
const groupPrefix = "group:"

func isGroupPortal(id networkid.PortalID) bool { return strings.HasPrefix(string(id), groupPrefix) }

func (c *Client) sender(passport string, fromSelf bool) bridgev2.EventSender {
	if fromSelf || strings.EqualFold(passport, c.meta().Passport) {
		return bridgev2.EventSender{IsFromMe: true, SenderLogin: c.login.ID, Sender: c.GetUserID()}
	}
	return bridgev2.EventSender{Sender: c.ghostID(passport)}
}

// pushNSEvent queues an NS event on the NS lane. Presence of one contact is coalesced (the
// latest wins); everything else waits in order, and a full lane holds the NS event goroutine.
func (c *Client) pushNSEvent(ev ns.Event) {
	var coalesce any
	if p, ok := ev.(*ns.PresenceEvent); ok {
		coalesce = presenceKey{self: p.Self, passport: strings.ToLower(p.Contact.Passport)}
	}
	c.events.push(nsLane, ev, coalesce, true)
}

// pushSBEvent queues a switchboard event on its conversation's lane. Typing of one participant
// is coalesced; a full lane blocks, which holds that conversation's switchboard reader only.
func (c *Client) pushSBEvent(ev sb.Event) {
	conv := ev.Conversation()
	if conv == nil {
		return
	}
	var coalesce any
	if t, ok := ev.(*sb.TypingEvent); ok {
		coalesce = typingKey{passport: strings.ToLower(t.Sender.Passport)}
	}
	c.events.push(conv, ev, coalesce, true)
}

// pushWork queues the client's own work on the NS lane; it never blocks (workers call it).
func (c *Client) pushWork(item any) {
	c.events.push(nsLane, item, nil, false)
}

// Coalescing keys of the event lanes.
type (
	presenceKey struct {
		self     bool
		passport string
	}
	typingKey struct{ passport string }
)

// handleQueued runs on a lane's worker goroutine for every NS/SB event and work item.
func (c *Client) handleQueued(ctx context.Context, _ queueKey, item any) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error().Any("panic", r).Type("event", item).Msg("Panic while handling MSN event")
		}
	}()
	switch ev := item.(type) {
	case loadRoomsItem:
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c.loadPresenceRooms(rctx)
		cancel()
	case restoreProfileItem:
		c.restoreProfile(ctx)
	case syncContacts:
		c.syncContacts(ctx)
	case fetchOIMs:
		c.fetchOfflineMessages(ctx, ev)
	case deliverOIMs:
		c.deliverOfflineMessages(ctx, ev.msgs)
	case ns.Event:
		c.handleNSEvent(ctx, ev)
	case sb.Event:
		c.handleSBEvent(ctx, ev)
	case fileReceived:
		c.postFile(ctx, ev)
	}
}

func (c *Client) handleNSEvent(ctx context.Context, evt ns.Event) {
	switch ev := evt.(type) {
	case *ns.PresenceEvent:
		if ev.Self {
			c.ownNameChanged(ctx, ev.Contact.FriendlyName)
			return
		}
		c.contactChanged(ctx, ev.Contact)
	case *ns.ProfileEvent:
		if ev.Self {
			c.ownNameChanged(ctx, ev.FriendlyName)
			return
		}
		sess, _ := c.session()
		if sess == nil {
			return
		}
		if contact, ok := sess.Contact(ev.Passport); ok {
			c.contactChanged(ctx, contact)
		}
	case *ns.ListChangeEvent:
		c.listChanged(ctx, ev)
	case *ns.AddedByEvent:
		c.addedBy(ctx, ev)
	case *ns.RemovedByEvent:
		c.log.Info().Str("contact", ev.Passport).Msg("Contact removed us from their list")
	case *ns.SwitchboardInviteEvent:
		c.switchboardInvite(sb.Invitation(*ev))
	case *ns.MailDataEvent:
		c.mailData(ev.Payload)
	case *ns.OfflineMessageNotifyEvent:
		c.mailData(ev.Payload)
	case *ns.SystemMessageEvent:
		if ev.Type == "1" {
			c.noteMaintenance(ev.Arg, time.Now())
			c.notifyUser(ctx, fmt.Sprintf("The MSN server will go down for maintenance in %s minutes.", ev.Arg))
		}
	case *ns.DisconnectEvent:
		// The connection loop handles it through Session.Done.
	}
}

// contactChanged updates the cache, the ghost's profile and its presence.
func (c *Client) contactChanged(ctx context.Context, contact ns.Contact) {
	passport := strings.ToLower(contact.Passport)
	if passport == "" {
		return
	}
	ghostID := c.ghostID(passport)
	old, err := c.conn.Store.GetContact(ctx, c.login.ID, passport)
	if err != nil {
		c.log.Err(err).Msg("Failed to read contact cache")
	}
	row := &database.Contact{
		LoginID: c.login.ID, Passport: passport, FriendlyName: contact.FriendlyName,
		PersonalMessage: contact.PersonalMessage, Lists: uint8(contact.Lists), Status: string(contact.Status),
	}
	if err := c.conn.Store.PutContact(ctx, row); err != nil {
		c.log.Err(err).Msg("Failed to save contact cache")
	}
	if old == nil || old.FriendlyName != row.FriendlyName {
		c.updateGhost(ctx, ghostID, passport, contact.FriendlyName)
	}
	c.conn.updatePresence(c.login.ID, ghostID, string(contact.Status), contact.PersonalMessage)
	c.contactPicture(contact)
}

func (c *Client) userInfo(passport, friendlyName string) *bridgev2.UserInfo {
	name := puppet.DisplayName(c.conn.Config.displaynameTmpl, friendlyName, passport)
	return &bridgev2.UserInfo{
		Identifiers: []string{"mailto:" + passport},
		Name:        &name,
		ExtraUpdates: func(_ context.Context, g *bridgev2.Ghost) bool {
			meta, ok := g.Metadata.(*database.GhostMetadata)
			if !ok || meta.Passport == passport {
				return false
			}
			meta.Passport = passport
			return true
		},
	}
}

func (c *Client) updateGhost(ctx context.Context, ghostID networkid.UserID, passport, friendlyName string) {
	if err := c.mx.UpdateGhost(ctx, ghostID, c.userInfo(passport, friendlyName)); err != nil {
		c.log.Err(err).Str("contact", passport).Msg("Failed to update ghost")
	}
}

func (c *Client) syncContacts(ctx context.Context) {
	sess, _ := c.session()
	if sess == nil {
		return
	}
	for _, contact := range sess.Contacts() {
		if ctx.Err() != nil {
			return
		}
		c.contactChanged(ctx, contact)
	}
	// Requests that arrived while we were away: people on the reverse/pending list but not on ours.
	for _, contact := range sess.Contacts() {
		if contact.Lists&(ns.PL) != 0 && contact.Lists&(ns.AL|ns.BL) == 0 {
			c.addedBy(ctx, &ns.AddedByEvent{Passport: contact.Passport, FriendlyName: contact.FriendlyName})
		}
	}
}

func (c *Client) listChanged(ctx context.Context, ev *ns.ListChangeEvent) {
	passport := strings.ToLower(ev.Passport)
	row, err := c.conn.Store.GetContact(ctx, c.login.ID, passport)
	if err != nil || row == nil {
		row = &database.Contact{LoginID: c.login.ID, Passport: passport, Status: string(ns.Offline)}
	}
	row.Lists = (row.Lists | uint8(ev.Added)) &^ uint8(ev.Removed)
	if row.Lists == 0 {
		err = c.conn.Store.DeleteContact(ctx, c.login.ID, passport)
	} else {
		err = c.conn.Store.PutContact(ctx, row)
	}
	if err != nil {
		c.log.Err(err).Msg("Failed to update contact cache")
	}
}

// addedBy records a contact request and tells the user in the management room.
func (c *Client) addedBy(ctx context.Context, ev *ns.AddedByEvent) {
	passport := strings.ToLower(ev.Passport)
	isNew, err := c.conn.Store.PutPendingRequest(ctx, c.login.ID, database.PendingRequest{Passport: passport, FriendlyName: ev.FriendlyName})
	if err != nil {
		c.log.Err(err).Msg("Failed to save contact request")
	}
	if !isNew {
		return
	}
	name := puppet.DecodeFriendlyName(ev.FriendlyName)
	who := passport
	if name != "" && name != passport {
		who = fmt.Sprintf("%s (%s)", name, passport)
	}
	c.notifyUser(ctx, fmt.Sprintf("%s added you to their MSN contact list. Reply `accept %s` to accept (and add them back) or `ignore %s` to ignore the request.",
		who, passport, passport))
}

// notifyUser sends a notice to the user's management room.
func (c *Client) notifyUser(ctx context.Context, text string) {
	if err := c.mx.NotifyUser(ctx, text); err != nil {
		c.log.Err(err).Msg("Failed to notify user")
	}
}

func (c *Client) handleSBEvent(ctx context.Context, evt sb.Event) {
	conv := evt.Conversation()
	if conv == nil {
		return
	}
	if !conv.IsGroup() {
		if _, err := puppet.NormalizePassport(conv.Peer()); err != nil {
			c.log.Warn().Str("peer", conv.Peer()).Msg("Switchboard event from an invalid passport")
			return
		}
	}
	key := c.portalKeyFor(ctx, conv)
	logCtx := func(lc zerolog.Context) zerolog.Context { return lc.Str("conversation", conv.ID()) }
	switch ev := evt.(type) {
	case *sb.MessageEvent:
		text := message.Text{Body: ev.Text, Format: ev.Format}
		if ev.Incomplete {
			text.Body = strings.TrimRight(text.Body, "\n") + "\n\n" + incompleteNotice
		}
		name := puppet.DecodeFriendlyName(ev.Sender.FriendlyName)
		c.queueRemote(ctx, &simplevent.Message[message.Text]{
			EventMeta: simplevent.EventMeta{Type: bridgev2.RemoteEventMessage, PortalKey: key, CreatePortal: true,
				Sender: c.sender(ev.Sender.Passport, ev.FromSelf), Timestamp: time.Now(), LogContext: logCtx},
			Data:               text,
			ID:                 newMessageID("msn"),
			ConvertMessageFunc: convertText(name),
		})
	case *sb.TypingEvent:
		c.queueRemote(ctx, &simplevent.Typing{
			EventMeta: simplevent.EventMeta{Type: bridgev2.RemoteEventTyping, PortalKey: key, Sender: c.sender(ev.Sender.Passport, false), LogContext: logCtx},
			Timeout:   typingTimeout,
		})
	case *sb.NudgeEvent:
		c.queueContent(ctx, key, ev.Sender, portal.NudgeNotice(c.nameOf(ctx, ev.Sender)))
	case *sb.ContentEvent:
		if ev.Kind == message.KindInk || ev.Kind == message.KindInkISF {
			c.postInk(ctx, key, ev)
			return
		}
		if ev.Kind == message.KindAction && ev.Message != nil && ev.Message.Datacast != nil && ev.Message.Datacast.Data != "" {
			content := portal.FromMSN(message.Text{Body: ev.Message.Datacast.Data})
			content.MsgType = event.MsgEmote
			c.queueContent(ctx, key, ev.Sender, content)
			return
		}
		if f, ok := offeredFile(ev); ok && f.Name != "" {
			// An offer the switchboard layer declined: over the size limit (or one the
			// bridge could not take); accepted ones arrive through acceptFile.
			c.queueContent(ctx, key, ev.Sender, portal.Notice(declinedFileNotice(c.nameOf(ctx, ev.Sender), f, c.maxFileSize())))
			return
		}
		kind, show := unsupportedKind(ev)
		if show {
			c.queueContent(ctx, key, ev.Sender, portal.UnsupportedNotice(kind, c.nameOf(ctx, ev.Sender)))
		}
	case *sb.JoinedEvent:
		if conv.IsGroup() {
			c.groupMembership(ctx, key, ev.Participant.Passport, ev.Participant.FriendlyName, true)
		}
	case *sb.LeftEvent:
		if conv.IsGroup() {
			c.groupMembership(ctx, key, ev.Passport, "", false)
		}
	case *sb.BecameGroupEvent:
		for _, p := range ev.Participants {
			if err := c.conn.Store.AddGroupMember(ctx, c.login.ID, string(key.ID), strings.ToLower(p.Passport)); err != nil {
				c.log.Err(err).Msg("Failed to save group roster")
			}
		}
		c.queueRemote(ctx, &simplevent.ChatResync{
			EventMeta:       simplevent.EventMeta{Type: bridgev2.RemoteEventChatResync, PortalKey: key, CreatePortal: true, LogContext: logCtx},
			GetChatInfoFunc: c.GetChatInfo,
		})
	case *sb.ClosedEvent:
		if conv.IsGroup() {
			c.unbindGroup(conv)
		}
	}
}

func (c *Client) nameOf(ctx context.Context, p sb.Participant) string {
	if name := puppet.DecodeFriendlyName(p.FriendlyName); name != "" {
		return name
	}
	if row, _ := c.conn.Store.GetContact(ctx, c.login.ID, strings.ToLower(p.Passport)); row != nil {
		if name := puppet.DecodeFriendlyName(row.FriendlyName); name != "" {
			return name
		}
	}
	return p.Passport
}

// incompleteNotice ends a chunked message of which only part arrived (sb.MessageEvent.Incomplete).
const incompleteNotice = "(the rest of this message never arrived)"

// fileTransferGUID is the application GUID (and P2P EUF-GUID) of MSN file transfers.
const fileTransferGUID = "{5D3E02AB-6190-11D3-BBBB-00C04F795683}"

// unsupportedKind picks the notice for content Matrix cannot show; the second result is false
// for content that is not worth a notice (capabilities, keep-alives, emoticon definitions, P2P
// frames that are part of another exchange).
func unsupportedKind(ev *sb.ContentEvent) (portal.Unsupported, bool) {
	if ev.Message == nil {
		return portal.UnsupportedOther, ev.Kind == message.KindUnknown
	}
	switch ev.Kind {
	case message.KindWink:
		return portal.UnsupportedWink, true
	case message.KindVoiceClip:
		return portal.UnsupportedVoiceClip, true
	case message.KindInvite:
		if inv := ev.Message.Invite; inv != nil {
			if inv.Command != "" && !strings.EqualFold(inv.Command, "INVITE") {
				return 0, false // ACCEPT/CANCEL of an invitation we never answered
			}
			if strings.EqualFold(inv.ApplicationGUID, fileTransferGUID) || strings.Contains(strings.ToLower(inv.ApplicationName), "file") {
				return portal.UnsupportedFile, true
			}
		}
		return portal.UnsupportedInvite, true
	case message.KindP2P:
		// Only the first frame of a file transfer carries the SLP INVITE with the file EUF-GUID.
		if p := ev.Message.P2P; p != nil && bytes.Contains(bytes.ToUpper(p.Data), []byte(fileTransferGUID)) &&
			bytes.Contains(p.Data, []byte("INVITE MSNMSGR:")) {
			return portal.UnsupportedFile, true
		}
		return 0, false
	case message.KindUnknown:
		return portal.UnsupportedOther, true
	}
	return 0, false
}

// offeredFile returns the file of a P2P file-transfer invitation (its name and size from the
// SLP Context), for the notice; msn/sb has already declined it.
func offeredFile(ev *sb.ContentEvent) (p2p.FileInfo, bool) {
	if ev.Kind != message.KindP2P || ev.Message == nil || ev.Message.P2P == nil {
		return p2p.FileInfo{}, false
	}
	return p2p.FileOfferIn(ev.Message.P2P.Data)
}

// humanSize formats a byte count for a notice ("3000 bytes", "2.9 KiB", "4.2 MiB").
func humanSize(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}

func (c *Client) queueContent(ctx context.Context, key networkid.PortalKey, from sb.Participant, content *event.MessageEventContent) {
	c.queueRemote(ctx, &simplevent.PreConvertedMessage{
		EventMeta: simplevent.EventMeta{Type: bridgev2.RemoteEventMessage, PortalKey: key, CreatePortal: true,
			Sender: c.sender(from.Passport, false), Timestamp: time.Now()},
		ID:   newMessageID("notice"),
		Data: &bridgev2.ConvertedMessage{Parts: []*bridgev2.ConvertedMessagePart{{Type: event.EventMessage, Content: content}}},
	})
}

// convertText converts an MSN text message when bridgev2 handles it.
func convertText(senderName string) func(context.Context, *bridgev2.Portal, bridgev2.MatrixAPI, message.Text) (*bridgev2.ConvertedMessage, error) {
	return func(_ context.Context, _ *bridgev2.Portal, _ bridgev2.MatrixAPI, text message.Text) (*bridgev2.ConvertedMessage, error) {
		return &bridgev2.ConvertedMessage{Parts: []*bridgev2.ConvertedMessagePart{{
			Type:       event.EventMessage,
			Content:    portal.FromMSN(text),
			DBMetadata: &database.MessageMetadata{Snippet: snippet(text.Body), SenderName: senderName},
		}}}, nil
	}
}

// snippet keeps the start of a text for reply quotes.
func snippet(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= portal.MaxQuoteBytes {
		return s
	}
	r := []rune(s)
	if len(r) > portal.MaxQuoteBytes/2 {
		r = r[:portal.MaxQuoteBytes/2]
	}
	return string(r)
}

// groupMembership records a join or leave in a group conversation and mirrors it in the room.
func (c *Client) groupMembership(ctx context.Context, key networkid.PortalKey, passport, friendlyName string, joined bool) {
	passport = strings.ToLower(passport)
	if strings.EqualFold(passport, c.meta().Passport) {
		return
	}
	var err error
	membership := event.MembershipJoin
	if joined {
		err = c.conn.Store.AddGroupMember(ctx, c.login.ID, string(key.ID), passport)
	} else {
		membership = event.MembershipLeave
		err = c.conn.Store.RemoveGroupMember(ctx, c.login.ID, string(key.ID), passport)
	}
	if err != nil {
		c.log.Err(err).Msg("Failed to update group roster")
	}
	member := bridgev2.ChatMember{EventSender: c.sender(passport, false), Membership: membership}
	if joined {
		member.UserInfo = c.userInfo(passport, friendlyName)
	}
	change := &bridgev2.ChatInfoChange{MemberChanges: &bridgev2.ChatMemberList{
		MemberMap: bridgev2.ChatMemberMap{member.Sender: member},
	}}
	if name, ok := c.groupNameFor(ctx, string(key.ID)); ok {
		change.ChatInfo = &bridgev2.ChatInfo{Name: &name}
	}
	c.queueRemote(ctx, &simplevent.ChatInfoChange{
		EventMeta: simplevent.EventMeta{Type: bridgev2.RemoteEventChatInfoChange, PortalKey: key, CreatePortal: joined,
			Sender: c.sender(passport, false), Timestamp: time.Now(), PostHandleFunc: c.memberRoomHook(passport, joined)},
		ChatInfoChange: change,
	})
}
