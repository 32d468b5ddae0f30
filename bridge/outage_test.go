package bridge

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2/status"
)

// switchableProxy forwards a loopback port to the fake NS and can be taken down (listener
// closed, connections cut) and brought back on the same port: a server outage.
type switchableProxy struct {
	t        *testing.T
	addr     string
	upstream string
	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
	accepted int
}

func newSwitchableProxy(t *testing.T, upstream string) *switchableProxy {
	p := &switchableProxy{t: t, upstream: upstream, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *switchableProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.upstream)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.accepted++
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
}

func (p *switchableProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

func (p *switchableProxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("re-listening on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

func (p *switchableProxy) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// TestClientBackSoonAfterOutage: while the server is down the client only probes it (no
// login reaches it); once it is back the client logs in again within the probe interval plus
// the spread, not after a long backoff.
func TestClientBackSoonAfterOutage(t *testing.T) {
	h := newHarness(t, 15)
	proxy := newSwitchableProxy(t, h.srv.NSAddr())
	h.conn.Config.Servers[0].NSAddress = proxy.addr
	// Disconnect does not wait for the event worker, whose contact sync of the new session may
	// still log when the test ends (fatal for a testing.T writer under -v).
	h.client.log = zerolog.Nop()
	h.connect(t)
	logins := h.srv.Logins("alice@example.com")

	proxy.down()
	wait(t, h.rec.states, "transient disconnect", func(st status.BridgeState) bool { return st.StateEvent == status.StateTransientDisconnect })
	// The login after the drop fails: from then on the client probes the server.
	wait(t, h.rec.states, "failed reconnect", func(st status.BridgeState) bool { return st.Error == StateErrConnectFailed })
	before := proxy.connections()
	proxy.up()
	back := time.Now()
	wait(t, h.rec.states, "reconnected", func(st status.BridgeState) bool { return st.StateEvent == status.StateConnected })
	took := time.Since(back)
	timing := retryTimingFor(h.client.backoffMin)
	// Bound: one probe interval, the probe, the spread; generous slack for a loaded machine.
	if limit := timing.probeMax + timing.probeTimeout + timing.comebackSpread + 5*time.Second; took > limit {
		t.Fatalf("back %v after the server returned, limit %v", took, limit)
	}
	if n := h.srv.Logins("alice@example.com"); n != logins+1 {
		t.Fatalf("logins %d → %d, want exactly one more", logins, n)
	}
	if n := proxy.connections() - before; n < 2 {
		t.Fatalf("%d connections after the return, want a probe and the login", n)
	}
}
