package ns

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/auth"
	"github.com/msnbridge/msnbridge/msn/wire"
)

func loginMSNP7(t *testing.T) (*Session, *peer, *events) {
	t.Helper()
	return loginMSNP7With(t, nil)
}

// loginMSNP7With is loginMSNP7 with a chance to change the configuration first.
func loginMSNP7With(t *testing.T, configure func(*Config)) (*Session, *peer, *events) {
	t.Helper()
	ns := newFakeNS(t)
	ev := newEvents()
	cfg := testConfig(ns.addr(), ev, 7)
	if configure != nil {
		configure(&cfg)
	}
	res := startLogin(cfg, "Me@x.com", "pw")
	p := ns.accept()
	scriptMSNP7Login(p)
	s, err := waitLogin(t, res)
	if err != nil {
		t.Fatal(err)
	}
	return s, p, ev
}

func TestLoginMSNP7ScriptedListAndPresence(t *testing.T) {
	ns := newFakeNS(t)
	ev := newEvents()
	res := startLogin(testConfig(ns.addr(), ev, 7), "Me@x.com", "pw")
	p := ns.accept()
	c := p.expect("VER")
	if got := strings.Join(c.Args, " "); got != "MSNP7 CVR0" {
		t.Errorf("VER args %q", got)
	}
	p.send("VER %d MSNP7", c.TrID)
	c = p.expect("INF")
	p.send("INF %d MD5", c.TrID)
	c = p.expect("CVR")
	if len(c.Args) != 7 || c.Args[0] != "0x0409" || c.Args[4] != "MSNMSGR" {
		t.Errorf("CVR args %v", c.Args)
	}
	p.send("CVR %d 4.7.3001 4.7.3001 4.7.3001 http://x http://x", c.TrID)
	c = p.expect("USR")
	if strings.Join(c.Args, " ") != "MD5 I me@x.com" {
		t.Errorf("USR I args %v", c.Args)
	}
	p.send("USR %d MD5 S salt123", c.TrID)
	c = p.expect("USR")
	if c.Arg(2) != auth.MD5Response("salt123", "pw") {
		t.Errorf("MD5 answer %q", c.Arg(2))
	}
	p.send("USR %d OK me@x.com Me%%20Myself 1", c.TrID)
	p.sendPayload("MSG Hotmail Hotmail", profilePayload)
	c = p.expect("SYN")
	tr := c.TrID
	p.send("SYN %d 3", tr)
	p.send("GTC %d 3 A", tr)
	p.send("BLP %d 3 AL", tr)
	p.send("LSG %d 3 1 1 0 Other%%20Contacts 0", tr)
	p.send("LST %d FL 3 1 1 bob@x.com Bob 0", tr)
	p.send("LST %d AL 3 1 1 bob@x.com Bob", tr)
	p.send("LST %d BL 3 0 0", tr)
	p.send("LST %d RL 3 1 2 bob@x.com Bob", tr)
	p.send("LST %d RL 3 2 2 carol@x.com Carol", tr)
	c = p.expect("CHG")
	if strings.Join(c.Args, " ") != "NLN" {
		t.Errorf("MSNP7 CHG args %v", c.Args)
	}
	p.send("CHG %d NLN", c.TrID)
	p.send("ILN %d AWY bob@x.com Bob%%20B", c.TrID)
	s, err := waitLogin(t, res)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status() != Online {
		t.Errorf("status %q", s.Status())
	}
	if s.Version() != 7 || s.FriendlyName() != "Me Myself" || s.MSPAuth() != "secretauth" {
		t.Errorf("version %d name %q mspauth %q", s.Version(), s.FriendlyName(), s.MSPAuth())
	}
	bob, ok := s.Contact("BOB@x.com")
	if !ok || bob.Lists != FL|AL|RL || len(bob.Groups) != 1 || bob.Groups[0] != "0" {
		t.Errorf("bob %+v", bob)
	}
	carol, _ := s.Contact("carol@x.com")
	if carol.Lists != RL {
		t.Errorf("carol %+v", carol)
	}
	pe := waitFor(t, ev, func(e *PresenceEvent) bool { return e.Contact.Passport == "bob@x.com" })
	if !pe.Initial || pe.Contact.Status != Away || pe.Contact.FriendlyName != "Bob B" {
		t.Errorf("presence %+v", pe)
	}
	pr := waitFor(t, ev, func(e *ProfileEvent) bool { return e.Passport == "bob@x.com" })
	if pr.FriendlyName != "Bob B" {
		t.Errorf("profile %+v", pr)
	}
}

