package bridge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/msnbridge/msnbridge/msn/msntest"
	"github.com/msnbridge/msnbridge/msn/p2p"
)

// uploadRecorder is a MatrixAPI that records UploadMediaStream (every other method is the
// nil interface's: calling one panics, so the test sees it).
type uploadRecorder struct {
	bridgev2.MatrixAPI
	fail     error // returned by the next upload, then cleared
	uploads  int
	data     []byte
	name     string
	mimeType string
	size     int64
}

func (u *uploadRecorder) UploadMediaStream(_ context.Context, _ id.RoomID, size int64, _ bool, cb bridgev2.FileStreamCallback) (id.ContentURIString, *event.EncryptedFileInfo, error) {
	if err := u.fail; err != nil {
		u.fail = nil
		return "", nil, err
	}
	u.uploads++
	var buf bytes.Buffer
	res, err := cb(&buf)
	if err != nil {
		return "", nil, err
	}
	u.data, u.name, u.mimeType, u.size = buf.Bytes(), res.FileName, res.MimeType, size
	return "mxc://example.com/file", nil, nil
}

func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 13)
	}
	img.Set(1, 1, color.White)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestClientReceivesFiles: a contact's file within the limit is accepted, streamed and posted
// from its ghost in its DM as m.image (by content) with the name and size, the uploaded data
// having the sent SHA-256; a document becomes m.file; a file over network.max_file_size is
// declined and the room says so with its name and size.
func TestClientReceivesFiles(t *testing.T) {
	h := newHarness(t, 12)
	h.conn.Config.MaxFileSize = 200_000
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob := h.online(t, "bob@example.com")
	bobKey := networkid.PortalKey{ID: "bob@example.com", Receiver: "alice@example.com"}

	for _, tc := range []struct {
		name, file string
		data       []byte
		want       event.MessageType
	}{
		{"image", "holiday.png", testPNG(t), event.MsgImage},
		{"document", "notes.txt", bytes.Repeat([]byte("some notes\n"), 3000), event.MsgFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := bob.SendFile(ctx, "alice@example.com", tc.file, tc.data); err != nil {
				t.Fatal(err)
			}
			evt := wait(t, h.rec.events, "the file", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
			if evt.GetPortalKey() != bobKey || evt.GetSender().Sender != "bob@example.com" {
				t.Fatalf("posted in %+v by %+v", evt.GetPortalKey(), evt.GetSender())
			}
			up := &uploadRecorder{}
			cm, err := evt.(bridgev2.RemoteMessage).ConvertMessage(ctx, portalFor(bobKey), up)
			if err != nil || len(cm.Parts) != 1 {
				t.Fatalf("convert: %v", err)
			}
			c := cm.Parts[0].Content
			if c.MsgType != tc.want || c.Body != tc.file || c.FileName != tc.file || c.Info == nil || c.Info.Size != len(tc.data) || c.URL != "mxc://example.com/file" {
				t.Fatalf("content %+v info %+v", c, c.Info)
			}
			if sha256.Sum256(up.data) != sha256.Sum256(tc.data) || up.name != tc.file || up.mimeType != c.Info.MimeType || up.size != int64(len(tc.data)) {
				t.Fatalf("uploaded %d bytes as %q %q", len(up.data), up.name, up.mimeType)
			}
		})
	}

	big := bytes.Repeat([]byte{7}, 200_001)
	if err := bob.SendFile(ctx, "alice@example.com", "movie.avi", big); !errors.Is(err, p2p.ErrDeclined) {
		t.Fatalf("too large a file: %v", err)
	}
	evt := wait(t, h.rec.events, "the decline notice", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
	if c := convert(t, evt); c.MsgType != event.MsgNotice || !strings.Contains(c.Body, "movie.avi") || !strings.Contains(c.Body, "195.3 KiB") || !strings.Contains(c.Body, "limit") {
		t.Fatalf("notice %+v", c)
	}
}

// TestFileFailedNotice: a transfer the contact cancelled, or that timed out, gives a notice
// naming the file, its size and what happened.
func TestFileFailedNotice(t *testing.T) {
	for _, tc := range []struct {
		cause error
		want  string
	}{
		{io.ErrUnexpectedEOF, "cancelled"},
		{p2p.ErrTimeout, "timed out"},
	} {
		var in *p2p.Transfer
		alice := p2p.NewSessionResponder("bob@example.com", "", p2p.SessionConfig{})
		me := p2p.NewSessionResponder("alice@example.com", "", p2p.SessionConfig{AcceptFile: func(t *p2p.Transfer) io.Writer { in = t; return io.Discard }})
		out, frames, err := alice.OfferFile("alice@example.com", p2p.FileInfo{Name: "clip.wmv", Size: 5000})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range frames {
			if _, err := me.Handle("bob@example.com", f.Dest, "", f.Data); err != nil {
				t.Fatal(err)
			}
		}
		if tc.cause == p2p.ErrTimeout {
			me.CancelTransfer(in, p2p.ErrTimeout)
		} else {
			for _, f := range alice.CancelTransfer(out, tc.cause) {
				if _, err := me.Handle("bob@example.com", f.Dest, "", f.Data); err != nil {
					t.Fatal(err)
				}
			}
		}
		got := fileFailedNotice("Bob", in)
		if !strings.Contains(got, "clip.wmv") || !strings.Contains(got, "4.9 KiB") || !strings.Contains(got, tc.want) {
			t.Fatalf("notice %q", got)
		}
	}
}

// TestMaxFileSizeConfig: the example config sets 100 MiB; a negative limit is refused.
func TestMaxFileSizeConfig(t *testing.T) {
	cfg := loadExample(t)
	if cfg.MaxFileSize != DefaultMaxFileSize {
		t.Fatalf("max_file_size = %d", cfg.MaxFileSize)
	}
	cfg.PasswordEncryptionKey = strings.Repeat("A", 43) + "="
	cfg.MaxFileSize = -1
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "max_file_size") {
		t.Fatalf("Validate: %v", err)
	}
}

