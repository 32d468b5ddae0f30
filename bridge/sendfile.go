package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/msnbridge/msnbridge/database"
	"github.com/msnbridge/msnbridge/msn/p2p"
	"github.com/msnbridge/msnbridge/msn/sb"
)

// mediaDownloader fetches a Matrix media file (decrypting it when file is set) into a
// temporary file and runs fn on it; bridgeSide implements it.
type mediaDownloader interface {
	DownloadMediaFile(ctx context.Context, uri id.ContentURIString, file *event.EncryptedFileInfo, fn func(*os.File) error) error
}

// DownloadMediaFile downloads media with the bridge bot through a temporary file.
func (b *bridgeSide) DownloadMediaFile(ctx context.Context, uri id.ContentURIString, file *event.EncryptedFileInfo, fn func(*os.File) error) error {
	return b.br.Bot.DownloadMediaToFile(ctx, uri, file, false, fn)
}

var _ mediaDownloader = (*bridgeSide)(nil)

// fileSendTimeout bounds a whole file offer from Matrix: the contact's answer and the data.
const fileSendTimeout = 10 * time.Minute

// isFileMessage reports whether a Matrix message is media offered to MSN as a file transfer.
func isFileMessage(msg *bridgev2.MatrixMessage) bool {
	if msg.Event != nil && msg.Event.Type == event.EventSticker {
		return true
	}
	switch msg.Content.MsgType {
	case event.MsgImage, event.MsgFile, event.MsgVideo, event.MsgAudio:
		return true
	}
	return false
}

// outgoingFileName is the name a Matrix file is offered under: its filename, else its body
// when that looks like one, else a name from its type.
func outgoingFileName(content *event.MessageEventContent, sticker bool) string {
	name := strings.TrimSpace(content.FileName)
	if name == "" && !strings.ContainsAny(content.Body, "\n") && len(content.Body) <= 200 && filepath.Ext(content.Body) != "" {
		name = strings.TrimSpace(content.Body)
	}
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if name != "" {
		return name
	}
	base := "file"
	switch {
	case sticker:
		base = "sticker"
	case content.MsgType == event.MsgImage:
		base = "image"
	case content.MsgType == event.MsgVideo:
		base = "video"
	case content.MsgType == event.MsgAudio:
		base = "audio"
	}
	if content.Info != nil && content.Info.MimeType != "" {
		if exts, _ := mime.ExtensionsByType(content.Info.MimeType); len(exts) > 0 {
			return base + exts[0]
		}
	}
	return base
}