func TestRepliesMatchedByTrIDOutOfOrderWithAsyncInterleaved(t *testing.T) {
	s, p, ev := loginMSNP7(t)
	ctx := context.Background()
	type res struct {
		tk  SwitchboardTicket
		err error
	}
	sb := make(chan res, 1)
	rea := make(chan error, 1)
	go func() { tk, err := s.RequestSwitchboard(ctx); sb <- res{tk, err} }()
	first := p.expect("XFR")
	go func() { rea <- s.SetFriendlyName(ctx, "New Name") }()
	second := p.expect("REA")
	if first.TrID == second.TrID {
		t.Fatal("TrIDs not unique")
	}
	if second.Arg(1) != "New%20Name" {
		t.Errorf("REA args %v", second.Args)
	}
	// Reply to the second request first, with asynchronous commands in between.
	p.send("NLN NLN bob@x.com Bobby")
	p.send("REA %d 5 me@x.com New%%20Name", second.TrID)
	p.send("FLN bob@x.com")
	p.send("XFR %d SB 10.0.0.1:1864 CKI cookie123", first.TrID)
	if err := <-rea; err != nil {
		t.Fatal(err)
	}
	r := <-sb
	if r.err != nil || r.tk.Addr != "10.0.0.1:1864" || r.tk.Cookie != "cookie123" {
		t.Fatalf("switchboard %+v", r)
	}
	if s.FriendlyName() != "New Name" {
		t.Errorf("name %q", s.FriendlyName())
	}
	waitFor(t, ev, func(e *PresenceEvent) bool { return e.Contact.Status == Online && e.Contact.FriendlyName == "Bobby" })
	waitFor(t, ev, func(e *ProfileEvent) bool { return e.Passport == "bob@x.com" && e.FriendlyName == "Bobby" })
	waitFor(t, ev, func(e *PresenceEvent) bool { return e.Contact.Status == Offline })
}

func TestSwitchboardRefusedWhileHiddenIsTyped(t *testing.T) {
	s, p, _ := loginMSNP7(t)
	errc := make(chan error, 1)
	go func() { _, err := s.RequestSwitchboard(context.Background()); errc <- err }()
	c := p.expect("XFR")
	p.send("913 %d", c.TrID)
	err := <-errc
	if !errors.Is(err, &wire.ServerError{Code: 913}) || !errors.Is(err, ErrNotAllowedWhileHidden) {
		t.Fatalf("err %v", err)
	}
}

func TestRequestTimeout(t *testing.T) {
	s, p, _ := loginMSNP7(t)
	s.cfg.RequestTimeout = 300 * time.Millisecond // read by the request goroutine started below
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- s.SetStatus(context.Background(), Busy) }()
	p.expect("CHG") // never answered
	select {
	case err := <-errc:
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("err %v", err)
		}
		if d := time.Since(start); d > s.cfg.RequestTimeout+2*time.Second {
			t.Errorf("timeout after %v", d)
		}
	case <-time.After(2 * testWait):
		t.Fatal("request never timed out")
	}
}

func TestOutOTHEndsSessionOnce(t *testing.T) {
	s, p, ev := loginMSNP7(t)
	p.send("OUT OTH")
	de := waitFor[*DisconnectEvent](t, ev, nil)
	if !errors.Is(de.Err, ErrSignedInElsewhere) {
		t.Fatalf("disconnect %v", de.Err)
	}
	select {
	case <-s.Done():
	case <-time.After(testWait):
		t.Fatal("Done not closed")
	}
	if !errors.Is(s.Err(), ErrSignedInElsewhere) {
		t.Errorf("Err %v", s.Err())
	}
	if err := s.SetStatus(context.Background(), Away); !errors.Is(err, ErrSignedInElsewhere) {
		t.Errorf("request after disconnect: %v", err)
	}
	// No second DisconnectEvent.
	select {
	case e := <-ev.ch:
		if _, ok := e.(*DisconnectEvent); ok {
			t.Fatal("second DisconnectEvent")
		}
	default:
	}
}