// mediaSide is the recorder that also serves Matrix media downloads from files.
type mediaSide struct {
	*recorder
	files map[id.ContentURIString][]byte
}

func (m *mediaSide) DownloadMediaFile(_ context.Context, uri id.ContentURIString, _ *event.EncryptedFileInfo, fn func(*os.File) error) error {
	data, ok := m.files[uri]
	if !ok {
		return errors.New("404")
	}
	f, err := os.CreateTemp("", "test-media-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return fn(f)
}

// receivedFiles returns the files c received once it recorded n of them, or what it has after
// 20 s. Nothing to wait on (the contact records them asynchronously): it polls with a deadline.
func receivedFiles(c *msntest.Contact, n int) []msntest.ReceivedFile {
	deadline := time.Now().Add(20 * time.Second)
	for len(c.ReceivedFiles()) < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return c.ReceivedFiles()
}

// TestClientSendsFiles: an image and a sticker from Matrix are offered to the contact as file
// transfers under their original names and delivered once the contact accepted and got the
// data (same SHA-256); a declined offer, an offline contact and a file over the limit fail
// with the reason; the room capabilities declare files with the limit.
func TestClientSendsFiles(t *testing.T) {
	h := newHarness(t, 18)
	h.conn.Config.MaxFileSize = 300_000
	pic := testPNG(t)
	side := &mediaSide{recorder: h.rec, files: map[id.ContentURIString][]byte{"mxc://hs/pic": pic, "mxc://hs/big": make([]byte, 300_001)}}
	h.client.mx = side
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob := h.online(t, "bob@example.com")
	bob.SetFilePolicy(msntest.FilesAccept)
	bobKey := networkid.PortalKey{ID: "bob@example.com", Receiver: "alice@example.com"}
	// send sends a file from Matrix and returns its outcome: refused at once, or sent in the
	// background and then delivered or failed.
	send := func(key networkid.PortalKey, content *event.MessageEventContent, typ event.Type) error {
		resp, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
			Event:   &event.Event{Type: typ},
			Content: content,
			Portal:  portalFor(key),
		}})
		if err != nil {
			return err
		}
		return h.sendOutcome(t, resp)
	}
	sum := sha256.Sum256(pic)
	if err := send(bobKey, &event.MessageEventContent{MsgType: event.MsgImage, Body: "look at this", FileName: "cat.png", URL: "mxc://hs/pic", Info: &event.FileInfo{Size: len(pic), MimeType: "image/png"}}, event.EventMessage); err != nil {
		t.Fatal(err)
	}
	if err := send(bobKey, &event.MessageEventContent{Body: "wave", URL: "mxc://hs/pic", Info: &event.FileInfo{MimeType: "image/png"}}, event.EventSticker); err != nil {
		t.Fatal(err)
	}
	got := receivedFiles(bob, 2)
	if len(got) != 2 || got[0].Name != "cat.png" || got[1].Name != "sticker.png" {
		t.Fatalf("bob received %+v", got)
	}
	for _, f := range got {
		if f.SHA256 != hex.EncodeToString(sum[:]) || f.Error != "" {
			t.Fatalf("bob received %+v", f)
		}
	}

	bob.SetFilePolicy(msntest.FilesDecline)
	err := send(bobKey, &event.MessageEventContent{MsgType: event.MsgFile, Body: "report.pdf", URL: "mxc://hs/pic"}, event.EventMessage)
	if err == nil || !strings.Contains(err.Error(), "declined") || !strings.Contains(err.Error(), "report.pdf") {
		t.Fatalf("declined: %v", err)
	}
	carolKey := networkid.PortalKey{ID: "carol@example.com", Receiver: "alice@example.com"}
	if err := send(carolKey, &event.MessageEventContent{MsgType: event.MsgVideo, Body: "v.mp4", URL: "mxc://hs/pic"}, event.EventMessage); err == nil || !strings.Contains(err.Error(), "offline") {
		t.Fatalf("offline contact: %v", err)
	}
	if err := send(bobKey, &event.MessageEventContent{MsgType: event.MsgFile, Body: "big.bin", URL: "mxc://hs/big"}, event.EventMessage); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("too large: %v", err)
	}

	caps := h.client.GetCapabilities(ctx, portalFor(bobKey))
	for _, typ := range []event.CapabilityMsgType{event.MsgImage, event.MsgFile, event.MsgVideo, event.MsgAudio, event.CapMsgSticker} {
		if ff := caps.File[typ]; ff == nil || ff.MaxSize != 300_000 || ff.GetMimeSupport("image/png") != event.CapLevelFullySupported {
			t.Fatalf("capabilities for %s: %+v", typ, ff)
		}
	}
}

