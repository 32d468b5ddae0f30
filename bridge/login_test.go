package bridge

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"

	"github.com/msnbridge/msnbridge/database"
	"github.com/msnbridge/msnbridge/msn/msntest"
	"github.com/msnbridge/msnbridge/msn/ns"
)

func newFakeServer(t *testing.T) *msntest.Server {
	t.Helper()
	nop := zerolog.Nop()
	srv, err := msntest.New(msntest.Options{Logger: &nop})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func testConnector(t *testing.T, srv *msntest.Server, versions ...int) *Connector {
	t.Helper()
	c := &Connector{loginFunc: ns.Login}
	cfg := loadExample(t)
	cfg.Server = srv.NSAddr()
	cfg.HTTPBaseURL = srv.HTTPURL()
	cfg.PasswordEncryptionKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	if len(versions) > 0 {
		cfg.ProtocolVersions = versions
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c.Config = *cfg
	sealer, err := database.NewSealer(c.Config.passwordKey)
	if err != nil {
		t.Fatal(err)
	}
	c.sealer = sealer
	return c
}

func TestLoginThroughFakeServer(t *testing.T) {
	srv := newFakeServer(t)
	if err := srv.AddAccount("alice@example.com", "right-password", "Alice"); err != nil {
		t.Fatal(err)
	}
	for _, v := range []int{18, 15, 13, 8} {
		t.Run("MSNP"+strconv.Itoa(v), func(t *testing.T) {
			conn := testConnector(t, srv, v)
			client := newClient(conn, nil)
			// The session's goroutines log too: the buffer must take concurrent writes.
			logs := &lockedBuffer{}
			client.log = zerolog.New(logs).Level(zerolog.TraceLevel)
			defer func() {
				if strings.Contains(logs.String(), "right-password") || strings.Contains(logs.String(), "wrong-password") {
					t.Error("a password reached the log")
				}
			}()
			meta := &database.UserLoginMetadata{Passport: "alice@example.com", MachineGUID: newMachineGUID()}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			_, err := client.dial(ctx, meta, "wrong-password")
			var re bridgev2.RespError
			if err == nil || !errors.As(loginError(err, conn.Config.Servers[0].NSAddress), &re) || re.ErrCode != ErrWrongPassword.ErrCode {
				t.Fatalf("wrong password: err=%v mapped=%v, want %q", err, loginError(err, conn.Config.Servers[0].NSAddress), ErrWrongPassword.Err)
			}

			sess, err := client.dial(ctx, meta, "right-password")
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			defer sess.Close()
			if sess.Version() != v {
				t.Errorf("negotiated MSNP%d, want %d", sess.Version(), v)
			}
			if !strings.EqualFold(sess.Passport(), "alice@example.com") {
				t.Errorf("passport = %q", sess.Passport())
			}
		})
	}
}

func TestLoginUnreachableServerIsNamed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now: connection refused
	srv := newFakeServer(t)
	conn := testConnector(t, srv)
	conn.Config.Servers[0].NSAddress = addr
	client := newClient(conn, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = client.dial(ctx, &database.UserLoginMetadata{Passport: "alice@example.com"}, "pw")
	if err == nil {
		t.Fatal("login to a closed port succeeded")
	}
	msg := loginError(err, conn.serverLabel(&database.UserLoginMetadata{})).Error()
	if !strings.Contains(msg, addr) {
		t.Errorf("error %q does not name the server %s", msg, addr)
	}
	if strings.Contains(msg, "pw") && !strings.Contains(addr, "pw") {
		t.Errorf("error mentions the password: %q", msg)
	}
}

func TestMachineGUID(t *testing.T) {
	a, b := newMachineGUID(), newMachineGUID()
	if a == b || len(a) != 38 || a[0] != '{' || a[37] != '}' || a[15] != '4' {
		t.Errorf("bad machine GUIDs %q %q", a, b)
	}
}