func TestOutReasons(t *testing.T) {
	for _, tc := range []struct {
		line  string
		check func(error) bool
	}{
		{"OUT SSD", func(err error) bool { return errors.Is(err, ErrServerShutdown) }},
		{"OUT RCT 5", func(err error) bool {
			var d *DisconnectError
			return errors.As(err, &d) && strings.Contains(d.Reason, "RCT") && d.RetryAfter == 5*time.Minute
		}},
	} {
		t.Run(tc.line, func(t *testing.T) {
			_, p, ev := loginMSNP7(t)
			p.send("%s", tc.line)
			de := waitFor[*DisconnectEvent](t, ev, nil)
			if !tc.check(de.Err) {
				t.Fatalf("disconnect %v", de.Err)
			}
		})
	}
}

func TestConnectionDropIsDisconnectError(t *testing.T) {
	_, p, ev := loginMSNP7(t)
	p.conn.Close()
	de := waitFor[*DisconnectEvent](t, ev, nil)
	var d *DisconnectError
	if !errors.As(de.Err, &d) {
		t.Fatalf("disconnect %v", de.Err)
	}
}

func TestCloseSendsOUT(t *testing.T) {
	s, p, ev := loginMSNP7(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	p.expect("OUT")
	de := waitFor[*DisconnectEvent](t, ev, nil)
	if de.Err != nil || s.Err() != nil {
		t.Errorf("clean close gave %v / %v", de.Err, s.Err())
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestServerClosingMidLogin(t *testing.T) {
	ns := newFakeNS(t)
	res := startLogin(testConfig(ns.addr(), newEvents(), 7), "me@x.com", "pw")
	p := ns.accept()
	c := p.expect("VER")
	p.send("VER %d MSNP7", c.TrID)
	p.expect("INF")
	p.conn.Close()
	_, err := waitLogin(t, res)
	var d *DisconnectError
	if !errors.As(err, &d) || errors.Is(err, ErrTimeout) {
		t.Fatalf("login error %v, want a *DisconnectError for the lost connection", err)
	}
}

func TestServerNeverAnswersTimesOut(t *testing.T) {
	ns := newFakeNS(t)
	cfg := testConfig(ns.addr(), newEvents(), 18)
	cfg.RequestTimeout = 10 * time.Second
	cfg.LoginTimeout = 500 * time.Millisecond
	start := time.Now()
	res := startLogin(cfg, "me@x.com", "pw")
	p := ns.accept()
	p.expect("VER")
	_, err := waitLogin(t, res)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err %v", err)
	}
	if d := time.Since(start); d > cfg.LoginTimeout+2*time.Second {
		t.Errorf("login gave up after %v", d)
	}
}

func TestNoCommonVersion(t *testing.T) {
	ns := newFakeNS(t)
	res := startLogin(testConfig(ns.addr(), newEvents(), 8), "me@x.com", "pw")
	p := ns.accept()
	c := p.expect("VER")
	p.send("VER %d 0", c.TrID)
	if _, err := waitLogin(t, res); !errors.Is(err, ErrNoCommonVersion) {
		t.Fatalf("err %v", err)
	}
}

func TestWrongPasswordMD5(t *testing.T) {
	ns := newFakeNS(t)
	res := startLogin(testConfig(ns.addr(), newEvents(), 7), "me@x.com", "bad")
	p := ns.accept()
	_, c := scriptUntilUSR(p, 7)
	p.send("USR %d MD5 S salt", c.TrID)
	c = p.expect("USR")
	p.send("911 %d", c.TrID)
	_, err := waitLogin(t, res)
	if !errors.Is(err, auth.ErrBadCredentials) || wire.ErrorCode(err) != 911 {
		t.Fatalf("err %v", err)
	}
}

func TestWrongPasswordTWN(t *testing.T) {
	ns := newFakeNS(t)
	h := newFakeHTTP(t, "good", "tick3t")
	cfg := testConfig(ns.addr(), newEvents(), 12)
	cfg.Endpoints = h.endpoints()
	res := startLogin(cfg, "me@x.com", "bad")
	p := ns.accept()
	cvr, c := scriptUntilUSR(p, 12)
	if len(cvr.Args) != 8 || cvr.Args[7] != "me@x.com" || cvr.Args[5] != "7.5.0324" {
		t.Errorf("CVR args %v", cvr.Args)
	}
	p.send("USR %d TWN S ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1", c.TrID)
	_, err := waitLogin(t, res)
	if !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("err %v", err)
	}
}

func TestWrongPasswordSSO(t *testing.T) {
	ns := newFakeNS(t)
	h := newFakeHTTP(t, "good", "")
	cfg := testConfig(ns.addr(), newEvents(), 18)
	cfg.Endpoints = h.endpoints()
	res := startLogin(cfg, "me@x.com", "bad")
	p := ns.accept()
	_, c := scriptUntilUSR(p, 18)
	p.sendPayload("GCF 0", "<Policies/>")
	p.send("USR %d SSO S MBI_KEY_OLD %s", c.TrID, strings.Repeat("A", 64))
	_, err := waitLogin(t, res)
	if !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("err %v", err)
	}
}

