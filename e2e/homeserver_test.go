//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// homeserver is the Matrix homeserver the tests talk to.
type homeserver struct {
	URL        string // client-server API base, e.g. http://127.0.0.1:8008
	ServerName string // the domain part of user IDs
	secret     string // registration_shared_secret

	// install places the bridge's registration file and (re)starts the homeserver so that it
	// reads it (Synapse reads registrations only at startup).
	install func(ctx context.Context, registration string) error
	stop    func()
	// external is set for a homeserver the tests did not start (they cannot stop it).
	external bool
}

// Environment variables that select an existing homeserver instead of the script's Synapse.
const (
	envHomeserver   = "MSNBRIDGE_E2E_HOMESERVER"    // client-server API URL
	envSharedSecret = "MSNBRIDGE_E2E_SHARED_SECRET" // its registration_shared_secret
	envServerName   = "MSNBRIDGE_E2E_SERVER_NAME"   // its server_name (default localhost)
	envInstallReg   = "MSNBRIDGE_E2E_INSTALL_REGISTRATION"
)

// newHomeserver returns the external homeserver named by MSNBRIDGE_E2E_HOMESERVER, or a Synapse
// run by scripts/synapse-env.sh in runDir on a free loopback port.
func newHomeserver(ctx context.Context, root, runDir string) (*homeserver, error) {
	if u := os.Getenv(envHomeserver); u != "" {
		return externalHomeserver(u)
	}
	script := filepath.Join(root, "scripts", "synapse-env.sh")
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(),
		"MSNBRIDGE_E2E_RUN_DIR="+runDir,
		fmt.Sprintf("MSNBRIDGE_E2E_PORT=%d", port),
	)
	run := func(ctx context.Context, args ...string) error {
		cmd := exec.CommandContext(ctx, script, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("synapse-env.sh %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	installCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if err := run(installCtx, "install"); err != nil {
		return nil, err
	}
	hs := &homeserver{
		URL:        fmt.Sprintf("http://127.0.0.1:%d", port),
		ServerName: "localhost",
	}
	hs.install = func(ctx context.Context, registration string) error {
		if err := run(ctx, "start", registration); err != nil {
			return err
		}
		secret, err := os.ReadFile(filepath.Join(runDir, "shared_secret"))
		if err != nil {
			return fmt.Errorf("reading the shared secret: %w", err)
		}
		hs.secret = strings.TrimSpace(string(secret))
		return nil
	}
	hs.stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = run(ctx, "stop")
	}
	return hs, nil
}

func externalHomeserver(u string) (*homeserver, error) {
	secret := os.Getenv(envSharedSecret)
	if secret == "" {
		return nil, fmt.Errorf("%s is set but %s is empty", envHomeserver, envSharedSecret)
	}
	hook := os.Getenv(envInstallReg)
	if hook == "" {
		return nil, fmt.Errorf("%s is set but %s is empty: it must name a command that installs the registration file given as $1 and restarts the homeserver", envHomeserver, envInstallReg)
	}
	name := os.Getenv(envServerName)
	if name == "" {
		name = "localhost"
	}
	hs := &homeserver{URL: strings.TrimRight(u, "/"), ServerName: name, secret: secret, stop: func() {}, external: true}
	hs.install = func(ctx context.Context, registration string) error {
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", hook, "install-registration", registration)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", envInstallReg, err, out)
		}
		return waitHTTP(ctx, hs.URL+"/_matrix/client/versions", 90*time.Second)
	}
	return hs, nil
}

// registeredUser is the answer of the shared-secret registration API.
type registeredUser struct {
	UserID      string `json:"user_id"`
	AccessToken string `json:"access_token"`
	DeviceID    string `json:"device_id"`
}

// register creates a user through POST /_synapse/admin/v1/register (nonce + HMAC-SHA1 of
// nonce\0user\0password\0admin|notadmin keyed with the shared secret).
func (hs *homeserver) register(ctx context.Context, user, password string, admin bool) (*registeredUser, error) {
	endpoint := hs.URL + "/_synapse/admin/v1/register"
	var nonce struct {
		Nonce string `json:"nonce"`
	}
	if err := doJSON(ctx, http.MethodGet, endpoint, nil, &nonce); err != nil {
		return nil, fmt.Errorf("getting a registration nonce: %w", err)
	}
	role := "notadmin"
	if admin {
		role = "admin"
	}
	mac := hmac.New(sha1.New, []byte(hs.secret))
	mac.Write([]byte(nonce.Nonce + "\x00" + user + "\x00" + password + "\x00" + role))
	req := map[string]any{
		"nonce":    nonce.Nonce,
		"username": user,
		"password": password,
		"admin":    admin,
		"mac":      hex.EncodeToString(mac.Sum(nil)),
	}
	var out registeredUser
	if err := doJSON(ctx, http.MethodPost, endpoint, req, &out); err != nil {
		return nil, fmt.Errorf("registering %s: %w", user, err)
	}
	return &out, nil
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// doJSON sends body (if not nil) as JSON and decodes a 2xx JSON answer into out (if not nil).
func doJSON(ctx context.Context, method, url string, body, out any) error {
	return doJSONWith(ctx, httpClient, method, url, body, out)
}

// longPollJSON is doJSON for long polls: only ctx bounds the request, not the client's 30 s.
func longPollJSON(ctx context.Context, method, url string, body, out any) error {
	return doJSONWith(ctx, &httpClientNoTimeout, method, url, body, out)
}

func doJSONWith(ctx context.Context, client *http.Client, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading answer: %w", method, url, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, url, resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decoding answer: %w", method, url, err)
		}
	}
	return nil
}

// waitHTTP polls url until it answers 2xx or the timeout passes.
func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = doJSON(ctx, http.MethodGet, url, nil, nil); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer within %s: %w", url, timeout, last)
		case <-tick.C:
		}
	}
}
