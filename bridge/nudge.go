package bridge

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// eventRedactor is implemented by a Matrix side that can redact events in portal rooms.
type eventRedactor interface {
	RedactEvent(ctx context.Context, portal *bridgev2.Portal, eventID id.EventID, reason string) error
}

// RedactEvent redacts an event in a portal room as the bridge bot.
func (b *bridgeSide) RedactEvent(ctx context.Context, portal *bridgev2.Portal, eventID id.EventID, reason string) error {
	if portal == nil || portal.MXID == "" || eventID == "" || b.br.Bot == nil {
		return nil
	}
	content := &event.RedactionEventContent{Redacts: eventID, Reason: reason}
	if _, err := b.br.Bot.SendMessage(ctx, portal.MXID, event.EventRedaction, &event.Content{Parsed: content}, nil); err != nil {
		return fmt.Errorf("redact %s: %w", eventID, err)
	}
	return nil
}

// nudgeSentNotice is the notice for a nudge the user sent, worded like the one for a received
// nudge ("Bob sent you a nudge."); to is empty in a group, where everyone gets it.
func nudgeSentNotice(to string) string {
	if to == "" {
		return "You sent a nudge."
	}
	return fmt.Sprintf("You sent %s a nudge.", to)
}

// showSentNudge replaces the "/nudge" text a client without the command sent (it was delivered
// as a nudge, not as text) with the nudge notice: the notice is posted and the text redacted,
// so that the room reads like it does on the contact's side.
func (c *Client) showSentNudge(ctx context.Context, msg *bridgev2.MatrixMessage) {
	to := ""
	if !isGroupPortal(msg.Portal.ID) {
		if passport, ok := c.passportOf(ctx, networkid.UserID(msg.Portal.ID)); ok {
			to = nameOrPassport(c.friendlyName(ctx, passport), passport)
		}
	}
	c.sendPortalNotice(ctx, msg.Portal, nudgeSentNotice(to))
	r, ok := c.mx.(eventRedactor)
	if !ok || msg.Event == nil {
		return
	}
	if err := r.RedactEvent(ctx, msg.Portal, msg.Event.ID, "sent as an MSN nudge"); err != nil {
		c.log.Warn().Err(err).Msg("Failed to redact the /nudge text")
	}
}
