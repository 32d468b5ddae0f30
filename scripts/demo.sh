#!/usr/bin/env bash
# demo.sh: a local trial of the bridge. Starts a real Synapse on loopback (scripts/synapse-env.sh),
# the fake MSN server with demo accounts (one echo contact) and the bridge, prints how to log in
# and how to make the contacts act, and stops everything it started on SIGINT (Ctrl-C) or SIGTERM.
#
# Expects the binaries in .e2e/bin (make demo builds them). Everything of a run lives in
# .e2e/demo and is wiped at the next start. Environment: DEMO_HS_PORT (default 8008).
set -euo pipefail

# A script that starts `make demo &` (or `setsid make demo &`) hands it SIGINT ignored: bash
# does that to background jobs when job control is off, and a trap on a signal that was ignored
# when the shell started never fires, so Ctrl-C or `kill -INT` would leave everything running.
# Start over once with SIGINT and SIGTERM at their defaults, so that the traps below work.
if [ -z "${MSNBRIDGE_DEMO_SIGNALS_RESET:-}" ] && env --default-signal=INT true 2>/dev/null; then
	MSNBRIDGE_DEMO_SIGNALS_RESET=1 exec env --default-signal=INT,TERM "$0" "$@"
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/.e2e/bin
DEMO=$ROOT/.e2e/demo
export MSNBRIDGE_E2E_RUN_DIR=$DEMO/synapse
export MSNBRIDGE_E2E_PORT=${DEMO_HS_PORT:-8008}
SYNAPSE=$ROOT/scripts/synapse-env.sh

for b in msnbridge msn-fakeserver yamlset; do
	[ -x "$BIN/$b" ] || { echo "demo: $BIN/$b missing: run 'make demo'" >&2; exit 1; }
done

