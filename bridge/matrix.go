package bridge

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"

	"github.com/msnbridge/msnbridge/database"
	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/msn/sb"
	"github.com/msnbridge/msnbridge/msn/wire"
	"github.com/msnbridge/msnbridge/portal"
	"github.com/msnbridge/msnbridge/puppet"
)

// Message status errors shown on Matrix messages.
var (
	ErrNotConnected = bridgev2.WrapErrorInStatus(errors.New("not connected to MSN")).
			WithErrorAsMessage().WithIsCertain(true).WithSendNotice(true).WithErrorReason(event.MessageStatusNetworkError)
	ErrContactOffline = bridgev2.WrapErrorInStatus(errors.New("the contact is offline and the message could not be stored as an offline message")).
				WithErrorAsMessage().WithIsCertain(true).WithSendNotice(true).WithErrorReason(event.MessageStatusNetworkError)
)

func statusErr(err error, reason event.MessageStatusReason) error {
	return bridgev2.WrapErrorInStatus(err).WithErrorAsMessage().WithIsCertain(true).WithSendNotice(true).WithErrorReason(reason)
}

// visibleErr makes sure an error returned for a Matrix event carries a message status that
// bridgev2 turns into a notice. A plain error would become a "retriable" status without a notice,
// which with the default config (no message status events) shows nothing to the user.
func visibleErr(err error) error {
	if err == nil {
		return nil
	}
	var ms bridgev2.MessageStatus
	if errors.As(err, &ms) && ms.SendNotice {
		return err
	}
	return statusErr(err, event.MessageStatusGenericError)
}

// refusal is bridgev2's status for an event kind MSN cannot carry, made visible: bridgev2's own
// refusals of edits, reactions and redactions have no notice, so with the default config
// (message_status_events off) the user's event would end in silence.
func refusal(text string) error {
	return bridgev2.WrapErrorInStatus(errors.New(text)).WithStatus(event.MessageStatusFail).WithIsCertain(true).
		WithErrorAsMessage().WithSendNotice(true).WithErrorReason(event.MessageStatusUnsupported)
}

// init replaces bridgev2's refusals of the event kinds the connector does not implement (it has no
// EditHandlingNetworkAPI, ReactionHandlingNetworkAPI or RedactionHandlingNetworkAPI, so bridgev2
// answers them with these values before the connector sees them) with visible ones. This binary
// runs one connector, so the package variables are ours to set.
func init() {
	bridgev2.ErrEditsNotSupported = refusal("MSN can't edit sent messages; the edit was not sent")
	bridgev2.ErrEditsNotSupportedInPortal = bridgev2.ErrEditsNotSupported
	bridgev2.ErrReactionsNotSupported = refusal("MSN has no reactions; the reaction was not sent")
	bridgev2.ErrRedactionsNotSupported = refusal("MSN can't delete sent messages; the message stays visible to your contact")
}

// capabilities are the same in every MSN room: text with one style, files (offered as MSN
// file transfers, any type, up to network.max_file_size: GetCapabilities fills the limit in),
// no edits, reactions, deletions or read receipts.
var capabilities = &event.RoomFeatures{
	ID: "net.msnbridge.capabilities.2026_11",
	Formatting: event.FormattingFeatureMap{
		event.FmtBold:                event.CapLevelPartialSupport,
		event.FmtItalic:              event.CapLevelPartialSupport,
		event.FmtUnderline:           event.CapLevelPartialSupport,
		event.FmtStrikethrough:       event.CapLevelPartialSupport,
		event.FmtTextForegroundColor: event.CapLevelPartialSupport,
		event.FmtUserLink:            event.CapLevelPartialSupport,
		event.FmtInlineLink:          event.CapLevelPartialSupport,
	},
	File:                event.FileFeatureMap{},
	MaxTextLength:       portal.MaxOutgoingBytes,
	LocationMessage:     event.CapLevelRejected,
	Poll:                event.CapLevelRejected,
	Thread:              event.CapLevelUnsupported,
	Reply:               event.CapLevelPartialSupport,
	Edit:                event.CapLevelRejected,
	Delete:              event.CapLevelRejected,
	Reaction:            event.CapLevelRejected,
	ReadReceipts:        false,
	TypingNotifications: true,
}

