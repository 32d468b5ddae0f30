package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestSSOThrottledIsRetriableWithServerWords: a throttling fault and an HTTP 503 are not a wrong
// password; they say so and keep the server's words.
func TestSSOThrottledIsRetriableWithServerWords(t *testing.T) {
	body := `<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Header><psf:pp xmlns:psf="y"><psf:reqstatus>0x80048820</psf:reqstatus></psf:pp></S:Header><S:Body><S:Fault><S:Code><S:Value>S:Sender</S:Value><S:Subcode><S:Value>psf:RequestThrottled</S:Value></S:Subcode></S:Code><S:Reason><S:Text>Slow down, please</S:Text></S:Reason></S:Fault></S:Body></S:Envelope>`
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) })
	s := &SSO{HTTP: srv.Client(), URL: srv.URL + "/RST2.srf"}
	_, err := s.Login(context.Background(), "alice@example.com", "secret-pw", "")
	if err == nil || errors.Is(err, ErrBadCredentials) || !errors.Is(err, ErrThrottled) {
		t.Fatalf("err = %v, want ErrThrottled and not ErrBadCredentials", err)
	}
	if !strings.Contains(err.Error(), "Slow down, please") || !strings.Contains(err.Error(), "RequestThrottled") {
		t.Errorf("the server's words are missing from %q", err)
	}
	assertAuthError(t, err, http.StatusOK, "secret-pw")

	busy := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	s = &SSO{HTTP: busy.Client(), URL: busy.URL + "/RST.srf"}
	_, err = s.Login(context.Background(), "alice@example.com", "secret-pw", "")
	if !errors.Is(err, ErrThrottled) || errors.Is(err, ErrBadCredentials) || !strings.Contains(err.Error(), "Retry-After 120") {
		t.Fatalf("HTTP 503: err = %v, want ErrThrottled with the Retry-After", err)
	}
}

func TestPassportThrottled(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTooManyRequests) })
	p := &Passport{HTTP: srv.Client(), LoginURL: srv.URL + "/login"}
	_, err := p.TWN(context.Background(), "alice@example.com", "secret-pw", "lc=1033")
	if !errors.Is(err, ErrThrottled) || errors.Is(err, ErrBadCredentials) {
		t.Fatalf("err = %v, want ErrThrottled", err)
	}
}

func TestPrintable(t *testing.T) {
	if got := printable(" a\r\nb\x00c\xff ", 100); got != "a  b c?" {
		t.Errorf("printable = %q", got)
	}
	if got := printable(strings.Repeat("x", 300), 10); len(got) != 10 {
		t.Errorf("printable did not cut: %d bytes", len(got))
	}
}
