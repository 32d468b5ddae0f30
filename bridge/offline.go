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

// domainMessenger is the Passport domain whose ticket the RSI service takes.
const domainMessenger = "messenger.msn.com"

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
		Ticket: func() string { return sess.Ticket(domainMessenger) },
		Renew:  sess.RenewTickets,
		Logger: c.log.With().Str("component", "msn rsi").Logger(),
	}
}

// fetchOfflineMessages fetches offline messages and puts them into their DM portals in order,
// with their original timestamps. An offline message is deleted on the server only once
// bridgev2 has stored its Matrix event (its post-handle hook finds the message row): a crash,
// restart or homeserver outage before that leaves it on the server, the next login fetches it
// again, and its message id (made from the OIM id) makes bridgev2 drop it if it was stored
// after all, so it reaches Matrix exactly once.
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
	if len(msgs) == 0 {
		return
	}
	batch := newOIMBatch(len(msgs))
	for _, m := range msgs {
		passport, perr := puppet.NormalizePassport(m.From)
		if perr != nil {
			// Undeliverable (invalid sender): deleted too, it would fail again every login.
			c.log.Warn().Str("from", m.From).Msg("Offline message from an invalid passport")
			batch.settle(m.ID, true)
			continue
		}
		ts := m.Time
		if ts.IsZero() {
			ts = time.Now()
		}
		oimID, msgID := m.ID, newMessageIDFrom("oim", m.ID)
		c.queueRemote(ctx, &simplevent.Message[message.Text]{
			EventMeta: simplevent.EventMeta{Type: bridgev2.RemoteEventMessage, PortalKey: c.dmKey(passport), CreatePortal: true,
				Sender: c.sender(passport, false), Timestamp: ts,
				PostHandleFunc: func(ctx context.Context, p *bridgev2.Portal) {
					// Called once per delivery attempt (see deliver.go): only a stored message
					// settles; one never stored stays on the server for the next login.
					stored, err := c.mx.MessageStored(ctx, p, msgID)
					if err != nil {
						c.log.Warn().Err(err).Str("oim_id", oimID).Msg("Failed to check whether an offline message was bridged; keeping it on the server")
					}
					if stored {
						batch.settle(oimID, true)
					}
				}},
			Data:               message.Text{Body: m.Text},
			ID:                 msgID,
			ConvertMessageFunc: convertText(m.FromName),
		})
	}
	go c.deleteBridgedOIMs(ctx, batch)
}

// oimConfirmTimeout bounds how long a fetched batch of offline messages waits for bridgev2 to
// store them before the ones stored so far are deleted (the others stay for the next login).
const oimConfirmTimeout = 10 * time.Minute

// oimBatch collects, for one fetch, which offline messages are safe to delete.
type oimBatch struct {
	results chan oimResult
	want    int
}

type oimResult struct {
	id        string
	deletable bool
}

func newOIMBatch(n int) *oimBatch {
	// Buffered for every message: a post-handle hook never waits for the deleter.
	return &oimBatch{results: make(chan oimResult, n), want: n}
}

// settle reports one message's outcome: deletable when it is in Matrix (or can never be).
func (b *oimBatch) settle(id string, deletable bool) {
	select {
	case b.results <- oimResult{id: id, deletable: deletable}:
	default: // a hook run twice; the first answer counts
	}
}

// deleteBridgedOIMs waits until every message of the batch is settled (or the wait runs out or
// the client stops), then deletes the deletable ones in one request (batched by the RSI client).
func (c *Client) deleteBridgedOIMs(ctx context.Context, b *oimBatch) {
	timeout := time.NewTimer(oimConfirmTimeout)
	defer timeout.Stop()
	var ids []string
	kept := 0
collect:
	for n := 0; n < b.want; n++ {
		select {
		case r := <-b.results:
			if r.deletable && r.id != "" {
				ids = append(ids, r.id)
			} else {
				kept++
			}
		case <-timeout.C:
			kept += b.want - n
			break collect
		case <-ctx.Done():
			kept += b.want - n
			break collect
		}
	}
	if kept > 0 {
		c.log.Info().Int("kept", kept).Msg("Offline messages not (yet) in Matrix stay on the server for the next login")
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
