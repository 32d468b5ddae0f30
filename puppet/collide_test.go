package puppet

import (
	"errors"
	"strings"
	"testing"
)

// TestPassportCannotLookLikeGroup: ':' is refused in passports, and no ghost id (the DM portal
// id) contains one, so "group:…" ids stay group portals only.
func TestPassportCannotLookLikeGroup(t *testing.T) {
	for _, p := range []string{"group:abc@example.com", "a:b@example.com", "ab@exa:mple.com"} {
		if _, err := NormalizePassport(p); !errors.Is(err, ErrInvalidPassport) {
			t.Errorf("NormalizePassport(%q) accepted", p)
		}
		id := GhostID(p)
		if strings.Contains(string(id), ":") || strings.HasPrefix(string(id), "group") && !IsHashedID(id) {
			t.Errorf("GhostID(%q) = %q", p, id)
		}
		if _, ok := PassportFromID(id); ok {
			t.Errorf("PassportFromID(%q) resolved an invalid passport", id)
		}
		if GhostID(p) != id {
			t.Errorf("GhostID(%q) not stable", p)
		}
	}
	if GhostID("group:a@x.com") == GhostID("groupa@x.com") {
		t.Error("two passports share a ghost id")
	}
}
