package message

import (
	"fmt"
	"strings"
)

const mimeVersion = "MIME-Version: 1.0\r\n"

// textHeader returns the header block (blank line included) of a text payload.
func textHeader(f Format) string {
	if f == (Format{}) {
		f = DefaultFormat
	}
	return mimeVersion + "Content-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: " + f.String() + "\r\n\r\n"
}

// TextPayload builds a text/plain message. Line breaks in text become CRLF; a zero Format is
// replaced by [DefaultFormat].
func TextPayload(text string, f Format) []byte {
	return []byte(textHeader(f) + crlf(text))
}

// TypingPayload builds the typing notification ("TypingUser: passport", body CRLF). Send it
// with ack type U.
func TypingPayload(passport string) []byte {
	return []byte(mimeVersion + "Content-Type: text/x-msmsgscontrol\r\nTypingUser: " + headerSafe(passport) + "\r\n\r\n\r\n")
}

// NudgePayload builds a nudge (datacast ID 1).
func NudgePayload() []byte {
	return []byte(mimeVersion + "Content-Type: text/x-msnmsgr-datacast\r\n\r\nID: 1\r\n\r\n")
}

// ClientCapsPayload builds a text/x-clientcaps announcement as third-party clients send it
// (ack U): "Client-Name: <name>" and "Chat-Logging: Y|N".
func ClientCapsPayload(clientName string, chatLogging bool) []byte {
	logging := "N"
	if chatLogging {
		logging = "Y"
	}
	return []byte(mimeVersion + "Content-Type: text/x-clientcaps\r\n\r\nClient-Name: " + headerSafe(clientName) + "\r\nChat-Logging: " + logging + "\r\n")
}

// KeepAlivePayload builds a text/x-keepalive message (body CRLF) that keeps a switchboard from
// idling out; receivers display nothing.
func KeepAlivePayload() []byte {
	return []byte(mimeVersion + "Content-Type: text/x-keepalive\r\n\r\n\r\n")
}

// headerSafe removes CR and LF so a value cannot inject header lines.
func headerSafe(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", "", "\n", "").Replace(s)
}

// offlineTextHeader heads the text of an MSNP18 offline message (UUM; FACTS §8.3,
// SERVER-NOTES item 15: Content-Type text/plain and Dest-Agent client).
const offlineTextHeader = mimeVersion + "Content-Type: text/plain; charset=UTF-8\r\nDest-Agent: client\r\n\r\n"

// MaxOfflineTextParts bounds how many UUM payloads one text may need (a 16 KiB Matrix message
// needs about a dozen).
const MaxOfflineTextParts = 64

// OfflineTextPayloads builds the UUM payloads (MSNP18 offline message) that carry text in
// order, each at most maxPayload bytes: the text is cut on character boundaries
// ([SplitText]) and its line breaks become CRLF. Their bodies joined give text back (with
// CRLF line breaks). An empty text gives none; more than [MaxOfflineTextParts] pieces, or a
// limit that leaves no room for text, is [ErrTooLarge].
func OfflineTextPayloads(text string, maxPayload int) ([][]byte, error) {
	limit := maxPayload - len(offlineTextHeader)
	if limit < 4 { // room for any one character
		return nil, fmt.Errorf("%w: payload limit %d leaves no room for text", ErrTooLarge, maxPayload)
	}
	pieces := SplitText(text, limit)
	if len(pieces) > MaxOfflineTextParts {
		return nil, fmt.Errorf("%w: offline text needs %d messages (max %d)", ErrTooLarge, len(pieces), MaxOfflineTextParts)
	}
	out := make([][]byte, len(pieces))
	for i, p := range pieces {
		out[i] = []byte(offlineTextHeader + crlf(p))
	}
	return out, nil
}
