package database

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/lib/pq"
	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	_ "go.mau.fi/util/dbutil/litestream"
	"maunium.net/go/mautrix/bridgev2/networkid"
)

var dbCounter int

// postgresTestEnv names the environment variable that runs these tests on PostgreSQL instead of
// an in-memory SQLite: a connection URI of a role that may create databases (`make e2e-postgres`
// sets it). Each test then gets a database of its own, dropped at the end.
const postgresTestEnv = "MSNBRIDGE_TEST_POSTGRES"

func newTestDB(t *testing.T) *dbutil.Database {
	t.Helper()
	dbCounter++
	if uri := os.Getenv(postgresTestEnv); uri != "" {
		return newPostgresTestDB(t, uri, fmt.Sprintf("msnbridge_test_%d_%d", os.Getpid(), dbCounter))
	}
	name := fmt.Sprintf("file:%s_%d?mode=memory&cache=shared&_txlock=immediate", strings.ReplaceAll(t.Name(), "/", "_"), dbCounter)
	db, err := dbutil.NewWithDialect(name, "sqlite3-fk-wal")
	if err != nil {
		t.Fatal(err)
	}
	db.RawDB.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// newPostgresTestDB creates the database name through the server at uri and opens it.
func newPostgresTestDB(t *testing.T, uri, name string) *dbutil.Database {
	t.Helper()
	ctx := context.Background()
	admin, err := dbutil.NewWithDialect(uri, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating the test database: %v", err)
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	db, err := dbutil.NewWithDialect(u.String(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = db.Close()
		if _, err := admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping the test database: %v", err)
		}
	})
	return db
}

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s := New("test", newTestDB(t), dbutil.ZeroLogger(zerolog.Nop()))
	if err := s.Upgrade(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUpgradeFromScratchAndStepwise(t *testing.T) {
	ctx := context.Background()
	// Fresh database: the "latest revision" file jumps straight to the newest version.
	s := newTestStore(t)
	for _, table := range []string{"msn_contact", "msn_group_member", "msn_pending_request"} {
		if ok, err := s.DB.TableExists(ctx, table); err != nil || !ok {
			t.Errorf("table %s missing after upgrade: %v", table, err)
		}
	}
	// Database at v1 (made with the v1 upgrade only) must reach the latest version.
	db := newTestDB(t)
	// The v1 schema: contacts and group rosters, before pending requests existed.
	v1 := dbutil.BuildUpgradeTable().WithRaw(0, 1, 1, "v1 schema", dbutil.TxnModeOn, func(ctx context.Context, db *dbutil.Database) error {
		_, err := db.Exec(ctx, v1Schema)
		return err
	}).Finish()
	old := db.Child(VersionTable, v1, dbutil.ZeroLogger(zerolog.Nop()))
	if err := old.Upgrade(ctx); err != nil {
		t.Fatalf("upgrade to v1: %v", err)
	}
	if ok, _ := old.TableExists(ctx, "msn_pending_request"); ok {
		t.Fatal("v1 schema already has the v2 table; the test does not test anything")
	}
	s2 := New("test", db, dbutil.ZeroLogger(zerolog.Nop()))
	if err := s2.Upgrade(ctx); err != nil {
		t.Fatalf("upgrade v1 → latest: %v", err)
	}
	if ok, _ := s2.DB.TableExists(ctx, "msn_pending_request"); !ok {
		t.Error("v2 table missing after stepwise upgrade")
	}
	if c, err := s2.GetContact(ctx, "me@x.com", "kept@x.com"); err != nil || c == nil {
		t.Errorf("v1 data lost by the upgrade: %v, %v", c, err)
	}
	// Upgrading again is a no-op.
	if err := s2.Upgrade(ctx); err != nil {
		t.Errorf("second upgrade: %v", err)
	}
}

const v1Schema = `
CREATE TABLE msn_contact (
    bridge_id TEXT NOT NULL, login_id TEXT NOT NULL, passport TEXT NOT NULL,
    friendly_name TEXT NOT NULL DEFAULT '', personal_message TEXT NOT NULL DEFAULT '',
    lists INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'FLN', updated_at BIGINT NOT NULL,
    PRIMARY KEY (bridge_id, login_id, passport)
);
CREATE TABLE msn_group_member (
    bridge_id TEXT NOT NULL, login_id TEXT NOT NULL, group_id TEXT NOT NULL, passport TEXT NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (bridge_id, login_id, group_id, passport)
);
INSERT INTO msn_contact (bridge_id, login_id, passport, updated_at) VALUES ('test', 'me@x.com', 'kept@x.com', 1);
`

func TestContacts(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if c, err := s.GetContact(ctx, "me@x.com", "a@x.com"); err != nil || c != nil {
		t.Fatalf("missing contact = %v, %v", c, err)
	}
	for _, c := range []*Contact{
		{LoginID: "me@x.com", Passport: "b@x.com", FriendlyName: "B", Lists: 3, Status: "NLN"},
		{LoginID: "me@x.com", Passport: "a@x.com", FriendlyName: "A", Lists: 1, Status: "AWY"},
		{LoginID: "other@x.com", Passport: "a@x.com", FriendlyName: "A2"},
	} {
		if err := s.PutContact(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutContact(ctx, &Contact{LoginID: "me@x.com", Passport: "a@x.com", FriendlyName: "A new", PersonalMessage: "psm", Lists: 11, Status: "BSY"}); err != nil {
		t.Fatal(err)
	}
	list, err := s.Contacts(ctx, "me@x.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Passport != "a@x.com" || list[0].FriendlyName != "A new" || list[0].Lists != 11 || list[0].PersonalMessage != "psm" || list[1].Passport != "b@x.com" {
		t.Fatalf("contacts = %+v %+v", list[0], list[1])
	}
	if err := s.DeleteContact(ctx, "me@x.com", "a@x.com"); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.GetContact(ctx, "me@x.com", "a@x.com"); c != nil {
		t.Error("deleted contact still there")
	}
	if c, _ := s.GetContact(ctx, "other@x.com", "a@x.com"); c == nil || c.FriendlyName != "A2" {
		t.Error("other login's contact affected")
	}
	if err := s.DeleteLogin(ctx, "other@x.com"); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.GetContact(ctx, "other@x.com", "a@x.com"); c != nil {
		t.Error("DeleteLogin left contacts")
	}
}

func TestGroupsAndRequests(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	for _, p := range []string{"a@x.com", "b@x.com", "a@x.com"} {
		if err := s.AddGroupMember(ctx, "me@x.com", "g1", p); err != nil {
			t.Fatal(err)
		}
	}
	members, err := s.GroupMembers(ctx, "me@x.com", "g1")
	if err != nil || len(members) != 2 {
		t.Fatalf("members = %v, %v", members, err)
	}
	if err := s.RemoveGroupMember(ctx, "me@x.com", "g1", "a@x.com"); err != nil {
		t.Fatal(err)
	}
	if members, _ = s.GroupMembers(ctx, "me@x.com", "g1"); len(members) != 1 || members[0] != "b@x.com" {
		t.Fatalf("after leave = %v", members)
	}
	isNew, err := s.PutPendingRequest(ctx, "me@x.com", PendingRequest{Passport: "c@x.com", FriendlyName: "C"})
	if err != nil || !isNew {
		t.Fatalf("first request new=%v err=%v", isNew, err)
	}
	if isNew, _ = s.PutPendingRequest(ctx, "me@x.com", PendingRequest{Passport: "c@x.com"}); isNew {
		t.Error("duplicate request reported as new")
	}
	reqs, err := s.PendingRequests(ctx, "me@x.com")
	if err != nil || len(reqs) != 1 || reqs[0].FriendlyName != "C" {
		t.Fatalf("requests = %+v, %v", reqs, err)
	}
	if ok, _ := s.DeletePendingRequest(ctx, "me@x.com", "c@x.com"); !ok {
		t.Error("delete existing request = false")
	}
	if ok, _ := s.DeletePendingRequest(ctx, "me@x.com", "c@x.com"); ok {
		t.Error("delete missing request = true")
	}
}

func TestSealerRoundTrip(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"", "hunter2", "pässwörd with spaces", strings.Repeat("x", 500)} {
		sealed, err := s.Seal(pw, "me@x.com")
		if err != nil {
			t.Fatal(err)
		}
		if pw != "" && strings.Contains(sealed, pw) {
			t.Errorf("sealed value contains the password")
		}
		again, _ := s.Seal(pw, "me@x.com")
		if again == sealed {
			t.Error("two seals of the same password are equal (nonce reuse)")
		}
		got, err := s.Open(sealed, "me@x.com")
		if err != nil || got != pw {
			t.Errorf("Open = %q, %v; want %q", got, err, pw)
		}
		if _, err := s.Open(sealed, "other@x.com"); !errors.Is(err, ErrUnsealFailed) {
			t.Errorf("Open with other owner = %v, want ErrUnsealFailed", err)
		}
		other, _ := NewSealer(bytes.Repeat([]byte{8}, 32))
		if _, err := other.Open(sealed, "me@x.com"); !errors.Is(err, ErrUnsealFailed) {
			t.Errorf("Open with other key = %v, want ErrUnsealFailed", err)
		}
	}
	for _, bad := range []string{"", "v1:", "v1:!!!", "v2:AAAA", "v1:" + strings.Repeat("A", 8)} {
		if _, err := s.Open(bad, "me@x.com"); !errors.Is(err, ErrUnsealFailed) {
			t.Errorf("Open(%q) = %v, want ErrUnsealFailed", bad, err)
		}
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Error("short key accepted")
	}
}

// TestGroupByRoster: a group is found by its exact set of participants, per login, never by a
// subset or superset; SetGroupMembers replaces a roster.
func TestGroupByRoster(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	add := func(login, group string, ps ...string) {
		t.Helper()
		for _, p := range ps {
			if err := s.AddGroupMember(ctx, networkid.UserLoginID(login), group, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	add("me@x.com", "group:ab", "a@x.com", "b@x.com")
	add("me@x.com", "group:abc", "a@x.com", "b@x.com", "c@x.com")
	add("other@x.com", "group:other-ab", "a@x.com", "b@x.com", "d@x.com")
	for _, tc := range []struct {
		login string
		set   []string
		want  string
	}{
		{"me@x.com", []string{"b@x.com", "a@x.com"}, "group:ab"},
		{"me@x.com", []string{"a@x.com", "b@x.com", "a@x.com"}, "group:ab"},
		{"me@x.com", []string{"c@x.com", "a@x.com", "b@x.com"}, "group:abc"},
		{"me@x.com", []string{"a@x.com"}, ""},
		{"me@x.com", []string{"a@x.com", "c@x.com"}, ""},
		{"me@x.com", []string{"a@x.com", "b@x.com", "d@x.com"}, ""},
		{"other@x.com", []string{"a@x.com", "b@x.com", "d@x.com"}, "group:other-ab"},
		{"me@x.com", nil, ""},
	} {
		got, err := s.GroupByRoster(ctx, networkid.UserLoginID(tc.login), tc.set)
		if err != nil || got != tc.want {
			t.Errorf("GroupByRoster(%s, %v) = %q, %v; want %q", tc.login, tc.set, got, err, tc.want)
		}
	}
	if err := s.SetGroupMembers(ctx, "me@x.com", "group:abc", []string{"a@x.com", "d@x.com"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GroupMembers(ctx, "me@x.com", "group:abc"); len(got) != 2 || got[0] == got[1] {
		t.Fatalf("roster after SetGroupMembers = %v", got)
	}
	if got, _ := s.GroupByRoster(ctx, "me@x.com", []string{"d@x.com", "a@x.com"}); got != "group:abc" {
		t.Fatalf("replaced roster not found: %q", got)
	}
}
