package oim

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/message"
)

// The Mail-Data payload bob received in quirks_transcript.txt (case oim18).
const trMailPayload = "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinitialmdatanotification; charset=UTF-8\r\n\r\n" +
	"Mail-Data: <MD><E><I>0</I><IU>0</IU><O>0</O><OU>0</OU></E><Q><QTM>409600</QTM><QNM>204800</QNM></Q>" +
	"<M><T>11</T><S>6</S><RT>2026-11-22T05:24:46Z</RT><RS>0</RS><SZ>922</SZ><E>alice@example.com</E>" +
	"<I>E6E014A5-CAC1-4375-81EA-2F1ED90FD344</I><F>00000000-0000-0000-0000-000000000009</F>" +
	"<N>=?utf-8?B?QWxpY2UgKHByb2JlKQ==?=</N></M></MD>\r\n"

const trTicket = "t=31081ec7204350d775deY6+H31sTUOFkqjNTDYqAAFLr5Ote7BMrMnU&p=HAAAAAEAAAADZgAABIAAAAgAAAAU<&>"

func TestParseMailDataPayloadTranscript(t *testing.T) {
	if len(trMailPayload) != 419 {
		t.Fatalf("fixture is %d bytes, transcript says 419", len(trMailPayload))
	}
	md, tooLarge, err := ParseMailDataPayload([]byte(trMailPayload))
	if err != nil || tooLarge {
		t.Fatal(err, tooLarge)
	}
	if md.QuotaTotal != 409600 || md.QuotaNotify != 204800 || md.InboxTotal != 0 || len(md.Messages) != 1 {
		t.Fatalf("%+v", md)
	}
	m := md.Messages[0]
	want := MailMessage{Type: 11, S: 6, Received: time.Date(2026, 11, 22, 5, 24, 46, 0, time.UTC), Size: 922,
		From: "alice@example.com", ID: "E6E014A5-CAC1-4375-81EA-2F1ED90FD344", Folder: "00000000-0000-0000-0000-000000000009",
		FromName: "Alice (probe)"}
	if m != want {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
	if len(md.OIMs()) != 1 {
		t.Error("OIMs()")
	}
}

func TestParseMailDataVariants(t *testing.T) {
	// Empty list (every transcript login), live notification without RT, a subject, too-large.
	md, _, err := ParseMailDataPayload([]byte("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinitialmdatanotification; charset=UTF-8\r\n\r\nMail-Data: <MD><E><I>0</I><IU>0</IU><O>0</O><OU>0</OU></E><Q><QTM>409600</QTM><QNM>204800</QNM></Q></MD>\r\n"))
	if err != nil || len(md.Messages) != 0 {
		t.Fatal(md, err)
	}
	md, err = ParseMailData([]byte(`<MD><M><T>11</T><S>6</S><RS>0</RS><SZ>x</SZ><E>a@b.c</E><I>id-1</I><F>.!!OIM</F><N>=?iso-8859-1?Q?J=F6rg?=</N><SU> </SU></M><M><T>11</T><E>no-id@b.c</E></M><M><T>12</T><I>mail</I></M></MD>`))
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Messages) != 2 || !md.Messages[0].Received.IsZero() || md.Messages[0].FromName != "Jörg" || md.Messages[0].Folder != ".!!OIM" || md.Messages[0].Size != 0 {
		t.Errorf("%+v", md.Messages)
	}
	if oims := md.OIMs(); len(oims) != 1 || oims[0].ID != "id-1" {
		t.Errorf("OIMs %+v", oims)
	}
	_, tooLarge, err := ParseMailDataPayload([]byte("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsoimnotification; charset=UTF-8\r\n\r\nMail-Data: too-large\r\n"))
	if err != nil || !tooLarge {
		t.Errorf("too-large: %v %v", tooLarge, err)
	}
}

