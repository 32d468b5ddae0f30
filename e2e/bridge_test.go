//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/msnbridge/msnbridge/e2e/yamledit"
)

// bridge is the bridge binary run as a separate process with a generated config.
type bridge struct {
	bin, dir   string
	config     string
	reg        string
	logPath    string
	asURL      string
	Bot        id.UserID
	ghostLocal string // appservice.username_template, e.g. "msn_{{.}}"
	cmdPrefix  string // bridge.command_prefix, e.g. "!msn"
	proc       *process
}

// prepareBridge generates the bridge config (-e), edits it for this environment, and generates
// the appservice registration (-g). The bridge reaches hs at hsAddr (a proxy in front of it).
func prepareBridge(ctx context.Context, bin, dir string, hs *homeserver, hsAddr string, fake *fakeServer) (*bridge, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	b := &bridge{
		bin:     bin,
		dir:     dir,
		config:  filepath.Join(dir, "config.yaml"),
		reg:     filepath.Join(dir, "registration.yaml"),
		logPath: filepath.Join(dir, "bridge.log"),
	}
	if err := b.run(ctx, "-c", b.config, "-e"); err != nil {
		return nil, fmt.Errorf("generating the example config: %w", err)
	}
	doc, err := yamledit.Read(b.config)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	b.asURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	dbType, dbURI := bridgeDatabase(dir)
	edits := []struct {
		key string
		val any
	}{
		{"homeserver.address", hsAddr},
		{"homeserver.domain", hs.ServerName},
		{"homeserver.software", "standard"},
		{"appservice.address", b.asURL},
		{"appservice.hostname", "127.0.0.1"},
		{"appservice.port", port},
		{"database.type", dbType},
		{"database.uri", dbURI},
		{"bridge.permissions", map[string]string{"*": "relay", hs.ServerName: "admin"}},
		{"double_puppet.secrets", map[string]string{}},
		{"double_puppet.servers", map[string]string{}},
		{"logging.min_level", "debug"},
		{"logging.writers", []map[string]string{{"type": "stdout", "format": "json"}}},
		{"network.server", fake.NS},
		{"network.http_base_url", fake.HTTP},
		{"network.tls_verify", false},
		// The bot's read receipt on a user's event says it was delivered (TestMedia).
		{"matrix.delivery_receipts", true},
	}
	for _, e := range edits {
		if err := doc.Set(e.key, e.val); err != nil {
			return nil, err
		}
	}
	if err := doc.Write(b.config); err != nil {
		return nil, err
	}
	if err := b.run(ctx, "-c", b.config, "-r", b.reg, "-g"); err != nil {
		return nil, fmt.Errorf("generating the registration: %w", err)
	}
	// -g writes the tokens into the config; read the names the bridge will use.
	if doc, err = yamledit.Read(b.config); err != nil {
		return nil, err
	}
	botLocal, ok := doc.Get("appservice.bot.username")
	if !ok || botLocal == "" {
		return nil, fmt.Errorf("config has no appservice.bot.username")
	}
	b.Bot = id.NewUserID(botLocal, hs.ServerName)
	if b.ghostLocal, ok = doc.Get("appservice.username_template"); !ok || !strings.Contains(b.ghostLocal, "{{.}}") {
		return nil, fmt.Errorf("config has no usable appservice.username_template (%q)", b.ghostLocal)
	}
	if b.cmdPrefix, ok = doc.Get("bridge.command_prefix"); !ok || b.cmdPrefix == "" {
		return nil, fmt.Errorf("config has no bridge.command_prefix")
	}
	return b, nil
}

// postgresEnv names the environment variable that switches the bridge's database from SQLite to
// PostgreSQL: its value is the connection URI (scripts/postgres-env.sh sets it for
// `make e2e-postgres`). The database must exist and be empty.
const postgresEnv = "MSNBRIDGE_E2E_POSTGRES"

// bridgeDatabase returns the bridge's database.type and database.uri: PostgreSQL at the URI in
// $MSNBRIDGE_E2E_POSTGRES if set, else SQLite in dir.
func bridgeDatabase(dir string) (typ, uri string) {
	if uri := os.Getenv(postgresEnv); uri != "" {
		return "postgres", uri
	}
	return "sqlite3-fk-wal", "file:" + filepath.Join(dir, "msnbridge.db") + "?_txlock=immediate"
}

// run runs the bridge binary to completion (for -e and -g).
func (b *bridge) run(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Dir = b.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(b.bin), strings.Join(args, " "), err, out)
	}
	return nil
}

// start runs the bridge and waits until its appservice endpoint reports ready.
func (b *bridge) start(ctx context.Context) error {
	p, err := startProcess("bridge", b.dir, b.logPath, b.bin, "-c", b.config, "-r", b.reg)
	if err != nil {
		return err
	}
	b.proc = p
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if doJSON(ctx, "GET", b.asURL+"/_matrix/mau/ready", nil, nil) == nil {
			return nil
		}
		if done, err := p.exited(); done {
			return fmt.Errorf("bridge exited during startup (%v):\n%s", err, p.tail(40))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bridge not ready within 60 s:\n%s", p.tail(40))
		case <-tick.C:
		}
	}
}

func (b *bridge) stop() { b.proc.stop(15 * time.Second) }

// kill ends the bridge with SIGKILL (no chance to clean up) and waits until it is gone.
func (b *bridge) kill() { b.proc.kill() }

// ghost returns the Matrix user ID of the ghost of an MSN contact (passport lower-cased).
func (b *bridge) ghost(passport string, server string) id.UserID {
	local := strings.Replace(b.ghostLocal, "{{.}}", id.EncodeUserLocalpart(strings.ToLower(passport)), 1)
	return id.NewUserID(local, server)
}

// log returns the whole bridge log so far.
func (b *bridge) log() string {
	data, err := os.ReadFile(b.logPath)
	if err != nil {
		return ""
	}
	return string(data)
}
