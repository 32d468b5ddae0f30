package bridge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestHTTPClientHonoursTLSVerify: the bridge's client verifies certificates unless tls_verify
// is off, and RSI and the OIM store (which used their own default clients) go through it.
func TestHTTPClientHonoursTLSVerify(t *testing.T) {
	var hits atomic.Int32
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(tlsSrv.Close)

	h := newHarness(t, 15)
	h.conn.Config.Servers[0].Services.OIM = tlsSrv.URL + "/OimWS/oim.asmx"
	h.conn.Config.Servers[0].Services.RSI = tlsSrv.URL + "/rsi/rsi.asmx"
	h.connect(t)
	sess, _ := h.client.session()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	for _, verify := range []bool{true, false} {
		h.conn.Config.TLSVerify = verify
		h.conn.Config.httpClient = newHTTPClient(verify)
		hits.Store(0)
		if got := h.client.rsiClient(sess).HTTP; got != h.conn.Config.HTTPClient() {
			t.Fatal("RSI does not use the bridge's HTTP client")
		}
		_, rsiErr := h.client.rsiClient(sess).GetMetadata(ctx)
		oimErr := h.client.sendOffline(ctx, sess, "dave@example.com", "hi")
		if rsiErr == nil || oimErr == nil {
			t.Fatalf("tls_verify %v: the failing test server was not seen as failing: %v / %v", verify, rsiErr, oimErr)
		}
		certErr := func(err error) bool { return strings.Contains(err.Error(), "certificate") }
		if verify {
			if !certErr(rsiErr) || !certErr(oimErr) || hits.Load() != 0 {
				t.Errorf("tls_verify true: a self-signed server was trusted (rsi %v, oim %v, %d requests)", rsiErr, oimErr, hits.Load())
			}
		} else if certErr(rsiErr) || certErr(oimErr) || hits.Load() != 2 {
			t.Errorf("tls_verify false: certificates still checked (rsi %v, oim %v, %d requests)", rsiErr, oimErr, hits.Load())
		}
	}
}

func TestConfigOneHTTPClient(t *testing.T) {
	cfg := loadExample(t)
	cfg.PasswordEncryptionKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, b := cfg.HTTPClient(), cfg.HTTPClient()
	if a != b || a.Timeout <= 0 {
		t.Fatalf("HTTPClient not one bounded client: %p %p timeout %v", a, b, a.Timeout)
	}
	tr, ok := a.Transport.(*http.Transport)
	if !ok || tr.TLSClientConfig.InsecureSkipVerify != !cfg.TLSVerify || tr.ResponseHeaderTimeout <= 0 || tr.MaxResponseHeaderBytes <= 0 {
		t.Fatalf("transport %+v", tr)
	}
}
