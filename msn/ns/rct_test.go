package ns

import (
	"errors"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/auth"
	"github.com/msnbridge/msnbridge/msn/wire"
)

func TestRCTDelay(t *testing.T) {
	for arg, want := range map[string]time.Duration{"5": 5 * time.Minute, "": 0, "x": 0, "-3": 0, "0": 0, "999999999999": 24 * time.Hour} {
		if got := rctDelay(arg); got != want {
			t.Errorf("rctDelay(%q) = %v, want %v", arg, got, want)
		}
	}
}

// TestBadTicketIsNoWrongPassword: 928 (bad ticket) after USR is retriable; 911 and 917 are a
// wrong password.
func TestBadTicketIsNoWrongPassword(t *testing.T) {
	for code, bad := range map[int]bool{911: true, 917: true, 928: false, 500: false} {
		ns := newFakeNS(t)
		res := startLogin(testConfig(ns.addr(), newEvents(), 7), "me@x.com", "pw")
		p := ns.accept()
		_, c := scriptUntilUSR(p, 7)
		p.send("USR %d MD5 S salt", c.TrID)
		c = p.expect("USR")
		p.send("%d %d", code, c.TrID)
		_, err := waitLogin(t, res)
		if err == nil || errors.Is(err, auth.ErrBadCredentials) != bad || wire.ErrorCode(err) != code {
			t.Errorf("error %d: err %v, bad credentials want %v", code, err, bad)
		}
	}
}

func TestEndpointHosts(t *testing.T) {
	e := Endpoints{Login: "http://a.example:8081/login", RST: "http://a.example/RST.srf", Sharing: "https://b.example/x", OIM: "not a url"}
	if got := e.hosts(); len(got) != 2 || got[0] != "a.example" || got[1] != "b.example" {
		t.Fatalf("hosts = %v", got)
	}
}
