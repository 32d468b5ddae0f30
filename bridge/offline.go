package bridge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"

	"github.com/msnbridge/msnbridge/msn/auth"
	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/msn/oim"
	"github.com/msnbridge/msnbridge/puppet"
)

// mailData parses a Mail-Data payload and queues the fetch of the offline messages it lists.
func (c *Client) mailData(payload []byte) {
	if !c.conn.Config.OfflineMessages {
		return
	}
	md, tooLarge, err := oim.ParseMailDataPayload(payload)
	c.log.Debug().Bool("too_large", tooLarge).Bool("parsed", md != nil).Err(err).Msg("Mail data received")
	if err != nil {
		c.log.Warn().Err(err).Msg("Unparsable mail data")
		return
	}
	if tooLarge {
		c.pushWork(fetchOIMs{full: true})
		return
	}
	if md == nil {
		return
	}
	if list := md.OIMs(); len(list) > 0 {
		c.pushWork(fetchOIMs{list: list})
	}
}

func (c *Client) rsiClient(sess *ns.Session) *oim.RSIClient {
	return &oim.RSIClient{
		HTTP:   c.conn.Config.HTTPClient(),
		URL:    c.endpoints().RSI,
		Ticket: func() string { return sess.Ticket(auth.DomainMessengerWeb) },
		Renew:  sess.RenewTickets,
		Logger: c.log.With().Str("component", "msn rsi").Logger(),
	}
}

// oimLaneKey is the dispatcher lane that delivers fetched offline messages: in order, and off
// the NS lane, which a homeserver outage must not hold up (invitations wait there).
type oimLaneKey struct{}

// deliverOIMs is a batch of fetched offline messages on its way to Matrix.
type deliverOIMs struct{ msgs []oim.OfflineMessage }

