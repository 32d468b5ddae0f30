package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rstRequest is the part of an RST request the fake server checks.
type rstRequest struct {
	Username string `xml:"Header>Security>UsernameToken>Username"`
	Password string `xml:"Header>Security>UsernameToken>Password"`
	Params   string `xml:"Header>AuthInfo>RequestParams"`
	Tokens   []struct {
		ID      string `xml:"Id,attr"`
		Type    string `xml:"RequestType"`
		Address string `xml:"AppliesTo>EndpointReference>Address"`
		Policy  struct {
			URI string `xml:"URI,attr"`
		} `xml:"PolicyReference"`
	} `xml:"Body>RequestMultipleSecurityTokens>RequestSecurityToken"`
}

func decodeRST(t *testing.T, data []byte) rstRequest {
	t.Helper()
	var r rstRequest
	if err := xml.Unmarshal(data, &r); err != nil {
		t.Fatalf("request is not well-formed XML: %v", err)
	}
	return r
}

// rstHandler mimics the revival server's /RST.srf: the sample response for the right
// credentials, the FailedAuthentication fault (HTTP 200) otherwise.
func rstHandler(t *testing.T, email, password string) http.HandlerFunc {
	ok := readFixture(t, "RST_srf.response.xml")
	failed := readFixture(t, "RST_srf.authfailed.xml")
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/xml") {
			t.Errorf("got %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		req := decodeRST(t, body)
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		if req.Username != email || req.Password != password {
			w.Write(failed)
			return
		}
		w.Write(ok)
	}
}

func TestSSORequestShape(t *testing.T) {
	got := decodeRST(t, buildRSTRequest("alice@example.com", "alicepass1", "MBI_KEY_OLD"))
	sample := decodeRST(t, readFixture(t, "RST_srf.request.xml"))
	if got.Username != sample.Username || got.Password != sample.Password || got.Params != sample.Params {
		t.Errorf("header differs from the sample: %+v vs %+v", got, sample)
	}
	// The request is the sample's, plus sup.live.com and spaces.live.com.
	if len(got.Tokens) != len(sample.Tokens)+2 {
		t.Fatalf("%d RequestSecurityTokens, want %d", len(got.Tokens), len(sample.Tokens)+2)
	}
	for i, s := range sample.Tokens {
		if got.Tokens[i] != s {
			t.Errorf("token %d = %+v, sample %+v", i, got.Tokens[i], s)
		}
	}
	extra := got.Tokens[len(sample.Tokens):]
	if extra[0].Address != "sup.live.com" || extra[0].Policy.URI != "MBI" || extra[1].Address != "spaces.live.com" || extra[1].Policy.URI != "MBI" || extra[1].ID != "RST7" {
		t.Errorf("extra tokens = %+v", extra)
	}
	// The policy from USR SSO S is used for messengerclear.live.com.
	other := decodeRST(t, buildRSTRequest("a@b.c", "pw", "MBI_KEY"))
	if other.Tokens[1].Address != DomainMessengerClear || other.Tokens[1].Policy.URI != "MBI_KEY" {
		t.Errorf("messengerclear token = %+v", other.Tokens[1])
	}
}

