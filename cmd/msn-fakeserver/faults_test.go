package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/message"
)

// frontPair is a client connection through an MSNP front whose upstream is the test itself.
type frontPair struct {
	t      *testing.T
	client net.Conn
	cr     *bufio.Reader
	up     net.Conn
	ur     *bufio.Reader
}

// newFrontPair starts a front of service in front of a listener the test answers as the server.
func newFrontPair(t *testing.T, service string, f *fixture) *frontPair {
	t.Helper()
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { upLn.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := &msnpFront{service: service, ln: ln, upstream: upLn.Addr().String(), gate: f.ctl.gate, faults: f.ctl.faults, log: zerolog.Nop()}
	go front.serve()
	t.Cleanup(front.close)
	client, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	_ = upLn.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	up, err := upLn.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	return &frontPair{t: t, client: client, cr: bufio.NewReader(client), up: up, ur: bufio.NewReader(up)}
}

func writeLine(t *testing.T, c net.Conn, s string) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func readLine(t *testing.T, c net.Conn, r *bufio.Reader) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading a line: %v (got %q)", err, line)
	}
	return strings.TrimRight(line, "\r\n")
}

// faultKinds returns the kinds of the logged fault events.
func faultKinds(t *testing.T, f *fixture) []string {
	t.Helper()
	code, out := f.do("GET", "/v1/faults?since=0", "")
	if code != 200 {
		t.Fatalf("faults: %d %v", code, out)
	}
	var kinds []string
	for _, e := range out["events"].([]any) {
		ev := e.(map[string]any)
		kinds = append(kinds, fmt.Sprint(ev["kind"], " ", ev["trid"], " ", ev["detail"]))
	}
	return kinds
}

func TestSBFrontSwallowsOneACK(t *testing.T) {
	f := newFixture(t)
	p := newFrontPair(t, "SB", f)
	writeLine(t, p.client, "USR 1 alice@example.com;{0f1e2d3c-0000-0000-0000-000000000001} 123.456\r\n")
	if got := readLine(t, p.up, p.ur); !strings.HasPrefix(got, "USR 1 alice@example.com") {
		t.Fatalf("upstream got %q", got)
	}
	if code, out := f.do("POST", "/v1/sb/swallow-ack", `{"who":"alice@example.com"}`); code != 200 {
		t.Fatalf("swallow-ack: %d %v", code, out)
	}
	payload := "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhi"
	writeLine(t, p.client, fmt.Sprintf("MSG 2 A %d\r\n%s", len(payload), payload))
	if got := readLine(t, p.up, p.ur); got != fmt.Sprintf("MSG 2 A %d", len(payload)) {
		t.Fatalf("upstream got %q", got)
	}
	writeLine(t, p.up, "ACK 2\r\nACK 3\r\n")
	if got := readLine(t, p.client, p.cr); got != "ACK 3" {
		t.Errorf("client got %q, want the second ACK only", got)
	}
	kinds := strings.Join(faultKinds(t, f), "; ")
	if !strings.Contains(kinds, "sb-msg 2 text/plain") || !strings.Contains(kinds, "ack-swallowed 2 ACK") {
		t.Errorf("fault log = %s", kinds)
	}
}

func TestSBFrontHoldsUntilDrop(t *testing.T) {
	f := newFixture(t)
	p := newFrontPair(t, "SB", f)
	writeLine(t, p.client, "ANS 1 alice@example.com 123.456 99\r\n")
	readLine(t, p.up, p.ur)
	if code, out := f.do("POST", "/v1/sb/hold", `{"who":"Alice@example.com"}`); code != 200 {
		t.Fatalf("hold: %d %v", code, out)
	}
	payload := "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nheld"
	writeLine(t, p.client, fmt.Sprintf("MSG 2 A %d\r\n%sCAL 3 bob@example.com\r\n", len(payload), payload))
	// The CAL after the MSG arrives first: the MSG was held, not delayed.
	if got := readLine(t, p.up, p.ur); got != "CAL 3 bob@example.com" {
		t.Fatalf("upstream got %q, want the CAL (the MSG held)", got)
	}
	code, out := f.do("POST", "/v1/sb/drop", `{"who":"alice@example.com"}`)
	if code != 200 || out["dropped"] != float64(1) || out["discarded"] != float64(1) {
		t.Fatalf("drop: %d %v", code, out)
	}
	_ = p.client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := p.cr.ReadString('\n'); err == nil {
		t.Error("the client connection survived the drop")
	}
	_ = p.up.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := p.ur.ReadString('\n'); err == nil {
		t.Errorf("upstream got %q after the drop, want the end of the connection", line)
	}
	if code, out := f.do("POST", "/v1/sb/hold", `{"who":"nobody@example.com"}`); code != http.StatusBadRequest {
		t.Errorf("hold of an unknown account: %d %v", code, out)
	}
}

