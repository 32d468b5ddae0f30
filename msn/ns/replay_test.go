package ns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/internal/transcript"
	"github.com/msnbridge/msnbridge/msn/wire"
)

// replayCompare is exact except where the transcript's client differs from ours by design:
// CVR client fields, CHG capabilities, and the SSO ticket/blob (from our own RST fixture).
func replayCompare(want, got *wire.Command) error {
	switch want.Name {
	case "CVR":
		if got.Arg(0) != want.Arg(0) || got.Arg(4) != want.Arg(4) {
			return fmt.Errorf("CVR LCID/client name differ")
		}
		return nil
	case "CHG":
		if got.Arg(0) != want.Arg(0) {
			return fmt.Errorf("status differs")
		}
		return nil
	case "USR":
		if want.Arg(0) == "SSO" && want.Arg(1) == "S" {
			if got.Arg(0) != "SSO" || got.Arg(1) != "S" || !strings.HasPrefix(got.Arg(2), "t=") {
				return fmt.Errorf("bad SSO S")
			}
			if last := want.Args[len(want.Args)-1]; strings.HasPrefix(last, "{") && !strings.EqualFold(last, got.Args[len(got.Args)-1]) {
				return fmt.Errorf("machine GUID differs")
			}
			return nil
		}
	}
	return transcript.Exact(want, got)
}

// notSentByUs lists transcript client commands our login does not send (the probe client set
// its name and PSM during login; we ping only after the keep-alive interval).
func notSentByUs(want *wire.Command) bool {
	switch want.Name {
	case "PRP", "UUX", "PNG", "UUM":
		return true
	}
	return false
}

// answerCVR answers a CVR the transcript's client did not send (the MSNP2 probe skipped it);
// the real server answers it on every version.
func answerCVR(got *wire.Command) ([]*wire.Command, bool) {
	if got.Name != "CVR" {
		return nil, false
	}
	v := got.Arg(5)
	return []*wire.Command{wire.New("CVR", got.TrID, v, v, v, "https://escargot.log1p.xyz", "https://escargot.log1p.xyz")}, true
}

// serveReplay plays rp to the first client that connects to the returned 127.0.0.1 address;
// done receives the result once the transcript is played and drained.
func serveReplay(t *testing.T, rp *transcript.Replay) (addr string, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- err
			return
		}
		defer c.Close()
		if err := rp.Serve(c); err != nil {
			ch <- err
			return
		}
		_, err = rp.Drain(testWait)
		ch <- err
	}()
	return ln.Addr().String(), ch
}

type replayCase struct {
	// entries, when set, replace the connection taken from file by who.
	entries             []transcript.Entry
	file, who, password string
	version             int
	twnTicket           string
	guid                string
	// during runs after Login while the transcript keeps playing; it returns when the
	// transcript's client would log out.
	during func(t *testing.T, s *Session, ev *events)
}

