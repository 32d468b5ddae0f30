package bridge

import (
	"context"
	"fmt"
	"time"

	"maunium.net/go/mautrix/event"
)

// spaceLeaver is implemented by a Matrix side that can take the user out of the login's space.
type spaceLeaver interface {
	RemoveUserFromSpace(ctx context.Context) error
}

// RemoveUserFromSpace kicks the user from the login's space "MSN (passport)", whether they
// joined it or its invite is still pending. bridgev2 deletes the space at logout but removes
// only joined members, so a pending invite outlived the login and the next login's space made
// two.
func (b *bridgeSide) RemoveUserFromSpace(ctx context.Context) error {
	if b.login == nil || b.login.UserLogin == nil || b.login.SpaceRoom == "" || b.br.Bot == nil {
		return nil
	}
	content := &event.MemberEventContent{Membership: event.MembershipLeave, Reason: "Logged out of MSN"}
	_, err := b.br.Bot.SendState(ctx, b.login.SpaceRoom, event.StateMember, b.login.UserMXID.String(), &event.Content{Parsed: content}, time.Now())
	if err != nil {
		return fmt.Errorf("remove %s from space %s: %w", b.login.UserMXID, b.login.SpaceRoom, err)
	}
	return nil
}

// leaveSpace takes the user out of the login's space at logout (see RemoveUserFromSpace).
func (c *Client) leaveSpace(ctx context.Context) {
	l, ok := c.mx.(spaceLeaver)
	if !ok {
		return
	}
	if err := l.RemoveUserFromSpace(ctx); err != nil {
		// Also when the user already left the space themselves.
		c.log.Debug().Err(err).Msg("Could not remove the user from the login's space")
	}
}
