package msntest

import (
	"strings"
	"testing"
)

// TestContactAddTranscript replays contact_add_transcript.txt: an MSNP12 client adds an
// MSNP18 user with ADC, an MSNP18 client adds an MSNP11 user with ABContactAdd + ADL.
func TestContactAddTranscript(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	must(t, s.AddAccount("carol@example.com", "carolpass1", ""))
	must(t, s.SetFriendlyName("alice@example.com", "Alice (probe)"))
	must(t, s.SetFriendlyName("carol@example.com", "Carol (probe)"))
	must(t, s.SetFriendlyName("bob@example.com", "Bob (probe)"))
	alice := online18(t, s, "alice@example.com", "alicepass1", aliceGUID)

	carol := login(t, s, 12, "carol@example.com", "carolpass1", "")
	carol.send("SYN 5 0 0")
	carol.expect("SYN 5 2000-01-01T00:00:00.0-00:00 2000-01-01T00:00:00.0-00:00 0 0")
	carol.expect("GTC A")
	carol.expect("BLP AL")
	carol.expect("PRP MFN Carol%20(probe)")
	carol.send("CHG 8 NLN 1073741824")
	carol.expect("CHG 8 NLN 1073741824")
	carol.expect("MSG Hotmail Hotmail 195")
	carol.send("ADC 9 FL N=alice@example.com F=alice@example.com")
	cid := carol.expect("ADC 9 FL N=alice@example.com F=Alice%20(probe) *").Args[3]
	carol.send("ADC 10 AL N=alice@example.com")
	carol.expect("ADC 10 AL N=alice@example.com")
	adl := alice.expect("ADL 0 83")
	if string(adl.Payload) != `<ml><d n="example.com"><c n="carol" t="1" l="8" f="Carol%20%28probe%29" /></d></ml>` {
		t.Fatalf("ADL 0 payload %q", adl.Payload)
	}
	alice.expect("NOT *")
	carol.send("ADC 11 FL N=alice@example.com F=x")
	carol.expect("215 11")
	carol.send("REM 12 FL " + strings.TrimPrefix(cid, "C="))
	carol.expect("REM 12 FL " + strings.TrimPrefix(cid, "C="))
	alice.expect("RML 0 *")

	bob := login(t, s, 11, "bob@example.com", "bobpass1", "")
	bob.send("CHG 8 NLN 1073741824")
	bob.expect("CHG 8 NLN 1073741824")
	for bob.read().Name != "MSG" {
	}
	carol18 := online18(t, s, "carol@example.com", "carolpass1", "{11111111-2222-3333-4444-555555555555}")
	carol.expect("OUT OTH")
	code, body := soapPost(t, s, "/abservice/abservice.asmx", "ABContactAdd", abEnvelope(carol18.ticket,
		`<ABContactAdd xmlns="http://www.msn.com/webservices/AddressBook"><abId>00000000-0000-0000-0000-000000000000</abId><contacts><Contact><contactInfo><passportName>bob@example.com</passportName><isMessengerUser>true</isMessengerUser><contactType>LivePending</contactType></contactInfo></Contact></contacts><options><EnableAllowListManagement>true</EnableAllowListManagement></options></ABContactAdd>`))
	if code != 200 || !strings.Contains(body, "<ABContactAddResult><guid>") {
		t.Fatalf("ABContactAdd: %d %s", code, body)
	}
	carol18.sendPayload("ADL 10", `<ml><d n="example.com"><c n="bob" l="3" t="1" /></d></ml>`)
	carol18.expect("NLN NLN 1:bob@example.com Bob%20(probe) 1073741824:0 %3Cmsnobj%2F%3E")
	carol18.expect("UBX 1:bob@example.com *")
	carol18.expect("ADL 10 OK")
	bob.expect("ADC 0 RL N=carol@example.com F=Carol%20(probe)")
	bob.expect("NOT *")
	// ADL rejects RL/PL bits and unknown networks.
	carol18.sendPayload("ADL 11", `<ml><d n="example.com"><c n="bob" l="8" t="1" /></d></ml>`)
	carol18.expect("241 11")
	carol18.sendPayload("ADL 12", `<ml><d n="example.com"><c n="bob" l="1" t="7" /></d></ml>`)
	carol18.expect("204 12")
	carol18.sendPayload("RML 13", `<ml><d n="example.com"><c n="bob" l="1" t="1" /></d></ml>`)
	carol18.expect("RML 13 OK")
	bob.expect("REM 0 RL carol@example.com")
}

