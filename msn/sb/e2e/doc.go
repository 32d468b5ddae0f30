// Package e2e holds end-to-end tests of msn/sb: real NS sessions (msn/ns) and switchboard
// managers chatting through the fake server (msn/msntest) on 127.0.0.1. It has no non-test
// code; it is a separate package so that msn/sb's own tests do not depend on the NS session
// or the fake server.
package e2e
