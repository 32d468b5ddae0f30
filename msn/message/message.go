package message

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind says what a payload is.
type Kind int

// Payload kinds. Anything not recognised is KindUnknown; its ContentType says what it was.
const (
	KindUnknown    Kind = iota // not recognised; see Message.ContentType
	KindText                   // text/plain
	KindTyping                 // text/x-msmsgscontrol (TypingUser / RecordingUser)
	KindNudge                  // datacast ID 1
	KindWink                   // datacast ID 2
	KindVoiceClip              // datacast ID 3
	KindAction                 // datacast ID 4
	KindEmoticon               // text/x-mms-emoticon, text/x-mms-animemoticon
	KindClientCaps             // text/x-clientcaps
	KindKeepAlive              // text/x-keepalive
	KindInvite                 // text/x-msmsgsinvite (legacy MSNP2–8 invitations)
	KindP2P                    // application/x-msnmsgrp2p
	KindProfile                // text/x-msmsgsprofile (NS, after login)
	KindMailData               // text/x-msmsgsinitialmdatanotification, text/x-msmsgsoimnotification
	KindSystem                 // application/x-msmsgssystemmessage
	KindEmail                  // text/x-msmsgs*emailnotification (Hotmail inbox notifications)
	KindInk                    // image/gif: handwriting as a base64 GIF (Message.Ink)
	KindInkISF                 // application/x-ms-ink: handwriting in Ink Serialized Format (not decoded)
)

var kindNames = [...]string{
	KindUnknown: "unknown", KindText: "text", KindTyping: "typing", KindNudge: "nudge",
	KindWink: "wink", KindVoiceClip: "voice-clip", KindAction: "action", KindEmoticon: "emoticon",
	KindClientCaps: "clientcaps", KindKeepAlive: "keepalive", KindInvite: "invite", KindP2P: "p2p",
	KindProfile: "profile", KindMailData: "mail-data", KindSystem: "system", KindEmail: "email",
	KindInk: "ink", KindInkISF: "ink-isf",
}

// String returns a short lower-case name for logs.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Content types the package knows.
const (
	TypeText              = "text/plain"
	TypeControl           = "text/x-msmsgscontrol"
	TypeDatacast          = "text/x-msnmsgr-datacast"
	TypeEmoticon          = "text/x-mms-emoticon"
	TypeAnimEmoticon      = "text/x-mms-animemoticon"
	TypeClientCaps        = "text/x-clientcaps"
	TypeKeepAlive         = "text/x-keepalive"
	TypeInvite            = "text/x-msmsgsinvite"
	TypeP2P               = "application/x-msnmsgrp2p"
	TypeProfile           = "text/x-msmsgsprofile"
	TypeInitialMailData   = "text/x-msmsgsinitialmdatanotification"
	TypeOIMNotification   = "text/x-msmsgsoimnotification"
	TypeSystem            = "application/x-msmsgssystemmessage"
	TypeInitialEmail      = "text/x-msmsgsinitialemailnotification"
	TypeEmailNotification = "text/x-msmsgsemailnotification"
	TypeActiveMail        = "text/x-msmsgsactivemailnotification"
	TypeInkGIF            = "image/gif"
	TypeInkISF            = "application/x-ms-ink"
)

// Datacast IDs (FACTS §7.4).
const (
	DatacastNudge     = 1
	DatacastWink      = 2
	DatacastVoiceClip = 3
	DatacastAction    = 4
)

// MaxEmoticons bounds the shortcut/object pairs taken from one emoticon message.
const MaxEmoticons = 64

// Text is a plain-text instant message.
type Text struct {
	// Body is the message text with line breaks normalised to "\n".
	Body string
	// Format is the parsed X-MMS-IM-Format header (zero when absent).
	Format Format
}

// Datacast is a text/x-msnmsgr-datacast payload: nudge, wink, voice clip or action message.
type Datacast struct {
	ID   int
	Data string // the Data field (an MSNObject for winks and voice clips), "" when absent
}

// Emoticon is one custom emoticon announced before the text that uses it.
type Emoticon struct {
	Shortcut  string
	MSNObject string // the plain msnobj XML
}

