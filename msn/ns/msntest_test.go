package ns_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/auth"
	"github.com/msnbridge/msnbridge/msn/msntest"
	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/msn/oim"
)

const wait = 5 * time.Second

func startServer(t *testing.T) *msntest.Server {
	t.Helper()
	quiet := zerolog.Nop()
	srv, err := msntest.New(msntest.Options{Logger: &quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for _, a := range [][3]string{{"alice@example.com", "alicepass", "Alice"}, {"bob@example.com", "bobpass", "Bob"}} {
		if err := srv.AddAccount(a[0], a[1], a[2]); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.AddContact("alice@example.com", "bob@example.com", msntest.FL|msntest.AL); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddContact("bob@example.com", "alice@example.com", msntest.FL|msntest.AL); err != nil {
		t.Fatal(err)
	}
	return srv
}

func clientConfig(srv *msntest.Server, version int, events chan ns.Event) ns.Config {
	u := srv.HTTPURL()
	return ns.Config{
		Server:   srv.NSAddr(),
		Versions: []int{version},
		Endpoints: ns.Endpoints{
			Login: u + "/login", RST: u + "/RST.srf",
			Sharing: u + "/abservice/SharingService.asmx", AddressBook: u + "/abservice/abservice.asmx",
			RSI: u + "/rsi/rsi.asmx", OIM: u + "/OimWS/oim.asmx",
		},
		MachineGUID:    "{5E3EDFE5-440D-5132-A3F3-A7AE35275C64}",
		RequestTimeout: 5 * time.Second,
		LoginTimeout:   15 * time.Second,
		OnEvent: func(e ns.Event) {
			select {
			case events <- e:
			default:
			}
		},
	}
}

func next[T ns.Event](t *testing.T, events chan ns.Event, match func(T) bool) T {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case e := <-events:
			if x, ok := e.(T); ok && match(x) {
				return x
			}
		case <-deadline:
			var zero T
			t.Fatalf("no matching %T within %v", zero, wait)
			return zero
		}
	}
}

// TestFullLoginThroughFakeServer logs in through the fake server for each auth family and
// list era, then checks the contact list and a contact's presence and personal message.
func TestFullLoginThroughFakeServer(t *testing.T) {
	for _, v := range []int{7, 8, 12, 13, 15, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t)
			if err := srv.SetPresence("bob@example.com", "BSY"); err != nil {
				t.Fatal(err)
			}
			if err := srv.SetPersonalMessage("bob@example.com", "at work & busy"); err != nil {
				t.Fatal(err)
			}
			events := make(chan ns.Event, 256)
			ctx := context.Background()
			s, err := ns.Login(ctx, clientConfig(srv, v, events), "alice@example.com", "alicepass")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Version() != v {
				t.Fatalf("version %d", s.Version())
			}
			bob, ok := s.Contact("bob@example.com")
			if !ok || bob.Lists&(ns.FL|ns.AL) != ns.FL|ns.AL {
				t.Fatalf("bob %+v (contacts %+v)", bob, s.Contacts())
			}
			p := next(t, events, func(e *ns.PresenceEvent) bool { return e.Contact.Passport == "bob@example.com" })
			if p.Contact.Status != ns.Busy || p.Self {
				t.Errorf("presence %+v", p)
			}
			if v >= 11 {
				pr := next(t, events, func(e *ns.ProfileEvent) bool { return e.Passport == "bob@example.com" && e.PersonalMessage != "" })
				if pr.PersonalMessage != "at work & busy" {
					t.Errorf("PSM %q", pr.PersonalMessage)
				}
			}
			// A rename arrives as NLN with the new name.
			if err := srv.SetFriendlyName("bob@example.com", "Bobby Tables"); err != nil {
				t.Fatal(err)
			}
			next(t, events, func(e *ns.ProfileEvent) bool {
				return e.Passport == "bob@example.com" && e.FriendlyName == "Bobby Tables"
			})
			if c, _ := s.Contact("bob@example.com"); c.FriendlyName != "Bobby Tables" {
				t.Errorf("name after rename %q", c.FriendlyName)
			}
			// A later status change arrives as NLN.
			if err := srv.SetPresence("bob@example.com", "AWY"); err != nil {
				t.Fatal(err)
			}
			next(t, events, func(e *ns.PresenceEvent) bool {
				return e.Contact.Passport == "bob@example.com" && e.Contact.Status == ns.Away
			})
			if err := srv.SetPresence("bob@example.com", "FLN"); err != nil {
				t.Fatal(err)
			}
			next(t, events, func(e *ns.PresenceEvent) bool {
				return e.Contact.Passport == "bob@example.com" && e.Contact.Status == ns.Offline
			})
			if v >= 11 {
				if err := s.SetPersonalMessage(ctx, "hello from the bridge"); err != nil {
					t.Fatal(err)
				}
				if got := srv.PersonalMessage("alice@example.com"); got != "hello from the bridge" {
					t.Errorf("server PSM %q", got)
				}
			}
			if err := s.SetFriendlyName(ctx, "Alice Bridge"); err != nil {
				t.Fatal(err)
			}
			if got := srv.FriendlyName("alice@example.com"); got != "Alice Bridge" {
				t.Errorf("server name %q", got)
			}
			tk, err := s.RequestSwitchboard(ctx)
			if err != nil || tk.Addr == "" || tk.Cookie == "" {
				t.Errorf("switchboard %+v %v", tk, err)
			}
		})
	}
}

