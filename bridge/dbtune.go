package bridge

import (
	"net/url"
	"strconv"
	"strings"
)

// sqliteStatementCache is how many prepared statements each SQLite connection keeps (the
// go-sqlite3 driver's _stmt_cache_size). bridgev2 runs the same few dozen queries for every
// message; without a cache the driver prepares each one again on every call, which was about
// 30 % of the bridge's CPU per bridged message (docs/PERFORMANCE.md, "Through the bridge").
const sqliteStatementCache = 64

// TuneDatabaseURI returns the database URI the bridge opens: for SQLite (types "sqlite3-fk-wal"
// and "litestream") it asks the driver to cache prepared statements unless the URI already says
// how (_stmt_cache_size, 0 turns the cache off); other databases' URIs are returned unchanged.
func TuneDatabaseURI(dbType, uri string) string {
	if dbType != "sqlite3-fk-wal" && dbType != "litestream" || uri == "" {
		return uri
	}
	sep := "?"
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		if q, err := url.ParseQuery(uri[i+1:]); err != nil || q.Has("_stmt_cache_size") {
			return uri // the deployer's own setting, or a query the driver will report
		}
		sep = "&"
		if strings.HasSuffix(uri, "?") || strings.HasSuffix(uri, "&") {
			sep = ""
		}
	}
	return uri + sep + "_stmt_cache_size=" + strconv.Itoa(sqliteStatementCache)
}
