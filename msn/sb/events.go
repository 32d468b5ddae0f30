package sb

import "github.com/msnbridge/msnbridge/msn/message"

// Event is something that happened in a conversation. Config.OnEvent receives those of one
// conversation one at a time, in the order they happened (see Config.OnEvent).
type Event interface {
	// Conversation is the conversation the event belongs to.
	Conversation() *Conversation
}

// MessageEvent is an incoming text message.
type MessageEvent struct {
	Conv   *Conversation
	Sender Participant
	Text   string         // line breaks normalised to "\n"
	Format message.Format // the X-MMS-IM-Format of the message
	// FromSelf is set when the sender is this account (another endpoint of ours, MSNP16+).
	FromSelf bool
	// Incomplete: Text is what arrived of a chunked message whose other Missing chunks never
	// came (within Config.ChunkTimeout).
	Incomplete bool
	Missing    int
}

// TypingEvent: Sender is typing (or recording a voice clip, when Recording).
type TypingEvent struct {
	Conv      *Conversation
	Sender    Participant
	Recording bool
}

// NudgeEvent: Sender nudged us.
type NudgeEvent struct {
	Conv   *Conversation
	Sender Participant
}

// ContentEvent is any other payload: winks, voice clips, action messages, custom emoticons,
// ink (KindInk with Message.Ink once all its chunks arrived, or KindInkISF), legacy invitations, P2P frames addressed to us, and unknown content types. Kind says which;
// Message holds the parsed payload (nil when it could not be parsed, then ParseErr says why).
type ContentEvent struct {
	Conv     *Conversation
	Sender   Participant
	Kind     message.Kind
	Message  *message.Message
	Payload  []byte
	ParseErr error
}

// JoinedEvent: a participant joined the conversation's switchboard. It is also reported for
// the participants already there when a switchboard is opened or an invitation accepted.
type JoinedEvent struct {
	Conv        *Conversation
	Participant Participant
}

// LeftEvent: a participant left the switchboard; Idle when the server dropped them for
// inactivity ("BYE email 1").
type LeftEvent struct {
	Conv     *Conversation
	Passport string
	Idle     bool
}

// BecameGroupEvent: a third participant joined a one-to-one switchboard. The switchboard now
// carries the new multi-party conversation Conv; From, the one-to-one conversation, stays as
// it was and opens a new switchboard for its next message.
type BecameGroupEvent struct {
	Conv         *Conversation
	From         *Conversation
	Participants []Participant
}

// ClosedEvent: the conversation's switchboard closed. Err is nil when this client closed it
// (idle, Leave, nobody left) and the cause otherwise. The conversation stays usable: the next
// Send opens a new switchboard.
type ClosedEvent struct {
	Conv *Conversation
	Err  error
	Idle bool
}

// Conversation implements Event.
func (e *MessageEvent) Conversation() *Conversation { return e.Conv }

// Conversation implements Event.
func (e *TypingEvent) Conversation() *Conversation { return e.Conv }

// Conversation implements Event.
func (e *NudgeEvent) Conversation() *Conversation { return e.Conv }

// Conversation implements Event.
func (e *ContentEvent) Conversation() *Conversation { return e.Conv }

// Conversation implements Event.
func (e *JoinedEvent) Conversation() *Conversation { return e.Conv }

// Conversation implements Event.
func (e *LeftEvent) Conversation() *Conversation { return e.Conv }

// Conversation implements Event.
func (e *BecameGroupEvent) Conversation() *Conversation { return e.Conv }

// Conversation implements Event.
func (e *ClosedEvent) Conversation() *Conversation { return e.Conv }