// Invite holds the main fields of a legacy text/x-msmsgsinvite invitation.
type Invite struct {
	Command, Cookie, ApplicationName, ApplicationGUID, SessionID string
}

// P2P is an application/x-msnmsgrp2p frame, kept as raw bytes for the P2P layer.
type P2P struct {
	Dest, Src string // P2P-Dest / P2P-Src headers (P2Pv2: "email;{guid}")
	Data      []byte // binary header, body and footer
}

// MailData is the Mail-Data field of an initial mail-data or OIM notification.
type MailData struct {
	Data     string // the <MD>…</MD> XML, or "too-large"
	Initial  bool   // text/x-msmsgsinitialmdatanotification
	TooLarge bool   // "Mail-Data: too-large": call RSI GetMetadata
}

// System is an application/x-msmsgssystemmessage (Type 1 = maintenance shutdown in Arg minutes).
type System struct {
	Type, Arg string
}

// Message is a parsed MSG payload.
type Message struct {
	Headers Headers
	Body    []byte
	// ContentType is the lower-case media type without parameters, e.g. "text/plain".
	ContentType string
	// Params holds the Content-Type parameters with lower-case keys (e.g. "charset").
	Params map[string]string
	Kind   Kind

	// Incomplete is set on a chunked message the Reassembler gave up on (its OnIncomplete):
	// Body holds the chunks that arrived, and Missing (at least 1) counts those that never did.
	Incomplete bool
	Missing    int

	// Fields holds the header-style lines of bodies that have them (datacast, client caps,
	// invitations, mail data, system and e-mail notifications).
	Fields Headers

	Text       *Text      // KindText
	TypingUser string     // KindTyping: the passport typing (or recording)
	Recording  bool       // KindTyping: RecordingUser instead of TypingUser
	Datacast   *Datacast  // KindNudge, KindWink, KindVoiceClip, KindAction
	Emoticons  []Emoticon // KindEmoticon
	Animated   bool       // KindEmoticon: text/x-mms-animemoticon
	Invite     *Invite    // KindInvite
	P2P        *P2P       // KindP2P
	MailData   *MailData  // KindMailData
	System     *System    // KindSystem
	Ink        *Ink       // KindInk (nil for one chunk of a chunked message: see [Ink])
}

// Header returns the value of the payload header name (case-insensitive), or "".
func (m *Message) Header(name string) string { return m.Headers.Get(name) }

// Parse parses an MSG payload and classifies it. Unknown content types are not an error: they
// come back as KindUnknown. A payload whose header block is malformed or over the bounds is
// an error.
func Parse(payload []byte) (*Message, error) {
	hs, body, err := ParseHeaders(payload)
	if err != nil {
		return nil, fmt.Errorf("parse MSG payload: %w", err)
	}
	m := &Message{Headers: hs, Body: body}
	m.ContentType, m.Params = ParseContentType(hs.Get("Content-Type"))
	classify(m)
	return m, nil
}