func TestWrongPasswordThroughFakeServer(t *testing.T) {
	for _, v := range []int{7, 8, 13, 15, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t)
			_, err := ns.Login(context.Background(), clientConfig(srv, v, make(chan ns.Event, 8)), "alice@example.com", "wrong")
			if !errors.Is(err, auth.ErrBadCredentials) {
				t.Fatalf("err %v", err)
			}
		})
	}
}

func TestSignedInElsewhereThroughFakeServer(t *testing.T) {
	srv := startServer(t)
	events := make(chan ns.Event, 64)
	s, err := ns.Login(context.Background(), clientConfig(srv, 12, events), "alice@example.com", "alicepass")
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.Kick("alice@example.com", "OTH"); n != 1 {
		t.Fatalf("kicked %d", n)
	}
	d := next(t, events, func(*ns.DisconnectEvent) bool { return true })
	if !errors.Is(d.Err, ns.ErrSignedInElsewhere) || !errors.Is(s.Err(), ns.ErrSignedInElsewhere) {
		t.Fatalf("disconnect %v", d.Err)
	}
}

func TestAddedByThroughFakeServer(t *testing.T) {
	for _, v := range []int{8, 12, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t)
			if err := srv.AddAccount("carol@example.com", "carolpass", "Carol"); err != nil {
				t.Fatal(err)
			}
			events := make(chan ns.Event, 64)
			s, err := ns.Login(context.Background(), clientConfig(srv, v, events), "alice@example.com", "alicepass")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := srv.AddedBy("alice@example.com", "carol@example.com"); err != nil {
				t.Fatal(err)
			}
			a := next(t, events, func(*ns.AddedByEvent) bool { return true })
			if a.Passport != "carol@example.com" {
				t.Errorf("added by %+v", a)
			}
			if err := s.AcceptAddedBy(context.Background(), "carol@example.com", true); err != nil {
				t.Fatal(err)
			}
			if l := srv.Lists("alice@example.com", "carol@example.com"); l&(msntest.FL|msntest.AL) != msntest.FL|msntest.AL {
				t.Errorf("server lists %05b", l)
			}
		})
	}
}

