package msntest

import (
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func rsiPost(t *testing.T, s *Server, ticket, action, body string) (int, string) {
	t.Helper()
	tp, _, _ := strings.Cut(strings.TrimPrefix(ticket, "t="), "&p=")
	env := `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
<soap:Header><PassportCookie xmlns="http://www.hotmail.msn.com/ws/2004/09/oim/rsi"><t>` + xmlEsc(tp) + `</t><p></p></PassportCookie></soap:Header>
<soap:Body>` + body + `</soap:Body></soap:Envelope>`
	req, _ := http.NewRequest("POST", s.HTTPURL()+"/rsi/rsi.asmx", strings.NewReader(env))
	req.Header.Set("SOAPAction", `"http://www.hotmail.msn.com/ws/2004/09/oim/rsi/`+action+`"`)
	resp, err := (&http.Client{Timeout: ioTimeout}).Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestOfflineMessagesRetrieval(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	must(t, s.SetFriendlyName("alice@example.com", "Alice (probe)"))
	id, err := s.QueueOfflineMessage("alice@example.com", "bob@example.com", "Offline hello to Bob", time.Date(2026, 11, 22, 5, 24, 46, 0, time.UTC))
	must(t, err)
	bob := login(t, s, 18, "bob@example.com", "bobpass1", bobGUID)
	bob.send("CHG 5 NLN 2789003324:48 0")
	bob.expect("CHG 5 NLN 2789003324:48 0")
	md := bob.expect("MSG Hotmail Hotmail *")
	want := "<M><T>11</T><S>6</S><RT>2026-11-22T05:24:46Z</RT><RS>0</RS><SZ>"
	if !strings.Contains(string(md.Payload), want) || !strings.Contains(string(md.Payload), "<E>alice@example.com</E><I>"+id+"</I><F>00000000-0000-0000-0000-000000000009</F><N>=?utf-8?B?QWxpY2UgKHByb2JlKQ==?=</N></M></MD>") {
		t.Fatalf("mail data %q", md.Payload)
	}
	code, body := rsiPost(t, s, bob.ticket, "GetMetadata", `<GetMetadata xmlns="http://www.hotmail.msn.com/ws/2004/09/oim/rsi" />`)
	if code != 200 || !strings.Contains(body, "<I>"+id+"</I>") {
		t.Fatalf("GetMetadata: %d %s", code, body)
	}
	code, body = rsiPost(t, s, bob.ticket, "GetMessage", `<GetMessage xmlns="http://www.hotmail.msn.com/ws/2004/09/oim/rsi"><messageId>`+id+`</messageId><alsoMarkAsRead>false</alsoMarkAsRead></GetMessage>`)
	if code != 200 || !strings.Contains(body, base64.StdEncoding.EncodeToString([]byte("Offline hello to Bob"))) || !strings.Contains(body, "X-OIM-Sequence-Num: 1") {
		t.Fatalf("GetMessage: %d %s", code, body)
	}
	if code, _ = rsiPost(t, s, "t=00000000000000000000", "GetMetadata", `<GetMetadata xmlns="http://www.hotmail.msn.com/ws/2004/09/oim/rsi" />`); code != 500 {
		t.Fatalf("GetMetadata with a bad ticket: %d", code)
	}
	code, _ = rsiPost(t, s, bob.ticket, "DeleteMessages", `<DeleteMessages xmlns="http://www.hotmail.msn.com/ws/2004/09/oim/rsi"><messageIds><messageId>`+id+`</messageId></messageIds></DeleteMessages>`)
	if code != 200 || len(s.OfflineMessages("bob@example.com")) != 0 {
		t.Fatalf("DeleteMessages: %d, left %d", code, len(s.OfflineMessages("bob@example.com")))
	}
	// While online, a new OIM arrives as text/x-msmsgsoimnotification.
	for {
		if cmd := bob.read(); cmd.Name == "UBX" {
			break
		}
	}
	_, err = s.QueueOfflineMessage("alice@example.com", "bob@example.com", "second", time.Now())
	must(t, err)
	n := bob.expect("MSG Hotmail Hotmail *")
	if !strings.Contains(string(n.Payload), "Content-Type: text/x-msmsgsoimnotification; charset=UTF-8") {
		t.Fatalf("notification %q", n.Payload)
	}
}

func TestOfflineMessagesSentByClients(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	alice := login(t, s, 18, "alice@example.com", "alicepass1", aliceGUID)
	alice.sendPayload("UUM 5 bob@example.com 1 1", "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nDest-Agent: client\r\n\r\nOffline hello to Bob")
	alice.expectSilence(quietWindow)
	got := s.OfflineMessages("bob@example.com")
	if len(got) != 1 || got[0].Text != "Offline hello to Bob" || got[0].From != "alice@example.com" {
		t.Fatalf("stored %+v", got)
	}

	store := func(lockkey string) (int, string) {
		content := "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\nX-OIM-Message-Type: OfflineMessage\r\nX-OIM-Run-Id: {3A3BE82D-7F4C-4BA0-8B62-C6C5F2D0A2B0}\r\nX-OIM-Sequence-Num: 1\r\n\r\n" +
			base64.StdEncoding.EncodeToString([]byte("via Store2"))
		env := `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
<soap:Header>
<From memberName="alice@example.com" friendlyName="=?utf-8?B?` + base64.StdEncoding.EncodeToString([]byte("Alice")) + `?=" xml:lang="en-US" proxy="MSNMSGR" xmlns="http://messenger.msn.com/ws/2004/09/oim/" msnpVer="MSNP15" buildVer="8.5.1288"/>
<To memberName="bob@example.com" xmlns="http://messenger.msn.com/ws/2004/09/oim/"/>
<Ticket passport="` + xmlEsc(alice.ticket) + `" appid="PROD0119GSJUC$18" lockkey="` + lockkey + `" xmlns="http://messenger.msn.com/ws/2004/09/oim/"/>
<Sequence xmlns="http://schemas.xmlsoap.org/ws/2003/03/rm"><Identifier xmlns="http://schemas.xmlsoap.org/ws/2002/07/utility">http://messenger.msn.com</Identifier><MessageNumber>1</MessageNumber></Sequence>
</soap:Header>
<soap:Body><MessageType xmlns="http://messenger.msn.com/ws/2004/09/oim/">text</MessageType><Content xmlns="http://messenger.msn.com/ws/2004/09/oim/">` + content + `</Content></soap:Body></soap:Envelope>`
		req, _ := http.NewRequest("POST", s.HTTPURL()+"/OimWS/oim.asmx", strings.NewReader(env))
		req.Header.Set("SOAPAction", `"http://messenger.live.com/ws/2006/09/oim/Store2"`)
		resp, err := (&http.Client{Timeout: ioTimeout}).Do(req)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := store(""); code != 500 || !strings.Contains(body, "<LockKeyChallenge") {
		t.Fatalf("Store2 without lockkey: %d %s", code, body)
	}
	if code, body := store("anything"); code != 200 {
		t.Fatalf("Store2: %d %s", code, body)
	}
	got = s.OfflineMessages("bob@example.com")
	if len(got) != 2 || got[1].Text != "via Store2" || got[1].FromName != "Alice" || got[1].Seq != 2 {
		t.Fatalf("stored %+v", got)
	}
}

// TestOfflineMessageSequenceOnlyGrows: sequence numbers per sender and recipient never repeat,
// even after earlier messages were deleted; they order messages stored within one second
// (the Date has whole seconds), such as the parts of a long MSNP18 offline text.
func TestOfflineMessageSequenceOnlyGrows(t *testing.T) {
	s := newServer(t, Options{})
	aliceBob(t, s)
	at := time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)
	for _, text := range []string{"one", "two"} {
		if _, err := s.QueueOfflineMessage("alice@example.com", "bob@example.com", text, at); err != nil {
			t.Fatal(err)
		}
	}
	s.mu.Lock()
	s.oims = s.oims[1:] // Bob fetched and deleted "one"
	s.mu.Unlock()
	if _, err := s.QueueOfflineMessage("alice@example.com", "bob@example.com", "three", at); err != nil {
		t.Fatal(err)
	}
	got := s.OfflineMessages("bob@example.com")
	if len(got) != 2 || got[0].Text != "two" || got[1].Text != "three" || got[1].Seq <= got[0].Seq {
		t.Fatalf("stored %+v", got)
	}
}
