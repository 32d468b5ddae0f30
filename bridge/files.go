package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/msnbridge/msnbridge/msn/p2p"
	"github.com/msnbridge/msnbridge/msn/sb"
	"github.com/msnbridge/msnbridge/portal"
)

// DefaultMaxFileSize is the largest file accepted from or offered to MSN when the config
// sets none (network.max_file_size).
const DefaultMaxFileSize = 100 << 20

// maxFileSize is the configured limit on files either way.
func (c *Client) maxFileSize() int64 {
	if c.conn != nil && c.conn.Config.MaxFileSize > 0 {
		return c.conn.Config.MaxFileSize
	}
	return DefaultMaxFileSize
}

// fileReceived is queued on a conversation's lane when an incoming transfer ended.
type fileReceived struct {
	conv *sb.Conversation
	t    *p2p.Transfer
	path string // the temporary file holding the data ("" when the transfer failed)
}

// acceptFile is sb.Config.AcceptFile: every file a contact offers within the size limit (the
// switchboard layer declines larger ones) is accepted, and its data streams to a temporary
// file as it arrives; once complete it is uploaded to Matrix and posted from the contact's
// ghost (postFile). Memory does not grow with the file.
func (c *Client) acceptFile(conv *sb.Conversation, t *p2p.Transfer) io.Writer {
	f, err := os.CreateTemp("", fileTempPattern)
	if err != nil {
		c.log.Err(err).Msg("Cannot store an incoming file: declining it")
		return nil
	}
	go func() {
		<-t.Done()
		path := f.Name()
		if err := f.Close(); err != nil && t.Err() == nil {
			c.log.Err(err).Msg("Failed to close an incoming file")
		}
		if t.Err() != nil {
			_ = os.Remove(path)
			path = ""
		}
		c.events.push(conv, fileReceived{conv: conv, t: t, path: path}, nil, false)
	}()
	return f
}

// fileTempPattern names the temporary files of incoming transfers (in os.TempDir).
const fileTempPattern = "msnbridge-file-*"

// staleFileAge is how old a leftover temporary file must be to be removed at start: far past
// any transfer's timeout, so another bridge process's files in progress are left alone.
const staleFileAge = 24 * time.Hour

// dropReceivedFiles removes the temporary files of received files not posted yet (logout: the
// client will not run again).
func (c *Client) dropReceivedFiles() {
	c.events.discard(func(it any) bool { _, ok := it.(fileReceived); return ok }, func(it any) {
		if fr := it.(fileReceived); fr.path != "" {
			_ = os.Remove(fr.path)
		}
	})
}

// removeStaleFiles removes temporary files of incoming transfers that a process which ended
// (killed, or stopped before posting them) left behind.
func removeStaleFiles(log zerolog.Logger, now time.Time) {
	paths, _ := filepath.Glob(filepath.Join(os.TempDir(), fileTempPattern))
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && now.Sub(st.ModTime()) > staleFileAge {
			if err := os.Remove(p); err == nil {
				log.Debug().Str("path", p).Msg("Removed a leftover temporary file of an incoming transfer")
			}
		}
	}
}

// postFile posts a received file from the contact's ghost as m.image, m.video, m.audio or
// m.file by its content, with its name and size; a transfer that failed gets a notice naming
// the file and why.
func (c *Client) postFile(ctx context.Context, ev fileReceived) {
	key := c.portalKeyFor(ctx, ev.conv)
	from := sb.Participant{Passport: ev.t.Peer}
	if ev.path == "" {
		c.queueContent(ctx, key, from, portal.Notice(fileFailedNotice(c.nameOf(ctx, from), ev.t)))
		return
	}
	path, fi := ev.path, ev.t.File
	// The temporary file stays until the upload worked (or the message was given up).
	delivered := c.queueUpload(ctx, key, ev.t.Peer, "file", func(ctx context.Context, p *bridgev2.Portal, intent bridgev2.MatrixAPI) (*event.MessageEventContent, error) {
		content, err := uploadFile(ctx, p, intent, path, fi)
		if err == nil || permanentUploadError(err) {
			_ = os.Remove(path)
		}
		return content, err
	}, func() *event.MessageEventContent {
		return portal.Notice(fmt.Sprintf("%s sent %s (%s), but the bridge could not upload it to Matrix.", c.nameOf(ctx, from), fi.Name, humanSize(fi.Size)))
	})
	if !delivered {
		_ = os.Remove(path) // given up (or the client stopped): nothing will read it any more
	}
}

// mediaUpload is the data of a media message on its way to Matrix (see queueUpload).
type mediaUpload struct{}

