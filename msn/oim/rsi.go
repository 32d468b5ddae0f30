package oim

import (
	"cmp"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/rs/zerolog"
)

// RSI SOAP constants.
const (
	RSINamespace     = "http://www.hotmail.msn.com/ws/2004/09/oim/rsi"
	ActionGetMeta    = RSINamespace + "/GetMetadata"
	ActionGetMessage = RSINamespace + "/GetMessage"
	ActionDelete     = RSINamespace + "/DeleteMessages"
)

// MaxDeleteBatch bounds the ids sent in one DeleteMessages call.
const MaxDeleteBatch = 100

// RSIClient talks to the RSI web service (/rsi/rsi.asmx) that lists, fetches and deletes
// offline messages.
type RSIClient struct {
	// HTTP is the client used; nil means a default client with a 30 s timeout.
	HTTP *http.Client
	// URL is the service URL, e.g. "http://127.0.0.1:8081/rsi/rsi.asmx".
	URL string
	// Ticket returns the current messenger.msn.com ticket "t=…&p=…" (MSNP13/14: the TWN
	// ticket). It is split into the PassportCookie t and p elements.
	Ticket func() string
	// Renew, when set, fetches fresh tickets; a call refused for its ticket renews once and
	// is retried.
	Renew func(ctx context.Context) error
	// Logger receives debug lines (never tickets).
	Logger zerolog.Logger
}

// passportCookie splits a "t=…&p=…" ticket into its halves, as MSNPSharp does; a ticket
// without "t=" is all t.
func passportCookie(ticket string) (t, p string) {
	rest, ok := strings.CutPrefix(ticket, "t=")
	if !ok {
		return ticket, ""
	}
	t, p, _ = strings.Cut(rest, "&p=")
	return t, p
}

func (c *RSIClient) envelope(body string) string {
	var ticket string
	if c.Ticket != nil {
		ticket = c.Ticket()
	}
	t, p := passportCookie(ticket)
	return `<?xml version="1.0" encoding="utf-8"?>` +
		`<soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">` +
		`<soap:Header><PassportCookie xmlns="` + RSINamespace + `"><t>` + xmlEscape(t) + `</t><p>` + xmlEscape(p) + `</p></PassportCookie></soap:Header>` +
		`<soap:Body>` + body + `</soap:Body></soap:Envelope>`
}

// GetMetadata fetches the full Mail-Data list (needed when the notification said "too-large").
func (c *RSIClient) GetMetadata(ctx context.Context) (*MailData, error) {
	env, err := withRenew(ctx, c.Renew, func() (*envelope, error) {
		return soapCall(ctx, c.HTTP, &c.Logger, "GetMetadata", c.URL, ActionGetMeta,
			c.envelope(`<GetMetadata xmlns="`+RSINamespace+`"/>`))
	})
	if err != nil {
		return nil, err
	}
	md, err := parseMetadataBody(env.Body.Inner)
	if err != nil {
		return nil, fmt.Errorf("oim: GetMetadata: %w", err)
	}
	return md, nil
}

// parseMetadataBody reads <GetMetadataResponse> with <MD> either as child elements or as
// escaped text (some servers wrap it in GetMetadataResult).
func parseMetadataBody(inner []byte) (*MailData, error) {
	var r struct {
		Resp struct {
			MD     *xmlMD `xml:"MD"`
			Result struct {
				MD   *xmlMD `xml:"MD"`
				Text string `xml:",chardata"`
			} `xml:"GetMetadataResult"`
			Text string `xml:",chardata"`
		} `xml:"GetMetadataResponse"`
	}
	if err := xml.Unmarshal(wrapInner(inner), &r); err != nil {
		return nil, fmt.Errorf("%w: GetMetadata response: %v", ErrMalformed, err)
	}
	switch {
	case r.Resp.MD != nil:
		return convertMD(r.Resp.MD)
	case r.Resp.Result.MD != nil:
		return convertMD(r.Resp.Result.MD)
	}
	for _, s := range []string{r.Resp.Result.Text, r.Resp.Text} {
		if s = strings.TrimSpace(s); strings.HasPrefix(s, "<MD") {
			return ParseMailData([]byte(s))
		}
	}
	return nil, fmt.Errorf("%w: GetMetadata response without <MD>", ErrMalformed)
}

// wrapInner makes a document of a SOAP body's inner XML so it can be unmarshalled.
func wrapInner(inner []byte) []byte {
	b := make([]byte, 0, len(inner)+13)
	b = append(b, "<x>"...)
	b = append(b, inner...)
	return append(b, "</x>"...)
}