func TestSSOEscaping(t *testing.T) {
	const email, pw = `o'neil&co@example.com`, `p<&"w'd]]>`
	req := buildRSTRequest(email, pw, `MBI"<x>`)
	if bytes.Contains(req, []byte(pw)) {
		t.Error("password is not escaped in the request")
	}
	got := decodeRST(t, req)
	if got.Username != email || got.Password != pw || got.Tokens[1].Policy.URI != `MBI"<x>` {
		t.Errorf("round trip gave %q / %q / %q", got.Username, got.Password, got.Tokens[1].Policy.URI)
	}

	srv := newServer(t, rstHandler(t, email, pw))
	res, err := (&SSO{HTTP: srv.Client(), URL: srv.URL + "/RST.srf"}).Login(context.Background(), email, pw, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Token(DomainMessengerClear); !ok {
		t.Error("no messengerclear token")
	}
}

func TestSSOLogin(t *testing.T) {
	srv := newServer(t, rstHandler(t, "alice@example.com", "alicepass1"))
	s := &SSO{HTTP: srv.Client(), URL: srv.URL + "/RST.srf"}
	res, err := s.Login(context.Background(), "alice@example.com", "alicepass1", "MBI_KEY_OLD")
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Date(2026, 11, 23, 5, 27, 0, 0, time.UTC)
	mc, ok := res.Token(DomainMessengerClear)
	if !ok {
		t.Fatal("no messengerclear.live.com token")
	}
	if !strings.HasPrefix(mc.Ticket, "t=17cf8f0a51aad1f75d61Y6+H31sT") || !strings.HasSuffix(mc.Ticket, "==&p=") || strings.Contains(mc.Ticket, "&amp;") {
		t.Errorf("messengerclear ticket = %q", mc.Ticket)
	}
	if mc.BinarySecret != "EoxNrdXsuqt3IfsgsEtpSK6INjCMgkLz" || !mc.Expires.Equal(expires) || mc.Domain != DomainMessengerClear {
		t.Errorf("messengerclear token = %+v", mc)
	}
	for _, d := range []string{DomainContacts, DomainMessengerSecure, DomainStorage, "messenger.msn.com"} {
		tok, ok := res.Token(d)
		if !ok || tok.Ticket != mc.Ticket || tok.BinarySecret != "" || !tok.Expires.Equal(expires) {
			t.Errorf("token %s = %+v, %v", d, tok, ok)
		}
	}
	if tb, ok := res.Token("http://Passport.NET/tb"); !ok || tb.BinarySecret != "tgoPVK67sU36fQKlGLMgWgTXp7oiaQgE" {
		t.Errorf("Passport.NET/tb token = %+v", tb)
	}
	if _, ok := res.Token("sup.live.com"); ok {
		t.Error("a token the server did not issue is present")
	}
	// The BinarySecret feeds the MBI blob.
	secret, err := base64.StdEncoding.DecodeString(mc.BinarySecret)
	if err != nil || len(secret) != 24 {
		t.Fatalf("BinarySecret decodes to %d bytes, %v", len(secret), err)
	}
	if _, err := MBIBlob(secret, "PVzKx/qi+tB/ToFRq21IB9iYeBg82v5BSrtQbEJ5waijpiaZgGSt1cjUInqLkctU"); err != nil {
		t.Fatal(err)
	}
	var nilRes *SSOResult
	if _, ok := nilRes.Token(DomainContacts); ok {
		t.Error("nil result has a token")
	}
}

// TestSSORetriesABrokenExchange: a token request whose answer is cut off after its headers (a
// keep-alive connection closed under it) is made once more and the login succeeds; a second cut
// fails the login with the cause.
func TestSSORetriesABrokenExchange(t *testing.T) {
	for _, cuts := range []int32{1, 2} {
		var calls atomic.Int32
		inner := rstHandler(t, "alice@example.com", "alicepass1")
		srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) <= cuts {
				_, _ = io.ReadAll(r.Body)
				conn, buf, err := w.(http.Hijacker).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 4000\r\n\r\n<S:Envelope")
				_ = buf.Flush()
				_ = conn.Close()
				return
			}
			inner.ServeHTTP(w, r)
		}))
		s := &SSO{HTTP: srv.Client(), URL: srv.URL + "/RST.srf"}
		res, err := s.Login(context.Background(), "alice@example.com", "alicepass1", "MBI_KEY_OLD")
		switch {
		case cuts == 1 && (err != nil || res == nil):
			t.Fatalf("one cut answer: %v", err)
		case cuts == 2 && (err == nil || !errors.Is(err, io.ErrUnexpectedEOF)):
			t.Fatalf("two cut answers: %v", err)
		}
		if calls.Load() != 2 {
			t.Fatalf("%d cuts: %d requests, want 2", cuts, calls.Load())
		}
	}
}

func TestSSOWrongPassword(t *testing.T) {
	// quirks_transcript.txt, case rst_badpw: HTTP 200 with a wsse:FailedAuthentication fault.
	srv := newServer(t, rstHandler(t, "alice@example.com", "alicepass1"))
	s := &SSO{HTTP: srv.Client(), URL: srv.URL + "/RST.srf"}
	_, err := s.Login(context.Background(), "alice@example.com", "not-the-Password", "MBI_KEY_OLD")
	if !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("err = %v, want ErrBadCredentials", err)
	}
	assertAuthError(t, err, http.StatusOK, "not-the-Password")
}

