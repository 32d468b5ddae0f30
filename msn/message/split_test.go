package message

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// mixedText returns n runes of mixed scripts, emoji sequences, spaces and line breaks.
func mixedText(n int) string {
	parts := []string{
		"Hello", " ", "wörld", " ", "Привет", " ", "мир", "\r\n", "こんにちは", "世界", " ",
		"مرحبا", " ", "😀", "👍🏽", " ", "👨‍👩‍👧‍👦", " ", "🇳🇱", "🇯🇵", " ", "e\u0301", "\n", "ok", " ",
		"Ελληνικά", " ", "עברית", " ", "हिन्दी", "\t", "x",
	}
	var b strings.Builder
	count := 0
	for i := 0; count < n; i++ {
		p := parts[i%len(parts)]
		b.WriteString(p)
		count += utf8.RuneCountInString(p)
	}
	return b.String()
}

func TestSplitTextMixedScripts(t *testing.T) {
	text := mixedText(5000)
	if utf8.RuneCountInString(text) < 5000 {
		t.Fatal("fixture too short")
	}
	f := DefaultFormat
	pieces := SplitTextPayload(text, f, MaxSBPayload)
	if len(pieces) < 2 {
		t.Fatalf("expected several pieces, got %d", len(pieces))
	}
	if got := strings.Join(pieces, ""); got != text {
		t.Fatal("concatenation differs from the input")
	}
	for i, p := range pieces {
		if n := len(TextPayload(p, f)); n > MaxSBPayload {
			t.Errorf("piece %d: payload %d bytes > %d", i, n, MaxSBPayload)
		}
		if !utf8.ValidString(p) {
			t.Errorf("piece %d is not valid UTF-8 (split inside a rune)", i)
		}
		if strings.HasPrefix(p, "\n") && i > 0 && strings.HasSuffix(pieces[i-1], "\r") {
			t.Errorf("piece %d: CRLF pair split", i)
		}
		if cut := len(strings.Join(pieces[:i+1], "")); i < len(pieces)-1 && !goodBoundary(text, cut) {
			t.Errorf("piece %d ends inside an emoji sequence or before a combining mark", i)
		}
		// Pieces are not tiny: whitespace preference keeps them at least half full.
		if i < len(pieces)-1 && wireLen(p) < TextBodyLimit(f, MaxSBPayload)/2 {
			t.Errorf("piece %d only %d bytes", i, wireLen(p))
		}
	}
}

