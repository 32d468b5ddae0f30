package msntest

import (
	"strings"
	"testing"
)

// These tests replay the shared Escargot transcripts (transcript_msnpN.txt) line by line with
// raw wire commands; "*" stands for values that are random per run (salts, tokens, cookies,
// session ids, ports).

func TestTranscriptMSNP7(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	bob := dial(t, "bob", s.NSAddr())
	bob.send("VER 1 MSNP7 CVR0")
	bob.expect("VER 1 MSNP7")
	bob.send("INF 2")
	bob.expect("INF 2 MD5")
	bob.send("CVR 3 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 msmsgs bob@example.com")
	bob.expect("CVR 3 6.0.0602 6.0.0602 6.0.0602 https://escargot.log1p.xyz https://escargot.log1p.xyz")
	bob.send("USR 4 MD5 I bob@example.com")
	salt := bob.expect("USR 4 MD5 S *").Args[2]
	bob.send("USR 5 MD5 S " + md5Hex(salt+"bobpass1"))
	bob.expect("USR 5 OK bob@example.com bob@example.com 1")
	prof := bob.expect("MSG Hotmail Hotmail *")
	if !strings.Contains(string(prof.Payload), "Content-Type: text/x-msmsgsprofile; charset=UTF-8\r\n") ||
		!strings.Contains(string(prof.Payload), "\r\nsid: 507\r\nMSPAuth: ") {
		t.Fatalf("profile payload %q", prof.Payload)
	}
	bob.send("SYN 6 0")
	bob.expect("SYN 6 1")
	bob.expect("GTC 6 1 A")
	bob.expect("BLP 6 1 AL")
	bob.expect("LSG 6 1 1 1 0 Other%20Contacts 0")
	bob.expect("LST 6 FL 1 1 1 alice@example.com alice@example.com 0")
	bob.expect("LST 6 AL 1 1 1 alice@example.com alice@example.com")
	bob.expect("LST 6 BL 1 0 0")
	bob.expect("LST 6 RL 1 1 1 alice@example.com alice@example.com")
	bob.send("CHG 7 NLN")
	bob.expect("CHG 7 NLN")

	alice := login(t, s, 7, "alice@example.com", "alicepass1", "")
	alice.send("SYN 6 0")
	alice.expect("SYN 6 1")
	for i := 0; i < 7; i++ {
		alice.read()
	}
	alice.send("CHG 7 NLN")
	alice.expect("CHG 7 NLN")
	alice.expect("ILN 7 NLN bob@example.com bob@example.com")
	bob.expect("NLN NLN alice@example.com alice@example.com")
	sbChatOld(t, s, alice, bob, 8, "alice@example.com alice@example.com", "bob@example.com bob@example.com", "", "", "")
	alice.send("PNG")
	alice.expect("QNG")
	alice.send("OUT")
	alice.expectClosed()
	bob.expect("FLN alice@example.com")
}

// sbChatOld replays the switchboard part of the transcripts: alice opens, bob answers, both
// talk, alice leaves. aliceID/bobID are "email friendly"; caps are appended to IRO/JOI when
// not empty.
func sbChatOld(t *testing.T, s *Server, alice, bob *client, xfrTrID int, aliceID, bobID, caps, xfrTail, rngTail string) {
	t.Helper()
	tr := itoa(xfrTrID)
	x := alice.expectXFR(tr, s.SBAddr(), xfrTail)
	asb := dial(t, "alice SB", s.SBAddr())
	asb.send("USR 1 alice@example.com " + x)
	asb.expect("USR 1 OK " + aliceID)
	asb.send("CAL 2 bob@example.com")
	sid := asb.expect("CAL 2 RINGING *").Args[1]
	rng := bob.expect("RNG " + sid + " " + s.SBAddr() + " CKI * " + aliceID + rngTail)
	bsb := dial(t, "bob SB", s.SBAddr())
	bsb.send("ANS 1 bob@example.com " + rng.Args[3] + " " + sid)
	bsb.expect(strings.TrimSpace("IRO 1 1 1 " + aliceID + " " + caps))
	bsb.expect("ANS 1 OK")
	asb.expect(strings.TrimSpace("JOI " + bobID + " " + caps))
	typing := "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: alice@example.com\r\n\r\n\r\n"
	asb.sendPayload("MSG 3 U", typing)
	if got := bsb.expect("MSG " + aliceID + " 90"); string(got.Payload) != typing {
		t.Fatalf("typing payload %q", got.Payload)
	}
	hello := "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Segoe%20UI; EF=; CO=0; CS=1; PF=0\r\n\r\nHello Bob, this is Alice via Escargot!"
	asb.sendPayload("MSG 4 A", hello)
	bsb.expect("MSG " + aliceID + " 155")
	asb.expect("ACK 4")
	hi := "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Segoe%20UI; EF=; CO=0; CS=1; PF=0\r\n\r\nHi Alice, Bob here."
	bsb.sendPayload("MSG 2 N", hi)
	asb.expect("MSG " + bobID + " 136")
	asb.send("OUT")
	bsb.expect("BYE alice@example.com")
	asb.expectClosed()
	bsb.send("OUT")
	bsb.expectClosed()
}

