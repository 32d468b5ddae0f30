package p2p

import (
	"fmt"
	"sync"
	"time"
)

// Defaults of AssemblerConfig.
const (
	DefaultMaxPending = 8
	DefaultExpiry     = 2 * time.Minute
)

// AssemblerConfig bounds an Assembler. Zero fields take the defaults.
type AssemblerConfig struct {
	MaxSize    int              // TotalSize of one message [MaxSLPSize]
	MaxPending int              // messages being assembled at once; the oldest is dropped [8]
	Expiry     time.Duration    // a message not complete after this is dropped [2 min]
	Now        func() time.Time // clock [time.Now]
}

// Assembler joins the chunks of P2P messages (SLP messages split over several switchboard
// MSGs, FACTS §9.4) per sender and Identifier. Chunks must come in order, as the switchboard
// delivers them. Safe for concurrent use.
type Assembler struct {
	cfg     AssemblerConfig
	mu      sync.Mutex
	pending map[asmKey]*asmBuf
}

type asmKey struct {
	from    string
	session uint32
	id      uint32
}

type asmBuf struct {
	created time.Time
	total   uint64
	data    []byte
}

// NewAssembler returns an Assembler bounded by cfg.
func NewAssembler(cfg AssemblerConfig) *Assembler {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = MaxSLPSize
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.Expiry <= 0 {
		cfg.Expiry = DefaultExpiry
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Assembler{cfg: cfg, pending: make(map[asmKey]*asmBuf)}
}

// Add feeds one chunk from sender. It returns the whole message when p completes it, nil while
// more is to come. A chunk over the size bound, out of order or contradicting the earlier ones
// drops its message and is an error.
func (a *Assembler) Add(from string, p *Packet) ([]byte, error) {
	h := p.Header
	if h.TotalSize > uint64(a.cfg.MaxSize) {
		return nil, fmt.Errorf("%w: message of %d bytes (max %d)", ErrTooLarge, h.TotalSize, a.cfg.MaxSize)
	}
	if h.Offset == 0 && h.IsLastChunk() {
		return append([]byte(nil), p.Data...), nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.cfg.Now()
	for k, b := range a.pending {
		if now.Sub(b.created) >= a.cfg.Expiry {
			delete(a.pending, k)
		}
	}
	key := asmKey{from, h.SessionID, h.Identifier}
	b := a.pending[key]
	if h.Offset == 0 {
		if b == nil && len(a.pending) >= a.cfg.MaxPending {
			a.evictOldestLocked()
		}
		// The declared total is the peer's word: grow with what arrives instead of reserving it.
		b = &asmBuf{created: now, total: h.TotalSize, data: make([]byte, 0, min(h.TotalSize, uint64(len(p.Data))))}
		a.pending[key] = b
	}
	switch {
	case b == nil:
		return nil, fmt.Errorf("%w: chunk at offset %d of a message whose start never came", ErrMalformed, h.Offset)
	case b.total != h.TotalSize || uint64(len(b.data)) != h.Offset:
		delete(a.pending, key)
		return nil, fmt.Errorf("%w: chunk %d+%d of %d does not follow %d of %d bytes", ErrMalformed, h.Offset, h.MessageSize, h.TotalSize, len(b.data), b.total)
	}
	b.data = append(b.data, p.Data...)
	if uint64(len(b.data)) < b.total {
		return nil, nil
	}
	delete(a.pending, key)
	return b.data, nil
}

// Pending returns how many messages are being assembled.
func (a *Assembler) Pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending)
}

func (a *Assembler) evictOldestLocked() {
	var oldest asmKey
	var t time.Time
	found := false
	for k, b := range a.pending {
		if !found || b.created.Before(t) {
			oldest, t, found = k, b.created, true
		}
	}
	delete(a.pending, oldest)
}