// fetchOfflineMessages fetches offline messages (on the NS lane) and hands them to the offline
// lane (deliverOfflineMessages).
func (c *Client) fetchOfflineMessages(ctx context.Context, req fetchOIMs) {
	c.mu.Lock()
	sess := c.sess
	if sess == nil {
		// The login mail data arrives before Login returns: fetch once the session is installed.
		c.pendingFetch = append(c.pendingFetch, req)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	rsi := c.rsiClient(sess)
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	list := req.list
	if req.full {
		md, err := rsi.GetMetadata(fctx)
		if err != nil {
			c.log.Warn().Err(err).Msg("Failed to fetch offline message list")
			return
		}
		list = md.OIMs()
	}
	msgs, err := rsi.FetchAll(fctx, list)
	if err != nil {
		c.log.Warn().Err(err).Int("fetched", len(msgs)).Msg("Some offline messages could not be fetched")
	}
	if len(msgs) > 0 {
		c.events.push(oimLaneKey{}, deliverOIMs{msgs: msgs}, nil, false) // a worker's push never blocks
	}
}

// deliverOfflineMessages puts offline messages into their DM portals in order, with their
// original timestamps, and deletes from the server those whose Matrix event bridgev2 stored
// (queueRemote reports it): one not stored (the client stopped, or an hour of homeserver
// outage) stays on the server, the next login fetches it again, and its message id (made from
// the OIM id) makes bridgev2 drop it if it was stored after all: exactly once.
func (c *Client) deliverOfflineMessages(ctx context.Context, msgs []oim.OfflineMessage) {
	var ids []string
	kept := 0
	for _, m := range msgs {
		passport, perr := puppet.NormalizePassport(m.From)
		if perr != nil {
			// Undeliverable (invalid sender): deleted too, it would fail again every login.
			c.log.Warn().Str("from", m.From).Msg("Offline message from an invalid passport")
			ids = append(ids, m.ID)
			continue
		}
		ts := m.Time
		if ts.IsZero() {
			ts = time.Now()
		}
		if c.queueRemote(ctx, &simplevent.Message[message.Text]{
			EventMeta: simplevent.EventMeta{Type: bridgev2.RemoteEventMessage, PortalKey: c.dmKey(passport), CreatePortal: true,
				Sender: c.sender(passport, false), Timestamp: ts},
			Data:               message.Text{Body: m.Text},
			ID:                 newMessageIDFrom("oim", m.ID),
			ConvertMessageFunc: convertText(m.FromName),
		}) {
			ids = append(ids, m.ID)
		} else {
			kept++
		}
	}
	c.deleteOIMs(ids, kept)
}

// deleteOIMs deletes bridged offline messages on the server in one request (batched by the
// RSI client).
func (c *Client) deleteOIMs(ids []string, kept int) {
	if kept > 0 {
		c.log.Info().Int("kept", kept).Msg("Offline messages not in Matrix stay on the server for the next login")
	}
	if c.oimSettled != nil {
		defer c.oimSettled(len(ids), kept)
	}
	if len(ids) == 0 {
		return
	}
	sess, _ := c.session()
	if sess == nil {
		c.log.Warn().Int("count", len(ids)).Msg("Not connected: bridged offline messages will be fetched again and de-duplicated")
		return
	}
	dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.rsiClient(sess).DeleteMessages(dctx, ids); err != nil {
		c.log.Warn().Err(err).Int("count", len(ids)).Msg("Failed to delete bridged offline messages; they will be fetched again and de-duplicated")
	}
}

// offlineUnavailable is the permanent failure of a message to an offline contact when no
// offline message can be stored at all: MSNP12 and older have none, or the bridge config turns
// them off. Retrying cannot help, so it is FAIL with reason UNSUPPORTED (not the retriable
// ErrContactOffline), and the notice says why. Nil when offline messages are possible.
func (c *Client) offlineUnavailable() error {
	var why string
	if !c.conn.Config.OfflineMessages {
		why = "offline messages are turned off in the bridge config"
	} else if v := c.protocolVersion(); v > 0 && v < 13 {
		why = fmt.Sprintf("MSN offline messages need protocol MSNP13 or later, and this account is connected with MSNP%d", v)
	}
	if why == "" {
		return nil
	}
	return bridgev2.WrapErrorInStatus(fmt.Errorf("the contact is offline and %s: the message was not sent. Send it again when they are online", why)).
		WithStatus(event.MessageStatusFail).WithErrorReason(event.MessageStatusUnsupported).
		WithIsCertain(true).WithErrorAsMessage().WithSendNotice(true)
}

// protocolVersion is the MSNP version of the current session, or of the last one.
func (c *Client) protocolVersion() int {
	c.mu.Lock()
	relay := c.relay
	c.mu.Unlock()
	if relay != nil {
		return relay.Version()
	}
	if sess, _ := c.session(); sess != nil {
		return sess.Version()
	}
	return 0
}

// sendOffline stores a message for an offline contact: UUM on MSNP18, the OIM Store2 service on
// MSNP13–17. Older versions have no offline messages. A nil sess waits for the NS reconnect.
func (c *Client) sendOffline(ctx context.Context, sess *ns.Session, to, text string) error {
	if !c.conn.Config.OfflineMessages {
		return errors.New("offline messages are disabled in the bridge config")
	}
	if sess == nil {
		// The message went to a live switchboard while the NS was reconnecting.
		if sess, _ = c.waitSession(ctx, reconnectSendWait); sess == nil {
			return ErrNotConnected
		}
	}
	v := sess.Version()
	switch {
	case v >= 18:
		return sess.SendOfflineText(ctx, to, text)
	case v >= 13:
		store := &oim.StoreClient{
			HTTP:            c.conn.Config.HTTPClient(),
			URL:             c.endpoints().OIM,
			Ticket:          func() string { return sess.Ticket(auth.DomainMessengerSecure) },
			Renew:           sess.RenewTickets,
			Passport:        sess.Passport(),
			FriendlyName:    puppet.DecodeFriendlyName(sess.FriendlyName()),
			ProtocolVersion: v,
			Challenge:       sess.ChallengeAnswer,
			Logger:          c.log.With().Str("component", "msn oim").Logger(),
		}
		return store.Send(ctx, to, text)
	default:
		return fmt.Errorf("MSNP%d has no offline messages", v)
	}
}

// newMessageIDFrom makes a message id from a network id when there is one. The same network id
// always gives the same message id (a long one is hashed), which is what lets bridgev2 drop a
// message fetched twice.
func newMessageIDFrom(prefix, id string) networkid.MessageID {
	id = strings.TrimSpace(id)
	if id == "" {
		return newMessageID(prefix)
	}
	if len(id) > 200 {
		sum := sha256.Sum256([]byte(id))
		return networkid.MessageID(prefix + ".h." + hex.EncodeToString(sum[:]))
	}
	return networkid.MessageID(prefix + "." + id)
}