func (c *client) expectXFR(trid, sbAddr, tail string) string {
	c.t.Helper()
	c.send("XFR " + trid + " SB")
	want := "XFR " + trid + " SB " + sbAddr + " CKI *"
	if tail != "" {
		want += " " + tail
	}
	return c.expect(want).Args[3]
}

func TestTranscriptMSNP8(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	bob := dial(t, "bob", s.NSAddr())
	bob.send("VER 1 MSNP8 CVR0")
	bob.expect("VER 1 MSNP8")
	bob.send("CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.2.0205 msmsgs bob@example.com")
	bob.expect("CVR 2 6.2.0205 6.2.0205 6.2.0205 https://escargot.log1p.xyz https://escargot.log1p.xyz")
	bob.send("USR 3 TWN I bob@example.com")
	bob.expect("USR 3 TWN S ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1")
	tok := twnLogin(t, s, "bob@example.com", "bobpass1")
	bob.send("USR 4 TWN S " + tok)
	bob.expect("USR 4 OK bob@example.com bob@example.com 1 0")
	prof := bob.expect("MSG Hotmail Hotmail *")
	if !strings.Contains(string(prof.Payload), "MSPAuth: "+tok+"Y6+") {
		t.Fatalf("MSPAuth does not carry the /login token: %q", prof.Payload)
	}
	bob.send("SYN 5 0")
	bob.expect("SYN 5 1 1 1")
	bob.expect("GTC A")
	bob.expect("BLP AL")
	bob.expect("LSG 0 Other%20Contacts 0")
	bob.expect("LST alice@example.com alice@example.com 11 0")
	bob.send("CHG 6 NLN 1073741824")
	bob.expect("CHG 6 NLN 1073741824")

	alice := login(t, s, 8, "alice@example.com", "alicepass1", "")
	alice.send("CHG 6 NLN 1073741824")
	alice.expect("CHG 6 NLN 1073741824")
	alice.expect("ILN 6 NLN bob@example.com bob@example.com 1073741824")
	bob.expect("NLN NLN alice@example.com alice@example.com 1073741824")
	sbChatOld(t, s, alice, bob, 7, "alice@example.com alice@example.com", "bob@example.com bob@example.com", "", "", "")
	alice.send("PNG")
	alice.expect("QNG")
}

