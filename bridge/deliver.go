package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/simplevent"

	"github.com/msnbridge/msnbridge/msn/message"
)

// Messages from MSN are delivered, not just queued: bridgev2 drops a remote message whose Matrix
// event could not be sent (its HTTP client gives up on the homeserver after about a minute) or
// whose portal room could not be created. The switchboard already acknowledged them, so the
// client hands each message over, waits until bridgev2 has handled it and checks that the
// message row exists; a message that was not stored is handed over again (same message id, so
// a copy that did get stored meanwhile is de-duplicated by bridgev2), with a growing pause.
// This runs on the message's lane (one per conversation), so the messages of a room stay in
// order, a homeserver outage holds up each lane at its first undelivered message, and the lane's
// bound then holds up the switchboard's reader: the MSN server, not the bridge, keeps the rest.
const (
	// deliverRetryMax caps the pause between two attempts.
	deliverRetryMax = 30 * time.Second
	// deliverAttemptWait bounds one attempt: bridgev2 calls the post-handle hook when it has
	// handled the event, after its own retries of the homeserver requests.
	deliverAttemptWait = 5 * time.Minute
	// deliverGiveUp is how long a message is retried before it is given up with an error log
	// (a homeserver down longer than that, or a portal bridgev2 refuses to create).
	deliverGiveUp = time.Hour
)

// errNotQueued: bridgev2 refused the event outright (portal deleted, bridge stopping): its
// post-handle hook will not run.
var errNotQueued = errors.New("bridgev2 did not take the message")

// errNotStored: bridgev2 handled the message but has no row for it (the send failed).
var errNotStored = errors.New("bridgev2 handled the message but did not store it")

// messageMeta returns the event metadata of the message events the client makes, nil for other
// events (typing, membership, chat info), which are handed over once.
func messageMeta(evt bridgev2.RemoteEvent) *simplevent.EventMeta {
	switch e := evt.(type) {
	case *simplevent.Message[message.Text]:
		return &e.EventMeta
	case *simplevent.PreConvertedMessage:
		return &e.EventMeta
	case *simplevent.Message[mediaUpload]:
		return &e.EventMeta
	}
	return nil
}

// withPostHandle returns a copy of a message event of messageMeta's kinds whose post-handle
// hook is hook. Each delivery attempt hands bridgev2 its own copy: an earlier attempt that
// timed out may still sit in the portal's queue and read its hook while the next is made.
func withPostHandle(msg bridgev2.RemoteMessage, hook func(context.Context, *bridgev2.Portal)) bridgev2.RemoteMessage {
	switch e := msg.(type) {
	case *simplevent.Message[message.Text]:
		cp := *e
		cp.PostHandleFunc = hook
		return &cp
	case *simplevent.PreConvertedMessage:
		cp := *e
		cp.PostHandleFunc = hook
		return &cp
	case *simplevent.Message[mediaUpload]:
		cp := *e
		cp.PostHandleFunc = hook
		return &cp
	}
	panic(fmt.Sprintf("withPostHandle: %T is not a message kind of messageMeta", msg))
}

// queueRemote hands an event to bridgev2: messages are delivered (see above), other events
// handed over once. It reports false for a message given up on (never stored).
func (c *Client) queueRemote(ctx context.Context, evt bridgev2.RemoteEvent) bool {
	if meta := messageMeta(evt); meta != nil {
		return c.deliverMessage(ctx, evt.(bridgev2.RemoteMessage), meta.PostHandleFunc)
	}
	c.mx.QueueRemoteEvent(evt)
	return true
}

// deliverMessage hands a message to bridgev2 until its Matrix event is stored (true), ctx ends
// or deliverGiveUp passes (false).
func (c *Client) deliverMessage(ctx context.Context, msg bridgev2.RemoteMessage, orig func(context.Context, *bridgev2.Portal)) bool {
	key := msg.GetPortalKey()
	start := time.Now()
	pause := c.deliverRetryMin
	for attempt := 1; ; attempt++ {
		err := c.deliverOnce(ctx, msg, orig)
		if err == nil {
			if attempt > 1 {
				c.log.Info().Str("portal_id", string(key.ID)).Str("message_id", string(msg.GetID())).Int("attempt", attempt).
					Msg("Message reached Matrix after a retry")
			}
			return true
		}
		if ctx.Err() != nil {
			c.log.Error().Str("portal_id", string(key.ID)).Str("message_id", string(msg.GetID())).
				Msg("Client stopped before a message reached Matrix")
			return false
		}
		if time.Since(start) > deliverGiveUp {
			c.log.Error().Err(err).Str("portal_id", string(key.ID)).Str("message_id", string(msg.GetID())).Int("attempts", attempt).
				Msg("Giving up on a message that never reached Matrix")
			return false
		}
		c.log.Warn().Err(err).Str("portal_id", string(key.ID)).Str("message_id", string(msg.GetID())).Int("attempt", attempt).
			Dur("retry_in", pause).Msg("Message did not reach Matrix; trying again")
		if !waitCtx(ctx, pause) {
			c.log.Error().Str("portal_id", string(key.ID)).Str("message_id", string(msg.GetID())).
				Msg("Client stopped before a message reached Matrix")
			return false
		}
		pause = min(pause*2, deliverRetryMax)
	}
}

// deliverOnce makes one attempt: the portal room exists (created here, so that a failure to
// create it is seen), bridgev2 handles the message, its row exists.
func (c *Client) deliverOnce(ctx context.Context, msg bridgev2.RemoteMessage, orig func(context.Context, *bridgev2.Portal)) error {
	if err := c.mx.EnsurePortal(ctx, msg.GetPortalKey()); err != nil {
		return fmt.Errorf("portal room: %w", err)
	}
	handled := make(chan *bridgev2.Portal, 1)
	attempt := withPostHandle(msg, func(hctx context.Context, p *bridgev2.Portal) {
		if orig != nil {
			orig(hctx, p)
		}
		select {
		case handled <- p:
		default:
		}
	})
	if !c.mx.QueueRemoteEvent(attempt) {
		return errNotQueued
	}
	timer := time.NewTimer(deliverAttemptWait)
	defer timer.Stop()
	select {
	case p := <-handled:
		stored, err := c.mx.MessageStored(ctx, p, msg.GetID())
		switch {
		case err != nil:
			return err
		case !stored:
			return errNotStored
		}
		return nil
	case <-timer.C:
		return fmt.Errorf("bridgev2 did not handle the message within %s", deliverAttemptWait)
	case <-ctx.Done():
		return ctx.Err()
	}
}
