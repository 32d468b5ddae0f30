//go:build e2e

package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Issue #10 end to end: display pictures both ways and file transfers both ways, between a
// Matrix user of its own and scripted contacts of the fake server, through the bridge.

// The media test's MSN accounts: the user and one contact per subtest.
const (
	mdUser   = "md@example.com"
	mdPic    = "md-pic@example.com"   // has a display picture, fetches the user's
	mdSender = "md-send@example.com"  // sends a 5 MB file
	mdTaker  = "md-take@example.com"  // accepts the user's image
	mdNo     = "md-no@example.com"    // declines the user's file
	mdLater  = "md-later@example.com" // answers the user's file late, chatting meanwhile
)

func mediaAccounts() []account {
	contacts := []string{mdPic, mdSender, mdTaker, mdNo, mdLater}
	out := []account{{Passport: mdUser, Password: faultPassword, Name: "Media user", Contacts: contacts}}
	for _, c := range contacts {
		out = append(out, account{Passport: c, Password: "x", Name: "Contact " + c, Status: "NLN", Scripted: true, Contacts: []string{mdUser}})
	}
	return out
}

// filesOf waits until the scripted contact who has received a file and returns its files.
func filesOf(t *testing.T, who string) []fakeFile {
	t.Helper()
	var files []fakeFile
	eventually(t, short, who+" has a file", func() error {
		var err error
		files, err = w.fake.files(who)
		if err == nil && len(files) == 0 {
			err = fmt.Errorf("no file yet")
		}
		return err
	})
	return files
}

