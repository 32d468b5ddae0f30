package ns

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/msnbridge/msnbridge/msn/auth"
)

// Ticket renewal bounds.
const (
	// maxRenewMargin is the most a renewal happens before the tickets expire.
	maxRenewMargin = time.Hour
	// minRenewGap: a renewal asked for within this time of the last one (e.g. by several
	// requests failing with the same expired ticket) is not repeated.
	minRenewGap = 5 * time.Second
	// renewRetryMax bounds the wait before retrying a failed renewal.
	renewRetryMax = 5 * time.Minute
	// renewTimeout bounds one renewal.
	renewTimeout = time.Minute
)

// keptTicketDomains are the SSO domains whose tickets the session keeps after login: the ones a
// later call asks Ticket for (address book, offline messages, storage), and the login's own.
// The login also gets tickets nothing uses later (sup.live.com, spaces.live.com): dropped.
var keptTicketDomains = [...]string{
	auth.DomainMessengerClear, auth.DomainContacts, auth.DomainMessengerWeb, auth.DomainMessengerSecure, auth.DomainStorage,
}

// domainTicket is one kept SSO ticket.
type domainTicket struct{ domain, ticket string }

// ssoTickets keeps the tickets of tokens worth keeping (keptTicketDomains), in that order. The
// domains are the constants; equal tickets (a server gives every domain the same compact
// ticket, some 1.2 KB long) share one copy, made so that the reply's memory is not kept.
func ssoTickets(tokens map[string]auth.Token) []domainTicket {
	out := make([]domainTicket, 0, len(keptTicketDomains))
	for _, d := range keptTicketDomains {
		t, ok := tokens[d]
		if !ok || t.Ticket == "" {
			continue
		}
		v := ""
		for _, o := range out {
			if o.ticket == t.Ticket {
				v = o.ticket
				break
			}
		}
		if v == "" {
			v = strings.Clone(t.Ticket)
		}
		out = append(out, domainTicket{domain: d, ticket: v})
	}
	return slices.Clip(out)
}

// mergeTickets is the renewed tickets, plus the old ones of domains the renewal did not return.
func mergeTickets(renewed, old []domainTicket) []domainTicket {
	out := renewed
	for _, o := range old {
		if !slices.ContainsFunc(renewed, func(n domainTicket) bool { return n.domain == o.domain }) {
			out = append(out, o)
		}
	}
	return slices.Clip(out)
}

// ticketLocked returns the SSO ticket of domain, or "". s.mu must be held.
func (s *Session) ticketLocked(domain string) (string, bool) {
	for _, t := range s.tickets {
		if t.domain == domain {
			return t.ticket, true
		}
	}
	return "", false
}

// sharedMSPAuthLocked returns a copy of v or, when a kept ticket is "t=" + v, that ticket's
// copy of it (the login profile's MSPAuth is the compact ticket without its "t="). s.mu must
// be held.
func (s *Session) sharedMSPAuthLocked(v string) string {
	for _, t := range s.tickets {
		if rest, ok := strings.CutPrefix(t.ticket, "t="); ok && rest == v {
			return rest
		}
	}
	return strings.Clone(v)
}

// ticketRenewal holds what renewing the HTTP tickets needs. The password is kept in memory only
// for that and never logged.
type ticketRenewal struct {
	mu        sync.Mutex // serialises renewals
	method    string     // "TWN" or "SSO"; "" when the login used no tickets (MD5)
	password  string
	challenge string // the TWN challenge of the login
	policy    string // the SSO policy of the login

	// Guarded by Session.mu:
	issued, expires time.Time     // of the current tickets; expires zero when unknown
	renewedAt       time.Time     // last successful renewal
	renewed         chan struct{} // closed and replaced at each renewal
}

// rememberTickets records the login's credentials and tickets for later renewals.
func (s *Session) rememberTickets(method, password, challengeOrPolicy string, expires time.Time) {
	r := &s.renewal
	r.mu.Lock()
	r.method, r.password = method, password
	if method == "TWN" {
		r.challenge = challengeOrPolicy
	} else {
		r.policy = challengeOrPolicy
	}
	r.mu.Unlock()
	s.mu.Lock()
	r.issued, r.expires = time.Now(), expires
	if r.renewed == nil {
		r.renewed = make(chan struct{})
	}
	s.mu.Unlock()
}

// earliestExpiry is the soonest expiry among tokens (zero when none has one).
func earliestExpiry(tokens map[string]auth.Token) time.Time {
	var first time.Time
	for _, t := range tokens {
		if !t.Expires.IsZero() && (first.IsZero() || t.Expires.Before(first)) {
			first = t.Expires
		}
	}
	return first
}

// TicketsExpire returns when the session's HTTP tickets expire; zero when unknown (Passport 1.4
// tickets carry no expiry) or when the login used none.
func (s *Session) TicketsExpire() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.renewal.expires
}

// ticketsRenewed returns a channel closed at the next successful renewal.
func (s *Session) ticketsRenewed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.renewal.renewed == nil {
		s.renewal.renewed = make(chan struct{})
	}
	return s.renewal.renewed
}

// RenewTickets fetches fresh HTTP tickets (SSO tokens on MSNP15+, a Passport 1.4 ticket on
// MSNP8–14) with the login's credentials, for the address book, offline-message and storage
// services. The NS connection is not touched. A renewal asked for right after another one
// (several requests failing with the same expired ticket) returns at once.
func (s *Session) RenewTickets(ctx context.Context) error {
	return s.renewTickets(ctx, false)
}

