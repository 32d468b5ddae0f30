package message

import (
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