// sendMatrixFile offers a Matrix file to the contact of a DM, or to every participant of a
// group, as an MSN file transfer with its original name. It checks what it can at once and
// downloads the file, then returns with the message pending: the offer (the contact's answer,
// up to 2 minutes, and the data) runs in the background, so that the room's other messages,
// both ways, are not held behind it, as a Messenger client does not hold a conversation behind a
// file it offers. The outcome comes back through bridgev2's pending-message mechanism, as the
// remote echo of the message (fileEcho): delivered when at least one contact accepted and got
// all the data (in a group the room is told who did not), failed with the reason otherwise.
func (c *Client) sendMatrixFile(ctx context.Context, msg *bridgev2.MatrixMessage) (*bridgev2.MatrixMessageResponse, error) {
	content := msg.Content
	sticker := msg.Event != nil && msg.Event.Type == event.EventSticker
	name := outgoingFileName(content, sticker)
	limit := c.maxFileSize()
	if content.Info != nil && int64(content.Info.Size) > limit {
		return nil, statusErr(fmt.Errorf("%s is %s, over the bridge's limit of %s for files", name, humanSize(uint64(content.Info.Size)), humanSize(uint64(limit))), event.MessageStatusUnsupported)
	}
	dl, ok := c.mx.(mediaDownloader)
	if !ok {
		return nil, statusErr(errors.New("this bridge cannot download Matrix media"), event.MessageStatusUnsupported)
	}
	uri, file := content.URL, content.File
	if file != nil {
		uri = file.URL
	}
	if uri == "" {
		return nil, statusErr(errors.New("the file has no URL"), event.MessageStatusUnsupported)
	}
	conv, passport, err := c.conversationFor(ctx, msg.Portal)
	if err != nil {
		return nil, visibleErr(err)
	}
	targets := []string{passport}
	if conv.IsGroup() {
		targets = targets[:0]
		for _, p := range conv.Participants() {
			targets = append(targets, strings.ToLower(p.Passport))
		}
		if len(targets) == 0 {
			return nil, statusErr(errors.New("nobody is in this group conversation"), event.MessageStatusUnsupported)
		}
	}
	if _, mgr := c.session(); mgr == nil {
		return nil, ErrNotConnected
	}
	key := msg.Portal.PortalKey
	if c.files.queued(key) >= maxQueuedFiles {
		return nil, statusErr(fmt.Errorf("%s was not sent: %d files of this room are already waiting for their contacts; send it again once they are through", name, maxQueuedFiles), event.MessageStatusGenericError)
	}
	path, size, err := keepMatrixFile(ctx, dl, uri, file, name, limit)
	if err != nil {
		return nil, err
	}
	dbMsg := &bridgedb.Message{
		ID:        newMessageID("mxfile"),
		SenderID:  c.GetUserID(),
		Timestamp: time.Now(),
		Metadata:  &database.MessageMetadata{Snippet: "[" + name + "]", SenderName: c.ownName()},
	}
	txn := networkid.TransactionID(dbMsg.ID)
	done := make(chan error, 1) // the outcome, sent before the echo is queued
	c.mx.AddPendingSend(msg, dbMsg, txn, func(bridgev2.RemoteMessage, *bridgedb.Message) (bool, error) {
		err := <-done
		return err == nil, err
	})
	portal := msg.Portal
	log := zerolog.Ctx(ctx).With().Str("file", name).Str("txn_id", string(txn)).Logger()
	c.files.add(key, func() {
		outcome := statusErr(fmt.Errorf("%s was not delivered: the bridge failed while offering it", name), event.MessageStatusGenericError)
		defer func() {
			if r := recover(); r != nil {
				log.Error().Any("panic", r).Msg("Panic while offering a file sent from Matrix")
			}
			_ = os.Remove(path)
			done <- outcome
			if !c.mx.QueueRemoteEvent(c.fileEcho(key, dbMsg, txn)) {
				c.mx.RemovePendingSend(msg, txn)
				log.Warn().Msg("The outcome of a file sent from Matrix could not be handed to bridgev2; the file gets no status")
			}
		}()
		// The offer outlives the Matrix event's handling; it ends with its own timeout, or
		// when the switchboard manager closes (logout, shutdown).
		ctx, cancel := context.WithTimeout(log.WithContext(context.Background()), fileSendTimeout)
		defer cancel()
		_, mgr := c.session()
		if mgr == nil {
			outcome = fileSendError(name, ErrNotConnected)
			return
		}
		outcome = c.fileOutcome(ctx, portal, name, targets, c.offerToAll(ctx, mgr, targets, name, path, size))
	})
	return &bridgev2.MatrixMessageResponse{DB: dbMsg, Pending: true}, nil
}

// maxQueuedFiles bounds the files of one room offered or waiting to be offered: each holds a
// temporary copy of the file until its contacts answered.
const maxQueuedFiles = 8

// fileSends runs the offers of files sent from Matrix in the background: one room's files one
// after the other, in the order they were sent (as the room's event queue did when the handler
// waited for each), so a contact gets them in order and one room never asks a contact for
// more transfers than it allows at once; rooms run in parallel. The zero value is ready.
type fileSends struct {
	mu    sync.Mutex
	rooms map[networkid.PortalKey][]func() // the room's offers: the first one runs
	// pending counts the offers added and not ended; idle is closed while it is 0 (nil: not
	// made yet, as good as closed). A counter rather than a WaitGroup: offers may be added
	// while Disconnect waits.
	pending int
	idle    chan struct{}
}