func TestSBFrontDelaysACall(t *testing.T) {
	f := newFixture(t)
	p := newFrontPair(t, "SB", f)
	writeLine(t, p.client, "USR 1 alice@example.com 123.456\r\n")
	readLine(t, p.up, p.ur)
	if code, out := f.do("POST", "/v1/sb/call-delay", `{"who":"bob@example.com","delay_ms":300}`); code != 200 {
		t.Fatalf("call-delay: %d %v", code, out)
	}
	writeLine(t, p.client, "CAL 2 bob@example.com\r\nCAL 3 carol@example.com\r\n")
	if got := readLine(t, p.up, p.ur); got != "CAL 3 carol@example.com" {
		t.Fatalf("upstream got %q first, want carol's CAL (bob's held)", got)
	}
	writeLine(t, p.up, "CAL 3 RINGING 4242\r\nJOI carol@example.com Carol\r\n")
	// The client hears RINGING for both calls, bob's made up with the session id just learnt.
	for _, want := range []string{"CAL 3 RINGING 4242", "CAL 2 RINGING 4242", "JOI carol@example.com Carol"} {
		if got := readLine(t, p.client, p.cr); got != want {
			t.Fatalf("client got %q, want %q", got, want)
		}
	}
	start := time.Now()
	if got := readLine(t, p.up, p.ur); got != "CAL 2 bob@example.com" {
		t.Fatalf("upstream got %q, want bob's CAL after the delay", got)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Logf("bob's CAL came %s after carol's answer", waited)
	}
	// The server's own answer to the held CAL is swallowed; bob's JOI goes through.
	writeLine(t, p.up, "CAL 2 RINGING 4242\r\nJOI bob@example.com Bob\r\n")
	if got := readLine(t, p.client, p.cr); got != "JOI bob@example.com Bob" {
		t.Errorf("client got %q, want bob's JOI (the second RINGING swallowed)", got)
	}
	if code, _ := f.do("POST", "/v1/sb/call-delay", `{"who":"bob@example.com","delay_ms":-5}`); code != http.StatusBadRequest {
		t.Errorf("negative delay accepted: %d", code)
	}
}

func TestNSFrontRingsDuringLogin(t *testing.T) {
	f := newFixture(t)
	// A session that was already there when the knob was armed does not trigger it.
	old := newFrontPair(t, "NS", f)
	writeLine(t, old.client, "USR 3 SSO I alice@example.com\r\n")
	readLine(t, old.up, old.ur)
	if code, out := f.do("POST", "/v1/ns/ring-on-login", `{"who":"alice@example.com","from":"bob@example.com","text":"hi","hold_ms":200}`); code != 200 {
		t.Fatalf("ring-on-login: %d %v", code, out)
	}
	writeLine(t, old.up, "CHG 4 NLN 0\r\n")
	if got := readLine(t, old.client, old.cr); got != "CHG 4 NLN 0" {
		t.Fatalf("old session got %q", got)
	}
	p := newFrontPair(t, "NS", f)
	rang := make(chan string, 1)
	f.ctl.faults.send = func(from, to, text string) error {
		// The server rings the account: RNG comes after the held CHG answer on the wire.
		writeLine(t, p.up, "RNG 11 127.0.0.1:1864 CKI 1.2 "+from+" Bob U messenger.msn.com 1\r\n")
		rang <- from + ">" + to + ":" + text
		return nil
	}
	writeLine(t, p.client, "VER 1 MSNP18 CVR0\r\n")
	readLine(t, p.up, p.ur)
	writeLine(t, p.up, "VER 1 MSNP18\r\n")
	readLine(t, p.client, p.cr)
	writeLine(t, p.client, "USR 3 SSO I alice@example.com\r\n")
	readLine(t, p.up, p.ur)
	writeLine(t, p.up, "CHG 7 NLN 0\r\nQNG 50\r\n")
	if got := readLine(t, p.client, p.cr); !strings.HasPrefix(got, "RNG 11 ") {
		t.Fatalf("client got %q first, want the RNG", got)
	}
	for _, want := range []string{"CHG 7 NLN 0", "QNG 50"} {
		if got := readLine(t, p.client, p.cr); got != want {
			t.Fatalf("client got %q, want %q", got, want)
		}
	}
	if got := <-rang; got != "bob@example.com>alice@example.com:hi" {
		t.Errorf("rang %q", got)
	}
	_, out := f.do("GET", "/v1/logins?passport=alice@example.com", "")
	// The old session never negotiated a version (0); the new one did MSNP18.
	if v, _ := out["ns_versions"].([]any); len(v) != 2 || !slices.Contains(v, any(float64(18))) {
		t.Errorf("ns_versions = %v", out["ns_versions"])
	}
	// One shot: the next CHG answer passes at once.
	writeLine(t, p.up, "CHG 8 AWY 0\r\n")
	if got := readLine(t, p.client, p.cr); got != "CHG 8 AWY 0" {
		t.Errorf("client got %q", got)
	}
	if code, out := f.do("POST", "/v1/ns/drop", `{"who":"alice@example.com"}`); code != 200 || out["dropped"] != float64(2) {
		t.Fatalf("ns drop: %d %v", code, out)
	}
	_ = p.client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := p.cr.ReadString('\n'); err == nil {
		t.Error("the NS connection survived the drop")
	}
}

