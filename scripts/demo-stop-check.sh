#!/usr/bin/env bash
# demo-stop-check.sh: checks that `make demo`, started from a script with `setsid make demo &`,
# stops everything it started within 5 s of a signal, leaving no process and no listening port:
#   1. SIGINT to its process group (what Ctrl-C does; a script's background job has SIGINT
#      ignored, which a plain bash trap cannot catch);
#   2. SIGTERM to make alone.
# `make test` runs it (target demo-check) after the end-to-end tests; it needs the Synapse chroot
# (make e2e-env) and costs two demo starts, about 10 s each.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO=$ROOT/.e2e/demo
OUT=$ROOT/.e2e/demo-stop-check
GRACE=5
mkdir -p "$OUT"

fail() { echo "demo-stop-check: FAIL: $*" >&2; exit 1; }

# On any exit, a demo this check started and did not see stop is stopped: SIGTERM to make (which
# passes it to demo.sh), then SIGKILL to whatever it found still running after 10 s.
MAKE_PID="" PIDS_SEEN=""
leftovers() {
	local p i
	[ -n "$MAKE_PID" ] && running "$MAKE_PID" || return 0
	kill -TERM "$MAKE_PID" 2>/dev/null
	for i in $(seq 1 100); do running "$MAKE_PID" || break; sleep 0.1; done
	for p in $MAKE_PID $PIDS_SEEN; do running "$p" && kill -KILL "$p" 2>/dev/null; done
	return 0
}
trap leftovers EXIT

# listening PORT: true if something listens on loopback/any TCP PORT (IPv4 or IPv6).
listening() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p {found = 1} END {exit !found}' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# running PID: true while PID exists and is not a zombie.
running() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# demo_pids: every process whose environment names this checkout's demo run directory, i.e.
# everything demo.sh started (also those that left its process tree, like Synapse).
demo_pids() {
	local f pid
	for f in /proc/[0-9]*/environ; do
		pid=${f#/proc/}
		pid=${pid%/environ}
		[ "$pid" = $$ ] && continue
		{ tr '\0' '\n' <"$f"; } 2>/dev/null | grep -qx "MSNBRIDGE_E2E_RUN_DIR=$DEMO/synapse" && echo "$pid"
	done
	return 0
}

free_port_pair() {
	local p i
	for i in $(seq 1 50); do
		p=$((20000 + (RANDOM % 20000) * 2))
		listening "$p" || listening $((p + 1)) || { echo "$p"; return 0; }
	done
	fail "no free port pair found"
}

# one_round NAME HOW: starts the demo, waits for its banner, stops it as HOW says (group-int or
# make-term) and checks that everything is gone within GRACE seconds.
one_round() {
	local name=$1 how=$2 port log pid t0 ports pids p left
	port=$(free_port_pair)
	log=$OUT/$name.log
	[ -z "$(demo_pids)" ] || fail "a demo of this checkout is already running: $(demo_pids)"
	# A background job of a non-interactive shell: SIGINT and SIGQUIT ignored, as in any script.
	setsid make -s -C "$ROOT" demo DEMO_HS_PORT="$port" BUILD_TIME="$BUILD_TIME" </dev/null >"$log" 2>&1 &
	pid=$!
	MAKE_PID=$pid PIDS_SEEN=""
	t0=$SECONDS
	until grep -q "MSN bridge demo is running" "$log"; do
		running "$pid" || { cat "$log" >&2; fail "$name: make demo exited before its banner"; }
		[ $((SECONDS - t0)) -lt 300 ] || { kill -TERM "$pid"; cat "$log" >&2; fail "$name: no banner within 300 s"; }
		sleep 0.2
	done
	grep -q "CONTROL=http://127.0.0.1:" "$log" || fail "$name: the banner does not print the control URL"
	ports="$port $((port + 1))"
	for p in ns http control; do
		ports="$ports $(sed -n "s/.*\"$p\": \"[^\"]*:\\([0-9]*\\)[^\"]*\".*/\\1/p" "$DEMO/fake/ready.json")"
	done
	pids="$pid $(ps -o pid= --ppid "$pid") $(demo_pids)"
	PIDS_SEEN=$pids
	# make, demo.sh, the fake server, the bridge and Synapse: a check that finds less checks nothing.
	[ "$(wc -w <<<"$pids")" -ge 5 ] || fail "$name: found only processes $pids"
	for p in $ports; do listening "$p" || fail "$name: nothing listens on port $p while the demo runs"; done

	case $how in
	group-int) kill -INT -- "-$pid" ;;
	make-term) kill -TERM "$pid" ;;
	esac
	t0=$SECONDS
	while :; do
		left=""
		for p in $pids; do running "$p" && left="$left $p"; done
		for p in $ports; do listening "$p" && left="$left port:$p"; done
		[ -z "$left" ] && break
		if [ $((SECONDS - t0)) -ge "$GRACE" ]; then
			for p in $pids; do ps -o pid=,ppid=,stat=,args= -p "$p" >&2; done
			fail "$name: still running $GRACE s after the signal:$left (log: $log)"
		fi
		sleep 0.1
	done
	wait "$pid" 2>/dev/null || true
	MAKE_PID=""
	echo "demo-stop-check: $name: stopped everything (processes $pids; ports $ports) in $((SECONDS - t0)) s or less"
}

BUILD_TIME=${BUILD_TIME:-$(date -u +%Y-%m-%dT%H:%M:%SZ)} # the same for both rounds: the second build is cached
one_round sigint-to-group group-int
one_round sigterm-to-make make-term