func TestParseMailDataErrors(t *testing.T) {
	for _, in := range []string{"", "<MD>", "<XX></XX>", "not xml", "<MD><M><I>a</I></M>"} {
		if _, err := ParseMailData([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", in, err)
		}
	}
	big := "<MD>" + strings.Repeat("<M><I>x</I></M>", MaxMailMessages+1) + "</MD>"
	if _, err := ParseMailData([]byte(big)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("count: %v", err)
	}
	huge := make([]byte, MaxMailDataBytes+1)
	if _, err := ParseMailData(huge); !errors.Is(err, ErrTooLarge) {
		t.Errorf("size: %v", err)
	}
	if _, _, err := ParseMailDataPayload([]byte("MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhi")); !errors.Is(err, ErrMalformed) {
		t.Errorf("wrong type: %v", err)
	}
}

func getMessageResult(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("testdata/getmessage_response.xml")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestDecodeMessageFixture(t *testing.T) {
	raw, err := parseGetMessageBody(mustEnvelope(t, getMessageResult(t)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeMessage("E6E014A5-CAC1-4375-81EA-2F1ED90FD344", raw)
	if err != nil {
		t.Fatal(err)
	}
	want := OfflineMessage{ID: "E6E014A5-CAC1-4375-81EA-2F1ED90FD344", From: "alice@example.com", FromName: "Alice (probe)",
		Time: time.Date(2026, 11, 22, 5, 24, 46, 0, time.UTC), Seq: 1, Text: "Offline hello to Bob",
		RunID: "{3A3BE82D-E2B5-4B8B-9A39-5B2D1F1C1A4E}"}
	if *m != want {
		t.Errorf("got  %+v\nwant %+v", *m, want)
	}
}

func mustEnvelope(t *testing.T, body string) []byte {
	t.Helper()
	env, err := parseEnvelope([]byte(body), 200)
	if err != nil {
		t.Fatal(err)
	}
	return env.Body.Inner
}

func TestDecodeMessageVariants(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	long := strings.Repeat("Zeile mit Ümlauten 😀 ", 20)
	enc := b64(long)
	wrapped := ""
	for len(enc) > 76 {
		wrapped += enc[:76] + "\r\n"
		enc = enc[76:]
	}
	wrapped += enc
	cases := []struct {
		name, raw string
		want      OfflineMessage
	}{
		{"wrapped base64, arrival time only", "From: \"=?utf-8?B?" + b64("Zoë") + "?=\" <z@x.org>\r\nX-OriginalArrivalTime: 22 Nov 2026 05:24:46.0000 (UTC) FILETIME=[C9516300:01DD7A41]\r\nX-OIM-Sequence-Num: 7\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + wrapped + "\r\n",
			OfflineMessage{From: "z@x.org", FromName: "Zoë", Time: time.Date(2026, 11, 22, 5, 24, 46, 0, time.UTC), Seq: 7, Text: long}},
		{"arrival date without FILETIME, CRLF text", "From: plain@x.org\nX-OriginalArrivalTime: 2 Jan 2006 15:04:05.0000 (UTC)\nContent-Transfer-Encoding: base64\n\n" + b64("a\r\nb"),
			OfflineMessage{From: "plain@x.org", Time: time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC), Text: "a\nb"}},
		{"Escargot UUM: plain text under a base64 header", "From: =?utf-8?B?QWxpY2U=?= <alice@example.com>\r\nContent-Transfer-Encoding: base64\r\n\r\nOffline hello to Bob",
			OfflineMessage{From: "alice@example.com", FromName: "Alice", Text: "Offline hello to Bob"}},
		{"unpadded base64 (fuzz regression)", "From: u@x.org\r\nContent-Transfer-Encoding: base64\r\n\r\naGk",
			OfflineMessage{From: "u@x.org", Text: "hi"}},
		{"latin-1 8bit", "From: <l@x.org>\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nJ\xf6rg",
			OfflineMessage{From: "l@x.org", Text: "Jörg"}},
		{"quoted-printable", "From: q@x.org\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nJ=C3=B6rg=\r\n!",
			OfflineMessage{From: "q@x.org", Text: "Jörg!"}},
	}
	for _, c := range cases {
		m, err := DecodeMessage("id", []byte(c.raw))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		c.want.ID = "id"
		if *m != c.want {
			t.Errorf("%s:\ngot  %+v\nwant %+v", c.name, *m, c.want)
		}
	}
	for _, bad := range []string{"To: x\r\n\r\nno from", "garbage line\r\n", "From: a@b\r\nContent-Type: image/png\r\n\r\nx"} {
		if _, err := DecodeMessage("id", []byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := DecodeMessage("id", make([]byte, MaxMessageBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("size: %v", err)
	}
}

// fakeRSI is an RSI service on 127.0.0.1 holding messages by id.
type fakeRSI struct {
	t        *testing.T
	mu       sync.Mutex
	messages map[string]string // id → RFC 822 text
	deleted  []string
	cookies  [][2]string
	metadata string // GetMetadata response body
}

func (f *fakeRSI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Header struct {
			Cookie struct {
				T string `xml:"t"`
				P string `xml:"p"`
			} `xml:"PassportCookie"`
		} `xml:"Header"`
		Body struct {
			GetMessage *struct {
				ID   string `xml:"messageId"`
				Mark string `xml:"alsoMarkAsRead"`
			} `xml:"GetMessage"`
			Delete *struct {
				IDs []string `xml:"messageIds>messageId"`
			} `xml:"DeleteMessages"`
		} `xml:"Body"`
	}
	if r.URL.Path != "/rsi/rsi.asmx" || xml.Unmarshal(body, &req) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cookies = append(f.cookies, [2]string{req.Header.Cookie.T, req.Header.Cookie.P})
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	switch r.Header.Get("SOAPAction") {
	case `"` + ActionGetMessage + `"`:
		if req.Body.GetMessage == nil || req.Body.GetMessage.Mark != "false" {
			http.Error(w, "bad GetMessage", http.StatusBadRequest)
			return
		}
		text, ok := f.messages[req.Body.GetMessage.ID]
		if !ok {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>No such message</faultstring></soap:Fault></soap:Body></soap:Envelope>`)
			return
		}
		var esc strings.Builder
		xml.EscapeText(&esc, []byte(text))
		io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetMessageResponse xmlns="`+RSINamespace+`"><GetMessageResult>`+esc.String()+`</GetMessageResult></GetMessageResponse></soap:Body></soap:Envelope>`)
	case `"` + ActionDelete + `"`:
		f.deleted = append(f.deleted, req.Body.Delete.IDs...)
		io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><DeleteMessagesResponse xmlns="`+RSINamespace+`"/></soap:Body></soap:Envelope>`)
	case `"` + ActionGetMeta + `"`:
		io.WriteString(w, f.metadata)
	default:
		http.Error(w, "unknown action", http.StatusBadRequest)
	}
}

func newLocalServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func oimText(from, name, date string, seq int, text string) string {
	return "From: =?utf-8?B?" + base64.StdEncoding.EncodeToString([]byte(name)) + "?= <" + from + ">\r\nTo: bob@example.com\r\n" +
		"Date: " + date + "\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n" +
		"X-OIM-Message-Type: OfflineMessage\r\nX-OIM-Run-Id: {3A3BE82D-E2B5-4B8B-9A39-5B2D1F1C1A4E}\r\n" +
		"X-OIM-Sequence-Num: " + string(rune('0'+seq)) + "\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte(text))
}

func TestRSIFetchAll(t *testing.T) {
	f := &fakeRSI{t: t, messages: map[string]string{
		"id-late":   oimText("alice@example.com", "Alice", "Sat, 21 Nov 2026 21:30:00 -0800", 3, "third"),
		"id-first":  oimText("alice@example.com", "Alice", "Sat, 21 Nov 2026 21:24:46 -0800", 1, "first"),
		"id-second": oimText("alice@example.com", "Alice", "Sat, 21 Nov 2026 21:24:46 -0800", 2, "second"),
	}}
	srv := newLocalServer(t, f)
	c := &RSIClient{URL: srv.URL + "/rsi/rsi.asmx", Ticket: func() string { return trTicket }}
	list := []MailMessage{{ID: "id-late"}, {ID: "id-missing"}, {ID: "id-second"}, {ID: "id-first"}, {ID: "id-first"}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := c.FetchAll(ctx, list)
	if err == nil || !strings.Contains(err.Error(), "No such message") {
		t.Errorf("missing message not reported: %v", err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, m.Text)
	}
	if strings.Join(got, ",") != "first,second,third" {
		t.Errorf("order %v", got)
	}
	f.mu.Lock()
	deleted := len(f.deleted)
	f.mu.Unlock()
	if deleted != 0 {
		t.Fatalf("FetchAll deleted %d messages before the caller handed them on", deleted)
	}
	if err := c.DeleteMessages(ctx, MessageIDs(msgs)); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.Join(f.deleted, ",") != "id-first,id-second,id-late" {
		t.Errorf("deleted %v (only fetched ones must be deleted)", f.deleted)
	}
	// PassportCookie: t and p halves of the ticket, XML-escaped on the wire, intact after parsing.
	for _, ck := range f.cookies {
		if ck[0] != "31081ec7204350d775deY6+H31sTUOFkqjNTDYqAAFLr5Ote7BMrMnU" || ck[1] != "HAAAAAEAAAADZgAABIAAAAgAAAAU<&>" {
			t.Fatalf("cookie %q", ck)
		}
	}
}

func TestRSIGetMetadata(t *testing.T) {
	md := `<MD><E><I>3</I><IU>2</IU><O>0</O><OU>0</OU></E><M><T>11</T><S>6</S><RT>2026-11-22T05:24:46Z</RT><E>alice@example.com</E><I>id-1</I><N>=?utf-8?B?QWxpY2U=?=</N></M></MD>`
	var esc strings.Builder
	xml.EscapeText(&esc, []byte(md))
	for name, resp := range map[string]string{
		"elements": `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetMetadataResponse xmlns="` + RSINamespace + `">` + md + `</GetMetadataResponse></soap:Body></soap:Envelope>`,
		"escaped":  `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetMetadataResponse xmlns="` + RSINamespace + `"><GetMetadataResult>` + esc.String() + `</GetMetadataResult></GetMetadataResponse></soap:Body></soap:Envelope>`,
	} {
		f := &fakeRSI{t: t, metadata: resp}
		srv := newLocalServer(t, f)
		c := &RSIClient{URL: srv.URL + "/rsi/rsi.asmx", Ticket: func() string { return "bare-twn-ticket" }}
		got, err := c.GetMetadata(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.InboxTotal != 3 || got.InboxUnread != 2 || len(got.Messages) != 1 || got.Messages[0].FromName != "Alice" {
			t.Errorf("%s: %+v", name, got)
		}
		if f.cookies[0] != [2]string{"bare-twn-ticket", ""} {
			t.Errorf("%s: cookie %q", name, f.cookies[0])
		}
	}
}

func TestRSIErrors(t *testing.T) {
	ctx := context.Background()
	// HTTP error without a fault.
	srv := newLocalServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", http.StatusForbidden) }))
	c := &RSIClient{URL: srv.URL}
	var he *HTTPError
	if _, err := c.GetMessage(ctx, "x"); !errors.As(err, &he) || he.Status != 403 {
		t.Errorf("403: %v", err)
	}
	// Authentication fault.
	srv = newLocalServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>q0:AuthenticationFailed</faultcode><faultstring>bad ticket</faultstring></soap:Fault></soap:Body></soap:Envelope>`)
	}))
	c = &RSIClient{URL: srv.URL}
	if _, err := c.GetMetadata(ctx); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("auth fault: %v", err)
	}
	// Oversized response.
	srv = newLocalServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat(" ", MaxResponseBytes+10)))
	}))
	c = &RSIClient{URL: srv.URL}
	if err := c.DeleteMessages(ctx, []string{"a"}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("size: %v", err)
	}
	// Context deadline: the handler blocks until the client gives up.
	release := make(chan struct{})
	srv = newLocalServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer close(release)
	c = &RSIClient{URL: srv.URL}
	dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.GetMessage(dctx, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: %v", err)
	}
	if _, err := (&RSIClient{}).GetMetadata(ctx); err == nil {
		t.Error("no URL accepted")
	}
}