// GetMessageRaw fetches one message's RFC 822 text without marking it read.
func (c *RSIClient) GetMessageRaw(ctx context.Context, id string) ([]byte, error) {
	env, err := withRenew(ctx, c.Renew, func() (*envelope, error) {
		return soapCall(ctx, c.HTTP, &c.Logger, "GetMessage", c.URL, ActionGetMessage,
			c.envelope(`<GetMessage xmlns="`+RSINamespace+`"><messageId>`+xmlEscape(id)+`</messageId><alsoMarkAsRead>false</alsoMarkAsRead></GetMessage>`))
	})
	if err != nil {
		return nil, err
	}
	raw, err := parseGetMessageBody(env.Body.Inner)
	if err != nil {
		return nil, fmt.Errorf("oim: GetMessage %s: %w", truncate(id, 40), err)
	}
	return raw, nil
}

func parseGetMessageBody(inner []byte) ([]byte, error) {
	var r struct {
		Resp *struct {
			Result *string `xml:"GetMessageResult"`
		} `xml:"GetMessageResponse"`
	}
	if err := xml.Unmarshal(wrapInner(inner), &r); err != nil {
		return nil, fmt.Errorf("%w: GetMessage response: %v", ErrMalformed, err)
	}
	if r.Resp == nil || r.Resp.Result == nil {
		return nil, fmt.Errorf("%w: GetMessage response without GetMessageResult", ErrMalformed)
	}
	if len(*r.Resp.Result) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: message of %d bytes", ErrTooLarge, len(*r.Resp.Result))
	}
	return []byte(*r.Resp.Result), nil
}

// GetMessage fetches and decodes one message (alsoMarkAsRead=false).
func (c *RSIClient) GetMessage(ctx context.Context, id string) (*OfflineMessage, error) {
	raw, err := c.GetMessageRaw(ctx, id)
	if err != nil {
		return nil, err
	}
	return DecodeMessage(id, raw)
}

// DeleteMessages deletes the given messages, in batches of [MaxDeleteBatch].
func (c *RSIClient) DeleteMessages(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		batch := ids[:min(len(ids), MaxDeleteBatch)]
		ids = ids[len(batch):]
		var b strings.Builder
		b.WriteString(`<DeleteMessages xmlns="` + RSINamespace + `"><messageIds>`)
		for _, id := range batch {
			b.WriteString("<messageId>" + xmlEscape(id) + "</messageId>")
		}
		b.WriteString(`</messageIds></DeleteMessages>`)
		if _, err := withRenew(ctx, c.Renew, func() (*envelope, error) {
			return soapCall(ctx, c.HTTP, &c.Logger, "DeleteMessages", c.URL, ActionDelete, c.envelope(b.String()))
		}); err != nil {
			return err
		}
	}
	return nil
}

// FetchAll fetches every listed offline message and returns the ones fetched sorted by (Time,
// Seq). It deletes nothing: the caller deletes the messages with [RSIClient.DeleteMessages]
// (see [MessageIDs]) once it has handed them on, so a crash in between loses nothing (the
// messages are fetched again at the next login and the caller must de-duplicate them by ID).
// Messages that fail to fetch or decode are reported in the joined error; the returned messages
// are valid even when err is not nil. A message without a time of its own takes the Mail-Data
// received time.
func (c *RSIClient) FetchAll(ctx context.Context, list []MailMessage) ([]OfflineMessage, error) {
	var (
		out  []OfflineMessage
		errs []error
		seen = make(map[string]bool, len(list))
	)
	for _, mm := range list {
		if mm.ID == "" || seen[mm.ID] {
			continue
		}
		seen[mm.ID] = true
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		m, err := c.GetMessage(ctx, mm.ID)
		if err != nil {
			errs = append(errs, err)
			c.Logger.Warn().Str("oim_id", mm.ID).Err(err).Msg("Failed to fetch offline message")
			continue
		}
		if m.Time.IsZero() {
			m.Time = mm.Received
		}
		if m.From == "" {
			m.From = mm.From
		}
		if m.FromName == "" {
			m.FromName = mm.FromName
		}
		out = append(out, *m)
	}
	SortMessages(out)
	return out, errors.Join(errs...)
}

// MessageIDs returns the ids of ms, in order, for [RSIClient.DeleteMessages].
func MessageIDs(ms []OfflineMessage) []string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

// SortMessages orders messages by time, then sequence number, then id.
func SortMessages(ms []OfflineMessage) {
	slices.SortStableFunc(ms, func(a, b OfflineMessage) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Seq, b.Seq); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
