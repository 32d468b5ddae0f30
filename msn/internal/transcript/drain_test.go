package transcript

import (
	"net"
	"testing"
	"time"
)

// TestDrainTreatsResetAsClose: a client that closes with unread data in its receive buffer
// resets the connection (RST, not FIN). Drain must report that as the client closing, not as a
// failure: under load the client under test often closes before reading the transcript's last
// server lines (TestReplayMSNP10 failed with "connection reset by peer").
func TestDrainTreatsResetAsClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	r := &Replay{Entries: []Entry{{Dir: ServerToClient, Line: "QNG 50"}}}
	if err := r.Serve(srv); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Write([]byte("PNG\r\n")); err != nil {
		t.Fatal(err)
	}
	// Close without reading the QNG, abortively: the kernel sends RST.
	if err := cli.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	cli.Close()
	names, err := r.Drain(5 * time.Second)
	if err != nil {
		t.Fatalf("Drain after a reset: %v", err)
	}
	if len(names) > 1 || (len(names) == 1 && names[0] != "PNG") {
		t.Fatalf("Drain read %v", names)
	}
}
