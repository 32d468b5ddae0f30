package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/msntest"
)

func TestParseAccounts(t *testing.T) {
	good := `{"accounts":[
		{"passport":"Alice@Example.com","password":"pw","contacts":["bob@example.com"]},
		{"passport":"bob@example.com","scripted":true,"echo":true,"status":"awy","contacts":["alice@example.com"]}]}`
	accs, err := parseAccounts(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if accs[0].Passport != "alice@example.com" || accs[1].Status != "AWY" {
		t.Errorf("not normalised: %+v", accs)
	}
	for name, doc := range map[string]string{
		"empty":           `{"accounts":[]}`,
		"unknown field":   `{"accounts":[{"passport":"a@b","password":"x","colour":"red"}]}`,
		"not an e-mail":   `{"accounts":[{"passport":"alice","password":"x"}]}`,
		"duplicate":       `{"accounts":[{"passport":"a@b","password":"x"},{"passport":"A@B","password":"y"}]}`,
		"bad status":      `{"accounts":[{"passport":"a@b","scripted":true,"status":"ZZZ"}]}`,
		"echo unscripted": `{"accounts":[{"passport":"a@b","password":"x","echo":true}]}`,
		"no password":     `{"accounts":[{"passport":"a@b"}]}`,
		"unknown contact": `{"accounts":[{"passport":"a@b","password":"x","contacts":["c@d"]}]}`,
		"not JSON":        `accounts: []`,
	} {
		if _, err := parseAccounts(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := parseAccounts(strings.NewReader(`{"accounts":[` + strings.Repeat(" ", maxAccountFile) + `]}`)); err == nil {
		t.Error("an oversized file was accepted")
	}
	if err := checkAccounts(demoAccounts()); err != nil {
		t.Errorf("demo accounts: %v", err)
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, a := range []string{"127.0.0.1:0", "localhost:1863", "[::1]:80", "127.0.0.2:5"} {
		if err := checkLoopback(a); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	for _, a := range []string{"0.0.0.0:1863", ":1863", "10.0.0.1:80", "example.com:80", "nonsense"} {
		if err := checkLoopback(a); err == nil {
			t.Errorf("%s accepted", a)
		}
	}
}

func TestFormatJSON(t *testing.T) {
	f, err := (&FormatJSON{Font: "Arial", Color: "FF8000", Bold: true}).format()
	if err != nil {
		t.Fatal(err)
	}
	if f.Font != "Arial" || !f.Bold || !f.HasColor || f.Color != 0xff8000 {
		t.Errorf("format = %+v", f)
	}
	if back := formatToJSON(f); back.Color != "ff8000" || !back.Bold || back.Font != "Arial" {
		t.Errorf("round trip = %+v", back)
	}
	for _, c := range []string{"red", "12345", "1234567", "GGGGGG"} {
		if _, err := (&FormatJSON{Color: c}).format(); err == nil {
			t.Errorf("colour %q accepted", c)
		}
	}
	if f, err := (*FormatJSON)(nil).format(); err != nil || f != message.DefaultFormat {
		t.Errorf("nil format = %+v, %v", f, err)
	}
}

// fixture runs the control API over an in-process fake server, with the NS and SB fronts.
type fixture struct {
	t    testing.TB
	srv  *msntest.Server
	ctl  *control
	http *httptest.Server
	ns   *msnpFront
	sb   *msnpFront
}

func newFixture(t testing.TB) *fixture {
	sbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := msntest.New(msntest.Options{AdvertiseSB: sbLn.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	accounts := []Account{
		{Passport: "alice@example.com", Password: "pw", Contacts: []string{"bob@example.com", "carol@example.com", "dan@example.com"}},
		{Passport: "bob@example.com", Scripted: true, Status: "NLN", PSM: "hello", Contacts: []string{"alice@example.com"}},
		{Passport: "carol@example.com", Scripted: true, Status: "FLN", Contacts: []string{"alice@example.com"}},
		{Passport: "dan@example.com", Scripted: true, Status: "NLN", Caps: "2684354592:48", Contacts: []string{"alice@example.com"}},
	}
	if err := applyAccounts(srv, accounts); err != nil {
		t.Fatal(err)
	}
	g := newGate()
	flt := newFaults(zerolog.Nop())
	ln, err := listenSwitch("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addListener(ln)
	ns := &msnpFront{service: "NS", ln: ln, upstream: srv.NSAddr(), gate: g, faults: flt, log: zerolog.Nop()}
	go ns.serve()
	t.Cleanup(ns.close)
	sb := &msnpFront{service: "SB", ln: sbLn, upstream: srv.SBListenAddr(), gate: g, faults: flt, log: zerolog.Nop()}
	go sb.serve()
	t.Cleanup(sb.close)
	ctl := newControl(srv, g, flt, zerolog.Nop())
	for _, a := range accounts {
		ctl.passports = append(ctl.passports, a.Passport)
		if a.Scripted {
			ctl.recorders[a.Passport] = newRecorder(srv, srv.Contact(a.Passport), a.Echo, zerolog.Nop())
			go ctl.recorders[a.Passport].run(t.Context())
		}
	}
	hs := httptest.NewServer(ctl.handler())
	t.Cleanup(hs.Close)
	return &fixture{t: t, srv: srv, ctl: ctl, http: hs, ns: ns, sb: sb}
}

func (f *fixture) do(method, path, body string) (int, map[string]any) {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.t.Context(), method, f.http.URL+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		f.t.Fatalf("%s %s: answer is not JSON: %v", method, path, err)
	}
	return resp.StatusCode, out
}

func TestControlPresenceAndOIM(t *testing.T) {
	f := newFixture(t)
	if f.srv.Status("bob@example.com") != "NLN" || f.srv.Status("carol@example.com") != "FLN" {
		t.Fatalf("initial presence bob=%s carol=%s", f.srv.Status("bob@example.com"), f.srv.Status("carol@example.com"))
	}
	if code, out := f.do("POST", "/v1/presence", `{"who":"bob@example.com","status":"awy","psm":"gone","name":"Robert"}`); code != 200 {
		t.Fatalf("presence: %d %v", code, out)
	}
	if got := f.srv.Status("bob@example.com"); got != "AWY" {
		t.Errorf("status = %s", got)
	}
	if got := f.srv.PersonalMessage("bob@example.com"); got != "gone" {
		t.Errorf("psm = %q", got)
	}
	if got := f.srv.FriendlyName("bob@example.com"); got != "Robert" {
		t.Errorf("name = %q", got)
	}
	if code, _ := f.do("POST", "/v1/oim", `{"from":"alice@example.com","to":"carol@example.com","text":"see you"}`); code != 200 {
		t.Fatalf("oim: %d", code)
	}
	code, out := f.do("GET", "/v1/received?contact=carol@example.com&since=0&wait_ms=2000", "")
	if code != 200 {
		t.Fatalf("received: %d %v", code, out)
	}
	items, _ := out["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("items = %v", out)
	}
	it := items[0].(map[string]any)
	if it["kind"] != "oim" || it["text"] != "see you" || it["from"] != "alice@example.com" {
		t.Errorf("item = %v", it)
	}
	if out["next"] != float64(1) {
		t.Errorf("next = %v", out["next"])
	}
	// Nothing new after the cursor: the long poll ends empty at its deadline.
	if _, out := f.do("GET", "/v1/received?contact=carol@example.com&since=1&wait_ms=50", ""); len(out["items"].([]any)) != 0 {
		t.Errorf("items after the cursor = %v", out["items"])
	}
	if _, out := f.do("GET", "/v1/logins?passport=alice@example.com", ""); out["status"] != "FLN" || out["logins"] != float64(0) {
		t.Errorf("logins = %v", out)
	}
}

func TestControlRejectsBadRequests(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/message", `{"from":"alice@example.com","to":"bob@example.com","text":"x"}`}, // not scripted
		{"POST", "/v1/message", `{"from":"bob@example.com","to":"alice@example.com"}`},            // no text
		{"POST", "/v1/message", `{"from":"bob@example.com","to":"alice@example.com","text":"x","format":{"color":"red"}}`},
		{"POST", "/v1/presence", `{"who":"bob@example.com","status":"XYZ"}`},
		{"POST", "/v1/presence", `{"who":"bob@example.com","bogus":1}`},
		{"POST", "/v1/restart", `{"down_ms":-1}`},
		{"POST", "/v1/join", `{"who":"carol@example.com","to":"alice@example.com"}`},
		{"POST", "/v1/typing", `not json`},
		{"POST", "/v1/leave", `{"who":"alice@example.com","to":"bob@example.com"}`},
		{"GET", "/v1/received?contact=alice@example.com", ""},
		{"GET", "/v1/received?contact=bob@example.com&since=-1", ""},
		{"GET", "/v1/received?contact=bob@example.com&wait_ms=999999", ""},
		{"GET", "/v1/logins", ""},
	} {
		if code, out := f.do(c.method, c.path, c.body); code != http.StatusBadRequest || out["error"] == "" {
			t.Errorf("%s %s %s: %d %v, want 400 with an error", c.method, c.path, c.body, code, out)
		}
	}
	// A message to an account that is not signed in is refused by the server.
	if code, out := f.do("POST", "/v1/message", `{"from":"bob@example.com","to":"alice@example.com","text":"x"}`); code == 200 {
		t.Errorf("message to an offline account: %d %v", code, out)
	}
}

func TestRestartRefusesConnections(t *testing.T) {
	f := newFixture(t)
	// A connection through the front reaches the NS (it answers VER).
	c, err := net.DialTimeout("tcp", f.ns.ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("VER 1 MSNP8 CVR0\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || !bytes.HasPrefix(buf[:n], []byte("VER 1")) {
		t.Fatalf("VER answer %q, %v", buf[:n], err)
	}
	if code, out := f.do("POST", "/v1/restart", `{"down_ms":60000}`); code != 200 || out["dropped"].(float64) < 1 {
		t.Fatalf("restart: %d %v", code, out)
	}
	// The open connection is closed…
	if _, err := c.Read(buf); err == nil {
		t.Error("the connection survived the restart")
	}
	// …and a new one is refused (closed at once) while the server is down.
	c2, err := net.DialTimeout("tcp", f.ns.ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c2.Read(buf); err == nil {
		t.Error("a connection during the restart was served")
	}
	// The HTTP front answers 503 while down.
	front, err := httpFront(f.srv.HTTPURL(), f.ctl.gate, f.ctl.faults, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	front.ServeHTTP(rec, httptest.NewRequest("GET", "/rdr/pprdr.asp", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("HTTP during restart: %d", rec.Code)
	}
}

func TestDownHoldsUntilUp(t *testing.T) {
	f := newFixture(t)
	// served says whether a new NS connection through the front is answered.
	served := func() bool {
		c, err := net.DialTimeout("tcp", f.ns.ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("VER 1 MSNP8 CVR0\r\n")); err != nil {
			return false
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		return err == nil && bytes.HasPrefix(buf[:n], []byte("VER 1"))
	}
	if !served() {
		t.Fatal("a connection before down was not served")
	}
	if code, out := f.do("POST", "/v1/down", `{}`); code != 200 {
		t.Fatalf("down: %d %v", code, out)
	}
	// No timer ends a hold: a short restart during it does not bring the server up either.
	if code, out := f.do("POST", "/v1/restart", `{"down_ms":0}`); code != 200 {
		t.Fatalf("restart: %d %v", code, out)
	}
	if served() {
		t.Error("a connection while down was served")
	}
	if code, out := f.do("POST", "/v1/up", `{}`); code != 200 {
		t.Fatalf("up: %d %v", code, out)
	}
	if !served() {
		t.Error("a connection after up was not served")
	}
}

func TestDownRefuseShutsListeners(t *testing.T) {
	f := newFixture(t)
	addr := f.ns.ln.Addr().String()
	// state dials the NS front and says what happened: "refused", "closed" (accepted, then
	// closed without an answer) or "served".
	state := func() string {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return "refused"
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("VER 1 MSNP8 CVR0\r\n")); err != nil {
			return "closed"
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err == nil && bytes.HasPrefix(buf[:n], []byte("VER 1")) {
			return "served"
		}
		return "closed"
	}
	for _, step := range []struct{ path, body, want string }{
		{"", "", "served"},
		{"/v1/down", `{"refuse":true}`, "refused"},
		{"/v1/down", `{}`, "closed"},
		{"/v1/down", `{"refuse":true}`, "refused"},
		{"/v1/up", `{}`, "served"},
	} {
		if step.path != "" {
			if code, out := f.do("POST", step.path, step.body); code != 200 {
				t.Fatalf("%s %s: %d %v", step.path, step.body, code, out)
			}
		}
		if got := state(); got != step.want {
			t.Fatalf("after %s %s: a connect is %s, want %s", step.path, step.body, got, step.want)
		}
	}
	want := []string{"server-down <nil> refuse", "server-down <nil> close", "server-down <nil> refuse", "server-up <nil> <nil>"}
	if got := faultKinds(t, f); !slices.Equal(got, want) {
		t.Errorf("fault log %q, want %q", got, want)
	}
}

func TestSwitchListenerCloseWhileOff(t *testing.T) {
	l, err := listenSwitch("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.setListening(false); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		done <- err
	}()
	// Accept waits while off; Close ends it.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept still waiting after Close")
	}
	if err := l.setListening(true); err != nil {
		t.Errorf("setListening after Close: %v", err)
	}
}

func FuzzControlPost(f *testing.F) {
	for _, s := range []string{
		`{"from":"bob@example.com","to":"alice@example.com","text":"hi","format":{"color":"00ff00","bold":true}}`,
		`{"who":"bob@example.com","status":"BSY","psm":"x"}`,
		`{"down_ms":0}`,
		`{"from":"bob@example.com","to":"carol@example.com","text":"oim"}`,
		`{"who":"carol@example.com","to":"alice@example.com","with":"bob@example.com"}`,
		`{"who":"alice@example.com","count":2}`, `{"who":"bob@example.com","delay_ms":10}`,
		`{"who":"alice@example.com","from":"bob@example.com","text":"hi","hold_ms":5}`,
		`{`, `null`, `[]`, `{"text":1}`,
	} {
		f.Add(s)
	}
	fx := newFixture(f)
	paths := []string{"/v1/message", "/v1/typing", "/v1/nudge", "/v1/presence", "/v1/join", "/v1/leave", "/v1/oim", "/v1/restart", "/v1/down", "/v1/up",
		"/v1/sb/hold", "/v1/sb/drop", "/v1/sb/swallow-ack", "/v1/sb/call-delay", "/v1/ns/drop", "/v1/ns/ring-on-login"}
	h := fx.ctl.handler()
	f.Fuzz(func(t *testing.T, body string) {
		for _, p := range paths {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", p, strings.NewReader(body)))
			if rec.Code != 200 && rec.Code != 400 && rec.Code != 500 {
				t.Fatalf("%s: status %d", p, rec.Code)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s: answer is not JSON: %q", p, rec.Body.String())
			}
		}
	})
}
