package auth

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzHostAllowed: a URL from the network (psf:Redirect, DALogin) is allowed only when it is an
// http(s) URL without user info whose host is one of the configured ones.
func FuzzHostAllowed(f *testing.F) {
	for _, s := range []string{"http://login.example/x", "https://LOGIN.example:8443/", "http://evil.example/",
		"http://login.example@evil.example/", "http://evil.example#@login.example", "//login.example/", "http://login.example.:80/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !hostAllowed(raw, []string{"extra.example"}, "http://login.example:8081/RST.srf") {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
			t.Fatalf("allowed %q", raw)
		}
		if h := strings.ToLower(u.Hostname()); h != "login.example" && h != "extra.example" {
			t.Fatalf("allowed %q with host %q", raw, h)
		}
	})
}

// FuzzPrintable: server words put into states and logs are bounded, valid UTF-8 and on one line.
func FuzzPrintable(f *testing.F) {
	f.Add("Slow down\r\nplease", 10)
	f.Add("\xff\xfe", 1)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 1000 {
			return
		}
		got := printable(s, n)
		if len(got) > n || !utf8.ValidString(got) || strings.ContainsAny(got, "\r\n\x00") {
			t.Fatalf("printable(%q, %d) = %q", s, n, got)
		}
	})
}