func classify(m *Message) {
	switch m.ContentType {
	case TypeText:
		m.Kind = KindText
		m.Text = &Text{Body: normaliseNewlines(decodeText(m.Body, m.Params["charset"])), Format: ParseFormat(m.Headers.Get("X-MMS-IM-Format"))}
	case TypeControl:
		if u, ok := m.Headers.Lookup("TypingUser"); ok {
			m.Kind, m.TypingUser = KindTyping, u
		} else if u, ok := m.Headers.Lookup("RecordingUser"); ok {
			m.Kind, m.TypingUser, m.Recording = KindTyping, u, true
		}
	case TypeDatacast:
		if !m.parseFields() {
			return
		}
		id, err := strconv.Atoi(m.Fields.Get("ID"))
		if err != nil {
			return
		}
		switch id {
		case DatacastNudge:
			m.Kind = KindNudge
		case DatacastWink:
			m.Kind = KindWink
		case DatacastVoiceClip:
			m.Kind = KindVoiceClip
		case DatacastAction:
			m.Kind = KindAction
		default:
			return
		}
		m.Datacast = &Datacast{ID: id, Data: m.Fields.Get("Data")}
	case TypeEmoticon, TypeAnimEmoticon:
		m.Kind = KindEmoticon
		m.Animated = m.ContentType == TypeAnimEmoticon
		m.Emoticons = parseEmoticons(string(m.Body))
	case TypeClientCaps:
		m.Kind = KindClientCaps
		m.parseFields()
	case TypeKeepAlive:
		m.Kind = KindKeepAlive
	case TypeInvite:
		if m.parseFields() {
			m.Kind = KindInvite
			f := m.Fields
			m.Invite = &Invite{
				Command: f.Get("Invitation-Command"), Cookie: f.Get("Invitation-Cookie"),
				ApplicationName: f.Get("Application-Name"), ApplicationGUID: f.Get("Application-GUID"),
				SessionID: f.Get("Session-ID"),
			}
		}
	case TypeP2P:
		m.Kind = KindP2P
		m.P2P = &P2P{Dest: m.Headers.Get("P2P-Dest"), Src: m.Headers.Get("P2P-Src"), Data: m.Body}
	case TypeProfile:
		m.Kind = KindProfile
	case TypeInitialMailData, TypeOIMNotification:
		if !m.parseFields() {
			return
		}
		v, ok := m.Fields.Lookup("Mail-Data")
		if !ok {
			v, ok = m.Headers.Lookup("Mail-Data")
		}
		if !ok {
			return
		}
		m.Kind = KindMailData
		m.MailData = &MailData{Data: v, Initial: m.ContentType == TypeInitialMailData, TooLarge: strings.EqualFold(v, "too-large")}
	case TypeSystem:
		if !m.parseFields() {
			return
		}
		get := func(n string) string {
			if v, ok := m.Fields.Lookup(n); ok {
				return v
			}
			return m.Headers.Get(n)
		}
		m.Kind = KindSystem
		m.System = &System{Type: get("Type"), Arg: get("Arg1")}
	case TypeInitialEmail, TypeEmailNotification, TypeActiveMail:
		if m.parseFields() {
			m.Kind = KindEmail
		}
	case TypeInkGIF:
		m.Kind = KindInk
		if !m.isChunkPart() {
			m.Ink = decodeInk(m.Body)
		}
	case TypeInkISF:
		m.Kind = KindInkISF
	}
}

// parseFields parses the body as header-style lines into m.Fields; it reports false (and
// leaves the message KindUnknown) when the body is not in that form.
func (m *Message) parseFields() bool {
	body := m.Body
	// Bodies such as "ID: 1\r\n\r\n" end with a blank line; ParseHeaders stops there.
	fs, _, err := ParseHeaders(body)
	if err != nil {
		return false
	}
	m.Fields = fs
	return true
}

func parseEmoticons(body string) []Emoticon {
	body = strings.TrimRight(body, "\r\n\t\x00")
	var out []Emoticon
	for body != "" && len(out) < MaxEmoticons {
		sc, rest, ok := strings.Cut(body, "\t")
		if !ok {
			break
		}
		obj, rest2, _ := strings.Cut(rest, "\t")
		body = rest2
		sc = strings.TrimLeft(sc, "\r\n")
		if sc == "" || obj == "" {
			continue
		}
		out = append(out, Emoticon{Shortcut: sc, MSNObject: obj})
	}
	return out
}

// decodeText returns the body as UTF-8. Valid UTF-8 is taken as it is whatever the label says;
// otherwise a body without charset or with a non-UTF-8 one (the system code page of old
// clients) is read as Latin-1, and a body labelled UTF-8 gets U+FFFD for its bad bytes.
func decodeText(b []byte, charset string) string {
	if utf8.Valid(b) {
		return string(b)
	}
	if cs := strings.ToLower(charset); cs == "utf-8" || cs == "utf8" {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// normaliseNewlines turns CRLF and lone CR into "\n".
func normaliseNewlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// crlf turns every line break ("\r\n", "\n" or a lone "\r") into "\r\n", as the official client
// sends them.
func crlf(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r':
			b.WriteString("\r\n")
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
		case '\n':
			b.WriteString("\r\n")
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
