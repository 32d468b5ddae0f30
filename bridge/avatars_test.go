package bridge

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"

	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/msn/p2p"
)

// avatarRec is the harness's matrixSide with media: it uploads into memory and keeps each
// ghost's avatar like bridgev2 does (an update with the avatar id it has is a no-op).
type avatarRec struct {
	*recorder
	mu      sync.Mutex
	uploads map[id.ContentURIString][]byte
	ghosts  map[networkid.UserID]bridgev2.Avatar
	set     chan avatarSet
}

type avatarSet struct {
	ghost networkid.UserID
	av    bridgev2.Avatar
}

func newAvatarRec(r *recorder) *avatarRec {
	return &avatarRec{recorder: r, uploads: map[id.ContentURIString][]byte{}, ghosts: map[networkid.UserID]bridgev2.Avatar{}, set: make(chan avatarSet, 1024)}
}

func (a *avatarRec) UploadAvatar(_ context.Context, data []byte) (id.ContentURIString, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	uri := id.ContentURIString(fmt.Sprintf("mxc://test/%d", len(a.uploads)+1))
	a.uploads[uri] = append([]byte(nil), data...)
	return uri, nil
}

func (a *avatarRec) GhostAvatarID(_ context.Context, g networkid.UserID) (networkid.AvatarID, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ghosts[g].ID, nil
}

func (a *avatarRec) UpdateGhost(ctx context.Context, g networkid.UserID, info *bridgev2.UserInfo) error {
	if info.Avatar != nil {
		a.mu.Lock()
		a.ghosts[g] = *info.Avatar
		a.mu.Unlock()
		a.set <- avatarSet{g, *info.Avatar}
	}
	return a.recorder.UpdateGhost(ctx, g, info)
}

func (a *avatarRec) uploadCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.uploads)
}

// pictureContact is an online contact whose presence carries an MSNObject for pic.
func pictureContact(passport string, pic []byte) (ns.Contact, *p2p.MSNObject) {
	obj := p2p.NewMSNObject(passport, p2p.ObjectDisplayPicture, pic, "", "")
	return ns.Contact{Passport: passport, Status: ns.Online, MSNObject: obj.String()}, obj
}

// TestAvatarsRateLimitedAndCached: 300 contacts with pictures appear at once (a login's
// initial presence burst): at most avatarWorkers fetches run at a time, every ghost gets its
// picture with the SHA1D as avatar id, and contacts sharing a picture cost one fetch and one
// upload. The same contact announced again is not fetched again.
func TestAvatarsRateLimitedAndCached(t *testing.T) {
	h := newHarness(t, 12)
	rec := newAvatarRec(h.rec)
	h.client.mx = rec
	q := h.client.avatarQueue()
	var running, peak, calls atomic.Int32
	release := make(chan struct{})
	pics := map[string][]byte{} // written before release, read after
	q.fetch = func(ctx context.Context, obj *p2p.MSNObject) ([]byte, error) {
		calls.Add(1)
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return pics[obj.SHA1D], nil
	}
	const n = 300
	for i := 0; i < n; i++ {
		pic := []byte(fmt.Sprintf("picture %d", i%150)) // two contacts per picture
		c, obj := pictureContact(fmt.Sprintf("c%d@example.com", i), pic)
		pics[obj.SHA1D] = pic
		h.client.contactPicture(c)
	}
	close(release)
	got := map[networkid.UserID]bridgev2.Avatar{}
	deadline := time.After(20 * time.Second)
	for len(got) < n {
		select {
		case s := <-rec.set:
			got[s.ghost] = s.av
		case <-deadline:
			t.Fatalf("%d of %d avatars set", len(got), n)
		}
	}
	if p := peak.Load(); p > avatarWorkers || p < 1 {
		t.Fatalf("%d fetches at once (limit %d)", p, avatarWorkers)
	}
	if c := calls.Load(); c != 150 || rec.uploadCount() != 150 {
		t.Fatalf("%d fetches and %d uploads for 150 pictures", c, rec.uploadCount())
	}
	for i := 0; i < n; i++ {
		pic := []byte(fmt.Sprintf("picture %d", i%150))
		c, obj := pictureContact(fmt.Sprintf("c%d@example.com", i), pic)
		av := got[h.client.ghostID(c.Passport)]
		if av.ID != avatarID(obj.SHA1D) || av.Hash != sha256.Sum256(pic) || string(rec.uploads[av.MXC]) != string(pic) {
			t.Fatalf("contact %d: avatar %+v", i, av)
		}
	}
	// Announced again (a status change): nothing to do.
	c, _ := pictureContact("c1@example.com", []byte("picture 1"))
	h.client.contactPicture(c)
	h.client.contactPicture(ns.Contact{Passport: "c2@example.com", Status: ns.Online, MSNObject: "<msnobj/>"})
	q.mu.Lock()
	idle := len(q.pending) == 0
	q.mu.Unlock()
	if !idle || calls.Load() != 150 {
		t.Fatal("a shown picture was queued again")
	}
}