// redactedError is an error whose text has the password removed (auth.Redact); errors.Is and
// errors.As still see the cause. A login service may echo what it was sent.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redacted wraps err so that its text never carries password; the renewal's errors are logged
// and returned to the address-book and offline-message callers, as the login's are redacted.
func redacted(err error, password string) error {
	return &redactedError{msg: auth.Redact(err.Error(), password), err: err}
}

// renewTickets renews; unless forced (the scheduled renewal), not again within minRenewGap.
func (s *Session) renewTickets(ctx context.Context, force bool) error {
	r := &s.renewal
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.method == "" {
		return fmt.Errorf("msn: no tickets to renew: %w", ErrNotSupported)
	}
	select {
	case <-s.done:
		return ErrClosed
	default:
	}
	s.mu.Lock()
	recent := !force && !r.renewedAt.IsZero() && time.Since(r.renewedAt) < minRenewGap
	s.mu.Unlock()
	if recent {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, renewTimeout)
	defer cancel()
	var (
		tickets []domainTicket
		twn     string
		expires time.Time
	)
	switch r.method {
	case "TWN":
		p := &auth.Passport{HTTP: s.cfg.HTTPClient, NexusURL: s.cfg.Endpoints.Nexus, LoginURL: s.cfg.Endpoints.Login, AllowedHosts: s.cfg.Endpoints.hosts()}
		t, err := p.TWN(ctx, s.passport, r.password, r.challenge)
		if err != nil {
			return redacted(fmt.Errorf("msn: renewing the passport ticket: %w", err), r.password)
		}
		twn = t
	case "SSO":
		sso := &auth.SSO{HTTP: s.cfg.HTTPClient, URL: s.cfg.Endpoints.RST, AllowedHosts: s.cfg.Endpoints.hosts()}
		res, err := sso.Login(ctx, s.passport, r.password, r.policy)
		if err != nil {
			return redacted(fmt.Errorf("msn: renewing the SSO tickets: %w", err), r.password)
		}
		tickets = ssoTickets(res.Tokens)
		expires = earliestExpiry(res.Tokens)
	}
	s.mu.Lock()
	if twn != "" {
		s.twnTicket = twn
	}
	s.tickets = mergeTickets(tickets, s.tickets)
	now := time.Now()
	r.issued, r.expires, r.renewedAt = now, expires, now
	close(r.renewed)
	r.renewed = make(chan struct{})
	s.mu.Unlock()
	s.logger().Info().Time("expires", expires).Msg("HTTP tickets renewed")
	return nil
}

// renewAt is when tickets issued at issued and expiring at expires are renewed: a fifth of
// their lifetime (at most maxRenewMargin) before expiry, minus up to a tenth of it at random so
// that the logins of a bridge do not renew together. Zero when the expiry is unknown.
func renewAt(issued, expires time.Time, randN func(int64) int64) time.Time {
	if expires.IsZero() || !expires.After(issued) {
		return time.Time{}
	}
	life := expires.Sub(issued)
	at := expires.Add(-min(life/5, maxRenewMargin))
	if spread := int64(life / 10); spread > 0 {
		at = at.Add(-time.Duration(randN(spread)))
	}
	return at
}

// startTicketRenewal renews the tickets before they expire until the session ends, on a timer
// (no goroutine waits in between). Tickets without a known expiry are renewed only on an
// authentication fault (see the abch and oim Renew hooks).
func (s *Session) startTicketRenewal() { s.scheduleRenewal(0) }

// scheduleRenewal arms the renewal timer: at the renewal time, or after retry when > 0.
func (s *Session) scheduleRenewal(retry time.Duration) {
	s.mu.Lock()
	issued, expires := s.renewal.issued, s.renewal.expires
	s.mu.Unlock()
	at := renewAt(issued, expires, rand.Int64N)
	if at.IsZero() {
		return
	}
	wait := renewalWait(time.Until(at), retry, s.cfg.MinTicketRenewal)
	s.ka.mu.Lock()
	defer s.ka.mu.Unlock()
	if s.ka.stopped {
		return
	}
	s.ka.renew = time.AfterFunc(wait, func() { s.renewDue(issued, expires) })
}

// renewalWait is the wait before the next renewal: until the renewal time (or retry when > 0),
// never below floor. Tickets the server gives a tiny lifetime, or an expiry its clock puts in
// our past, would otherwise send the password again in a tight loop.
func renewalWait(untilDue, retry, floor time.Duration) time.Duration {
	wait := untilDue
	if retry > 0 {
		wait = retry
	}
	return max(wait, floor)
}

// renewDue renews the tickets once and schedules the next renewal or a retry.
func (s *Session) renewDue(issued, expires time.Time) {
	select {
	case <-s.done:
		return
	default:
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := s.renewTickets(ctx, true)
	cancel()
	switch {
	case err == nil:
		s.scheduleRenewal(0)
	case errors.Is(err, ErrClosed):
	default:
		life := expires.Sub(issued)
		retry := min(max(life/10, time.Second), renewRetryMax)
		if errors.Is(err, auth.ErrBadCredentials) {
			retry = renewRetryMax
		}
		s.logger().Warn().Err(err).Dur("retry_in", retry).Msg("renewing HTTP tickets failed")
		s.scheduleRenewal(retry)
	}
}
