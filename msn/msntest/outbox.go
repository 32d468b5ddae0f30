package msntest

import (
	"net"
	"time"

	"github.com/msnbridge/msnbridge/msn/wire"
)

// outboxSize bounds the commands queued for one connection; a client that lets more pile up
// is too slow and gets disconnected.
const outboxSize = 4096

// outbox serialises writes to one connection on its own goroutine, so that the server never
// writes to a socket while holding its lock. Methods are called with Server.mu held.
type outbox struct {
	ch     chan []byte
	conn   net.Conn
	closed bool
}

// newOutbox starts the writer goroutine of conn. It closes conn once the outbox is closed and
// drained, or at the first write error.
func (s *Server) newOutbox(conn net.Conn) *outbox {
	o := &outbox{ch: make(chan []byte, outboxSize), conn: conn}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer conn.Close()
		failed := false
		for b := range o.ch {
			if failed {
				continue
			}
			_ = conn.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
			if _, err := conn.Write(b); err != nil {
				s.log.Debug().Err(err).Msg("write failed; closing the connection")
				failed = true
				conn.Close()
			}
		}
	}()
	return o
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

// close stops accepting commands; the writer flushes the queue and closes the socket.
func (o *outbox) close() {
	if o.closed {
		return
	}
	o.closed = true
	close(o.ch)
}
