#!/usr/bin/env bash
# synapse-env.sh: a real Synapse homeserver on loopback for the bridge's end-to-end tests and demo.
#
# Debian bookworm has no matrix-synapse package, so Synapse is installed from Debian sid into a
# debootstrap chroot kept in a cache directory and reused between runs. Synapse runs as root inside
# the chroot, in a private mount namespace (unshare) where the run directory is bind-mounted at the
# same absolute path, so every path in the configuration is valid inside and outside the chroot and
# nothing stays mounted after Synapse exits.
#
# Usage:
#   synapse-env.sh install                   build (or check) the cached chroot
#   synapse-env.sh start [REGISTRATION...]   (re)start Synapse with these appservice registrations
#   synapse-env.sh stop                      stop Synapse
#   synapse-env.sh status                    exit 0 if Synapse answers
#   synapse-env.sh register USER PASS [admin] create a user with the shared-secret admin API
#   synapse-env.sh url | secret | server-name | rundir   print one fact of the running instance
#
# Environment (all optional):
#   MSNBRIDGE_E2E_CACHE    cache directory (default /var/cache/msnbridge-e2e); the chroot is CACHE/chroot
#   MSNBRIDGE_E2E_RUN_DIR  configuration, SQLite database, logs and pid file (default CACHE/run)
#   MSNBRIDGE_E2E_PORT     loopback port of the client listener (default 8008)
#   MSNBRIDGE_E2E_MIRROR   Debian mirror for the chroot (default: the host's apt mirror)
#   MSNBRIDGE_E2E_START_TIMEOUT  seconds to wait for /_matrix/client/versions (default 180)
set -euo pipefail

CACHE=${MSNBRIDGE_E2E_CACHE:-/var/cache/msnbridge-e2e}
CHROOT=$CACHE/chroot
BUILD=$CACHE/chroot.build
RUN_DIR=${MSNBRIDGE_E2E_RUN_DIR:-$CACHE/run}
PORT=${MSNBRIDGE_E2E_PORT:-8008}
SERVER_NAME=localhost
START_TIMEOUT=${MSNBRIDGE_E2E_START_TIMEOUT:-180}
READY_MARK=.msnbridge-e2e-ready
# Bump when the chroot recipe changes so cached chroots get rebuilt.
RECIPE=1

