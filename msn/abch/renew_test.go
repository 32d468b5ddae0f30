package abch

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestCallRenewsRefusedTicket: a 403 for a stale ticket renews once and retries; other errors
// do not renew.
func TestCallRenewsRefusedTicket(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(b), "t=fresh") {
			http.Error(w, "403 Forbidden", http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><X/></soap:Body></soap:Envelope>`))
	}))
	defer srv.Close()
	var ticket atomic.Value
	ticket.Store("t=stale")
	renewals := 0
	c := &Client{SharingURL: srv.URL, AddressBookURL: srv.URL, Ticket: func() string { return ticket.Load().(string) },
		Renew: func(context.Context) error { renewals++; ticket.Store("t=fresh"); return nil }}
	if _, err := c.call(context.Background(), srv.URL, "ABFindAll", ScenarioInitial, "<x/>"); err != nil {
		t.Fatalf("call: %v", err)
	}
	if renewals != 1 || calls.Load() != 2 {
		t.Fatalf("%d renewals, %d calls; want 1 and 2", renewals, calls.Load())
	}
	if IsAuthFault(&Fault{Code: "soap:Client", ErrorCode: "ContactAlreadyExists"}) || !IsAuthFault(&Fault{ErrorCode: "TicketExpired"}) ||
		!IsAuthFault(&StatusError{StatusCode: 401}) || IsAuthFault(&StatusError{StatusCode: 500}) {
		t.Error("IsAuthFault misclassifies")
	}
}
