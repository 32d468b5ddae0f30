package p2p

import "testing"

// TestSenderIsTheStampedOne: in a multi-party switchboard a participant may put another
// account in P2P-Src; the frame is attributed to the sender the server stamped on the MSG,
// so it cannot reach that account's sessions. P2P-Src only fills in a missing sender.
func TestSenderIsTheStampedOne(t *testing.T) {
	for _, tc := range []struct{ from, src, want string }{
		{"Carol@example.com", "alice@example.com;{6ab9a48e-3b2c-4f39-9c8f-2a3f6f5f1e10}", "carol@example.com"},
		{"bob@example.com", "bob@example.com", "bob@example.com"},
		{"", "Alice@Example.com", "alice@example.com"},
	} {
		if got := senderOf(tc.from, tc.src); got != tc.want {
			t.Errorf("senderOf(%q, %q) = %q, want %q", tc.from, tc.src, got, tc.want)
		}
	}
}