// fakeStore is an OIM Store2 service that demands a lock key first, like the real one.
type fakeStore struct {
	mu       sync.Mutex
	requests int
	stored   []storedOIM
	faultAll string // when set, answer every request with this fault code
}

type storedOIM struct {
	from, friendly, to, ticket, appid, lockkey, msnpVer string
	number, seq                                         string
	runID, text                                         string
}

var guidRe = regexp.MustCompile(`^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$`)

func (f *fakeStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Header struct {
			From struct {
				Member   string `xml:"memberName,attr"`
				Friendly string `xml:"friendlyName,attr"`
				Ver      string `xml:"msnpVer,attr"`
			} `xml:"From"`
			To struct {
				Member string `xml:"memberName,attr"`
			} `xml:"To"`
			Ticket struct {
				Passport string `xml:"passport,attr"`
				AppID    string `xml:"appid,attr"`
				LockKey  string `xml:"lockkey,attr"`
			} `xml:"Ticket"`
			Number string `xml:"Sequence>MessageNumber"`
		} `xml:"Header"`
		Body struct {
			Type    string `xml:"MessageType"`
			Content string `xml:"Content"`
		} `xml:"Body"`
	}
	if r.URL.Path != "/OimWS/oim.asmx" || r.Header.Get("SOAPAction") != `"`+ActionStore2+`"` || xml.Unmarshal(body, &req) != nil || req.Body.Type != "text" {
		http.Error(w, "bad request", 400)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	fault := func(code, detail string) {
		w.WriteHeader(500)
		io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode xmlns:q0="`+StoreNamespace+`">q0:`+code+`</faultcode><faultstring>x</faultstring><detail>`+detail+`</detail></soap:Fault></soap:Body></soap:Envelope>`)
	}
	if f.faultAll != "" {
		fault(f.faultAll, "")
		return
	}
	if req.Header.Ticket.LockKey != "answer-to-1850937852" {
		data, _ := os.ReadFile("testdata/store2_lockkey_fault.xml")
		w.WriteHeader(500)
		w.Write(data)
		return
	}
	// Escargot's checks: MIME headers, base64 lines ≤ 77, GUID run id, Sequence-Num = MessageNumber.
	hs, b, err := message.ParseHeaders([]byte(req.Body.Content))
	if err != nil || hs.Get("MIME-Version") != "1.0" || hs.Get("Content-Type") != "text/plain; charset=UTF-8" ||
		hs.Get("Content-Transfer-Encoding") != "base64" || hs.Get("X-OIM-Message-Type") != "OfflineMessage" ||
		!guidRe.MatchString(hs.Get("X-OIM-Run-Id")) || hs.Get("X-OIM-Sequence-Num") != req.Header.Number {
		fault("InvalidContent", "")
		return
	}
	var b64 strings.Builder
	for _, line := range strings.Split(string(b), "\r\n") {
		if len(line) > 76 {
			fault("InvalidContent", "")
			return
		}
		b64.WriteString(line)
	}
	text, err := base64.StdEncoding.DecodeString(b64.String())
	if err != nil {
		fault("InvalidContent", "")
		return
	}
	f.stored = append(f.stored, storedOIM{
		from: req.Header.From.Member, friendly: req.Header.From.Friendly, to: req.Header.To.Member,
		ticket: req.Header.Ticket.Passport, appid: req.Header.Ticket.AppID, lockkey: req.Header.Ticket.LockKey,
		msnpVer: req.Header.From.Ver, number: req.Header.Number, seq: hs.Get("X-OIM-Sequence-Num"),
		runID: hs.Get("X-OIM-Run-Id"), text: string(text),
	})
	io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><StoreResponse xmlns="`+StoreNamespace+`"/></soap:Body></soap:Envelope>`)
}

