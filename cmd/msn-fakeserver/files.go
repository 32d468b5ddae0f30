package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/msnbridge/msnbridge/msn/msntest"
	"github.com/msnbridge/msnbridge/msn/p2p"
)

// maxGeneratedFile bounds the pseudo-random file of /v1/file/send {"size"}.
const maxGeneratedFile = 100 << 20

// fileSend: the scripted contact "from" sends "to" a file named "name" holding "data"
// (base64) or "size" pseudo-random bytes, and waits (within the request's 30 s) until the
// client acknowledged it. The answer gives the size and SHA-256 sent; a declined offer is a
// 409 Conflict.
func (ctl *control) fileSend(ctx context.Context, req *request) (any, error) {
	if err := need(map[string]string{"from": req.From, "to": req.To, "name": req.Name}); err != nil {
		return nil, err
	}
	rec, err := ctl.scripted(req.From)
	if err != nil {
		return nil, err
	}
	var data []byte
	switch {
	case req.Data != "" && req.Size != 0:
		return nil, badRequest("give data or size, not both")
	case req.Data != "":
		if data, err = base64.StdEncoding.DecodeString(req.Data); err != nil {
			return nil, badRequest("data is not base64: %v", err)
		}
	case req.Size > 0 && req.Size <= maxGeneratedFile:
		data = make([]byte, req.Size)
		r := rand.NewChaCha8([32]byte{byte(req.Size), 'm', 's', 'n'})
		_, _ = r.Read(data)
	default:
		return nil, badRequest("size must be 1…%d bytes (or give data)", maxGeneratedFile)
	}
	sum := sha256.Sum256(data)
	if err := rec.c.SendFile(ctx, req.To, req.Name, data); err != nil {
		if errors.Is(err, p2p.ErrDeclined) {
			return nil, &httpError{http.StatusConflict, err}
		}
		return nil, err
	}
	return map[string]any{"ok": true, "size": len(data), "sha256": hex.EncodeToString(sum[:])}, nil
}

// filePolicy: whether the scripted contact "who" accepts ("accept") or declines ("decline")
// the files offered to it from now on, or leaves them unanswered ("hold") until the next
// policy, which then answers them.
func (ctl *control) filePolicy(_ context.Context, req *request) (any, error) {
	if err := need(map[string]string{"who": req.Who, "policy": req.Policy}); err != nil {
		return nil, err
	}
	rec, err := ctl.scripted(req.Who)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(req.Policy) {
	case "accept":
		rec.c.SetFilePolicy(msntest.FilesAccept)
	case "decline":
		rec.c.SetFilePolicy(msntest.FilesDecline)
	case "hold":
		rec.c.SetFilePolicy(msntest.FilesHold)
	default:
		return nil, badRequest("policy must be accept, decline or hold, not %q", req.Policy)
	}
	return nil, nil
}

// files: GET /v1/files?contact= lists the files the scripted contact accepted whose transfer
// ended (name, size, bytes received, SHA-256, error).
func (ctl *control) files(w http.ResponseWriter, r *http.Request) {
	rec, err := ctl.scripted(r.URL.Query().Get("contact"))
	if err != nil {
		fail(w, err)
		return
	}
	files := rec.c.ReceivedFiles()
	if files == nil {
		files = []msntest.ReceivedFile{}
	}
	reply(w, map[string]any{"files": files})
}

// maxPicture bounds the display picture of /v1/picture.
const maxPicture = 512 << 10

// picture: the scripted contact "who" gets the display picture "data" (base64): it serves it
// over P2P, and its presence is pushed again at once so that watchers see the new MSNObject.
func (ctl *control) picture(_ context.Context, req *request) (any, error) {
	if err := need(map[string]string{"who": req.Who, "data": req.Data}); err != nil {
		return nil, err
	}
	rec, err := ctl.scripted(req.Who)
	if err != nil {
		return nil, err
	}
	data, err := base64.StdEncoding.DecodeString(req.Data)
	if err != nil {
		return nil, badRequest("data is not base64: %v", err)
	}
	if len(data) > maxPicture {
		return nil, badRequest("a picture holds at most %d bytes", maxPicture)
	}
	obj, err := rec.c.ServeDisplayPicture(data)
	if err != nil {
		return nil, err
	}
	if err := ctl.srv.SetPresence(req.Who, ctl.srv.Status(req.Who)); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	return map[string]any{"ok": true, "msnobj": obj.String(), "sha256": hex.EncodeToString(sum[:])}, nil
}

// pictureFetch: the scripted contact "who" fetches the display picture that the signed-in
// account "from" announced, within the request's deadline.
func (ctl *control) pictureFetch(ctx context.Context, req *request) (any, error) {
	if err := need(map[string]string{"who": req.Who, "from": req.From}); err != nil {
		return nil, err
	}
	rec, err := ctl.scripted(req.Who)
	if err != nil {
		return nil, err
	}
	data, err := rec.c.FetchDisplayPicture(ctx, req.From)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	return map[string]any{"ok": true, "data": base64.StdEncoding.EncodeToString(data), "size": len(data), "sha256": hex.EncodeToString(sum[:])}, nil
}
