package bridge

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"net/http"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"
)

// TestClientReceivesInk: a contact's ink (image/gif, chunked as MSN 7 sends it) is delivered
// (the message path that retries until stored) from its ghost as m.image "ink.gif" with the
// GIF's bytes, size and dimensions; an upload the homeserver did not answer fails the
// conversion and the next one uploads once. Ink that does not decode, and ISF ink, become a
// notice saying a handwritten message could not be shown.
func TestClientReceivesInk(t *testing.T) {
	h := newHarness(t, 12)
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob := h.online(t, "bob@example.com")
	bobKey := networkid.PortalKey{ID: "bob@example.com", Receiver: "alice@example.com"}

	img := image.NewPaletted(image.Rect(0, 0, 80, 60), color.Palette{color.White, color.Black})
	for i := range 60 {
		img.SetColorIndex(i, i/2, 1)
	}
	var pic bytes.Buffer
	if err := gif.Encode(&pic, img, nil); err != nil {
		t.Fatal(err)
	}
	body := "base64:" + base64.StdEncoding.EncodeToString(pic.Bytes())
	const hdr = "MIME-Version: 1.0\r\nContent-Type: image/gif\r\nMessage-ID: {9F1E}\r\n"
	for _, chunk := range []string{hdr + "Chunks: 2\r\n\r\n" + body[:len(body)/2], hdr + "Chunk: 1\r\n\r\n" + body[len(body)/2:]} {
		if err := bob.Send(ctx, "alice@example.com", []byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	evt := wait(t, h.rec.events, "the ink", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
	if evt.GetPortalKey() != bobKey || evt.GetSender().Sender != "bob@example.com" || messageMeta(evt) == nil {
		t.Fatalf("posted %T in %+v by %+v", evt, evt.GetPortalKey(), evt.GetSender())
	}
	msg := evt.(bridgev2.RemoteMessage)
	up := &uploadRecorder{fail: errors.New("connection refused")}
	if _, err := msg.ConvertMessage(ctx, portalFor(bobKey), up); err == nil {
		t.Fatal("conversion succeeded although the upload failed")
	}
	for range 2 {
		cm, err := msg.ConvertMessage(ctx, portalFor(bobKey), up)
		if err != nil || len(cm.Parts) != 1 {
			t.Fatalf("convert: %v", err)
		}
		c := cm.Parts[0].Content
		if c.MsgType != event.MsgImage || c.Body != "ink.gif" || c.FileName != "ink.gif" || c.URL != "mxc://example.com/file" || c.Info == nil ||
			c.Info.MimeType != "image/gif" || c.Info.Size != pic.Len() || c.Info.Width != 80 || c.Info.Height != 60 {
			t.Fatalf("content %+v info %+v", c, c.Info)
		}
	}
	if up.uploads != 1 || !bytes.Equal(up.data, pic.Bytes()) || up.name != "ink.gif" || up.mimeType != "image/gif" || up.size != int64(pic.Len()) {
		t.Fatalf("%d uploads of %d bytes as %q %q", up.uploads, len(up.data), up.name, up.mimeType)
	}

	for name, payload := range map[string]string{
		"bad base64": "MIME-Version: 1.0\r\nContent-Type: image/gif\r\n\r\nbase64:R0lG*Dlh",
		"ISF":        "MIME-Version: 1.0\r\nContent-Type: application/x-ms-ink\r\n\r\nAGQdBK4C",
	} {
		if err := bob.Send(ctx, "alice@example.com", []byte(payload)); err != nil {
			t.Fatal(err)
		}
		evt := wait(t, h.rec.events, "the "+name+" notice", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
		if c := convert(t, evt); c.MsgType != event.MsgNotice || !strings.Contains(c.Body, "handwritten message") || evt.GetSender().Sender != "bob@example.com" {
			t.Fatalf("%s: %+v", name, c)
		}
	}
}

// TestInkNoticeWhenUploadRefused: an upload the homeserver refuses for good (4xx) gives the
// ink notice instead of being retried.
func TestInkNoticeWhenUploadRefused(t *testing.T) {
	h := newHarness(t, 12)
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob := h.online(t, "bob@example.com")
	payload := "MIME-Version: 1.0\r\nContent-Type: image/gif\r\n\r\nbase64:R0lGODlhAwACAIAAAP///wAAACwAAAAAAwACAAACA4QRUAA7"
	if err := bob.Send(ctx, "alice@example.com", []byte(payload)); err != nil {
		t.Fatal(err)
	}
	evt := wait(t, h.rec.events, "the ink", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
	up := &uploadRecorder{fail: mautrix.HTTPError{Response: &http.Response{StatusCode: 413}}}
	cm, err := evt.(bridgev2.RemoteMessage).ConvertMessage(ctx, portalFor(evt.GetPortalKey()), up)
	if err != nil || len(cm.Parts) != 1 {
		t.Fatalf("convert: %v", err)
	}
	if c := cm.Parts[0].Content; c.MsgType != event.MsgNotice || !strings.Contains(c.Body, "handwritten message") {
		t.Fatalf("content %+v", c)
	}
}