// queued is how many files of the room are offered or waiting.
func (fs *fileSends) queued(key networkid.PortalKey) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.rooms[key])
}

// add queues an offer of the room; a room's first offer starts its worker, which ends with
// the room's last offer (no goroutine waits while nothing is queued).
func (fs *fileSends) add(key networkid.PortalKey, offer func()) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.rooms == nil {
		fs.rooms = make(map[networkid.PortalKey][]func())
	}
	fs.rooms[key] = append(fs.rooms[key], offer)
	if fs.pending == 0 {
		fs.idle = make(chan struct{})
	}
	fs.pending++
	if len(fs.rooms[key]) == 1 {
		go fs.run(key)
	}
}

// run runs the room's offers until none is left.
func (fs *fileSends) run(key networkid.PortalKey) {
	for {
		fs.mu.Lock()
		offer := fs.rooms[key][0]
		fs.mu.Unlock()
		offer()
		fs.mu.Lock()
		if fs.pending--; fs.pending == 0 {
			close(fs.idle)
		}
		queue := fs.rooms[key]
		if len(queue) == 1 {
			delete(fs.rooms, key)
			fs.mu.Unlock()
			return
		}
		queue[0] = nil // the ended offer's closure is not kept by the array
		fs.rooms[key] = queue[1:]
		fs.mu.Unlock()
	}
}

// wait waits up to d for the offers queued now, and any added meanwhile, to end; false when
// some are still running.
func (fs *fileSends) wait(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		fs.mu.Lock()
		idle, pending := fs.idle, fs.pending
		fs.mu.Unlock()
		if pending == 0 {
			return true
		}
		select {
		case <-idle: // look again: another offer may have been added since
		case <-timer.C:
			return false
		}
	}
}

// keepMatrixFile downloads a Matrix file into a temporary file of the bridge's own, which
// outlives the download and is removed by the caller once the offer ended (or, if the bridge
// stopped first, at a later start: removeStaleFiles). It returns the path and the size.
func keepMatrixFile(ctx context.Context, dl mediaDownloader, uri id.ContentURIString, file *event.EncryptedFileInfo, name string, limit int64) (string, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, fileSendTimeout)
	defer cancel()
	var path string
	var size int64
	err := dl.DownloadMediaFile(ctx, uri, file, func(f *os.File) error {
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if st.Size() > limit {
			return statusErr(fmt.Errorf("%s is %s, over the bridge's limit of %s for files", name, humanSize(uint64(st.Size())), humanSize(uint64(limit))), event.MessageStatusUnsupported)
		}
		if path, err = keepDownload(f); err != nil {
			return err
		}
		size = st.Size()
		return nil
	})
	if err != nil {
		var ms bridgev2.MessageStatus
		if errors.As(err, &ms) {
			return "", 0, err
		}
		return "", 0, statusErr(fmt.Errorf("downloading the file from Matrix: %w", err), event.MessageStatusGenericError)
	}
	return path, size, nil
}

// keepDownload gives the downloaded file f a name of the bridge's own (matching
// fileTempPattern), so that it outlives the download: a hard link, which copies nothing (both
// names are in the temporary directory), or else a copy.
func keepDownload(f *os.File) (string, error) {
	kept, err := os.CreateTemp("", fileTempPattern)
	if err != nil {
		return "", err
	}
	if linked := kept.Name() + "-l"; os.Link(f.Name(), linked) == nil {
		_ = kept.Close()
		_ = os.Remove(kept.Name())
		return linked, nil
	}
	_, err = f.Seek(0, io.SeekStart)
	if err == nil {
		_, err = io.Copy(kept, f)
	}
	if cerr := kept.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(kept.Name())
		return "", err
	}
	return kept.Name(), nil
}

