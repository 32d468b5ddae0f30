package msntest

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// quietWindow is how long a test watches for a reply the real server never sends.
const quietWindow = 150 * time.Millisecond

func TestVERSelection(t *testing.T) {
	s := newServer(t, Options{})
	c := dial(t, "probe", s.NSAddr())
	c.send("VER 1 MSNP21 CVR0")
	c.expect("VER 1 MSNP21")
	c = dial(t, "probe", s.NSAddr())
	c.send("VER 1 MSNP1 CVR0")
	c.expect("VER 1 0")
	c.expectClosed()
	c = dial(t, "probe", s.NSAddr())
	c.send("VER 1 MSNP8 MSNP15 MSNP18 CVR0")
	c.expect("VER 1 MSNP18")
	c = dial(t, "probe", s.NSAddr())
	c.send("USR 1 MD5 I a@b.c")
	c.expectClosed()
}

func TestCVRShortGetsNoReply(t *testing.T) {
	s := newServer(t, Options{})
	c := dial(t, "probe", s.NSAddr())
	c.send("VER 1 MSNP8 CVR0")
	c.expect("VER 1 MSNP8")
	c.send("CVR 2 0x0409 winnt 5.1")
	c.expectSilence(quietWindow)
	c.send("PNG") // before login: the server drops the connection
	c.expectClosed()
}

func TestMD5Failures(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	c := dial(t, "probe", s.NSAddr())
	c.send("VER 1 MSNP7 CVR0")
	c.expect("VER 1 MSNP7")
	c.send("USR 2 MD5 I alice@example.com")
	salt := c.expect("USR 2 MD5 S *").Args[2]
	c.send("USR 3 MD5 S " + md5Hex(salt+"wrong"))
	c.expect("911 3")
	c.expectClosed()
	// The salt is fixed per account.
	c = dial(t, "probe", s.NSAddr())
	c.send("VER 1 MSNP7 CVR0")
	c.expect("VER 1 MSNP7")
	c.send("USR 2 MD5 I alice@example.com")
	c.expect("USR 2 MD5 S " + salt)
	// Unknown account: a time-like salt, failure only at S.
	c = dial(t, "probe", s.NSAddr())
	c.send("VER 1 MSNP7 CVR0")
	c.expect("VER 1 MSNP7")
	c.send("USR 2 MD5 I nobody@example.com")
	if got := c.expect("USR 2 MD5 S *").Args[2]; !strings.Contains(got, ".") {
		t.Fatalf("unknown-account salt %q", got)
	}
	c.send("USR 3 MD5 S 00000000000000000000000000000000")
	c.expect("911 3")
	c.expectClosed()
	// MD5 on MSNP8 closes.
	c = dial(t, "probe", s.NSAddr())
	c.send("VER 1 MSNP8 CVR0")
	c.expect("VER 1 MSNP8")
	c.send("USR 2 MD5 I alice@example.com")
	c.expectClosed()
}