func TestStoreLockKeyAndSequence(t *testing.T) {
	f := &fakeStore{}
	srv := newLocalServer(t, f)
	var challenges []string
	c := &StoreClient{
		URL: srv.URL + "/OimWS/oim.asmx", Ticket: func() string { return trTicket },
		Passport: "alice@example.com", FriendlyName: "Alice (probe) ☕",
		Challenge: func(chl string) (string, string) {
			challenges = append(challenges, chl)
			return "PROD0119GSJUC$18", "answer-to-" + chl
		},
	}
	ctx := context.Background()
	if err := c.Send(ctx, "bob@example.com", "Offline hello to Bob\nsecond line"); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, "bob@example.com", "again"); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, "carol@example.com", "hi carol"); err != nil {
		t.Fatal(err)
	}
	if len(challenges) != 1 || challenges[0] != "1850937852" {
		t.Errorf("challenges %v (the lock key must be computed once and reused)", challenges)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.requests != 4 || len(f.stored) != 3 {
		t.Fatalf("%d requests, %d stored", f.requests, len(f.stored))
	}
	s := f.stored[0]
	if s.from != "alice@example.com" || s.to != "bob@example.com" || s.ticket != trTicket || s.appid != "PROD0119GSJUC$18" ||
		s.msnpVer != "MSNP15" || s.text != "Offline hello to Bob\r\nsecond line" || s.number != "1" {
		t.Errorf("%+v", s)
	}
	if s.friendly != "=?utf-8?B?"+base64.StdEncoding.EncodeToString([]byte("Alice (probe) ☕"))+"?=" {
		t.Errorf("friendly %q", s.friendly)
	}
	if f.stored[1].number != "2" || f.stored[2].number != "1" || f.stored[1].runID != s.runID || f.stored[2].runID != s.runID {
		t.Errorf("sequence/run id: %+v", f.stored)
	}
}

