package bridge

import (
	"context"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
)

func TestDMInviteIsDirect(t *testing.T) {
	h := newHarness(t, 18)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bobKey := networkid.PortalKey{ID: "bob@example.com", Receiver: "alice@example.com"}
	info, err := h.client.GetChatInfo(ctx, portalFor(bobKey))
	if err != nil {
		t.Fatal(err)
	}
	me, ok := info.Members.MemberMap[h.client.GetUserID()]
	if !ok {
		t.Fatalf("the user is not a member of the DM: %+v", info.Members.MemberMap)
	}
	if me.MemberEventExtra["is_direct"] != true {
		t.Errorf("the user's invite to a DM has no is_direct: %+v", me.MemberEventExtra)
	}
	if *info.Type != "dm" {
		t.Errorf("DM room type %q", *info.Type)
	}
	for uid, m := range info.Members.MemberMap {
		if uid != h.client.GetUserID() && m.MemberEventExtra["is_direct"] != nil {
			t.Errorf("the contact's member event carries is_direct: %+v", m.MemberEventExtra)
		}
	}

	// A group is not direct.
	h.connect(t)
	h.online(t, "bob@example.com")
	h.online(t, "carol@example.com")
	resp, err := h.client.CreateGroup(ctx, &bridgev2.GroupCreateParams{Participants: []networkid.UserID{"bob@example.com", "carol@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range resp.PortalInfo.Members.MemberMap {
		if m.MemberEventExtra["is_direct"] != nil {
			t.Errorf("a group member event carries is_direct: %+v", m.MemberEventExtra)
		}
	}
}