func TestTranscriptMSNP13(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	bob := dial(t, "bob", s.NSAddr())
	bob.send("VER 1 MSNP13 CVR0")
	bob.expect("VER 1 MSNP13")
	bob.send("CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 8.0.0792 msmsgs bob@example.com")
	bob.expect("CVR 2 8.0.0792 8.0.0792 8.0.0792 https://escargot.log1p.xyz https://escargot.log1p.xyz")
	bob.send("USR 3 TWN I bob@example.com")
	gcf := bob.expect("GCF 0 *")
	if !strings.HasPrefix(string(gcf.Payload), "<Policies>\r\n\t<Policy type=\"SHIELDS\"") {
		t.Fatalf("GCF payload %q", gcf.Payload)
	}
	bob.expect("USR 3 TWN S ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1")
	tok := twnLogin(t, s, "bob@example.com", "bobpass1")
	// SOAP before the NS login is refused.
	if code, _ := soapPost(t, s, "/abservice/SharingService.asmx", "FindMembership", findMembershipBody("t="+tok)); code != 403 {
		t.Fatalf("FindMembership before login: %d, want 403", code)
	}
	bob.send("USR 4 TWN S " + tok)
	bob.expect("USR 4 OK bob@example.com 1 0")
	bob.expect("SBS 0 null")
	bob.expect("MSG Hotmail Hotmail *")
	code, body := soapPost(t, s, "/abservice/SharingService.asmx", "FindMembership", findMembershipBody("t="+tok))
	if code != 200 || !strings.Contains(body, "<MemberRole>Allow</MemberRole>") || !strings.Contains(body, "<PassportName>alice@example.com</PassportName>") {
		t.Fatalf("FindMembership: %d %s", code, body)
	}
	code, body = soapPost(t, s, "/abservice/abservice.asmx", "ABFindAll", abFindAllBody("t="+tok))
	if code != 200 || !strings.Contains(body, "<passportName>alice@example.com</passportName>") || !strings.Contains(body, "<contactType>Me</contactType>") {
		t.Fatalf("ABFindAll: %d %s", code, body)
	}
	bob.sendPayload("ADL 5", `<ml l="1"><d n="example.com"><c n="alice" l="3" t="1" /></d></ml>`)
	bob.expect("ADL 5 OK")
	bob.send("PRP 6 MFN Bob%20%28probe%29")
	bob.expect("PRP 6 MFN Bob%20(probe)")
	psm := "<Data><PSM>probe psm</PSM><CurrentMedia></CurrentMedia><MachineGuid>{5E3EDFE5-440D-5132-A3F3-A7AE35275C64}</MachineGuid></Data>"
	bob.sendPayload("UUX 7", psm)
	bob.expect("UUX 7 0")
	bob.send("CHG 8 NLN 1342177280")
	bob.expect("CHG 8 NLN 1342177280")
	md := bob.expect("MSG Hotmail Hotmail 195")
	if !strings.Contains(string(md.Payload), "Mail-Data: <MD><E><I>0</I><IU>0</IU><O>0</O><OU>0</OU></E><Q><QTM>409600</QTM><QNM>204800</QNM></Q></MD>") {
		t.Fatalf("mail data %q", md.Payload)
	}
	bob.send("SYN 9 0 0")
	bob.expect("502 9")

	alice := login(t, s, 13, "alice@example.com", "alicepass1", "")
	alice.sendPayload("ADL 5", `<ml l="1"><d n="example.com"><c n="bob" l="3" t="1" /></d></ml>`)
	alice.expect("ADL 5 OK")
	alice.send("PRP 6 MFN Alice%20%28probe%29")
	alice.expect("PRP 6 MFN Alice%20(probe)")
	alice.sendPayload("UUX 7", psm)
	alice.expect("UUX 7 0")
	alice.send("CHG 8 NLN 1342177280")
	alice.expect("CHG 8 NLN 1342177280")
	alice.expect("ILN 8 NLN bob@example.com Bob%20(probe) 1342177280 %3Cmsnobj%2F%3E")
	if ubx := alice.expect("UBX bob@example.com 127"); string(ubx.Payload) != psm {
		t.Fatalf("UBX payload %q", ubx.Payload)
	}
	alice.expect("MSG Hotmail Hotmail 195")
	bob.expect("NLN NLN alice@example.com Alice%20(probe) 1342177280 %3Cmsnobj%2F%3E")
	sbChatOld(t, s, alice, bob, 9, "alice@example.com Alice%20(probe)", "bob@example.com Bob%20(probe)", "1342177280", "U messenger.msn.com", " U messenger.hotmail.com")
	alice.send("PNG")
	alice.expect("QNG 60")
}

const (
	aliceGUID = "{CA3270CD-85DC-5C21-AA06-CCDC6B86E963}"
	bobGUID   = "{5E3EDFE5-440D-5132-A3F3-A7AE35275C64}"
)

