package bridge

import (
	_ "embed"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"text/template"
	"time"

	"go.mau.fi/util/configupgrade"
	"go.mau.fi/util/random"

	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/puppet"
)

//go:embed example-config.yaml
var exampleConfig string

// ServiceURLs are per-service overrides of the HTTP service URLs.
type ServiceURLs struct {
	Nexus     string `yaml:"nexus"`
	Login     string `yaml:"login"`
	RST       string `yaml:"rst"`
	Sharing   string `yaml:"sharing"`
	ABService string `yaml:"abservice"`
	Storage   string `yaml:"storage"`
	RSI       string `yaml:"rsi"`
	OIM       string `yaml:"oim"`
}

// ClientConfig holds the client identity strings sent in CVR.
type ClientConfig struct {
	LocaleID      string `yaml:"locale_id"`
	OSType        string `yaml:"os_type"`
	OSVersion     string `yaml:"os_version"`
	Arch          string `yaml:"arch"`
	ClientName    string `yaml:"client_name"`
	ClientVersion string `yaml:"client_version"`
	Brand         string `yaml:"brand"`
}

// Bounds of network.presence_refresh_interval: below the minimum Synapse's default presence
// rate limit (one PUT per 10 s for a rate-limited appservice) would drop refreshes; above the
// maximum the setting could not keep presence alive on any homeserver setting we know of.
const (
	minPresenceRefresh = 10 * time.Second
	maxPresenceRefresh = 10 * time.Minute
)

// Config is the network section of the bridge config.
type Config struct {
	// Servers are the MSN servers users may log in to; the first is the default.
	Servers []ServerConfig `yaml:"servers"`
	// Server, HTTPBaseURL, Services and ProtocolVersions are the single-server settings of
	// older configs; Validate folds them into the first entry of Servers (see applyLegacyServer).
	Server                string       `yaml:"server,omitempty"`
	HTTPBaseURL           string       `yaml:"http_base_url,omitempty"`
	Services              ServiceURLs  `yaml:"services,omitempty"`
	ProtocolVersions      []int        `yaml:"protocol_versions,omitempty"`
	TLSVerify             bool         `yaml:"tls_verify"`
	Client                ClientConfig `yaml:"client"`
	DisplaynameTemplate   string       `yaml:"displayname_template"`
	BridgePresence        bool         `yaml:"bridge_presence"`
	PresenceRefresh       string       `yaml:"presence_refresh_interval"`
	PresenceMaxRate       int          `yaml:"presence_max_pushes_per_second"`
	SwitchboardIdle       string       `yaml:"switchboard_idle_timeout"`
	OfflineMessages       bool         `yaml:"offline_messages"`
	MaxLoginsPerUser      int          `yaml:"max_logins_per_user"`
	NoticePrefix          string       `yaml:"notice_prefix"`
	PasswordEncryptionKey string       `yaml:"password_encryption_key"`
	// MaxFileSize bounds files either way, in bytes (0: DefaultMaxFileSize, 100 MiB).
	MaxFileSize int64 `yaml:"max_file_size"`
	// LoginsPerSecond bounds the MSN logins of the whole bridge, first connects at start and
	// reconnects alike (0: no limit); see loginPacer.
	LoginsPerSecond int `yaml:"logins_per_second"`

	displaynameTmpl *template.Template
	switchboardIdle time.Duration
	presenceRefresh time.Duration
	passwordKey     []byte
	httpClient      *http.Client
}

func upgradeConfig(helper configupgrade.Helper) {
	upgradeServers(helper)
	helper.Copy(configupgrade.Bool, "tls_verify")
	for _, key := range []string{"locale_id", "os_type", "os_version", "arch", "client_name", "client_version", "brand"} {
		helper.Copy(configupgrade.Str, "client", key)
	}
	helper.Copy(configupgrade.Str, "displayname_template")
	helper.Copy(configupgrade.Bool, "bridge_presence")
	helper.Copy(configupgrade.Str, "presence_refresh_interval")
	helper.Copy(configupgrade.Int, "presence_max_pushes_per_second")
	helper.Copy(configupgrade.Str, "switchboard_idle_timeout")
	helper.Copy(configupgrade.Bool, "offline_messages")
	helper.Copy(configupgrade.Int, "max_logins_per_user")
	helper.Copy(configupgrade.Int, "logins_per_second")
	helper.Copy(configupgrade.Str, "notice_prefix")
	helper.Copy(configupgrade.Int, "max_file_size")
	if key, ok := helper.Get(configupgrade.Str, "password_encryption_key"); !ok || key == "" || key == "generate" {
		helper.Set(configupgrade.Str, base64.StdEncoding.EncodeToString(random.Bytes(32)), "password_encryption_key")
	} else {
		helper.Copy(configupgrade.Str, "password_encryption_key")
	}
}