// picHarness is a connected MSNP18 harness whose Matrix side serves testPNG at mxc://hs/pic;
// it returns the picture and a context for the test.
func picHarness(t *testing.T) (*harness, []byte, context.Context) {
	h := newHarness(t, 18)
	pic := testPNG(t)
	h.client.mx = &mediaSide{recorder: h.rec, files: map[id.ContentURIString][]byte{"mxc://hs/pic": pic}}
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return h, pic, ctx
}

// TestFileOfferDoesNotHoldTheRoom: a file sent from Matrix waits for the contact to answer in
// the background. bridgev2 handles a room's events one at a time, so a handler that waited for
// the answer (up to 2 minutes, then the data) held every later event of the room, both ways,
// behind the file. The handler returns while the contact has not answered; meanwhile the
// contact's messages come through and the user's go out; once the contact accepts, the file is
// delivered.
func TestFileOfferDoesNotHoldTheRoom(t *testing.T) {
	h, pic, ctx := picHarness(t)
	bob := h.online(t, "bob@example.com")
	bob.SetFilePolicy(msntest.FilesHold)
	bobKey := networkid.PortalKey{ID: "bob@example.com", Receiver: "alice@example.com"}
	type result struct {
		resp *bridgev2.MatrixMessageResponse
		err  error
	}
	handled := make(chan result, 1)
	go func() {
		resp, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
			Event:   &event.Event{Type: event.EventMessage},
			Content: &event.MessageEventContent{MsgType: event.MsgImage, Body: "cat.png", URL: "mxc://hs/pic", Info: &event.FileInfo{Size: len(pic)}},
			Portal:  portalFor(bobKey),
		}})
		handled <- result{resp, err}
	}()
	var sent result
	select {
	case sent = <-handled:
	case <-time.After(15 * time.Second):
		t.Fatal("the Matrix file's handler waits for the contact's answer: the room is held behind it")
	}
	if sent.err != nil || sent.resp == nil || !sent.resp.Pending {
		t.Fatalf("file handed over: %+v, %v", sent.resp, sent.err)
	}

	// While bob has not answered: his message comes through, and one to him goes out.
	if err := bob.Say(ctx, "alice@example.com", "what is it?"); err != nil {
		t.Fatal(err)
	}
	got := wait(t, h.rec.events, "bob's message", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
	if body := convert(t, got).Body; body != "what is it?" {
		t.Fatalf("bob's message: %q", body)
	}
	if _, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content: &event.MessageEventContent{MsgType: event.MsgText, Body: "a picture of my cat"}, Portal: portalFor(bobKey),
	}}); err != nil {
		t.Fatalf("text while the file waits: %v", err)
	}
	if m, err := bob.NextText(ctx); err != nil || !strings.Contains(m.Body, "a picture of my cat") {
		t.Fatalf("bob got %+v, %v", m, err)
	}
	if files := bob.ReceivedFiles(); len(files) != 0 {
		t.Fatalf("bob has files before answering: %+v", files)
	}

	bob.SetFilePolicy(msntest.FilesAccept)
	if err := h.sendOutcome(t, sent.resp); err != nil {
		t.Fatalf("accepted file: %v", err)
	}
	if files := receivedFiles(bob, 1); len(files) != 1 || files[0].Name != "cat.png" || files[0].Got != uint64(len(pic)) || files[0].Error != "" {
		t.Fatalf("bob received %+v", files)
	}
}

