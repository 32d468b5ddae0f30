package main

import (
	"os"
	"testing"
	"time"
)

// TestMain lets the test binary act as the fake-server child: measure starts os.Executable()
// with -serve, which is this binary during tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-serve" {
		if err := run(); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestMeasureSmall runs the whole tool at a small size: every session logs in through the
// child server, the figures are filled in and the messages arrive.
func TestMeasureSmall(t *testing.T) {
	res, err := measure(options{sessions: 6, contacts: 2, version: 18, parallel: 4, settle: 10 * time.Millisecond, timeout: 2 * time.Minute, messages: 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.LoginFailures != 0 || res.LoginsPerSecond <= 0 || res.GoroutinesPerSess <= 0 || res.EventsReceived == 0 || res.LivePerSessionKiB <= 0 {
		t.Fatalf("result %+v", res)
	}
	if res.MessagesDelivered != 20 || res.MessagesReceived != 20 || res.CPUPerMessageUs <= 0 || res.LatencyP50Ms <= 0 {
		t.Fatalf("messages %+v", res)
	}
}
