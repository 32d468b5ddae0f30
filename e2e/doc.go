//go:build e2e

// Package e2e holds the bridge's end-to-end tests: a real Synapse homeserver on loopback (started
// by scripts/synapse-env.sh from a cached Debian sid chroot, or an existing homeserver named by
// MSNBRIDGE_E2E_HOMESERVER), the fake MSN server (cmd/msn-fakeserver) and the bridge binary run
// as separate processes, and a real Matrix client (mautrix) driving the journey of a user.
//
// Run with `make e2e`, or `go test -tags 'goolm e2e' -count=1 ./e2e/...` after
// `scripts/synapse-env.sh install`. See README.md in this directory for the environment
// variables.
package e2e
