package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/p2p"
)

// TestControlPicture: /v1/picture gives a scripted contact a display picture that a client
// fetches over P2P (the answer's MSNObject and SHA-256 describe it); /v1/picture/fetch makes
// the contact fetch the picture the client announced with CHG, and fails while it announced
// none; bad requests are 400.
func TestControlPicture(t *testing.T) {
	f := newFixture(t)
	own := bytes.Repeat([]byte("alice's picture "), 300)
	ownObj := p2p.NewMSNObject("alice@example.com", p2p.ObjectDisplayPicture, own, "", "")
	mgr, sess := loginAliceWith(t, f, make(chan string, 1), func(sha1d string) ([]byte, bool) {
		return own, sha1d == ownObj.SHA1D
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	pic := bytes.Repeat([]byte("bob's picture "), 500)
	code, out := f.do("POST", "/v1/picture", fmt.Sprintf(`{"who":"bob@example.com","data":%q}`, base64.StdEncoding.EncodeToString(pic)))
	sum := sha256.Sum256(pic)
	if code != 200 || out["sha256"] != hex.EncodeToString(sum[:]) {
		t.Fatalf("picture: %d %v", code, out)
	}
	s, _ := out["msnobj"].(string)
	obj, err := p2p.ParseMSNObject(s)
	if err != nil || obj.Creator != "bob@example.com" {
		t.Fatalf("msnobj %q: %v", s, err)
	}
	got, err := mgr.FetchObject(ctx, obj)
	if err != nil || !bytes.Equal(got, pic) {
		t.Fatalf("alice fetched %d bytes: %v", len(got), err)
	}

	if code, out := f.do("POST", "/v1/picture/fetch", `{"who":"bob@example.com","from":"alice@example.com"}`); code == 200 {
		t.Fatalf("fetch without a picture announced: %d %v", code, out)
	}
	if err := sess.SetMSNObject(ctx, ownObj.String()); err != nil {
		t.Fatal(err)
	}
	code, out = f.do("POST", "/v1/picture/fetch", `{"who":"bob@example.com","from":"alice@example.com"}`)
	data, _ := base64.StdEncoding.DecodeString(fmt.Sprint(out["data"]))
	if code != 200 || !bytes.Equal(data, own) || out["size"] != float64(len(own)) {
		t.Fatalf("fetch: %d, %d bytes", code, len(data))
	}

	for path, body := range map[string]string{
		"/v1/picture":       `{"who":"bob@example.com","data":"%%%"}`,
		"/v1/picture?":      `{"who":"bob@example.com"}`,
		"/v1/picture/fetch": `{"who":"bob@example.com"}`,
	} {
		if code, _ := f.do("POST", path, body); code != 400 {
			t.Errorf("%s %s: %d", path, body, code)
		}
	}
}