// GetCapabilities declares what MSN rooms support, with the file size limit of this bridge.
func (c *Client) GetCapabilities(_ context.Context, _ *bridgev2.Portal) *event.RoomFeatures {
	limit := c.maxFileSize()
	feats := *capabilities
	feats.ID = fmt.Sprintf("%s+files.%d", capabilities.ID, limit)
	feats.File = event.FileFeatureMap{}
	for _, t := range []event.CapabilityMsgType{event.MsgImage, event.MsgFile, event.MsgVideo, event.MsgAudio, event.CapMsgSticker} {
		feats.File[t] = &event.FileFeatures{
			MimeTypes: map[string]event.CapabilitySupportLevel{"*/*": event.CapLevelFullySupported},
			Caption:   event.CapLevelDropped,
			MaxSize:   limit,
		}
	}
	return &feats
}

// conversationFor finds (or, for groups after a restart, rebuilds from the stored roster) the
// switchboard conversation of a portal.
func (c *Client) conversationFor(ctx context.Context, p *bridgev2.Portal) (*sb.Conversation, string, error) {
	_, mgr := c.session()
	if mgr == nil {
		return nil, "", ErrNotConnected
	}
	if !isGroupPortal(p.ID) {
		passport, ok := c.passportOf(ctx, networkid.UserID(p.ID))
		if !ok {
			return nil, "", fmt.Errorf("unknown contact for portal %s", p.ID)
		}
		return mgr.Conversation(passport), passport, nil
	}
	c.mu.Lock()
	conv, ok := c.groupConv[p.ID]
	c.mu.Unlock()
	if ok && mgr.Group(conv.ID()) == conv {
		return conv, "", nil
	}
	roster, err := c.conn.Store.GroupMembers(ctx, c.login.ID, string(p.ID))
	if err != nil {
		return nil, "", fmt.Errorf("load group roster: %w", err)
	}
	if len(roster) == 0 {
		return nil, "", statusErr(errors.New("nobody is left in this group conversation"), event.MessageStatusUnsupported)
	}
	// The switchboard is gone (reconnect, restart, idle): call the stored participants back in,
	// under a conversation id of this portal, so that their invitations come back here too.
	conv = mgr.RestoreGroup(groupConversationID(p.ID), roster...)
	c.mu.Lock()
	c.rebindGroupLocked(conv, p.ID)
	c.mu.Unlock()
	return conv, "", nil
}

