package bridge

import (
	"os"
	"strings"
	"testing"
	"text/template"
	"time"

	"go.mau.fi/util/configupgrade"
	"gopkg.in/yaml.v3"
	"maunium.net/go/mautrix/bridgev2/matrix/mxmain"

	"github.com/msnbridge/msnbridge/puppet"
)

// renderFullExampleConfig renders the full example config exactly as `msnbridge -e` does
// (mxmain.BridgeMain.makeFullExampleConfig): the network section indented under "network:",
// then mxmain's base config template filled from GetName.
func renderFullExampleConfig(t *testing.T) string {
	t.Helper()
	c := &Connector{}
	networkExample, _, _ := c.GetConfig()
	var buf strings.Builder
	buf.WriteString("# Network-specific config options\n")
	buf.WriteString("network:\n")
	for _, line := range strings.Split(networkExample, "\n") {
		buf.WriteString("    ")
		buf.WriteString(line)
		buf.WriteRune('\n')
	}
	buf.WriteRune('\n')
	tmpl, err := template.New("example-config.yaml").Delims("$<<", ">>").Parse(mxmain.MatrixExampleConfigBase)
	if err != nil {
		t.Fatal(err)
	}
	if err := tmpl.Execute(&buf, c.GetName()); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestExampleConfigFresh fails when the committed example-config.yaml differs from what the
// binary generates with -e. Regenerate with:
//
//	rm -f example-config.yaml && go run -tags goolm . -e -c example-config.yaml
func TestExampleConfigFresh(t *testing.T) {
	want := renderFullExampleConfig(t)
	got, err := os.ReadFile("../example-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("example-config.yaml is stale; regenerate it with: rm -f example-config.yaml && go run -tags goolm . -e -c example-config.yaml")
	}
}

func loadExample(t *testing.T) *Config {
	t.Helper()
	var cfg Config
	if err := yaml.Unmarshal([]byte(exampleConfig), &cfg); err != nil {
		t.Fatal(err)
	}
	return &cfg
}

func TestExampleConfigDefaults(t *testing.T) {
	cfg := loadExample(t)
	if strings.Contains(exampleConfig, "allow_custom_server") {
		t.Error("allow_custom_server is gone: the servers list replaces it")
	}
	if len(cfg.Servers) != 1 {
		t.Fatalf("servers = %+v, want one", cfg.Servers)
	}
	if pv, want := cfg.Servers[0].ProtocolVersions, []int{18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8}; len(pv) != len(want) || pv[0] != 18 || pv[len(want)-1] != 8 {
		t.Errorf("protocol_versions = %v, want %v", pv, want)
	}
	if !cfg.TLSVerify || !cfg.BridgePresence || !cfg.OfflineMessages {
		t.Errorf("defaults wrong: %+v", cfg)
	}
	if cfg.MaxLoginsPerUser != 1 {
		t.Errorf("max_logins_per_user = %d, want one MSN session per user by default", cfg.MaxLoginsPerUser)
	}
	// "generate" is not a usable key: validation must say so instead of running without one.
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "password_encryption_key") {
		t.Errorf("Validate with key=generate = %v, want a key error", err)
	}
}

func TestUpgraderGeneratesKey(t *testing.T) {
	var base, cfgNode yaml.Node
	if err := yaml.Unmarshal([]byte(exampleConfig), &base); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte("server: example.org:1863\nprotocol_versions: [15, 8]\npassword_encryption_key: generate\n"), &cfgNode); err != nil {
		t.Fatal(err)
	}
	helper := configupgrade.NewHelper(&base, &cfgNode)
	upgradeConfig(helper)
	out, err := yaml.Marshal(&base)
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("upgraded config invalid: %v", err)
	}
	if len(cfg.Servers) != 1 || cfg.Servers[0].NSAddress != "example.org:1863" || len(cfg.Servers[0].ProtocolVersions) != 2 {
		t.Errorf("user values not kept: %+v", cfg.Servers)
	}
	if len(cfg.passwordKey) != 32 {
		t.Errorf("generated key has %d bytes", len(cfg.passwordKey))
	}
}