// Validate checks the config and prepares its derived values. It is called before the bridge starts.
func (c *Config) Validate() error {
	if err := c.validateServers(); err != nil {
		return err
	}
	if len(c.NoticePrefix) > 64 || strings.ContainsAny(c.NoticePrefix, "\r\n") {
		return fmt.Errorf("network.notice_prefix must be one line of at most 64 bytes")
	}
	if c.PresenceMaxRate < 0 {
		return fmt.Errorf("network.presence_max_pushes_per_second must be 0 (default %d) or more, got %d", puppet.DefaultMaxRate, c.PresenceMaxRate)
	}
	if c.MaxLoginsPerUser < 0 {
		return fmt.Errorf("network.max_logins_per_user must be 0 (no limit) or more, got %d", c.MaxLoginsPerUser)
	}
	if c.LoginsPerSecond < 0 {
		return fmt.Errorf("network.logins_per_second must be 0 (no limit) or more, got %d", c.LoginsPerSecond)
	}
	if c.MaxFileSize < 0 {
		return fmt.Errorf("network.max_file_size must be 0 (the default, 100 MiB) or a number of bytes, got %d", c.MaxFileSize)
	}
	tmpl, err := puppet.ParseNameTemplate(c.DisplaynameTemplate)
	if err != nil {
		return fmt.Errorf("network.displayname_template: %w", err)
	}
	c.displaynameTmpl = tmpl
	c.switchboardIdle = 5 * time.Minute
	if c.SwitchboardIdle != "" {
		d, err := time.ParseDuration(c.SwitchboardIdle)
		if err != nil || d <= 0 {
			return fmt.Errorf("network.switchboard_idle_timeout %q is not a positive duration", c.SwitchboardIdle)
		}
		c.switchboardIdle = d
	}
	c.presenceRefresh = puppet.DefaultRefresh
	if strings.EqualFold(c.PresenceRefresh, "off") {
		// The homeserver keeps pushed presence (see the README's "Presence at scale").
		c.presenceRefresh = -1
	} else if c.PresenceRefresh != "" {
		d, err := time.ParseDuration(c.PresenceRefresh)
		if err != nil || d < minPresenceRefresh || d > maxPresenceRefresh {
			return fmt.Errorf("network.presence_refresh_interval %q must be off or a duration from %v to %v (keep it below the homeserver's presence timeout, 30s on Synapse)",
				c.PresenceRefresh, minPresenceRefresh, maxPresenceRefresh)
		}
		c.presenceRefresh = d
	}
	key, err := decodeKey(c.PasswordEncryptionKey)
	if err != nil {
		return fmt.Errorf("network.password_encryption_key: %w", err)
	}
	c.passwordKey = key
	c.httpClient = newHTTPClient(c.TLSVerify)
	return nil
}

func decodeKey(s string) ([]byte, error) {
	if s == "" || s == "generate" {
		return nil, fmt.Errorf("not set (start the bridge once with a writable config to generate it)")
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not valid base64: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("must be 32 bytes, got %d", len(key))
	}
	return key, nil
}

// ClientInfo converts the client identity config for msn/ns.
func (c *Config) ClientInfo() ns.ClientInfo {
	return ns.ClientInfo{
		LCID:          c.Client.LocaleID,
		OSType:        c.Client.OSType,
		OSVersion:     c.Client.OSVersion,
		Arch:          c.Client.Arch,
		ClientName:    c.Client.ClientName,
		ClientVersion: c.Client.ClientVersion,
		Brand:         c.Client.Brand,
	}
}