// HandleMatrixMessage sends a Matrix message to MSN and waits for its outcome: delivered,
// stored as an offline message, or failed (with the reason as message status).
func (c *Client) HandleMatrixMessage(ctx context.Context, msg *bridgev2.MatrixMessage) (*bridgev2.MatrixMessageResponse, error) {
	if isFileMessage(msg) {
		return c.sendMatrixFile(ctx, msg)
	}
	opts := portal.ToMSNOptions{BaseFormat: message.DefaultFormat, SenderName: c.ownName(), NoticePrefix: c.conn.Config.NoticePrefix}
	if msg.ReplyTo != nil {
		if meta, ok := msg.ReplyTo.Metadata.(*database.MessageMetadata); ok {
			opts.ReplyQuote, opts.ReplySender = meta.Snippet, meta.SenderName
		}
	}
	out, err := portal.ToMSN(ctx, msg.Content, opts)
	switch {
	case errors.Is(err, portal.ErrUnsupportedType):
		return nil, statusErr(err, event.MessageStatusUnsupported)
	case errors.Is(err, portal.ErrTooLong):
		return nil, statusErr(err, event.MessageStatusUnsupported)
	case err != nil:
		return nil, statusErr(err, event.MessageStatusGenericError)
	}
	conv, passport, err := c.conversationFor(ctx, msg.Portal)
	if err != nil {
		return nil, visibleErr(err)
	}
	// A live switchboard carries the message even while the NS reconnects; opening one needs
	// the NS, so otherwise the message waits for the reconnect.
	sess, _ := c.session()
	if sess == nil && !conv.Connected() {
		if sess, _ = c.waitSession(ctx, reconnectSendWait); sess == nil {
			return nil, ErrNotConnected
		}
	}
	sendCtx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()
	var res *sb.Result
	if out.Nudge {
		res = conv.SendNudge(sendCtx)
	} else {
		res = conv.Send(sendCtx, sb.Outgoing{Kind: sb.OutText, Text: out.Text, Format: out.Format})
	}
	outcome, err := res.Wait(sendCtx)
	if outcome == sb.Offline && !out.Nudge && passport != "" {
		if uerr := c.offlineUnavailable(); uerr != nil {
			return nil, uerr // no offline message possible: a permanent failure, not a retriable one
		}
	}
	switch outcome {
	case sb.Delivered:
		if missed := res.Missed(); len(missed) > 0 {
			// The others got it: the message stands, but the room must say who did not.
			c.sendPortalNotice(ctx, msg.Portal, missedNotice(missed, func(p string) string { return puppet.DecodeFriendlyName(c.friendlyName(ctx, p)) }))
		}
	case sb.Offline:
		if out.Nudge || passport == "" {
			return nil, statusErr(fmt.Errorf("not delivered: %w", err), event.MessageStatusNetworkError)
		}
		// Only what the switchboard did not deliver: the contact may have had the first
		// parts of a long message before going offline.
		if oerr := c.sendOffline(sendCtx, sess, passport, res.Undelivered()); oerr != nil {
			c.log.Warn().Err(oerr).Str("contact", passport).Msg("Offline message failed")
			return nil, ErrContactOffline
		}
		c.sendPortalNotice(ctx, msg.Portal, "The contact is offline: your message was sent as an offline message.")
	default:
		if err == nil {
			err = errors.New("no answer from MSN")
		}
		return nil, statusErr(fmt.Errorf("not delivered: %w", err), event.MessageStatusNetworkError)
	}
	if out.Nudge {
		c.showSentNudge(ctx, msg)
	}
	return &bridgev2.MatrixMessageResponse{DB: &bridgedb.Message{
		ID:        newMessageID("mx"),
		SenderID:  c.GetUserID(),
		Timestamp: time.Now(),
		Metadata:  &database.MessageMetadata{Snippet: snippet(out.Text), SenderName: c.ownName()},
	}}, nil
}

// ownName is the user's MSN friendly name (or passport).
func (c *Client) ownName() string {
	if sess, _ := c.session(); sess != nil {
		if n := puppet.DecodeFriendlyName(sess.FriendlyName()); n != "" {
			return n
		}
	}
	return c.meta().Passport
}

// sendPortalNotice posts a notice from the bridge bot in a portal room.
func (c *Client) sendPortalNotice(ctx context.Context, p *bridgev2.Portal, text string) {
	if err := c.mx.PortalNotice(ctx, p, text); err != nil {
		c.log.Err(err).Msg("Failed to send notice to portal")
	}
}

// HandleMatrixTyping sends a typing notification on a live switchboard (it does not open one).
func (c *Client) HandleMatrixTyping(ctx context.Context, msg *bridgev2.MatrixTyping) error {
	if !msg.IsTyping {
		return nil
	}
	conv, _, err := c.conversationFor(ctx, msg.Portal)
	if err != nil || !conv.Connected() {
		return nil
	}
	conv.SendTyping(ctx)
	return nil
}

