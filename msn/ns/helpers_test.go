package ns

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/wire"
)

const testWait = 5 * time.Second

// peer is the server side of one scripted NS connection.
type peer struct {
	t    *testing.T
	conn net.Conn
	rd   *wire.Reader
	w    *wire.Writer
}

// expect reads the next client command and fails the test unless it is name.
func (p *peer) expect(name string) *wire.Command {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(testWait))
	c, err := p.rd.ReadCommand()
	if err != nil {
		p.t.Fatalf("waiting for %s: %v", name, err)
	}
	if c.Name != name {
		p.t.Fatalf("client sent %s, want %s", c.String(), name)
	}
	return c
}

// send writes raw lines (CRLF appended) as they would come from the server.
func (p *peer) send(format string, args ...any) {
	p.t.Helper()
	line := fmt.Sprintf(format, args...)
	if _, err := p.conn.Write([]byte(line + "\r\n")); err != nil {
		p.t.Fatalf("send %q: %v", line, err)
	}
}

// sendPayload writes "line len\r\npayload".
func (p *peer) sendPayload(line, payload string) {
	p.t.Helper()
	if _, err := fmt.Fprintf(p.conn, "%s %d\r\n%s", line, len(payload), payload); err != nil {
		p.t.Fatalf("send %q: %v", line, err)
	}
}

// fakeNS is a 127.0.0.1 listener handing out scripted peers.
type fakeNS struct {
	t     *testing.T
	ln    net.Listener
	conns chan net.Conn
}

