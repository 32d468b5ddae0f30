package sb

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/message"
)

// idleAfterOneMessage sends one acknowledged message to bob on a new switchboard with a short
// idle timeout, and returns once the client said OUT on it (the server has not closed yet).
func idleAfterOneMessage(t *testing.T) (*env, *peerConn) {
	t.Helper()
	e := newEnv(t, 12, Config{IdleTimeout: 100 * time.Millisecond})
	first := e.m.Conversation("bob@example.com").SendText(context.Background(), "hi", message.Format{})
	pc := e.peer.accept()
	pc.openAndJoin("alice@example.com", "bob@example.com")
	msg := pc.expect("MSG")
	pc.send("ACK %d", msg.TrID)
	if o, err := wait(t, first); o != Delivered {
		t.Fatalf("first message %v %v", o, err)
	}
	pc.expect("OUT")
	return e, pc
}

// TestLeavingSwitchboardStillDeliversWhatTheServerSent: a contact's message that the server
// sent before it read our OUT (the contact wrote just as our idle switchboard closed) is
// delivered, not lost with the socket: after OUT the client reads on until the server closes the
// connection, as the server does on OUT.
func TestLeavingSwitchboardStillDeliversWhatTheServerSent(t *testing.T) {
	e, pc := idleAfterOneMessage(t)
	// The conversation reports the idle close once the switchboard has left: only then does
	// bob's message arrive (the server had not read the OUT yet).
	if cl := waitEvent[*ClosedEvent](t, e.rec); !cl.Idle {
		t.Fatalf("closed %+v, want an idle close", cl)
	}
	pc.sendMSG("bob@example.com", "Bob", "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\njust as you left")
	pc.nc.Close()
	if m := waitEvent[*MessageEvent](t, e.rec); m.Text != "just as you left" || m.Sender.Passport != "bob@example.com" {
		t.Fatalf("got %+v", m)
	}
}

// TestLeaveCutsOffAServerThatKeepsTheConnection: the wait for the server to close after OUT is
// bounded: the client closes the connection itself after leaveDrain.
func TestLeaveCutsOffAServerThatKeepsTheConnection(t *testing.T) {
	_, pc := idleAfterOneMessage(t)
	_ = pc.nc.SetReadDeadline(time.Now().Add(leaveDrain + waitLimit))
	cmd, err := pc.r.ReadCommand()
	if err == nil {
		t.Fatalf("the client sent %s after OUT", cmd.String())
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the client did not close the connection within %v of its OUT", leaveDrain+waitLimit)
	}
}
