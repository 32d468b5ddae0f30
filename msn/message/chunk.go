package message

import (
	"crypto/rand"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Chunk header names (FACTS §7.2).
const (
	HeaderMessageID = "Message-ID"
	HeaderChunks    = "Chunks"
	HeaderChunk     = "Chunk"
)

// Defaults for [ReassemblerConfig].
const (
	DefaultMaxChunks  = 64
	DefaultMaxBytes   = 128 << 10
	DefaultMaxPending = 32
	DefaultExpiry     = 2 * time.Minute
)

// ReassemblerConfig bounds a [Reassembler]. Zero fields take the defaults.
type ReassemblerConfig struct {
	MaxChunks  int              // chunks per message
	MaxBytes   int              // total body bytes per message
	MaxPending int              // incomplete messages kept at once; the oldest is dropped
	Expiry     time.Duration    // an incomplete message older than this is dropped
	Now        func() time.Time // clock, time.Now by default (tests pass a fake)
	// OnIncomplete, when set, receives what arrived of each message given up incomplete
	// (expired, or evicted for MaxPending): the arrived chunks joined in order, with
	// Incomplete set and Missing counting the chunks that never came. It is called without
	// the Reassembler's lock held, from the goroutine that called Add or Expire, before Add
	// returns, so a message given up by Add is reported before the one Add returns.
	OnIncomplete func(sender string, m *Message)
}

// Reassembler joins chunked messages (Message-ID + Chunks/Chunk headers) per sender. It is
// safe for concurrent use.
type Reassembler struct {
	cfg  ReassemblerConfig
	mu   sync.Mutex
	sets map[string]*chunkSet
}

type chunkSet struct {
	sender  string
	created time.Time
	total   int      // 0 until the first chunk ("Chunks: n") arrived
	first   *Message // chunk 0, with "Chunks: n"
	heads   *Message // the earliest-indexed later chunk, for its headers when chunk 0 never comes
	headIdx int
	parts   map[int][]byte
	size    int
}

// NewReassembler returns a Reassembler bounded by cfg.
func NewReassembler(cfg ReassemblerConfig) *Reassembler {
	if cfg.MaxChunks <= 0 {
		cfg.MaxChunks = DefaultMaxChunks
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
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
	return &Reassembler{cfg: cfg, sets: make(map[string]*chunkSet)}
}

// Add feeds one parsed message from sender. A message that is not chunked comes back as is. A
// chunk of an incomplete message gives (nil, nil); the chunk that completes it gives the joined
// message, classified again from the first chunk's headers (chunk headers removed). A chunk
// that breaks the bounds or contradicts earlier chunks drops that message and is an error.
func (r *Reassembler) Add(sender string, m *Message) (*Message, error) {
	id := m.Headers.Get(HeaderMessageID)
	_, isFirst := m.Headers.Lookup(HeaderChunks)
	_, isLater := m.Headers.Lookup(HeaderChunk)
	if id == "" || (!isFirst && !isLater) {
		return m, nil
	}
	r.mu.Lock()
	var dropped []*chunkSet
	out, err := r.addLocked(sender, id, m, &dropped)
	r.mu.Unlock()
	r.report(dropped)
	return out, err
}

func (r *Reassembler) addLocked(sender, id string, m *Message, dropped *[]*chunkSet) (*Message, error) {
	chunksV, isFirst := m.Headers.Lookup(HeaderChunks)
	chunkV, _ := m.Headers.Lookup(HeaderChunk)
	now := r.cfg.Now()
	*dropped = r.expireLocked(now, *dropped)
	key := sender + "\x00" + id

	index := 0
	total := 0
	var err error
	if isFirst {
		total, err = strconv.Atoi(strings.TrimSpace(chunksV))
		if err != nil || total < 1 {
			delete(r.sets, key)
			return nil, fmt.Errorf("%w: bad Chunks header %q", ErrMalformed, truncate(chunksV, 20))
		}
		if total > r.cfg.MaxChunks {
			delete(r.sets, key)
			return nil, fmt.Errorf("%w: %d chunks (max %d)", ErrTooLarge, total, r.cfg.MaxChunks)
		}
	} else {
		index, err = strconv.Atoi(strings.TrimSpace(chunkV))
		if err != nil || index < 1 {
			delete(r.sets, key)
			return nil, fmt.Errorf("%w: bad Chunk header %q", ErrMalformed, truncate(chunkV, 20))
		}
		if index >= r.cfg.MaxChunks {
			delete(r.sets, key)
			return nil, fmt.Errorf("%w: chunk index %d (max %d)", ErrTooLarge, index, r.cfg.MaxChunks-1)
		}
	}
	if isFirst && total == 1 {
		delete(r.sets, key)
		return joined(m, [][]byte{m.Body}), nil
	}

	set := r.sets[key]
	if set == nil {
		if len(r.sets) >= r.cfg.MaxPending {
			*dropped = r.evictOldestLocked(*dropped)
		}
		set = &chunkSet{sender: sender, created: now, parts: make(map[int][]byte)}
		r.sets[key] = set
	}
	if isFirst {
		if set.total != 0 {
			delete(r.sets, key)
			return nil, fmt.Errorf("%w: message %s announced twice", ErrMalformed, truncate(id, 40))
		}
		set.total, set.first = total, m
		for i := range set.parts {
			if i >= total {
				delete(r.sets, key)
				return nil, fmt.Errorf("%w: chunk %d of a %d-chunk message", ErrMalformed, i, total)
			}
		}
	} else if set.total != 0 && index >= set.total {
		delete(r.sets, key)
		return nil, fmt.Errorf("%w: chunk %d of a %d-chunk message", ErrMalformed, index, set.total)
	}
	if _, dup := set.parts[index]; dup {
		delete(r.sets, key)
		return nil, fmt.Errorf("%w: duplicate chunk %d", ErrMalformed, index)
	}
	set.size += len(m.Body)
	if set.size > r.cfg.MaxBytes {
		delete(r.sets, key)
		return nil, fmt.Errorf("%w: chunked message over %d bytes", ErrTooLarge, r.cfg.MaxBytes)
	}
	set.parts[index] = append([]byte(nil), m.Body...)
	if !isFirst && (set.heads == nil || index < set.headIdx) {
		set.heads, set.headIdx = &Message{Headers: m.Headers}, index
	}
	if set.total == 0 || len(set.parts) < set.total {
		return nil, nil
	}
	delete(r.sets, key)
	bodies := make([][]byte, set.total)
	for i := range bodies {
		bodies[i] = set.parts[i]
	}
	return joined(set.first, bodies), nil
}

func joined(first *Message, bodies [][]byte) *Message {
	n := 0
	for _, b := range bodies {
		n += len(b)
	}
	body := make([]byte, 0, n)
	for _, b := range bodies {
		body = append(body, b...)
	}
	m := &Message{
		Headers: first.Headers.Without(HeaderMessageID, HeaderChunks, HeaderChunk),
		Body:    body,
	}
	m.ContentType, m.Params = ParseContentType(m.Headers.Get("Content-Type"))
	classify(m)
	return m
}

// Pending returns the number of incomplete messages held.
func (r *Reassembler) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sets)
}