func TestWrongBlobSSO911(t *testing.T) {
	ns := newFakeNS(t)
	h := newFakeHTTP(t, "good", "")
	cfg := testConfig(ns.addr(), newEvents(), 18)
	cfg.Endpoints = h.endpoints()
	res := startLogin(cfg, "me@x.com", "good")
	p := ns.accept()
	_, c := scriptUntilUSR(p, 18)
	p.send("USR %d SSO S MBI_KEY_OLD %s", c.TrID, strings.Repeat("A", 64))
	c = p.expect("USR")
	if len(c.Args) != 5 || !strings.HasPrefix(c.Args[3], "HAAAAAEAAAADZgAABIAAAAgAAAAUAAAASAAAA") || c.Args[4] != "{CA3270CD-85DC-5C21-AA06-CCDC6B86E963}" {
		t.Errorf("USR SSO S args %v", c.Args)
	}
	p.send("911 %d", c.TrID)
	_, err := waitLogin(t, res)
	if !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("err %v", err)
	}
}

func TestXFRNSRedirect(t *testing.T) {
	ds := newFakeNS(t)
	nsrv := newFakeNS(t)
	ev := newEvents()
	res := startLogin(testConfig(ds.addr(), ev, 7), "me@x.com", "pw")
	p := ds.accept()
	_, c := scriptUntilUSR(p, 7)
	p.send("XFR %d NS %s 0", c.TrID, nsrv.addr())
	scriptMSNP7Login(nsrv.accept())
	s, err := waitLogin(t, res)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Contact("bob@x.com"); !ok {
		t.Error("contact list missing after redirect")
	}
}

func TestChallengeAnswered(t *testing.T) {
	s, p, _ := loginMSNP7(t)
	p.send("CHL 0 15570131571988941333")
	c := p.expect("QRY")
	id, answer := auth.ChallengeResponse(7, "15570131571988941333")
	if c.Arg(0) != id || string(c.Payload) != answer || len(c.Payload) != 32 {
		t.Errorf("QRY %v %q", c.Args, c.Payload)
	}
	if gid, ga := s.ChallengeAnswer("15570131571988941333"); gid != id || ga != answer {
		t.Error("ChallengeAnswer differs")
	}
}

// keepAliveInterval is the ping interval of the keep-alive tests. The client gives the server
// twice that to answer a PNG, and the test's QNG must make it in time on a loaded machine
// (with 50 ms, a test goroutine descheduled for 100 ms lost the connection).
const keepAliveInterval = 500 * time.Millisecond

func TestKeepAlive(t *testing.T) {
	_, p, ev := loginMSNP7With(t, func(cfg *Config) { cfg.PingInterval = keepAliveInterval })
	p.expect("PNG")
	p.send("QNG")
	p.expect("PNG") // pings continue after a bare QNG
	// no QNG now: dead after 2× interval
	de := waitFor[*DisconnectEvent](t, ev, nil)
	var d *DisconnectError
	if !errors.As(de.Err, &d) || !strings.Contains(d.Reason, "QNG") {
		t.Fatalf("disconnect %v", de.Err)
	}
}

