package oim_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/msntest"
	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/msn/oim"
)

const waitLimit = 10 * time.Second

var nop = zerolog.Nop()

func startServer(t *testing.T) *msntest.Server {
	t.Helper()
	srv, err := msntest.New(msntest.Options{Logger: &nop})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for _, a := range []struct{ passport, name string }{{"alice@example.com", "Alice Ünicode"}, {"bob@example.com", "Bob"}} {
		if err := srv.AddAccount(a.passport, "secret-"+a.passport, a.name); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range [][2]string{{"alice@example.com", "bob@example.com"}, {"bob@example.com", "alice@example.com"}} {
		if err := srv.AddContact(p[0], p[1], msntest.FL|msntest.AL|msntest.RL); err != nil {
			t.Fatal(err)
		}
	}
	return srv
}

// login logs passport in with the real NS client and returns the session and its events.
func login(t *testing.T, srv *msntest.Server, version int, passport string) (*ns.Session, chan ns.Event) {
	t.Helper()
	u := srv.HTTPURL()
	events := make(chan ns.Event, 256)
	cfg := ns.Config{
		Server:   srv.NSAddr(),
		Versions: []int{version},
		Endpoints: ns.Endpoints{
			Nexus: u + "/rdr/pprdr.asp", Login: u + "/login", RST: u + "/RST.srf",
			Sharing: u + "/abservice/SharingService.asmx", AddressBook: u + "/abservice/abservice.asmx",
			RSI: u + "/rsi/rsi.asmx", OIM: u + "/OimWS/oim.asmx",
		},
		MachineGUID: "{5E3EDFE5-440D-5132-A3F3-A7AE35275C64}",
		OnEvent: func(e ns.Event) {
			select {
			case events <- e:
			default:
			}
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	s, err := ns.Login(ctx, cfg, passport, "secret-"+passport)
	if err != nil {
		t.Fatalf("login %s on MSNP%d: %v", passport, version, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, events
}

func nextEvent[T ns.Event](t *testing.T, events chan ns.Event) T {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case e := <-events:
			if x, ok := e.(T); ok {
				return x
			}
		case <-deadline:
			var zero T
			t.Fatalf("no %T within %v", zero, waitLimit)
			return zero
		}
	}
}

// TestReceiveThroughFakeServer: offline messages waiting at login are announced in the initial
// Mail-Data, listed, fetched through RSI, decoded (sender, name, time, order) and deleted;
// one stored while online arrives as a notification and is fetched the same way.
func TestReceiveThroughFakeServer(t *testing.T) {
	for _, v := range []int{13, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t)
			t0 := time.Date(2026, 11, 22, 5, 24, 46, 0, time.UTC)
			texts := []string{"first: héllo", "second line one\nline two", "third 日本語"}
			// Stored out of time order: the client must sort them.
			for _, i := range []int{2, 0, 1} {
				if _, err := srv.QueueOfflineMessage("alice@example.com", "bob@example.com", texts[i], t0.Add(time.Duration(i)*time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			bob, events := login(t, srv, v, "bob@example.com")
			md := nextEvent[*ns.MailDataEvent](t, events)
			if !md.Initial {
				t.Fatal("first mail data is not the initial one")
			}
			list, tooLarge, err := oim.ParseMailDataPayload(md.Payload)
			if err != nil || tooLarge {
				t.Fatalf("mail data: %v too-large=%v", err, tooLarge)
			}
			rsi := &oim.RSIClient{
				HTTP:   &http.Client{Timeout: waitLimit},
				URL:    srv.HTTPURL() + "/rsi/rsi.asmx",
				Ticket: func() string { return bob.Ticket("messenger.msn.com") },
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			if meta, err := rsi.GetMetadata(ctx); err != nil || len(meta.OIMs()) != 3 {
				t.Fatalf("GetMetadata: %v", err)
			}
			if len(list.OIMs()) != 3 {
				t.Fatalf("listed %d offline messages", len(list.OIMs()))
			}
			got, err := rsi.FetchAll(ctx, list.OIMs())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 {
				t.Fatalf("fetched %d", len(got))
			}
			for i, m := range got {
				if m.Text != texts[i] || m.From != "alice@example.com" || m.FromName != "Alice Ünicode" || !m.Time.Equal(t0.Add(time.Duration(i)*time.Minute)) {
					t.Errorf("message %d: %+v", i, m)
				}
			}
			if left := srv.OfflineMessages("bob@example.com"); len(left) != 3 {
				t.Fatalf("%d of 3 messages left on the server after FetchAll, which must not delete", len(left))
			}
			if err := rsi.DeleteMessages(ctx, oim.MessageIDs(got)); err != nil {
				t.Fatal(err)
			}
			if left := srv.OfflineMessages("bob@example.com"); len(left) != 0 {
				t.Fatalf("%d messages left on the server after DeleteMessages", len(left))
			}

			// One more while Bob is online.
			if _, err := srv.QueueOfflineMessage("alice@example.com", "bob@example.com", "while you were busy", time.Now()); err != nil {
				t.Fatal(err)
			}
			var payload []byte
			switch e := nextEventOf(t, events).(type) {
			case *ns.OfflineMessageNotifyEvent:
				payload = e.Payload
			case *ns.MailDataEvent:
				payload = e.Payload
			}
			later, tooLarge, err := oim.ParseMailDataPayload(payload)
			if err != nil {
				t.Fatalf("notification: %v", err)
			}
			if tooLarge || len(later.OIMs()) == 0 {
				if later, err = rsi.GetMetadata(ctx); err != nil {
					t.Fatal(err)
				}
			}
			got, err = rsi.FetchAll(ctx, later.OIMs())
			if err != nil || len(got) != 1 || got[0].Text != "while you were busy" {
				t.Fatalf("later message: %+v %v", got, err)
			}
			if err := rsi.DeleteMessages(ctx, oim.MessageIDs(got)); err != nil {
				t.Fatal(err)
			}
			if left := srv.OfflineMessages("bob@example.com"); len(left) != 0 {
				t.Fatalf("%d messages left on the server", len(left))
			}
		})
	}
}

// nextEventOf waits for the next OIM notification or mail-data event.
func nextEventOf(t *testing.T, events chan ns.Event) ns.Event {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case e := <-events:
			switch e.(type) {
			case *ns.OfflineMessageNotifyEvent, *ns.MailDataEvent:
				return e
			}
		case <-deadline:
			t.Fatal("no offline message notification")
			return nil
		}
	}
}

// TestStore2ThroughFakeServer: an MSNP13 client sends offline messages with Store2; the first
// request (with no lock key) is answered with a LockKeyChallenge and retried with the lock key
// from the NS challenge algorithm (the fake server refuses an empty one); long text becomes several OIMs in order; Bob then fetches them.
func TestStore2ThroughFakeServer(t *testing.T) {
	srv := startServer(t)
	alice, _ := login(t, srv, 13, "alice@example.com")
	var logs bytes.Buffer // the clients below run on this goroutine only
	store := &oim.StoreClient{
		HTTP:            &http.Client{Timeout: waitLimit},
		URL:             srv.HTTPURL() + "/OimWS/oim.asmx",
		Ticket:          func() string { return alice.Ticket("messengersecure.live.com") },
		Passport:        alice.Passport(),
		FriendlyName:    alice.FriendlyName(),
		ProtocolVersion: alice.Version(),
		Challenge:       alice.ChallengeAnswer,
		MaxTextBytes:    100,
		Logger:          zerolog.New(&logs).Level(zerolog.TraceLevel),
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := store.Send(ctx, "bob@example.com", "see you tomorrow, Bob"); err != nil {
		t.Fatalf("Store2: %v", err)
	}
	long := ""
	for i := 0; i < 12; i++ {
		long += fmt.Sprintf("word%02d ünïcödé ", i)
	}
	if err := store.Send(ctx, "bob@example.com", long); err != nil {
		t.Fatalf("Store2 of long text: %v", err)
	}
	stored := srv.OfflineMessages("bob@example.com")
	if len(stored) < 3 || stored[0].Text != "see you tomorrow, Bob" || stored[0].From != "alice@example.com" || stored[0].FromName != "Alice Ünicode" {
		t.Fatalf("stored %+v", stored)
	}
	// (The fake server numbers stored messages itself: the client's run id and sequence
	// numbers are checked in TestStoreLockKeyAndSequence.)
	joined := ""
	for _, m := range stored[1:] {
		joined += m.Text
	}
	if joined != long {
		t.Fatalf("parts join to %q", joined)
	}

	// Bob reads them back in the order they were sent.
	bob, _ := login(t, srv, 13, "bob@example.com")
	rsi := &oim.RSIClient{
		HTTP:   &http.Client{Timeout: waitLimit},
		URL:    srv.HTTPURL() + "/rsi/rsi.asmx",
		Ticket: func() string { return bob.Ticket("messenger.msn.com") },
		Logger: zerolog.New(&logs).Level(zerolog.TraceLevel),
	}
	meta, err := rsi.GetMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rsi.FetchAll(ctx, meta.OIMs())
	if err != nil || len(got) != len(stored) {
		t.Fatalf("fetched %d of %d: %v", len(got), len(stored), err)
	}
	joined = ""
	for _, m := range got[1:] {
		joined += m.Text
	}
	if got[0].Text != "see you tomorrow, Bob" || joined != long {
		t.Fatalf("read back %+v", got)
	}

	// Tickets never reach the log (which did record the calls).
	if !strings.Contains(logs.String(), "lock-key") || !strings.Contains(logs.String(), "GetMetadata") {
		t.Fatalf("log lacks the Store2/RSI lines:\n%s", logs.String())
	}
	for _, tk := range []string{alice.Ticket("messengersecure.live.com"), bob.Ticket("messenger.msn.com")} {
		tp, _, _ := strings.Cut(strings.TrimPrefix(tk, "t="), "&p=")
		if len(tp) < 8 || strings.Contains(logs.String(), tp) {
			t.Fatalf("ticket %q empty or in the log", tp)
		}
	}

	// An unknown recipient is a typed fault.
	if err := store.Send(ctx, "nobody@example.com", "hello?"); !errors.Is(err, oim.ErrRecipientUnavailable) {
		t.Fatalf("Store2 to an unknown account: %v", err)
	}
}

// TestTooLargeMailData: with more offline messages than the initial notification lists, the
// notification says "too-large"; GetMetadata must still return the full list, and all of them
// are fetched in time order and deleted.
func TestTooLargeMailData(t *testing.T) {
	const n = 30
	srv := startServer(t)
	t0 := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	for k := 0; k < n; k++ {
		i := (k * 7) % n // stored out of time order
		if _, err := srv.QueueOfflineMessage("alice@example.com", "bob@example.com", fmt.Sprintf("message %02d", i), t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	bob, events := login(t, srv, 18, "bob@example.com")
	md := nextEvent[*ns.MailDataEvent](t, events)
	if _, tooLarge, err := oim.ParseMailDataPayload(md.Payload); err != nil || !tooLarge {
		t.Fatalf("initial mail data with %d messages: too-large=%v err=%v", n, tooLarge, err)
	}
	rsi := &oim.RSIClient{
		HTTP:   &http.Client{Timeout: waitLimit},
		URL:    srv.HTTPURL() + "/rsi/rsi.asmx",
		Ticket: func() string { return bob.Ticket("messenger.msn.com") },
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	meta, err := rsi.GetMetadata(ctx)
	if err != nil {
		t.Fatalf("GetMetadata: %v", err)
	}
	if len(meta.OIMs()) != n {
		t.Fatalf("GetMetadata listed %d of %d", len(meta.OIMs()), n)
	}
	got, err := rsi.FetchAll(ctx, meta.OIMs())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("fetched %d of %d", len(got), n)
	}
	for i, m := range got {
		if want := fmt.Sprintf("message %02d", i); m.Text != want || !m.Time.Equal(t0.Add(time.Duration(i)*time.Minute)) {
			t.Fatalf("message %d: %q at %v, want %q", i, m.Text, m.Time, want)
		}
	}
	if err := rsi.DeleteMessages(ctx, oim.MessageIDs(got)); err != nil {
		t.Fatal(err)
	}
	if left := srv.OfflineMessages("bob@example.com"); len(left) != 0 {
		t.Fatalf("%d messages left on the server", len(left))
	}
}
