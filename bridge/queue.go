package bridge

import (
	"context"
	"sync"
)

// Queue bounds. Coalesced items (presence, typing) do not count: they are bounded by the number
// of contacts, since each contact has at most one waiting.
const (
	// maxQueuedNS is how many NS-side events (and the client's own work items) may wait before
	// the NS reader is held.
	maxQueuedNS = 4096
	// maxQueuedConv is how many events of one conversation may wait before its switchboard
	// reader is held (sb.Config.OnEvent blocks, and with it only that conversation).
	maxQueuedConv = 256
)

// queueKey names one serial lane of the dispatcher: nsLane for the NS session and the client's
// own work, an *sb.Conversation for each switchboard conversation (one conversation feeds one
// portal, so a lane per conversation is a lane per portal).
type queueKey any

// nsLane is the key of the NS-side lane.
type nsLaneKey struct{}

var nsLane queueKey = nsLaneKey{}

// queued is one waiting item; coalesce is its coalescing key (nil: never coalesced).
type queued struct {
	item     any
	coalesce any
}

// lane is the FIFO of one key, served by at most one worker goroutine at a time.
type lane struct {
	items   []*queued
	keyed   map[any]*queued // waiting coalescable items by coalescing key
	limit   int
	running bool
}

// dispatcher hands events to worker goroutines, one per lane, started on demand and ended when
// their lane is empty: events of one lane are handled in order, and a lane whose handler blocks
// (bridgev2's buffer of a slow portal is full) holds up only its own lane. Nothing is dropped:
// a push to a full lane blocks until its worker takes an item, which is the flow control of the
// MSN readers; only coalescable items (presence, typing) replace their waiting predecessor.
type dispatcher struct {
	mu     sync.Mutex
	cond   *sync.Cond // signalled when a lane shrinks or the dispatcher stops
	ctx    context.Context
	lanes  map[queueKey]*lane
	handle func(ctx context.Context, key queueKey, item any)
	limits func(key queueKey) int
}

func newDispatcher(handle func(ctx context.Context, key queueKey, item any)) *dispatcher {
	d := &dispatcher{lanes: make(map[queueKey]*lane), handle: handle}
	d.cond = sync.NewCond(&d.mu)
	d.limits = func(key queueKey) int {
		if key == nsLane {
			return maxQueuedNS
		}
		return maxQueuedConv
	}
	return d
}

// start serves the lanes until ctx ends, beginning with what earlier runs left behind.
func (d *dispatcher) start(ctx context.Context) {
	d.mu.Lock()
	d.ctx = ctx
	for key, l := range d.lanes {
		if len(l.items) > 0 && !l.running {
			l.running = true
			go d.work(ctx, key, l)
		}
	}
	d.mu.Unlock()
	go func() {
		<-ctx.Done()
		d.mu.Lock()
		if d.ctx == ctx {
			d.ctx = nil
		}
		d.mu.Unlock()
		d.cond.Broadcast()
	}()
}

// push appends an item to a lane, or replaces the waiting item with the same coalescing key
// (non-nil coalesce; those never wait). With block set it waits while the lane is full and the
// dispatcher runs;
// pushes made by a worker itself must not block (they would wait for themselves). While the
// dispatcher is stopped pushes never block: the items wait for the next start.
func (d *dispatcher) push(key queueKey, item any, coalesce any, block bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.laneLocked(key)
	if coalesce != nil {
		if q, ok := l.keyed[coalesce]; ok {
			q.item = item
			return
		}
	}
	for block && coalesce == nil && d.ctx != nil && l.fullLocked() {
		d.cond.Wait()
		l = d.laneLocked(key) // an emptied lane may have been removed meanwhile
	}
	q := &queued{item: item, coalesce: coalesce}
	if coalesce != nil {
		if l.keyed == nil {
			l.keyed = make(map[any]*queued)
		}
		l.keyed[coalesce] = q
	}
	l.items = append(l.items, q)
	if !l.running && d.ctx != nil && d.ctx.Err() == nil {
		l.running = true
		go d.work(d.ctx, key, l)
	}
}

func (d *dispatcher) laneLocked(key queueKey) *lane {
	l, ok := d.lanes[key]
	if !ok {
		l = &lane{limit: d.limits(key)}
		d.lanes[key] = l
	}
	return l
}

// fullLocked: the lane holds its limit of items that are not coalesced.
func (l *lane) fullLocked() bool {
	return len(l.items)-len(l.keyed) >= l.limit
}

// work serves one lane until it is empty or ctx ends. It takes one item at a time, so an
// ending context leaves every item not handled yet in the lane, in order, for the next start.
func (d *dispatcher) work(ctx context.Context, key queueKey, l *lane) {
	for {
		d.mu.Lock()
		if ctx.Err() != nil && d.ctx != nil && d.ctx.Err() == nil {
			ctx = d.ctx // a new run started while this worker was busy: serve it
		}
		if ctx.Err() != nil || len(l.items) == 0 {
			l.running = false
			if len(l.items) == 0 && d.lanes[key] == l {
				delete(d.lanes, key)
			}
			d.mu.Unlock()
			return
		}
		q := l.items[0]
		l.items[0] = nil
		l.items = l.items[1:]
		if q.coalesce != nil {
			delete(l.keyed, q.coalesce)
		}
		d.mu.Unlock()
		d.cond.Broadcast()
		d.handle(ctx, key, q.item)
	}
}

// discard removes the waiting items match selects from every lane and hands each to match's
// caller through gone (outside the lock), e.g. to release what they hold.
func (d *dispatcher) discard(match func(item any) bool, gone func(item any)) {
	var out []any
	d.mu.Lock()
	for _, l := range d.lanes {
		kept := l.items[:0]
		for _, q := range l.items {
			if q.coalesce == nil && match(q.item) {
				out = append(out, q.item)
				continue
			}
			kept = append(kept, q)
		}
		clear(l.items[len(kept):])
		l.items = kept
	}
	d.mu.Unlock()
	d.cond.Broadcast()
	for _, it := range out {
		gone(it)
	}
}

// waiting reports how many items wait in a lane (for tests and logs).
func (d *dispatcher) waiting(key queueKey) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if l, ok := d.lanes[key]; ok {
		return len(l.items)
	}
	return 0
}