func TestAddedAndRemovedBy(t *testing.T) {
	s, p, ev := loginMSNP7(t)
	p.send("ADD 0 RL 12 dave@x.com Dave%%20D")
	a := waitFor[*AddedByEvent](t, ev, nil)
	if a.Passport != "dave@x.com" || a.FriendlyName != "Dave D" {
		t.Errorf("added %+v", a)
	}
	if c, _ := s.Contact("dave@x.com"); c.Lists != RL {
		t.Errorf("dave lists %v", c.Lists)
	}
	p.send("REM 0 RL 13 dave@x.com")
	r := waitFor[*RemovedByEvent](t, ev, nil)
	if r.Passport != "dave@x.com" {
		t.Errorf("removed %+v", r)
	}
	// accept with add-back: ADD AL then ADD FL
	errc := make(chan error, 1)
	go func() { errc <- s.AcceptAddedBy(context.Background(), "dave@x.com", true) }()
	c := p.expect("ADD")
	if strings.Join(c.Args, " ") != "AL dave@x.com dave@x.com" {
		t.Errorf("ADD args %v", c.Args)
	}
	p.send("ADD %d AL 14 dave@x.com dave@x.com", c.TrID)
	c = p.expect("ADD")
	p.send("ADD %d FL 15 dave@x.com Dave", c.TrID)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Contact("dave@x.com"); c.Lists != FL|AL || c.FriendlyName != "Dave" {
		t.Errorf("dave %+v", c)
	}
}

func TestRNGAndSystemMessages(t *testing.T) {
	_, p, ev := loginMSNP7(t)
	p.send("RNG 11752013 10.0.0.2:1864 CKI 849102291.520491 carol@x.com Carol%%20C")
	inv := waitFor[*SwitchboardInviteEvent](t, ev, nil)
	if inv.SessionID != "11752013" || inv.Addr != "10.0.0.2:1864" || inv.Cookie != "849102291.520491" || inv.Inviter != "carol@x.com" || inv.InviterName != "Carol C" {
		t.Errorf("invite %+v", inv)
	}
	p.sendPayload("MSG Hotmail Hotmail", "MIME-Version: 1.0\r\nContent-Type: application/x-msmsgssystemmessage\r\n\r\nType: 1\r\nArg1: 5\r\n")
	sm := waitFor[*SystemMessageEvent](t, ev, nil)
	if sm.Type != "1" || sm.Arg != "5" {
		t.Errorf("system %+v", sm)
	}
	md := "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsoimnotification; charset=UTF-8\r\n\r\nMail-Data: <MD></MD>\r\n"
	p.sendPayload("MSG Hotmail Hotmail", md)
	o := waitFor[*OfflineMessageNotifyEvent](t, ev, nil)
	if string(o.Payload) != md {
		t.Errorf("oim payload %q", o.Payload)
	}
}

func TestPersonalMessageNotSupportedBeforeMSNP11(t *testing.T) {
	s, _, _ := loginMSNP7(t)
	if err := s.SetPersonalMessage(context.Background(), "hi"); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("err %v", err)
	}
	if err := s.SendOfflineText(context.Background(), "bob@x.com", "hi"); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("err %v", err)
	}
}

