package bridge

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"

	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/msn/p2p"
)

// Bounds of display-picture fetching (contacts' pictures → ghost avatars).
const (
	// avatarWorkers is how many pictures one login fetches at once: a login with hundreds of
	// contacts opens at most this many switchboards for pictures at a time (each is closed
	// after its fetch, see sb.Conversation.FetchObject).
	avatarWorkers = 2
	// avatarFetchTimeout bounds one fetch, from the switchboard request to the last byte.
	avatarFetchTimeout = 90 * time.Second
	// avatarRetryMin/Max: a failed fetch is retried after avatarRetryMin, doubling up to Max.
	avatarRetryMin = 5 * time.Minute
	avatarRetryMax = 6 * time.Hour
	// maxAvatarQueue bounds the contacts waiting for a fetch per login (the latest object of
	// a contact replaces its earlier one).
	maxAvatarQueue = 4096
	// maxAvatarCache bounds the bridge-wide cache of uploaded pictures.
	maxAvatarCache = 8192
	// maxAvatarBytes bounds one picture (display pictures are a few KiB to tens of KiB).
	maxAvatarBytes = 1 << 20
)

// avatarID is a ghost's avatar id for a picture: its SHA1D, the same for every user who
// has that contact.
func avatarID(sha1d string) networkid.AvatarID { return networkid.AvatarID("sha1d:" + sha1d) }

// uploadedAvatar is a picture already in the Matrix media repository.
type uploadedAvatar struct {
	mxc  id.ContentURIString
	hash [32]byte
}

// avatarCache is the bridge-wide cache of display pictures by SHA1D: each picture is fetched
// and uploaded once, however many users share the contact (or contacts share the picture).
type avatarCache struct {
	mu       sync.Mutex
	uploaded map[string]uploadedAvatar
	inflight map[string]chan struct{} // a fetch of that SHA1D in progress; closed when it ends
}

func (c *Connector) avatarCache() *avatarCache {
	c.avatarsOnce.Do(func() {
		c.avatars = &avatarCache{uploaded: make(map[string]uploadedAvatar), inflight: make(map[string]chan struct{})}
	})
	return c.avatars
}

func (a *avatarCache) get(sha1d string) (uploadedAvatar, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.uploaded[sha1d]
	return u, ok
}

func (a *avatarCache) put(sha1d string, u uploadedAvatar) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.uploaded) >= maxAvatarCache {
		for k := range a.uploaded { // drop an arbitrary entry: a miss only costs a re-fetch
			delete(a.uploaded, k)
			break
		}
	}
	a.uploaded[sha1d] = u
}

// claim makes the caller the fetcher of sha1d (done must be called when it ended), or
// returns the channel of the fetch already in progress.
func (a *avatarCache) claim(sha1d string) (done func(), wait <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ch, ok := a.inflight[sha1d]; ok {
		return nil, ch
	}
	ch := make(chan struct{})
	a.inflight[sha1d] = ch
	return func() {
		a.mu.Lock()
		delete(a.inflight, sha1d)
		a.mu.Unlock()
		close(ch)
	}, nil
}

// avatarUploader is implemented by a matrixSide that can upload media and tell a ghost's
// current avatar (bridgeSide; test doubles may).
type avatarUploader interface {
	UploadAvatar(ctx context.Context, data []byte) (id.ContentURIString, error)
	GhostAvatarID(ctx context.Context, ghostID networkid.UserID) (networkid.AvatarID, error)
}

// UploadAvatar uploads a picture to the media repository as the bridge bot.
func (b *bridgeSide) UploadAvatar(ctx context.Context, data []byte) (id.ContentURIString, error) {
	if b.br == nil || b.br.Bot == nil {
		return "", errors.New("no bridge bot to upload with")
	}
	mime := http.DetectContentType(data)
	uri, _, err := b.br.Bot.UploadMedia(ctx, "", data, "avatar"+extensionFor(mime), mime)
	if err != nil {
		return "", fmt.Errorf("upload avatar: %w", err)
	}
	return uri, nil
}

// GhostAvatarID returns the avatar id the ghost has now ("" for none).
func (b *bridgeSide) GhostAvatarID(ctx context.Context, ghostID networkid.UserID) (networkid.AvatarID, error) {
	ghost, err := b.br.GetGhostByID(ctx, ghostID)
	if err != nil {
		return "", fmt.Errorf("get ghost: %w", err)
	}
	if ghost.AvatarMXC == "" || !ghost.AvatarSet {
		return "", nil
	}
	return ghost.AvatarID, nil
}