// TestListOperationsThroughFakeServer adds, blocks, unblocks and removes a contact on each
// list era (ADD ≤ 9, ADC 10–12, ABCH + ADL/RML 13+) and checks the server's lists.
func TestListOperationsThroughFakeServer(t *testing.T) {
	for _, v := range []int{8, 12, 13, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t)
			if err := srv.AddAccount("carol@example.com", "carolpass", "Carol"); err != nil {
				t.Fatal(err)
			}
			events := make(chan ns.Event, 256)
			ctx := context.Background()
			s, err := ns.Login(ctx, clientConfig(srv, v, events), "alice@example.com", "alicepass")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			const fa = msntest.FL | msntest.AL
			if err := s.AddContact(ctx, "Carol@example.com"); err != nil {
				t.Fatal(err)
			}
			if l := srv.Lists("alice@example.com", "carol@example.com"); l&fa != fa {
				t.Fatalf("after add: server lists %05b", l)
			}
			if c, _ := s.Contact("carol@example.com"); c.Lists&(ns.FL|ns.AL) != ns.FL|ns.AL {
				t.Errorf("after add: client lists %v", c.Lists)
			}
			next(t, events, func(e *ns.ListChangeEvent) bool { return e.Passport == "carol@example.com" && e.Added&ns.FL != 0 })
			if err := s.Block(ctx, "carol@example.com"); err != nil {
				t.Fatal(err)
			}
			if l := srv.Lists("alice@example.com", "carol@example.com"); l&msntest.BL == 0 || l&msntest.AL != 0 {
				t.Fatalf("after block: server lists %05b", l)
			}
			if err := s.Unblock(ctx, "carol@example.com"); err != nil {
				t.Fatal(err)
			}
			if l := srv.Lists("alice@example.com", "carol@example.com"); l&msntest.BL != 0 || l&msntest.AL == 0 {
				t.Fatalf("after unblock: server lists %05b", l)
			}
			if err := s.RemoveContact(ctx, "carol@example.com"); err != nil {
				t.Fatal(err)
			}
			if l := srv.Lists("alice@example.com", "carol@example.com"); l&msntest.FL != 0 {
				t.Fatalf("after remove: server lists %05b", l)
			}
			if c, _ := s.Contact("carol@example.com"); c.Lists&ns.FL != 0 {
				t.Errorf("after remove: client lists %v", c.Lists)
			}
		})
	}
}

// TestSlowEventHandlerDoesNotStallRequests blocks OnEvent and checks that replies still flow.
func TestSlowEventHandlerDoesNotStallRequests(t *testing.T) {
	srv := startServer(t)
	release := make(chan struct{})
	cfg := clientConfig(srv, 12, nil)
	cfg.OnEvent = func(ns.Event) { <-release }
	ctx := context.Background()
	s, err := ns.Login(ctx, cfg, "alice@example.com", "alicepass")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { close(release); s.Close() }()
	for i, st := range []string{"AWY", "NLN", "BSY", "IDL"} {
		if err := srv.SetPresence("bob@example.com", st); err != nil {
			t.Fatal(err)
		}
		if err := s.SetStatus(ctx, ns.Away); err != nil {
			t.Fatalf("request %d with a blocked event handler: %v", i, err)
		}
	}
	if c, _ := s.Contact("bob@example.com"); c.Status != ns.Idle {
		t.Errorf("state not updated while events wait: %v", c.Status)
	}
}