// GetChatInfo describes a portal: a DM with one contact, or a group with its stored roster.
func (c *Client) GetChatInfo(ctx context.Context, p *bridgev2.Portal) (*bridgev2.ChatInfo, error) {
	me := bridgev2.ChatMember{EventSender: c.sender(c.meta().Passport, true), Membership: event.MembershipJoin}
	if !isGroupPortal(p.ID) {
		passport, ok := c.passportOf(ctx, networkid.UserID(p.ID))
		if !ok {
			return nil, fmt.Errorf("unknown contact for portal %s", p.ID)
		}
		return c.dmInfo(ctx, passport, me), nil
	}
	roster, err := c.conn.Store.GroupMembers(ctx, c.login.ID, string(p.ID))
	if err != nil {
		return nil, fmt.Errorf("load group roster: %w", err)
	}
	members := bridgev2.ChatMemberMap{me.Sender: me}
	names := make([]string, 0, len(roster))
	for _, passport := range roster {
		m := bridgev2.ChatMember{EventSender: c.sender(passport, false), Membership: event.MembershipJoin}
		friendly := c.friendlyName(ctx, passport)
		m.UserInfo = c.userInfo(passport, friendly)
		members[m.Sender] = m
		names = append(names, nameOrPassport(friendly, passport))
	}
	name := groupName(names)
	roomType := bridgedb.RoomTypeGroupDM
	return c.withRoomHook(&bridgev2.ChatInfo{
		Name:    &name,
		Type:    &roomType,
		Members: &bridgev2.ChatMemberList{IsFull: true, MemberMap: members},
	}, roster), nil
}

// friendlyName is a contact's friendly name from the live session or the contact cache.
func (c *Client) friendlyName(ctx context.Context, passport string) string {
	if sess, _ := c.session(); sess != nil {
		if contact, ok := sess.Contact(passport); ok && contact.FriendlyName != "" {
			return contact.FriendlyName
		}
	}
	if row, _ := c.conn.Store.GetContact(ctx, c.login.ID, passport); row != nil {
		return row.FriendlyName
	}
	return ""
}

func nameOrPassport(friendly, passport string) string {
	if n := puppet.DecodeFriendlyName(friendly); n != "" {
		return n
	}
	return passport
}

// groupNameFor names a group portal after its current roster.
func (c *Client) groupNameFor(ctx context.Context, groupID string) (string, bool) {
	roster, err := c.conn.Store.GroupMembers(ctx, c.login.ID, groupID)
	if err != nil || len(roster) == 0 {
		return "", false
	}
	names := make([]string, 0, len(roster))
	for _, passport := range roster {
		names = append(names, nameOrPassport(c.friendlyName(ctx, passport), passport))
	}
	return groupName(names), true
}

// groupName names a group conversation after its participants.
func groupName(names []string) string {
	const maxNames = 4
	if len(names) == 0 {
		return "MSN group conversation"
	}
	if len(names) > maxNames {
		return strings.Join(names[:maxNames], ", ") + fmt.Sprintf(" and %d more", len(names)-maxNames)
	}
	return strings.Join(names, ", ")
}

func (c *Client) dmInfo(ctx context.Context, passport string, me bridgev2.ChatMember) *bridgev2.ChatInfo {
	me.MemberEventExtra = dmInviteExtra()
	other := bridgev2.ChatMember{EventSender: c.sender(passport, false), Membership: event.MembershipJoin}
	if row, _ := c.conn.Store.GetContact(ctx, c.login.ID, passport); row != nil {
		other.UserInfo = c.userInfo(passport, row.FriendlyName)
	}
	roomType := bridgedb.RoomTypeDM
	return c.withRoomHook(&bridgev2.ChatInfo{
		Type: &roomType,
		Members: &bridgev2.ChatMemberList{
			IsFull:      true,
			OtherUserID: other.Sender,
			MemberMap:   bridgev2.ChatMemberMap{me.Sender: me, other.Sender: other},
		},
	}, []string{passport})
}

// GetUserInfo describes a contact's ghost from the live session or the contact cache.
func (c *Client) GetUserInfo(ctx context.Context, ghost *bridgev2.Ghost) (*bridgev2.UserInfo, error) {
	passport, ok := c.passportOf(ctx, ghost.ID)
	if !ok {
		return nil, nil
	}
	friendly := ""
	if sess, _ := c.session(); sess != nil {
		if passport == sess.Passport() {
			// The user's own ghost: the contact list does not hold it.
			friendly = sess.FriendlyName()
		} else if contact, ok := sess.Contact(passport); ok {
			friendly = contact.FriendlyName
		}
	}
	if friendly == "" && c.login.UserLogin != nil && passport == c.meta().Passport && c.login.RemoteProfile.Name != passport {
		friendly = c.login.RemoteProfile.Name
	}
	if friendly == "" {
		if row, _ := c.conn.Store.GetContact(ctx, c.login.ID, passport); row != nil {
			friendly = row.FriendlyName
		}
	}
	return c.userInfo(passport, friendly), nil
}

