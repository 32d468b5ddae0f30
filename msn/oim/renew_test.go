package oim

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

const authFault = `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>q0:AuthenticationFailed</faultcode><faultstring>Exception of type 'System.Web.Services.Protocols.SoapException' was thrown.</faultstring><detail><TweenerChallenge>ct=1,rver=1</TweenerChallenge></detail></soap:Fault></soap:Body></soap:Envelope>`

// TestRSIRenewsRefusedTicket: a call refused for its ticket renews once and is retried with
// the new ticket.
func TestRSIRenewsRefusedTicket(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		b := new(strings.Builder)
		_, _ = io.Copy(b, r.Body)
		if !strings.Contains(b.String(), "<t>fresh</t>") {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(authFault))
			return
		}
		_, _ = w.Write([]byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetMetadataResponse xmlns="` + RSINamespace + `"><MD></MD></GetMetadataResponse></soap:Body></soap:Envelope>`))
	}))
	defer srv.Close()
	var ticket atomic.Value
	ticket.Store("t=stale&p=")
	renewals := 0
	c := &RSIClient{URL: srv.URL, Ticket: func() string { return ticket.Load().(string) },
		Renew: func(context.Context) error { renewals++; ticket.Store("t=fresh&p="); return nil }}
	if _, err := c.GetMetadata(context.Background()); err != nil {
		t.Fatalf("GetMetadata: %v", err)
	}
	if renewals != 1 || calls.Load() != 2 {
		t.Fatalf("%d renewals, %d calls; want 1 and 2", renewals, calls.Load())
	}
	// Without Renew the refusal is returned as is.
	ticket.Store("t=stale&p=")
	c.Renew = nil
	if _, err := c.GetMetadata(context.Background()); !IsAuthFault(err) {
		t.Fatalf("err = %v, want an auth fault", err)
	}
}

func TestIsAuthFault(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&Fault{Code: "AuthenticationFailed"}, true},
		{&Fault{Code: "AuthenticationFailed", LockKeyChallenge: "123"}, false},
		{&Fault{Code: "SenderThrottleLimitExceeded"}, false},
		{&HTTPError{Status: 403}, true},
		{&HTTPError{Status: 500}, false},
	} {
		if got := IsAuthFault(tc.err); got != tc.want {
			t.Errorf("IsAuthFault(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
