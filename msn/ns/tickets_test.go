package ns

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/auth"
	"github.com/msnbridge/msnbridge/msn/msntest"
)

// ticketServer is a fake server whose SOAP services check ticket expiry, with SSO tokens
// living ttl.
func ticketServer(t *testing.T, ttl time.Duration) *msntest.Server {
	t.Helper()
	quiet := zerolog.Nop()
	srv, err := msntest.New(msntest.Options{Logger: &quiet, SSOTokenTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	for _, a := range [][2]string{{"alice@example.com", "alicepass"}, {"carol@example.com", "carolpass"}} {
		if err := srv.AddAccount(a[0], a[1], a[0]); err != nil {
			t.Fatal(err)
		}
	}
	srv.SetTicketExpiry(true)
	return srv
}

func ticketLogin(t *testing.T, srv *msntest.Server, version int) *Session {
	t.Helper()
	u := srv.HTTPURL()
	cfg := Config{
		Server:   srv.NSAddr(),
		Versions: []int{version},
		Endpoints: Endpoints{Login: u + "/login", RST: u + "/RST.srf",
			Sharing: u + "/abservice/SharingService.asmx", AddressBook: u + "/abservice/abservice.asmx"},
		MachineGUID:    "{5E3EDFE5-440D-5132-A3F3-A7AE35275C64}",
		RequestTimeout: 10 * time.Second,
		LoginTimeout:   20 * time.Second,
		// The test server's tickets live seconds: allow renewals that often.
		MinTicketRenewal: 100 * time.Millisecond,
	}
	s, err := Login(context.Background(), cfg, "alice@example.com", "alicepass")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func waitRenewed(t *testing.T, s *Session, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-s.Done():
		t.Fatalf("session ended while waiting for a renewal: %v", s.Err())
	case <-time.After(30 * time.Second):
		t.Fatal("tickets not renewed in time")
	}
}

// TestTicketsRenewBeforeExpiry: SSO tickets that expire after 3 s are renewed before they do,
// without a new NS login, and the address book keeps working well past the first expiry.
func TestTicketsRenewBeforeExpiry(t *testing.T) {
	srv := ticketServer(t, 3*time.Second)
	s := ticketLogin(t, srv, 15)
	first := s.Ticket(auth.DomainContacts)
	firstExpiry := s.TicketsExpire()
	if firstExpiry.IsZero() {
		t.Fatal("SSO tickets without expiry")
	}
	for range 2 {
		waitRenewed(t, s, s.ticketsRenewed())
	}
	if !time.Now().After(firstExpiry) {
		// Two renewals each before 80 % of a 3 s lifetime end past the first expiry.
		t.Fatalf("two renewals done before the first tickets expired (%v)", firstExpiry)
	}
	if s.Ticket(auth.DomainContacts) == first || !s.TicketsExpire().After(firstExpiry) {
		t.Fatal("ticket not replaced by the renewal")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.AddContact(ctx, "carol@example.com"); err != nil {
		t.Fatalf("address book after the first tickets expired: %v", err)
	}
	if n := srv.Logins("alice@example.com"); n != 1 {
		t.Fatalf("%d NS logins, want the one session kept", n)
	}
	select {
	case <-s.Done():
		t.Fatalf("NS session dropped: %v", s.Err())
	default:
	}
}

// TestTicketsRenewOnAuthFault: a ticket the server stops accepting is renewed when the address
// book refuses it, and the call succeeds on the same NS session (SSO and Passport 1.4).
func TestTicketsRenewOnAuthFault(t *testing.T) {
	for _, v := range []int{13, 15, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := ticketServer(t, time.Hour)
			s := ticketLogin(t, srv, v)
			before := s.Ticket(auth.DomainContacts)
			if n := srv.ExpireTickets("alice@example.com"); n == 0 {
				t.Fatal("no ticket to expire")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := s.AddContact(ctx, "carol@example.com"); err != nil {
				t.Fatalf("AddContact with an expired ticket: %v", err)
			}
			if s.Ticket(auth.DomainContacts) == before {
				t.Error("ticket not renewed")
			}
			if n := srv.Logins("alice@example.com"); n != 1 {
				t.Errorf("%d NS logins, want one", n)
			}
		})
	}
}

// TestRenewAt: renewals happen a fifth of the lifetime (at most an hour) before expiry, spread.
func TestRenewAt(t *testing.T) {
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if !renewAt(issued, time.Time{}, rand.Int64N).IsZero() {
		t.Error("unknown expiry scheduled")
	}
	day := issued.Add(24 * time.Hour)
	if got := renewAt(issued, day, func(int64) int64 { return 0 }); !got.Equal(day.Add(-time.Hour)) {
		t.Errorf("24 h tickets renewed at %v, want an hour before expiry", got)
	}
	short := issued.Add(10 * time.Second)
	lo, hi := renewAt(issued, short, func(n int64) int64 { return n - 1 }), renewAt(issued, short, func(int64) int64 { return 0 })
	if !lo.Before(hi) || lo.Before(issued.Add(7*time.Second)) || !hi.Equal(issued.Add(8*time.Second)) {
		t.Errorf("10 s tickets renewed between %v and %v", lo, hi)
	}
}

// TestRenewalWaitFloor: however short the tickets' lifetime or however far the server's clock
// is ahead (renewal time already past), scheduled renewals never come closer than the floor.
func TestRenewalWaitFloor(t *testing.T) {
	for _, tc := range []struct{ untilDue, retry, want time.Duration }{
		{-time.Hour, 0, time.Minute},             // expiry in our past
		{750 * time.Millisecond, 0, time.Minute}, // 1 s tickets
		{time.Hour, 0, time.Hour},
		{time.Hour, time.Second, time.Minute}, // a quick retry after a failure
		{time.Hour, 5 * time.Minute, 5 * time.Minute},
	} {
		if got := renewalWait(tc.untilDue, tc.retry, time.Minute); got != tc.want {
			t.Errorf("renewalWait(%v, %v) = %v, want %v", tc.untilDue, tc.retry, got, tc.want)
		}
	}
}

// TestRenewalErrorsRedacted: a login service that echoes the password in its error text does
// not get it into the renewal's error (logged, and returned to the services' callers), and the
// error still matches its cause.
func TestRenewalErrorsRedacted(t *testing.T) {
	cause := fmt.Errorf("login: %w: server said: bad password s3cret-Passw0rd", auth.ErrBadCredentials)
	err := redacted(fmt.Errorf("msn: renewing the SSO tickets: %w", cause), "s3cret-Passw0rd")
	if strings.Contains(err.Error(), "s3cret-Passw0rd") || !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("error %q (is bad credentials: %v)", err, errors.Is(err, auth.ErrBadCredentials))
	}
}

// TestSSOTicketsKeptOnce: the server gives every domain the same 1.2 KB compact ticket; the
// session keeps the tickets later calls use as one copy (and the profile's MSPAuth, the same
// ticket without "t=", in it), not one per domain, and drops the domains nobody asks for.
func TestSSOTicketsKeptOnce(t *testing.T) {
	srv := ticketServer(t, time.Hour)
	s := ticketLogin(t, srv, 18)
	ck := s.Ticket(auth.DomainContacts)
	if !strings.HasPrefix(ck, "t=") || len(ck) < 1000 {
		t.Fatalf("contacts ticket %.40q… (%d bytes)", ck, len(ck))
	}
	for _, d := range []string{auth.DomainMessengerClear, "messenger.msn.com", auth.DomainMessengerSecure, auth.DomainStorage} {
		tk := s.Ticket(d)
		if tk != ck {
			t.Errorf("%s ticket differs from the contacts ticket", d)
		} else if unsafe.StringData(tk) != unsafe.StringData(ck) {
			t.Errorf("%s ticket is a copy of its own", d)
		}
	}
	mspauth := s.MSPAuth()
	if mspauth != ck[2:] || unsafe.StringData(mspauth) != unsafe.StringData(ck[2:]) {
		t.Errorf("MSPAuth %.20q… is not the kept ticket's bytes", mspauth)
	}
	if tk := s.Ticket("spaces.live.com"); tk != "" {
		t.Errorf("unused spaces.live.com ticket kept")
	}
	s.mu.Lock()
	n := len(s.tickets)
	s.mu.Unlock()
	if n != 5 {
		t.Errorf("%d tickets kept, want 5", n)
	}
}

// TestMergeTickets: a renewal replaces the tickets it returns and keeps the others.
func TestMergeTickets(t *testing.T) {
	old := []domainTicket{{"a", "1"}, {"b", "2"}}
	got := mergeTickets([]domainTicket{{"b", "3"}}, old)
	if len(got) != 2 || got[0] != (domainTicket{"b", "3"}) || got[1] != (domainTicket{"a", "1"}) {
		t.Fatalf("merged %v", got)
	}
}
