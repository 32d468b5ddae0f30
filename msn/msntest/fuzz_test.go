package msntest

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

const (
	fuzzSalt   = "1013928519.693957190"
	fuzzTWN    = "0123456789abcdef0123"
	fuzzCookie = "fuzzcookie0123456789"
	fuzzToken  = "fuzztoken00000000000"
)

// fuzzServer returns a started server with fixed credentials so that seeds can log in.
func fuzzServer(f *testing.F) *Server {
	s, err := New(Options{WriteTimeout: 200 * time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	if err := s.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	for _, p := range []string{"alice@example.com", "bob@example.com"} {
		if err := s.AddAccount(p, "pw", ""); err != nil {
			f.Fatal(err)
		}
	}
	_ = s.AddContact("alice@example.com", "bob@example.com", FL|AL)
	s.mu.Lock()
	s.accounts["alice@example.com"].salt = fuzzSalt
	s.twnTokens[fuzzTWN] = twnToken{passport: "alice@example.com", expires: time.Now().Add(time.Hour)}
	s.mu.Unlock()
	return s
}

// runConn feeds input to a server-side handler over a pipe and waits for it to finish.
func runConn(t *testing.T, serve func(net.Conn), input []byte) {
	cli, srv := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		serve(srv)
	}()
	go func() { _, _ = io.Copy(io.Discard, cli) }()
	_ = cli.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, _ = cli.Write(input)
	cli.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("handler did not return after the client closed")
	}
}

var nsSeeds = []string{
	"VER 1 MSNP7 CVR0\r\nINF 2\r\nCVR 3 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 msmsgs alice@example.com\r\nUSR 4 MD5 I alice@example.com\r\nUSR 5 MD5 S " + md5Hex(fuzzSalt+"pw") + "\r\nSYN 6 0\r\nCHG 7 NLN\r\nADD 8 FL bob@example.com bob\r\nREM 9 FL bob@example.com\r\nREA 10 alice@example.com Al%20ice\r\nXFR 11 SB\r\nPNG\r\nOUT\r\n",
	"VER 1 MSNP11 CVR0\r\nUSR 2 TWN I alice@example.com\r\nUSR 3 TWN S " + fuzzTWN + "\r\nSYN 4 0 0\r\nGCF 5 Shields.xml\r\nUUX 6 62\r\n<Data><PSM>probe psm</PSM><CurrentMedia></CurrentMedia></Data>CHG 7 NLN 1073741824\r\nADC 8 FL N=bob@example.com F=bob\r\nBLP 9 BL\r\nQRY 10 PROD0090YUAUV{2B 32\r\n00000000000000000000000000000000PRP 11 MFN x%20y\r\n",
	"VER 1 MSNP13 CVR0\r\nUSR 2 TWN I alice@example.com\r\nUSR 3 TWN S " + fuzzTWN + "\r\nADL 4 65\r\n<ml l=\"1\"><d n=\"example.com\"><c n=\"bob\" l=\"3\" t=\"1\" /></d></ml>CHG 5 NLN 1342177280\r\nADL 6 61\r\n<ml><d n=\"example.com\"><c n=\"bob\" l=\"1\" t=\"1\" /></d></ml>RML 7 61\r\n<ml><d n=\"example.com\"><c n=\"bob\" l=\"1\" t=\"1\" /></d></ml>SYN 8 0 0\r\n",
	"VER 1 MSNP18 CVR0\r\nUSR 2 SSO I alice@example.com\r\nUSR 3 SSO S t=abc HAAAAAEAAAADZgAABIAAAAgAAAAUAAAASAAAA {1-2}\r\n",
	"VER 1 MSNP14 CVR0\r\nUSR 2 TWN I alice@example.com\r\nUSR 3 TWN S " + fuzzTWN + "\r\nFQY 4 56\r\n<ml l=\"2\"><d n=\"example.com\"><c n=\"bob\" /></d></ml>UUM 5 bob@example.com 1 1 10\r\nhello\r\n\r\nx",
}

func FuzzNSConn(f *testing.F) {
	s := fuzzServer(f)
	for _, seed := range nsSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		runConn(t, s.serveNS, in)
	})
}

var sbSeeds = []string{
	"USR 1 alice@example.com " + fuzzCookie + "\r\nCAL 2 bob@example.com\r\nMSG 3 A 5\r\nhelloMSG 4 D 60\r\nMIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\n\r\nxxOUT\r\n",
	"USR 1 alice@example.com;{1234} " + fuzzCookie + "\r\nCAL 2 alice@example.com\r\nCAL 3 nobody\r\nMSG 4 Z 1\r\nx",
	"ANS 1 alice@example.com " + fuzzCookie + " 123\r\n",
}

func FuzzSBConn(f *testing.F) {
	s := fuzzServer(f)
	for _, seed := range sbSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s.mu.Lock()
		s.sbCookies[fuzzCookie] = sbCookie{passport: "alice@example.com", version: 18, expires: time.Now().Add(time.Hour)}
		s.mu.Unlock()
		runConn(t, s.serveSB, in)
	})
}