func newFakeNS(t *testing.T) *fakeNS {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNS{t: t, ln: ln, conns: make(chan net.Conn, 4)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns <- c
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return f
}

func (f *fakeNS) addr() string { return f.ln.Addr().String() }

func (f *fakeNS) accept() *peer {
	f.t.Helper()
	select {
	case c := <-f.conns:
		f.t.Cleanup(func() { c.Close() })
		return &peer{t: f.t, conn: c, rd: wire.NewReader(c, wire.FromClient, wire.Limits{}), w: wire.NewWriter(c)}
	case <-time.After(testWait):
		f.t.Fatal("client did not connect")
		return nil
	}
}

// events collects session events.
type events struct {
	ch chan Event
}

func newEvents() *events { return &events{ch: make(chan Event, 1024)} }

func (e *events) on(ev Event) {
	select {
	case e.ch <- ev:
	default:
	}
}

// waitFor returns the first event for which match is true, failing after testWait.
func waitFor[T Event](t *testing.T, e *events, match func(T) bool) T {
	t.Helper()
	deadline := time.After(testWait)
	for {
		select {
		case ev := <-e.ch:
			if x, ok := ev.(T); ok && (match == nil || match(x)) {
				return x
			}
		case <-deadline:
			var zero T
			t.Fatalf("no %T event within %v", zero, testWait)
			return zero
		}
	}
}

type loginResult struct {
	s   *Session
	err error
}

// startLogin runs Login in the background.
func startLogin(cfg Config, passport, password string) chan loginResult {
	ch := make(chan loginResult, 1)
	go func() {
		s, err := Login(context.Background(), cfg, passport, password)
		ch <- loginResult{s, err}
	}()
	return ch
}

func waitLogin(t *testing.T, ch chan loginResult) (*Session, error) {
	t.Helper()
	select {
	case r := <-ch:
		if r.s != nil {
			t.Cleanup(func() { r.s.Close() })
		}
		return r.s, r.err
	case <-time.After(3 * testWait):
		t.Fatal("Login did not return")
		return nil, nil
	}
}

func testConfig(addr string, ev *events, versions ...int) Config {
	return Config{
		Server:         addr,
		Versions:       versions,
		RequestTimeout: 3 * time.Second,
		LoginTimeout:   10 * time.Second,
		DialTimeout:    2 * time.Second,
		OnEvent:        ev.on,
		MachineGUID:    "{CA3270CD-85DC-5C21-AA06-CCDC6B86E963}",
	}
}

// fakeHTTP serves the Passport, RST and ABCH endpoints for tests.
type fakeHTTP struct {
	srv      *httptest.Server
	mu       sync.Mutex
	password string
	ticket   string
	calls    []string
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "http", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newFakeHTTP(t *testing.T, password, twnTicket string) *fakeHTTP {
	f := &fakeHTTP{password: password, ticket: twnTicket}
	rstOK, rstBad := fixture(t, "RST_srf.response.xml"), fixture(t, "RST_srf.authfailed.xml")
	fm, fa, fp := fixture(t, "FindMembership.response.xml"), fixture(t, "ABFindAll.response.xml"), fixture(t, "ABFindContactsPaged.response.xml")
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		f.record("login")
		if !strings.Contains(r.Header.Get("Authorization"), "pwd="+f.password+",") {
			w.Header().Set("WWW-Authenticate", "Passport1.4 da-status=failed,srealm=Passport.NET,ts=-3,prompt,cburl=x,cbtxt=wrong")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Authentication-Info", "Passport1.4 da-status=success,from-PP='"+f.ticket+"'")
		w.Write([]byte("200: OK"))
	})
	mux.HandleFunc("/RST.srf", func(w http.ResponseWriter, r *http.Request) {
		f.record("rst")
		body := make([]byte, 64<<10)
		n, _ := r.Body.Read(body)
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		if !strings.Contains(string(body[:n]), "<wsse:Password>"+f.password+"</wsse:Password>") {
			w.Write(rstBad)
			return
		}
		w.Write(rstOK)
	})
	soap := func(w http.ResponseWriter, r *http.Request) {
		action := r.Header.Get("SOAPAction")
		f.record(action)
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		switch {
		case strings.Contains(action, "FindMembership"):
			w.Write(fm)
		case strings.Contains(action, "ABFindAll"):
			w.Write(fa)
		case strings.Contains(action, "ABFindContactsPaged"):
			w.Write(fp)
		default:
			http.Error(w, "unexpected action", http.StatusInternalServerError)
		}
	}
	mux.HandleFunc("/abservice/SharingService.asmx", soap)
	mux.HandleFunc("/abservice/abservice.asmx", soap)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeHTTP) record(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeHTTP) endpoints() Endpoints {
	u := f.srv.URL
	return Endpoints{Login: u + "/login", RST: u + "/RST.srf", Sharing: u + "/abservice/SharingService.asmx", AddressBook: u + "/abservice/abservice.asmx"}
}

const profilePayload = "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\nLoginTime: 1\r\nMSPAuth: secretauth\r\nClientIP: 127.0.0.1\r\n\r\n"

// scriptUntilUSR answers VER with version v, INF (MSNP2–7) and CVR, and returns the CVR and
// the first USR the client sends.
func scriptUntilUSR(p *peer, v int) (cvr, usr *wire.Command) {
	p.t.Helper()
	c := p.expect("VER")
	p.send("VER %d MSNP%d", c.TrID, v)
	if v <= 7 {
		c = p.expect("INF")
		p.send("INF %d MD5", c.TrID)
	}
	cvr = p.expect("CVR")
	p.send("CVR %d 4.7.3001 4.7.3001 4.7.3001 http://x http://x", cvr.TrID)
	return cvr, p.expect("USR")
}

// scriptMSNP7Login plays a complete MSNP7 login for me@x.com (password "pw") with one contact.
func scriptMSNP7Login(p *peer) {
	p.t.Helper()
	_, c := scriptUntilUSR(p, 7)
	p.send("USR %d MD5 S salt123", c.TrID)
	c = p.expect("USR")
	p.send("USR %d OK me@x.com Me%%20Myself 1", c.TrID)
	p.sendPayload("MSG Hotmail Hotmail", profilePayload)
	c = p.expect("SYN")
	t := c.TrID
	p.send("SYN %d 3", t)
	p.send("GTC %d 3 A", t)
	p.send("BLP %d 3 AL", t)
	p.send("LSG %d 3 1 2 0 Other%%20Contacts 0", t)
	p.send("LSG %d 3 2 2 1 Friends 0", t)
	p.send("LST %d FL 3 1 1 bob@x.com Bob 1", t)
	p.send("LST %d AL 3 1 1 bob@x.com Bob", t)
	p.send("LST %d BL 3 0 0", t)
	p.send("LST %d RL 3 1 1 bob@x.com Bob", t)
	c = p.expect("CHG")
	p.send("CHG %d NLN", c.TrID)
	p.send("ILN %d BSY bob@x.com Bob%%20B", c.TrID)
}

// scriptMSNP18Login plays an MSNP18 login (SSO against fakeHTTP, ABCH fixtures with bob) up to
// the CHG reply; it returns the CHG command.
func scriptMSNP18Login(p *peer) *wire.Command {
	p.t.Helper()
	c := p.expect("VER")
	p.send("VER %d MSNP18", c.TrID)
	c = p.expect("CVR")
	p.send("CVR %d 14.0.8117.0416 14.0.8117.0416 14.0.8117.0416 x x", c.TrID)
	c = p.expect("USR")
	p.sendPayload("GCF 0", "<Policies><Policy type=\"SHIELDS\"/></Policies>")
	p.send("USR %d SSO S MBI_KEY_OLD %s", c.TrID, strings.Repeat("Q", 64))
	c = p.expect("USR")
	p.send("USR %d OK me@x.com 1 0", c.TrID)
	p.send("SBS 0 null")
	p.sendPayload("MSG Hotmail Hotmail", profilePayload)
	p.send("UBX 1:me@x.com 0")
	c = p.expect("ADL")
	if !strings.HasPrefix(string(c.Payload), `<ml l="1">`) {
		p.t.Errorf("initial ADL %q", c.Payload)
	}
	p.send("ADL %d OK", c.TrID)
	c = p.expect("CHG")
	p.send("CHG %d %s", c.TrID, strings.Join(c.Args, " "))
	return c
}

func loginMSNP18(t *testing.T) (*Session, *peer, *events) {
	t.Helper()
	ns := newFakeNS(t)
	h := newFakeHTTP(t, "pw", "")
	ev := newEvents()
	cfg := testConfig(ns.addr(), ev, 18)
	cfg.Endpoints = h.endpoints()
	res := startLogin(cfg, "me@x.com", "pw")
	p := ns.accept()
	chg := scriptMSNP18Login(p)
	if strings.Join(chg.Args, " ") != "NLN "+capsFor(18)+" 0" {
		t.Errorf("MSNP18 CHG args %v", chg.Args)
	}
	s, err := waitLogin(t, res)
	if err != nil {
		t.Fatal(err)
	}
	return s, p, ev
}
