package auth

import (
	"net/url"
	"strings"
)

// hostAllowed reports whether rawURL is an absolute http(s) URL whose host name is one of
// allowed or the host of one of the configured URLs (compared case-insensitively, ports
// ignored: the operator configures hosts, a service may move between its ports).
func hostAllowed(rawURL string, allowed []string, configured ...string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, a := range allowed {
		if strings.EqualFold(strings.TrimSpace(a), host) {
			return true
		}
	}
	for _, c := range configured {
		if cu, err := url.Parse(c); err == nil && cu.Hostname() != "" && strings.EqualFold(cu.Hostname(), host) {
			return true
		}
	}
	return false
}
