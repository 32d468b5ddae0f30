package auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// escargotTWN is the TWN S string of the revival server (transcript_msnp8.txt).
const escargotTWN = "ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1"

// loginHandler mimics the revival server's /login: it decodes sign-in and pwd from the
// Passport1.4 Authorization header and answers like the transcripts do.
func loginHandler(t *testing.T, email, password, token string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		authz := r.Header.Get("Authorization")
		if authz == "" {
			http.Error(w, "500 Internal Server Error\n\nServer got itself in trouble", http.StatusInternalServerError)
			return
		}
		if !strings.HasPrefix(authz, "Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,") {
			t.Errorf("Authorization prefix wrong: %q", authz)
		}
		var gotEmail, gotPwd string
		for _, kv := range strings.Split(strings.TrimPrefix(authz, "Passport1.4 "), ",") {
			k, v, _ := strings.Cut(kv, "=")
			dec, err := url.PathUnescape(v)
			if err != nil {
				t.Errorf("undecodable %s value", k)
			}
			switch k {
			case "sign-in":
				gotEmail = dec
			case "pwd":
				gotPwd = dec
			}
		}
		if gotEmail != email || gotPwd != password {
			w.Header().Set("WWW-Authenticate", "Passport1.4 da-status=failed")
			http.Error(w, "401: Unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Authentication-Info", "Passport1.4 da-status=success,from-PP='"+token+"'")
		w.Write([]byte("200: OK"))
	}
}

func TestTWNTranscript(t *testing.T) {
	// transcript_msnp8.txt: the exact Authorization header bob's client sent and the answer.
	const wantAuthz = "Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,sign-in=bob%40example.com,pwd=bobpass1,ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1"
	var nexusHits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/rdr/pprdr.asp", func(w http.ResponseWriter, r *http.Request) {
		nexusHits.Add(1)
		w.Header().Set("Passporturls", "DALogin=https://"+r.Host+"/login")
		w.Write([]byte("200: OK"))
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != wantAuthz {
			t.Errorf("Authorization =\n%s\nwant\n%s", got, wantAuthz)
		}
		w.Header().Set("Authentication-Info", "Passport1.4 da-status=success,from-PP='7f6afeda7855cf10f1a5'")
		w.Write([]byte("200: OK"))
	})
	srv := newServer(t, mux.ServeHTTP)

	// The nexus advertises https, which this server cannot serve: the configured LoginURL wins.
	p := &Passport{HTTP: srv.Client(), NexusURL: srv.URL + "/rdr/pprdr.asp", LoginURL: srv.URL + "/login"}
	ticket, err := p.TWN(context.Background(), "bob@example.com", "bobpass1", escargotTWN)
	if err != nil {
		t.Fatal(err)
	}
	if ticket != "7f6afeda7855cf10f1a5" {
		t.Errorf("ticket = %q", ticket)
	}
	if n := nexusHits.Load(); n != 0 {
		t.Errorf("nexus asked %d times although LoginURL is set", n)
	}

	// Without LoginURL the nexus is used, and its https URL fails against this plain server.
	p = &Passport{HTTP: srv.Client(), NexusURL: srv.URL + "/rdr/pprdr.asp"}
	_, err = p.TWN(context.Background(), "bob@example.com", "bobpass1", escargotTWN)
	ae := assertAuthError(t, err, 0, "bobpass1")
	if !strings.HasPrefix(ae.URL, "https://") || nexusHits.Load() != 1 {
		t.Errorf("expected a failed https login after one nexus call, got %v (nexus hits %d)", err, nexusHits.Load())
	}
}

func TestTWNViaNexus(t *testing.T) {
	for _, hdr := range []string{"Passporturls", "PassportURLs"} {
		t.Run(hdr, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("/nexus-mock", func(w http.ResponseWriter, r *http.Request) {
				w.Header()[hdr] = []string{"DARealm=Passport.Net,DALogin=http://" + r.Host + "/login,ConfigVersion=15"}
			})
			mux.HandleFunc("/login", loginHandler(t, "alice@example.com", "alicepass1", "5b652488d662a6b0b871"))
			srv := newServer(t, mux.ServeHTTP)
			p := &Passport{HTTP: srv.Client(), NexusURL: srv.URL + "/nexus-mock"}
			ticket, err := p.TWN(context.Background(), "alice@example.com", "alicepass1", escargotTWN)
			if err != nil || ticket != "5b652488d662a6b0b871" {
				t.Fatalf("TWN = %q, %v", ticket, err)
			}
		})
	}
}

func TestTWNNexusErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header string
	}{
		{"no header", http.StatusOK, ""},
		{"no DALogin", http.StatusOK, "DARealm=Passport.Net,ConfigVersion=15"},
		{"bad DALogin", http.StatusOK, "DALogin=ftp://x/login"},
		{"status 503", http.StatusServiceUnavailable, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("PassportURLs", tc.header)
				}
				w.WriteHeader(tc.status)
			})
			p := &Passport{HTTP: srv.Client(), NexusURL: srv.URL}
			_, err := p.TWN(context.Background(), "a@b.c", "pw", "")
			ae := assertAuthError(t, err, tc.status, "pw")
			if ae.Op != "passport nexus" {
				t.Errorf("op = %q", ae.Op)
			}
		})
	}
}

func TestTWNSpecialPassword(t *testing.T) {
	const pw = `p<&"a s,s=w+o%rd'é`
	srv := newServer(t, loginHandler(t, "odd+name@example.com", pw, "0123456789abcdef0123"))
	p := &Passport{HTTP: srv.Client(), LoginURL: srv.URL + "/login"}
	ticket, err := p.TWN(context.Background(), "odd+name@example.com", pw, escargotTWN)
	if err != nil || ticket != "0123456789abcdef0123" {
		t.Fatalf("TWN = %q, %v", ticket, err)
	}
}

func TestTWNWrongPassword(t *testing.T) {
	// quirks_transcript.txt, case twn_badpw: 401 + "WWW-Authenticate: Passport1.4 da-status=failed".
	srv := newServer(t, loginHandler(t, "alice@example.com", "alicepass1", "x"))
	p := &Passport{HTTP: srv.Client(), LoginURL: srv.URL + "/login"}
	_, err := p.TWN(context.Background(), "alice@example.com", "wrong-secret", escargotTWN)
	if !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("err = %v, want ErrBadCredentials", err)
	}
	assertAuthError(t, err, http.StatusUnauthorized, "wrong-secret")
}

func TestTWNMicrosoftForms(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		headers    map[string]string
		wantTicket string
		wantBad    bool
	}{
		{
			name:       "full success header",
			status:     200,
			headers:    map[string]string{"Authentication-Info": "Passport1.4 da-status=success,tname=MSPAuth,tname=MSPProf,tname=MSPSec,from-PP='t=53*1hAu8ADuD3TE&p=5eKBBC!yBH6ex',ru=http://messenger.msn.com"},
			wantTicket: "t=53*1hAu8ADuD3TE&p=5eKBBC!yBH6ex",
		},
		{
			name:    "401 with cbtxt",
			status:  401,
			headers: map[string]string{"WWW-Authenticate": "Passport1.4 da-status=failed,srealm=Passport.NET,ts=-3,prompt,cburl=http://x/y.gif,cbtxt=Type%20your%20e-mail%20address%20and%20password"},
			wantBad: true,
		},
		{
			name:    "200 but failed",
			status:  200,
			headers: map[string]string{"Authentication-Info": "Passport1.4 da-status=failed"},
			wantBad: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.headers {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
			})
			p := &Passport{HTTP: srv.Client(), LoginURL: srv.URL}
			ticket, err := p.TWN(context.Background(), "a@b.c", "pw", "lc=1033,id=507")
			if tc.wantBad {
				if !errors.Is(err, ErrBadCredentials) {
					t.Fatalf("err = %v, want ErrBadCredentials", err)
				}
				return
			}
			if err != nil || ticket != tc.wantTicket {
				t.Fatalf("TWN = %q, %v; want %q", ticket, err, tc.wantTicket)
			}
		})
	}
}

func TestTWNRedirect(t *testing.T) {
	var final atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Authentication-Info", "Passport1.4 da-status=redir")
		w.Header().Set("Location", "/login2.srf")
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/login2.srf", func(w http.ResponseWriter, r *http.Request) {
		final.Add(1)
		loginHandler(t, "a@b.c", "pw", "t=tick&p=et")(w, r)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	srv := newServer(t, mux.ServeHTTP)

	p := &Passport{HTTP: srv.Client(), LoginURL: srv.URL + "/login"}
	ticket, err := p.TWN(context.Background(), "a@b.c", "pw", escargotTWN)
	if err != nil || ticket != "t=tick&p=et" || final.Load() != 1 {
		t.Fatalf("TWN = %q, %v (final hits %d)", ticket, err, final.Load())
	}

	p = &Passport{HTTP: srv.Client(), LoginURL: srv.URL + "/loop"}
	_, err = p.TWN(context.Background(), "a@b.c", "pw", escargotTWN)
	assertAuthError(t, err, http.StatusFound, "pw=")
}

func TestTWNServerErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header string
	}{
		{"500", http.StatusInternalServerError, ""},
		{"200 without Authentication-Info", http.StatusOK, ""},
		{"200 without from-PP", http.StatusOK, "Passport1.4 da-status=success"},
		{"401 without da-status", http.StatusUnauthorized, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("Authentication-Info", tc.header)
				}
				w.WriteHeader(tc.status)
			})
			p := &Passport{HTTP: srv.Client(), LoginURL: srv.URL + "/login"}
			_, err := p.TWN(context.Background(), "a@b.c", "sekrit", escargotTWN)
			if errors.Is(err, ErrBadCredentials) {
				t.Fatalf("err = %v must not be ErrBadCredentials", err)
			}
			ae := assertAuthError(t, err, tc.status, "sekrit")
			if ae.URL != srv.URL+"/login" {
				t.Errorf("URL = %q", ae.URL)
			}
		})
	}
}

func TestTWNServerDown(t *testing.T) {
	p := &Passport{LoginURL: "http://" + deadAddr(t) + "/login"}
	err := waitErr(t, 10*time.Second, func() error {
		_, err := p.TWN(context.Background(), "a@b.c", "sekrit", escargotTWN)
		return err
	})
	assertAuthError(t, err, 0, "sekrit")
}

func TestTWNHangingServer(t *testing.T) {
	srv := hangingServer(t)
	p := &Passport{HTTP: srv.Client(), LoginURL: srv.URL + "/login"}
	ctx := shortCtx(t, 200*time.Millisecond)
	err := waitErr(t, 10*time.Second, func() error {
		_, err := p.TWN(ctx, "a@b.c", "sekrit", escargotTWN)
		return err
	})
	assertAuthError(t, err, 0, "sekrit")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a deadline error", err)
	}
}

func TestTWNConfigErrors(t *testing.T) {
	for _, p := range []*Passport{
		{},
		{LoginURL: "not a url"},
		{LoginURL: "ftp://127.0.0.1/login"},
	} {
		if _, err := p.TWN(context.Background(), "a@b.c", "pw", ""); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
	p := &Passport{LoginURL: "http://127.0.0.1:1/login"}
	if _, err := p.TWN(context.Background(), "a@b.c", "pw", "x\r\nInjected: 1"); err == nil {
		t.Error("a challenge with CRLF was accepted")
	}
}

func TestParsePassportURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"DARealm=Passport.Net,DALogin=login.passport.com/login2.srf,ConfigVersion=15", "https://login.passport.com/login2.srf"},
		{"DALogin=https://127.0.0.1:8081/login", "https://127.0.0.1:8081/login"},
		{"dalogin=http://127.0.0.1:8081/login", "http://127.0.0.1:8081/login"},
		{"DARealm=Passport.Net, DALogin=login.live.com/login2.srf ,DAReg=x", "https://login.live.com/login2.srf"},
	}
	for _, tc := range tests {
		got, err := parsePassportURLs(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parsePassportURLs(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "DARealm=x", "DALogin=", "DALogin=ftp://x", "DALogin=http://", "DALogin=https://u:p@host/x", "DALogin='unterminated"} {
		if got, err := parsePassportURLs(bad); err == nil {
			t.Errorf("parsePassportURLs(%q) = %q, want error", bad, got)
		}
	}
}

func TestParseAuthenticationInfo(t *testing.T) {
	tests := []struct{ in, ticket, status string }{
		{"Passport1.4 da-status=success,from-PP='7f6afeda7855cf10f1a5'", "7f6afeda7855cf10f1a5", "success"},
		{"passport1.4 DA-STATUS=Success,From-PP='t=a,b&p=c'", "t=a,b&p=c", "success"},
		{"from-PP=t=x&p=y", "t=x&p=y", ""},
	}
	for _, tc := range tests {
		ticket, status, err := parseAuthenticationInfo(tc.in)
		if err != nil || ticket != tc.ticket || status != tc.status {
			t.Errorf("parseAuthenticationInfo(%q) = %q, %q, %v", tc.in, ticket, status, err)
		}
	}
	for _, bad := range []string{"", "Passport1.4", "Passport1.4 da-status=failed", "Passport1.4 da-status=success,from-PP='t=x", "Passport1.4 da-status=success,from-PP=''", "from-PP='a b'"} {
		if ticket, _, err := parseAuthenticationInfo(bad); err == nil {
			t.Errorf("parseAuthenticationInfo(%q) = %q, want error", bad, ticket)
		}
	}
}

func TestPercentEncode(t *testing.T) {
	if got := percentEncode("bob@example.com"); got != "bob%40example.com" {
		t.Errorf("got %s", got)
	}
	if got := percentEncode(`a b,c=d+e%'<&"`); got != "a%20b%2Cc%3Dd%2Be%25%27%3C%26%22" {
		t.Errorf("got %s", got)
	}
}
