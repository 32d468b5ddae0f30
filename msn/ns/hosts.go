package ns

import "net/url"

// hosts lists the host names of the configured endpoints: the only hosts a login may send the
// password to (redirects and nexus answers elsewhere are refused by msn/auth).
func (e Endpoints) hosts() []string {
	var out []string
	seen := map[string]bool{}
	for _, raw := range []string{e.Nexus, e.Login, e.RST, e.Sharing, e.AddressBook, e.Storage, e.RSI, e.OIM} {
		if u, err := url.Parse(raw); err == nil && u.Hostname() != "" && !seen[u.Hostname()] {
			seen[u.Hostname()] = true
			out = append(out, u.Hostname())
		}
	}
	return out
}
