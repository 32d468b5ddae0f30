package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/msn/p2p"
	"github.com/msnbridge/msnbridge/msn/sb"
)

type nsAdapter struct{ s *ns.Session }

func (a nsAdapter) Passport() string { return a.s.Passport() }
func (a nsAdapter) Version() int     { return a.s.Version() }
func (a nsAdapter) RequestSwitchboard(ctx context.Context) (sb.Ticket, error) {
	t, err := a.s.RequestSwitchboard(ctx)
	return sb.Ticket(t), err
}

// loginAlice signs alice in through the fixture's fronts with a switchboard manager that
// hashes every file offered to her into got.
func loginAlice(t *testing.T, f *fixture, got chan<- string) *sb.Manager {
	t.Helper()
	mgr, _ := loginAliceWith(t, f, got, nil)
	return mgr
}

// loginAliceWith is loginAlice whose manager serves alice's own objects (display picture)
// with objects; it returns her NS session too.
func loginAliceWith(t *testing.T, f *fixture, got chan<- string, objects func(sha1d string) ([]byte, bool)) (*sb.Manager, *ns.Session) {
	t.Helper()
	url := f.srv.HTTPURL()
	invites := make(chan ns.SwitchboardInviteEvent, 16)
	guid := "{5E3EDFE5-440D-5132-A3F3-A7AE35275C61}"
	cfg := ns.Config{
		Server: f.ns.ln.Addr().String(), Versions: []int{12}, MachineGUID: guid,
		Endpoints: ns.Endpoints{
			Nexus: url + "/rdr/pprdr.asp", Login: url + "/login", RST: url + "/RST.srf",
			Sharing: url + "/abservice/SharingService.asmx", AddressBook: url + "/abservice/abservice.asmx",
			Storage: url + "/storageservice/SchematizedStore.asmx", RSI: url + "/rsi/rsi.asmx", OIM: url + "/OimWS/oim.asmx",
		},
		OnEvent: func(ev ns.Event) {
			if inv, ok := ev.(*ns.SwitchboardInviteEvent); ok {
				invites <- *inv
			}
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := ns.Login(ctx, cfg, "alice@example.com", "pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	mgr := sb.NewManager(nsAdapter{s}, sb.Config{
		MachineGUID: guid, XFRInterval: -1,
		P2P: p2p.SessionConfig{Objects: objects},
		AcceptFile: func(_ *sb.Conversation, tr *p2p.Transfer) io.Writer {
			h := sha256.New()
			go func() {
				<-tr.Done()
				got <- fmt.Sprintf("%s %s %v", tr.File.Name, hex.EncodeToString(h.Sum(nil)), tr.Err())
			}()
			return h
		},
	})
	t.Cleanup(func() { _ = mgr.Close() })
	go func() {
		for {
			select {
			case inv := <-invites:
				mgr.HandleInvite(sb.Invitation(inv))
			case <-s.Done():
				return
			}
		}
	}()
	return mgr, s
}

// TestControlFiles: /v1/file/send makes a scripted contact send a client a file (the client
// gets the SHA-256 the answer gives); /v1/file/policy makes it accept a client's file (listed
// by /v1/files with its SHA-256) or decline it; bad requests are 400.
func TestControlFiles(t *testing.T) {
	f := newFixture(t)
	got := make(chan string, 4)
	mgr := loginAlice(t, f, got)

	code, out := f.do("POST", "/v1/file/send", `{"from":"bob@example.com","to":"alice@example.com","name":"pic.png","size":5000}`)
	if code != 200 || out["size"] != float64(5000) {
		t.Fatalf("file/send: %d %v", code, out)
	}
	select {
	case g := <-got:
		if want := fmt.Sprintf("pic.png %s <nil>", out["sha256"]); g != want {
			t.Fatalf("alice got %q, want %q", g, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("alice got no file")
	}

	if code, _ := f.do("POST", "/v1/file/policy", `{"who":"bob@example.com","policy":"accept"}`); code != 200 {
		t.Fatalf("policy: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	doc := bytes.Repeat([]byte("doc "), 1000)
	if err := mgr.SendFile(ctx, "bob@example.com", "doc.txt", int64(len(doc)), bytes.NewReader(doc)); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(doc)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, out := f.do("GET", "/v1/files?contact=bob@example.com", "")
		files, _ := out["files"].([]any)
		if len(files) == 1 {
			fl := files[0].(map[string]any)
			if fl["name"] != "doc.txt" || fl["sha256"] != hex.EncodeToString(sum[:]) || fl["received"] != float64(len(doc)) {
				t.Fatalf("files = %v", files)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("files = %v", out)
		}
		time.Sleep(20 * time.Millisecond) // nothing to wait on: the list is polled like a client would
	}

	if code, _ := f.do("POST", "/v1/file/policy", `{"who":"bob@example.com","policy":"decline"}`); code != 200 {
		t.Fatalf("policy: %d", code)
	}
	if err := mgr.SendFile(ctx, "bob@example.com", "doc.txt", int64(len(doc)), bytes.NewReader(doc)); err == nil {
		t.Fatal("declined file went through")
	}
	for _, body := range []string{
		`{"who":"bob@example.com","policy":"maybe"}`,
		`{"who":"bob@example.com"}`,
	} {
		if code, _ := f.do("POST", "/v1/file/policy", body); code != 400 {
			t.Errorf("policy %s: %d", body, code)
		}
	}
	if code, _ := f.do("POST", "/v1/file/send", `{"from":"bob@example.com","to":"alice@example.com","name":"x","size":0}`); code != 400 {
		t.Errorf("file/send without data: %d", code)
	}
}
