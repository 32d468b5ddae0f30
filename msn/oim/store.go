package oim

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/message"
)

// OIM Store constants.
const (
	StoreNamespace = "http://messenger.msn.com/ws/2004/09/oim/"
	ActionStore2   = "http://messenger.live.com/ws/2006/09/oim/Store2"
	// DefaultMaxTextBytes is the text carried by one OIM (UTF-8 bytes, line breaks as CRLF);
	// longer text is sent as several OIMs. MSNPSharp splits at 1400 bytes.
	DefaultMaxTextBytes = 1400
	// maxFriendlyRunes is where MSNPSharp truncates the sender name.
	maxFriendlyRunes = 48
)

// StoreClient sends offline messages with the OIM Store2 web service (/OimWS/oim.asmx), as
// MSNP13–17 clients do. It keeps one run id per client and a sequence number per recipient.
// It is safe for concurrent use.
type StoreClient struct {
	// HTTP is the client used; nil means a default client with a 30 s timeout.
	HTTP *http.Client
	// URL is the service URL, e.g. "http://127.0.0.1:8081/OimWS/oim.asmx".
	URL string
	// Ticket returns the current messengersecure.live.com ticket (sent XML-escaped).
	Ticket func() string
	// Renew, when set, fetches fresh tickets; a message refused for its ticket renews once
	// and is retried.
	Renew func(ctx context.Context) error
	// Passport and FriendlyName identify the sender.
	Passport, FriendlyName string
	// ProtocolVersion is the MSNP version in msnpVer (default 15); BuildVer the client build
	// (default "8.5.1288").
	ProtocolVersion int
	BuildVer        string
	// ProductID is the appid attribute (the NS product id); when empty, the id returned by
	// Challenge is used after the first challenge.
	ProductID string
	// Challenge answers a LockKeyChallenge: ns.Session.ChallengeAnswer.
	Challenge func(challenge string) (productID, answer string)
	// LockKey seeds the lock key (MSNPSharp uses the last NS QRY answer); empty is allowed.
	LockKey string
	// MaxTextBytes is the text per OIM (default DefaultMaxTextBytes).
	MaxTextBytes int
	// Logger receives debug lines (never tickets or lock keys).
	Logger zerolog.Logger

	sendMu  sync.Mutex // serialises Send so parts and sequence numbers stay in order
	mu      sync.Mutex
	started bool
	runID   string
	lockKey string
	appID   string
	seq     map[string]int
}

func (c *StoreClient) init() {
	if c.started {
		return
	}
	c.started = true
	c.runID = message.NewMessageID() // a random "{GUID}", as the run id wants
	c.lockKey = c.LockKey
	c.appID = c.ProductID
	c.seq = make(map[string]int)
}