func runReplay(t *testing.T, rc replayCase) {
	t.Helper()
	entries := rc.entries
	if entries == nil {
		tr, err := transcript.Load(rc.file)
		if errors.Is(err, os.ErrNotExist) {
			t.Skip("transcripts not available:", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		entries = tr.Conn(rc.who, "NS")
	}
	if len(entries) == 0 {
		t.Fatalf("no NS entries for %s in %s", rc.who, rc.file)
	}
	addr, done := serveReplay(t, &transcript.Replay{Entries: entries, Compare: replayCompare, Skip: notSentByUs, Timeout: testWait, Extra: answerCVR})
	h := newFakeHTTP(t, rc.password, rc.twnTicket)
	ev := newEvents()
	cfg := testConfig(addr, ev, rc.version)
	cfg.Endpoints = h.endpoints()
	if rc.guid != "" {
		cfg.MachineGUID = rc.guid
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*testWait)
	defer cancel()
	s, err := Login(ctx, cfg, rc.who+"@example.com", rc.password)
	if err != nil {
		select {
		case rerr := <-done:
			t.Fatalf("login: %v (replay: %v)", err, rerr)
		case <-time.After(time.Second):
		}
		t.Fatalf("login: %v", err)
	}
	if s.Version() != rc.version {
		t.Errorf("version %d", s.Version())
	}
	if rc.during != nil {
		rc.during(t, s, ev)
	}
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
	case <-time.After(2 * testWait):
		t.Fatal("replay did not finish")
	}
}

// checkContact asserts a contact's lists and name.
func checkContact(t *testing.T, s *Session, passport string, lists ListBits, name string) {
	t.Helper()
	c, ok := s.Contact(passport)
	if !ok {
		t.Fatalf("contact %s missing; have %+v", passport, s.Contacts())
	}
	if c.Lists != lists || (name != "" && c.FriendlyName != name) {
		t.Errorf("contact %s: lists %05b name %q; want %05b %q", passport, c.Lists, c.FriendlyName, lists, name)
	}
}

// requestSB drives the transcript's XFR SB and checks the ticket.
func requestSB(t *testing.T, s *Session, cookie string) {
	t.Helper()
	tk, err := s.RequestSwitchboard(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tk.Addr != "127.0.0.1:1864" || tk.Cookie != cookie {
		t.Errorf("ticket %+v", tk)
	}
}

func TestReplayMSNP2Alice(t *testing.T) {
	runReplay(t, replayCase{file: "transcript_msnp2.txt", who: "alice", password: "alicepass1", version: 2,
		during: func(t *testing.T, s *Session, ev *events) {
			checkContact(t, s, "bob@example.com", FL|AL|RL, "bob@example.com")
			p := waitFor(t, ev, func(e *PresenceEvent) bool { return e.Contact.Passport == "bob@example.com" })
			if p.Contact.Status != Online || !p.Initial {
				t.Errorf("presence %+v", p)
			}
			requestSB(t, s, "d675e23711ad530dcd6a")
		}})
}

func TestReplayMSNP7Alice(t *testing.T) {
	runReplay(t, replayCase{file: "transcript_msnp7.txt", who: "alice", password: "alicepass1", version: 7,
		during: func(t *testing.T, s *Session, ev *events) {
			checkContact(t, s, "bob@example.com", FL|AL|RL, "bob@example.com")
			if c, _ := s.Contact("bob@example.com"); len(c.Groups) != 1 || c.Groups[0] != "0" {
				t.Errorf("groups %v", c.Groups)
			}
			if g := s.Groups(); len(g) != 1 || g[0] != (Group{ID: "0", Name: "Other Contacts"}) {
				t.Errorf("groups %v", g)
			}
			waitFor(t, ev, func(e *PresenceEvent) bool { return e.Contact.Passport == "bob@example.com" && e.Initial })
			requestSB(t, s, "c6955bdf5e9bd7c49fb8")
		}})
}

func TestReplayMSNP7BobInvited(t *testing.T) {
	runReplay(t, replayCase{file: "transcript_msnp7.txt", who: "bob", password: "bobpass1", version: 7,
		during: func(t *testing.T, s *Session, ev *events) {
			p := waitFor(t, ev, func(e *PresenceEvent) bool { return e.Contact.Passport == "alice@example.com" })
			if p.Initial || p.Contact.Status != Online {
				t.Errorf("presence %+v", p)
			}
			inv := waitFor[*SwitchboardInviteEvent](t, ev, nil)
			if inv.Inviter != "alice@example.com" || inv.Cookie != "a6cde319734d14b7f62c" || inv.SessionID != "b24ed990774a8ba875df093f07fb518" {
				t.Errorf("invite %+v", inv)
			}
		}})
}

func TestReplayMSNP8(t *testing.T) {
	runReplay(t, replayCase{file: "transcript_msnp8.txt", who: "alice", password: "alicepass1", version: 8, twnTicket: "5b652488d662a6b0b871",
		during: func(t *testing.T, s *Session, ev *events) {
			checkContact(t, s, "bob@example.com", FL|AL|RL, "bob@example.com")
			if c, _ := s.Contact("bob@example.com"); len(c.Groups) != 1 || c.Groups[0] != "0" {
				t.Errorf("groups %v", c.Groups)
			}
			if g := s.Groups(); len(g) != 1 || g[0] != (Group{ID: "0", Name: "Other Contacts"}) {
				t.Errorf("MSNP8 groups %v", g)
			}
			if s.Ticket("whatever") != "5b652488d662a6b0b871" {
				t.Errorf("ticket %q", s.Ticket("x"))
			}
			p := waitFor(t, ev, func(e *PresenceEvent) bool { return e.Contact.Passport == "bob@example.com" })
			if p.Contact.Caps != "1073741824" || !p.Initial {
				t.Errorf("presence %+v", p)
			}
			requestSB(t, s, "5ba792fa03291ee6e8ab")
		}})
	runReplay(t, replayCase{file: "transcript_msnp8.txt", who: "bob", password: "bobpass1", version: 8, twnTicket: "7f6afeda7855cf10f1a5",
		during: func(t *testing.T, s *Session, ev *events) {
			inv := waitFor[*SwitchboardInviteEvent](t, ev, nil)
			if inv.Inviter != "alice@example.com" || inv.Addr != "127.0.0.1:1864" {
				t.Errorf("invite %+v", inv)
			}
		}})
}

func TestReplayMSNP10(t *testing.T) {
	runReplay(t, replayCase{file: "transcript_msnp10.txt", who: "alice", password: "alicepass1", version: 10, twnTicket: "80723f50ba0c82a78746",
		during: func(t *testing.T, s *Session, ev *events) {
			checkContact(t, s, "bob@example.com", FL|AL|RL, "")
			if c, _ := s.Contact("bob@example.com"); c.ContactID != "668c406c-522e-44b2-87da-2bb895076e7c" {
				t.Errorf("contact id %q", c.ContactID)
			}
			p := waitFor(t, ev, func(e *PresenceEvent) bool { return e.Contact.Passport == "bob@example.com" })
			if p.Contact.FriendlyName != "Bob (probe)" || p.Contact.MSNObject != "" {
				t.Errorf("presence %+v", p)
			}
			requestSB(t, s, "8bb480fc750a9d1d6dc9")
		}})
}

func TestReplayMSNP12(t *testing.T) {
	runReplay(t, replayCase{file: "transcript_msnp12.txt", who: "alice", password: "alicepass1", version: 12, twnTicket: "c18e174172a6b9d7c102",
		during: func(t *testing.T, s *Session, ev *events) {
			checkContact(t, s, "bob@example.com", FL|AL|RL, "")
			if s.FriendlyName() != "Alice (probe)" {
				t.Errorf("own name %q", s.FriendlyName())
			}
			pr := waitFor(t, ev, func(e *ProfileEvent) bool { return e.Passport == "bob@example.com" && e.PersonalMessage != "" })
			if pr.PersonalMessage != "probe psm" {
				t.Errorf("profile %+v", pr)
			}
			md := waitFor[*MailDataEvent](t, ev, nil)
			if !md.Initial || !strings.Contains(string(md.Payload), "Mail-Data: <MD>") {
				t.Errorf("mail data %q", md.Payload)
			}
			requestSB(t, s, "629193a6435f770541ad")
		}})
}

func TestReplayMSNP13(t *testing.T) {
	runReplay(t, replayCase{file: "transcript_msnp13.txt", who: "alice", password: "alicepass1", version: 13, twnTicket: "3c7c59167b8648775d6a",
		during: func(t *testing.T, s *Session, ev *events) {
			checkContact(t, s, "bob@example.com", FL|AL|RL, "")
			if s.FriendlyName() != "Alice (probe)" {
				t.Errorf("own name from the address book %q", s.FriendlyName())
			}
			if g := s.Groups(); len(g) == 0 || g[0].Name != "Friends & Family" {
				t.Errorf("address book groups %v", g)
			}
			p := waitFor(t, ev, func(e *PresenceEvent) bool { return e.Contact.Passport == "bob@example.com" })
			if !p.Initial || p.Contact.Caps != "1342177280" || p.Contact.FriendlyName != "Bob (probe)" {
				t.Errorf("presence %+v", p)
			}
			pr := waitFor(t, ev, func(e *ProfileEvent) bool { return e.Passport == "bob@example.com" && e.PersonalMessage != "" })
			if pr.PersonalMessage != "probe psm" {
				t.Errorf("profile %+v", pr)
			}
			waitFor[*MailDataEvent](t, ev, nil)
			c, _ := s.Contact("bob@example.com")
			if c.PersonalMessage != "probe psm" || c.Status != Online {
				t.Errorf("bob %+v", c)
			}
			requestSB(t, s, "bb282d51aa2f67a48c2c")
		}})
}

func TestReplayMSNP15(t *testing.T) {
	runReplay(t, replayCase{file: "transcript_msnp15.txt", who: "alice", password: "alicepass1", version: 15,
		during: func(t *testing.T, s *Session, ev *events) {
			checkContact(t, s, "bob@example.com", FL|AL|RL, "")
			p := waitFor(t, ev, func(e *PresenceEvent) bool { return e.Contact.Passport == "bob@example.com" })
			if p.Contact.FriendlyName != "Bob (probe)" || p.Contact.Caps != "1342177280" {
				t.Errorf("presence %+v", p)
			}
			waitFor(t, ev, func(e *ProfileEvent) bool { return e.Passport == "bob@example.com" && e.PersonalMessage == "probe psm" })
			if s.Ticket("contacts.msn.com") == "" {
				t.Error("no contacts ticket")
			}
			requestSB(t, s, "f83c5e149a8f93e15762")
		}})
}

func TestReplayMSNP16(t *testing.T) {
	runReplay(t, replayCase{file: "transcript_msnp16.txt", who: "alice", password: "alicepass1", version: 16,
		during: func(t *testing.T, s *Session, ev *events) {
			checkContact(t, s, "bob@example.com", FL|AL|RL, "")
			p := waitFor(t, ev, func(e *PresenceEvent) bool { return e.Contact.Passport == "bob@example.com" })
			if p.Contact.Caps != "2789003324:48" || !p.Initial {
				t.Errorf("presence %+v", p)
			}
			self := waitFor(t, ev, func(e *PresenceEvent) bool { return e.Self })
			if self.Contact.Passport != "alice@example.com" || self.Contact.Status != Online {
				t.Errorf("self presence %+v", self)
			}
			requestSB(t, s, "345a76bb7411b9e2b210")
		}})
}

func TestReplayMSNP18(t *testing.T) {
	runReplay(t, replayCase{file: "transcript_msnp18.txt", who: "alice", password: "alicepass1", version: 18,
		during: func(t *testing.T, s *Session, ev *events) {
			checkContact(t, s, "bob@example.com", FL|AL|RL, "")
			p := waitFor(t, ev, func(e *PresenceEvent) bool { return e.Contact.Passport == "bob@example.com" })
			if p.Contact.Status != Online || p.Contact.Caps != "2789003324:48" || p.Contact.FriendlyName != "Bob (probe)" || p.Self {
				t.Errorf("presence %+v", p)
			}
			pr := waitFor(t, ev, func(e *ProfileEvent) bool { return e.Passport == "bob@example.com" && e.PersonalMessage != "" })
			if pr.PersonalMessage != "probe psm" || pr.Self {
				t.Errorf("profile %+v", pr)
			}
			md := waitFor[*MailDataEvent](t, ev, nil)
			if !md.Initial {
				t.Error("mail data not initial")
			}
			self := waitFor(t, ev, func(e *ProfileEvent) bool { return e.Self })
			if self.PersonalMessage != "probe psm" {
				t.Errorf("self profile %+v", self)
			}
			if s.FriendlyName() != "Alice (probe)" {
				t.Errorf("own name %q", s.FriendlyName())
			}
			requestSB(t, s, "a8ce524e98991a1466f3")
		}})
}

// TestReplayQuirkSignedInElsewhere replays the quirks transcript's MSNP12 session that the
// server ends with OUT OTH when the account logs in a second time.
func TestReplayQuirkSignedInElsewhere(t *testing.T) {
	tr, err := transcript.Load("quirks_transcript.txt")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("transcripts not available:", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	var conn []transcript.Entry
	for _, c := range tr.Connections("", "alice", "NS") {
		if last := c[len(c)-1]; last.Line == "OUT OTH" {
			conn = c
		}
	}
	if conn == nil {
		t.Fatal("no connection ending in OUT OTH in the quirks transcript")
	}
	// The server kicks right after the login burst: depending on timing Login itself reports
	// it, or it arrives as the session's DisconnectEvent. Both must say "signed in elsewhere".
	addr, done := serveReplay(t, &transcript.Replay{Entries: conn, Compare: replayCompare, Skip: notSentByUs, Timeout: testWait})
	h := newFakeHTTP(t, "alicepass1", "d50c0a341f921e3c1afb")
	ev := newEvents()
	cfg := testConfig(addr, ev, 12)
	cfg.Endpoints = h.endpoints()
	s, err := Login(context.Background(), cfg, "alice@example.com", "alicepass1")
	if err != nil {
		if !errors.Is(err, ErrSignedInElsewhere) {
			t.Fatalf("login: %v", err)
		}
	} else {
		d := waitFor[*DisconnectEvent](t, ev, nil)
		if !errors.Is(d.Err, ErrSignedInElsewhere) || !errors.Is(s.Err(), ErrSignedInElsewhere) {
			t.Fatalf("disconnect %v", d.Err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("replay: %v", err)
	}
}
