package bridge

import (
	"context"
	"path/filepath"
	"testing"

	"go.mau.fi/util/dbutil"
)

func TestTuneDatabaseURI(t *testing.T) {
	cases := []struct{ typ, in, want string }{
		{"sqlite3-fk-wal", "file:msnbridge.db?_txlock=immediate", "file:msnbridge.db?_txlock=immediate&_stmt_cache_size=64"},
		{"sqlite3-fk-wal", "file:msnbridge.db", "file:msnbridge.db?_stmt_cache_size=64"},
		{"sqlite3-fk-wal", "msnbridge.db", "msnbridge.db?_stmt_cache_size=64"},
		{"sqlite3-fk-wal", "file:x.db?", "file:x.db?_stmt_cache_size=64"},
		{"litestream", "file:x.db?_txlock=immediate", "file:x.db?_txlock=immediate&_stmt_cache_size=64"},
		// The deployer's own setting stays, including turning the cache off.
		{"sqlite3-fk-wal", "file:x.db?_stmt_cache_size=0&_txlock=immediate", "file:x.db?_stmt_cache_size=0&_txlock=immediate"},
		{"sqlite3-fk-wal", "file:x.db?_stmt_cache_size=8", "file:x.db?_stmt_cache_size=8"},
		// Not SQLite, or nothing to tune.
		{"postgres", "postgres://u:p@h/db?sslmode=disable", "postgres://u:p@h/db?sslmode=disable"},
		{"sqlite3-fk-wal", "", ""},
	}
	for _, c := range cases {
		if got := TuneDatabaseURI(c.typ, c.in); got != c.want {
			t.Errorf("TuneDatabaseURI(%q, %q) = %q, want %q", c.typ, c.in, got, c.want)
		}
	}
}

// TestTunedURIOpens checks the driver accepts the tuned URI and the database works through it.
func TestTunedURIOpens(t *testing.T) {
	uri := TuneDatabaseURI("sqlite3-fk-wal", "file:"+filepath.Join(t.TempDir(), "b.db")+"?_txlock=immediate")
	db, err := dbutil.NewWithDialect(uri, "sqlite3-fk-wal")
	if err != nil {
		t.Fatalf("open %q: %v", uri, err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.Exec(ctx, "CREATE TABLE t (v INTEGER)"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := db.Exec(ctx, "INSERT INTO t (v) VALUES ($1)", i); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.QueryRow(ctx, "SELECT COUNT(*) FROM t WHERE v >= $1", 1).Scan(&n); err != nil || n != 2 {
		t.Fatalf("count = %d, %v; want 2", n, err)
	}
}