func TestTranscriptMSNP18(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	bob := login(t, s, 18, "bob@example.com", "bobpass1", bobGUID)
	bob.sendPayload("ADL 5", `<ml l="1"><d n="example.com"><c n="alice" l="3" t="1" /></d></ml>`)
	bob.expect("ADL 5 OK")
	bob.send("PRP 6 MFN Bob%20%28probe%29")
	bob.expect("PRP 6 MFN Bob%20(probe)")
	bob.sendPayload("UUX 7", "<Data><PSM>probe psm</PSM><CurrentMedia></CurrentMedia><MachineGuid>"+bobGUID+"</MachineGuid></Data>")
	bob.expect("UUX 7 0")
	bob.sendPayload("UUX 8", "<PrivateEndpointData><EpName>probe</EpName><Idle>false</Idle><ClientType>1</ClientType><State>NLN</State></PrivateEndpointData>")
	bob.expect("UUX 8 0")
	bob.send("CHG 9 NLN 2789003324:48 0")
	bob.expect("CHG 9 NLN 2789003324:48 0")
	bob.expect("MSG Hotmail Hotmail 195")
	bob.expect("NLN NLN 1:bob@example.com Bob%20(probe) 2789003324:48 0")
	self := bob.expect("UBX 1:bob@example.com 481")
	wantSelf := `<Data><PSM>probe psm</PSM><CurrentMedia></CurrentMedia><MachineGuid>{5E3EDFE5-440D-5132-A3F3-A7AE35275C64}</MachineGuid><DDP></DDP><SignatureSound></SignatureSound><Scene></Scene><ColorScheme></ColorScheme><EndpointData id="{5e3edfe5-440d-5132-a3f3-a7ae35275c64}"><Capabilities>2789003324:48</Capabilities></EndpointData><PrivateEndpointData id="{5e3edfe5-440d-5132-a3f3-a7ae35275c64}"><EpName>probe</EpName><ClientType>1</ClientType><State>NLN</State></PrivateEndpointData></Data>`
	if string(self.Payload) != wantSelf {
		t.Fatalf("self UBX\n got %s\nwant %s", self.Payload, wantSelf)
	}

	alice := login(t, s, 18, "alice@example.com", "alicepass1", aliceGUID)
	alice.sendPayload("ADL 5", `<ml l="1"><d n="example.com"><c n="bob" l="3" t="1" /></d></ml>`)
	alice.expect("ADL 5 OK")
	alice.send("PRP 6 MFN Alice%20%28probe%29")
	alice.expect("PRP 6 MFN Alice%20(probe)")
	alice.sendPayload("UUX 7", "<Data><PSM>probe psm</PSM><CurrentMedia></CurrentMedia><MachineGuid>"+aliceGUID+"</MachineGuid></Data>")
	alice.expect("UUX 7 0")
	alice.sendPayload("UUX 8", "<PrivateEndpointData><EpName>probe</EpName><Idle>false</Idle><ClientType>1</ClientType><State>NLN</State></PrivateEndpointData>")
	alice.expect("UUX 8 0")
	alice.send("CHG 9 NLN 2789003324:48 0")
	alice.expect("CHG 9 NLN 2789003324:48 0")
	alice.expect("NLN NLN 1:bob@example.com Bob%20(probe) 2789003324:48 0")
	ubx := alice.expect("UBX 1:bob@example.com 328")
	wantUBX := `<Data><PSM>probe psm</PSM><CurrentMedia></CurrentMedia><MachineGuid>{5E3EDFE5-440D-5132-A3F3-A7AE35275C64}</MachineGuid><DDP></DDP><SignatureSound></SignatureSound><Scene></Scene><ColorScheme></ColorScheme><EndpointData id="{5e3edfe5-440d-5132-a3f3-a7ae35275c64}"><Capabilities>2789003324:48</Capabilities></EndpointData></Data>`
	if string(ubx.Payload) != wantUBX {
		t.Fatalf("UBX\n got %s\nwant %s", ubx.Payload, wantUBX)
	}
	alice.expect("MSG Hotmail Hotmail 195")
	alice.expect("NLN NLN 1:alice@example.com Alice%20(probe) 2789003324:48 0")
	alice.expect("UBX 1:alice@example.com 481")
	bob.expect("NLN NLN 1:alice@example.com Alice%20(probe) 2789003324:48 0")
	bob.expect("UBX 1:alice@example.com 328")

	// Switchboard with MSNP16+ endpoint identities.
	x := alice.expectXFR("10", s.SBAddr(), "U messenger.msn.com 1")
	asb := dial(t, "alice SB", s.SBAddr())
	asb.send("USR 1 alice@example.com;" + aliceGUID + " " + x)
	asb.expect("USR 1 OK alice@example.com;" + aliceGUID + " Alice%20(probe)")
	asb.send("CAL 2 bob@example.com")
	sid := asb.expect("CAL 2 RINGING *").Args[1]
	rng := bob.expect("RNG " + sid + " " + s.SBAddr() + " CKI * alice@example.com Alice%20(probe) U messenger.hotmail.com 1")
	bsb := dial(t, "bob SB", s.SBAddr())
	bsb.send("ANS 1 bob@example.com;" + bobGUID + " " + rng.Args[3] + " " + sid)
	bsb.expect("IRO 1 1 2 alice@example.com;{ca3270cd-85dc-5c21-aa06-ccdc6b86e963} Alice%20(probe) 2789003324:48")
	bsb.expect("IRO 1 2 2 alice@example.com Alice%20(probe) 2789003324:48")
	bsb.expect("ANS 1 OK")
	asb.expect("JOI bob@example.com;{5e3edfe5-440d-5132-a3f3-a7ae35275c64} Bob%20(probe) 2789003324:48")
	asb.expect("JOI bob@example.com Bob%20(probe) 2789003324:48")
	bsb.expect("JOI bob@example.com Bob%20(probe) 2789003324:48")
	hello := "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Segoe%20UI; EF=; CO=0; CS=1; PF=0\r\n\r\nHello Bob, this is Alice via Escargot!"
	asb.sendPayload("MSG 4 A", hello)
	bsb.expect("MSG alice@example.com Alice%20(probe) 155")
	asb.expect("ACK 4")
	asb.send("OUT")
	bsb.expect("BYE alice@example.com;{ca3270cd-85dc-5c21-aa06-ccdc6b86e963}")
	asb.expectClosed()
}
