package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // decoders for Matrix avatars
	_ "image/jpeg"
	"image/png"
	"io"
	"os"
	"sync"
	"time"

	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/id"

	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/msn/p2p"
)

// Bounds of the user's own display picture (Matrix avatar → MSN).
const (
	// displayPictureSide is the size MSN clients expect of a display picture: 96×96.
	displayPictureSide = 96
	// maxAvatarDownload bounds the Matrix avatar file read.
	maxAvatarDownload = 10 << 20
	// maxAvatarPixels bounds the decoded avatar (checked from the header before decoding).
	maxAvatarPixels = 25 << 20
	// ownPictureTimeout bounds one update (profile, download, conversion, CHG).
	ownPictureTimeout = 2 * time.Minute
	// ownPictureRefresh is how often the user's Matrix avatar is checked for changes while
	// connected (bridgev2 does not report the user's own profile changes).
	ownPictureRefresh = 15 * time.Minute
)

// bridgeSide reads the user's avatar and uploads contacts' pictures.
var (
	_ ownAvatarSource = (*bridgeSide)(nil)
	_ avatarUploader  = (*bridgeSide)(nil)
)

// errNotImage: the avatar could not be decoded as PNG, JPEG or GIF.
var errNotImage = errors.New("avatar is not a PNG, JPEG or GIF image")

// displayPicture turns an image (PNG, JPEG or GIF) into what MSN clients expect: a 96×96
// PNG, centre-cropped to a square and scaled by averaging.
func displayPicture(data []byte) ([]byte, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNotImage, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxAvatarPixels {
		return nil, fmt.Errorf("avatar of %d×%d pixels is too large", cfg.Width, cfg.Height)
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNotImage, err)
	}
	b := src.Bounds()
	side := min(b.Dx(), b.Dy())
	crop := image.Rect(b.Min.X+(b.Dx()-side)/2, b.Min.Y+(b.Dy()-side)/2, 0, 0)
	crop.Max = crop.Min.Add(image.Pt(side, side))
	dst := image.NewNRGBA(image.Rect(0, 0, displayPictureSide, displayPictureSide))
	// Each destination pixel averages a grid of up to 4×4 samples of its source square.
	samples := min(4, max(1, side/displayPictureSide))
	for y := 0; y < displayPictureSide; y++ {
		for x := 0; x < displayPictureSide; x++ {
			var r, g, bl, a uint64
			for sy := 0; sy < samples; sy++ {
				for sx := 0; sx < samples; sx++ {
					px := crop.Min.X + ((x*samples+sx)*side+side/2)/(displayPictureSide*samples)
					py := crop.Min.Y + ((y*samples+sy)*side+side/2)/(displayPictureSide*samples)
					c := color.NRGBA64Model.Convert(src.At(px, py)).(color.NRGBA64)
					r, g, bl, a = r+uint64(c.R), g+uint64(c.G), bl+uint64(c.B), a+uint64(c.A)
				}
			}
			n := uint64(samples * samples)
			dst.SetNRGBA(x, y, color.NRGBA{R: uint8(r / n >> 8), G: uint8(g / n >> 8), B: uint8(bl / n >> 8), A: uint8(a / n >> 8)})
		}
	}
	var out bytes.Buffer
	if err := png.Encode(&out, dst); err != nil {
		return nil, fmt.Errorf("encode display picture: %w", err)
	}
	return out.Bytes(), nil
}

// ownAvatarSource is implemented by a matrixSide that can read the user's Matrix avatar
// (bridgeSide; test doubles may).
type ownAvatarSource interface {
	// OwnAvatarURL returns the user's current Matrix avatar ("" for none).
	OwnAvatarURL(ctx context.Context) (id.ContentURIString, error)
	// DownloadAvatar returns the file of an avatar, at most limit bytes.
	DownloadAvatar(ctx context.Context, uri id.ContentURIString, limit int64) ([]byte, error)
}

// OwnAvatarURL reads the user's Matrix profile with the bridge bot.
func (b *bridgeSide) OwnAvatarURL(ctx context.Context) (id.ContentURIString, error) {
	as, ok := b.br.Bot.(*matrix.ASIntent)
	if !ok || b.login == nil || b.login.UserLogin == nil {
		return "", errors.New("no Matrix client to read the profile with")
	}
	profile, err := as.Matrix.GetProfile(ctx, b.login.UserMXID)
	if err != nil {
		return "", fmt.Errorf("get profile: %w", err)
	}
	return profile.AvatarURL.CUString(), nil
}