// twoColourPNG is a w×h PNG, red on the left half and blue on the right.
func twoColourPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{R: 255, A: 255}
			if x >= w/2 {
				c = color.NRGBA{B: 255, A: 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// download fetches an mxc URI through the client-server media API as u.
func download(t *testing.T, u *matrixUser, mxc string) []byte {
	t.Helper()
	uri, err := id.ParseContentURI(mxc)
	if err != nil {
		t.Fatalf("content URI %q: %v", mxc, err)
	}
	ctx, cancel := reqCtx()
	defer cancel()
	data, err := u.cli.DownloadBytes(ctx, uri)
	if err != nil {
		t.Fatalf("downloading %s: %v", mxc, err)
	}
	return data
}

// upload puts data in the media repository as u and returns its mxc URI.
func upload(t *testing.T, u *matrixUser, data []byte, mime, name string) id.ContentURI {
	t.Helper()
	ctx, cancel := reqCtx()
	defer cancel()
	resp, err := u.cli.UploadBytesWithName(ctx, data, mime, name)
	if err != nil {
		t.Fatalf("uploading %s: %v", name, err)
	}
	return resp.ContentURI
}

// sendMedia sends an m.image or m.file event for an uploaded file and returns its event ID.
func sendMedia(t *testing.T, u *matrixUser, room id.RoomID, msgType event.MessageType, uri id.ContentURI, name, mime string, size int) id.EventID {
	t.Helper()
	ctx, cancel := reqCtx()
	defer cancel()
	resp, err := u.cli.SendMessageEvent(ctx, room, event.EventMessage, &event.MessageEventContent{
		MsgType: msgType, Body: name, URL: uri.CUString(),
		Info: &event.FileInfo{MimeType: mime, Size: size},
	})
	if err != nil {
		t.Fatalf("sending %s: %v", name, err)
	}
	return resp.EventID
}

// fakeFile is a file a scripted contact accepted (GET /v1/files).
type fakeFile struct {
	Name   string `json:"name"`
	Size   uint64 `json:"size"`
	Got    uint64 `json:"received"`
	SHA256 string `json:"sha256"`
	Error  string `json:"error"`
}

func (f *fakeServer) files(contact string) ([]fakeFile, error) {
	ctx, cancel := reqCtx()
	defer cancel()
	var out struct {
		Files []fakeFile `json:"files"`
	}
	err := doJSON(ctx, http.MethodGet, f.Control+"/v1/files?"+url.Values{"contact": {contact}}.Encode(), nil, &out)
	return out.Files, err
}

// readBy matches who's read receipt on evt in room: with matrix.delivery_receipts, the
// bridge bot's receipt says the message was delivered.
func readBy(room id.RoomID, evt id.EventID, who id.UserID) func(seen) bool {
	return func(s seen) bool {
		if s.Kind != kindEphemeral || s.Room != room || s.Event.Type != event.EphemeralEventReceipt {
			return false
		}
		byType, _ := s.Event.Content.Raw[evt.String()].(map[string]any)
		users, _ := byType[string(event.ReceiptTypeRead)].(map[string]any)
		_, ok := users[who.String()]
		return ok
	}
}

// TestMedia: display pictures and files both ways (issue #10's "Must show", end to end).
func TestMedia(t *testing.T) {
	avatar := twoColourPNG(t, 200, 120)
	f := newFaultUserWith(t, mdUser, func(u *matrixUser) {
		// The user's Matrix avatar, set before the login: the bridge reads it when it connects.
		uri := upload(t, u, avatar, "image/png", "me.png")
		ctx, cancel := reqCtx()
		defer cancel()
		if err := u.cli.SetAvatarURL(ctx, uri); err != nil {
			t.Fatalf("setting the avatar: %v", err)
		}
	})

	t.Run("ContactPictureBecomesGhostAvatar", func(t *testing.T) {
		pic := twoColourPNG(t, 96, 96)
		var out struct {
			SHA256 string `json:"sha256"`
		}
		ctx, cancel := reqCtx()
		defer cancel()
		if err := doJSON(ctx, http.MethodPost, w.fake.Control+"/v1/picture", map[string]any{"who": mdPic, "data": base64.StdEncoding.EncodeToString(pic)}, &out); err != nil {
			t.Fatal(err)
		}
		if out.SHA256 != sha256Hex(pic) {
			t.Fatalf("the fake server serves %s, not the picture given", out.SHA256)
		}
		var mxc string
		eventually(t, short, "an avatar on "+mdPic+"'s ghost", func() error {
			ctx, cancel := reqCtx()
			defer cancel()
			p, err := f.u.cli.GetProfile(ctx, ghostOf(mdPic))
			if err != nil {
				return err
			}
			if p.AvatarURL.IsEmpty() {
				return fmt.Errorf("no avatar_url")
			}
			mxc = p.AvatarURL.String()
			return nil
		})
		if got := sha256Hex(download(t, f.u, mxc)); got != out.SHA256 {
			t.Fatalf("the ghost's avatar has SHA-256 %s, the contact's picture %s", got, out.SHA256)
		}
	})

	t.Run("MatrixAvatarBecomesDisplayPicture", func(t *testing.T) {
		var out struct {
			Data string `json:"data"`
		}
		// The bridge announces the picture with a CHG after connecting: until then the
		// contact has nothing to fetch.
		eventually(t, short, mdPic+" fetching the user's display picture", func() error {
			ctx, cancel := reqCtx()
			defer cancel()
			return doJSON(ctx, http.MethodPost, w.fake.Control+"/v1/picture/fetch", map[string]any{"who": mdPic, "from": mdUser}, &out)
		})
		data, err := base64.StdEncoding.DecodeString(out.Data)
		if err != nil {
			t.Fatal(err)
		}
		img, format, err := image.Decode(bytes.NewReader(data))
		if err != nil || format != "png" || img.Bounds() != image.Rect(0, 0, 96, 96) {
			t.Fatalf("the display picture: %s %v %v", format, img, err)
		}
		// Centre-cropped from the 200×120 avatar: red on the left, blue on the right.
		left := color.NRGBAModel.Convert(img.At(5, 48)).(color.NRGBA)
		right := color.NRGBAModel.Convert(img.At(90, 48)).(color.NRGBA)
		if left.R < 200 || left.B > 50 || right.B < 200 || right.R > 50 {
			t.Fatalf("not the user's avatar: left %v, right %v", left, right)
		}
	})

	t.Run("FileFromContactArrivesAsMFile", func(t *testing.T) {
		const size = 5 << 20
		cur := f.u.mark()
		type sent struct {
			SHA256 string `json:"sha256"`
			Size   int    `json:"size"`
		}
		done := make(chan error, 1)
		var out sent
		go func() {
			ctx, cancel := reqCtx()
			defer cancel()
			done <- doJSON(ctx, http.MethodPost, w.fake.Control+"/v1/file/send", map[string]any{"from": mdSender, "to": mdUser, "name": "report.bin", "size": size}, &out)
		}()
		got := f.u.expect(t, cur, long, "report.bin as m.file", func(s seen) bool {
			return message("", ghostOf(mdSender), func(string) bool { return true })(s) && s.str("msgtype") == string(event.MsgFile)
		})
		if err := <-done; err != nil {
			t.Fatalf("the contact's send: %v", err)
		}
		if got.str("body") != "report.bin" && got.str("filename") != "report.bin" {
			t.Errorf("the file is named %q / %q", got.str("body"), got.str("filename"))
		}
		data := download(t, f.u, got.str("url"))
		if len(data) != size || sha256Hex(data) != out.SHA256 {
			t.Fatalf("the m.file holds %d bytes with SHA-256 %s; the contact sent %d bytes with %s", len(data), sha256Hex(data), out.Size, out.SHA256)
		}
	})

	t.Run("ImageFromMatrixReachesContact", func(t *testing.T) {
		if err := w.fake.post("/v1/file/policy", map[string]any{"who": mdTaker, "policy": "accept"}); err != nil {
			t.Fatal(err)
		}
		room := f.openDM(t, mdTaker)
		img := twoColourPNG(t, 640, 480)
		cur := f.u.mark()
		evt := sendMedia(t, f.u, room, event.MsgImage, upload(t, f.u, img, "image/png", "photo.png"), "photo.png", "image/png", len(img))
		f.u.expect(t, cur, short, "the bot's delivery receipt for photo.png", readBy(room, evt, w.bridge.Bot))
		files := filesOf(t, mdTaker)
		if len(files) != 1 || files[0].Name != "photo.png" || files[0].Error != "" || files[0].SHA256 != sha256Hex(img) || files[0].Got != uint64(len(img)) {
			t.Fatalf("the contact received %+v; sent %d bytes with SHA-256 %s", files, len(img), sha256Hex(img))
		}
		if n := f.u.all(cur, statusNotice(room, evt)); len(n) > 0 {
			t.Fatalf("delivered but reported failed: %q", n[0].str("body"))
		}
	})

	// A file waiting for the contact's answer does not hold the room: bridgev2 handles a room's
	// events one at a time, and the bridge used to wait for the answer (up to 2 minutes) inside
	// the file's handler, so the contact's messages and the user's waited behind it.
	t.Run("FileOfferDoesNotHoldTheRoom", func(t *testing.T) {
		if err := w.fake.post("/v1/file/policy", map[string]any{"who": mdLater, "policy": "hold"}); err != nil {
			t.Fatal(err)
		}
		room := f.openDM(t, mdLater)
		doc := bytes.Repeat([]byte("the agenda\n"), 300)
		offered, err := w.fake.receivedCount(mdLater)
		if err != nil {
			t.Fatal(err)
		}
		cur := f.u.mark()
		evt := sendMedia(t, f.u, room, event.MsgFile, upload(t, f.u, doc, "text/plain", "agenda.txt"), "agenda.txt", "text/plain", len(doc))
		// The offer has reached the contact: the bridge is past the file's download and waits
		// for the answer.
		if _, err := w.fake.expectReceived(mdLater, offered, short, "the file offer", func(r receivedItem) bool {
			return strings.HasPrefix(r.Kind, "other:application/x-msnmsgrp2p")
		}); err != nil {
			t.Fatal(err)
		}
		if err := w.fake.say(mdLater, mdUser, "one moment, looking at it", nil); err != nil {
			t.Fatal(err)
		}
		f.u.expect(t, cur, short, "the contact's message while the file waits for an answer", message(room, ghostOf(mdLater), equals("one moment, looking at it")))
		since, err := w.fake.receivedCount(mdLater)
		if err != nil {
			t.Fatal(err)
		}
		sendAs(t, f.u, room, "take your time")
		if _, err := w.fake.expectReceived(mdLater, since, short, "the user's message while the file waits", func(r receivedItem) bool {
			return r.Kind == "text" && r.Text == "take your time"
		}); err != nil {
			t.Fatal(err)
		}
		if n := f.u.all(cur, readBy(room, evt, w.bridge.Bot)); len(n) > 0 {
			t.Fatal("the file was marked delivered before the contact answered")
		}
		if err := w.fake.post("/v1/file/policy", map[string]any{"who": mdLater, "policy": "accept"}); err != nil {
			t.Fatal(err)
		}
		files := filesOf(t, mdLater)
		if len(files) != 1 || files[0].Name != "agenda.txt" || files[0].Error != "" || files[0].SHA256 != sha256Hex(doc) {
			t.Fatalf("the contact received %+v; sent %d bytes with SHA-256 %s", files, len(doc), sha256Hex(doc))
		}
		// The outcome reaches bridgev2 as the file's remote echo, which sets its status (and
		// sends a notice if it failed) before it logs the echo. (The bot's receipt for the file
		// is not looked for: the user's later message already carries one, and receipts do
		// not go back.) What the contact says after that comes after any such notice.
		eventually(t, short, "the bridge handling the outcome of agenda.txt", func() error {
			for _, line := range strings.Split(w.bridge.log(), "\n") {
				if strings.Contains(line, "Received remote echo for message") && strings.Contains(line, string(evt)) {
					return nil
				}
			}
			return fmt.Errorf("no remote echo for %s in the bridge log", evt)
		})
		if err := w.fake.say(mdLater, mdUser, "got it, thanks", nil); err != nil {
			t.Fatal(err)
		}
		f.u.expect(t, cur, short, "the contact's thanks", message(room, ghostOf(mdLater), equals("got it, thanks")))
		if n := f.u.all(cur, statusNotice(room, evt)); len(n) > 0 {
			t.Fatalf("delivered but reported failed: %q", n[0].str("body"))
		}
	})

	t.Run("DeclinedFileShowsFailure", func(t *testing.T) {
		if err := w.fake.post("/v1/file/policy", map[string]any{"who": mdNo, "policy": "decline"}); err != nil {
			t.Fatal(err)
		}
		room := f.openDM(t, mdNo)
		doc := bytes.Repeat([]byte("minutes of the meeting\n"), 200)
		cur := f.u.mark()
		evt := sendMedia(t, f.u, room, event.MsgFile, upload(t, f.u, doc, "text/plain", "minutes.txt"), "minutes.txt", "text/plain", len(doc))
		notice := f.u.expect(t, cur, short, "a failure notice for the declined file", statusNotice(room, evt))
		if !isFailure(notice.str("body")) && !bytes.Contains(bytes.ToLower([]byte(notice.str("body"))), []byte("declin")) {
			t.Errorf("the notice does not say the transfer failed: %q", notice.str("body"))
		}
		if n := f.u.all(cur, readBy(room, evt, w.bridge.Bot)); len(n) > 0 {
			t.Error("the declined file was marked delivered")
		}
		if files, err := w.fake.files(mdNo); err != nil || len(files) != 0 {
			t.Errorf("the declining contact has files %+v (%v)", files, err)
		}
	})
}
