package bridge

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"go.mau.fi/util/configupgrade"
	"gopkg.in/yaml.v3"
	"maunium.net/go/mautrix/bridgev2"

	"github.com/msnbridge/msnbridge/database"
	"github.com/msnbridge/msnbridge/msn/ns"
)

// ServerConfig is one MSN server (network) the operator lets users log in to. A login's
// password and tickets only ever go to its own server's NS address and HTTP endpoints.
type ServerConfig struct {
	// Name identifies the server in the login flow and in stored logins: lower-case letters,
	// digits, '.', '_' and '-'.
	Name string `yaml:"name"`
	// DisplayName is shown to users choosing a server (default: Name).
	DisplayName string `yaml:"display_name"`
	// NSAddress is the dispatch or notification server, host:port.
	NSAddress string `yaml:"ns_address"`
	// HTTPBaseURL is the base URL of the server's HTTP services.
	HTTPBaseURL string `yaml:"http_base_url"`
	// Services are per-service overrides of the HTTP service URLs.
	Services ServiceURLs `yaml:"services"`
	// ProtocolVersions are the versions offered, highest first (default: ns.DefaultVersions).
	ProtocolVersions []int `yaml:"protocol_versions"`
}

// ErrUnknownServer means a login names a server that is not in network.servers.
var ErrUnknownServer = errors.New("not a server of this bridge")

// maxServerName bounds a server name.
const maxServerName = 32

