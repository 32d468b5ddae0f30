package database

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/bridgev2/networkid"
)

//go:embed upgrades/*.sql
var rawUpgrades embed.FS

// UpgradeTable is the upgrade table of the bridge's own tables.
var UpgradeTable = dbutil.BuildUpgradeTable().WithFSPath(rawUpgrades, "upgrades").Finish()

// VersionTable is the table that records the schema version of the bridge's own tables.
const VersionTable = "msnbridge_version"

// Store gives access to the bridge's own tables for one bridge id.
type Store struct {
	DB       *dbutil.Database
	BridgeID networkid.BridgeID
}

// New makes a Store on a child of the bridge database, with its own version table.
func New(bridgeID networkid.BridgeID, db *dbutil.Database, log dbutil.DatabaseLogger) *Store {
	return &Store{DB: db.Child(VersionTable, UpgradeTable, log), BridgeID: bridgeID}
}

// Upgrade brings the schema to the latest version.
func (s *Store) Upgrade(ctx context.Context) error {
	if err := s.DB.Upgrade(ctx); err != nil {
		return fmt.Errorf("upgrade msnbridge tables: %w", err)
	}
	return nil
}

// portalReceiverIndex indexes bridgev2's portal table by login. The bridge reads a login's
// portals at its first connect (the rooms that presence is pushed for), and neither the table's
// primary key (bridge_id, id, receiver) nor bridgev2's indexes serve a lookup by receiver:
// without this index each login's first connect reads every portal of the bridge, work that
// grows with the square of the logins at every start.
const portalReceiverIndex = `CREATE INDEX IF NOT EXISTS msn_portal_receiver_idx ON portal (bridge_id, receiver)`

// IndexPortals adds the bridge's index to bridgev2's portal table; it does nothing when the
// index exists. The table must exist: call it after bridgev2's own upgrade.
func (s *Store) IndexPortals(ctx context.Context) error {
	if _, err := s.DB.Exec(ctx, portalReceiverIndex); err != nil {
		return fmt.Errorf("index portals by login: %w", err)
	}
	return nil
}

// Contact is one cached contact-list entry of a login.
type Contact struct {
	LoginID         networkid.UserLoginID
	Passport        string
	FriendlyName    string
	PersonalMessage string
	Lists           uint8
	Status          string
	UpdatedAt       time.Time
}

// PutContact inserts or updates a cached contact.
func (s *Store) PutContact(ctx context.Context, c *Contact) error {
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = time.Now()
	}
	_, err := s.DB.Exec(ctx, `
		INSERT INTO msn_contact (bridge_id, login_id, passport, friendly_name, personal_message, lists, status, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (bridge_id, login_id, passport) DO UPDATE SET
			friendly_name=excluded.friendly_name, personal_message=excluded.personal_message,
			lists=excluded.lists, status=excluded.status, updated_at=excluded.updated_at`,
		s.BridgeID, c.LoginID, c.Passport, c.FriendlyName, c.PersonalMessage, int(c.Lists), c.Status, c.UpdatedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("save contact: %w", err)
	}
	return nil
}

func scanContact(row dbutil.Scannable) (*Contact, error) {
	var c Contact
	var lists int
	var updated int64
	if err := row.Scan(&c.LoginID, &c.Passport, &c.FriendlyName, &c.PersonalMessage, &lists, &c.Status, &updated); err != nil {
		return nil, err
	}
	c.Lists = uint8(lists)
	c.UpdatedAt = time.UnixMilli(updated)
	return &c, nil
}

const contactColumns = `login_id, passport, friendly_name, personal_message, lists, status, updated_at`

// GetContact returns one cached contact, or nil when it is not cached.
func (s *Store) GetContact(ctx context.Context, login networkid.UserLoginID, passport string) (*Contact, error) {
	c, err := scanContact(s.DB.QueryRow(ctx, `SELECT `+contactColumns+` FROM msn_contact WHERE bridge_id=$1 AND login_id=$2 AND passport=$3`,
		s.BridgeID, login, passport))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("get contact: %w", err)
	}
	return c, nil
}