func TestStoreSplitsLongText(t *testing.T) {
	f := &fakeStore{}
	srv := newLocalServer(t, f)
	c := &StoreClient{URL: srv.URL + "/OimWS/oim.asmx", Passport: "a@b.c", MaxTextBytes: 100, LockKey: "answer-to-1850937852"}
	text := strings.Repeat("word ", 50) + strings.Repeat("ü", 80)
	if err := c.Send(context.Background(), "bob@example.com", text); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var joined strings.Builder
	for i, s := range f.stored {
		if len(s.text) > 100 || s.number != string(rune('1'+i)) {
			t.Errorf("part %d: %d bytes, number %s", i, len(s.text), s.number)
		}
		joined.WriteString(s.text)
	}
	if len(f.stored) < 4 || joined.String() != text || f.requests != len(f.stored) {
		t.Errorf("%d parts, %d requests, joined equal %v", len(f.stored), f.requests, joined.String() == text)
	}
}

func TestStoreFaults(t *testing.T) {
	for code, want := range map[string]error{
		"SystemUnavailable":           ErrRecipientUnavailable,
		"SenderThrottleLimitExceeded": ErrThrottled,
		"AuthenticationFailed":        ErrAuthFailed,
	} {
		f := &fakeStore{faultAll: code}
		srv := newLocalServer(t, f)
		c := &StoreClient{URL: srv.URL + "/OimWS/oim.asmx", Passport: "a@b.c", Challenge: func(string) (string, string) { return "p", "k" }}
		err := c.Send(context.Background(), "bob@example.com", "hi")
		var fault *Fault
		if !errors.Is(err, want) || !errors.As(err, &fault) || fault.HTTPStatus != 500 || f.requests != 1 {
			t.Errorf("%s: %v (requests %d)", code, err, f.requests)
		}
	}
	// A second challenge after the retry is not retried again.
	f := &fakeStore{}
	srv := newLocalServer(t, f)
	c := &StoreClient{URL: srv.URL + "/OimWS/oim.asmx", Passport: "a@b.c", Challenge: func(string) (string, string) { return "p", "wrong" }}
	if err := c.Send(context.Background(), "bob@example.com", "hi"); !errors.Is(err, ErrAuthFailed) || f.requests != 2 {
		t.Errorf("retry once: %v, %d requests", err, f.requests)
	}
	if err := c.Send(context.Background(), "bad\r\nrecipient", "hi"); err == nil {
		t.Error("bad recipient accepted")
	}
	if err := c.Send(context.Background(), "bob@example.com", ""); err == nil {
		t.Error("empty text accepted")
	}
}