// TestLogsCarryNoSecrets logs at trace level through whole sessions and checks that no
// password, hash, ticket or MSPAuth value reaches the log, while the fields are there.
func TestLogsCarryNoSecrets(t *testing.T) {
	for _, v := range []int{7, 8, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t)
			var buf syncBuffer
			cfg := clientConfig(srv, v, make(chan ns.Event, 64))
			cfg.Logger = zerolog.New(&buf).Level(zerolog.TraceLevel)
			ctx := context.Background()
			s, err := ns.Login(ctx, cfg, "alice@example.com", "alicepass")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.RequestSwitchboard(ctx); err != nil {
				t.Fatal(err)
			}
			secrets := []string{"alicepass", s.MSPAuth()}
			if tk := s.Ticket(auth.DomainMessengerClear); tk != "" {
				secrets = append(secrets, tk)
			}
			s.Close()
			out := buf.String()
			if !strings.Contains(out, `"passport":"alice@example.com"`) || !strings.Contains(out, fmt.Sprintf(`"version":%d`, v)) {
				t.Errorf("log lacks passport/version fields:\n%s", truncateLog(out))
			}
			for _, sec := range secrets {
				if len(sec) >= 8 && strings.Contains(out, sec) {
					t.Errorf("secret %q…%q in the log", sec[:4], sec[len(sec)-4:])
				}
			}
			if strings.Contains(out, "MD5 S") && v <= 7 {
				for _, line := range strings.Split(out, "\n") {
					if strings.Contains(line, "USR") && strings.Contains(line, "MD5 S") && !strings.Contains(line, "***") && strings.Contains(line, `"send"`) {
						t.Errorf("MD5 answer logged: %s", line)
					}
				}
			}
		})
	}
}

func truncateLog(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestChallengeThroughFakeServer has the fake server send CHL and verify our QRY with the
// version's algorithm (a wrong answer is 540 and a closed connection).
func TestChallengeThroughFakeServer(t *testing.T) {
	for _, v := range []int{8, 11, 15, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t)
			qry := make(chan struct{}, 1)
			srv.OnCommand(func(e msntest.CommandEvent) {
				if e.Command != nil && e.Command.Name == "QRY" {
					select {
					case qry <- struct{}{}:
					default:
					}
				}
			})
			events := make(chan ns.Event, 64)
			ctx := context.Background()
			s, err := ns.Login(ctx, clientConfig(srv, v, events), "alice@example.com", "alicepass")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := srv.SendChallenge("alice@example.com"); err != nil {
				t.Fatal(err)
			}
			select {
			case <-qry:
			case <-time.After(wait):
				t.Fatal("no QRY")
			}
			// The server handles commands in order: had the answer been wrong, it would have
			// closed the connection before answering this CHG.
			if err := s.SetStatus(ctx, ns.Busy); err != nil {
				t.Fatalf("after QRY: %v", err)
			}
		})
	}
}

func TestHiddenSwitchboardThroughFakeServer(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	s, err := ns.Login(ctx, clientConfig(srv, 8, make(chan ns.Event, 64)), "alice@example.com", "alicepass")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetStatus(ctx, ns.Hidden); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RequestSwitchboard(ctx); !errors.Is(err, ns.ErrNotAllowedWhileHidden) {
		t.Fatalf("err %v", err)
	}
	if err := s.SetStatus(ctx, ns.Online); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RequestSwitchboard(ctx); err != nil {
		t.Fatalf("after NLN: %v", err)
	}
}

// TestOfflineTextThroughFakeServer sends an MSNP18 UUM to an offline contact; the server
// stores it as an offline message (and answers nothing, as the real one).
func TestOfflineTextThroughFakeServer(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	s, err := ns.Login(ctx, clientConfig(srv, 18, make(chan ns.Event, 64)), "alice@example.com", "alicepass")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SendOfflineText(ctx, "bob@example.com", "see you tomorrow"); err != nil {
		t.Fatal(err)
	}
	// A round trip after the UUM proves the server has handled it.
	if err := s.SetStatus(ctx, ns.Online); err != nil {
		t.Fatal(err)
	}
	oims := srv.OfflineMessages("bob@example.com")
	if len(oims) != 1 || oims[0].Text != "see you tomorrow" || oims[0].From != "alice@example.com" {
		t.Fatalf("stored %+v", oims)
	}
}

// mixedScriptText returns n runes of Latin (with accents), CJK, emoji (a ZWJ family, a flag,
// skin tones) and line breaks: the cases where a byte-based cut would break a character.
func mixedScriptText(n int) string {
	pieces := []string{"Grüße aus Köln, ", "日本語のテキスト、", "👨‍👩‍👧‍👦", "🇫🇷", "👍🏽 ", "e\u0301", "\n", "Ελληνικά ", "中文字符 ", "ok. "}
	var b strings.Builder
	count := 0
	for i := 0; count < n; i++ {
		for _, r := range pieces[i%len(pieces)] {
			if count == n {
				break
			}
			b.WriteRune(r)
			count++
		}
	}
	return b.String()
}