// validServerName reports whether s is a usable server name.
func validServerName(s string) bool {
	if s == "" || len(s) > maxServerName {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Label is the server's name for users.
func (s *ServerConfig) Label() string {
	if s.DisplayName != "" {
		return s.DisplayName
	}
	return s.Name
}

func (s *ServerConfig) validate() error {
	if !validServerName(s.Name) {
		return fmt.Errorf("name %q must be 1-%d of a-z 0-9 . _ -", s.Name, maxServerName)
	}
	if len(s.DisplayName) > 64 || strings.ContainsAny(s.DisplayName, "\r\n") {
		return fmt.Errorf("server %s: display_name must be one line of at most 64 bytes", s.Name)
	}
	if s.NSAddress == "" {
		return fmt.Errorf("server %s: ns_address is empty", s.Name)
	}
	if host, port, err := net.SplitHostPort(s.NSAddress); err != nil || host == "" || port == "" {
		return fmt.Errorf("server %s: ns_address %q is not host:port", s.Name, s.NSAddress)
	}
	urls := map[string]string{"http_base_url": s.HTTPBaseURL, "services.nexus": s.Services.Nexus, "services.login": s.Services.Login,
		"services.rst": s.Services.RST, "services.sharing": s.Services.Sharing, "services.abservice": s.Services.ABService,
		"services.storage": s.Services.Storage, "services.rsi": s.Services.RSI, "services.oim": s.Services.OIM}
	for key, raw := range urls {
		if raw == "" {
			continue
		}
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return fmt.Errorf("server %s: %s %q is not an http(s) URL without user info", s.Name, key, raw)
		}
	}
	for _, v := range s.ProtocolVersions {
		if v < 2 || v > 18 {
			return fmt.Errorf("server %s: protocol_versions: MSNP%d is not supported (2-18)", s.Name, v)
		}
	}
	return nil
}

// Endpoints resolves the HTTP service URLs: an explicit override wins, else the base URL plus
// the service's usual path.
func (s *ServerConfig) Endpoints() ns.Endpoints {
	base := strings.TrimRight(s.HTTPBaseURL, "/")
	pick := func(override, path string) string {
		if override != "" {
			return override
		}
		if base == "" {
			return ""
		}
		return base + path
	}
	return ns.Endpoints{
		Nexus:       pick(s.Services.Nexus, "/rdr/pprdr.asp"),
		Login:       pick(s.Services.Login, "/login"),
		RST:         pick(s.Services.RST, "/RST.srf"),
		Sharing:     pick(s.Services.Sharing, "/abservice/SharingService.asmx"),
		AddressBook: pick(s.Services.ABService, "/abservice/abservice.asmx"),
		Storage:     pick(s.Services.Storage, "/storageservice/SchematizedStore.asmx"),
		RSI:         pick(s.Services.RSI, "/rsi/rsi.asmx"),
		OIM:         pick(s.Services.OIM, "/OimWS/oim.asmx"),
	}
}

// applyLegacyServer folds the settings of the single-server config (server, http_base_url,
// services, protocol_versions at the top of the network section) into the first entry of
// Servers, creating it when the list is empty. Set legacy values win, so that tools that edit
// network.server of a generated config keep working.
func (c *Config) applyLegacyServer() {
	legacy := c.Server != "" || c.HTTPBaseURL != "" || c.Services != (ServiceURLs{}) || len(c.ProtocolVersions) > 0
	if !legacy {
		return
	}
	if len(c.Servers) == 0 {
		c.Servers = []ServerConfig{{Name: "default"}}
	}
	s := &c.Servers[0]
	if c.Server != "" {
		s.NSAddress = c.Server
	}
	if c.HTTPBaseURL != "" {
		s.HTTPBaseURL = c.HTTPBaseURL
	}
	overlay := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	overlay(&s.Services.Nexus, c.Services.Nexus)
	overlay(&s.Services.Login, c.Services.Login)
	overlay(&s.Services.RST, c.Services.RST)
	overlay(&s.Services.Sharing, c.Services.Sharing)
	overlay(&s.Services.ABService, c.Services.ABService)
	overlay(&s.Services.Storage, c.Services.Storage)
	overlay(&s.Services.RSI, c.Services.RSI)
	overlay(&s.Services.OIM, c.Services.OIM)
	if len(c.ProtocolVersions) > 0 {
		s.ProtocolVersions = c.ProtocolVersions
	}
	c.Server, c.HTTPBaseURL, c.Services, c.ProtocolVersions = "", "", ServiceURLs{}, nil
}

// validateServers checks network.servers (after folding in the legacy keys).
func (c *Config) validateServers() error {
	c.applyLegacyServer()
	if len(c.Servers) == 0 {
		return errors.New("network.servers is empty: configure at least one MSN server")
	}
	seen := map[string]bool{}
	for i := range c.Servers {
		s := &c.Servers[i]
		if err := s.validate(); err != nil {
			return fmt.Errorf("network.servers[%d]: %w", i, err)
		}
		if seen[s.Name] {
			return fmt.Errorf("network.servers: the name %q is used twice", s.Name)
		}
		seen[s.Name] = true
	}
	return nil
}

// ServerNamed returns the server a login uses: the one with that name, the first one for ""
// (logins made before the servers list), or the one whose NS address equals name (logins made
// with allow_custom_server). Any other name gives ErrUnknownServer: the login is not made.
func (c *Config) ServerNamed(name string) (*ServerConfig, error) {
	if len(c.Servers) == 0 {
		return nil, fmt.Errorf("%w: no server configured", ErrUnknownServer)
	}
	if name == "" {
		return &c.Servers[0], nil
	}
	for i := range c.Servers {
		if c.Servers[i].Name == name {
			return &c.Servers[i], nil
		}
	}
	for i := range c.Servers {
		if strings.EqualFold(c.Servers[i].NSAddress, name) {
			return &c.Servers[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownServer, truncateText(name, 64))
}

// Endpoints are the HTTP services of the first (default) server.
func (c *Config) Endpoints() ns.Endpoints {
	if len(c.Servers) == 0 {
		return ns.Endpoints{}
	}
	return c.Servers[0].Endpoints()
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// serverOf returns the server of a login.
func (c *Connector) serverOf(meta *database.UserLoginMetadata) (*ServerConfig, error) {
	return c.Config.ServerNamed(meta.Server)
}

// serverLabel names a login's server in messages: its NS address, or the unknown name.
func (c *Connector) serverLabel(meta *database.UserLoginMetadata) string {
	if s, err := c.serverOf(meta); err == nil {
		return s.NSAddress
	}
	return meta.Server
}

// endpoints are the HTTP services of this client's server (none if it is not configured).
func (c *Client) endpoints() ns.Endpoints {
	if s, err := c.conn.serverOf(c.meta()); err == nil {
		return s.Endpoints()
	}
	return ns.Endpoints{}
}

// upgradeServers turns the network section's server settings into the servers list: an
// existing list is kept, and the single-server keys of older configs (server, http_base_url,
// services, protocol_versions; allow_custom_server is dropped) become, or override, its first
// entry.
func upgradeServers(helper configupgrade.Helper) {
	helper.Copy(configupgrade.List, "servers")
	list := helper.GetBaseNode("servers")
	if list == nil || list.Node.Kind != yaml.SequenceNode || len(list.Node.Content) == 0 || list.Node.Content[0].Kind != yaml.MappingNode {
		return
	}
	first := list.Node.Content[0]
	if v, ok := helper.Get(configupgrade.Str, "server"); ok && v != "" {
		setMapValue(first, "ns_address", scalarNode(v))
	}
	if v, ok := helper.Get(configupgrade.Str, "http_base_url"); ok && v != "" {
		setMapValue(first, "http_base_url", scalarNode(v))
	}
	if svc := helper.GetNode("services"); svc != nil && svc.Node.Kind == yaml.MappingNode {
		setMapValue(first, "services", svc.Node)
	}
	if pv := helper.GetNode("protocol_versions"); pv != nil && pv.Node.Kind == yaml.SequenceNode && len(pv.Node.Content) > 0 {
		setMapValue(first, "protocol_versions", pv.Node)
	}
}

func scalarNode(v string) *yaml.Node {
	n := &yaml.Node{}
	n.SetString(v)
	return n
}

// setMapValue sets key in a YAML mapping node, replacing its value or appending the pair.
func setMapValue(m *yaml.Node, key string, value *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			value.HeadComment, value.LineComment = m.Content[i+1].HeadComment, m.Content[i+1].LineComment
			m.Content[i+1] = value
			return
		}
	}
	m.Content = append(m.Content, scalarNode(key), value)
}

// serverField is the login flow's server choice: a select field when the bridge offers more
// than one server (none otherwise: with one server nothing changes for the user).
func (p *passwordLogin) serverField() (bridgev2.LoginInputDataField, bool) {
	servers := p.conn.Config.Servers
	if len(servers) < 2 {
		return bridgev2.LoginInputDataField{}, false
	}
	names := make([]string, len(servers))
	labels := make([]string, len(servers))
	for i, s := range servers {
		names[i] = s.Name
		labels[i] = s.Name + " (" + s.Label() + ")"
	}
	def := servers[0].Name
	if p.override != nil {
		if meta, ok := p.override.Metadata.(*database.UserLoginMetadata); ok {
			if s, err := p.conn.Config.ServerNamed(meta.Server); err == nil {
				def = s.Name
			}
		}
	}
	return bridgev2.LoginInputDataField{
		Type:         bridgev2.LoginInputFieldTypeSelect,
		ID:           "server",
		Name:         "MSN server",
		Description:  "The MSN network of your account: " + strings.Join(labels, ", "),
		DefaultValue: def,
		Options:      names,
	}, true
}

// chosenServer resolves the login flow's server choice. Only names of the servers list are
// accepted (an empty choice is the default server); anything else is refused before any
// connection is made.
func (p *passwordLogin) chosenServer(choice string) (*ServerConfig, error) {
	choice = strings.TrimSpace(choice)
	if choice == "" && p.override != nil {
		// A relogin keeps its server when no choice was made (one-server bridges ask none).
		if meta, ok := p.override.Metadata.(*database.UserLoginMetadata); ok {
			if s, err := p.conn.Config.ServerNamed(meta.Server); err == nil {
				return s, nil
			}
		}
	}
	if choice != "" && !validServerName(choice) {
		return nil, ErrInvalidInput.WithMessage("Unknown MSN server; choose one of: %s", p.serverNames())
	}
	for i := range p.conn.Config.Servers {
		if choice == "" || p.conn.Config.Servers[i].Name == choice {
			return &p.conn.Config.Servers[i], nil
		}
	}
	return nil, ErrInvalidInput.WithMessage("Unknown MSN server %q; choose one of: %s", choice, p.serverNames())
}

func (p *passwordLogin) serverNames() string {
	names := make([]string, len(p.conn.Config.Servers))
	for i, s := range p.conn.Config.Servers {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}
