package message

import (
	"errors"
	"strings"
	"testing"
)

// Payloads copied from the Escargot transcripts (transcript_msnp7/12/18.txt, quirks).
const (
	trTyping = "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: alice@example.com\r\n\r\n\r\n"
	trText   = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Segoe%20UI; EF=; CO=0; CS=1; PF=0\r\n\r\nHello Bob, this is Alice via Escargot!"
	trMail   = "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinitialmdatanotification; charset=UTF-8\r\n\r\nMail-Data: <MD><E><I>0</I><IU>0</IU><O>0</O><OU>0</OU></E><Q><QTM>409600</QTM><QNM>204800</QNM></Q></MD>\r\n"
	trVector = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=I; CO=0; CS=0; PF=22\r\n\r\nHello! How are you?"
)

func TestTranscriptLengths(t *testing.T) {
	// The MSG length fields in the transcripts are the payload sizes: 90 and 155; VECTORS: 133.
	for _, c := range []struct {
		p    string
		want int
	}{{trTyping, 90}, {trText, 155}, {trVector, 133}, {trMail, 195}} {
		if len(c.p) != c.want {
			t.Errorf("fixture length %d, transcript says %d: %q", len(c.p), c.want, c.p)
		}
	}
}

func TestParseText(t *testing.T) {
	m, err := Parse([]byte(trText))
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindText || m.Text == nil {
		t.Fatalf("kind %v", m.Kind)
	}
	if m.Text.Body != "Hello Bob, this is Alice via Escargot!" {
		t.Errorf("body %q", m.Text.Body)
	}
	if m.ContentType != "text/plain" || m.Params["charset"] != "UTF-8" {
		t.Errorf("content type %q %v", m.ContentType, m.Params)
	}
	want := Format{Font: "Segoe UI", CharSet: "1", PitchFamily: "0", HasColor: true}
	if m.Text.Format != want {
		t.Errorf("format %+v, want %+v", m.Text.Format, want)
	}
	if got := m.Header("content-TYPE"); got != "text/plain; charset=UTF-8" {
		t.Errorf("case-insensitive lookup: %q", got)
	}
}

func TestParseTextLFAndCRLFBody(t *testing.T) {
	p := "MIME-Version: 1.0\nContent-Type: TEXT/PLAIN;charset=utf-8\nX-MMS-IM-Format: FN=Arial;EF=BU;CO=ff\n\nline1\r\nline2\rline3"
	m, err := Parse([]byte(p))
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindText {
		t.Fatalf("kind %v", m.Kind)
	}
	if m.Text.Body != "line1\nline2\nline3" {
		t.Errorf("body %q", m.Text.Body)
	}
	f := m.Text.Format
	if f.Font != "Arial" || !f.Bold || !f.Underline || f.Italic || f.Color != 0xff0000 || !f.HasColor {
		t.Errorf("format %+v", f)
	}
}

func TestParseTextCharsets(t *testing.T) {
	for _, c := range []struct{ ct, body, want string }{
		{"text/plain; charset=UTF-8", "J\xc3\xb6rg", "Jörg"},
		{"text/plain; charset=UTF-8", "J\xf6rg", "J\uFFFDrg"},
		{"text/plain", "J\xf6rg", "Jörg"},
		{"text/plain; charset=windows-1252", "J\xf6rg", "Jörg"},
	} {
		m, err := Parse([]byte("MIME-Version: 1.0\r\nContent-Type: " + c.ct + "\r\n\r\n" + c.body))
		if err != nil || m.Kind != KindText || m.Text.Body != c.want {
			t.Errorf("%s %q: %+v %v", c.ct, c.body, m, err)
		}
	}
}