log() { printf '[synapse-env] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot and mount namespaces need it)"

mirror() {
	if [ -n "${MSNBRIDGE_E2E_MIRROR:-}" ]; then echo "$MSNBRIDGE_E2E_MIRROR"; return; fi
	local m
	m=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null |
		grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ') || true
	echo "${m:-http://deb.debian.org/debian}"
}

# chroot_healthy: the ready mark of the current recipe exists (it is written last, after Synapse
# imported), and the interpreter and the package are still there.
chroot_healthy() {
	[ -f "$CHROOT/$READY_MARK" ] && [ "$(head -n1 "$CHROOT/$READY_MARK")" = "recipe $RECIPE" ] &&
		[ -x "$CHROOT/usr/bin/python3" ] && [ -f "$CHROOT/usr/lib/python3/dist-packages/synapse/__init__.py" ]
}

# unmount_under DIR: lazily unmounts anything left mounted below DIR (a build killed half-way).
unmount_under() {
	local dir=$1 m
	awk -v d="$dir" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# with_progress WHAT LOG CMD...: runs CMD with its output in LOG and, every 15 s until it ends,
# says how long WHAT has taken and what LOG's last line says: the first run builds the chroot
# for minutes, and silence for that long looks like a hang.
with_progress() {
	local what=$1 logf=$2 t0=$SECONDS pid rc=0 last
	shift 2
	log "$what (a few minutes on the first run; follow it with: tail -f $logf)"
	"$@" >"$logf" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		for _ in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		if kill -0 "$pid" 2>/dev/null; then
			last=$(tail -n 1 "$logf" 2>/dev/null | cut -c1-100)
			log "  ... $what: $((SECONDS - t0)) s${last:+: $last}"
		fi
	done
	wait "$pid" || rc=$?
	return "$rc"
}

in_chroot() { # in_chroot ROOT CMD...: runs CMD in ROOT with /proc mounted in a private namespace
	local root=$1; shift
	unshare --mount --propagation private -- /bin/sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$root" "$@"
}

cmd_install() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	flock 9
	if chroot_healthy && command -v curl >/dev/null 2>&1; then
		log "chroot ready: $CHROOT ($(sed -n 2p "$CHROOT/$READY_MARK"))"
		return 0
	fi
	local t0=$SECONDS
	local missing=()
	command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
	command -v curl >/dev/null 2>&1 || missing+=(curl)
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
	fi
	if chroot_healthy; then
		return 0
	fi
	for d in "$CHROOT" "$BUILD"; do
		if [ -e "$d" ]; then
			log "removing stale or half-built $d"
			unmount_under "$d"
			rm -rf --one-file-system "$d"
		fi
	done
	local m
	m=$(mirror)
	with_progress "debootstrap sid from $m into $BUILD" "$CACHE/debootstrap.log" \
		debootstrap --variant=minbase --include=ca-certificates sid "$BUILD" "$m" ||
		{ tail -n 30 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
	# sid's Release file may carry a Valid-Until earlier than this machine's clock.
	echo 'Acquire::Check-Valid-Until "false";' >"$BUILD/etc/apt/apt.conf.d/99msnbridge-no-valid-until"
	printf '#!/bin/sh\nexit 101\n' >"$BUILD/usr/sbin/policy-rc.d"
	chmod 755 "$BUILD/usr/sbin/policy-rc.d"
	cp /etc/resolv.conf "$BUILD/etc/resolv.conf" 2>/dev/null || true
	printf '%s\n' \
		"matrix-synapse matrix-synapse/server-name string $SERVER_NAME" \
		"matrix-synapse matrix-synapse/report-stats boolean false" >"$BUILD/tmp/preseed"
	with_progress "installing matrix-synapse in the chroot" "$CACHE/apt.log" in_chroot "$BUILD" /bin/sh -ec '
		export DEBIAN_FRONTEND=noninteractive
		debconf-set-selections /tmp/preseed
		apt-get update -q
		apt-get install -y -q --no-install-recommends matrix-synapse
		apt-get clean
		rm -f /tmp/preseed
	' || { tail -n 30 "$CACHE/apt.log" >&2; die "installing matrix-synapse failed (log: $CACHE/apt.log)"; }
	local v
	v=$(chroot "$BUILD" /usr/bin/python3 -c 'import synapse; print(synapse.__version__)') || die "synapse does not import in the chroot"
	printf 'recipe %s\nsynapse %s\n' "$RECIPE" "$v" >"$BUILD/$READY_MARK"
	mv "$BUILD" "$CHROOT"
	log "chroot ready: $CHROOT (synapse $v) in $((SECONDS - t0)) s"
}

pid_alive() {
	[ -f "$RUN_DIR/synapse.pid" ] && kill -0 "$(cat "$RUN_DIR/synapse.pid")" 2>/dev/null
}

versions_ok() {
	curl -fsS --max-time 2 "http://127.0.0.1:$PORT/_matrix/client/versions" >/dev/null 2>&1
}

write_config() {
	local regs=() f
	for f in "$RUN_DIR"/appservices/*.yaml; do [ -f "$f" ] && regs+=("$f"); done
	{
		cat <<EOF
# Generated by scripts/synapse-env.sh: loopback-only Synapse for end-to-end tests.
server_name: "$SERVER_NAME"
public_baseurl: "http://127.0.0.1:$PORT/"
pid_file: "$RUN_DIR/homeserver.pid"
signing_key_path: "$RUN_DIR/signing.key"
media_store_path: "$RUN_DIR/media"
log_config: "$RUN_DIR/log.yaml"
report_stats: false
listeners:
  - port: $PORT
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "$RUN_DIR/homeserver.db"
enable_registration: false
registration_shared_secret: "$(cat "$RUN_DIR/shared_secret")"
macaroon_secret_key: "$(cat "$RUN_DIR/macaroon_secret")"
form_secret: "$(cat "$RUN_DIR/macaroon_secret")-form"
federation_domain_whitelist: []
trusted_key_servers: []
suppress_key_server_warning: true
url_preview_enabled: false
enable_metrics: false
presence:
  enabled: true
rc_message: {per_second: 10000, burst_count: 100000}
rc_registration: {per_second: 10000, burst_count: 100000}
rc_registration_token_validity: {per_second: 10000, burst_count: 100000}
rc_login:
  address: {per_second: 10000, burst_count: 100000}
  account: {per_second: 10000, burst_count: 100000}
  failed_attempts: {per_second: 10000, burst_count: 100000}
rc_joins:
  local: {per_second: 10000, burst_count: 100000}
  remote: {per_second: 10000, burst_count: 100000}
rc_joins_per_room: {per_second: 10000, burst_count: 100000}
rc_invites:
  per_room: {per_second: 10000, burst_count: 100000}
  per_user: {per_second: 10000, burst_count: 100000}
  per_issuer: {per_second: 10000, burst_count: 100000}
rc_room_creation: {per_second: 10000, burst_count: 100000}
rc_presence:
  per_user: {per_second: 10000, burst_count: 100000}
rc_delayed_event_mgmt: {per_second: 10000, burst_count: 100000}
rc_3pid_validation: {per_second: 10000, burst_count: 100000}
rc_admin_redaction: {per_second: 10000, burst_count: 100000}
experimental_features:
  msc2409_to_device_messages_enabled: true
  msc3202_transaction_extensions: true
  msc3983_appservice_otk_claims: true
  msc3984_appservice_key_query: true
EOF
		if [ ${#regs[@]} -gt 0 ]; then
			echo "app_service_config_files:"
			for f in "${regs[@]}"; do echo "  - \"$f\""; done
		fi
	} >"$RUN_DIR/homeserver.yaml"
	cat >"$RUN_DIR/log.yaml" <<EOF
version: 1
formatters:
  precise:
    format: '%(asctime)s %(name)s %(lineno)d %(levelname)s %(request)s %(message)s'
filters:
  context:
    (): synapse.logging.context.LoggingContextFilter
    request: ""
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: "$RUN_DIR/homeserver.log"
    filters: [context]
root:
  level: INFO
  handlers: [file]
disable_existing_loggers: false
EOF
}

cmd_start() {
	chroot_healthy || die "chroot missing or broken: run '$0 install' first"
	cmd_stop_quiet
	mkdir -p "$RUN_DIR/appservices" "$RUN_DIR/media"
	chmod 700 "$RUN_DIR"
	rm -f "$RUN_DIR"/appservices/*.yaml
	local i=0 f
	for f in "$@"; do
		[ -f "$f" ] || die "registration file not found: $f"
		i=$((i + 1))
		install -m 600 "$f" "$RUN_DIR/appservices/$i-$(basename "$f")"
	done
	[ -s "$RUN_DIR/shared_secret" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$RUN_DIR/shared_secret"
	[ -s "$RUN_DIR/macaroon_secret" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$RUN_DIR/macaroon_secret"
	chmod 600 "$RUN_DIR/shared_secret" "$RUN_DIR/macaroon_secret"
	write_config
	if versions_ok; then die "port $PORT already answers: another homeserver is running there"; fi
	# Remember the first directory the bind mount's mount point creates in the chroot, so that
	# stop removes the whole empty path again rather than leaving one per run directory.
	local top=$RUN_DIR
	while [ "$(dirname "$top")" != / ] && [ ! -e "$CHROOT$(dirname "$top")" ]; do top=$(dirname "$top"); done
	[ -e "$CHROOT$top" ] || echo "$top" >"$RUN_DIR/chroot-mountpoint"
	local launch='mkdir -p "$0$1" && mount --bind "$1" "$0$1" && mount -t proc proc "$0/proc" && shift && exec chroot "$0" "$@"'
	if [ ! -s "$RUN_DIR/signing.key" ]; then
		unshare --mount --propagation private -- /bin/sh -c "$launch" "$CHROOT" "$RUN_DIR" \
			/usr/bin/python3 -m synapse.app.homeserver -c "$RUN_DIR/homeserver.yaml" --generate-keys >"$RUN_DIR/generate-keys.log" 2>&1 ||
			{ cat "$RUN_DIR/generate-keys.log" >&2; die "generating the signing key failed"; }
	fi
	local t0=$SECONDS
	# The pid of unshare is the pid of Synapse: unshare, sh and chroot all exec.
	setsid unshare --mount --propagation private -- /bin/sh -c "$launch" "$CHROOT" "$RUN_DIR" \
		/usr/bin/python3 -m synapse.app.homeserver -c "$RUN_DIR/homeserver.yaml" \
		</dev/null >"$RUN_DIR/stdout.log" 2>&1 &
	echo $! >"$RUN_DIR/synapse.pid"
	until versions_ok; do
		if ! pid_alive; then
			tail -n 40 "$RUN_DIR/stdout.log" "$RUN_DIR/homeserver.log" >&2 2>/dev/null || true
			die "synapse exited during startup"
		fi
		if [ $((SECONDS - t0)) -ge "$START_TIMEOUT" ]; then
			tail -n 40 "$RUN_DIR/homeserver.log" >&2 2>/dev/null || true
			cmd_stop_quiet
			die "synapse did not answer within $START_TIMEOUT s"
		fi
		sleep 0.2
	done
	log "synapse up at http://127.0.0.1:$PORT in $((SECONDS - t0)) s (pid $(cat "$RUN_DIR/synapse.pid"), run dir $RUN_DIR)"
}

cmd_stop_quiet() {
	pid_alive || { rm -f "$RUN_DIR/synapse.pid"; return 0; }
	local pid i
	pid=$(cat "$RUN_DIR/synapse.pid")
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	rm -f "$RUN_DIR/synapse.pid"
	remove_mountpoint
}

# remove_mountpoint: the bind mount vanished with Synapse's mount namespace; remove its empty
# mount point in the chroot and the empty directories start created above it (never a
# directory the chroot had before: RUN_DIR/chroot-mountpoint names the topmost one created).
remove_mountpoint() {
	local d=$RUN_DIR top
	top=$(cat "$RUN_DIR/chroot-mountpoint" 2>/dev/null) || top=$RUN_DIR
	case $RUN_DIR/ in "$top"/*) ;; *) top=$RUN_DIR ;; esac
	while rmdir "$CHROOT$d" 2>/dev/null && [ "$d" != "$top" ]; do d=$(dirname "$d"); done
	rm -f "$RUN_DIR/chroot-mountpoint"
}

cmd_register() {
	[ $# -ge 2 ] || die "usage: register USER PASS [admin]"
	local admin=--no-admin
	[ "${3:-}" = admin ] && admin=--admin
	versions_ok || die "synapse is not running on port $PORT"
	local bin=register_new_matrix_user
	[ -x "$CHROOT/usr/bin/$bin" ] || bin=synapse_register_new_matrix_user
	chroot "$CHROOT" "$bin" -u "$1" -p "$2" "$admin" -k "$(cat "$RUN_DIR/shared_secret")" "http://127.0.0.1:$PORT" >&2
}

case "${1:-}" in
install) cmd_install ;;
start) shift; cmd_start "$@" ;;
stop) cmd_stop_quiet; log "stopped" ;;
status) versions_ok ;;
register) shift; cmd_register "$@" ;;
url) echo "http://127.0.0.1:$PORT" ;;
secret) cat "$RUN_DIR/shared_secret" ;;
server-name) echo "$SERVER_NAME" ;;
rundir) echo "$RUN_DIR" ;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
