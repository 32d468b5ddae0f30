//go:build e2e

package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
)

// hsProxy sits between the bridge and the homeserver (the bridge's homeserver.address). It is
// transparent until told to hold requests: a held request is never forwarded, as if the
// homeserver had not answered yet, so that a test can act (kill the bridge) while an event is
// on its way to Matrix. When the homeserver is down, the bridge's connection is closed, as a
// stopped Synapse would refuse it.
type hsProxy struct {
	srv *http.Server
	URL string

	mu     sync.Mutex
	hold   func(r *http.Request, body []byte) bool
	heldCh chan string // bodies of held requests
}

func startHSProxy(upstream string) (*hsProxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &hsProxy{URL: "http://" + ln.Addr().String()}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		// The homeserver is down: close the bridge's connection like a refused one.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, herr := hj.Hijack(); herr == nil {
				c.Close()
				return
			}
		}
		http.Error(w, "homeserver unreachable", http.StatusBadGateway)
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		hold, ch := p.hold, p.heldCh
		p.mu.Unlock()
		if hold != nil && r.Body != nil {
			body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
			r.Body.Close()
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if hold(r, body) {
				select {
				case ch <- string(body):
				default:
				}
				<-r.Context().Done() // never answered: the bridge waits until it dies
				return
			}
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// holdIf holds every request matching f from now on and returns a channel that gets the body
// of each held request; release ends it.
func (p *hsProxy) holdIf(f func(r *http.Request, body []byte) bool) <-chan string {
	ch := make(chan string, 64)
	p.mu.Lock()
	p.hold, p.heldCh = f, ch
	p.mu.Unlock()
	return ch
}

// release stops holding requests (those already held stay unanswered).
func (p *hsProxy) release() {
	p.mu.Lock()
	p.hold, p.heldCh = nil, nil
	p.mu.Unlock()
}

func (p *hsProxy) stop() { _ = p.srv.Close() }
