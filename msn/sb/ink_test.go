package sb

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/gif"
	"testing"

	"github.com/msnbridge/msnbridge/msn/message"
)

// TestChunkedInkEvent: ink (image/gif) split over chunks, as MSN 7 sends it, arrives as one
// ContentEvent of KindInk carrying the decoded GIF; ink in Ink Serialized Format arrives as
// KindInkISF.
func TestChunkedInkEvent(t *testing.T) {
	e := newEnv(t, 12, Config{})
	c, pc := e.acceptInvite(t, Invitation{SessionID: "1", Cookie: "2", Inviter: "bob@example.com", InviterName: "Bob"}, "bob@example.com Bob 1073741824")
	waitEvent[*JoinedEvent](t, e.rec)

	img := image.NewPaletted(image.Rect(0, 0, 64, 48), color.Palette{color.White, color.Black})
	for i := range 48 {
		img.SetColorIndex(i, i, 1)
	}
	var pic bytes.Buffer
	if err := gif.Encode(&pic, img, nil); err != nil {
		t.Fatal(err)
	}
	body := "base64:" + base64.StdEncoding.EncodeToString(pic.Bytes())
	half := len(body) / 2
	const hdr = "MIME-Version: 1.0\r\nContent-Type: image/gif\r\nMessage-ID: {1A2B}\r\n"
	pc.sendMSG("bob@example.com", "Bob", hdr+"Chunks: 2\r\n\r\n"+body[:half])
	pc.sendMSG("bob@example.com", "Bob", hdr+"Chunk: 1\r\n\r\n"+body[half:])
	ev := waitEvent[*ContentEvent](t, e.rec)
	if ev.Conv != c || ev.Kind != message.KindInk || ev.Sender.Passport != "bob@example.com" || ev.Message == nil || ev.Message.Ink == nil {
		t.Fatalf("event %+v", ev)
	}
	if ink := ev.Message.Ink; ink.Err != nil || !bytes.Equal(ink.GIF, pic.Bytes()) || ink.Width != 64 || ink.Height != 48 {
		t.Fatalf("ink %d bytes %dx%d err %v", len(ink.GIF), ink.Width, ink.Height, ink.Err)
	}

	pc.sendMSG("bob@example.com", "Bob", "MIME-Version: 1.0\r\nContent-Type: application/x-ms-ink\r\n\r\nAGQdBK4C")
	if ev := waitEvent[*ContentEvent](t, e.rec); ev.Kind != message.KindInkISF {
		t.Fatalf("ISF ink: %+v", ev)
	}
}
