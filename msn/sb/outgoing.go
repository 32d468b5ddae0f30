package sb

import (
	"errors"
	"fmt"
	"time"

	"github.com/msnbridge/msnbridge/msn/message"
)

// MaxPayload is the largest MSG payload a switchboard accepts; servers drop the connection
// above it (FACTS §1.3).
const MaxPayload = 1664

// Ack is the acknowledgement type of an outgoing MSG.
type Ack byte

// Acknowledgement types (FACTS §6.4).
const (
	AckAlways   Ack = 'A' // ACK on success, NAK on failure
	AckNone     Ack = 'U' // no answer (typing, client caps)
	AckNegative Ack = 'N' // NAK only on failure
	AckData     Ack = 'D' // like A; mandatory for P2P
)

// OutgoingKind says what an Outgoing message is.
type OutgoingKind int

// Outgoing kinds. The zero value is text.
const (
	OutText   OutgoingKind = iota // Text with Format, split into several MSGs when long
	OutTyping                     // typing notification (ack U)
	OutNudge                      // nudge (datacast ID 1)
	OutRaw                        // Payload as is, with Ack (default A; always D for P2P)
)

// Outgoing is a message to send in a conversation.
type Outgoing struct {
	Kind    OutgoingKind
	Text    string
	Format  message.Format // zero: message.DefaultFormat
	Payload []byte         // OutRaw: the complete MIME payload
	Ack     Ack            // OutRaw only
}

// encode turns the message into MSG payloads (in sending order) and their ack type.
func (o Outgoing) encode(self string) ([][]byte, Ack, error) {
	switch o.Kind {
	case OutText:
		// Encoded when it goes out (textParts): how depends on who is on the switchboard.
		if o.Text == "" {
			return nil, 0, errors.New("sb: empty text message")
		}
		return nil, AckAlways, nil
	case OutTyping:
		return [][]byte{message.TypingPayload(self)}, AckNone, nil
	case OutNudge:
		return [][]byte{message.NudgePayload()}, AckAlways, nil
	case OutRaw:
		if len(o.Payload) == 0 {
			return nil, 0, errors.New("sb: empty raw payload")
		}
		if len(o.Payload) > MaxPayload {
			return nil, 0, fmt.Errorf("%w: %d bytes", ErrMessageTooLarge, len(o.Payload))
		}
		ack := o.Ack
		switch ack {
		case 0:
			ack = AckAlways
		case AckAlways, AckNone, AckNegative, AckData:
		default:
			return nil, 0, fmt.Errorf("sb: invalid ack type %q", byte(ack))
		}
		if m, err := message.Parse(o.Payload); err == nil && m.Kind == message.KindP2P {
			ack = AckData // servers close the switchboard on P2P without D
		}
		return [][]byte{o.Payload}, ack, nil
	}
	return nil, 0, fmt.Errorf("sb: unknown outgoing kind %d", o.Kind)
}

// part is one MSG of an outgoing message. A text message waits in the queue as one part
// with text set and no payload, and becomes its MSGs when it reaches a switchboard.
type part struct {
	res      *Result
	conv     *Conversation
	ack      Ack
	payload  []byte
	text     string         // a text message not encoded yet
	format   message.Format // of text
	index    int            // position among the message's parts
	attempts int            // times written to a switchboard
	trid     uint32         // of the last write
	// bound is set for a frame that belongs to that switchboard only (a P2P ACK): it is
	// dropped, never re-sent on another switchboard nor one opened for it, once bound is not
	// the live one.
	bound *switchboard
	// ackTimer fails the part when its ACK does not come (guarded by the mu of the
	// switchboard it is in flight on).
	ackTimer *time.Timer
}

func (p *part) delivered() { p.res.partDelivered(p.index) }

func (p *part) failed(_ *switchboard, err error) { p.res.resolve(Failed, err) }

// naked handles a NAK: with a single other participant it means they are offline.
func (p *part) naked(s *switchboard) {
	s.mu.Lock()
	n := s.roster.len()
	s.mu.Unlock()
	if n <= 1 {
		p.res.resolve(Offline, fmt.Errorf("%w: %w", ErrNotDelivered, ErrOffline))
		return
	}
	p.res.resolve(Failed, ErrNotDelivered)
}