func extensionFor(mime string) string {
	switch mime {
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/gif":
		return ".gif"
	case "image/bmp":
		return ".bmp"
	}
	return ""
}

// avatarJob is a contact whose picture should be on their ghost.
type avatarJob struct {
	passport string
	obj      *p2p.MSNObject
	attempt  int
}

// avatarQueue fetches one login's contacts' pictures in the background: at most
// avatarWorkers at once, never on the event lanes, so messages never wait for pictures.
type avatarQueue struct {
	c *Client

	mu      sync.Mutex
	pending map[string]*avatarJob // passport → latest wanted object
	order   []string              // passports in arrival order
	running int
	shown   map[string]string // passport → SHA1D set on the ghost (or being set)
	timers  map[string]*time.Timer
	stopped bool
	ctx     context.Context
	cancel  context.CancelFunc

	// fetch gets a picture [the login's switchboard manager]; tests replace it.
	fetch func(ctx context.Context, obj *p2p.MSNObject) ([]byte, error)
	// retryMin is avatarRetryMin; tests shorten it.
	retryMin time.Duration
	// idle, when set (tests), gets a value each time the last worker ends.
	idle chan struct{}
}

func (c *Client) avatarQueue() *avatarQueue {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dp == nil {
		ctx, cancel := context.WithCancel(context.Background())
		c.dp = &avatarQueue{
			c: c, pending: make(map[string]*avatarJob), shown: make(map[string]string),
			timers: make(map[string]*time.Timer), ctx: ctx, cancel: cancel,
			fetch: c.fetchObject, retryMin: avatarRetryMin,
		}
	}
	return c.dp
}

// fetchObject fetches a contact's picture over the current switchboard manager.
func (c *Client) fetchObject(ctx context.Context, obj *p2p.MSNObject) ([]byte, error) {
	_, sbm := c.session()
	if sbm == nil {
		return nil, errors.New("not connected")
	}
	return sbm.FetchObject(ctx, obj)
}

// stopAvatars stops the login's picture fetching (Disconnect).
func (c *Client) stopAvatars() {
	c.mu.Lock()
	q := c.dp
	c.dp = nil // a later Connect starts afresh
	c.mu.Unlock()
	if q == nil {
		return
	}
	q.mu.Lock()
	q.stopped = true
	for _, t := range q.timers {
		t.Stop()
	}
	q.timers = map[string]*time.Timer{}
	q.pending = map[string]*avatarJob{}
	q.order = nil
	q.mu.Unlock()
	q.cancel()
}

// contactPicture is called for every presence/profile change of a contact: when its
// MSNObject names a display picture its ghost does not show yet, a fetch is queued.
func (c *Client) contactPicture(contact ns.Contact) {
	if contact.MSNObject == "" || contact.Status == ns.Offline {
		return
	}
	obj, err := p2p.ParseMSNObject(contact.MSNObject)
	if err != nil {
		c.log.Debug().Err(err).Str("contact", contact.Passport).Msg("Ignoring an unusable MSNObject")
		return
	}
	passport := strings.ToLower(contact.Passport)
	if obj.Type != p2p.ObjectDisplayPicture || !strings.EqualFold(obj.Creator, passport) || obj.Size <= 0 || obj.Size > maxAvatarBytes {
		return
	}
	c.avatarQueue().want(&avatarJob{passport: passport, obj: obj})
}

// want queues job unless its picture is already shown (or on its way) for that contact.
func (q *avatarQueue) want(job *avatarJob) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped || q.shown[job.passport] == job.obj.SHA1D {
		return
	}
	if p := q.pending[job.passport]; p != nil {
		if p.obj.SHA1D != job.obj.SHA1D {
			q.pending[job.passport] = job
		}
		return
	}
	if t := q.timers[job.passport]; t != nil { // a retry is scheduled: a new picture replaces it
		t.Stop()
		delete(q.timers, job.passport)
	}
	if len(q.pending) >= maxAvatarQueue {
		return // the next presence change of that contact queues it again
	}
	q.pending[job.passport] = job
	q.order = append(q.order, job.passport)
	if q.running < avatarWorkers {
		q.running++
		go q.work()
	}
}

