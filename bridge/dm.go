package bridge

// dmInviteExtra is what the user's member event in a DM portal carries besides the membership.
// bridgev2 creates DM rooms with is_direct, but it invites the user afterwards with a plain
// member event (it puts invites into the room creation only on servers that auto-join them), so
// without is_direct on that invite clients file the chat under rooms instead of people.
func dmInviteExtra() map[string]any {
	return map[string]any{"is_direct": true}
}
