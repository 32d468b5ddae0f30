package bridge

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/id"

	"github.com/msnbridge/msnbridge/database"
)

// twoColours is a w×h image, red on the left half and blue on the right.
func twoColours(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{R: 255, A: 255}
			if x >= w/2 {
				c = color.NRGBA{B: 255, A: 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDisplayPictureConversion: PNG and JPEG avatars of any shape become a 96×96 PNG,
// centre-cropped (the middle of a wide image stays in the middle); anything else, or an
// image too large to decode safely, is an error.
func TestDisplayPictureConversion(t *testing.T) {
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, twoColours(64, 200), nil); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"wide PNG": encodePNG(t, twoColours(300, 200)), "tall JPEG": jpg.Bytes(), "tiny PNG": encodePNG(t, twoColours(10, 10))} {
		out, err := displayPicture(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		img, format, err := image.Decode(bytes.NewReader(out))
		if err != nil || format != "png" || img.Bounds() != image.Rect(0, 0, 96, 96) {
			t.Fatalf("%s: %s %v %v", name, format, img.Bounds(), err)
		}
		left := color.NRGBAModel.Convert(img.At(5, 48)).(color.NRGBA)
		right := color.NRGBAModel.Convert(img.At(90, 48)).(color.NRGBA)
		if left.R < 200 || left.B > 50 || right.B < 200 || right.R > 50 {
			t.Fatalf("%s: left %v right %v", name, left, right)
		}
	}
	if _, err := displayPicture([]byte("not an image")); !errors.Is(err, errNotImage) {
		t.Fatal(err)
	}
	// A PNG header announcing 100000×100000 pixels is refused before decoding.
	huge := encodePNG(t, twoColours(2, 2))
	binary.BigEndian.PutUint32(huge[16:], 100000)
	binary.BigEndian.PutUint32(huge[20:], 100000)
	binary.BigEndian.PutUint32(huge[29:], crc32.ChecksumIEEE(huge[12:29]))
	if _, err := displayPicture(huge); err == nil || errors.Is(err, errNotImage) {
		t.Fatalf("huge image: %v", err)
	}
}

// ownAvatarRec is avatarRec with a Matrix avatar of the user's own.
type ownAvatarRec struct {
	*avatarRec
	avatar []byte
}

func (o *ownAvatarRec) OwnAvatarURL(context.Context) (id.ContentURIString, error) {
	return "mxc://test/own", nil
}

func (o *ownAvatarRec) DownloadAvatar(_ context.Context, uri id.ContentURIString, limit int64) ([]byte, error) {
	if uri != "mxc://test/own" || int64(len(o.avatar)) > limit {
		return nil, fmt.Errorf("download %s", uri)
	}
	return o.avatar, nil
}

// TestOwnAvatarBecomesDisplayPicture: alice's Matrix avatar becomes her MSN display picture
// (96×96 PNG, announced with CHG and a status change for pre-MSNP16 watchers); bob, another
// login of the bridge already online, sees the MSNObject, fetches the picture from alice's
// bridge login over P2P through the fake server and sets it as alice's ghost avatar.
func TestOwnAvatarBecomesDisplayPicture(t *testing.T) {
	for _, v := range []int{12, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			h := newHarness(t, v)
			alice := &ownAvatarRec{avatarRec: newAvatarRec(h.rec), avatar: encodePNG(t, twoColours(200, 120))}
			h.client.mx = alice

			// bob: a second login of the bridge, on the same connector.
			sealed, err := h.conn.sealer.Seal("pw-Bob", "bob@example.com")
			if err != nil {
				t.Fatal(err)
			}
			meta := &database.UserLoginMetadata{Passport: "bob@example.com", Password: sealed, MachineGUID: newMachineGUID(), ProtocolVersion: v}
			login := &bridgev2.UserLogin{UserLogin: &bridgedb.UserLogin{ID: "bob@example.com", Metadata: meta}, Log: testLogger(t)}
			bobRec := newAvatarRec(newRecorder())
			bob := newClient(h.conn, nil)
			bob.mx = bobRec
			bob.backoffMin = h.client.backoffMin
			bob.attach(login)
			login.Client = bob
			t.Cleanup(bob.Disconnect)
			bob.Connect(context.Background())
			wait(t, bobRec.states, "bob connected", func(st status.BridgeState) bool { return st.StateEvent == status.StateConnected })

			h.connect(t)
			set := wait(t, bobRec.set, "alice's avatar on bob's side", func(s avatarSet) bool { return s.ghost == bob.ghostID("alice@example.com") })
			h.client.ownPic.mu.Lock()
			own := h.client.ownPic.obj
			h.client.ownPic.mu.Unlock()
			served, ok := h.client.ownObject(own.SHA1D)
			bobRec.mu.Lock()
			uploaded := bobRec.uploads[set.av.MXC]
			bobRec.mu.Unlock()
			if !ok || !bytes.Equal(uploaded, served) || set.av.ID != avatarID(own.SHA1D) {
				t.Fatalf("bob's avatar for alice %+v", set.av)
			}
			img, format, err := image.Decode(bytes.NewReader(served))
			if err != nil || format != "png" || img.Bounds().Dx() != 96 || img.Bounds().Dy() != 96 {
				t.Fatalf("served picture: %s %v", format, err)
			}
			// The server shows the new object to bob as soon as it takes alice's CHG; alice's
			// session records it when the echo arrives, and the pre-MSNP16 status flip ends
			// with a CHG back to her chosen status: wait for both, with a deadline.
			sess, _ := h.client.session()
			deadline := time.After(20 * time.Second)
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for sess.MSNObject() != own.String() || sess.Status() != h.client.chosenStatus(h.client.meta()) {
				select {
				case <-deadline:
					t.Fatalf("alice's session: %q %s", sess.MSNObject(), sess.Status())
				case <-tick.C:
				}
			}
		})
	}
}
