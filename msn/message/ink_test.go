package message

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"strings"
	"testing"
	"time"
)

// testGIF draws a w×h two-colour GIF with a diagonal stroke, like a small ink drawing.
func testGIF(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.White, color.Black})
	for i := 0; i < w && i < h; i++ {
		img.SetColorIndex(i, i, 1)
	}
	var b bytes.Buffer
	if err := gif.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func inkPayload(body string, extra ...string) []byte {
	h := "MIME-Version: 1.0\r\nContent-Type: image/gif\r\n"
	for _, x := range extra {
		h += x + "\r\n"
	}
	return []byte(h + "\r\n" + body)
}

// TestParseInk: an image/gif body decodes to the GIF with its size, whether it has the
// "base64:" prefix real clients send, line breaks, or lacks padding.
func TestParseInk(t *testing.T) {
	pic := testGIF(t, 37, 21)
	enc := base64.StdEncoding.EncodeToString(pic)
	wrapped := ""
	for s := enc; s != ""; {
		n := min(len(s), 76)
		wrapped += s[:n] + "\r\n"
		s = s[n:]
	}
	for name, body := range map[string]string{
		"prefixed":   "base64:" + enc,
		"bare":       enc,
		"wrapped":    "base64:" + wrapped,
		"unpadded":   "base64:" + strings.TrimRight(enc, "="),
		"nul-ending": "base64:" + enc + "\x00",
	} {
		t.Run(name, func(t *testing.T) {
			m := mustParse(t, inkPayload(body))
			if m.Kind != KindInk || m.Kind.String() != "ink" || m.Ink == nil {
				t.Fatalf("kind %v ink %+v", m.Kind, m.Ink)
			}
			if m.Ink.Err != nil || !bytes.Equal(m.Ink.GIF, pic) || m.Ink.Width != 37 || m.Ink.Height != 21 {
				t.Fatalf("ink %d bytes %dx%d err %v", len(m.Ink.GIF), m.Ink.Width, m.Ink.Height, m.Ink.Err)
			}
		})
	}
}

// TestParseInkErrors: a body that is not base64, not a GIF, empty or over MaxInkBytes is
// still KindInk, with no image and an error saying why.
func TestParseInkErrors(t *testing.T) {
	notGIF := base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\n0000000000000000"))
	big := base64.StdEncoding.EncodeToString(append(append([]byte(nil), testGIF(t, 4, 4)...), make([]byte, MaxInkBytes)...))
	for _, tc := range []struct {
		name, body string
		want       error
		says       string
	}{
		{"bad base64", "base64:R0lG*DlhAQAB", ErrMalformed, "not base64"},
		{"not a gif", "base64:" + notGIF, ErrMalformed, "not a GIF"},
		{"empty", "base64:", ErrMalformed, "empty"},
		{"too large", "base64:" + big, ErrTooLarge, "max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, inkPayload(tc.body))
			if m.Kind != KindInk || m.Ink == nil || m.Ink.GIF != nil {
				t.Fatalf("kind %v ink %+v", m.Kind, m.Ink)
			}
			if !errors.Is(m.Ink.Err, tc.want) || !strings.Contains(m.Ink.Err.Error(), tc.says) {
				t.Fatalf("error %v; want %v saying %q", m.Ink.Err, tc.want, tc.says)
			}
		})
	}
}

// TestParseInkISF: Ink Serialized Format is recognised but not decoded.
func TestParseInkISF(t *testing.T) {
	m := mustParse(t, []byte("MIME-Version: 1.0\r\nContent-Type: application/x-ms-ink\r\n\r\nAGQdBK4C"))
	if m.Kind != KindInkISF || m.Ink != nil {
		t.Fatalf("kind %v ink %+v", m.Kind, m.Ink)
	}
}

// TestChunkedInk: ink split over chunks (FACTS §7.10) is not decoded chunk by chunk; the
// reassembled message carries the whole GIF.
func TestChunkedInk(t *testing.T) {
	pic := testGIF(t, 120, 90)
	body := "base64:" + base64.StdEncoding.EncodeToString(pic)
	third := len(body) / 3
	parts := []string{body[:third], body[third : 2*third], body[2*third:]}
	r := NewReassembler(ReassemblerConfig{Now: (&fakeClock{t: time.Unix(0, 0)}).now})
	id := "Message-ID: {6B0B7E4F-2C1B-4C1A-9C4B-6A6A6A6A6A6A}"
	var out *Message
	for i, p := range parts {
		h := "Chunks: 3"
		if i > 0 {
			h = "Chunk: " + string(rune('0'+i))
		}
		m := mustParse(t, inkPayload(p, id, h))
		if m.Kind != KindInk || m.Ink != nil {
			t.Fatalf("chunk %d: kind %v ink %+v", i, m.Kind, m.Ink)
		}
		got, err := r.Add("bob@example.com", m)
		if err != nil {
			t.Fatal(err)
		}
		if (got != nil) != (i == len(parts)-1) {
			t.Fatalf("chunk %d gave %v", i, got)
		}
		out = got
	}
	if out.Kind != KindInk || out.Ink == nil || out.Ink.Err != nil || !bytes.Equal(out.Ink.GIF, pic) || out.Ink.Width != 120 {
		t.Fatalf("joined: kind %v ink %+v", out.Kind, out.Ink)
	}
}