// Contacts returns the cached contact list of a login, ordered by passport.
func (s *Store) Contacts(ctx context.Context, login networkid.UserLoginID) ([]*Contact, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+contactColumns+` FROM msn_contact WHERE bridge_id=$1 AND login_id=$2 ORDER BY passport`,
		s.BridgeID, login)
	if err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	defer rows.Close()
	var out []*Contact
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, fmt.Errorf("scan contact: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// DeleteContact removes a cached contact.
func (s *Store) DeleteContact(ctx context.Context, login networkid.UserLoginID, passport string) error {
	_, err := s.DB.Exec(ctx, `DELETE FROM msn_contact WHERE bridge_id=$1 AND login_id=$2 AND passport=$3`, s.BridgeID, login, passport)
	if err != nil {
		return fmt.Errorf("delete contact: %w", err)
	}
	return nil
}

// DeleteLogin removes everything stored for a login (on logout).
func (s *Store) DeleteLogin(ctx context.Context, login networkid.UserLoginID) error {
	for _, table := range []string{"msn_contact", "msn_group_member", "msn_pending_request"} {
		if _, err := s.DB.Exec(ctx, `DELETE FROM `+table+` WHERE bridge_id=$1 AND login_id=$2`, s.BridgeID, login); err != nil {
			return fmt.Errorf("delete %s rows of login: %w", table, err)
		}
	}
	return nil
}

// AddGroupMember records a participant of a group conversation.
func (s *Store) AddGroupMember(ctx context.Context, login networkid.UserLoginID, groupID, passport string) error {
	_, err := s.DB.Exec(ctx, `
		INSERT INTO msn_group_member (bridge_id, login_id, group_id, passport, joined_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (bridge_id, login_id, group_id, passport) DO NOTHING`,
		s.BridgeID, login, groupID, passport, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("add group member: %w", err)
	}
	return nil
}

// RemoveGroupMember removes a participant of a group conversation.
func (s *Store) RemoveGroupMember(ctx context.Context, login networkid.UserLoginID, groupID, passport string) error {
	_, err := s.DB.Exec(ctx, `DELETE FROM msn_group_member WHERE bridge_id=$1 AND login_id=$2 AND group_id=$3 AND passport=$4`,
		s.BridgeID, login, groupID, passport)
	if err != nil {
		return fmt.Errorf("remove group member: %w", err)
	}
	return nil
}

// GroupMembers returns the roster of a group conversation in join order.
func (s *Store) GroupMembers(ctx context.Context, login networkid.UserLoginID, groupID string) ([]string, error) {
	rows, err := s.DB.Query(ctx, `SELECT passport FROM msn_group_member WHERE bridge_id=$1 AND login_id=$2 AND group_id=$3 ORDER BY joined_at, passport`,
		s.BridgeID, login, groupID)
	if err != nil {
		return nil, fmt.Errorf("list group members: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("scan group member: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// GroupByRoster returns the group conversation of a login whose stored roster is exactly the
// given set of passports ("" when none). When several match (rooms made before group ids were
// stable), the one joined most recently wins, the lowest id on a tie. The scan stays within the
// login's rows (the primary key's prefix).
func (s *Store) GroupByRoster(ctx context.Context, login networkid.UserLoginID, passports []string) (string, error) {
	set := distinct(passports)
	if len(set) == 0 {
		return "", nil
	}
	args := []any{s.BridgeID, login, len(set)}
	marks := make([]string, len(set))
	for i, p := range set {
		args = append(args, p)
		marks[i] = fmt.Sprintf("$%d", i+4)
	}
	var id string
	err := s.DB.QueryRow(ctx, `
		SELECT group_id FROM msn_group_member WHERE bridge_id=$1 AND login_id=$2
		GROUP BY group_id
		HAVING COUNT(*)=$3 AND COUNT(CASE WHEN passport IN (`+strings.Join(marks, ", ")+`) THEN 1 END)=$3
		ORDER BY MAX(joined_at) DESC, group_id LIMIT 1`, args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("find group by roster: %w", err)
	}
	return id, nil
}

// SetGroupMembers replaces the roster of a group conversation with the given passports.
func (s *Store) SetGroupMembers(ctx context.Context, login networkid.UserLoginID, groupID string, passports []string) error {
	err := s.DB.DoTxn(ctx, nil, func(ctx context.Context) error {
		if _, err := s.DB.Exec(ctx, `DELETE FROM msn_group_member WHERE bridge_id=$1 AND login_id=$2 AND group_id=$3`,
			s.BridgeID, login, groupID); err != nil {
			return err
		}
		for _, p := range distinct(passports) {
			if err := s.AddGroupMember(ctx, login, groupID, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set group members: %w", err)
	}
	return nil
}

// distinct returns the non-empty values of ps once each, in order.
func distinct(ps []string) []string {
	seen := make(map[string]bool, len(ps))
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// PendingRequest is someone who added the user and waits for an answer.
type PendingRequest struct {
	Passport     string
	FriendlyName string
	ReceivedAt   time.Time
}

// PutPendingRequest records a contact request; it reports whether it is new.
func (s *Store) PutPendingRequest(ctx context.Context, login networkid.UserLoginID, req PendingRequest) (bool, error) {
	if req.ReceivedAt.IsZero() {
		req.ReceivedAt = time.Now()
	}
	res, err := s.DB.Exec(ctx, `
		INSERT INTO msn_pending_request (bridge_id, login_id, passport, friendly_name, received_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (bridge_id, login_id, passport) DO NOTHING`,
		s.BridgeID, login, req.Passport, req.FriendlyName, req.ReceivedAt.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("save pending request: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("save pending request: %w", err)
	}
	return n > 0, nil
}

// PendingRequests lists the pending contact requests of a login, oldest first.
func (s *Store) PendingRequests(ctx context.Context, login networkid.UserLoginID) ([]PendingRequest, error) {
	rows, err := s.DB.Query(ctx, `SELECT passport, friendly_name, received_at FROM msn_pending_request WHERE bridge_id=$1 AND login_id=$2 ORDER BY received_at, passport`,
		s.BridgeID, login)
	if err != nil {
		return nil, fmt.Errorf("list pending requests: %w", err)
	}
	defer rows.Close()
	var out []PendingRequest
	for rows.Next() {
		var r PendingRequest
		var ts int64
		if err := rows.Scan(&r.Passport, &r.FriendlyName, &ts); err != nil {
			return nil, fmt.Errorf("scan pending request: %w", err)
		}
		r.ReceivedAt = time.UnixMilli(ts)
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeletePendingRequest removes a pending request; it reports whether one existed.
func (s *Store) DeletePendingRequest(ctx context.Context, login networkid.UserLoginID, passport string) (bool, error) {
	res, err := s.DB.Exec(ctx, `DELETE FROM msn_pending_request WHERE bridge_id=$1 AND login_id=$2 AND passport=$3`, s.BridgeID, login, passport)
	if err != nil {
		return false, fmt.Errorf("delete pending request: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("delete pending request: %w", err)
	}
	return n > 0, nil
}