// next pops the oldest job, or ends the worker when there is none.
func (q *avatarQueue) next() *avatarJob {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.order) > 0 && !q.stopped {
		p := q.order[0]
		q.order = q.order[1:]
		if job := q.pending[p]; job != nil {
			delete(q.pending, p)
			q.shown[p] = job.obj.SHA1D // claimed: the same picture is not queued again meanwhile
			return job
		}
	}
	q.running--
	if q.running == 0 && q.idle != nil {
		select {
		case q.idle <- struct{}{}:
		default:
		}
	}
	return nil
}

func (q *avatarQueue) work() {
	for job := q.next(); job != nil; job = q.next() {
		if err := q.process(job); err != nil {
			q.failed(job, err)
		}
	}
}

// failed schedules a retry of job with a growing delay, unless the contact is offline now
// (its next presence change queues it again).
func (q *avatarQueue) failed(job *avatarJob, err error) {
	log := q.c.log.With().Str("contact", job.passport).Logger()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shown[job.passport] == job.obj.SHA1D {
		delete(q.shown, job.passport)
	}
	if q.stopped {
		return
	}
	delay := q.retryMin << min(job.attempt, 10)
	if delay > avatarRetryMax || delay <= 0 {
		delay = avatarRetryMax
	}
	log.Debug().Err(err).Dur("retry_in", delay).Msg("Failed to fetch display picture")
	next := &avatarJob{passport: job.passport, obj: job.obj, attempt: job.attempt + 1}
	if t := q.timers[job.passport]; t != nil {
		t.Stop()
	}
	q.timers[job.passport] = time.AfterFunc(delay, func() {
		q.mu.Lock()
		delete(q.timers, job.passport)
		q.mu.Unlock()
		if sess, _ := q.c.session(); sess != nil {
			if ct, ok := sess.Contact(job.passport); !ok || ct.Status == ns.Offline || ct.MSNObject == "" {
				return // gone offline or no picture: its next presence change queues it
			}
		}
		q.want(next)
	})
}

// process puts job's picture on the contact's ghost: from the ghost itself (already shown),
// the bridge-wide cache, another login's fetch of the same picture, or a fetch of our own.
func (q *avatarQueue) process(job *avatarJob) error {
	ctx, cancel := context.WithTimeout(q.ctx, avatarFetchTimeout)
	defer cancel()
	c := q.c
	ghostID := c.ghostID(job.passport)
	up, canUpload := c.mx.(avatarUploader)
	aid := avatarID(job.obj.SHA1D)
	if canUpload {
		if cur, err := up.GhostAvatarID(ctx, ghostID); err == nil && cur == aid {
			return nil
		}
	}
	cache := c.conn.avatarCache()
	for {
		if u, ok := cache.get(job.obj.SHA1D); ok {
			return c.setGhostAvatar(ctx, ghostID, job, &bridgev2.Avatar{ID: aid, MXC: u.mxc, Hash: u.hash})
		}
		done, wait := cache.claim(job.obj.SHA1D)
		if done == nil {
			select {
			case <-wait: // another login fetched it (or failed): look again
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		defer done()
		break
	}
	data, err := q.fetch(ctx, job.obj)
	if err != nil {
		return err
	}
	if !job.obj.Matches(data) {
		return p2p.ErrChecksum
	}
	if !canUpload {
		// The framework uploads it (once per ghost).
		return c.setGhostAvatar(ctx, ghostID, job, &bridgev2.Avatar{ID: aid, Get: func(context.Context) ([]byte, error) { return data, nil }})
	}
	mxc, err := up.UploadAvatar(ctx, data)
	if err != nil {
		return err
	}
	u := uploadedAvatar{mxc: mxc, hash: sha256.Sum256(data)}
	cache.put(job.obj.SHA1D, u)
	return c.setGhostAvatar(ctx, ghostID, job, &bridgev2.Avatar{ID: aid, MXC: u.mxc, Hash: u.hash})
}

func (c *Client) setGhostAvatar(ctx context.Context, ghostID networkid.UserID, job *avatarJob, avatar *bridgev2.Avatar) error {
	if err := c.mx.UpdateGhost(ctx, ghostID, &bridgev2.UserInfo{Avatar: avatar}); err != nil {
		return fmt.Errorf("set avatar: %w", err)
	}
	c.log.Debug().Str("contact", job.passport).Str("sha1d", job.obj.SHA1D).Msg("Display picture set as avatar")
	return nil
}
