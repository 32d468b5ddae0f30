// Package msntest is an in-process fake MSN server for tests: a notification server (NS), a
// switchboard (SB), an optional dispatch server and one HTTP server with the Passport nexus,
// Tweener /login, SSO RST.srf, ABCH (SharingService, abservice), OIM (rsi, oim.asmx) services.
//
// It imitates the Escargot revival server as captured in the shared wire transcripts for
// MSNP2 … MSNP18, including its quirks (CVR with too few arguments gets no reply, SYN on MSNP13+
// gets 502, MSNP18 initial presence as NLN, MSNP16+ duplicate JOI/IRO entries …). It is an
// independent implementation that only shares the wire codec with the client packages, so that
// it catches client bugs instead of mirroring them.
//
// Tests drive it with Go knobs: accounts and contact lists, presence pushes, kicks, dropped
// connections, challenges, scripted contacts that chat with a real client ([Contact]), offline
// messages, and a hook that observes every command received.
package msntest
