package sb

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/wire"
)

// nopConn is a net.Conn that swallows writes and never has anything to read.
type nopConn struct {
	mu     sync.Mutex
	closed bool
}

func (c *nopConn) Read([]byte) (int, error) { return 0, io.EOF }
func (c *nopConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	return len(b), nil
}
func (c *nopConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}
func (c *nopConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *nopConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *nopConn) SetDeadline(time.Time) error      { return nil }
func (c *nopConn) SetReadDeadline(time.Time) error  { return nil }
func (c *nopConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzHandleLine feeds whatever a server could send to a switchboard's dispatcher, with a
// conversation attached, requests and messages waiting: nothing may panic or hang.
func FuzzHandleLine(f *testing.F) {
	seeds := []string{
		"USR 1 OK alice@example.com Alice\r\nCAL 2 RINGING 123\r\nJOI bob@example.com Bob 1073741824\r\nACK 3\r\n",
		"IRO 1 1 2 bob@example.com;{5e3edfe5-440d-5132-a3f3-a7ae35275c64} Bob 2789003324:48\r\nIRO 1 2 2 bob@example.com Bob 2789003324:48\r\nANS 1 OK\r\nJOI alice@example.com Alice 0\r\n",
		"JOI carol@example.com Carol 0\r\nMSG carol@example.com Carol 70\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhello",
		"NAK 3\r\n217 2\r\n282 4\r\nBYE bob@example.com 1\r\nBYE bob@example.com;{x}\r\nOUT\r\n",
		"MSG bob@example.com Bob 64\r\nMIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\nID: 1\r\n\r\n",
		"JOI ;{guid} x\r\nJOI @ @\r\nBYE\r\nMSG\r\nACK\r\nACK x\r\nIRO 1\r\n",
		"MSG bob@example.com Bob 92\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\nMessage-ID: {1}\r\nChunks: 2\r\n\r\nfirst half ",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := NewManager(&fakeNS{passport: "alice@example.com", version: 18, err: errors.New("no NS in fuzzing")}, Config{
			XFRInterval: -1, IdleTimeout: -1, MachineGUID: "{ca3270cd-85dc-5c21-aa06-ccdc6b86e963}",
		})
		defer m.Close()
		c := m.Conversation("bob@example.com")
		s := newSwitchboard(m, &nopConn{})
		s.route(c)
		// A request waiting for TrID 2 and messages in flight under TrIDs 3 and 4.
		s.calls[2] = make(chan *wire.Command, 1)
		for i, ack := range []Ack{AckAlways, AckData} {
			res := newResult(1)
			p := &part{res: res, conv: c, ack: ack, payload: []byte("x"), attempts: 1, trid: uint32(3 + i)}
			s.inflight[p.trid] = p
		}
		r := wire.NewReader(bytes.NewReader(data), wire.FromServer, wire.Limits{MaxLine: 4096, MaxPayload: 16384})
		for i := 0; i < 200; i++ {
			cmd, err := r.ReadCommand()
			if err != nil {
				break
			}
			s.handle(cmd)
		}
		s.finish(io.EOF)
		for _, p := range c.Participants() {
			if p.Passport == "" || p.Passport == "alice@example.com" {
				t.Fatalf("bad participant %+v", p)
			}
		}
	})
}

// FuzzParseCaps feeds the capability field of JOI/IRO lines to parseCaps: it never panics,
// accepts only a decimal uint32 (before an optional ":capsex"), and gives back that number.
func FuzzParseCaps(f *testing.F) {
	for _, s := range []string{"1073741824", "2789003324:48", "1342472228", "", "0", ":", "4294967296", "-1", "12a", "2789003324:2550273312:7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		caps, ok := parseCaps(s)
		head, _, _ := strings.Cut(s, ":")
		if !ok {
			if caps != 0 {
				t.Fatalf("%q: not ok but caps %d", s, caps)
			}
			return
		}
		want := strings.TrimLeft(head, "0")
		if want == "" {
			want = "0"
		}
		if head == "" || strconv.FormatUint(uint64(caps), 10) != want {
			t.Fatalf("%q parsed as %d", s, caps)
		}
	})
}
