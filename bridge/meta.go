package bridge

import (
	"context"

	"github.com/msnbridge/msnbridge/database"
)

// updateMeta applies change to the login's metadata and saves the login, both under metaMu:
// changes of the status, protocol version or signed-in-elsewhere flag from different goroutines
// (connection loop, commands, Matrix handlers) never interleave, and a save never reads a change
// half made. change reports whether it changed anything; nothing is saved otherwise.
func (c *Client) updateMeta(ctx context.Context, change func(m *database.UserLoginMetadata) bool) error {
	c.metaMu.Lock()
	defer c.metaMu.Unlock()
	if !change(c.meta()) || c.mx == nil {
		return nil
	}
	return c.mx.SaveLogin(ctx)
}

// metaSnapshot returns a copy of the login's metadata, read under metaMu.
func (c *Client) metaSnapshot() database.UserLoginMetadata {
	c.metaMu.Lock()
	defer c.metaMu.Unlock()
	return *c.meta()
}

// noteConnected records a new session's protocol version and clears signed-in-elsewhere.
func (c *Client) noteConnected(ctx context.Context, version int) error {
	return c.updateMeta(ctx, func(m *database.UserLoginMetadata) bool {
		changed := m.ProtocolVersion != version || m.SignedInElsewhere
		m.ProtocolVersion, m.SignedInElsewhere = version, false
		return changed
	})
}

// setSignedInElsewhere records (or clears, for the reconnect command) that the account signed
// in elsewhere, so that a restart does not kick the user's other client.
func (c *Client) setSignedInElsewhere(ctx context.Context, v bool) error {
	return c.updateMeta(ctx, func(m *database.UserLoginMetadata) bool {
		changed := m.SignedInElsewhere != v
		m.SignedInElsewhere = v
		return changed
	})
}