func TestContentAndFriendlyName(t *testing.T) {
	c := Content(strings.Repeat("x", 200), "{RUN}", 3)
	hs, body, err := message.ParseHeaders([]byte(c))
	if err != nil || hs.Get("X-OIM-Sequence-Num") != "3" || hs.Get("X-OIM-Run-Id") != "{RUN}" {
		t.Fatal(err, hs)
	}
	lines := strings.Split(string(body), "\r\n")
	if len(lines) != 4 || len(lines[0]) != 76 {
		t.Errorf("wrapping: %q", lines)
	}
	long := strings.Repeat("é", 60)
	enc := EncodeFriendlyName(long)
	if got := decodeWords(enc); got != strings.Repeat("é", 48) {
		t.Errorf("truncation: %q", got)
	}
	if !parseArrivalTime("garbage FILETIME=[zz:1]").IsZero() {
		t.Error("garbage arrival time parsed")
	}
}

func TestPassportCookieSplit(t *testing.T) {
	for in, want := range map[string][2]string{
		"t=abc&p=def": {"abc", "def"},
		"t=abc&p=":    {"abc", ""},
		"t=abc":       {"abc", ""},
		"rawticket":   {"rawticket", ""},
	} {
		if tt, p := passportCookie(in); tt != want[0] || p != want[1] {
			t.Errorf("%q → %q %q", in, tt, p)
		}
	}
}