func TestSYNShapes(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	g, err := s.AddGroup("bob@example.com", "Friends")
	must(t, err)
	must(t, s.AddContact("bob@example.com", "alice@example.com", 0, g))
	must(t, s.SetFriendlyName("alice@example.com", "Alice (probe)"))

	c := login(t, s, 2, "bob@example.com", "bobpass1", "")
	c.send("SYN 5 0")
	for _, l := range []string{"SYN 5 1", "GTC 5 1 A", "BLP 5 1 AL",
		"LST 5 FL 1 1 1 alice@example.com Alice%20(probe)", "LST 5 AL 1 1 1 alice@example.com Alice%20(probe)",
		"LST 5 BL 1 0 0", "LST 5 RL 1 1 1 alice@example.com Alice%20(probe)"} {
		c.expect(l)
	}
	c = login(t, s, 9, "bob@example.com", "bobpass1", "")
	c.send("SYN 5 0")
	for _, l := range []string{"SYN 5 1 1 2", "GTC A", "BLP AL", "LSG 0 Other%20Contacts 0", "LSG 1 Friends 0",
		"LST alice@example.com Alice%20(probe) 11 1"} {
		c.expect(l)
	}
	c = login(t, s, 10, "bob@example.com", "bobpass1", "")
	c.send("SYN 5 0 0")
	for _, l := range []string{"SYN 5 2000-01-01T00:00:00.0-00:00 2000-01-01T00:00:00.0-00:00 1 1", "GTC A", "BLP AL",
		"PRP MFN bob@example.com", "LSG Friends " + g, "LST N=alice@example.com F=Alice%20(probe) * 11 " + g} {
		c.expect(l)
	}
	c = login(t, s, 12, "bob@example.com", "bobpass1", "")
	c.send("SYN 5 0 0")
	for i := 0; i < 5; i++ {
		c.read()
	}
	c.expect("LST N=alice@example.com F=Alice%20(probe) * 11 1 " + g)
	c.send("GCF 6 Shields.xml")
	c.expect("GCF 6 Shields.xml *")
	c.send("BLP 7 BL")
	c.expect("BLP 7 BL")
	c.send("REA 8 bob@example.com x")
	c.expect("502 8")
}

func TestMembershipAndAddressBook(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	must(t, s.AddAccount("carol@example.com", "carolpass1", ""))
	alice := login(t, s, 18, "alice@example.com", "alicepass1", aliceGUID)
	tk := alice.ticket
	member := func(op, role string) {
		t.Helper()
		code, body := soapPost(t, s, "/abservice/SharingService.asmx", op, abEnvelope(tk,
			`<`+op+` xmlns="http://www.msn.com/webservices/AddressBook"><serviceHandle><Id>0</Id><Type>Messenger</Type><ForeignId></ForeignId></serviceHandle><memberships><Membership><MemberRole>`+role+`</MemberRole><Members><Member xsi:type="PassportMember" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><Type>Passport</Type><State>Accepted</State><PassportName>carol@example.com</PassportName></Member></Members></Membership></memberships></`+op+`>`))
		if code != 200 || !strings.Contains(body, op+"Response") {
			t.Fatalf("%s: %d %s", op, code, body)
		}
	}
	member("AddMember", "Block")
	if s.Lists("alice@example.com", "carol@example.com")&BL == 0 {
		t.Fatal("AddMember Block did not set BL")
	}
	member("DeleteMember", "Block")
	member("AddMember", "Allow")
	if s.Lists("alice@example.com", "carol@example.com") != AL {
		t.Fatalf("lists = %d", s.Lists("alice@example.com", "carol@example.com"))
	}
	code, body := soapPost(t, s, "/abservice/abservice.asmx", "ABFindContactsPaged", abEnvelope(tk,
		`<ABFindContactsPaged xmlns="http://www.msn.com/webservices/AddressBook"><filterOptions><DeltasOnly>false</DeltasOnly><LastChanged>0001-01-01T00:00:00.0000000</LastChanged><ContactFilter><IncludeHiddenContacts>true</IncludeHiddenContacts></ContactFilter></filterOptions><abView>MessengerClient8</abView><extendedContent>AB AllGroups CircleResult</extendedContent></ABFindContactsPaged>`))
	if code != 200 || !strings.Contains(body, "<passportName>bob@example.com</passportName>") || !strings.Contains(body, "<CircleTicket>") {
		t.Fatalf("ABFindContactsPaged: %d %s", code, body)
	}
	doc, err := parseXML([]byte(body))
	must(t, err)
	var bobID string
	for _, c := range doc.findAll("Contact") {
		if c.str("passportName") == "bob@example.com" {
			bobID = c.str("contactId")
		}
	}
	code, body = soapPost(t, s, "/abservice/abservice.asmx", "ABFindAll", abEnvelope(tk,
		`<ABFindAll xmlns="http://www.msn.com/webservices/AddressBook"><abId>00000000-0000-0000-0000-000000000000</abId><abView>Full</abView><deltasOnly>true</deltasOnly><lastChange>2026-01-01T00:00:00</lastChange></ABFindAll>`))
	if code != 500 || !strings.Contains(body, "FullSyncRequired") {
		t.Fatalf("deltas: %d %s", code, body)
	}
	if code, _ = soapPost(t, s, "/abservice/abservice.asmx", "ABFindAll", abEnvelope(tk, `<ABFindAll/>`)); code != 500 {
		t.Fatalf("empty action: %d", code)
	}
	code, body = soapPost(t, s, "/abservice/abservice.asmx", "ABContactDelete", abEnvelope(tk,
		`<ABContactDelete xmlns="http://www.msn.com/webservices/AddressBook"><abId>00000000-0000-0000-0000-000000000000</abId><contacts><Contact><contactId>`+bobID+`</contactId></Contact></contacts></ABContactDelete>`))
	if code != 200 || s.Lists("alice@example.com", "bob@example.com")&FL != 0 {
		t.Fatalf("ABContactDelete: %d %s", code, body)
	}
	code, _ = soapPost(t, s, "/abservice/abservice.asmx", "ABContactDelete", abEnvelope(tk,
		`<ABContactDelete xmlns="http://www.msn.com/webservices/AddressBook"><contacts><Contact><contactId>`+bobID+`</contactId></Contact></contacts></ABContactDelete>`))
	if code != 500 {
		t.Fatalf("second ABContactDelete: %d", code)
	}
	// Once the session is gone (the server removes it before closing the socket), SOAP is
	// refused again.
	alice.send("OUT")
	alice.expectClosed()
	if code, _ = soapPost(t, s, "/abservice/abservice.asmx", "ABFindAll", abFindAllBody(tk)); code != 403 {
		t.Fatalf("SOAP after logout: %d, want 403", code)
	}
}