PIDS=()
# cleanup stops everything this run started: the bridge, the fake server and Synapse at once
# (each takes about a second), then SIGKILL for whatever still runs after 4 s.
cleanup() {
	# A second Ctrl-C must not cut the cleanup short; under `make demo | tee` Ctrl-C kills tee,
	# and a write to the dead pipe must not kill the cleanup either.
	trap - EXIT
	trap '' INT TERM PIPE
	set +e
	echo
	echo "demo: stopping"
	local p hs alive stopper t0=$SECONDS
	hs=$(cat "$MSNBRIDGE_E2E_RUN_DIR/synapse.pid" 2>/dev/null)
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	"$SYNAPSE" stop >/dev/null 2>&1 &
	stopper=$!
	while [ $((SECONDS - t0)) -lt 4 ]; do
		alive=0
		for p in "${PIDS[@]}" $hs; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${PIDS[@]}" $hs; do kill -KILL "$p" 2>/dev/null && echo "demo: killed $p (did not stop in time)" >&2; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	wait "$stopper" 2>/dev/null
	echo "demo: stopped"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# wait_for DESCRIPTION SECONDS PID COMMAND...: runs COMMAND until it succeeds, the deadline passes
# or the process PID dies.
wait_for() {
	local what=$1 secs=$2 pid=$3 t0=$SECONDS
	shift 3
	until "$@" >/dev/null 2>&1; do
		kill -0 "$pid" 2>/dev/null || { echo "demo: $what: process exited" >&2; return 1; }
		[ $((SECONDS - t0)) -lt "$secs" ] || { echo "demo: $what: not ready within $secs s" >&2; return 1; }
		sleep 0.2
	done
}

"$SYNAPSE" stop >/dev/null 2>&1 || true
rm -rf "$DEMO"
mkdir -p "$DEMO/bridge" "$DEMO/fake"
# The first run builds the Synapse chroot (debootstrap + apt, a few minutes); synapse-env.sh
# reports its progress and the log files to follow.
"$SYNAPSE" install

# Children run in their own sessions: Ctrl-C reaches only this script, which stops them in order.
setsid "$BIN/msn-fakeserver" -demo -ns 127.0.0.1:0 -http 127.0.0.1:0 -control 127.0.0.1:0 \
	-ready-file "$DEMO/fake/ready.json" >"$DEMO/fake/fakeserver.log" 2>&1 &
PIDS+=($!)
wait_for "fake MSN server" 30 "${PIDS[0]}" test -s "$DEMO/fake/ready.json"
field() { sed -n "s/.*\"$1\": \"\\([^\"]*\\)\".*/\\1/p" "$DEMO/fake/ready.json"; }
NS=$(field ns)
MSNHTTP=$(field http)
CONTROL=$(field control)

AS_PORT=$((MSNBRIDGE_E2E_PORT + 1))
cd "$DEMO/bridge"
"$BIN/msnbridge" -c config.yaml -e >/dev/null
"$BIN/yamlset" config.yaml \
	"homeserver.address=http://127.0.0.1:$MSNBRIDGE_E2E_PORT" \
	"homeserver.domain=localhost" \
	"appservice.address=http://127.0.0.1:$AS_PORT" \
	"appservice.hostname=127.0.0.1" \
	"appservice.port=$AS_PORT" \
	"database.type=sqlite3-fk-wal" \
	"database.uri=file:$DEMO/bridge/msnbridge.db?_txlock=immediate" \
	'bridge.permissions={"*": relay, "localhost": admin}' \
	'double_puppet.secrets={}' \
	'double_puppet.servers={}' \
	"logging.writers=[{type: stdout, format: pretty}]" \
	"network.server=$NS" \
	"network.http_base_url=$MSNHTTP" \
	"network.tls_verify=false"
"$BIN/msnbridge" -c config.yaml -r registration.yaml -g >/dev/null

"$SYNAPSE" start "$DEMO/bridge/registration.yaml"
HS=$("$SYNAPSE" url)
MXPASS=demo-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$SYNAPSE" register demo "$MXPASS" 2>/dev/null

setsid "$BIN/msnbridge" -c config.yaml -r registration.yaml >"$DEMO/bridge/bridge.log" 2>&1 &
PIDS+=($!)
wait_for "bridge" 60 "${PIDS[1]}" curl -fsS --max-time 2 "http://127.0.0.1:$AS_PORT/_matrix/mau/ready"
BOT=$(sed -n '/^appservice:/,/^[a-z]/{/^ *username:/{s/.*username: *//p;q}}' config.yaml)
VERSION=$("$BIN/msnbridge" --version)

cat <<EOF

================= MSN bridge demo is running =================
Matrix homeserver:  $HS   (server name: localhost)
Matrix user:        @demo:localhost   password: $MXPASS
Bridge bot:         @$BOT:localhost   (open a DM with it, send "login")
MSN test account:   demo@example.com   password: demo-password
MSN contacts:       echo@example.com (echoes every message), bob@example.com, carol@example.com (offline)
Control URL:        CONTROL=$CONTROL
Make the contacts act, one example per endpoint:
  curl -d '{"from":"bob@example.com","to":"demo@example.com","text":"hi"}' $CONTROL/v1/message
  curl -d '{"from":"bob@example.com","to":"demo@example.com"}' $CONTROL/v1/typing
  curl -d '{"from":"bob@example.com","to":"demo@example.com"}' $CONTROL/v1/nudge
  curl -d '{"who":"bob@example.com","status":"NLN","psm":"back at my desk"}' $CONTROL/v1/presence
  curl -d '{"who":"echo@example.com","to":"demo@example.com","with":"bob@example.com"}' $CONTROL/v1/join
  curl -d '{"who":"echo@example.com","to":"demo@example.com"}' $CONTROL/v1/leave
  curl -d '{"from":"carol@example.com","to":"demo@example.com","text":"while you were away"}' $CONTROL/v1/oim
  curl -d '{"down_ms":3000}' $CONTROL/v1/restart
  curl -d '{}' $CONTROL/v1/down
  curl -d '{}' $CONTROL/v1/up
  curl '$CONTROL/v1/received?contact=bob@example.com&since=0'
  curl '$CONTROL/v1/logins?passport=demo@example.com'
  (join: while you chat with bob; oim: delivered at your next MSN login, e.g. after "reconnect")
Logs:               $DEMO/bridge/bridge.log, $DEMO/fake/fakeserver.log, $DEMO/synapse/homeserver.log
Version:            $VERSION
Press Ctrl-C to stop everything. From a script: SIGINT or SIGTERM to this script (pid $$) or
  to make's process group, or SIGTERM to make.
==============================================================
EOF

# Run until a signal or until the bridge or the fake server exits.
wait -n "${PIDS[@]}" || true
echo "demo: a process exited; see the logs above" >&2
exit 1
