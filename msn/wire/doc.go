// Package wire is the MSNP line codec: it reads and writes MSN Messenger protocol commands
// (MSNP2 … MSNP18) on a notification-server or switchboard connection.
//
// A command is a three-character code, an optional transaction id (TrID), parameters and, for
// payload commands, a byte count followed by exactly that many bytes. Whether a command carries
// a TrID or a payload depends on the command and on who sent it, so a [Reader] is told which
// side it reads ([FromServer] or [FromClient]).
//
// Every read is bounded: a line longer than [Limits.MaxLine] or a payload longer than
// [Limits.MaxPayload] is a [*ProtocolError] and the connection must be closed; the reader never
// allocates more than those bounds.
package wire
