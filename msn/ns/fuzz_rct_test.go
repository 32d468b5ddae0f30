package ns

import (
	"testing"
	"time"
)

// FuzzRCTDelay: the minutes of OUT RCT from the server give a delay in [0, a day].
func FuzzRCTDelay(f *testing.F) {
	for _, s := range []string{"5", "", "-1", "99999999999999999999", "0x10", " 7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		if d := rctDelay(arg); d < 0 || d > 24*time.Hour || d%time.Minute != 0 {
			t.Fatalf("rctDelay(%q) = %v", arg, d)
		}
	})
}
