package bridge

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mau.fi/util/configupgrade"
	"gopkg.in/yaml.v3"
	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/status"

	"github.com/msnbridge/msnbridge/database"
	"github.com/msnbridge/msnbridge/msn/ns"
)

// countingListener counts the TCP connections made to it.
func countingListener(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			_ = c.Close()
		}
	}()
	return ln.Addr().String(), &n
}

func twoServerConnector(t *testing.T) *Connector {
	t.Helper()
	cfg := loadExample(t)
	cfg.PasswordEncryptionKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	cfg.MaxLoginsPerUser = 0
	cfg.Servers = []ServerConfig{
		{Name: "escargot", DisplayName: "Escargot", NSAddress: "a.example:1863", HTTPBaseURL: "http://a.example"},
		{Name: "crosstalk", NSAddress: "b.example:1863", HTTPBaseURL: "http://b.example"},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return &Connector{Config: *cfg}
}

// TestLoginNamingUnknownServerRefusedBeforeConnecting: a login (flow or stored) that names a
// server outside network.servers is refused before any connection is made.
func TestLoginNamingUnknownServerRefusedBeforeConnecting(t *testing.T) {
	addrA, hitsA := countingListener(t)
	var logins atomic.Int32
	conn := &Connector{loginFunc: func(context.Context, ns.Config, string, string) (*ns.Session, error) {
		logins.Add(1)
		return nil, errors.New("login attempted")
	}}
	cfg := loadExample(t)
	cfg.PasswordEncryptionKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	cfg.Servers = []ServerConfig{{Name: "escargot", NSAddress: addrA, HTTPBaseURL: "http://" + addrA}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	conn.Config = *cfg
	p := &passwordLogin{conn: conn}
	for _, choice := range []string{"elsewhere", "127.0.0.1:1863", addrA, "ESCARGOT", "../x"} {
		_, err := p.SubmitUserInput(context.Background(), map[string]string{"passport": "a@example.com", "password": "pw-secret", "server": choice})
		var re bridgev2.RespError
		if !errors.As(err, &re) || re.ErrCode != ErrInvalidInput.ErrCode || strings.Contains(re.Err, "pw-secret") {
			t.Errorf("server %q: err = %v, want an invalid-input refusal", choice, err)
		}
	}
	client := newClient(conn, nil)
	if _, err := client.dial(context.Background(), &database.UserLoginMetadata{Passport: "a@example.com", Server: "gone"}, "pw"); !errors.Is(err, ErrUnknownServer) {
		t.Errorf("stored login with an unknown server: err = %v", err)
	}
	if logins.Load() != 0 || hitsA.Load() != 0 {
		t.Fatalf("refused logins still connected: %d logins, %d connections", logins.Load(), hitsA.Load())
	}
}

// TestLoginFlowServerChoice: one server asks nothing; several give a select field whose
// default is the relogin's server.
func TestLoginFlowServerChoice(t *testing.T) {
	conn := twoServerConnector(t)
	p := &passwordLogin{conn: conn}
	step, err := p.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var field *bridgev2.LoginInputDataField
	for i, f := range step.UserInputParams.Fields {
		if f.ID == "server" {
			field = &step.UserInputParams.Fields[i]
		}
	}
	if field == nil || field.Type != bridgev2.LoginInputFieldTypeSelect || strings.Join(field.Options, ",") != "escargot,crosstalk" || field.DefaultValue != "escargot" {
		t.Fatalf("server field %+v", field)
	}
	relogin := &passwordLogin{conn: conn, override: loginWithMeta(&database.UserLoginMetadata{Passport: "a@example.com", Server: "crosstalk"})}
	if f, ok := relogin.serverField(); !ok || f.DefaultValue != "crosstalk" {
		t.Fatalf("relogin default %q", f.DefaultValue)
	}
	if s, err := relogin.chosenServer(""); err != nil || s.Name != "crosstalk" {
		t.Fatalf("relogin without a choice: %v, %v", s, err)
	}

	conn.Config.Servers = conn.Config.Servers[:1]
	if _, ok := (&passwordLogin{conn: conn}).serverField(); ok {
		t.Fatal("a one-server bridge asks for the server")
	}
	if s, err := (&passwordLogin{conn: conn}).chosenServer(""); err != nil || s.Name != "escargot" {
		t.Fatalf("default server: %v, %v", s, err)
	}
}

func loginWithMeta(meta *database.UserLoginMetadata) *bridgev2.UserLogin {
	return &bridgev2.UserLogin{UserLogin: &bridgedb.UserLogin{ID: "a@example.com", Metadata: meta}}
}

// TestPasswordOnlyToChosenServer: a login for the second server connects to it alone.
func TestPasswordOnlyToChosenServer(t *testing.T) {
	a, b := newFakeServer(t), newFakeServer(t)
	for _, s := range []struct {
		srv interface {
			AddAccount(string, string, string) error
		}
		pw string
	}{{a, "pw-on-a"}, {b, "pw-on-b"}} {
		if err := s.srv.AddAccount("alice@example.com", s.pw, "Alice"); err != nil {
			t.Fatal(err)
		}
	}
	conn := testConnector(t, a, 15)
	conn.Config.Servers = append(conn.Config.Servers, ServerConfig{Name: "second", NSAddress: b.NSAddr(), HTTPBaseURL: b.HTTPURL(), ProtocolVersions: []int{15}})
	client := newClient(conn, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sess, err := client.dial(ctx, &database.UserLoginMetadata{Passport: "alice@example.com", Server: "second", MachineGUID: newMachineGUID()}, "pw-on-b")
	if err != nil {
		t.Fatalf("login to the second server: %v", err)
	}
	_ = sess.Close()
	if a.Logins("alice@example.com") != 0 || b.Logins("alice@example.com") != 1 {
		t.Fatalf("logins: first %d, second %d", a.Logins("alice@example.com"), b.Logins("alice@example.com"))
	}
}

// TestUpgradeOldServerSettings: allow_custom_server and the single-server keys of an old
// config become one servers entry; edits of network.server / http_base_url in a generated
// config (as the e2e harness makes) land in the first entry.
func TestUpgradeOldServerSettings(t *testing.T) {
	upgrade := func(old string) Config {
		t.Helper()
		var base, cfgNode yaml.Node
		if err := yaml.Unmarshal([]byte(exampleConfig), &base); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal([]byte(old), &cfgNode); err != nil {
			t.Fatal(err)
		}
		upgradeConfig(configupgrade.NewHelper(&base, &cfgNode))
		out, err := yaml.Marshal(&base)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "allow_custom_server") {
			t.Errorf("allow_custom_server survived the upgrade")
		}
		var cfg Config
		if err := yaml.Unmarshal(out, &cfg); err != nil {
			t.Fatal(err)
		}
		cfg.PasswordEncryptionKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
		if err := cfg.Validate(); err != nil {
			t.Fatalf("upgraded config invalid: %v\n%s", err, out)
		}
		return cfg
	}
	cfg := upgrade("server: ns.example.org:1863\nhttp_base_url: https://web.example.org\nservices:\n    rst: https://login.example.org/RST2.srf\nprotocol_versions: [15, 8]\nallow_custom_server: true\n")
	if len(cfg.Servers) != 1 {
		t.Fatalf("servers %+v", cfg.Servers)
	}
	s := cfg.Servers[0]
	if s.NSAddress != "ns.example.org:1863" || s.HTTPBaseURL != "https://web.example.org" || s.Services.RST != "https://login.example.org/RST2.srf" ||
		len(s.ProtocolVersions) != 2 || s.Endpoints().Login != "https://web.example.org/login" {
		t.Errorf("old settings not kept: %+v", s)
	}

	// A generated (new) config with the harness's edits.
	gen := strings.Replace(exampleConfig, "password_encryption_key: generate", "password_encryption_key: x", 1) +
		"server: 127.0.0.1:41863\nhttp_base_url: http://127.0.0.1:48081\n"
	cfg = upgrade(gen)
	if len(cfg.Servers) != 1 || cfg.Servers[0].NSAddress != "127.0.0.1:41863" || cfg.Servers[0].HTTPBaseURL != "http://127.0.0.1:48081" || cfg.Servers[0].Name != "default" {
		t.Errorf("edited generated config: %+v", cfg.Servers)
	}

	// A servers list is kept as it is.
	cfg = upgrade("servers:\n    - name: a\n      ns_address: a.example:1863\n    - name: b\n      ns_address: b.example:1863\n      protocol_versions: [8]\n")
	if len(cfg.Servers) != 2 || cfg.Servers[1].Name != "b" || cfg.Servers[1].ProtocolVersions[0] != 8 {
		t.Errorf("servers list: %+v", cfg.Servers)
	}
}

func TestServerNamed(t *testing.T) {
	cfg := &Config{Servers: []ServerConfig{{Name: "a", NSAddress: "a.example:1863"}, {Name: "b", NSAddress: "b.example:1863"}}}
	for name, want := range map[string]string{"": "a", "a": "a", "b": "b", "B.EXAMPLE:1863": "b"} {
		if s, err := cfg.ServerNamed(name); err != nil || s.Name != want {
			t.Errorf("ServerNamed(%q) = %v, %v; want %s", name, s, err, want)
		}
	}
	for _, name := range []string{"c", "evil.example:1863"} {
		if _, err := cfg.ServerNamed(name); !errors.Is(err, ErrUnknownServer) {
			t.Errorf("ServerNamed(%q) = %v, want ErrUnknownServer", name, err)
		}
	}
}

// TestClientLoopStopsForGood: bad credentials and a server no longer configured stop the
// connection loop with their state instead of retrying.
func TestClientLoopStopsForGood(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(t *testing.T, h *harness, meta *database.UserLoginMetadata)
		want status.BridgeStateErrorCode
	}{
		{"wrong password", func(t *testing.T, h *harness, meta *database.UserLoginMetadata) {
			sealed, err := h.conn.sealer.Seal("not-the-password", meta.Passport)
			if err != nil {
				t.Fatal(err)
			}
			meta.Password = sealed
		}, StateErrBadCredentials},
		{"unknown server", func(t *testing.T, h *harness, meta *database.UserLoginMetadata) { meta.Server = "gone" }, StateErrUnknownServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 15)
			meta := h.login.Metadata.(*database.UserLoginMetadata)
			tc.mod(t, h, meta)
			h.client.Connect(context.Background())
			st := wait(t, h.rec.states, "final state", func(st status.BridgeState) bool { return st.StateEvent == status.StateBadCredentials })
			if st.Error != tc.want {
				t.Fatalf("state %+v, want error %s", st, tc.want)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if sess, _ := h.client.waitSession(ctx, time.Hour); sess != nil || h.client.IsLoggedIn() {
				t.Fatal("loop still running")
			}
			if tc.want == StateErrUnknownServer && h.srv.Logins("alice@example.com") != 0 {
				t.Fatal("a login with an unknown server reached the server")
			}
		})
	}
}
