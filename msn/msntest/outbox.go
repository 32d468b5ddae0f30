package msntest

import (
	"net"
	"sync/atomic"
	"time"

	"github.com/msnbridge/msnbridge/msn/wire"
)

// outboxSize bounds the commands queued for one connection; a client that lets more pile up
// is too slow and gets disconnected.
const outboxSize = 4096

// outbox serialises writes to one connection on its own goroutine, so that the server never
// writes to a socket while holding its lock. Methods are called with Server.mu held.
//
// Every outbox stays in Server.outboxes until its writer has exited, including while it
// flushes the queue of a connection that was already dropped: Close closes all their sockets,
// so that a writer blocked on a peer that does not read fails at once instead of holding
// Close for the write timeout (or, with a slowly reading peer, for one timeout per command).
type outbox struct {
	ch     chan []byte
	conn   net.Conn
	closed bool
	// flushBy is when the flush after close must be over (unix nanoseconds, 0 while open):
	// the write timeout bounds the whole flush, not each write of it.
	flushBy atomic.Int64
	timeout time.Duration
}

// newOutbox starts the writer goroutine of conn (mu held). It closes conn once the outbox is
// closed and drained, or at the first write error.
func (s *Server) newOutbox(conn net.Conn) *outbox {
	o := &outbox{ch: make(chan []byte, outboxSize), conn: conn, timeout: s.opts.WriteTimeout}
	s.outboxes[o] = struct{}{}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		o.run(s)
		s.mu.Lock()
		delete(s.outboxes, o)
		s.mu.Unlock()
	}()
	return o
}

// run writes the queued commands until the outbox is closed and drained; after the first
// failed write it only drains.
func (o *outbox) run(s *Server) {
	defer o.conn.Close()
	failed := false
	for b := range o.ch {
		if failed {
			continue
		}
		_ = o.conn.SetWriteDeadline(o.deadline())
		if _, err := o.conn.Write(b); err != nil {
			s.log.Debug().Err(err).Msg("write failed; closing the connection")
			failed = true
			o.conn.Close()
		}
	}
}

// deadline is the write deadline of the next write: the write timeout from now, and no later
// than the end of the flush once the outbox is closed.
func (o *outbox) deadline() time.Time {
	d := time.Now().Add(o.timeout)
	if by := o.flushBy.Load(); by != 0 && by < d.UnixNano() {
		return time.Unix(0, by)
	}
	return d
}

// push queues a command; a full queue disconnects the slow client.
func (o *outbox) push(cmd *wire.Command) {
	if o.closed {
		return
	}
	select {
	case o.ch <- cmd.Encode():
	default:
		o.conn.Close()
	}
}

// close stops accepting commands; the writer flushes the queue, within the write timeout,
// and closes the socket.
func (o *outbox) close() {
	if o.closed {
		return
	}
	o.closed = true
	o.flushBy.Store(time.Now().Add(o.timeout).UnixNano())
	// The writer may be blocked in a write whose deadline is later than the end of the flush.
	_ = o.conn.SetWriteDeadline(o.deadline())
	close(o.ch)
}

// abort closes the socket, so that a blocked write fails at once, and closes the outbox; the
// writer then only drains the queue (Server.Close).
func (o *outbox) abort() {
	o.conn.Close()
	o.close()
}