func TestTWNFailures(t *testing.T) {
	s := newServer(t, Options{TWNTokenTTL: time.Nanosecond})
	aliceBob(t, s)
	hc := &http.Client{Timeout: ioTimeout}
	req, _ := http.NewRequest("GET", s.HTTPURL()+"/login", nil)
	req.Header.Set("Authorization", "Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,sign-in=alice%40example.com,pwd=wrong,"+twnChallenge)
	resp, err := hc.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "Passport1.4 da-status=failed" {
		t.Fatalf("wrong password: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	resp, err = hc.Get(s.HTTPURL() + "/login")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("no Authorization: %d", resp.StatusCode)
	}
	resp, err = hc.Get(s.HTTPURL() + "/rdr/pprdr.asp")
	must(t, err)
	resp.Body.Close()
	if got := resp.Header["Passporturls"]; len(got) != 1 || !strings.HasPrefix(got[0], "DALogin=https://") || !strings.HasSuffix(got[0], "/login") {
		t.Fatalf("nexus header %v", resp.Header)
	}
	c := dial(t, "probe", s.NSAddr())
	c.send("VER 1 MSNP8 CVR0")
	c.expect("VER 1 MSNP8")
	c.send("USR 2 TWN I alice@example.com")
	c.expect("USR 2 TWN S " + twnChallenge)
	c.send("USR 3 TWN S notarealtoken0000000")
	c.expect("911 3")
	c.expectClosed()
	// An expired token (TTL of 1 ns here; Escargot: 30 s).
	c = dial(t, "probe", s.NSAddr())
	c.send("VER 1 MSNP8 CVR0")
	c.expect("VER 1 MSNP8")
	c.send("USR 2 TWN I alice@example.com")
	c.expect("USR 2 TWN S " + twnChallenge)
	c.send("USR 3 TWN S " + twnLogin(t, s, "alice@example.com", "alicepass1"))
	c.expect("911 3")
	c.expectClosed()
}

func TestRSTFaults(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	for path, want := range map[string]string{"/RST.srf": "<faultcode>wsse:FailedAuthentication</faultcode>", "/RST2.srf": "<S:Value>S:Sender</S:Value>"} {
		resp, err := (&http.Client{Timeout: ioTimeout}).Post(s.HTTPURL()+path, "text/xml", strings.NewReader(strings.Replace(rstRequest, "%s", "alice@example.com", 1)))
		must(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
	ticket, secret, body := ssoLogin(t, s, "alice@example.com", "alicepass1")
	if !strings.HasPrefix(ticket, "t=") || !strings.HasSuffix(ticket, "&p=") || secret == "" {
		t.Fatalf("ticket %q secret %q", ticket, secret)
	}
	if strings.Count(body, "<wst:BinarySecret>") != 2 || !strings.Contains(body, "<wsa:Address>contacts.msn.com</wsa:Address>") {
		t.Fatalf("RST body lacks per-domain tokens: %s", body)
	}
}

func ssoStart(t *testing.T, s *Server, ver int, email string) (*client, string) {
	c := dial(t, email, s.NSAddr())
	c.send("VER 1 MSNP" + itoa(ver) + " CVR0")
	c.expect("VER 1 MSNP" + itoa(ver))
	c.send("USR 2 SSO I " + email)
	c.expect("GCF 0 *")
	nonce := c.expect("USR 2 SSO S MBI_KEY_OLD *").Args[3]
	if len(nonce) != 64 {
		t.Fatalf("nonce %q is not 64 characters", nonce)
	}
	return c, nonce
}

func TestSSOQuirks(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	// Wrong key in the blob.
	c, nonce := ssoStart(t, s, 18, "alice@example.com")
	ticket, _, _ := ssoLogin(t, s, "alice@example.com", "alicepass1")
	c.send("USR 3 SSO S " + ticket + " " + mbiFor(t, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", nonce) + " " + aliceGUID)
	c.expect("911 3")
	c.expectClosed()
	// No machine GUID on MSNP18: no reply, connection stays open.
	c, nonce = ssoStart(t, s, 18, "alice@example.com")
	ticket, secret, _ := ssoLogin(t, s, "alice@example.com", "alicepass1")
	c.send("USR 3 SSO S " + ticket + " " + mbiFor(t, secret, nonce))
	c.expectSilence(quietWindow)
	// MSNP15 without a blob logs in.
	c, _ = ssoStart(t, s, 15, "alice@example.com")
	ticket, _, _ = ssoLogin(t, s, "alice@example.com", "alicepass1")
	c.send("USR 3 SSO S " + ticket)
	c.expect("USR 3 OK alice@example.com 1 0")
	c.expect("SBS 0 null")
	c.expect("MSG Hotmail Hotmail *")
}

func TestCHGQuirksMSNP8(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	c := login(t, s, 8, "alice@example.com", "alicepass1", "")
	c.send("XFR 5 SB")
	c.expect("913 5")
	c.send("CHG 6 NLN")
	c.expectSilence(quietWindow)
	c.send("CHG 7 NLN 0")
	c.expect("CHG 7 NLN 0")
	c.send("CHG 8 FLN 0")
	c.expect("201 8")
	c.send("CHG 9 HDN 0")
	c.expect("CHG 9 HDN 0")
	c.send("XFR 10 SB")
	c.expect("913 10")
	c.send("PRP 11 MFN x")
	c.expect("715 11")
	c.send("GCF 12 Shields.xml")
	c.expectClosed()
}

func TestEmptyPayloadAndUnknownCommandsAreIgnored(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	c := login(t, s, 13, "alice@example.com", "alicepass1", "")
	c.send("UUX 6 0")
	c.send("ZZZ 7 whatever")
	c.send("QRY 8 PROD0090YUAUV{2B 32")
	c.raw("00000000000000000000000000000000")
	c.expectSilence(quietWindow)
	c.send("PNG")
	c.expect("QNG 60")
}

func TestSBLimits(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	alice := login(t, s, 12, "alice@example.com", "alicepass1", "")
	alice.send("CHG 5 NLN 1073741824")
	alice.expect("CHG 5 NLN 1073741824")
	alice.expect("MSG Hotmail Hotmail *")
	bob := login(t, s, 12, "bob@example.com", "bobpass1", "")
	bob.send("CHG 5 NLN 1073741824")
	bob.expect("CHG 5 NLN 1073741824")
	bob.expect("ILN 5 NLN alice@example.com alice@example.com 1073741824 %3Cmsnobj%2F%3E")
	bob.expect("UBX alice@example.com *")
	bob.expect("MSG Hotmail Hotmail *")
	alice.expect("NLN NLN bob@example.com bob@example.com 1073741824 %3Cmsnobj%2F%3E")

	x := alice.expectXFR("9", s.SBAddr(), "")
	sb := dial(t, "alice SB", s.SBAddr())
	sb.send("USR 1 bob@example.com " + x)
	sb.expect("911 1")
	sb.expectClosed()

	x = alice.expectXFR("10", s.SBAddr(), "")
	sb = dial(t, "alice SB", s.SBAddr())
	sb.send("USR 1 alice@example.com " + x)
	sb.expect("USR 1 OK alice@example.com alice@example.com")
	sb.send("CAL 2 nobody@example.com")
	sb.expect("217 2")
	sb.sendPayload("MSG 3 N", "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nnobody here")
	sb.expectSilence(quietWindow)
	sb.send("CAL 4 bob@example.com")
	sid := sb.expect("CAL 4 RINGING *").Args[1]
	bob.expect("RNG " + sid + " " + s.SBAddr() + " CKI * alice@example.com alice@example.com")
	sb.sendPayload("MSG 5 N", strings.Repeat("x", 1712))
	sb.expectClosed()

	x = alice.expectXFR("11", s.SBAddr(), "")
	sb = dial(t, "alice SB", s.SBAddr())
	sb.send("USR 1 alice@example.com " + x)
	sb.expect("USR 1 OK alice@example.com alice@example.com")
	sb.sendPayload("MSG 2 Q", "MIME-Version: 1.0\r\n\r\nx")
	sb.expectClosed()

	// A blocked caller gets 216.
	must(t, s.AddContact("bob@example.com", "alice@example.com", BL))
	x = alice.expectXFR("12", s.SBAddr(), "")
	sb = dial(t, "alice SB", s.SBAddr())
	sb.send("USR 1 alice@example.com " + x)
	sb.expect("USR 1 OK alice@example.com alice@example.com")
	sb.send("CAL 2 bob@example.com")
	sb.expect("216 2")
}

func TestSecondLoginBootsOldSession(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	first := login(t, s, 12, "alice@example.com", "alicepass1", "")
	login(t, s, 12, "alice@example.com", "alicepass1", "")
	first.expect("OUT OTH")
	first.expectClosed()
	if n := s.Logins("alice@example.com"); n != 2 {
		t.Fatalf("Logins = %d, want 2", n)
	}
}

func TestMPOPKeepsBothEndpoints(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	first := login(t, s, 18, "alice@example.com", "alicepass1", aliceGUID)
	first.send("CHG 5 NLN 2789003324:48 0")
	first.expect("CHG 5 NLN 2789003324:48 0")
	first.expect("MSG Hotmail Hotmail 195")
	first.expect("NLN NLN 1:alice@example.com alice@example.com 2789003324:48 0")
	first.expect("UBX 1:alice@example.com *")
	second := login(t, s, 18, "alice@example.com", "alicepass1", "{11111111-2222-3333-4444-555555555555}")
	second.send("CHG 5 NLN 2789003324:48 0")
	second.expect("CHG 5 NLN 2789003324:48 0")
	second.expect("MSG Hotmail Hotmail 195")
	second.expect("NLN NLN 1:alice@example.com alice@example.com 2789003324:48 0")
	ubx := second.expect("UBX 1:alice@example.com *")
	if strings.Count(string(ubx.Payload), "<PrivateEndpointData") != 2 {
		t.Fatalf("self UBX does not list both endpoints: %s", ubx.Payload)
	}
	first.expect("NLN NLN 1:alice@example.com alice@example.com 2789003324:48 0")
	first.expect("UBX 1:alice@example.com *")
	// Same GUID again boots the first endpoint.
	login(t, s, 18, "alice@example.com", "alicepass1", aliceGUID)
	first.expect("OUT OTH")
	first.expectClosed()
}

func TestDispatchRedirects(t *testing.T) {
	s := newServer(t, Options{Dispatch: true})
	for ver, want := range map[int]string{
		7:  "XFR 3 NS " + s.NSAddr() + " 0",
		8:  "XFR 3 NS " + s.NSAddr() + " 0 " + s.DispatchAddr(),
		13: "XFR 3 NS " + s.NSAddr() + " U D",
		18: "XFR 3 NS " + s.NSAddr() + " U D",
	} {
		c := dial(t, "ds", s.DispatchAddr())
		c.send("VER 1 MSNP" + itoa(ver) + " CVR0")
		c.expect("VER 1 MSNP" + itoa(ver))
		c.send("CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 7.5.0324 msmsgs x@example.com")
		c.expect("CVR 2 *rest")
		c.send("USR 3 " + authFor(ver) + " I x@example.com")
		c.expect(want)
		c.expectClosed()
	}
}

func TestGarbageDoesNotBreakTheServer(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	inputs := []string{
		"\x00\x01\x02\r\n",
		"VER 1 MSNP18 CVR0\r\nUSR x SSO I a\r\n",
		"VER 1 MSNP13 CVR0\r\nADL 1 99999999999999999999\r\n",
		"VER 1 MSNP13 CVR0\r\nMSG 1 N -5\r\n",
		strings.Repeat("A", 20000) + "\r\n",
		"VER 1 MSNP8 CVR0\r\nUSR 2 TWN S\r\nUSR 3 TWN S t=\r\n",
		"VER 1 MSNP18 CVR0\r\nUSR 2 SSO I alice@example.com\r\nUSR 3 SSO S t=x !!! {g}\r\n",
	}
	for _, in := range inputs {
		for _, addr := range []string{s.NSAddr(), s.SBAddr()} {
			c := dial(t, "garbage", addr)
			c.raw(in)
			c.conn.Close()
		}
	}
	// The server still works.
	login(t, s, 18, "alice@example.com", "alicepass1", aliceGUID)
}

func TestAdvertisedAddresses(t *testing.T) {
	s := newServer(t, Options{Dispatch: true, AdvertiseSB: "sb.example.net:1864", AdvertiseNS: "ns.example.net:1863"})
	aliceBob(t, s)
	c := dial(t, "ds", s.DispatchAddr())
	c.send("VER 1 MSNP8 CVR0")
	c.expect("VER 1 MSNP8")
	c.send("USR 2 TWN I alice@example.com")
	c.expect("XFR 2 NS ns.example.net:1863 0 " + s.DispatchAddr())
	a := login(t, s, 8, "alice@example.com", "alicepass1", "")
	a.send("CHG 5 NLN 0")
	a.expect("CHG 5 NLN 0")
	a.send("XFR 6 SB")
	a.expect("XFR 6 SB sb.example.net:1864 CKI *")
	if s.SBListenAddr() == s.SBAddr() {
		t.Fatal("listener address not distinct")
	}
}

func TestSBAuthTimeoutAndGUIDMismatch(t *testing.T) {
	s := newServer(t, Options{SBAuthTimeout: 50 * time.Millisecond})
	aliceBob(t, s)
	idle := dial(t, "idle SB", s.SBAddr())
	idle.expectClosed() // no USR/ANS in time
	alice := login(t, s, 18, "alice@example.com", "alicepass1", aliceGUID)
	alice.send("CHG 5 NLN 2789003324:48 0")
	alice.expect("CHG 5 NLN 2789003324:48 0")
	alice.expect("MSG Hotmail Hotmail 195")
	alice.expect("NLN NLN 1:alice@example.com *rest")
	alice.expect("UBX 1:alice@example.com *")
	x := alice.expectXFR("6", s.SBAddr(), "U messenger.msn.com 1")
	sb := dial(t, "alice SB", s.SBAddr())
	sb.send("USR 1 alice@example.com;{00000000-0000-0000-0000-000000000000} " + x)
	sb.expect("911 1")
	sb.expectClosed()
	// A cookie is single-use.
	sb = dial(t, "alice SB", s.SBAddr())
	sb.send("USR 1 alice@example.com;" + aliceGUID + " " + x)
	sb.expect("911 1")
}
