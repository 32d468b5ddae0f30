package main

import (
	"errors"
	"io"
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

// tcpProxy forwards every connection accepted on ln to upstream, through the gate.
type tcpProxy struct {
	ln       net.Listener
	upstream string
	gate     *gate
	log      zerolog.Logger
	wg       sync.WaitGroup
}

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.log.Warn().Err(err).Msg("accept failed")
			}
			return
		}
		if p.gate.down() {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.pipe(c)
		}()
	}
}

func (p *tcpProxy) pipe(c net.Conn) {
	defer c.Close()
	up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		p.log.Warn().Err(err).Msg("upstream dial failed")
		return
	}
	defer up.Close()
	p.gate.track(c, true)
	p.gate.track(up, true)
	defer p.gate.track(c, false)
	defer p.gate.track(up, false)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); up.Close(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); c.Close(); done <- struct{}{} }()
	<-done
	<-done
}

func (p *tcpProxy) close() {
	p.ln.Close()
	p.gate.restart(0)
	p.wg.Wait()
}

// httpFront is a reverse proxy to the fake server's HTTP services, answering 503 while the gate
// is down.
func httpFront(upstream string, g *gate, log zerolog.Logger) (http.Handler, error) {
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
		rp.ServeHTTP(w, r)
	}), nil
}
