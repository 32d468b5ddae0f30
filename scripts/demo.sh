#!/usr/bin/env bash
# demo.sh: a local trial of the bridge. Starts a real Synapse on loopback (scripts/synapse-env.sh),
# the fake MSN server with demo accounts (one echo contact) and the bridge, prints how to log in,
# and stops everything it started on Ctrl-C.
#
# Expects the binaries in .e2e/bin (make demo builds them). Everything of a run lives in
# .e2e/demo and is wiped at the next start. Environment: DEMO_HS_PORT (default 8008).
set -euo pipefail
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
cleanup() {
	trap - EXIT INT TERM; trap '' PIPE; set +e # Ctrl-C under `make demo | tee` kills tee: a write must not kill the cleanup
	echo
	echo "demo: stopping"
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	"$SYNAPSE" stop || true
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

cat <<EOF

================= MSN bridge demo is running =================
Matrix homeserver:  $HS   (server name: localhost)
Matrix user:        @demo:localhost   password: $MXPASS
Bridge bot:         @$BOT:localhost   (open a DM with it, send "login")
MSN test account:   demo@example.com   password: demo-password
MSN contacts:       echo@example.com (echoes every message), bob@example.com, carol@example.com (offline)
Script contacts:    curl -d '{"from":"bob@example.com","to":"demo@example.com","text":"hi"}' $CONTROL/v1/message
Logs:               $DEMO/bridge/bridge.log, $DEMO/fake/fakeserver.log, $DEMO/synapse/homeserver.log
Press Ctrl-C to stop everything.
==============================================================
EOF

# Run until Ctrl-C or until the bridge or the fake server exits.
wait -n "${PIDS[@]}" || true
echo "demo: a process exited; see the logs above" >&2
exit 1