// DownloadAvatar downloads an avatar through a temporary file, reading at most limit bytes.
func (b *bridgeSide) DownloadAvatar(ctx context.Context, uri id.ContentURIString, limit int64) ([]byte, error) {
	var data []byte
	err := b.br.Bot.DownloadMediaToFile(ctx, uri, nil, false, func(f *os.File) error {
		var err error
		data, err = io.ReadAll(io.LimitReader(f, limit+1))
		if err == nil && int64(len(data)) > limit {
			err = fmt.Errorf("avatar larger than %d bytes", limit)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("download avatar: %w", err)
	}
	return data, nil
}

// ownPicture is the user's display picture as served to contacts.
type ownPicture struct {
	mu      sync.Mutex
	src     id.ContentURIString // the Matrix avatar it was made from
	obj     *p2p.MSNObject
	data    []byte
	running bool            // an update is in progress
	loop    context.Context // the context of the refresh loop that runs (nil: none)
}

// ownObject serves our display picture to contacts who ask for it (sb Config.P2P.Objects).
func (c *Client) ownObject(sha1d string) ([]byte, bool) {
	c.ownPic.mu.Lock()
	defer c.ownPic.mu.Unlock()
	if c.ownPic.obj == nil || c.ownPic.obj.SHA1D != sha1d {
		return nil, false
	}
	return c.ownPic.data, true
}

// syncOwnPicture makes the user's Matrix avatar their MSN display picture, in the
// background (a new session has none until then), and keeps checking it while the login
// runs.
func (c *Client) syncOwnPicture() {
	if _, ok := c.mx.(ownAvatarSource); !ok {
		return
	}
	q := c.avatarQueue()
	c.ownPic.mu.Lock()
	startLoop := c.ownPic.loop != q.ctx
	c.ownPic.loop = q.ctx
	c.ownPic.mu.Unlock()
	go c.updateOwnPicture(q.ctx)
	if startLoop {
		go func() {
			t := time.NewTicker(ownPictureRefresh)
			defer t.Stop()
			for {
				select {
				case <-q.ctx.Done():
					return
				case <-t.C:
					c.updateOwnPicture(q.ctx)
				}
			}
		}()
	}
}

// updateOwnPicture runs one update unless one is running.
func (c *Client) updateOwnPicture(ctx context.Context) {
	c.ownPic.mu.Lock()
	if c.ownPic.running {
		c.ownPic.mu.Unlock()
		return
	}
	c.ownPic.running = true
	c.ownPic.mu.Unlock()
	defer func() {
		c.ownPic.mu.Lock()
		c.ownPic.running = false
		c.ownPic.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(ctx, ownPictureTimeout)
	defer cancel()
	if err := c.applyOwnPicture(ctx); err != nil {
		c.log.Warn().Err(err).Msg("Failed to set the Matrix avatar as MSN display picture")
	}
}

// applyOwnPicture reads the user's Matrix avatar and, when it differs from what the session
// announces, converts it and announces it with CHG.
func (c *Client) applyOwnPicture(ctx context.Context) error {
	src, ok := c.mx.(ownAvatarSource)
	sess, _ := c.session()
	if !ok || sess == nil || sess.Version() < 9 {
		return nil
	}
	uri, err := src.OwnAvatarURL(ctx)
	if err != nil {
		return err
	}
	c.ownPic.mu.Lock()
	obj := c.ownPic.obj
	same := obj != nil && c.ownPic.src == uri
	c.ownPic.mu.Unlock()
	if uri == "" {
		c.ownPic.mu.Lock()
		c.ownPic.src, c.ownPic.obj, c.ownPic.data = "", nil, nil
		c.ownPic.mu.Unlock()
		if sess.MSNObject() == "" {
			return nil
		}
		return c.announceOwnPicture(ctx, sess, "")
	}
	if !same {
		raw, err := src.DownloadAvatar(ctx, uri, maxAvatarDownload)
		if err != nil {
			return err
		}
		pic, err := displayPicture(raw)
		if err != nil {
			return err
		}
		obj = p2p.NewMSNObject(sess.Passport(), p2p.ObjectDisplayPicture, pic, "", "")
		c.ownPic.mu.Lock()
		c.ownPic.src, c.ownPic.obj, c.ownPic.data = uri, obj, pic
		c.ownPic.mu.Unlock()
	}
	if sess.MSNObject() == obj.String() {
		return nil
	}
	return c.announceOwnPicture(ctx, sess, obj.String())
}

// announceOwnPicture sends our MSNObject with CHG. Watchers below MSNP16 see a new
// MSNObject only with a status change (SERVER-NOTES item 19), so the status goes to another
// one and back (not while hidden: nobody sees it then).
func (c *Client) announceOwnPicture(ctx context.Context, sess *ns.Session, obj string) error {
	if err := sess.SetMSNObject(ctx, obj); err != nil {
		return fmt.Errorf("announce display picture: %w", err)
	}
	st := sess.Status()
	if st == ns.Hidden {
		return nil
	}
	other := ns.Idle
	if st == ns.Idle {
		other = ns.Away
	}
	if err := sess.SetStatus(ctx, other); err != nil {
		return fmt.Errorf("announce display picture (status change): %w", err)
	}
	if err := sess.SetStatus(ctx, st); err != nil {
		return fmt.Errorf("announce display picture (status back to %s): %w", st, err)
	}
	c.log.Debug().Bool("removed", obj == "").Msg("Announced the display picture")
	return nil
}