// queueUpload delivers a media message from a contact (deliver.go) whose content is made by
// an upload done at most once: a delivery attempt that failed after the upload (the homeserver
// went away) converts again and reuses it. An upload the homeserver did not answer fails the
// conversion, so bridgev2 stores nothing and the delivery is made again; one it refused
// (permanentUploadError) becomes refused()'s notice. It reports whether the message is in Matrix.
func (c *Client) queueUpload(ctx context.Context, key networkid.PortalKey, from, idPrefix string,
	upload func(context.Context, *bridgev2.Portal, bridgev2.MatrixAPI) (*event.MessageEventContent, error),
	refused func() *event.MessageEventContent) bool {
	var uploaded *event.MessageEventContent
	return c.queueRemote(ctx, &simplevent.Message[mediaUpload]{
		EventMeta: simplevent.EventMeta{Type: bridgev2.RemoteEventMessage, PortalKey: key, CreatePortal: true,
			Sender: c.sender(from, false), Timestamp: time.Now()},
		ID: newMessageID(idPrefix),
		ConvertMessageFunc: func(ctx context.Context, p *bridgev2.Portal, intent bridgev2.MatrixAPI, _ mediaUpload) (*bridgev2.ConvertedMessage, error) {
			if uploaded == nil {
				content, err := upload(ctx, p, intent)
				if err != nil {
					c.log.Err(err).Str("portal_id", string(key.ID)).Msg("Failed to upload media from a contact")
					if !permanentUploadError(err) {
						return nil, err // not stored: handed over again once the homeserver is back
					}
					content = refused()
				}
				uploaded = content
			}
			return &bridgev2.ConvertedMessage{Parts: []*bridgev2.ConvertedMessagePart{{Type: event.EventMessage, Content: uploaded}}}, nil
		},
	})
}

// permanentUploadError reports whether the homeserver refused an upload for good (a 4xx
// answer: too large, forbidden), as opposed to not answering (worth another attempt).
func permanentUploadError(err error) bool {
	var httpErr mautrix.HTTPError
	if errors.As(err, &httpErr) && httpErr.Response != nil {
		return httpErr.Response.StatusCode >= 400 && httpErr.Response.StatusCode < 500
	}
	var pathErr *fs.PathError
	return errors.As(err, &pathErr) // the temporary file is gone: nothing to upload any more
}

// fileFailedNotice says that a file from name did not arrive, and why.
func fileFailedNotice(name string, t *p2p.Transfer) string {
	why := "the transfer failed"
	switch err := t.Err(); {
	case errors.Is(err, p2p.ErrTimeout):
		why = "the transfer timed out"
	case errors.Is(err, p2p.ErrClosed):
		why = "the transfer was cancelled"
	}
	return fmt.Sprintf("%s's file %s (%s) was not received: %s.", name, t.File.Name, humanSize(t.File.Size), why)
}

// uploadFile uploads the file at path to Matrix media for the portal (encrypted when the room
// is) and returns the message content: the msgtype by the data's type, the name and size.
func uploadFile(ctx context.Context, p *bridgev2.Portal, intent bridgev2.MatrixAPI, path string, fi p2p.FileInfo) (*event.MessageEventContent, error) {
	if intent == nil {
		return nil, errors.New("no Matrix intent")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	mimeType := sniffFileType(f, fi.Name)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	url, file, err := intent.UploadMediaStream(ctx, p.MXID, st.Size(), false, func(w io.Writer) (*bridgev2.FileStreamResult, error) {
		if _, err := io.Copy(w, f); err != nil {
			return nil, err
		}
		return &bridgev2.FileStreamResult{FileName: fi.Name, MimeType: mimeType}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("uploading %s: %w", fi.Name, err)
	}
	content := &event.MessageEventContent{
		MsgType:  msgTypeFor(mimeType),
		Body:     fi.Name,
		FileName: fi.Name,
		Info:     &event.FileInfo{MimeType: mimeType, Size: int(st.Size())},
	}
	setMediaURL(content, url, file)
	return content, nil
}

// setMediaURL points content at uploaded media: the encrypted file's URL in an encrypted
// room, the plain URL otherwise.
func setMediaURL(content *event.MessageEventContent, url id.ContentURIString, file *event.EncryptedFileInfo) {
	if file != nil {
		file.URL = url
		content.File = file
	} else {
		content.URL = url
	}
}

// sniffFileType returns the MIME type of a file from its first bytes, or from its name's
// extension when the bytes say nothing more specific.
func sniffFileType(r io.Reader, name string) string {
	head := make([]byte, 512)
	n, _ := io.ReadFull(r, head)
	t := http.DetectContentType(head[:n])
	if t == "application/octet-stream" || strings.HasPrefix(t, "text/plain") {
		if byExt := mime.TypeByExtension(strings.ToLower(filepath.Ext(name))); byExt != "" {
			return byExt
		}
	}
	return t
}

// msgTypeFor picks the Matrix msgtype for a MIME type.
func msgTypeFor(mimeType string) event.MessageType {
	switch {
	case strings.HasPrefix(mimeType, "image/"):
		return event.MsgImage
	case strings.HasPrefix(mimeType, "video/"):
		return event.MsgVideo
	case strings.HasPrefix(mimeType, "audio/"):
		return event.MsgAudio
	}
	return event.MsgFile
}

// declinedFileNotice is the notice for a file offer the bridge declined: over the size limit,
// or one it could not take.
func declinedFileNotice(name string, fi p2p.FileInfo, limit int64) string {
	if fi.Size > uint64(limit) {
		return fmt.Sprintf("%s wanted to send %s (%s), which is over the bridge's limit of %s: the transfer was declined.", name, fi.Name, humanSize(fi.Size), humanSize(uint64(limit)))
	}
	return fmt.Sprintf("%s wanted to send %s (%s), but the bridge could not accept it.", name, fi.Name, humanSize(fi.Size))
}
