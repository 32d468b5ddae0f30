package sb

import (
	"sync"
	"time"

	"github.com/msnbridge/msnbridge/msn/message"
)

// newReassembler joins the conversation's chunked messages. A message given up incomplete (its
// other chunks did not come within Config.ChunkTimeout, or too many were pending) is not lost:
// what arrived becomes a MessageEvent with Incomplete set.
func (c *Conversation) newReassembler() *message.Reassembler {
	return message.NewReassembler(message.ReassemblerConfig{Expiry: c.m.cfg.ChunkTimeout, OnIncomplete: c.incompleteMessage})
}

// incompleteMessage reports what arrived of a chunked message that will never be complete.
func (c *Conversation) incompleteMessage(sender string, m *message.Message) {
	if m.Kind != message.KindText || m.Text == nil {
		c.log.Debug().Str("from", sender).Str("type", m.ContentType).Int("missing", m.Missing).Msg("dropping incomplete chunked message")
		return
	}
	c.log.Debug().Str("from", sender).Int("missing", m.Missing).Msg("chunked message incomplete; delivering what arrived")
	from := Participant{Passport: sender}
	for _, p := range c.Participants() {
		if p.Passport == sender {
			from = p
			break
		}
	}
	c.m.emit(&MessageEvent{Conv: c, Sender: from, Text: m.Text.Body, Format: m.Text.Format,
		FromSelf: sender == c.m.self(), Incomplete: true, Missing: m.Missing})
}

// chunkTimer expires a conversation's incomplete chunked messages even when nothing else
// arrives on it.
type chunkTimer struct {
	mu sync.Mutex
	t  *time.Timer
}

// arm schedules the next expiry check of c's reassembler (none when nothing is pending).
func (ct *chunkTimer) arm(c *Conversation) {
	at, ok := c.reasm.NextExpiry()
	if !ok {
		return
	}
	d := time.Until(at)
	if d < 0 {
		d = 0
	}
	ct.mu.Lock()
	defer ct.mu.Unlock()
	if ct.t == nil {
		ct.t = time.AfterFunc(d, func() {
			c.reasm.Expire()
			ct.arm(c)
		})
		return
	}
	ct.t.Reset(d)
}