// sendFileTo sends a file from Matrix into the room of key, as a Matrix client does, and returns
// the handler's answer.
func (h *harness) sendFileTo(ctx context.Context, key networkid.PortalKey, name string) (*bridgev2.MatrixMessageResponse, error) {
	return h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Event:   &event.Event{Type: event.EventMessage},
		Content: &event.MessageEventContent{MsgType: event.MsgImage, Body: name, URL: "mxc://hs/pic"},
		Portal:  portalFor(key),
	}})
}

// tempCopies counts the bridge's temporary files.
func tempCopies(t *testing.T) int {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(os.TempDir(), fileTempPattern))
	if err != nil {
		t.Fatal(err)
	}
	return len(paths)
}

// TestFileSendsQueueInRoomOrder: files sent into one room while the contact has not answered
// wait their turn and reach the contact one after the other, in the order sent, as when the
// room's event queue held each file; the bridge never asks the contact for more transfers than
// it allows at once (4), and a room takes at most maxQueuedFiles waiting files (the next is
// refused at once, saying so).
func TestFileSendsQueueInRoomOrder(t *testing.T) {
	h, pic, ctx := picHarness(t)
	bob := h.online(t, "bob@example.com")
	bob.SetFilePolicy(msntest.FilesHold)
	bobKey := networkid.PortalKey{ID: "bob@example.com", Receiver: "alice@example.com"}
	var sent []*bridgev2.MatrixMessageResponse
	for i := range maxQueuedFiles {
		resp, err := h.sendFileTo(ctx, bobKey, fmt.Sprintf("cat%d.png", i+1))
		if err != nil || resp == nil || !resp.Pending {
			t.Fatalf("file %d: %+v, %v", i+1, resp, err)
		}
		sent = append(sent, resp)
	}
	if _, err := h.sendFileTo(ctx, bobKey, "one-too-many.png"); err == nil || !strings.Contains(err.Error(), "already waiting") {
		t.Fatalf("file %d of the room: %v", maxQueuedFiles+1, err)
	}
	bob.SetFilePolicy(msntest.FilesAccept)
	// The outcomes come in the order sent (sendOutcome drops the events before the one it
	// waits for, so a later file's outcome first would fail the wait for the earlier one).
	for i, resp := range sent {
		if err := h.sendOutcome(t, resp); err != nil {
			t.Fatalf("file %d: %v", i+1, err)
		}
	}
	// Bob records each file when its transfer ends, from a goroutine of its own: the order of
	// his list is not the order of the transfers.
	got := receivedFiles(bob, maxQueuedFiles)
	names := make([]string, 0, len(got))
	for _, f := range got {
		if f.Got != uint64(len(pic)) || f.Error != "" {
			t.Fatalf("bob received %+v", f)
		}
		names = append(names, f.Name)
	}
	sort.Strings(names)
	if want := "cat1.png cat2.png cat3.png cat4.png cat5.png cat6.png cat7.png cat8.png"; strings.Join(names, " ") != want {
		t.Fatalf("bob received %v, want %s", names, want)
	}
}