func TestMSNP18SelfEndpointsCirclesAndRemoteSignOut(t *testing.T) {
	s, p, ev := loginMSNP18(t)
	if s.Ticket("contacts.msn.com") == "" || s.Ticket("messengerclear.live.com") == "" {
		t.Error("SSO tickets not kept")
	}
	if s.MSPAuth() != "secretauth" {
		t.Errorf("MSPAuth %q", s.MSPAuth())
	}
	// Own endpoint (MPOP): NLN and UBX for ourselves are Self.
	p.send("NLN NLN 1:me@x.com Me%%20Elsewhere 2789003324:48 0")
	self := waitFor(t, ev, func(e *PresenceEvent) bool { return e.Self })
	if self.Contact.Passport != "me@x.com" || self.Contact.Status != Online {
		t.Errorf("self presence %+v", self)
	}
	ubx := `<Data><PSM>from my phone</PSM><CurrentMedia></CurrentMedia><PrivateEndpointData id="{a}"><EpName>phone</EpName></PrivateEndpointData></Data>`
	p.sendPayload("UBX 1:me@x.com", ubx)
	sp := waitFor(t, ev, func(e *ProfileEvent) bool { return e.Self })
	if sp.PersonalMessage != "from my phone" || sp.FriendlyName != "Me Elsewhere" {
		t.Errorf("self profile %+v", sp)
	}
	if _, ok := s.Contact("me@x.com"); ok {
		t.Error("own account listed as a contact")
	}
	// A circle member's presence carries ;via=.
	p.send("NLN BSY 1:m@x.com;via=9:00000000-0000-0000-0009-000000000001@live.com M 0:0 0")
	cm := waitFor(t, ev, func(e *PresenceEvent) bool { return e.Contact.Passport == "m@x.com" })
	if cm.Contact.Status != Busy {
		t.Errorf("circle member %+v", cm)
	}
	// Someone adds us (ADL 0 with l=8).
	p.sendPayload("ADL 0", `<ml><d n="example.com"><c n="carol" t="1" l="8" f="Carol%20%28probe%29" /></d></ml>`)
	a := waitFor[*AddedByEvent](t, ev, nil)
	if a.Passport != "carol@example.com" || a.FriendlyName != "Carol (probe)" {
		t.Errorf("added by %+v", a)
	}
	// Offline text via UUM: the server sends no reply.
	if err := s.SendOfflineText(context.Background(), "bob@example.com", "hi there"); err != nil {
		t.Fatal(err)
	}
	c := p.expect("UUM")
	if strings.Join(c.Args, " ") != "bob@example.com 1 1" || !strings.HasSuffix(string(c.Payload), "\r\n\r\nhi there") || !strings.Contains(string(c.Payload), "Dest-Agent: client") {
		t.Errorf("UUM %v %q", c.Args, c.Payload)
	}
	// PSM with XML special characters and the machine GUID (MSNP16+).
	errc := make(chan error, 1)
	go func() { errc <- s.SetPersonalMessage(context.Background(), "a<b & c") }()
	c = p.expect("UUX")
	if string(c.Payload) != "<Data><PSM>a&lt;b &amp; c</PSM><CurrentMedia></CurrentMedia><MachineGuid>{CA3270CD-85DC-5C21-AA06-CCDC6B86E963}</MachineGuid></Data>" {
		t.Errorf("UUX %q", c.Payload)
	}
	p.send("UUX %d 0", c.TrID)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	// A UBN for somebody else is not a sign-out; ours is.
	p.sendPayload("UBN bob@example.com 4", "goawyplzthxbye")
	p.sendPayload("UBN me@x.com;{CA3270CD-85DC-5C21-AA06-CCDC6B86E963} 4", "goawyplzthxbye-nomorempop")
	de := waitFor[*DisconnectEvent](t, ev, nil)
	var d *DisconnectError
	if !errors.As(de.Err, &d) || !strings.Contains(d.Reason, "goawyplzthxbye") {
		t.Fatalf("disconnect %v", de.Err)
	}
}

func TestLiveXFRNSIsDisconnect(t *testing.T) {
	_, p, ev := loginMSNP7(t)
	p.send("XFR 0 NS 10.1.1.1:1863 0")
	de := waitFor[*DisconnectEvent](t, ev, nil)
	var d *DisconnectError
	if !errors.As(de.Err, &d) || !strings.Contains(d.Reason, "10.1.1.1:1863") {
		t.Fatalf("disconnect %v", de.Err)
	}
}