// fileOutcome is the message status of a file offered to targets, from the failures by
// passport: nil when at least one got it (the room is told who did not), the reason when
// nobody did.
func (c *Client) fileOutcome(ctx context.Context, portal *bridgev2.Portal, name string, targets []string, errs map[string]error) error {
	if len(errs) == len(targets) {
		return fileSendError(name, errs[targets[0]])
	}
	if len(errs) > 0 {
		var failed []string
		for p, e := range errs {
			failed = append(failed, fmt.Sprintf("%s (%s)", p, fileFailureReason(e)))
		}
		sort.Strings(failed)
		// The offer's context may be spent after a long transfer: the notice gets its own.
		nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		c.sendPortalNotice(nctx, portal, fmt.Sprintf("%s did not reach %s.", name, strings.Join(failed, ", ")))
	}
	return nil
}

// fileEcho is the remote echo of a file sent from Matrix: bridgev2 matches it to the pending
// message by txn and asks the handler given to AddPendingSend for the outcome; it is never
// shown as a message of its own.
func (c *Client) fileEcho(key networkid.PortalKey, dbMsg *bridgedb.Message, txn networkid.TransactionID) bridgev2.RemoteEvent {
	return &simplevent.Message[struct{}]{
		EventMeta: simplevent.EventMeta{
			Type:      bridgev2.RemoteEventMessage,
			PortalKey: key,
			Sender:    c.sender("", true),
			// bridgev2 saves the message with the echo's time: keep the time it was sent.
			Timestamp: dbMsg.Timestamp,
		},
		ID:            dbMsg.ID,
		TransactionID: txn,
		ConvertMessageFunc: func(context.Context, *bridgev2.Portal, bridgev2.MatrixAPI, struct{}) (*bridgev2.ConvertedMessage, error) {
			// Reached only when bridgev2 forgot the pending message (the portal was deleted).
			return nil, fmt.Errorf("%w: the outcome of file %s arrived with no pending message for it", bridgev2.ErrIgnoringRemoteEvent, dbMsg.ID)
		},
	}
}

// offerToAll offers the file at path to every passport at once (each with its own reader) and
// returns the failures by passport.
func (c *Client) offerToAll(ctx context.Context, mgr *sb.Manager, passports []string, name, path string, size int64) map[string]error {
	var mu sync.Mutex
	errs := map[string]error{}
	var wg sync.WaitGroup
	for _, p := range passports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						c.log.Error().Any("panic", r).Str("contact", p).Msg("Panic while offering a file")
						err = fmt.Errorf("the bridge failed while offering the file: %v", r)
					}
				}()
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				defer f.Close()
				return mgr.SendFile(ctx, p, name, size, f)
			}()
			if err != nil {
				c.log.Debug().Err(err).Str("contact", p).Msg("File offer failed")
				mu.Lock()
				errs[p] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// fileFailureReason says in a few words why an offer failed.
func fileFailureReason(err error) string {
	switch {
	case errors.Is(err, p2p.ErrDeclined):
		return "declined"
	case errors.Is(err, sb.ErrOffline):
		return "offline"
	case errors.Is(err, p2p.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, sb.ErrTimeout):
		return "timed out"
	case errors.Is(err, p2p.ErrClosed):
		return "cancelled"
	case errors.Is(err, sb.ErrClosed), errors.Is(err, ErrNotConnected):
		return "disconnected"
	case errors.Is(err, p2p.ErrBusy):
		return "busy"
	}
	return "failed"
}

// fileSendError is the message status of a file that reached nobody.
func fileSendError(name string, err error) error {
	reason := fileFailureReason(err)
	text := fmt.Sprintf("%s was not delivered: the contact %s", name, map[string]string{
		"declined":  "declined it",
		"offline":   "is offline",
		"timed out": "did not accept it in time",
		"cancelled": "cancelled the transfer",
		"failed":    "could not receive it",
		// The bridge's MSN connection ended (logout, shutdown, a drop) before it was through.
		"disconnected": "could not get it before the bridge was disconnected from MSN",
		"busy":         "has too many file transfers in progress",
	}[reason])
	st := event.MessageStatusGenericError
	if reason == "offline" || reason == "timed out" || reason == "disconnected" || reason == "busy" {
		st = event.MessageStatusNetworkError
	}
	return statusErr(fmt.Errorf("%s: %w", text, err), st)
}
