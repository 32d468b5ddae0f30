package message

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{trTyping, trText, trMail, trVector, string(NudgePayload()), string(KeepAlivePayload()),
		string(ClientCapsPayload("Purple/2.10.9", true)),
		"MIME-Version: 1.0\r\nContent-Type: text/x-mms-emoticon\r\n\r\n:a:\t<msnobj/>\t",
		"MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: a@b.c\r\n\r\n\x00\x00\x01",
		"MIME-Version: 1.0\r\nContent-Type: application/x-msmsgssystemmessage\r\n\r\nType: 1\r\nArg1: 5\r\n",
		"MIME-Version: 1.0\r\nContent-Type: image/gif\r\n\r\nbase64:R0lGODlhAwACAIAAAP///wAAACwAAAAAAwACAAACA4QRUAA7",
		"MIME-Version: 1.0\r\nContent-Type: image/gif\r\n\r\nbase64:R0lG*Dlh",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			if m != nil {
				t.Fatal("message and error")
			}
			return
		}
		if len(m.Headers) > MaxHeaders {
			t.Fatalf("%d headers", len(m.Headers))
		}
		if len(m.Body) > len(data) {
			t.Fatal("body longer than the payload")
		}
		if m.Kind == KindText {
			if m.Text == nil || !utf8.ValidString(m.Text.Body) || strings.Contains(m.Text.Body, "\r") {
				t.Fatalf("bad text %+v", m.Text)
			}
		}
		if ink := m.Ink; ink != nil {
			if m.Kind != KindInk || (ink.Err == nil) == (ink.GIF == nil) || len(ink.GIF) > MaxInkBytes || ink.Width < 0 || ink.Height < 0 {
				t.Fatalf("kind %v ink %d bytes %dx%d err %v", m.Kind, len(ink.GIF), ink.Width, ink.Height, ink.Err)
			}
		}
		if len(m.Emoticons) > MaxEmoticons {
			t.Fatal("too many emoticons")
		}
		_ = m.Kind.String()
	})
}

func FuzzParseFormat(f *testing.F) {
	for _, s := range []string{"FN=Segoe%20UI; EF=; CO=0; CS=1; PF=0", "FN=Arial; EF=I; CO=0; CS=0; PF=22",
		"FN=MS%20Sans%20Serif;EF=BIUS;CO=ff;CS=80;PF=0;RL=1", "co=#ffffff;;=;ef=b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fm := ParseFormat(s)
		if fm.Color > 0xffffff {
			t.Fatalf("colour %x", fm.Color)
		}
		// Whatever was parsed renders to a header value that parses back to the same format,
		// once empty CS/PF are given their rendered default.
		out := fm.String()
		if strings.ContainsAny(out, "\r\n") {
			t.Fatalf("line break in %q", out)
		}
		want := fm
		want.HasColor = true // CO is always written
		want.CharSet, want.PitchFamily = orZero(fieldSafe(fm.CharSet)), orZero(fieldSafe(fm.PitchFamily))
		if got := ParseFormat(out); got != want {
			t.Fatalf("%q → %+v → %q → %+v", s, fm, out, got)
		}
	})
}

// FuzzReassembler feeds a sequence of chunk payloads separated by "\x00|" lines; the first byte
// of each item picks the sender. The invariants are the bounds.
func FuzzReassembler(f *testing.F) {
	parts, _ := ChunkedTextPayloads(strings.Repeat("chunky text ", 40), Format{}, "{0}", 200)
	f.Add(bytes.Join(parts, []byte("\x00|")))
	f.Add([]byte(string(chunk("{1}", "Chunk: 2", "C")) + "\x00|" + string(chunk("{1}", "Chunks: 3", "A")) + "\x00|" + string(chunk("{1}", "Chunk: 1", "B"))))
	f.Add([]byte(string(chunk("{1}", "Chunks: 2", "A")) + "\x00|" + string(chunk("{1}", "Chunks: 2", "A"))))
	f.Fuzz(func(t *testing.T, data []byte) {
		clock := &fakeClock{t: time.Unix(0, 0)}
		const maxBytes = 4096
		onIncomplete := func(_ string, m *Message) {
			if !m.Incomplete || m.Missing < 1 || len(m.Body) > maxBytes || m.Headers.Get(HeaderMessageID) != "" {
				t.Fatalf("incomplete message: flag %v missing %d, %d bytes", m.Incomplete, m.Missing, len(m.Body))
			}
		}
		r := NewReassembler(ReassemblerConfig{MaxChunks: 8, MaxBytes: maxBytes, MaxPending: 4, Expiry: time.Minute, Now: clock.now, OnIncomplete: onIncomplete})
		for i, item := range bytes.Split(data, []byte("\x00|")) {
			if i > 64 {
				break
			}
			clock.t = clock.t.Add(7 * time.Second)
			sender := "a"
			if len(item) > 0 && item[0]&1 == 1 {
				sender = "b"
			}
			m, err := Parse(item)
			if err != nil {
				continue
			}
			out, err := r.Add(sender, m)
			if err != nil && out != nil {
				t.Fatal("message and error")
			}
			if out != nil && out != m {
				if len(out.Body) > maxBytes {
					t.Fatalf("joined %d bytes", len(out.Body))
				}
				if out.Headers.Get(HeaderMessageID) != "" {
					t.Fatal("chunk header left")
				}
			}
			if r.Pending() > 4 {
				t.Fatalf("pending %d", r.Pending())
			}
		}
	})
}