func TestNSFrontLogsLogins(t *testing.T) {
	f := newFixture(t)
	p := newFrontPair(t, "NS", f)
	writeLine(t, p.client, "USR 3 SSO I Alice@Example.com\r\n")
	readLine(t, p.up, p.ur)
	writeLine(t, p.up, "USR 3 SSO S MBI_KEY_OLD nonce\r\n")
	readLine(t, p.client, p.cr)
	if got := faultKinds(t, f); len(got) != 0 {
		t.Fatalf("fault log before the login's answer: %q", got)
	}
	writeLine(t, p.up, "USR 4 OK alice@example.com 1 0\r\n")
	if got := readLine(t, p.client, p.cr); got != "USR 4 OK alice@example.com 1 0" {
		t.Fatalf("client got %q", got)
	}
	_, out := f.do("GET", "/v1/faults?since=0", "")
	evs, _ := out["events"].([]any)
	if len(evs) != 1 {
		t.Fatalf("fault log %v, want one ns-login", out["events"])
	}
	if ev := evs[0].(map[string]any); ev["kind"] != "ns-login" || ev["passport"] != "alice@example.com" || ev["at"] == "" {
		t.Errorf("event %v, want ns-login of alice@example.com with its time", ev)
	}
}

func TestRSICallsAreLogged(t *testing.T) {
	f := newFixture(t)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	defer upstream.Close()
	front, err := httpFront(upstream.URL, newGate(), f.ctl.faults, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	for action, body := range map[string]string{
		"GetMessage":     `<soap:Body><GetMessage xmlns="x"><messageId>abc-1</messageId></GetMessage></soap:Body>`,
		"DeleteMessages": `<soap:Body><DeleteMessages xmlns="x"><messageIds><messageId>abc-2</messageId><messageId>abc-3</messageId></messageIds></DeleteMessages></soap:Body>`,
	} {
		req := httptest.NewRequest("POST", "/rsi/rsi.asmx", strings.NewReader(body))
		req.Header.Set("SOAPAction", `"http://www.hotmail.msn.com/ws/2004/09/oim/rsi/`+action+`"`)
		rec := httptest.NewRecorder()
		front.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("%s: %d", action, rec.Code)
		}
	}
	kinds := strings.Join(faultKinds(t, f), "; ")
	for _, want := range []string{"rsi-GetMessage <nil> ABC-1", "rsi-DeleteMessages <nil> ABC-2", "rsi-DeleteMessages <nil> ABC-3"} {
		if !strings.Contains(kinds, want) {
			t.Errorf("fault log %q lacks %q", kinds, want)
		}
	}
}

func TestReceivedCountsChunks(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("chunky text ", 300)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Scripted contacts talk to each other in process: bob sends dan one chunked message and
	// one plain one.
	if err := sendText(ctx, f.srv.Contact("bob@example.com"), "dan@example.com", long, message.DefaultFormat); err != nil {
		t.Fatal(err)
	}
	if err := sendText(ctx, f.srv.Contact("bob@example.com"), "dan@example.com", "short", message.DefaultFormat); err != nil {
		t.Fatal(err)
	}
	code, out := f.do("GET", "/v1/received?contact=dan@example.com&since=0&wait_ms=5000", "")
	if code != 200 {
		t.Fatalf("received: %d %v", code, out)
	}
	raw, _ := json.Marshal(out["items"])
	var items []Item
	if err := json.Unmarshal(raw, &items); err != nil {
		t.Fatal(err)
	}
	for len(items) < 2 {
		_, more := f.do("GET", fmt.Sprintf("/v1/received?contact=dan@example.com&since=%d&wait_ms=5000", len(items)), "")
		raw, _ := json.Marshal(more["items"])
		var next []Item
		if err := json.Unmarshal(raw, &next); err != nil || len(next) == 0 {
			t.Fatalf("only %d items: %v", len(items), err)
		}
		items = append(items, next...)
	}
	if items[0].Text != long || items[0].Chunks < 2 || items[0].MessageID == "" {
		t.Errorf("chunked item: %d bytes, chunks %d, id %q", len(items[0].Text), items[0].Chunks, items[0].MessageID)
	}
	if items[1].Text != "short" || items[1].Chunks != 1 || items[1].MessageID != "" {
		t.Errorf("plain item: %+v", items[1])
	}
}

func TestAccountCaps(t *testing.T) {
	if _, err := parseAccounts(strings.NewReader(`{"accounts":[{"passport":"a@b","scripted":true,"caps":"2684354592:48"}]}`)); err != nil {
		t.Errorf("valid caps refused: %v", err)
	}
	for _, caps := range []string{"x", "1:2:3", "99999999999", "-1"} {
		if _, err := parseAccounts(strings.NewReader(`{"accounts":[{"passport":"a@b","scripted":true,"caps":"` + caps + `"}]}`)); err == nil {
			t.Errorf("caps %q accepted", caps)
		}
	}
}
