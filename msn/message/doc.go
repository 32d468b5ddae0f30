// Package message parses and builds the MIME payloads carried by MSNP MSG commands: text with
// its X-MMS-IM-Format, typing notifications, datacasts (nudges, winks, voice clips), custom
// emoticon announcements, client capabilities, keep-alives, legacy invitations, P2P frames and
// the notification-server messages (profile, mail data, OIM notifications, system messages).
//
// The package is pure: it does no I/O. [Parse] classifies a payload by [Kind]; anything it does
// not know is returned as [KindUnknown] with its content type, never dropped. The builders
// ([TextPayload], [TypingPayload], [NudgePayload], …) produce payloads with the header order the
// official client uses. [SplitText] cuts long text into pieces that fit one switchboard MSG,
// and [Reassembler] joins chunked (Message-ID/Chunks/Chunk) messages.
package message
