package ns

import (
	"bytes"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/rs/zerolog"

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
	s := &Session{contacts: map[string]*contact{}}
	c := s.contactLocked(p.Passport)
	for name, v := range map[string]string{"status": string(p.Status), "name": p.FriendlyName, "caps": p.Caps, "msnobj": p.MSNObject, "passport": c.passport} {
		if within(cmd, v, len(line)) {
			t.Errorf("%s %q refers to the command's bytes", name, v)
		}
	}
	if p.Caps != "2788999212:48" || p.FriendlyName != "Alice" || c.passport != "alice@example.com" {
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

// TestLongCommandsGoOutWhole: through the session's writer, which lets go of a long command's
// buffer (wire.NewWriterKeeping; TestWriterKeeping in msn/wire), a long command (the login's
// USR with its ticket, an ADL) and a short one after it go out whole.
func TestLongCommandsGoOutWhole(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	s := &Session{conn: client, w: wire.NewWriterKeeping(client, maxKeptWriteBuffer), cfg: Config{RequestTimeout: 5 * time.Second}}
	s.cfg.Logger = zerolog.Nop()
	long := wire.NewPayload("ADL", 7, []byte(`<ml l="1"><d n="example.com">`+strings.Repeat(`<c n="someone" l="3" t="1"/>`, 40)+`</d></ml>`))
	short := wire.NewNoTrID("PNG")
	got := make(chan *wire.Command, 2)
	go func() {
		rd := wire.NewReader(server, wire.FromClient, wire.Limits{})
		for range 2 {
			c, err := rd.ReadCommand()
			if err != nil {
				close(got)
				return
			}
			got <- c
		}
	}()
	for _, c := range []*wire.Command{long, short} {
		if err := s.send(c); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []*wire.Command{long, short} {
		c, ok := <-got
		if !ok || c.Name != want.Name || !bytes.Equal(c.Payload, want.Payload) {
			t.Fatalf("read %v, want %v", c, want)
		}
	}
}

// TestCapsInterned: the capabilities of NLN lines are shared by every contact that has the
// same (one copy process-wide), and never refer to the command's bytes; odd values get a
// copy of their own.
func TestCapsInterned(t *testing.T) {
	a, b := string([]byte("2789003324:48")), string([]byte("2789003324:48"))
	ia := internCaps(a)
	runtime.GC() // the shared copy outlives collections (a unique.Make value did not)
	if ib := internCaps(b); ia != a || unsafe.StringData(ia) != unsafe.StringData(ib) || unsafe.StringData(ia) == unsafe.StringData(a) {
		t.Fatalf("caps not shared: %q %q", ia, ib)
	}
	for _, odd := range []string{"1:2:3", "x", strings.Repeat("9", 40), "12:"} {
		if got := internCaps(odd); got != odd || unsafe.StringData(got) == unsafe.StringData(odd) {
			t.Errorf("internCaps(%q) = %q, not a copy", odd, got)
		}
	}
}

// TestCompactContacts: after the login the contact records live in one allocation and their
// passports and names in another, with the same contents; later changes still reach what
// Contact returns, an unchanged name keeps its place, and snapshots never hand out the
// block's bytes (a caller keeping a passport must not keep the block).
func TestCompactContacts(t *testing.T) {
	s := &Session{contacts: map[string]*contact{}, cfg: Config{MaxContacts: 10}}
	for i, pp := range []string{"a@x.com", "b@x.com", "c@x.com"} {
		c := s.contactLocked(pp)
		c.lists = FL | AL
		c.setContactID(fmt.Sprint("id-", i))
		if pp != "c@x.com" {
			c.name = strings.ToUpper(pp[:1]) + " name"
		}
	}
	s.compactContactsLocked()
	lo, hi := ^uintptr(0), uintptr(0)
	slo, shi := ^uintptr(0), uintptr(0)
	for pp, c := range s.contacts {
		want := strings.ToUpper(pp[:1]) + " name"
		if pp == "c@x.com" {
			want = pp
		}
		if c.passport != pp || c.name != want || c.lists != FL|AL || !strings.HasPrefix(c.contactID(), "id-") {
			t.Errorf("record %+v under %s", *c, pp)
		}
		p := uintptr(unsafe.Pointer(c))
		lo, hi = min(lo, p), max(hi, p)
		for _, v := range []string{c.passport, c.name} {
			q := uintptr(unsafe.Pointer(unsafe.StringData(v)))
			slo, shi = min(slo, q), max(shi, q+uintptr(len(v)))
		}
	}
	if hi-lo != 2*unsafe.Sizeof(contact{}) {
		t.Errorf("records not one slab: span %d bytes", hi-lo)
	}
	if shi-slo != uintptr(len("a@x.comA nameb@x.comB namec@x.com")) {
		t.Errorf("strings not one block: span %d bytes", shi-slo)
	}
	b := s.contactLocked("b@x.com")
	inBlock := unsafe.StringData(b.name)
	b.setName("B name")
	if unsafe.StringData(b.name) != inBlock {
		t.Error("an unchanged name replaced")
	}
	b.setStatus(Busy)
	c, _ := s.Contact("b@x.com")
	if c.Status != Busy || c.ContactID == "" || c.FriendlyName != "B name" {
		t.Errorf("after compaction: %+v", c)
	}
	for _, v := range []string{c.Passport, c.FriendlyName} {
		if q := uintptr(unsafe.Pointer(unsafe.StringData(v))); q >= slo && q < shi {
			t.Errorf("snapshot string %q is the block's", v)
		}
	}
}