func TestValidate(t *testing.T) {
	good := func() *Config {
		c := loadExample(t)
		c.PasswordEncryptionKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
		return c
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"no server", func(c *Config) { c.Servers = nil }},
		{"server without address", func(c *Config) { c.Servers[0].NSAddress = "" }},
		{"server without port", func(c *Config) { c.Server = "example.org" }},
		{"bad base url", func(c *Config) { c.HTTPBaseURL = "ftp://x" }},
		{"base url with user info", func(c *Config) { c.Servers[0].HTTPBaseURL = "http://u:p@x/" }},
		{"bad service url", func(c *Config) { c.Servers[0].Services.RSI = "file:///etc/passwd" }},
		{"bad version", func(c *Config) { c.ProtocolVersions = []int{19} }},
		{"bad server name", func(c *Config) { c.Servers[0].Name = "Has Space" }},
		{"empty server name", func(c *Config) { c.Servers[0].Name = "" }},
		{"duplicate server name", func(c *Config) { c.Servers = append(c.Servers, c.Servers[0]) }},
		{"bad template", func(c *Config) { c.DisplaynameTemplate = "{{.Nope}}" }},
		{"bad idle", func(c *Config) { c.SwitchboardIdle = "soon" }},
		{"short key", func(c *Config) { c.PasswordEncryptionKey = "AAEC" }},
		{"negative login limit", func(c *Config) { c.MaxLoginsPerUser = -1 }},
		{"multi-line notice prefix", func(c *Config) { c.NoticePrefix = "[bot]\n" }},
		{"bad presence refresh", func(c *Config) { c.PresenceRefresh = "often" }},
		{"presence refresh below the rate limit", func(c *Config) { c.PresenceRefresh = "1s" }},
	}
	for _, tt := range tests {
		c := good()
		tt.mod(c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

// TestPresenceRefreshConfig checks that the example config refreshes ghost presence before
// Synapse's 30 s sync_online_timeout and that the key reaches the validated config.
func TestPresenceRefreshConfig(t *testing.T) {
	c := loadExample(t)
	c.PasswordEncryptionKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.presenceRefresh <= 0 || c.presenceRefresh >= 30*time.Second {
		t.Fatalf("example presence_refresh_interval = %v, want below Synapse's 30 s timeout", c.presenceRefresh)
	}
	c.PresenceRefresh = "25s"
	if err := c.Validate(); err != nil || c.presenceRefresh != 25*time.Second {
		t.Fatalf("presence_refresh_interval 25s: %v, %v", c.presenceRefresh, err)
	}
	c.PresenceRefresh = ""
	if err := c.Validate(); err != nil || c.presenceRefresh != puppet.DefaultRefresh {
		t.Fatalf("empty presence_refresh_interval: %v, %v; want the default", c.presenceRefresh, err)
	}
	c.PresenceMaxRate = -1
	if err := c.Validate(); err == nil {
		t.Fatal("negative presence_max_pushes_per_second accepted")
	}
	c.PresenceMaxRate = 0
	c.PresenceRefresh = "off" // the homeserver keeps presence: no refresh traffic
	if err := c.Validate(); err != nil || c.presenceRefresh >= 0 {
		t.Fatalf("presence_refresh_interval off: %v, %v; want refreshes disabled (<0)", c.presenceRefresh, err)
	}
}

func TestEndpoints(t *testing.T) {
	c := loadExample(t)
	c.HTTPBaseURL = "http://127.0.0.1:8081/"
	c.Services.RST = "https://login.example/RST2.srf"
	c.applyLegacyServer()
	ep := c.Endpoints()
	if ep.RST != "https://login.example/RST2.srf" {
		t.Errorf("override ignored: %q", ep.RST)
	}
	if ep.Login != "http://127.0.0.1:8081/login" || ep.Sharing != "http://127.0.0.1:8081/abservice/SharingService.asmx" ||
		ep.RSI != "http://127.0.0.1:8081/rsi/rsi.asmx" || ep.OIM != "http://127.0.0.1:8081/OimWS/oim.asmx" {
		t.Errorf("derived endpoints wrong: %+v", ep)
	}
}
