// Package transcript parses the MSNP wire transcripts under shared/msnp/transcripts so that tests
// can replay the server side of a session to a client and compare the client's commands.
package transcript
