package abch

import (
	"context"
	"errors"
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

// cutFirstServer answers every request with an empty SOAP envelope, except that it cuts the
// connection of the first one after the headers, in the middle of the body it announced (as a
// proxy whose upstream connection broke does). It counts the requests.
func cutFirstServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		body := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><X/></soap:Body></soap:Envelope>`
		if calls.Add(1) == 1 {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 500\r\n\r\n" + body[:20])
			_ = buf.Flush()
			_ = conn.Close()
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// TestReadOnlyCallRetriedAfterTransportError: a read-only call (the contact list fetch at login)
// whose response is cut off is made once more and succeeds; a call that changes something
// (adding a contact) is not repeated and reports the cut.
func TestReadOnlyCallRetriedAfterTransportError(t *testing.T) {
	srv, calls := cutFirstServer(t)
	c := &Client{SharingURL: srv.URL, AddressBookURL: srv.URL, Ticket: func() string { return "t=x" }}
	if _, err := c.call(context.Background(), srv.URL, "ABFindContactsPaged", ScenarioInitial, "<x/>"); err != nil {
		t.Fatalf("read-only call after a cut response: %v", err)
	}
	if calls.Load() != 2 {
		t.Fatalf("%d requests, want 2", calls.Load())
	}

	srv, calls = cutFirstServer(t)
	_, err := c.call(context.Background(), srv.URL, "ABContactAdd", ScenarioContactSave, "<x/>")
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("changing call after a cut response: %v", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("the changing call was made %d times", calls.Load())
	}
}
