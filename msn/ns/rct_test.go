package ns

import (
	"testing"
	"time"
)

func TestRCTDelay(t *testing.T) {
	for arg, want := range map[string]time.Duration{"5": 5 * time.Minute, "": 0, "x": 0, "-3": 0, "0": 0, "999999999999": 24 * time.Hour} {
		if got := rctDelay(arg); got != want {
			t.Errorf("rctDelay(%q) = %v, want %v", arg, got, want)
		}
	}
}