// Send stores text for the offline contact to, split into several OIMs when it is longer than
// MaxTextBytes. When the service answers a LockKeyChallenge fault, the lock key is computed
// with Challenge and the request is retried once. Faults come back as *Fault (errors.Is with
// ErrAuthFailed, ErrRecipientUnavailable, ErrThrottled, ErrInvalidContent); when only some
// parts were stored the error says how many.
func (c *StoreClient) Send(ctx context.Context, to, text string) error {
	if to == "" || strings.ContainsAny(to, "\r\n<>\"") {
		return fmt.Errorf("oim: Store2: invalid recipient %q", truncate(to, 60))
	}
	limit := c.MaxTextBytes
	if limit <= 0 {
		limit = DefaultMaxTextBytes
	}
	parts := message.SplitText(text, limit)
	if len(parts) == 0 {
		return fmt.Errorf("oim: Store2: empty message")
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	for i, p := range parts {
		if err := c.storeOne(ctx, to, p); err != nil {
			if len(parts) > 1 {
				return fmt.Errorf("oim: stored %d of %d parts: %w", i, len(parts), err)
			}
			return err
		}
	}
	return nil
}

func (c *StoreClient) storeOne(ctx context.Context, to, text string) error {
	c.mu.Lock()
	c.init()
	seq := c.seq[to] + 1
	c.mu.Unlock()
	for attempt := 0; ; attempt++ {
		_, err := withRenew(ctx, c.Renew, func() (*envelope, error) {
			c.mu.Lock()
			body := c.envelope(to, text, seq)
			c.mu.Unlock()
			return soapCall(ctx, c.HTTP, &c.Logger, "Store2", c.URL, ActionStore2, body)
		})
		if err == nil {
			c.mu.Lock()
			if c.seq[to] < seq {
				c.seq[to] = seq
			}
			c.mu.Unlock()
			return nil
		}
		var f *Fault
		if attempt > 0 || !errors.As(err, &f) || f.LockKeyChallenge == "" || c.Challenge == nil {
			return err
		}
		productID, answer := c.Challenge(f.LockKeyChallenge)
		c.Logger.Debug().Msg("OIM Store2 answered a lock-key challenge; retrying")
		c.mu.Lock()
		c.lockKey = answer
		if c.appID == "" {
			c.appID = productID
		}
		c.mu.Unlock()
	}
}

// envelope builds the Store2 request; c.mu is held.
func (c *StoreClient) envelope(to, text string, seq int) string {
	ver := c.ProtocolVersion
	if ver == 0 {
		ver = 15
	}
	build := c.BuildVer
	if build == "" {
		build = "8.5.1288"
	}
	var ticket string
	if c.Ticket != nil {
		ticket = c.Ticket()
	}
	n := strconv.Itoa(seq)
	return `<?xml version="1.0" encoding="utf-8"?>` +
		`<soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">` +
		`<soap:Header>` +
		`<From memberName="` + xmlEscape(c.Passport) + `" friendlyName="` + xmlEscape(EncodeFriendlyName(c.FriendlyName)) +
		`" xml:lang="en-US" proxy="MSNMSGR" xmlns="` + StoreNamespace + `" msnpVer="MSNP` + strconv.Itoa(ver) + `" buildVer="` + xmlEscape(build) + `"/>` +
		`<To memberName="` + xmlEscape(to) + `" xmlns="` + StoreNamespace + `"/>` +
		`<Ticket passport="` + xmlEscape(ticket) + `" appid="` + xmlEscape(c.appID) + `" lockkey="` + xmlEscape(c.lockKey) + `" xmlns="` + StoreNamespace + `"/>` +
		`<Sequence xmlns="http://schemas.xmlsoap.org/ws/2003/03/rm">` +
		`<Identifier xmlns="http://schemas.xmlsoap.org/ws/2002/07/utility">http://messenger.msn.com</Identifier>` +
		`<MessageNumber>` + n + `</MessageNumber></Sequence>` +
		`</soap:Header><soap:Body>` +
		`<MessageType xmlns="` + StoreNamespace + `">text</MessageType>` +
		`<Content xmlns="` + StoreNamespace + `">` + xmlEscape(Content(text, c.runID, seq)) + `</Content>` +
		`</soap:Body></soap:Envelope>`
}

// Content builds the MIME text of an OIM: the headers FACTS §8.3 lists and the UTF-8 text in
// base64 wrapped at 76 columns. Line breaks in text become CRLF.
func Content(text, runID string, seq int) string {
	var b strings.Builder
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n")
	b.WriteString("X-OIM-Message-Type: OfflineMessage\r\nX-OIM-Run-Id: " + runID + "\r\nX-OIM-Sequence-Num: " + strconv.Itoa(seq) + "\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(crlf(text)))
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	return b.String()
}

// EncodeFriendlyName renders a friendly name as one RFC 2047 encoded-word
// ("=?utf-8?B?…?="), truncated to 48 characters as MSNPSharp does.
func EncodeFriendlyName(name string) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	if utf8.RuneCountInString(name) > maxFriendlyRunes {
		r := []rune(name)
		name = string(r[:maxFriendlyRunes])
	}
	return "=?utf-8?B?" + base64.StdEncoding.EncodeToString([]byte(name)) + "?="
}

func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}
