package bridge

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/msnbridge/msnbridge/database"
	"github.com/msnbridge/msnbridge/msn/sb"
	"github.com/msnbridge/msnbridge/puppet"
)

// TestPassportCacheBounded: the hashed-ghost-id cache keeps at most its limit, evicting the least
// recently used, and a passport evicted from it is found again through the contact list.
func TestPassportCacheBounded(t *testing.T) {
	h := newHarness(t, 18)
	h.client.passports = newPassportCache(8)
	long := func(i int) string { return fmt.Sprintf("%s%03d@example.com", strings.Repeat("x", 200), i) }
	var first networkid.UserID
	for i := 0; i < 50; i++ {
		id := h.client.ghostID(long(i))
		if !puppet.IsHashedID(id) {
			t.Fatalf("passport %d got an unhashed id %q; the test needs long passports", i, id)
		}
		if i == 0 {
			first = id
		}
	}
	if n := h.client.passports.len(); n != 8 {
		t.Fatalf("cache holds %d passports after 50, want the bound 8", n)
	}
	ctx := context.Background()
	if p, ok := h.client.passportOf(ctx, h.client.ghostID(long(49))); !ok || p != long(49) {
		t.Fatalf("recent passport = %q, %v", p, ok)
	}
	if _, ok := h.client.passports.get("x"); ok {
		t.Fatal("unknown id found")
	}
	if err := h.conn.Store.PutContact(ctx, &database.Contact{LoginID: h.login.ID, Passport: long(0), Lists: 1}); err != nil {
		t.Fatal(err)
	}
	if p, ok := h.client.passportOf(ctx, first); !ok || p != long(0) {
		t.Fatalf("evicted passport not found again through the contact list: %q, %v", p, ok)
	}
}

// TestClientGroupBindingsPruned: the client forgets the portal binding of a group conversation
// once its switchboard closed, and a full binding table is swept of conversations the manager
// no longer holds.
func TestClientGroupBindingsPruned(t *testing.T) {
	h := newHarness(t, 18)
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob, carol := h.online(t, "bob@example.com"), h.online(t, "carol@example.com")
	room := startGroup(ctx, t, h, bob, carol, "group")
	bound := func() (int, int) {
		h.client.mu.Lock()
		defer h.client.mu.Unlock()
		return len(h.client.convGroup), len(h.client.groupConv)
	}
	if a, b := bound(); a != 1 || b != 1 {
		t.Fatalf("bindings %d/%d with one group", a, b)
	}
	h.srv.CloseSwitchboards("alice@example.com")
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, b := bound()
		if a == 0 && b == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bindings %d/%d still held after the group's switchboard closed", a, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The same people again: the same room, found by roster.
	if got := startGroup(ctx, t, h, bob, carol, "again"); got != room {
		t.Fatalf("after pruning, the group went to %v, want %v", got, room)
	}

	// Conversations of another manager (gone) fill the table: a new binding sweeps them.
	other := sb.NewManager(&nsRelay{c: h.client, passport: "alice@example.com"}, sb.Config{})
	defer func() { _ = other.Close() }()
	for i := 0; i < maxBoundGroups+10; i++ {
		conv := other.NewGroup(fmt.Sprintf("p%d@example.com", i), "q@example.com")
		h.client.bindGroup(conv, groupPortalID([]string{conv.ID()}))
	}
	if a, b := bound(); a > maxBoundGroups+1 || b > maxBoundGroups+1 {
		t.Fatalf("bindings %d/%d exceed the bound %d", a, b, maxBoundGroups)
	}
}