// TestFileSendsWait: wait returns once every offer ended, those added while it waits included
// (a Matrix file may arrive while the login disconnects), and false when its time is up; one
// room's offers run one at a time, rooms side by side.
func TestFileSendsWait(t *testing.T) {
	var fs fileSends
	if !fs.wait(0) {
		t.Fatal("wait with no offer")
	}
	a, b := networkid.PortalKey{ID: "a"}, networkid.PortalKey{ID: "b"}
	for range 200 {
		releaseA, releaseB := make(chan struct{}), make(chan struct{})
		var running atomic.Int32
		offer := func(release chan struct{}) func() {
			return func() {
				if running.Add(1) > 2 {
					t.Error("more than one offer of a room at once")
				}
				<-release
				running.Add(-1)
			}
		}
		fs.add(a, offer(releaseA))
		fs.add(a, offer(releaseA))
		waited := make(chan bool)
		go func() { waited <- fs.wait(time.Minute) }()
		fs.add(b, offer(releaseB)) // while wait waits
		close(releaseA)
		select {
		case <-waited:
			t.Fatal("wait returned while an offer added meanwhile runs")
		default:
		}
		if fs.wait(0) {
			t.Fatal("wait(0) with an offer running")
		}
		close(releaseB)
		if !<-waited {
			t.Fatal("wait gave up")
		}
		if fs.queued(a)+fs.queued(b) != 0 {
			t.Fatalf("offers left: %d, %d", fs.queued(a), fs.queued(b))
		}
	}
}

// TestKeepDownload: a downloaded file gets a name of the bridge's own with the same bytes, by
// a hard link where the download's name can be linked and by a copy where it cannot (here: the
// download's name is gone already); the name survives the download's removal.
func TestKeepDownload(t *testing.T) {
	data := []byte("the agenda, twice over: the agenda")
	for _, linkable := range []bool{true, false} {
		f, err := os.CreateTemp("", "test-download-*")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		if !linkable {
			_ = os.Remove(f.Name())
		}
		path, err := keepDownload(f)
		_ = f.Close()
		_ = os.Remove(f.Name())
		if err != nil {
			t.Fatalf("linkable %v: %v", linkable, err)
		}
		got, err := os.ReadFile(path)
		_ = os.Remove(path)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("linkable %v: kept %q, %v", linkable, got, err)
		}
		if linked := strings.HasSuffix(path, "-l"); linked != linkable {
			t.Fatalf("linkable %v: kept as %s (linked: %v)", linkable, path, linked)
		}
		if ok, _ := filepath.Match(fileTempPattern, filepath.Base(path)); !ok {
			t.Fatalf("kept as %s, not a name removeStaleFiles knows", path)
		}
	}
}

