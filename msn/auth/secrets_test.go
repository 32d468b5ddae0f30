package auth

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// otherHostServer starts a server on 127.0.0.2: another host than the 127.0.0.1 of newServer.
// It records every request it gets.
type otherHostServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // Authorization header and body of each request
}

func newOtherHostServer(t *testing.T, h http.HandlerFunc) *otherHostServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	o := &otherHostServer{}
	o.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		o.mu.Lock()
		o.seen = append(o.seen, r.Header.Get("Authorization")+" "+r.URL.String()+" "+string(body))
		o.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		if h != nil {
			h(w, r)
		}
	}))
	o.Listener = ln
	o.Start()
	t.Cleanup(o.Close)
	return o
}

func (o *otherHostServer) requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.seen...)
}

// TestTWNRedirectToAnotherHostGetsNoPassword: a Passport 1.4 redirect to another host is
// followed without the Authorization header that carries the password.
func TestTWNRedirectToAnotherHostGetsNoPassword(t *testing.T) {
	other := newOtherHostServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	first := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/login2.srf", http.StatusFound)
	})
	p := &Passport{HTTP: first.Client(), LoginURL: first.URL + "/login"}
	if _, err := p.TWN(context.Background(), "a@b.c", "Sekrit-Pw", escargotTWN); err == nil {
		t.Fatal("login succeeded without credentials")
	}
	reqs := other.requests()
	if len(reqs) != 1 {
		t.Fatalf("other host got %d requests, want the one redirected", len(reqs))
	}
	if strings.Contains(reqs[0], "Sekrit") || strings.Contains(reqs[0], "Passport1.4") {
		t.Fatalf("the other host got the credentials: %q", reqs[0])
	}
}

// TestTWNNexusToAnotherHostRefused: a nexus naming a DALogin on a host the operator did not
// configure gets no login request at all.
func TestTWNNexusToAnotherHostRefused(t *testing.T) {
	other := newOtherHostServer(t, loginHandler(t, "a@b.c", "Sekrit-Pw", "t=x&p=y"))
	nexus := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("PassportURLs", "DARealm=Passport.Net,DALogin="+strings.TrimPrefix(other.URL, "http://")+"/login2.srf")
	})
	nexus.URL = strings.Replace(nexus.URL, "https://", "http://", 1)
	p := &Passport{HTTP: nexus.Client(), NexusURL: nexus.URL + "/rdr/pprdr.asp"}
	_, err := p.TWN(context.Background(), "a@b.c", "Sekrit-Pw", escargotTWN)
	if err == nil || !strings.Contains(err.Error(), "not a configured host") {
		t.Fatalf("err = %v, want a refused DALogin", err)
	}
	if n := len(other.requests()); n != 0 {
		t.Fatalf("the unconfigured host got %d requests", n)
	}
	assertAuthError(t, err, 0, "Sekrit")
}

// TestSSORedirectToAnotherHostRefused: a psf:Redirect is followed only within the configured
// hosts; elsewhere the password is not posted.
func TestSSORedirectToAnotherHostRefused(t *testing.T) {
	other := newOtherHostServer(t, rstHandler(t, "a@b.c", "Sekrit-Pw"))
	first := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte(`<S:Envelope xmlns:S="x"><S:Body><S:Fault><faultcode>psf:Redirect</faultcode><psf:redirectUrl xmlns:psf="y">` + other.URL + `/RST.srf</psf:redirectUrl></S:Fault></S:Body></S:Envelope>`))
	})
	_, err := (&SSO{HTTP: first.Client(), URL: first.URL + "/RST.srf"}).Login(context.Background(), "a@b.c", "Sekrit-Pw", "")
	if err == nil || !strings.Contains(err.Error(), "not a configured host") {
		t.Fatalf("err = %v, want a refused redirect", err)
	}
	if n := len(other.requests()); n != 0 {
		t.Fatalf("the unconfigured host got %d requests", n)
	}
	assertAuthError(t, err, 0, "Sekrit")

	// The operator may list the host.
	res, err := (&SSO{HTTP: first.Client(), URL: first.URL + "/RST.srf", AllowedHosts: []string{"127.0.0.2"}}).Login(context.Background(), "a@b.c", "Sekrit-Pw", "")
	if err != nil || res == nil {
		t.Fatalf("redirect to an allowed host: %v", err)
	}
}

func TestHostAllowed(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"http://login.example/x", true},
		{"https://LOGIN.example:8443/x", true},
		{"http://extra.example/x", true},
		{"http://evil.example/x", false},
		{"http://login.example.evil/x", false},
		{"http://user@login.example/x", false},
		{"ftp://login.example/x", false},
		{"/relative", false},
	} {
		if got := hostAllowed(tc.url, []string{"extra.example"}, "http://login.example:8081/RST.srf"); got != tc.want {
			t.Errorf("hostAllowed(%q) = %v, want %v", tc.url, got, tc.want)
		}
	}
}
