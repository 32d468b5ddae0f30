#!/usr/bin/env bash
# postgres-env.sh: a throwaway PostgreSQL cluster for the end-to-end journey on PostgreSQL.
#
# Usage:
#   postgres-env.sh run CMD [ARG...]
#
# Installs Debian's postgresql with apt if its binaries are missing (needs root then), creates a
# cluster in a fresh temporary directory (initdb, as the postgres user when run as root: initdb
# refuses root), starts it listening on a Unix socket in that directory only (no TCP port, so no
# port to collide with), creates the database "msnbridge", and runs CMD with
#   MSNBRIDGE_E2E_POSTGRES=postgres:///msnbridge?host=DIR&user=USER&sslmode=disable
# in its environment, and the same URI in MSNBRIDGE_TEST_POSTGRES (the database package's tests
# then create and drop databases of their own there). When CMD has exited, it checks that the bridge really wrote to PostgreSQL
# (its own tables and mautrix's exist, the portal table has rows), then stops the cluster and
# removes the directory, whatever happened. Exits with CMD's status, or 1 if the check failed.
set -euo pipefail

die() { echo "postgres-env: $*" >&2; exit 1; }

[ "${1:-}" = run ] && [ $# -ge 2 ] || die "usage: $0 run CMD [ARG...]"
shift

pgbin() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ] && { echo "$d"; return 0; }
	done
	return 1
}

if ! BIN=$(pgbin); then
	[ "$(id -u)" = 0 ] || die "PostgreSQL is not installed (apt-get install postgresql, as root)"
	echo "postgres-env: installing postgresql with apt" >&2
	apt-get update -q
	# policy-rc.d: do not start the package's own cluster (we run a private one).
	rc=/usr/sbin/policy-rc.d
	had_rc=0; [ -e "$rc" ] && had_rc=1
	[ $had_rc = 1 ] || { printf '#!/bin/sh\nexit 101\n' >"$rc"; chmod +x "$rc"; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
	[ $had_rc = 1 ] || rm -f "$rc"
	BIN=$(pgbin) || die "postgresql installed but no initdb/pg_ctl/psql found"
fi

DIR=$(mktemp -d /tmp/msnbridge-pg-XXXXXX)
chmod 0755 "$DIR"
if [ "$(id -u)" = 0 ]; then
	DBUSER=postgres
	id "$DBUSER" >/dev/null 2>&1 || die "no user $DBUSER to run the cluster as"
	chown "$DBUSER" "$DIR"
	as_db() { runuser -u "$DBUSER" -- "$@"; }
else
	DBUSER=$(id -un)
	as_db() { "$@"; }
fi

started=0
cleanup() {
	if [ $started = 1 ]; then
		as_db "$BIN/pg_ctl" -D "$DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			as_db "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$(date +%s)
as_db "$BIN/initdb" -D "$DIR/data" -U "$DBUSER" --auth=trust -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 ||
	{ cat "$DIR/initdb.log" >&2; die "initdb failed"; }
# listen_addresses='': Unix socket only, in DIR; fsync off: a throwaway cluster.
started=1
as_db "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 \
	-o "-c listen_addresses='' -c unix_socket_directories='$DIR' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
	start >/dev/null || { cat "$DIR/postgres.log" >&2; die "pg_ctl start failed"; }
psql_() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR" -U "$DBUSER" "$@"; }
psql_ -d postgres -c 'CREATE DATABASE msnbridge' || die "CREATE DATABASE failed"
echo "postgres-env: PostgreSQL $("$BIN/pg_ctl" --version | awk '{print $3}') ready in $(($(date +%s) - start)) s (socket in $DIR)" >&2

export MSNBRIDGE_E2E_POSTGRES="postgres:///msnbridge?host=$DIR&user=$DBUSER&sslmode=disable"
export MSNBRIDGE_TEST_POSTGRES=$MSNBRIDGE_E2E_POSTGRES
status=0
"$@" || status=$?

if [ $status = 0 ]; then
	# The journey passed; make sure it passed on PostgreSQL, not on a silently chosen SQLite.
	check=$(psql_ -d msnbridge -tA -c "SELECT to_regclass('msn_contact') IS NOT NULL AND to_regclass('portal') IS NOT NULL AND (SELECT count(*) FROM portal) > 0") ||
		die "cannot query the bridge's database"
	[ "$check" = t ] || die "the bridge's tables or portals are missing from PostgreSQL (got '$check')"
	echo "postgres-env: the bridge's tables and portals are in PostgreSQL" >&2
fi
exit $status