// TestLongOfflineTextSplitAndReceivedWhole: a 5,000-character mixed-script text to an offline
// contact on MSNP18 goes out as several UUMs, in order, each within the 1664-byte limit and cut
// between characters; the server stores every one, and the contact later fetches them as
// consecutive offline messages that join to the whole text.
func TestLongOfflineTextSplitAndReceivedWhole(t *testing.T) {
	srv := startServer(t)
	var mu sync.Mutex
	var uums [][]byte
	srv.OnCommand(func(e msntest.CommandEvent) {
		if e.Command != nil && e.Command.Name == "UUM" && e.Passport == "alice@example.com" {
			mu.Lock()
			uums = append(uums, append([]byte(nil), e.Command.Payload...))
			mu.Unlock()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*wait)
	defer cancel()
	alice, err := ns.Login(ctx, clientConfig(srv, 18, make(chan ns.Event, 64)), "alice@example.com", "alicepass")
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	text := mixedScriptText(5000)
	if err := alice.SendOfflineText(ctx, "bob@example.com", text); err != nil {
		t.Fatal(err)
	}
	// A round trip after the UUMs proves the server has handled them.
	if err := alice.SetStatus(ctx, ns.Online); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	sent := uums
	mu.Unlock()
	if len(sent) < 4 {
		t.Fatalf("%d UUMs for %d bytes of text", len(sent), len(text))
	}
	var joined strings.Builder
	for i, p := range sent {
		if len(p) > 1664 {
			t.Errorf("UUM %d: %d bytes", i, len(p))
		}
		_, body, ok := strings.Cut(string(p), "\r\n\r\n")
		if !ok || !utf8.ValidString(body) || !strings.Contains(string(p), "Dest-Agent: client\r\n") {
			t.Fatalf("UUM %d: malformed payload %q", i, p[:min(len(p), 120)])
		}
		joined.WriteString(strings.ReplaceAll(body, "\r\n", "\n"))
	}
	if joined.String() != text {
		t.Fatal("the UUM bodies do not join to the text")
	}
	if stored := srv.OfflineMessages("bob@example.com"); len(stored) != len(sent) {
		t.Fatalf("server stored %d of %d UUMs", len(stored), len(sent))
	}

	// Bob signs in later and reads them back in order.
	bob, err := ns.Login(ctx, clientConfig(srv, 18, make(chan ns.Event, 64)), "bob@example.com", "bobpass")
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	rsi := &oim.RSIClient{
		HTTP:   &http.Client{Timeout: wait},
		URL:    srv.HTTPURL() + "/rsi/rsi.asmx",
		Ticket: func() string { return bob.Ticket("messenger.msn.com") },
	}
	list, err := rsi.GetMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rsi.FetchAll(ctx, list.OIMs())
	if err != nil || len(got) != len(sent) {
		t.Fatalf("fetched %d of %d: %v", len(got), len(sent), err)
	}
	var received strings.Builder
	for _, m := range got {
		if m.From != "alice@example.com" {
			t.Errorf("offline message from %q", m.From)
		}
		received.WriteString(m.Text)
	}
	if received.String() != text {
		t.Fatalf("received text differs from the sent one (%d vs %d bytes)", received.Len(), len(text))
	}
}

// TestContactAndGroupLimitsOnEveryPath: Config.MaxContacts and MaxGroups bound the session
// whether the list comes from SYN/LST (MSNP12) or from the ABCH address book and memberships
// (MSNP15, MSNP18), which used to bypass them.
func TestContactAndGroupLimitsOnEveryPath(t *testing.T) {
	for _, v := range []int{12, 15, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t)
			var groups []string
			for i := 0; i < 5; i++ {
				id, err := srv.AddGroup("alice@example.com", fmt.Sprintf("Group %d", i))
				if err != nil {
					t.Fatal(err)
				}
				groups = append(groups, id)
			}
			for i := 0; i < 10; i++ {
				p := fmt.Sprintf("friend%02d@example.com", i)
				if err := srv.AddAccount(p, "x", p); err != nil {
					t.Fatal(err)
				}
				if err := srv.AddContact("alice@example.com", p, msntest.FL|msntest.AL, groups[i%len(groups)]); err != nil {
					t.Fatal(err)
				}
			}
			cfg := clientConfig(srv, v, make(chan ns.Event, 256))
			cfg.MaxContacts, cfg.MaxGroups = 4, 2
			ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
			defer cancel()
			s, err := ns.Login(ctx, cfg, "alice@example.com", "alicepass")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if n := len(s.Contacts()); n == 0 || n > 4 {
				t.Errorf("%d contacts kept, limit 4", n)
			}
			if n := len(s.Groups()); n == 0 || n > 2 {
				t.Errorf("%d groups kept, limit 2", n)
			}
		})
	}
}