// TestAvatarsSharedAcrossLogins: two logins of the bridge with the same contact fetch and
// upload its picture once; both set the ghost to it.
func TestAvatarsSharedAcrossLogins(t *testing.T) {
	h := newHarness(t, 12)
	rec := newAvatarRec(h.rec)
	h.client.mx = rec
	other := newClient(h.conn, nil)
	other.mx = rec
	other.attach(h.login)
	pic := []byte("shared picture")
	c, obj := pictureContact("bob@example.com", pic)
	var calls atomic.Int32
	gate := make(chan struct{})
	fetch := func(ctx context.Context, o *p2p.MSNObject) ([]byte, error) {
		calls.Add(1)
		<-gate
		return pic, nil
	}
	q1, q2 := h.client.avatarQueue(), other.avatarQueue()
	for _, q := range []*avatarQueue{q1, q2} {
		q.fetch = fetch
		q.idle = make(chan struct{}, 1)
	}
	h.client.contactPicture(c)
	other.contactPicture(c)
	close(gate)
	for _, q := range []*avatarQueue{q1, q2} {
		select {
		case <-q.idle:
		case <-time.After(20 * time.Second):
			t.Fatal("fetching never ended")
		}
	}
	// The ghost is shared: the second login finds it set already, or sets the same avatar.
	if av, _ := rec.GhostAvatarID(context.Background(), h.client.ghostID("bob@example.com")); av != avatarID(obj.SHA1D) {
		t.Fatalf("ghost avatar %q", av)
	}
	if calls.Load() != 1 || rec.uploadCount() != 1 {
		t.Fatalf("%d fetches, %d uploads", calls.Load(), rec.uploadCount())
	}
	other.stopAvatars()
}

// TestAvatarFetchRetried: a failed fetch is retried later and then sets the avatar; a
// picture with the wrong checksum is not used.
func TestAvatarFetchRetried(t *testing.T) {
	h := newHarness(t, 12)
	rec := newAvatarRec(h.rec)
	h.client.mx = rec
	q := h.client.avatarQueue()
	q.retryMin = time.Millisecond
	pic := []byte("a picture")
	var calls atomic.Int32
	q.fetch = func(ctx context.Context, o *p2p.MSNObject) ([]byte, error) {
		switch calls.Add(1) {
		case 1:
			return nil, p2p.ErrDeclined
		case 2:
			return []byte("not the picture"), nil
		}
		return pic, nil
	}
	c, obj := pictureContact("bob@example.com", pic)
	h.client.contactPicture(c)
	select {
	case s := <-rec.set:
		if s.av.ID != avatarID(obj.SHA1D) || string(rec.uploads[s.av.MXC]) != string(pic) {
			t.Fatalf("avatar %+v", s.av)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("avatar never set")
	}
	if calls.Load() != 3 {
		t.Fatalf("%d fetches", calls.Load())
	}
}

// TestContactPictureBecomesGhostAvatar: a contact of the fake server with a display picture
// signs in; the bridge fetches the picture over P2P through the switchboard and sets it as
// the ghost's avatar (id = SHA1D, the uploaded bytes are the picture's), once. A second
// contact whose fetch never ends does not hold up messages.
func TestContactPictureBecomesGhostAvatar(t *testing.T) {
	for _, v := range []int{12, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			h := newHarness(t, v)
			rec := newAvatarRec(h.rec)
			h.client.mx = rec
			h.connect(t)
			pic := make([]byte, 5000)
			for i := range pic {
				pic[i] = byte(i * 13)
			}
			bob := h.srv.Contact("bob@example.com")
			obj, err := bob.ServeDisplayPicture(pic)
			if err != nil {
				t.Fatal(err)
			}
			// carol announces a picture she never serves (a scripted contact without one
			// ignores the request): her fetch hangs until its timeout.
			if err := h.srv.SetCapabilities("carol@example.com", "", "%3Cmsnobj%20Creator%3D%22carol%40example.com%22%20Size%3D%2210%22%20Type%3D%223%22%20Location%3D%220%22%20Friendly%3D%22AAA%3D%22%20SHA1D%3D%22FA1XTYlq381gZmUrSWySPD3CsB4%3D%22%2F%3E"); err != nil {
				t.Fatal(err)
			}
			carol := h.online(t, "carol@example.com")
			h.online(t, "bob@example.com")
			s := wait(t, rec.set, "bob's avatar", func(s avatarSet) bool { return s.ghost == h.client.ghostID("bob@example.com") })
			if s.av.ID != avatarID(obj.SHA1D) || string(rec.uploads[s.av.MXC]) != string(pic) {
				t.Fatalf("avatar %+v", s.av)
			}
			if n := bob.P2PRequests(); n != 1 {
				t.Fatalf("bob served %d requests", n)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := carol.Say(ctx, "alice@example.com", "still here"); err != nil {
				t.Fatal(err)
			}
			wait(t, h.rec.events, "carol's message", func(e bridgev2.RemoteEvent) bool {
				return e.GetType() == bridgev2.RemoteEventMessage && e.GetSender().Sender == h.client.ghostID("carol@example.com")
			})
		})
	}
}