func TestQNGInterval(t *testing.T) {
	cur := 50 * time.Millisecond
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{0, cur}, {-5, cur}, {1, time.Second}, {50, 50 * time.Second},
		{601, maxQNGInterval}, {math.MaxInt, maxQNGInterval}, {math.MaxInt64 / 1000, maxQNGInterval},
	} {
		if got := qngInterval(tc.n, cur); got != tc.want {
			t.Errorf("qngInterval(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

// TestKeepAliveFollowsServerInterval checks that "QNG n" sets the next ping n seconds later
// instead of the configured interval.
func TestKeepAliveFollowsServerInterval(t *testing.T) {
	_, p, _ := loginMSNP7With(t, func(cfg *Config) { cfg.PingInterval = keepAliveInterval })
	p.expect("PNG")
	p.send("QNG 1")
	start := time.Now()
	p.expect("PNG")
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("next PNG after %v, want about 1 s (QNG 1)", d)
	}
	p.send("QNG 1")
}

// TestOverBoundsEndsSession checks that a line or payload over the configured limits ends the
// session with a DisconnectError wrapping the *wire.ProtocolError.
func TestOverBoundsEndsSession(t *testing.T) {
	for name, send := range map[string]func(p *peer){
		"line":    func(p *peer) { p.send("NLN NLN bob@x.com %s", strings.Repeat("A", 600)) },
		"payload": func(p *peer) { p.sendPayload("MSG Hotmail Hotmail", strings.Repeat("x", 2000)) },
	} {
		t.Run(name, func(t *testing.T) {
			s, p, ev := loginMSNP7With(t, func(cfg *Config) { cfg.Limits = wire.Limits{MaxLine: 512, MaxPayload: 1024} })
			send(p)
			de := waitFor[*DisconnectEvent](t, ev, nil)
			var d *DisconnectError
			var pe *wire.ProtocolError
			if !errors.As(de.Err, &d) || !errors.As(de.Err, &pe) {
				t.Fatalf("disconnect %v", de.Err)
			}
			select {
			case <-s.Done():
			case <-time.After(testWait):
				t.Fatal("session not done")
			}
		})
	}
}

// TestDisconnectEventSurvivesFullQueue checks that the DisconnectEvent is delivered even when a
// stalled OnEvent has let the queue fill up and later events were dropped.
func TestDisconnectEventSurvivesFullQueue(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	got := make(chan Event, 16)
	s, p, _ := loginMSNP7With(t, func(cfg *Config) {
		cfg.OnEvent = func(e Event) {
			<-release
			if d, ok := e.(*DisconnectEvent); ok {
				got <- d
			}
		}
	})
	var b strings.Builder
	for i := 0; i < maxQueuedEvents+100; i++ {
		fmt.Fprintf(&b, "NLN %s bob@x.com Bob\r\n", []string{"AWY", "BSY"}[i%2])
	}
	b.WriteString("OUT OTH\r\n")
	if _, err := p.conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(testWait):
		t.Fatal("session not done after OUT OTH")
	}
	once.Do(func() { close(release) })
	select {
	case e := <-got:
		if d := e.(*DisconnectEvent); !errors.Is(d.Err, ErrSignedInElsewhere) {
			t.Fatalf("disconnect %v", d.Err)
		}
	case <-time.After(testWait):
		t.Fatal("DisconnectEvent dropped with a full queue")
	}
}

// TestUBXEndpoints checks that UBX endpoints reach ProfileEvent for contacts and for our own
// account (MPOP), and that a change of endpoints alone is reported.
func TestUBXEndpoints(t *testing.T) {
	_, p, ev := loginMSNP18(t)
	bob := `<Data><PSM>hi</PSM><CurrentMedia></CurrentMedia><MachineGuid>{B1}</MachineGuid><EndpointData id="{B1}"><Capabilities>2789003324:48</Capabilities></EndpointData></Data>`
	p.sendPayload("UBX 1:bob@example.com", bob)
	pe := waitFor(t, ev, func(e *ProfileEvent) bool { return e.Passport == "bob@example.com" && len(e.Endpoints) > 0 })
	if len(pe.Endpoints) != 1 || pe.Endpoints[0] != (Endpoint{ID: "{B1}", Caps: "2789003324:48"}) || pe.PersonalMessage != "hi" {
		t.Errorf("bob %+v", pe)
	}
	// Same PSM, a second endpoint: reported.
	bob2 := `<Data><PSM>hi</PSM><CurrentMedia></CurrentMedia><EndpointData id="{B1}"><Capabilities>2789003324:48</Capabilities></EndpointData><EndpointData id="{B2}"><Capabilities>1:0</Capabilities></EndpointData></Data>`
	p.sendPayload("UBX 1:bob@example.com", bob2)
	pe = waitFor(t, ev, func(e *ProfileEvent) bool { return e.Passport == "bob@example.com" && len(e.Endpoints) == 2 })
	if pe.Endpoints[1].ID != "{B2}" || pe.Endpoints[1].Caps != "1:0" {
		t.Errorf("bob endpoints %+v", pe.Endpoints)
	}
	// Our own endpoints, public and private data merged by id (case-insensitively).
	self := `<Data><PSM></PSM><CurrentMedia></CurrentMedia>` +
		`<EndpointData id="{CA3270CD-85DC-5C21-AA06-CCDC6B86E963}"><Capabilities>1:2</Capabilities></EndpointData>` +
		`<EndpointData id="{A}"><Capabilities>3:4</Capabilities></EndpointData>` +
		`<PrivateEndpointData id="{a}"><EpName>phone</EpName><Idle>true</Idle><ClientType>2</ClientType><State>AWY</State></PrivateEndpointData></Data>`
	p.sendPayload("UBX 1:me@x.com", self)
	sp := waitFor(t, ev, func(e *ProfileEvent) bool { return e.Self && len(e.Endpoints) > 0 })
	want := []Endpoint{{ID: "{CA3270CD-85DC-5C21-AA06-CCDC6B86E963}", Caps: "1:2"}, {ID: "{A}", Caps: "3:4", Name: "phone", ClientType: "2", State: "AWY", Idle: true}}
	if len(sp.Endpoints) != 2 || sp.Endpoints[0] != want[0] || sp.Endpoints[1] != want[1] {
		t.Errorf("own endpoints %+v", sp.Endpoints)
	}
	// The same UBX again changes nothing: no event (a marker presence follows it).
	p.sendPayload("UBX 1:me@x.com", self)
	p.send("NLN BSY 1:marker@x.com Marker 0:0 0")
	for {
		select {
		case e := <-ev.ch:
			if pe, ok := e.(*ProfileEvent); ok && pe.Self {
				t.Fatalf("unchanged UBX reported again: %+v", pe)
			}
			if pr, ok := e.(*PresenceEvent); ok && pr.Contact.Passport == "marker@x.com" {
				return
			}
		case <-time.After(testWait):
			t.Fatal("marker presence not seen")
		}
	}
}

// TestAsyncCommandsBetweenSYNReplies interleaves a challenge, a presence change and an
// unsolicited error with the LST replies of one SYN: the list still completes, the challenge
// is answered and the presence is delivered.
func TestAsyncCommandsBetweenSYNReplies(t *testing.T) {
	ns := newFakeNS(t)
	ev := newEvents()
	res := startLogin(testConfig(ns.addr(), ev, 7), "me@x.com", "pw")
	p := ns.accept()
	_, c := scriptUntilUSR(p, 7)
	p.send("USR %d MD5 S salt123", c.TrID)
	c = p.expect("USR")
	p.send("USR %d OK me@x.com Me 1", c.TrID)
	c = p.expect("SYN")
	tr := c.TrID
	p.send("SYN %d 3", tr)
	p.send("LST %d FL 3 1 2 bob@x.com Bob 0", tr)
	p.send("CHL 0 15570131571988941333")
	p.send("NLN AWY carol@x.com Carol")
	p.send("LST %d FL 3 2 2 carol@x.com Carol 0", tr)
	p.send("500 0")
	p.send("LST %d AL 3 0 0", tr)
	p.send("LST %d BL 3 0 0", tr)
	p.send("LST %d RL 3 1 1 bob@x.com Bob", tr)
	var sawQRY bool
	for !sawQRY || c.Name != "CHG" {
		_ = p.conn.SetReadDeadline(time.Now().Add(testWait))
		got, err := p.rd.ReadCommand()
		if err != nil {
			t.Fatalf("waiting for QRY and CHG: %v", err)
		}
		switch got.Name {
		case "QRY":
			_, want := auth.ChallengeResponse(7, "15570131571988941333")
			if string(got.Payload) != want {
				t.Errorf("QRY %q", got.Payload)
			}
			sawQRY = true
		case "CHG":
			c = got
		default:
			t.Fatalf("unexpected %s", got)
		}
	}
	p.send("CHG %d NLN", c.TrID)
	s, err := waitLogin(t, res)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.Contacts()); got != 2 {
		t.Errorf("%d contacts: %+v", got, s.Contacts())
	}
	if c, _ := s.Contact("carol@x.com"); c.Lists != FL || c.Status != Away {
		t.Errorf("carol %+v", c)
	}
	waitFor(t, ev, func(e *PresenceEvent) bool { return e.Contact.Passport == "carol@x.com" && e.Contact.Status == Away })
}