func TestParseTyping(t *testing.T) {
	m, err := Parse([]byte(trTyping))
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindTyping || m.TypingUser != "alice@example.com" || m.Recording {
		t.Errorf("got %v %q %v", m.Kind, m.TypingUser, m.Recording)
	}
	m, err = Parse([]byte("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nRecordingUser: bob@x.com\r\n\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindTyping || m.TypingUser != "bob@x.com" || !m.Recording {
		t.Errorf("recording: %v %q %v", m.Kind, m.TypingUser, m.Recording)
	}
	// A control message with neither header is not a typing notification.
	m, _ = Parse([]byte("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\n\r\n"))
	if m.Kind != KindUnknown {
		t.Errorf("empty control: %v", m.Kind)
	}
}

func TestParseDatacast(t *testing.T) {
	obj := `<msnobj Creator="a@b.c" Size="123" Type="8" Location="0" Friendly="AAA=" SHA1D="x="/>`
	cases := []struct {
		body string
		kind Kind
		id   int
		data string
	}{
		{"ID: 1\r\n\r\n", KindNudge, 1, ""},
		{"ID: 2\r\nData: " + obj + "\r\n\r\n", KindWink, 2, obj},
		{"ID: 3\r\nData: " + obj + "\r\n", KindVoiceClip, 3, obj},
		{"ID: 4\r\nData: waves\r\n\r\n", KindAction, 4, "waves"},
	}
	for _, c := range cases {
		m, err := Parse([]byte("MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\n" + c.body))
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind != c.kind || m.Datacast == nil || m.Datacast.ID != c.id || m.Datacast.Data != c.data {
			t.Errorf("%q: kind %v datacast %+v", c.body, m.Kind, m.Datacast)
		}
	}
	m, _ := Parse([]byte("MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\nID: 99\r\n\r\n"))
	if m.Kind != KindUnknown || m.ContentType != TypeDatacast {
		t.Errorf("unknown datacast: %v %q", m.Kind, m.ContentType)
	}
}

func TestParseEmoticons(t *testing.T) {
	o1 := `<msnobj Creator="a@b.c" Type="2" SHA1D="one="/>`
	o2 := `<msnobj Creator="a@b.c" Type="2" SHA1D="two="/>`
	body := ":cat:\t" + o1 + "\t(yy)\t" + o2 + "\t"
	m, err := Parse([]byte("MIME-Version: 1.0\r\nContent-Type: text/x-mms-animemoticon\r\n\r\n" + body))
	if err != nil {
		t.Fatal(err)
	}
	want := []Emoticon{{":cat:", o1}, {"(yy)", o2}}
	if m.Kind != KindEmoticon || !m.Animated || len(m.Emoticons) != 2 || m.Emoticons[0] != want[0] || m.Emoticons[1] != want[1] {
		t.Errorf("got %v %v %+v", m.Kind, m.Animated, m.Emoticons)
	}
	m, _ = Parse([]byte("MIME-Version: 1.0\r\nContent-Type: text/x-mms-emoticon\r\n\r\n:x:\t" + o1))
	if m.Kind != KindEmoticon || m.Animated || len(m.Emoticons) != 1 || m.Emoticons[0].Shortcut != ":x:" {
		t.Errorf("static: %v %+v", m.Kind, m.Emoticons)
	}
}

func TestParseOtherKinds(t *testing.T) {
	cases := []struct {
		payload string
		kind    Kind
		check   func(*Message) bool
	}{
		{string(ClientCapsPayload("Purple/2.10.9", true)), KindClientCaps, func(m *Message) bool {
			return m.Fields.Get("Client-Name") == "Purple/2.10.9" && m.Fields.Get("Chat-Logging") == "Y"
		}},
		{string(KeepAlivePayload()), KindKeepAlive, nil},
		{"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n\r\nApplication-Name: File Transfer\r\nApplication-GUID: {5D3E02AB-6190-11d3-BBBB-00C04F795683}\r\nInvitation-Command: INVITE\r\nInvitation-Cookie: 12345\r\nApplication-File: a.txt\r\n\r\n", KindInvite, func(m *Message) bool {
			return m.Invite.Command == "INVITE" && m.Invite.Cookie == "12345" && m.Invite.ApplicationName == "File Transfer" &&
				m.Invite.ApplicationGUID == "{5D3E02AB-6190-11d3-BBBB-00C04F795683}" && m.Fields.Get("Application-File") == "a.txt"
		}},
		{"MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: bob@hotmail.com\r\n\r\n\x00\x01\x02\r\n\x00\x00\x00\x01", KindP2P, func(m *Message) bool {
			return m.P2P.Dest == "bob@hotmail.com" && string(m.P2P.Data) == "\x00\x01\x02\r\n\x00\x00\x00\x01"
		}},
		{"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\nLoginTime: 1795325185\r\nMSPAuth: secret\r\nsid: 507\r\n\r\n", KindProfile, func(m *Message) bool {
			return m.Header("sid") == "507" && m.Header("LOGINTIME") == "1795325185"
		}},
		{trMail, KindMailData, func(m *Message) bool {
			return m.MailData.Initial && !m.MailData.TooLarge && strings.HasPrefix(m.MailData.Data, "<MD><E><I>0</I>") && strings.HasSuffix(m.MailData.Data, "</MD>")
		}},
		{"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsoimnotification; charset=UTF-8\r\n\r\nMail-Data: too-large\r\n\r\n", KindMailData, func(m *Message) bool {
			return !m.MailData.Initial && m.MailData.TooLarge
		}},
		{"MIME-Version: 1.0\r\nContent-Type: application/x-msmsgssystemmessage\r\n\r\nType: 1\r\nArg1: 5\r\n", KindSystem, func(m *Message) bool {
			return m.System.Type == "1" && m.System.Arg == "5"
		}},
		{"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsactivemailnotification; charset=UTF-8\r\n\r\nSrc-Folder: .!!OIM\r\nDest-Folder: .!!trAsH\r\nMessage-Delta: 1\r\n", KindEmail, func(m *Message) bool {
			return m.Fields.Get("Src-Folder") == ".!!OIM"
		}},
		{"MIME-Version: 1.0\r\nContent-Type: image/gif\r\n\r\nR0lGOD", KindInk, func(m *Message) bool {
			return m.ContentType == "image/gif" && string(m.Body) == "R0lGOD" && m.Ink != nil && m.Ink.GIF == nil && errors.Is(m.Ink.Err, ErrMalformed)
		}},
		{"MIME-Version: 1.0\r\nContent-Type: image/png\r\n\r\niVBOR", KindUnknown, func(m *Message) bool {
			return m.ContentType == "image/png" && string(m.Body) == "iVBOR"
		}},
		{"MIME-Version: 1.0\r\n\r\nno type", KindUnknown, func(m *Message) bool { return m.ContentType == "" && string(m.Body) == "no type" }},
	}
	for _, c := range cases {
		m, err := Parse([]byte(c.payload))
		if err != nil {
			t.Errorf("%q: %v", c.payload, err)
			continue
		}
		if m.Kind != c.kind {
			t.Errorf("%q: kind %v, want %v", c.payload, m.Kind, c.kind)
			continue
		}
		if c.check != nil && !c.check(m) {
			t.Errorf("%q: wrong fields: %+v", c.payload, m)
		}
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := Parse([]byte("hello world\r\n\r\n")); !errors.Is(err, ErrMalformed) {
		t.Errorf("no colon: %v", err)
	}
	if _, err := Parse([]byte(" folded\r\nA: b\r\n\r\n")); !errors.Is(err, ErrMalformed) {
		t.Errorf("leading continuation: %v", err)
	}
	many := strings.Repeat("X-A: b\r\n", MaxHeaders+1) + "\r\n"
	if _, err := Parse([]byte(many)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too many headers: %v", err)
	}
	long := "X-A: " + strings.Repeat("b", MaxHeaderBytes) + "\r\n\r\n"
	if _, err := Parse([]byte(long)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("header block too big: %v", err)
	}
	// Exactly MaxHeaders lines is fine.
	ok := strings.Repeat("X-A: b\r\n", MaxHeaders) + "\r\nbody"
	if m, err := Parse([]byte(ok)); err != nil || string(m.Body) != "body" {
		t.Errorf("at the limit: %v", err)
	}
}

func TestParseHeadersFolding(t *testing.T) {
	hs, body, err := ParseHeaders([]byte("Received: from a\r\n\t by b;\r\n  Sat, 21 Nov 2026\r\nFrom: x\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if hs.Get("received") != "from a by b; Sat, 21 Nov 2026" || hs.Get("From") != "x" || string(body) != "body\r\n" {
		t.Errorf("got %+v %q", hs, body)
	}
}

func TestParseContentType(t *testing.T) {
	mt, p := ParseContentType(` Text/Plain ; charset="UTF-8"; ;x ; Foo=bar`)
	if mt != "text/plain" || p["charset"] != "UTF-8" || p["foo"] != "bar" || len(p) != 2 {
		t.Errorf("%q %v", mt, p)
	}
}

func TestBuildersMatchTranscripts(t *testing.T) {
	if got := string(TypingPayload("alice@example.com")); got != trTyping {
		t.Errorf("typing:\n%q\n%q", got, trTyping)
	}
	if got := string(TextPayload("Hello Bob, this is Alice via Escargot!", Format{})); got != trText {
		t.Errorf("text:\n%q\n%q", got, trText)
	}
	f := Format{Font: "Arial", Italic: true, CharSet: "0", PitchFamily: "22"}
	if got := string(TextPayload("Hello! How are you?", f)); got != trVector {
		t.Errorf("vector:\n%q\n%q", got, trVector)
	}
	if got := string(NudgePayload()); got != "MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\nID: 1\r\n\r\n" {
		t.Errorf("nudge %q", got)
	}
	if got := string(TextPayload("a\nb\r\nc", Format{})); !strings.HasSuffix(got, "\r\n\r\na\r\nb\r\nc") {
		t.Errorf("CRLF body: %q", got)
	}
	if got := string(TypingPayload("evil\r\nX: y")); strings.Count(got, "\r\n") != 5 {
		t.Errorf("header injection: %q", got)
	}
	for _, p := range [][]byte{TypingPayload("a@b.c"), NudgePayload(), ClientCapsPayload("x", false), KeepAlivePayload(), TextPayload("x", Format{})} {
		if !strings.HasPrefix(string(p), "MIME-Version: 1.0\r\nContent-Type: ") {
			t.Errorf("header order: %q", p)
		}
	}
	m, err := Parse(NudgePayload())
	if err != nil || m.Kind != KindNudge {
		t.Errorf("nudge round trip: %v %v", m, err)
	}
}

func TestKindString(t *testing.T) {
	if KindVoiceClip.String() != "voice-clip" || Kind(99).String() != "kind(99)" {
		t.Error(KindVoiceClip.String(), Kind(99).String())
	}
}