// TestFileOfferEndsOnDisconnect: a file waiting for the contact's answer when the login
// disconnects (logout, shutdown) fails at once, saying the bridge was disconnected, and its
// temporary copy is removed; it does not wait out the contact's 2 minutes.
func TestFileOfferEndsOnDisconnect(t *testing.T) {
	h, _, ctx := picHarness(t)
	bob := h.online(t, "bob@example.com")
	bob.SetFilePolicy(msntest.FilesHold)
	before := tempCopies(t)
	resp, err := h.sendFileTo(ctx, networkid.PortalKey{ID: "bob@example.com", Receiver: "alice@example.com"}, "cat.png")
	if err != nil {
		t.Fatal(err)
	}
	// The offer has reached bob, who holds it.
	for {
		m, err := bob.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for the offer: %v", err)
		}
		if strings.Contains(m.ContentType, "x-msnmsgrp2p") {
			break
		}
	}
	if n := tempCopies(t); n != before+1 {
		t.Fatalf("%d temporary files while the offer waits, %d before", n, before)
	}
	h.client.Disconnect()
	if err := h.sendOutcome(t, resp); err == nil || !strings.Contains(err.Error(), "disconnected") {
		t.Fatalf("outcome after the disconnect: %v", err)
	}
	if n := tempCopies(t); n != before {
		t.Fatalf("%d temporary files after the offer ended, %d before", n, before)
	}
}

// TestClientSendsFileToGroup: a file sent in a group room is offered to each participant;
// one accepts, one declines: the message is delivered and the room says who did not get it.
func TestClientSendsFileToGroup(t *testing.T) {
	h, pic, ctx := picHarness(t)
	bob, carol := h.online(t, "bob@example.com"), h.online(t, "carol@example.com")
	bob.SetFilePolicy(msntest.FilesAccept)
	carol.SetFilePolicy(msntest.FilesDecline)
	if err := bob.Say(ctx, "alice@example.com", "hi"); err != nil {
		t.Fatal(err)
	}
	wait(t, h.rec.events, "dm message", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
	if err := bob.Invite(ctx, "alice@example.com", "carol@example.com"); err != nil {
		t.Fatal(err)
	}
	groupKey := wait(t, h.rec.events, "group portal", func(e bridgev2.RemoteEvent) bool {
		return e.GetType() == bridgev2.RemoteEventChatResync && isGroupPortal(e.GetPortalKey().ID)
	}).GetPortalKey()
	resp, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Event:   &event.Event{Type: event.EventMessage},
		Content: &event.MessageEventContent{MsgType: event.MsgImage, Body: "cat.png", URL: "mxc://hs/pic"},
		Portal:  portalFor(groupKey),
	}})
	if err != nil || resp == nil {
		t.Fatalf("group file: %v", err)
	}
	if err := h.sendOutcome(t, resp); err != nil {
		t.Fatalf("group file accepted by one of two: %v", err)
	}
	wait(t, h.rec.notices, "who did not get it", func(n string) bool {
		return strings.Contains(n, "cat.png did not reach carol@example.com (declined)")
	})
	if got := receivedFiles(bob, 1); len(got) != 1 || got[0].Name != "cat.png" || got[0].Size != uint64(len(pic)) {
		t.Fatalf("bob received %+v", got)
	}
}