var httpPaths = []string{"/login", "/RST.srf", "/RST2.srf", "/abservice/SharingService.asmx", "/abservice/abservice.asmx", "/rsi/rsi.asmx", "/OimWS/oim.asmx", "/rdr/pprdr.asp"}

func FuzzHTTP(f *testing.F) {
	s := fuzzServer(f)
	// A fake logged-in session so that SOAP calls get past authentication.
	cli, srv := net.Pipe()
	go func() { _, _ = io.Copy(io.Discard, cli) }()
	f.Cleanup(func() { cli.Close(); srv.Close() })
	s.mu.Lock()
	s.connSeq++
	s.ns[&nsConn{s: s, id: s.connSeq, conn: srv, out: s.newOutbox(srv), ver: 18, acct: s.accounts["alice@example.com"], token: fuzzToken, chgDone: true}] = struct{}{}
	s.mu.Unlock()
	tk := ticketFor(fuzzToken)
	f.Add(uint8(3), findMembershipBody(tk), "")
	f.Add(uint8(4), abFindAllBody(tk), "")
	f.Add(uint8(4), abEnvelope(tk, `<ABContactAdd><contacts><Contact><contactInfo><passportName>bob@example.com</passportName></contactInfo></Contact></contacts></ABContactAdd>`), "")
	f.Add(uint8(3), abEnvelope(tk, `<AddMember><memberships><Membership><MemberRole>Block</MemberRole><Members><Member><PassportName>bob@example.com</PassportName></Member></Members></Membership></memberships></AddMember>`), "")
	f.Add(uint8(1), strings.Replace(strings.Replace(rstRequest, "%s", "alice@example.com", 1), "%s", "pw", 1), "")
	f.Add(uint8(5), `<Envelope><Header><PassportCookie><t>`+fuzzToken+`</t></PassportCookie></Header><Body><GetMessage><messageId>x</messageId></GetMessage></Body></Envelope>`, "")
	f.Add(uint8(6), `<Envelope><Header><From memberName="alice@example.com"/><To memberName="bob@example.com"/><Ticket passport="`+xmlEsc(tk)+`" lockkey="k"/></Header><Body><MessageType>text</MessageType><Content>MIME-Version: 1.0

aGk=</Content></Body></Envelope>`, "")
	f.Add(uint8(0), "", "Passport1.4 OrgVerb=GET,sign-in=alice%40example.com,pwd=pw,ct=1")
	h := s.httpHandler()
	f.Fuzz(func(t *testing.T, path uint8, body, auth string) {
		req := httptest.NewRequest(http.MethodPost, httpPaths[int(path)%len(httpPaths)], strings.NewReader(body))
		if auth != "" && !strings.ContainsAny(auth, "\r\n\x00") {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == 0 {
			t.Fatal("no status")
		}
	})
}

func FuzzParseXML(f *testing.F) {
	f.Add([]byte(`<ml l="1"><d n="example.com"><c n="bob" l="3" t="1" /></d></ml>`))
	f.Add([]byte(`<a><b><c>x</c></b></a>`))
	f.Add([]byte(`<a>`))
	f.Fuzz(func(t *testing.T, in []byte) {
		doc, err := parseXML(in)
		if err == nil && doc == nil {
			t.Fatal("nil document without error")
		}
		_ = doc.find("c")
		var ml mlDoc
		_ = decodeXML(string(in), &ml)
		_ = verifyMBI("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "nonce", string(in))
		_ = parsePassport14(string(in))
		_, _ = splitIdent(string(in))
		_ = ticket20(string(in))
	})
}

func TestCloseWaitsAndLeaksNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := New(Options{})
	must(t, err)
	must(t, s.Start())
	aliceBob(t, s)
	must(t, s.AddAccount("carol@example.com", "carolpass1", ""))
	alice := login(t, s, 12, "alice@example.com", "alicepass1", "")
	alice.send("CHG 5 NLN 1073741824")
	alice.expect("CHG 5 NLN 1073741824")
	alice.expect("MSG Hotmail Hotmail 195")
	must(t, s.Contact("carol@example.com").SignIn("NLN"))
	x := alice.expectXFR("6", s.SBAddr(), "")
	sb := dial(t, "alice SB", s.SBAddr())
	sb.send("USR 1 alice@example.com " + x)
	sb.expect("USR 1 OK *rest")
	idle := dial(t, "idle SB", s.SBAddr()) // unauthenticated switchboard connection
	_ = idle
	waiting := make(chan error, 1)
	go func() {
		_, err := s.Contact("carol@example.com").Next(t.Context())
		waiting <- err
	}()
	s.SetAckMode(AckDelayed, time.Hour)
	sb.send("CAL 2 carol@example.com")
	sb.expect("CAL 2 RINGING *")
	sb.expect("JOI *rest")
	sb.sendPayload("MSG 3 A", "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nx")
	<-waiting // the scripted contact got the message
	must(t, s.Close())
	alice.expectClosed()
	sb.expectClosed()
	// Goroutine exit has no event to wait on: poll the count until the deadline.
	deadline := time.After(3 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for runtime.NumGoroutine() > before {
		select {
		case <-deadline:
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after Close\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		case <-tick.C:
		}
	}
}