func TestParseRSTFaults(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantBad bool
	}{
		{"RST.srf fixture", string(readFixture(t, "RST_srf.authfailed.xml")), true},
		{"RST2.srf fixture", string(readFixture(t, "RST2_srf.authfailed.xml")), true},
		{"reqstatus only", `<Envelope><Header><pp><reqstatus>0x80048823</reqstatus></pp></Header><Body/></Envelope>`, true},
		{"S:Sender alone is no wrong password", `<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body><S:Fault><S:Code><S:Value>S:Sender</S:Value></S:Code></S:Fault></S:Body></S:Envelope>`, false},
		{"S:Sender/FailedAuthentication", `<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body><S:Fault><S:Code><S:Value>S:Sender</S:Value><S:Subcode><S:Value>wst:FailedAuthentication</S:Value></S:Subcode></S:Code></S:Fault></S:Body></S:Envelope>`, true},
		{"S:Sender throttled", `<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body><S:Fault><S:Code><S:Value>S:Sender</S:Value><S:Subcode><S:Value>psf:RequestThrottled</S:Value></S:Subcode></S:Code><S:Reason><S:Text>Too many requests</S:Text></S:Reason></S:Fault></S:Body></S:Envelope>`, false},
		{"server fault", `<S:Envelope xmlns:S="x"><S:Body><S:Fault><faultcode>S:Server</faultcode><faultstring>boom</faultstring></S:Fault></S:Body></S:Envelope>`, false},
		{"federated", `<S:Envelope xmlns:S="x"><S:Header><psf:pp xmlns:psf="y"><psf:reqstatus>0x800488ee</psf:reqstatus></psf:pp></S:Header><S:Body><S:Fault><faultcode>psf:Federated</faultcode></S:Fault></S:Body></S:Envelope>`, false},
		{"no tokens", `<S:Envelope xmlns:S="x"><S:Body><wst:RequestSecurityTokenResponseCollection xmlns:wst="y"/></S:Body></S:Envelope>`, false},
		{"malformed", `<S:Envelope xmlns:S="x"><S:Body><wst:RequestSecurityTokenResponseCollection`, false},
		{"not xml", `Server got itself in trouble`, false},
		{"wrong root", `<html><body>hi</body></html>`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := parseRSTResponse([]byte(tc.body))
			if err == nil {
				t.Fatalf("no error, result %+v", res)
			}
			if errors.Is(err, ErrBadCredentials) != tc.wantBad {
				t.Errorf("err = %v, bad-credentials = %v, want %v", err, !tc.wantBad, tc.wantBad)
			}
		})
	}
}

func TestParseRSTWithoutMessengerClear(t *testing.T) {
	body := strings.Replace(string(readFixture(t, "RST_srf.response.xml")), "messengerclear.live.com", "other.live.com", 1)
	if _, err := parseRSTResponse([]byte(body)); err == nil || !strings.Contains(err.Error(), "messengerclear") {
		t.Errorf("err = %v, want a missing messengerclear ticket", err)
	}
}

func TestParseRST2Lifetime(t *testing.T) {
	body := `<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body>
<wst:RequestSecurityTokenResponseCollection xmlns:wst="http://schemas.xmlsoap.org/ws/2005/02/trust">
<wst:RequestSecurityTokenResponse><wsp:AppliesTo xmlns:wsp="p"><wsa:EndpointReference xmlns:wsa="a"><wsa:Address>messengerclear.live.com</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>
<wst:Lifetime><wsu:Created xmlns:wsu="u">2026-01-01T00:00:00Z</wsu:Created><wsu:Expires xmlns:wsu="u">2026-01-02T00:00:00Z</wsu:Expires></wst:Lifetime>
<wst:RequestedSecurityToken><wsse:BinarySecurityToken xmlns:wsse="s" Id="Compact1">t=abc&amp;p=def</wsse:BinarySecurityToken></wst:RequestedSecurityToken>
<wst:RequestedProofToken><wst:BinarySecret>c2VjcmV0</wst:BinarySecret></wst:RequestedProofToken></wst:RequestSecurityTokenResponse>
</wst:RequestSecurityTokenResponseCollection></S:Body></S:Envelope>`
	res, err := parseRSTResponse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	tok := res.Tokens[DomainMessengerClear]
	if tok.Ticket != "t=abc&p=def" || tok.BinarySecret != "c2VjcmV0" || !tok.Expires.Equal(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("token = %+v", tok)
	}
}

func TestSSORedirectFault(t *testing.T) {
	final := newServer(t, rstHandler(t, "a@b.c", "pw"))
	first := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault"><S:Body><S:Fault><faultcode>psf:Redirect</faultcode><psf:redirectUrl>` + final.URL + `/RST.srf</psf:redirectUrl><faultstring>Authentication Failure</faultstring></S:Fault></S:Body></S:Envelope>`))
	})
	res, err := (&SSO{HTTP: first.Client(), URL: first.URL + "/RST.srf"}).Login(context.Background(), "a@b.c", "pw", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Token(DomainContacts); !ok {
		t.Error("no contacts token after the redirect")
	}

	// A server redirecting to itself forever is cut off.
	var loop string
	looping := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`<S:Envelope xmlns:S="x"><S:Body><S:Fault><faultcode>psf:Redirect</faultcode><psf:redirectUrl xmlns:psf="y">` + loop + `</psf:redirectUrl></S:Fault></S:Body></S:Envelope>`))
	})
	loop = looping.URL + "/RST.srf"
	_, err = (&SSO{HTTP: looping.Client(), URL: loop}).Login(context.Background(), "a@b.c", "pw", "")
	assertAuthError(t, err, 0, "pw<")
}

