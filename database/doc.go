// Package database holds the bridge's own tables — the contact-list cache, group rosters and
// pending contact requests — with their dbutil upgrades, and the metadata the bridge stores in
// bridgev2's tables (user logins, portals, ghosts, messages), including the encrypted password.
//
// It never duplicates what bridgev2 already stores.
package database
