package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"

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
		c.queue.push(fetchOIMs{full: true})
		return
	}
	if md == nil {
		return
	}
	if list := md.OIMs(); len(list) > 0 {
		c.queue.push(fetchOIMs{list: list})
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
// with their original timestamps. They are deleted from the server only after they were queued
// into their portals; a crash in between makes the next login fetch them again, and their
// message ids (from the OIM ids) let bridgev2 drop the ones it already bridged.
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
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	list := req.list
	if req.full {
		md, err := rsi.GetMetadata(ctx)
		if err != nil {
			c.log.Warn().Err(err).Msg("Failed to fetch offline message list")
			return
		}
		list = md.OIMs()
	}
	msgs, err := rsi.FetchAll(ctx, list)
	if err != nil {
		c.log.Warn().Err(err).Int("fetched", len(msgs)).Msg("Some offline messages could not be fetched")
	}
	for _, m := range msgs {
		passport, perr := puppet.NormalizePassport(m.From)
		if perr != nil {
			c.log.Warn().Str("from", m.From).Msg("Offline message from an invalid passport")
			continue
		}
		ts := m.Time
		if ts.IsZero() {
			ts = time.Now()
		}
		c.queueRemote(&simplevent.Message[message.Text]{
			EventMeta: simplevent.EventMeta{Type: bridgev2.RemoteEventMessage, PortalKey: c.dmKey(passport), CreatePortal: true,
				Sender: c.sender(passport, false), Timestamp: ts},
			Data:               message.Text{Body: m.Text},
			ID:                 newMessageIDFrom("oim", m.ID),
			ConvertMessageFunc: convertText(m.FromName),
		})
	}
	// Undeliverable ones (invalid sender) are deleted too: they would fail again every login.
	if len(msgs) > 0 {
		if err := rsi.DeleteMessages(ctx, oim.MessageIDs(msgs)); err != nil {
			c.log.Warn().Err(err).Int("count", len(msgs)).Msg("Failed to delete bridged offline messages; they will be fetched again and de-duplicated")
		}
	}
}

// sendOffline stores a message for an offline contact: UUM on MSNP18, the OIM Store2 service on
// MSNP13–17. Older versions have no offline messages.
func (c *Client) sendOffline(ctx context.Context, sess *ns.Session, to, text string) error {
	if !c.conn.Config.OfflineMessages {
		return errors.New("offline messages are disabled in the bridge config")
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

// newMessageIDFrom makes a message id from a network id when there is one.
func newMessageIDFrom(prefix, id string) networkid.MessageID {
	id = strings.TrimSpace(id)
	if id == "" || len(id) > 200 {
		return newMessageID(prefix)
	}
	return networkid.MessageID(prefix + "." + id)
}