func TestSplitTextPrefersWhitespace(t *testing.T) {
	got := SplitText("aaaa bbbb cccc", 7)
	want := []string{"aaaa ", "bbbb ", "cccc"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
	// No whitespace: hard cut on a rune boundary.
	got = SplitText("ééééé", 4) // 2 bytes each
	if strings.Join(got, "|") != "éé|éé|é" {
		t.Errorf("got %q", got)
	}
}

func TestSplitTextCRLF(t *testing.T) {
	// "ab\r\ncd": the CRLF pair is one 2-byte unit and is never cut.
	for limit := 1; limit <= 6; limit++ {
		pieces := SplitText("ab\r\ncd", limit)
		if strings.Join(pieces, "") != "ab\r\ncd" {
			t.Fatalf("limit %d: %q", limit, pieces)
		}
		for _, p := range pieces {
			if strings.HasSuffix(p, "\r") {
				t.Errorf("limit %d: CRLF split: %q", limit, pieces)
			}
			if limit >= 2 && wireLen(p) > limit {
				t.Errorf("limit %d: piece %q too long", limit, p)
			}
		}
	}
	// A lone LF is sent as CRLF, so it costs two bytes.
	if got := SplitText("a\nb", 2); strings.Join(got, "|") != "a|\n|b" {
		t.Errorf("got %q", got)
	}
}

func TestSplitTextEdges(t *testing.T) {
	if got := SplitText("", 10); got != nil {
		t.Errorf("empty: %q", got)
	}
	if got := SplitText("short", 100); len(got) != 1 || got[0] != "short" {
		t.Errorf("short: %q", got)
	}
	// A limit below one character still makes progress.
	if got := SplitText("😀😀", 2); strings.Join(got, "|") != "😀|😀" {
		t.Errorf("tiny limit: %q", got)
	}
	// Invalid UTF-8 bytes are kept.
	in := "a\xffb\xfe"
	if got := SplitText(in, 1); strings.Join(got, "") != in || len(got) != 4 {
		t.Errorf("invalid utf8: %q", got)
	}
	// Flags stay whole: 🇳🇱🇯🇵 with room for one flag only.
	if got := SplitText("🇳🇱🇯🇵", 9); strings.Join(got, "|") != "🇳🇱|🇯🇵" {
		t.Errorf("flags: %q", got)
	}
}

// TestSplitWithOversizedFormatFitsTheLimit: a format whose fields are far too long is clipped
// on output, so every piece still makes a payload within the switchboard limit.
func TestSplitWithOversizedFormatFitsTheLimit(t *testing.T) {
	f := Format{Font: strings.Repeat("Ünïcødé Font ", 400), CharSet: strings.Repeat("8", 3000), PitchFamily: strings.Repeat("2", 3000)}
	if n := TextBodyLimit(f, MaxSBPayload); n < MaxSBPayload/2 {
		t.Fatalf("body limit %d with an oversized format", n)
	}
	text := strings.Repeat("word ", 1000)
	pieces := SplitTextPayload(text, f, MaxSBPayload)
	if strings.Join(pieces, "") != text {
		t.Fatal("pieces do not join up to the text")
	}
	for i, p := range pieces {
		if n := len(TextPayload(p, f)); n > MaxSBPayload {
			t.Fatalf("piece %d: payload of %d bytes", i, n)
		}
	}
	got := ParseFormat(f.String())
	if !strings.HasPrefix(f.Font, got.Font) || got.Font == "" || len(got.CharSet) > 16 {
		t.Fatalf("round trip %+v", got)
	}
}

// TestOfflineTextPayloads: a long mixed-script text becomes UUM payloads within the limit,
// cut between characters, that join back to the text with CRLF line breaks; the bounds are
// errors.
func TestOfflineTextPayloads(t *testing.T) {
	text := mixedText(5000)
	ps, err := OfflineTextPayloads(text, MaxSBPayload)
	if err != nil || len(ps) < 4 {
		t.Fatalf("%d payloads, %v", len(ps), err)
	}
	var joined strings.Builder
	for i, p := range ps {
		if len(p) > MaxSBPayload {
			t.Errorf("payload %d: %d bytes", i, len(p))
		}
		m, err := Parse(p)
		if err != nil || m.Kind != KindText || m.Header("Dest-Agent") != "client" {
			t.Fatalf("payload %d: %v %+v", i, err, m)
		}
		body := string(m.Body)
		if !utf8.ValidString(body) {
			t.Fatalf("payload %d cuts a character", i)
		}
		if r, _ := utf8.DecodeRuneInString(body); i > 0 && (r == '\u200d' || isExtender(r)) {
			t.Errorf("payload %d starts inside a character sequence (%U)", i, r)
		}
		joined.WriteString(body)
	}
	if joined.String() != crlf(text) {
		t.Fatal("payload bodies do not join to the text")
	}
	if ps, err := OfflineTextPayloads("", MaxSBPayload); err != nil || len(ps) != 0 {
		t.Errorf("empty text: %d payloads, %v", len(ps), err)
	}
	if _, err := OfflineTextPayloads("hi", 80); !errors.Is(err, ErrTooLarge) {
		t.Errorf("limit below the header: %v", err)
	}
	if _, err := OfflineTextPayloads(strings.Repeat("x", 100*MaxSBPayload), MaxSBPayload); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too many parts: %v", err)
	}
}
