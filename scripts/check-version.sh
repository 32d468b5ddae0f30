#!/usr/bin/env bash
# check-version.sh BINARY COMMIT: checks that BINARY (a `make build` binary) says it was built
# from COMMIT, in `version` and in `--version`, and that it knows its build time. `make test`
# runs it so that a build whose version stamping broke fails CI instead of shipping as "unknown".
set -euo pipefail
bin=$1 commit=${2:-}
if [ -z "$commit" ]; then
	echo "check-version: not a git checkout, nothing to compare against; skipped"
	exit 0
fi
out=$("$bin" version)
grep -qx "commit: $commit" <<<"$out" || { printf 'check-version: %s version does not name commit %s:\n%s\n' "$bin" "$commit" "$out" >&2; exit 1; }
grep -q "^build time: [0-9]" <<<"$out" || { printf 'check-version: no build time in:\n%s\n' "$out" >&2; exit 1; }
short=$("$bin" --version)
grep -q "\.${commit:0:8} (built at " <<<"$short" || { printf 'check-version: --version lacks the commit or build time: %s\n' "$short" >&2; exit 1; }
echo "check-version: $bin is commit $commit"
