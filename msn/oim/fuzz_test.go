package oim

import (
	"errors"
	"testing"
	"unicode/utf8"
)

func FuzzParseMailData(f *testing.F) {
	f.Add([]byte(trMailPayload))
	f.Add([]byte("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsoimnotification; charset=UTF-8\r\n\r\nMail-Data: too-large\r\n"))
	f.Add([]byte(`<MD><M><T>11</T><RT>bad</RT><E>a@b.c</E><I>id</I><N>=?utf-8?Q?=E2=98=95?=</N><SU>=?x?B?!?=</SU></M></MD>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		md, tooLarge, err := ParseMailDataPayload(data)
		if err == nil && !tooLarge && md == nil {
			t.Fatal("nil mail data without error")
		}
		md2, err2 := ParseMailData(data)
		if err2 == nil {
			if len(md2.Messages) > MaxMailMessages {
				t.Fatalf("%d messages", len(md2.Messages))
			}
			for _, m := range md2.Messages {
				if m.ID == "" || !utf8.ValidString(m.FromName) || !utf8.ValidString(m.Subject) {
					t.Fatalf("bad entry %+v", m)
				}
			}
		} else if !errors.Is(err2, ErrMalformed) && !errors.Is(err2, ErrTooLarge) {
			t.Fatalf("unclassified error %v", err2)
		}
		_ = md
	})
}

func FuzzDecodeOIM(f *testing.F) {
	f.Add([]byte("From: =?utf-8?B?QWxpY2UgKHByb2JlKQ==?= <alice@example.com>\r\nDate: Sat, 21 Nov 2026 21:24:46 -0800\r\nX-OIM-Sequence-Num: 1\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\nT2ZmbGluZSBoZWxsbyB0byBCb2I="))
	f.Add([]byte("From: x@y\nX-OriginalArrivalTime: 22 Nov 2026 05:24:46.0000 (UTC) FILETIME=[C9516300:01DD7A41]\nContent-Transfer-Encoding: quoted-printable\n\nJ=C3=B6rg="))
	f.Add([]byte("From: <l@x.org>\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nJ\xf6rg"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeMessage("id", data)
		if err != nil {
			if m != nil {
				t.Fatal("message and error")
			}
			return
		}
		if !utf8.ValidString(m.Text) || !utf8.ValidString(m.FromName) || !utf8.ValidString(m.From) {
			t.Fatalf("invalid UTF-8 in %+v", m)
		}
		if len(m.Text) > 4*len(data)+16 {
			t.Fatalf("text of %d bytes from %d input bytes", len(m.Text), len(data))
		}
	})
}

func FuzzParseRSIResponse(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetMessageResponse xmlns="http://www.hotmail.msn.com/ws/2004/09/oim/rsi"><GetMessageResult>From: a@b.c&#13;
&#13;
aGk=</GetMessageResult></GetMessageResponse></soap:Body></soap:Envelope>`))
	f.Add([]byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetMetadataResponse><MD><M><I>x</I></M></MD></GetMetadataResponse></soap:Body></soap:Envelope>`))
	f.Add([]byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>q0:AuthenticationFailed</faultcode><detail><LockKeyChallenge>1850937852</LockKeyChallenge></detail></soap:Fault></soap:Body></soap:Envelope>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := parseEnvelope(data, 200)
		if err != nil {
			var fault *Fault
			if !errors.As(err, &fault) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unclassified error %v", err)
			}
			if fault != nil {
				_ = fault.Error()
				_ = fault.Unwrap()
			}
			return
		}
		if raw, err := parseGetMessageBody(env.Body.Inner); err == nil {
			if len(raw) > MaxMessageBytes {
				t.Fatal("oversized message accepted")
			}
			_, _ = DecodeMessage("id", raw)
		}
		if md, err := parseMetadataBody(env.Body.Inner); err == nil && len(md.Messages) > MaxMailMessages {
			t.Fatal("too many messages")
		}
	})
}
