package msntest

import (
	"strings"
	"time"
)

// SetTicketExpiry makes the SOAP services (address book, sharing, storage, RSI, OIM) check the
// expiry of the tickets they are given: only an unexpired SSO or Passport token (the login's or
// a renewed one) of an account with a live NS session is accepted; anything else gets 403.
// With Options.SSOTokenTTL / TWNTokenTTL short, tickets then expire quickly, as they do on a
// real server after a day. Off by default: any session's login token is accepted for ever.
func (s *Server) SetTicketExpiry(on bool) {
	s.mu.Lock()
	s.checkTicketExpiry = on
	s.mu.Unlock()
}

// ExpireTickets makes every SSO and Passport token issued so far to passport expire now (the
// NS session stays up). It returns how many tokens it ended. Only SetTicketExpiry(true)
// services notice.
func (s *Server) ExpireTickets(passport string) int {
	p := normPassport(passport)
	past := time.Now().Add(-time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, t := range s.ssoTokens {
		if t.passport == p && t.expires.After(past) {
			t.expires = past
			s.ssoTokens[k] = t
			n++
		}
	}
	for k, t := range s.twnTokens {
		if t.passport == p && t.expires.After(past) {
			t.expires = past
			s.twnTokens[k] = t
			n++
		}
	}
	return n
}

// accountByLiveToken is accountByToken when ticket expiry is checked (mu held).
func (s *Server) accountByLiveToken(tok string) *Account {
	now := time.Now()
	var passport string
	if t, ok := s.ssoTokens[tok]; ok && now.Before(t.expires) {
		passport = t.passport
	} else if t, ok := s.twnTokens[tok]; ok && now.Before(t.expires) {
		passport = t.passport
	}
	if passport == "" {
		return nil
	}
	for _, c := range s.sortedNS() {
		if c.acct != nil && strings.EqualFold(c.acct.passport, passport) {
			return c.acct
		}
	}
	return nil
}
