package sb

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/wire"
)

const waitLimit = 5 * time.Second

// fakeNS hands out tickets for the scripted switchboard peer.
type fakeNS struct {
	passport string
	version  int
	addr     string

	mu   sync.Mutex
	xfrs int
	err  error
}

func (f *fakeNS) Passport() string { return f.passport }
func (f *fakeNS) Version() int     { return f.version }
func (f *fakeNS) RequestSwitchboard(ctx context.Context) (Ticket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return Ticket{}, f.err
	}
	f.xfrs++
	return Ticket{Addr: f.addr, Cookie: fmt.Sprintf("cookie%d", f.xfrs)}, nil
}

func (f *fakeNS) xfrCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.xfrs
}

// peerServer is a scripted switchboard server on 127.0.0.1.
type peerServer struct {
	t     *testing.T
	ln    net.Listener
	conns chan *peerConn
}

func newPeerServer(t *testing.T) *peerServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ps := &peerServer{t: t, ln: ln, conns: make(chan *peerConn, 16)}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				close(ps.conns)
				return
			}
			ps.conns <- &peerConn{t: t, nc: nc, r: wire.NewReader(nc, wire.FromClient, wire.Limits{})}
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ps
}

func (ps *peerServer) addr() string { return ps.ln.Addr().String() }

func (ps *peerServer) accept() *peerConn {
	ps.t.Helper()
	select {
	case pc, ok := <-ps.conns:
		if !ok {
			ps.t.Fatal("listener closed")
		}
		ps.t.Cleanup(func() { pc.nc.Close() })
		return pc
	case <-time.After(waitLimit):
		ps.t.Fatal("no switchboard connection")
	}
	return nil
}

// noConnection checks that no further connection is pending right now.
func (ps *peerServer) noConnection() {
	ps.t.Helper()
	select {
	case <-ps.conns:
		ps.t.Fatal("unexpected switchboard connection")
	default:
	}
}

type peerConn struct {
	t  *testing.T
	nc net.Conn
	r  *wire.Reader
}

func (pc *peerConn) read() (*wire.Command, error) {
	_ = pc.nc.SetReadDeadline(time.Now().Add(waitLimit))
	return pc.r.ReadCommand()
}

// expect reads the next command and checks its name.
func (pc *peerConn) expect(name string) *wire.Command {
	pc.t.Helper()
	cmd, err := pc.read()
	if err != nil {
		pc.t.Fatalf("waiting for %s: %v", name, err)
	}
	if cmd.Name != name {
		pc.t.Fatalf("got %s, want %s", cmd.String(), name)
	}
	return cmd
}

// expectClosed reads until the client closes the connection or says OUT, which the server
// answers by closing it (as a real server does); it returns what was read.
func (pc *peerConn) expectClosed() []*wire.Command {
	pc.t.Helper()
	var got []*wire.Command
	for {
		cmd, err := pc.read()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				pc.t.Fatal("connection not closed")
			}
			return got
		}
		got = append(got, cmd)
		if cmd.Name == "OUT" {
			pc.nc.Close()
			return got
		}
	}
}

func (pc *peerConn) send(format string, args ...any) {
	pc.t.Helper()
	if _, err := fmt.Fprintf(pc.nc, format+"\r\n", args...); err != nil {
		pc.t.Fatalf("send: %v", err)
	}
}

func (pc *peerConn) sendMSG(from, name string, payload string) {
	pc.t.Helper()
	if _, err := fmt.Fprintf(pc.nc, "MSG %s %s %d\r\n%s", from, name, len(payload), payload); err != nil {
		pc.t.Fatalf("send: %v", err)
	}
}

// openAndJoin answers USR and CAL for one callee and lets them join (caps without chunking).
func (pc *peerConn) openAndJoin(self, callee string) {
	pc.t.Helper()
	pc.openAndJoinCaps(self, callee, "1073741824")
}

// openAndJoinCaps is openAndJoin with the callee's JOI carrying caps ("": none, as MSNP11).
func (pc *peerConn) openAndJoinCaps(self, callee, caps string) {
	pc.t.Helper()
	usr := pc.expect("USR")
	pc.send("USR %d OK %s Me", usr.TrID, self)
	cal := pc.expect("CAL")
	if cal.Arg(0) != callee {
		pc.t.Fatalf("CAL %q, want %q", cal.Arg(0), callee)
	}
	pc.send("CAL %d RINGING 1234", cal.TrID)
	pc.send(strings.TrimSpace(fmt.Sprintf("JOI %s %s %s", callee, strings.Split(callee, "@")[0], caps)))
}

// recorder collects events.
type recorder struct {
	ch chan Event
}

func newRecorder() *recorder { return &recorder{ch: make(chan Event, 4096)} }

func (r *recorder) on(ev Event) { r.ch <- ev }

func (r *recorder) next(t *testing.T) Event {
	t.Helper()
	select {
	case ev := <-r.ch:
		return ev
	case <-time.After(waitLimit):
		t.Fatal("no event")
	}
	return nil
}

// waitEvent skips events until one of type T arrives.
func waitEvent[T Event](t *testing.T, r *recorder) T {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case ev := <-r.ch:
			if e, ok := ev.(T); ok {
				return e
			}
		case <-deadline:
			var zero T
			t.Fatalf("no %T event", zero)
			return zero
		}
	}
}

// noEventBefore checks that no event of type T comes before the next event of type U
// (events are delivered in order, so U marks "everything before it was seen").
func noEventBefore[T, U Event](t *testing.T, r *recorder) U {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case ev := <-r.ch:
			if _, ok := ev.(T); ok {
				t.Fatalf("unexpected %T: %+v", ev, ev)
			}
			if u, ok := ev.(U); ok {
				return u
			}
		case <-deadline:
			var zero U
			t.Fatalf("no %T event", zero)
			return zero
		}
	}
}

type env struct {
	ns   *fakeNS
	peer *peerServer
	rec  *recorder
	m    *Manager
}

func newEnv(t *testing.T, version int, cfg Config) *env {
	t.Helper()
	peer := newPeerServer(t)
	f := &fakeNS{passport: "alice@example.com", version: version, addr: peer.addr()}
	rec := newRecorder()
	cfg.OnEvent = rec.on
	if cfg.XFRInterval == 0 {
		cfg.XFRInterval = -1
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = waitLimit
	}
	m := NewManager(f, cfg)
	t.Cleanup(func() { m.Close() })
	return &env{ns: f, peer: peer, rec: rec, m: m}
}

// acceptInvite accepts inv on the manager while the peer answers the ANS with one IRO line per
// roster entry ("passport Friendly caps") and ANS OK; it returns the conversation Accept chose
// and the peer's connection.
func (e *env) acceptInvite(t *testing.T, inv Invitation, roster ...string) (*Conversation, *peerConn) {
	t.Helper()
	inv.Addr = e.peer.addr()
	done := make(chan *Conversation, 1)
	go func() {
		c, err := e.m.Accept(context.Background(), inv)
		if err != nil {
			t.Error(err)
		}
		done <- c
	}()
	pc := e.peer.accept()
	ans := pc.expect("ANS")
	for i, entry := range roster {
		pc.send("IRO %d %d %d %s", ans.TrID, i+1, len(roster), entry)
	}
	pc.send("ANS %d OK", ans.TrID)
	select {
	case c := <-done:
		return c, pc
	case <-time.After(waitLimit):
		t.Fatal("Accept did not return")
		return nil, nil
	}
}

func wait(t *testing.T, r *Result) (Outcome, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	o, err := r.Wait(ctx)
	if o == Pending {
		t.Fatalf("result still pending: %v", err)
	}
	return o, err
}
