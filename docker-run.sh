#!/bin/bash
# Container entrypoint, in the style of the other mautrix bridges:
#  1. no /data/config.yaml yet → write the example config and stop, so the deployer edits it;
#  2. no /data/registration.yaml yet → generate it from the config and stop, so the deployer
#     can add it to the homeserver;
#  3. otherwise run the bridge as $UID:$GID.
set -euo pipefail
cd /data

fix_perms() {
	chown -R "$UID:$GID" /data
}

if [ ! -f /data/config.yaml ]; then
	/usr/bin/msnbridge -c /data/config.yaml -e
	fix_perms
	echo "Wrote an example config to /data/config.yaml."
	echo "Edit it (homeserver address and domain, database, msn server), then start the container again."
	exit 0
fi

if [ ! -f /data/registration.yaml ]; then
	/usr/bin/msnbridge -c /data/config.yaml -r /data/registration.yaml -g
	fix_perms
	echo "Wrote /data/registration.yaml. Add it to your homeserver's app_service_config_files,"
	echo "restart the homeserver, then start this container again."
	exit 0
fi

fix_perms
exec gosu "$UID:$GID" /usr/bin/msnbridge -c /data/config.yaml -r /data/registration.yaml "$@"