// TestInitialADLSplitThroughFakeServer logs in with a long contact list: the initial ADL is
// split into payloads of at most 7500 bytes that together list every contact.
func TestInitialADLSplitThroughFakeServer(t *testing.T) {
	srv := startServer(t)
	const n = 400
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("friend%03d@domain%d.example.com", i, i%5)
		if err := srv.AddAccount(p, "x", p); err != nil {
			t.Fatal(err)
		}
		if err := srv.AddContact("alice@example.com", p, msntest.FL|msntest.AL); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var sizes []int
	entries := 0
	srv.OnCommand(func(e msntest.CommandEvent) {
		if e.Command != nil && e.Command.Name == "ADL" && e.Passport == "alice@example.com" {
			mu.Lock()
			sizes = append(sizes, len(e.Command.Payload))
			entries += strings.Count(string(e.Command.Payload), "<c ")
			mu.Unlock()
		}
	})
	s, err := ns.Login(context.Background(), clientConfig(srv, 18, make(chan ns.Event, 1024)), "alice@example.com", "alicepass")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := len(s.Contacts()); got != n+1 {
		t.Errorf("%d contacts, want %d", got, n+1)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sizes) < 2 {
		t.Fatalf("ADL not split: sizes %v", sizes)
	}
	for _, sz := range sizes {
		if sz > 7500 {
			t.Errorf("ADL payload of %d bytes", sz)
		}
	}
	if entries != n+1 {
		t.Errorf("ADL listed %d contacts, want %d", entries, n+1)
	}
}

// TestDispatchRedirectThroughFakeServer starts at the fake dispatch server, which answers
// USR with XFR NS; the client reconnects to the NS and logs in there.
func TestDispatchRedirectThroughFakeServer(t *testing.T) {
	for _, v := range []int{7, 8, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			quiet := zerolog.Nop()
			srv, err := msntest.New(msntest.Options{Logger: &quiet, Dispatch: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			if err := srv.AddAccount("alice@example.com", "alicepass", "Alice"); err != nil {
				t.Fatal(err)
			}
			cfg := clientConfig(srv, v, make(chan ns.Event, 64))
			cfg.Server = srv.DispatchAddr()
			s, err := ns.Login(context.Background(), cfg, "alice@example.com", "alicepass")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if srv.Logins("alice@example.com") != 1 {
				t.Errorf("logins %d", srv.Logins("alice@example.com"))
			}
		})
	}
}

