package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// gate is shared by the front listeners: while it is closed ("down"), new connections are
// accepted and closed at once and HTTP requests answered 503, as during a server restart behind
// a listening proxy. While it refuses, the listeners are shut: connects are refused, as when the
// server process is gone.
type gate struct {
	mu        sync.Mutex
	downUntil time.Time
	held      bool // down until release, whatever downUntil says
	conns     map[net.Conn]struct{}
	listeners []*switchListener // shut while refusing
}

// addListener makes l one of the listeners that refuse connects while the gate refuses.
func (g *gate) addListener(l *switchListener) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.listeners = append(g.listeners, l)
}

// refuse shuts the listeners (connects are refused) or opens them again.
func (g *gate) refuse(on bool) error {
	g.mu.Lock()
	ls := append([]*switchListener(nil), g.listeners...)
	g.mu.Unlock()
	var errs []error
	for _, l := range ls {
		errs = append(errs, l.setListening(!on))
	}
	return errors.Join(errs...)
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

// switchListener is a TCP listener that can stop listening — connects are then refused, as when
// the server process is gone — and listen again on the same address. Accept blocks while it is
// off, so that the server using it (a front, an http.Server) carries on across the outage.
type switchListener struct {
	addr net.Addr // fixed by the first listen

	mu     sync.Mutex
	ln     net.Listener  // nil while off
	wake   chan struct{} // closed (and replaced) when the state changes
	closed bool
}

func listenSwitch(addr string) (*switchListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &switchListener{addr: ln.Addr(), ln: ln, wake: make(chan struct{})}, nil
}

// Accept waits for the next connection; while the listener is off it waits for it to be on.
func (l *switchListener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		ln, wake, closed := l.ln, l.wake, l.closed
		l.mu.Unlock()
		switch {
		case closed:
			return nil, net.ErrClosed
		case ln == nil:
			<-wake
			continue
		}
		c, err := ln.Accept()
		if err == nil {
			return c, nil
		}
		l.mu.Lock()
		switched := l.ln != ln && !l.closed
		l.mu.Unlock()
		if !switched {
			return nil, err
		}
	}
}

// setListening closes the socket (off: connects are refused) or binds the address again (on).
func (l *switchListener) setListening(on bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || (l.ln != nil) == on {
		return nil
	}
	if on {
		ln, err := net.Listen("tcp", l.addr.String())
		if err != nil {
			return fmt.Errorf("listening again on %s: %w", l.addr, err)
		}
		l.ln = ln
	} else {
		_ = l.ln.Close()
		l.ln = nil
	}
	close(l.wake)
	l.wake = make(chan struct{})
	return nil
}

// Close stops the listener for good.
func (l *switchListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.wake)
	l.wake = make(chan struct{})
	if l.ln != nil {
		return l.ln.Close()
	}
	return nil
}

// Addr is the address the listener binds, on or off.
func (l *switchListener) Addr() net.Addr { return l.addr }
