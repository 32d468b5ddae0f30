package ns

import (
	"slices"
	"testing"
	"unsafe"
)

// TestContactRecordSmall: the per-contact record stays within 120 bytes, so that the slab of
// a 50-contact list is a 6 KiB allocation (it was 8 KiB with 160-byte records plus a
// 48-byte string per contact id).
func TestContactRecordSmall(t *testing.T) {
	if n := unsafe.Sizeof(contact{}); n > 120 {
		t.Fatalf("contact record is %d bytes", n)
	}
}

// TestContactIDKeptExactly: every contact id comes back as it was given; lower-case GUIDs are
// kept as 16 bytes, anything else as text.
func TestContactIDKeptExactly(t *testing.T) {
	for _, tc := range []struct {
		id   string
		guid bool
	}{
		{"6dc4ff32-23bd-4b4b-8a06-05d1a3e1b6f4", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"6DC4FF32-23BD-4B4B-8A06-05D1A3E1B6F4", false}, // upper case would not round-trip
		{"6dc4ff32-23bd-4b4b-8a06-05d1a3e1b6fg", false},
		{"6dc4ff3223bd-4b4b-8a06-05d1a3e1b6f4-", false},
		{"{6dc4ff32-23bd-4b4b-8a06-05d1a3e1b6f4}", false},
		{"12", false},
		{"", false},
	} {
		var c contact
		c.setContactID(tc.id)
		if got := c.contactID(); got != tc.id || c.idIsGUID != tc.guid {
			t.Errorf("setContactID(%q): got %q, packed %v", tc.id, got, c.idIsGUID)
		}
	}
	var c contact
	c.setContactID("6dc4ff32-23bd-4b4b-8a06-05d1a3e1b6f4")
	c.setContactID("plain")
	if c.contactID() != "plain" || c.idIsGUID {
		t.Errorf("a GUID replaced by text: %q", c.contactID())
	}
}

// TestContactRecordFields: statuses, profile and groups read back as set; snapshots carry
// their own group list.
func TestContactRecordFields(t *testing.T) {
	var c contact
	if c.currentStatus() != Offline {
		t.Errorf("zero record status %q", c.currentStatus())
	}
	for _, st := range statusCodes {
		c.setStatus(st)
		if c.currentStatus() != st {
			t.Errorf("status %q read back as %q", st, c.currentStatus())
		}
	}
	c.setProfile("psm", "")
	if c.psm() != "psm" || c.media() != "" || c.profile == nil {
		t.Errorf("profile %+v", c.profile)
	}
	c.setProfile("", "")
	if c.profile != nil || c.psm() != "" {
		t.Errorf("empty profile kept: %+v", c.profile)
	}
	c.setProfile("", "Music\\0Song")
	c.setGroups([]string{"g1", "g2"})
	snap := c.snapshot()
	snap.Groups[0] = "changed"
	if c.snapshot().Groups[0] != "g1" || c.snapshot().CurrentMedia != "Music\\0Song" {
		t.Errorf("snapshot %+v", c.snapshot())
	}
	c.setGroups(nil)
	if c.groups != nil || c.snapshot().Groups != nil {
		t.Error("groups kept after clearing")
	}
	if !slices.Equal(snap.Groups, []string{"changed", "g2"}) {
		t.Errorf("snapshot groups %v", snap.Groups)
	}
}

// FuzzContactIDRoundTrip: whatever id a server sends, the record gives back the same string.
func FuzzContactIDRoundTrip(f *testing.F) {
	for _, s := range []string{"6dc4ff32-23bd-4b4b-8a06-05d1a3e1b6f4", "6DC4FF32-23BD-4B4B-8A06-05D1A3E1B6F4", "1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		var c contact
		c.setContactID(id)
		if got := c.contactID(); got != id {
			t.Fatalf("%q came back as %q", id, got)
		}
	})
}
