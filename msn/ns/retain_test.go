package ns

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/msnbridge/msnbridge/msn/wire"
)

// within reports whether s points into the bytes of cmd (wire keeps a command's line and
// payload in one allocation that starts at its name).
func within(cmd *wire.Command, s string, size int) bool {
	if s == "" {
		return false
	}
	base := uintptr(unsafe.Pointer(unsafe.StringData(cmd.Name)))
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	return p >= base && p < base+uintptr(size)
}

// TestContactStringsDoNotPinCommands: what a contact keeps from an NLN line (status, passport,
// name, capabilities, MSNObject) are strings of their own. A substring of the command would keep
// the whole command block (up to 2 KiB) alive for as long as the contact, per contact.
func TestContactStringsDoNotPinCommands(t *testing.T) {
	line := "NLN NLN 1:alice@example.com Alice 2788999212:48 %3Cmsnobj%20Creator%3D%22alice%40example.com%22%2F%3E\r\n"
	cmd, err := wire.NewReader(strings.NewReader(line), wire.FromServer, wire.Limits{}).ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	p, err := parsePresence(18, cmd.Args)
	if err != nil {
		t.Fatal(err)
	}
	s := &Session{contacts: map[string]*Contact{}}
	c := s.contactLocked(p.Passport)
	for name, v := range map[string]string{"status": string(p.Status), "name": p.FriendlyName, "caps": p.Caps, "msnobj": p.MSNObject, "passport": c.Passport} {
		if within(cmd, v, len(line)) {
			t.Errorf("%s %q refers to the command's bytes", name, v)
		}
	}
	if p.Caps != "2788999212:48" || p.FriendlyName != "Alice" || c.Passport != "alice@example.com" {
		t.Fatalf("parsed %+v, contact %+v", p, c)
	}
}

// TestEndpointsKey: the digest tells endpoint lists apart, is 0 only for no endpoint, and is
// stable for the same list.
func TestEndpointsKey(t *testing.T) {
	a := []Endpoint{{ID: "{A}", Name: "PC", Caps: "1:2"}}
	b := []Endpoint{{ID: "{A}", Name: "PC", Caps: "1:2"}, {ID: "{B}", Name: "Phone"}}
	if endpointsKey(nil) != 0 || endpointsKey(a) == 0 || endpointsKey(a) != endpointsKey(append([]Endpoint(nil), a...)) || endpointsKey(a) == endpointsKey(b) {
		t.Fatalf("keys: none %x, a %x, b %x", endpointsKey(nil), endpointsKey(a), endpointsKey(b))
	}
}