// Expire drops incomplete messages older than the expiry, hands what arrived of each to
// OnIncomplete, and returns how many it dropped. Add also does this; call Expire (at
// NextExpiry) so that a quiet conversation gets its incomplete messages too.
func (r *Reassembler) Expire() int {
	r.mu.Lock()
	dropped := r.expireLocked(r.cfg.Now(), nil)
	r.mu.Unlock()
	r.report(dropped)
	return len(dropped)
}

// NextExpiry returns when the oldest incomplete message expires; ok is false when none is
// held.
func (r *Reassembler) NextExpiry() (at time.Time, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sets {
		if !ok || s.created.Before(at) {
			at, ok = s.created, true
		}
	}
	return at.Add(r.cfg.Expiry), ok
}

func (r *Reassembler) expireLocked(now time.Time, dropped []*chunkSet) []*chunkSet {
	for k, s := range r.sets {
		if now.Sub(s.created) >= r.cfg.Expiry {
			delete(r.sets, k)
			dropped = append(dropped, s)
		}
	}
	return dropped
}

func (r *Reassembler) evictOldestLocked(dropped []*chunkSet) []*chunkSet {
	var oldest string
	var t time.Time
	for k, s := range r.sets {
		if oldest == "" || s.created.Before(t) {
			oldest, t = k, s.created
		}
	}
	if s := r.sets[oldest]; s != nil {
		delete(r.sets, oldest)
		dropped = append(dropped, s)
	}
	return dropped
}