func TestAddressBookGroups(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	alice := login(t, s, 18, "alice@example.com", "alicepass1", aliceGUID)
	tk := alice.ticket
	code, body := soapPost(t, s, "/abservice/abservice.asmx", "ABGroupAdd", abEnvelope(tk,
		`<ABGroupAdd xmlns="http://www.msn.com/webservices/AddressBook"><abId>00000000-0000-0000-0000-000000000000</abId><groupAddOptions><fRenameOnMsgrConflict>false</fRenameOnMsgrConflict></groupAddOptions><groupInfo><GroupInfo><name>Friends</name><groupType>C8529CE2-6EAD-434d-881F-341E17DB3FF8</groupType></GroupInfo></groupInfo></ABGroupAdd>`))
	doc, err := parseXML([]byte(body))
	must(t, err)
	gid := doc.str("guid")
	if code != 200 || gid == "" {
		t.Fatalf("ABGroupAdd: %d %s", code, body)
	}
	_, body = soapPost(t, s, "/abservice/abservice.asmx", "ABFindAll", abFindAllBody(tk))
	doc, err = parseXML([]byte(body))
	must(t, err)
	var bobID string
	for _, c := range doc.findAll("Contact") {
		if c.str("passportName") == "bob@example.com" {
			bobID = c.str("contactId")
		}
	}
	code, body = soapPost(t, s, "/abservice/abservice.asmx", "ABGroupContactAdd", abEnvelope(tk,
		`<ABGroupContactAdd xmlns="http://www.msn.com/webservices/AddressBook"><abId>00000000-0000-0000-0000-000000000000</abId><groupFilter><groupIds><guid>`+gid+`</guid></groupIds></groupFilter><contacts><Contact><contactId>`+bobID+`</contactId></Contact></contacts></ABGroupContactAdd>`))
	if code != 200 {
		t.Fatalf("ABGroupContactAdd: %d %s", code, body)
	}
	_, body = soapPost(t, s, "/abservice/abservice.asmx", "ABFindAll", abFindAllBody(tk))
	if !strings.Contains(body, "<name>Friends</name>") || !strings.Contains(body, "<groupIds><guid>"+gid+"</guid></groupIds>") {
		t.Fatalf("ABFindAll after group add: %s", body)
	}
	soapPost(t, s, "/abservice/abservice.asmx", "ABGroupDelete", abEnvelope(tk,
		`<ABGroupDelete xmlns="http://www.msn.com/webservices/AddressBook"><abId>00000000-0000-0000-0000-000000000000</abId><groupFilter><groupIds><guid>`+gid+`</guid></groupIds></groupFilter></ABGroupDelete>`))
	_, body = soapPost(t, s, "/abservice/abservice.asmx", "ABFindAll", abFindAllBody(tk))
	if strings.Contains(body, gid) {
		t.Fatalf("group still present: %s", body)
	}
}