// TestClientFileCancelledNotice: a contact offers a file and cancels it (BYE) before any data:
// the bridge accepted it, and the room gets a notice naming the file and saying it was
// cancelled.
func TestClientFileCancelledNotice(t *testing.T) {
	h := newHarness(t, 12)
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob := h.online(t, "bob@example.com")
	r := p2p.NewSessionResponder("bob@example.com", "", p2p.SessionConfig{})
	tr, frames, err := r.OfferFile("alice@example.com", p2p.FileInfo{Name: "movie.mpg", Size: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	frames = append(frames, r.CancelTransfer(tr, io.ErrUnexpectedEOF)...)
	for _, f := range frames {
		payload, err := p2p.MessagePayload(f.Dest, f.Data)
		if err != nil {
			t.Fatal(err)
		}
		if err := bob.Send(ctx, "alice@example.com", payload); err != nil {
			t.Fatal(err)
		}
	}
	evt := wait(t, h.rec.events, "the cancel notice", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage })
	if c := convert(t, evt); c.MsgType != event.MsgNotice || !strings.Contains(c.Body, "movie.mpg") || !strings.Contains(c.Body, "cancelled") {
		t.Fatalf("notice %+v", c)
	}
}

// TestReceivedFileSurvivesHomeserverOutage: an upload that fails because the homeserver does not
// answer makes the conversion fail (bridgev2 stores nothing, the delivery is made again) and
// keeps the file; the next conversion uploads it, and a later one (the send failed after the
// upload) reuses that upload instead of losing the file.
func TestReceivedFileSurvivesHomeserverOutage(t *testing.T) {
	h := newHarness(t, 12)
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob := h.online(t, "bob@example.com")
	data := bytes.Repeat([]byte("holiday notes\n"), 100)
	if err := bob.SendFile(ctx, "alice@example.com", "notes.txt", data); err != nil {
		t.Fatal(err)
	}
	evt := wait(t, h.rec.events, "the file", func(e bridgev2.RemoteEvent) bool { return e.GetType() == bridgev2.RemoteEventMessage }).(bridgev2.RemoteMessage)
	key := evt.GetPortalKey()
	up := &uploadRecorder{fail: fmt.Errorf("upload: %w", errors.New("connection refused"))}
	if _, err := evt.ConvertMessage(ctx, portalFor(key), up); err == nil {
		t.Fatal("conversion succeeded although the upload failed")
	}
	for i := range 2 {
		cm, err := evt.ConvertMessage(ctx, portalFor(key), up)
		if err != nil || len(cm.Parts) != 1 || cm.Parts[0].Content.MsgType != event.MsgFile || cm.Parts[0].Content.URL != "mxc://example.com/file" {
			t.Fatalf("conversion %d after the outage: %v %+v", i+2, err, cm)
		}
	}
	if up.uploads != 1 || sha256.Sum256(up.data) != sha256.Sum256(data) {
		t.Fatalf("%d uploads of %d bytes; want one of the sent file", up.uploads, len(up.data))
	}
	if !permanentUploadError(mautrix.HTTPError{Response: &http.Response{StatusCode: 413}}) || permanentUploadError(errors.New("EOF")) {
		t.Fatal("upload errors misclassified")
	}
}

// TestReceivedFileTempFilesReleased: a received file not posted yet when the login is logged
// out has its temporary file removed with it, and a temporary file a dead process left
// behind is removed at start once it is older than any transfer could be (a recent one,
// perhaps another bridge's transfer in progress, stays).
func TestReceivedFileTempFilesReleased(t *testing.T) {
	h := newHarness(t, 12)
	f, err := os.CreateTemp("", fileTempPattern)
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	h.client.events.push(nsLane, fileReceived{path: f.Name()}, nil, false) // stopped: it waits
	h.client.dropReceivedFiles()
	if _, err := os.Stat(f.Name()); !os.IsNotExist(err) {
		t.Fatalf("temporary file of an unposted file kept after logout: %v", err)
	}
	if n := h.client.events.waiting(nsLane); n != 0 {
		t.Fatalf("%d items still queued", n)
	}

	old, err := os.CreateTemp("", fileTempPattern)
	if err != nil {
		t.Fatal(err)
	}
	_ = old.Close()
	recent, err := os.CreateTemp("", fileTempPattern)
	if err != nil {
		t.Fatal(err)
	}
	_ = recent.Close()
	t.Cleanup(func() { _ = os.Remove(recent.Name()) })
	past := time.Now().Add(-2 * staleFileAge)
	if err := os.Chtimes(old.Name(), past, past); err != nil {
		t.Fatal(err)
	}
	removeStaleFiles(zerolog.Nop(), time.Now())
	if _, err := os.Stat(old.Name()); !os.IsNotExist(err) {
		t.Fatalf("stale temporary file kept: %v", err)
	}
	if _, err := os.Stat(recent.Name()); err != nil {
		t.Fatalf("recent temporary file removed: %v", err)
	}
}