// report hands the sets given up to OnIncomplete, oldest first (mu not held).
func (r *Reassembler) report(dropped []*chunkSet) {
	if r.cfg.OnIncomplete == nil || len(dropped) == 0 {
		return
	}
	slices.SortStableFunc(dropped, func(a, b *chunkSet) int { return a.created.Compare(b.created) })
	for _, s := range dropped {
		if m := s.partial(); m != nil {
			r.cfg.OnIncomplete(s.sender, m)
		}
	}
}

// partial joins the chunks of an incomplete set in index order, with the headers of the first
// chunk (or, when that one never came, of the earliest that did: every chunk repeats them).
func (s *chunkSet) partial() *Message {
	if len(s.parts) == 0 {
		return nil
	}
	idx := make([]int, 0, len(s.parts))
	for i := range s.parts {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	bodies := make([][]byte, len(idx))
	for i, k := range idx {
		bodies[i] = s.parts[k]
	}
	head := s.first
	if head == nil {
		head = s.heads
	}
	if head == nil {
		return nil
	}
	m := joined(head, bodies)
	total := s.total
	if total == 0 {
		total = idx[len(idx)-1] + 1 // chunk 0 (with the count) never came
	}
	m.Incomplete, m.Missing = true, total-len(idx)
	if m.Missing < 1 {
		m.Missing = 1
	}
	return m
}

// NewMessageID returns a random "{GUID}" for the Message-ID header of chunked messages.
func NewMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("{%X-%X-%X-%X-%X}", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ChunkedTextPayloads builds the payloads of a chunked text message (peer capability 0x20): all
// share messageID ([NewMessageID] when empty), the first carries "Chunks: n", the others
// "Chunk: i" (1-based), and each repeats the MIME headers and fits maxPayload bytes. Text that
// fits one payload gives a single ordinary [TextPayload]. More than [DefaultMaxChunks] chunks
// is [ErrTooLarge].
func ChunkedTextPayloads(text string, f Format, messageID string, maxPayload int) ([][]byte, error) {
	if len(textHeader(f))+wireLen(text) <= maxPayload {
		return [][]byte{TextPayload(text, f)}, nil
	}
	if messageID == "" {
		messageID = NewMessageID()
	}
	messageID = headerSafe(messageID)
	base := textHeader(f)
	base = base[:len(base)-2] // without the blank line
	idLine := HeaderMessageID + ": " + messageID + "\r\n"
	digits := 1
	for {
		// "Chunks: n" and "Chunk: i" (i < n): the first header is the longer one.
		overhead := len(base) + len(idLine) + len(HeaderChunks+": \r\n") + digits + 2
		limit := maxPayload - overhead
		if limit < 4 {
			return nil, fmt.Errorf("%w: payload limit %d leaves no room for text", ErrTooLarge, maxPayload)
		}
		pieces := split(text, limit, false)
		if len(pieces) > DefaultMaxChunks {
			return nil, fmt.Errorf("%w: text needs %d chunks (max %d)", ErrTooLarge, len(pieces), DefaultMaxChunks)
		}
		if d := len(strconv.Itoa(len(pieces))); d > digits {
			digits = d
			continue
		}
		out := make([][]byte, len(pieces))
		for i, p := range pieces {
			var h string
			if i == 0 {
				h = HeaderChunks + ": " + strconv.Itoa(len(pieces))
			} else {
				h = HeaderChunk + ": " + strconv.Itoa(i)
			}
			out[i] = []byte(base + idLine + h + "\r\n\r\n" + crlf(p))
		}
		return out, nil
	}
}
