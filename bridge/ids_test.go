package bridge

import (
	"context"
	"testing"

	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
)

// TestDMPortalNeverGroup: a contact whose passport (as the server sends it) starts with
// "group:" gets a DM portal that is not routed as a group.
func TestDMPortalNeverGroup(t *testing.T) {
	c := &Client{passports: newPassportCache(16), login: &bridgev2.UserLogin{UserLogin: &bridgedb.UserLogin{ID: "me@example.com"}}}
	key := c.dmKey("group:1234@example.com")
	if isGroupPortal(key.ID) {
		t.Fatalf("DM portal %q of a group:-passport is routed as a group", key.ID)
	}
	if p, ok := c.passportOf(context.Background(), networkid.UserID(key.ID)); !ok || p != "group:1234@example.com" {
		t.Fatalf("passportOf(%q) = %q, %v", key.ID, p, ok)
	}
	if !isGroupPortal("group:" + "conv1") {
		t.Fatal("group portal not recognised")
	}
}