// ResolveIdentifier turns a passport into a ghost (and a DM portal when asked), so that
// `pm <passport>` works for anyone, on the contact list or not.
func (c *Client) ResolveIdentifier(ctx context.Context, identifier string, createChat bool) (*bridgev2.ResolveIdentifierResponse, error) {
	passport, err := puppet.NormalizePassport(strings.TrimPrefix(strings.TrimSpace(identifier), "mailto:"))
	if err != nil {
		return nil, bridgev2.RespError{ErrCode: "M_INVALID_PARAM", StatusCode: 400, Err: err.Error()}
	}
	return c.resolve(ctx, passport, createChat)
}

func (c *Client) resolve(ctx context.Context, passport string, createChat bool) (*bridgev2.ResolveIdentifierResponse, error) {
	ghostID := c.ghostID(passport)
	ghost, err := c.conn.Bridge.GetGhostByID(ctx, ghostID)
	if err != nil {
		return nil, fmt.Errorf("get ghost: %w", err)
	}
	friendly := ""
	if sess, _ := c.session(); sess != nil {
		if contact, ok := sess.Contact(passport); ok {
			friendly = contact.FriendlyName
		}
	}
	resp := &bridgev2.ResolveIdentifierResponse{Ghost: ghost, UserID: ghostID, UserInfo: c.userInfo(passport, friendly)}
	if createChat {
		me := bridgev2.ChatMember{EventSender: c.sender(c.meta().Passport, true), Membership: event.MembershipJoin}
		resp.Chat = &bridgev2.CreateChatResponse{PortalKey: c.dmKey(passport), PortalInfo: c.dmInfo(ctx, passport, me)}
	}
	return resp, nil
}

// GetContactList lists the contacts on the forward list for start-chat.
func (c *Client) GetContactList(ctx context.Context) ([]*bridgev2.ResolveIdentifierResponse, error) {
	sess, _ := c.session()
	if sess == nil {
		return nil, ErrNotConnected
	}
	return c.forwardContacts(ctx, sess, 0, func(ns.Contact) bool { return true })
}

// forwardContacts resolves the contacts on the forward list that match, sorted by passport; a
// limit above zero bounds the result.
func (c *Client) forwardContacts(ctx context.Context, sess *ns.Session, limit int, match func(ns.Contact) bool) ([]*bridgev2.ResolveIdentifierResponse, error) {
	contacts := sess.Contacts()
	sort.Slice(contacts, func(i, j int) bool { return contacts[i].Passport < contacts[j].Passport })
	var out []*bridgev2.ResolveIdentifierResponse
	for _, contact := range contacts {
		if contact.Lists&ns.FL == 0 || !match(contact) {
			continue
		}
		passport, err := puppet.NormalizePassport(contact.Passport)
		if err != nil {
			continue
		}
		resp, err := c.resolve(ctx, passport, false)
		if err != nil {
			return nil, err
		}
		out = append(out, resp)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

// missedNotice says which members of a group conversation did not get a message, and why.
func missedNotice(missed map[string]error, name func(passport string) string) string {
	passports := make([]string, 0, len(missed))
	for p := range missed {
		passports = append(passports, p)
	}
	sort.Strings(passports)
	parts := make([]string, 0, len(passports))
	for _, p := range passports {
		why := "did not join the conversation in time"
		var callErr *sb.CallError
		if errors.As(missed[p], &callErr) {
			why = "could not be called"
			if callErr.Code != 0 {
				why += ": " + wire.ErrorText(callErr.Code)
			}
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", nameOrPassport(name(p), p), why))
	}
	return "Your message did not reach " + strings.Join(parts, ", ") + "."
}
