package sb

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/message"
)

// nothingFor checks that the client sends nothing on pc for d (an absence has no event to
// wait for; a correct client stays silent however long this waits).
func (pc *peerConn) nothingFor(d time.Duration) {
	pc.t.Helper()
	_ = pc.nc.SetReadDeadline(time.Now().Add(d))
	cmd, err := pc.r.ReadCommand()
	var ne net.Error
	if err == nil {
		pc.t.Fatalf("client sent %s, want nothing yet", cmd.String())
	}
	if !errors.As(err, &ne) || !ne.Timeout() {
		pc.t.Fatalf("waiting for silence: %v", err)
	}
}

// openGroup answers USR and both CALs of a new two-contact group with RINGING.
func openGroup(t *testing.T, pc *peerConn) {
	t.Helper()
	usr := pc.expect("USR")
	pc.send("USR %d OK alice@example.com Alice", usr.TrID)
	for i := 0; i < 2; i++ {
		cal := pc.expect("CAL")
		pc.send("CAL %d RINGING 1", cal.TrID)
	}
}

// TestFirstGroupMessageWaitsForEveryone: the first message of a new group goes out only once
// every called contact joined, so the one who joins second gets it too.
func TestFirstGroupMessageWaitsForEveryone(t *testing.T) {
	e := newEnv(t, 12, Config{})
	g := e.m.NewGroup("bob@example.com", "carol@example.com")
	res := g.SendText(context.Background(), "hello both", message.Format{})
	pc := e.peer.accept()
	openGroup(t, pc)
	pc.send("JOI bob@example.com Bob 0")
	waitEvent[*JoinedEvent](t, e.rec) // the client has read bob's JOI
	pc.nothingFor(300 * time.Millisecond)
	pc.send("JOI carol@example.com Carol 0")
	msg := pc.expect("MSG")
	if bodyOf(t, msg.Payload) != "hello both" {
		t.Fatalf("sent %q", msg.Payload)
	}
	pc.send("ACK %d", msg.TrID)
	if o, err := wait(t, res); o != Delivered || res.Missed() != nil {
		t.Fatalf("outcome %v %v, missed %v", o, err, res.Missed())
	}
}

// TestGroupMessageReportsWhoNeverJoined: a contact whose CAL rang but who never joins holds the
// message for Config.JoinWait only; then it goes to the others and Result.Missed names them.
// A contact whose CAL failed is named with the CAL error.
func TestGroupMessageReportsWhoNeverJoined(t *testing.T) {
	e := newEnv(t, 12, Config{JoinWait: 200 * time.Millisecond})
	g := e.m.NewGroup("bob@example.com", "carol@example.com", "dave@example.com")
	res := g.SendText(context.Background(), "who is here?", message.Format{})
	pc := e.peer.accept()
	usr := pc.expect("USR")
	pc.send("USR %d OK alice@example.com Alice", usr.TrID)
	for i := 0; i < 3; i++ {
		cal := pc.expect("CAL")
		if cal.Arg(0) == "dave@example.com" {
			pc.send("217 %d", cal.TrID)
			continue
		}
		pc.send("CAL %d RINGING 1", cal.TrID)
	}
	pc.send("JOI bob@example.com Bob 0") // carol never comes
	msg := pc.expect("MSG")
	pc.send("ACK %d", msg.TrID)
	o, err := wait(t, res)
	missed := res.Missed()
	if o != Delivered || len(missed) != 2 || !errors.Is(missed["carol@example.com"], ErrNotJoined) || !errors.Is(missed["dave@example.com"], ErrOffline) {
		t.Fatalf("outcome %v %v, missed %v", o, err, missed)
	}
	// A later message, once carol joined, reaches everybody but dave.
	pc.send("JOI carol@example.com Carol 0")
	waitEvent[*JoinedEvent](t, e.rec)
	for j := waitEvent[*JoinedEvent](t, e.rec); j.Participant.Passport != "carol@example.com"; j = waitEvent[*JoinedEvent](t, e.rec) {
	}
	res = g.SendText(context.Background(), "hi carol", message.Format{})
	msg = pc.expect("MSG")
	pc.send("ACK %d", msg.TrID)
	if o, _ := wait(t, res); o != Delivered || len(res.Missed()) != 1 || res.Missed()["dave@example.com"] == nil {
		t.Fatalf("second message %v, missed %v", o, res.Missed())
	}
}
