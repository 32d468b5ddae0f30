package ns

import (
	"strconv"
	"strings"
	"testing"
)

// TestCapsForAdvertisesGIFInk: from MSNP8 (the first CHG with capabilities) every version
// advertises chunking and GIF ink (0x04), so that contacts send handwriting as image/gif,
// never ISF ink (0x08); MSNP16+ adds capsex without P2Pv2 (0x20). The MSNC nibble is the era's.
func TestCapsForAdvertisesGIFInk(t *testing.T) {
	for _, tc := range []struct {
		v    int
		msnc uint64
	}{{8, 0}, {9, 0x10000000}, {11, 0x40000000}, {12, 0x50000000}, {15, 0x70000000}, {18, 0xA0000000}} {
		caps, ex, hasEx := strings.Cut(capsFor(tc.v), ":")
		n, err := strconv.ParseUint(caps, 10, 32)
		if err != nil {
			t.Fatalf("MSNP%d caps %q: %v", tc.v, caps, err)
		}
		if n&0x04 == 0 || n&0x20 == 0 || n&0x08 != 0 || n&0xF0000000 != tc.msnc {
			t.Errorf("MSNP%d caps %#x", tc.v, n)
		}
		if hasEx != (tc.v >= 16) {
			t.Errorf("MSNP%d capsex %q", tc.v, ex)
		}
		if x, _ := strconv.ParseUint(ex, 10, 32); x&0x20 != 0 {
			t.Errorf("MSNP%d announces P2Pv2: capsex %#x", tc.v, x)
		}
	}
}