// TestMSNObjectThroughFakeServer sets alice's MSNObject and checks that bob, logged in at the
// same time, sees it in alice's presence; MSNP8 has no MSNObject.
func TestMSNObjectThroughFakeServer(t *testing.T) {
	const obj = `<msnobj Creator="alice@example.com" Size="24539" Type="3" Location="TFR2C.tmp" Friendly="AAA=" SHA1D="trC8SlFx2sWQxZMIBAWSEnXc8oQ="/>`
	for _, v := range []int{9, 12, 15, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t)
			ctx := context.Background()
			aliceEv, bobEv := make(chan ns.Event, 256), make(chan ns.Event, 256)
			alice, err := ns.Login(ctx, clientConfig(srv, v, aliceEv), "alice@example.com", "alicepass")
			if err != nil {
				t.Fatal(err)
			}
			defer alice.Close()
			bob, err := ns.Login(ctx, clientConfig(srv, v, bobEv), "bob@example.com", "bobpass")
			if err != nil {
				t.Fatal(err)
			}
			defer bob.Close()
			if err := alice.SetMSNObject(ctx, obj); err != nil {
				t.Fatal(err)
			}
			if alice.MSNObject() != obj || alice.Status() != ns.Online {
				t.Errorf("own MSNObject %q, status %q", alice.MSNObject(), alice.Status())
			}
			p := next(t, bobEv, func(e *ns.PresenceEvent) bool {
				return e.Contact.Passport == "alice@example.com" && e.Contact.MSNObject != ""
			})
			if p.Contact.MSNObject != obj || p.Contact.Status != ns.Online {
				t.Errorf("bob sees %+v", p.Contact)
			}
			// A later status change keeps the object.
			if err := alice.SetStatus(ctx, ns.Away); err != nil {
				t.Fatal(err)
			}
			p = next(t, bobEv, func(e *ns.PresenceEvent) bool {
				return e.Contact.Passport == "alice@example.com" && e.Contact.Status == ns.Away
			})
			if p.Contact.MSNObject != obj {
				t.Errorf("MSNObject lost on status change: %+v", p.Contact)
			}
			if err := alice.SetMSNObject(ctx, "not xml"); err == nil {
				t.Error("malformed MSNObject accepted")
			}
		})
	}
	t.Run("MSNP8", func(t *testing.T) {
		srv := startServer(t)
		s, err := ns.Login(context.Background(), clientConfig(srv, 8, make(chan ns.Event, 64)), "alice@example.com", "alicepass")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.SetMSNObject(context.Background(), obj); !errors.Is(err, ns.ErrNotSupported) {
			t.Fatalf("err %v", err)
		}
	})
}

// recordingTransport keeps the body of every HTTP request whose SOAPAction ends in action.
type recordingTransport struct {
	action string
	mu     sync.Mutex
	bodies []string
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(strings.Trim(r.Header.Get("SOAPAction"), `"`), rt.action) && r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		rt.mu.Lock()
		rt.bodies = append(rt.bodies, string(b))
		rt.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestBlockAfterLoginNamesMembershipThroughFakeServer: the session keeps no membership ids
// after login, yet blocking a contact still names its Allow membership by id (looked up when
// needed) and the server's lists change.
func TestBlockAfterLoginNamesMembershipThroughFakeServer(t *testing.T) {
	srv := startServer(t)
	rt := &recordingTransport{action: "DeleteMember"}
	cfg := clientConfig(srv, 18, make(chan ns.Event, 256))
	cfg.HTTPClient = &http.Client{Transport: rt, Timeout: wait}
	ctx := context.Background()
	s, err := ns.Login(ctx, cfg, "alice@example.com", "alicepass")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Block(ctx, "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	if l := srv.Lists("alice@example.com", "bob@example.com"); l&msntest.BL == 0 || l&msntest.AL != 0 {
		t.Fatalf("after block: server lists %05b", l)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if len(rt.bodies) != 1 {
		t.Fatalf("%d DeleteMember requests", len(rt.bodies))
	}
	b := rt.bodies[0]
	if !strings.Contains(b, "<MemberRole>Allow</MemberRole>") || !strings.Contains(b, "<MembershipId>Allow/") || !strings.Contains(b, "<PassportName>bob@example.com</PassportName>") {
		t.Errorf("DeleteMember without bob's Allow membership id:\n%s", b)
	}
}