func TestSSOServerErrors(t *testing.T) {
	big := bytes.Repeat([]byte("x"), maxBodyBytes+10)
	tests := []struct {
		name   string
		status int
		body   []byte
	}{
		{"malformed xml", 200, []byte(`<?xml version="1.0"?><S:Envelope xmlns:S="x"><S:Body><wst:RequestSecurityTokenResponseCollection>`)},
		{"oversized body", 200, append([]byte(`<S:Envelope xmlns:S="x"><S:Body><!--`), big...)},
		{"500 text", 500, []byte("Server got itself in trouble")},
		{"404", 404, []byte("not found")},
		{"500 with tokens", 500, nil}, // a token response with an error status is not trusted
	}
	okBody := readFixture(t, "RST_srf.response.xml")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if body == nil {
				body = okBody
			}
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.WriteHeader(tc.status)
				w.Write(body)
			})
			_, err := (&SSO{HTTP: srv.Client(), URL: srv.URL + "/RST.srf"}).Login(context.Background(), "a@b.c", "s3cret-pw", "")
			if errors.Is(err, ErrBadCredentials) {
				t.Fatalf("err = %v must not be ErrBadCredentials", err)
			}
			ae := assertAuthError(t, err, tc.status, "s3cret-pw", "t=17cf8f")
			if ae.URL != srv.URL+"/RST.srf" || ae.Op != "sso login" {
				t.Errorf("error = %+v", ae)
			}
			if tc.name == "oversized body" && !strings.Contains(err.Error(), "exceeds") {
				t.Errorf("err = %v, want a size error", err)
			}
		})
	}
}

func TestSSOFaultEchoingPassword(t *testing.T) {
	const pw = "hunter2-very-secret"
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`<S:Envelope xmlns:S="x"><S:Body><S:Fault><faultcode>S:Server</faultcode><faultstring>bad password ` + pw + `</faultstring></S:Fault></S:Body></S:Envelope>`))
	})
	_, err := (&SSO{HTTP: srv.Client(), URL: srv.URL}).Login(context.Background(), "a@b.c", pw, "")
	assertAuthError(t, err, http.StatusOK, pw)
}

func TestSSOServerDown(t *testing.T) {
	s := &SSO{URL: "http://" + deadAddr(t) + "/RST.srf"}
	err := waitErr(t, 10*time.Second, func() error {
		_, err := s.Login(context.Background(), "a@b.c", "s3cret-pw", "")
		return err
	})
	assertAuthError(t, err, 0, "s3cret-pw")
}

func TestSSOHangingServer(t *testing.T) {
	srv := hangingServer(t)
	s := &SSO{HTTP: srv.Client(), URL: srv.URL + "/RST.srf"}
	ctx := shortCtx(t, 200*time.Millisecond)
	err := waitErr(t, 10*time.Second, func() error {
		_, err := s.Login(ctx, "a@b.c", "s3cret-pw", "")
		return err
	})
	assertAuthError(t, err, 0, "s3cret-pw")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a deadline error", err)
	}
}

func TestSSOConfigErrors(t *testing.T) {
	for _, s := range []*SSO{{}, {URL: "::not a url"}} {
		if _, err := s.Login(context.Background(), "a@b.c", "pw", ""); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}

// TestClientWithoutTimeoutIsBounded checks that a caller's HTTP client without Timeout and a
// context without deadline still cannot make a login wait forever.
func TestClientWithoutTimeoutIsBounded(t *testing.T) {
	old := fallbackTimeout
	fallbackTimeout = 200 * time.Millisecond
	t.Cleanup(func() { fallbackTimeout = old })
	srv := hangingServer(t)
	plain := &http.Client{Transport: srv.Client().Transport} // no Timeout
	for name, login := range map[string]func() error{
		"SSO": func() error {
			_, err := (&SSO{HTTP: plain, URL: srv.URL + "/RST.srf"}).Login(context.Background(), "a@b.c", "s3cret-pw", "")
			return err
		},
		"TWN": func() error {
			_, err := (&Passport{HTTP: plain, LoginURL: srv.URL + "/login"}).TWN(context.Background(), "a@b.c", "s3cret-pw", "ct=1,rver=1")
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := waitErr(t, 10*time.Second, login)
			assertAuthError(t, err, 0, "s3cret-pw")
		})
	}
	if plain.Timeout != 0 {
		t.Error("the caller's client was modified")
	}
}
