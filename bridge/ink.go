package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"

	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/sb"
	"github.com/msnbridge/msnbridge/portal"
)

// Ink (a handwritten message) is posted as this image.
const (
	inkFileName = "ink.gif"
	inkMimeType = "image/gif"
)

// inkNotice is the notice for ink the bridge cannot show (ISF, or a GIF that did not decode).
func inkNotice(name string) *event.MessageEventContent {
	return portal.Notice(name + " sent a handwritten message the bridge cannot show.")
}

// postInk posts a contact's ink message: a decoded GIF is uploaded and posted from the
// contact's ghost as m.image through the delivered-message path (queueRemote); ISF ink or a
// body that did not decode becomes a notice.
func (c *Client) postInk(ctx context.Context, key networkid.PortalKey, ev *sb.ContentEvent) {
	name := c.nameOf(ctx, ev.Sender)
	var ink *message.Ink
	if ev.Kind == message.KindInk && ev.Message != nil {
		ink = ev.Message.Ink
	}
	if ink == nil || ink.Err != nil || len(ink.GIF) == 0 {
		if ink != nil && ink.Err != nil {
			c.log.Debug().Err(ink.Err).Str("from", ev.Sender.Passport).Msg("Ink message did not decode")
		}
		c.queueContent(ctx, key, ev.Sender, inkNotice(name))
		return
	}
	c.queueUpload(ctx, key, ev.Sender.Passport, "ink", func(ctx context.Context, p *bridgev2.Portal, intent bridgev2.MatrixAPI) (*event.MessageEventContent, error) {
		return uploadInk(ctx, p, intent, ink)
	}, func() *event.MessageEventContent { return inkNotice(name) })
}

// uploadInk uploads an ink GIF to Matrix media for the portal (encrypted when the room is) and
// returns its m.image content with the size and dimensions.
func uploadInk(ctx context.Context, p *bridgev2.Portal, intent bridgev2.MatrixAPI, ink *message.Ink) (*event.MessageEventContent, error) {
	if intent == nil {
		return nil, errors.New("no Matrix intent")
	}
	url, file, err := intent.UploadMediaStream(ctx, p.MXID, int64(len(ink.GIF)), false, func(w io.Writer) (*bridgev2.FileStreamResult, error) {
		if _, err := io.Copy(w, bytes.NewReader(ink.GIF)); err != nil {
			return nil, err
		}
		return &bridgev2.FileStreamResult{FileName: inkFileName, MimeType: inkMimeType}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("uploading ink: %w", err)
	}
	content := &event.MessageEventContent{
		MsgType:  event.MsgImage,
		Body:     inkFileName,
		FileName: inkFileName,
		Info:     &event.FileInfo{MimeType: inkMimeType, Size: len(ink.GIF), Width: ink.Width, Height: ink.Height},
	}
	setMediaURL(content, url, file)
	return content, nil
}
