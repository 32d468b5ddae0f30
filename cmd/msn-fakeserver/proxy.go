package main

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// gate is shared by the front listeners: while it is closed ("down"), new connections are
// refused and HTTP requests answered 503, as during a server restart.
type gate struct {
	mu        sync.Mutex
	downUntil time.Time
	held      bool // down until release, whatever downUntil says
	conns     map[net.Conn]struct{}
}

func newGate() *gate { return &gate{conns: map[net.Conn]struct{}{}} }

func (g *gate) down() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held || time.Now().Before(g.downUntil)
}

// hold closes every proxied connection and refuses new ones until release.
func (g *gate) hold() int {
	g.mu.Lock()
	g.held = true
	g.mu.Unlock()
	return g.restart(0)
}

// release ends a hold (and any timed restart): new connections are accepted again.
func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held = false
	g.downUntil = time.Time{}
}

// restart closes every proxied connection and refuses new ones for d.
func (g *gate) restart(d time.Duration) int {
	g.mu.Lock()
	g.downUntil = time.Now().Add(d)
	conns := make([]net.Conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return len(conns)
}

func (g *gate) track(c net.Conn, add bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if add {
		g.conns[c] = struct{}{}
	} else {
		delete(g.conns, c)
	}
}

// httpFront is a reverse proxy to the fake server's HTTP services, answering 503 while the gate
// is down. RSI calls are logged in f (when not nil).
func httpFront(upstream string, g *gate, f *faults, log zerolog.Logger) (http.Handler, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		log.Warn().Err(err).Str("path", r.URL.Path).Msg("HTTP upstream failed")
		http.Error(w, "upstream failed", http.StatusBadGateway)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.down() {
			http.Error(w, "server restarting", http.StatusServiceUnavailable)
			return
		}
		if f != nil && r.URL.Path == "/rsi/rsi.asmx" {
			f.observeRSI(w, r, rp)
			return
		}
		rp.ServeHTTP(w, r)
	}), nil
}
