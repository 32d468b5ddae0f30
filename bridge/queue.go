package bridge

import (
	"context"
	"sync"
)

// maxQueued bounds the events waiting for the client's worker; beyond it the oldest presence
// updates would be the least harmful to lose, but dropping is never silent: it is logged.
const maxQueued = 10000

// eventQueue hands NS and SB events to one worker goroutine in order, so that the MSN reader
// goroutines never block on Matrix requests.
type eventQueue struct {
	mu      sync.Mutex
	items   []any
	signal  chan struct{}
	dropped int
}

func newEventQueue() *eventQueue {
	return &eventQueue{signal: make(chan struct{}, 1)}
}

// push appends an item; it never blocks.
func (q *eventQueue) push(item any) {
	q.mu.Lock()
	if len(q.items) >= maxQueued {
		q.dropped++
	} else {
		q.items = append(q.items, item)
	}
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *eventQueue) take() ([]any, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	items, dropped := q.items, q.dropped
	q.items, q.dropped = nil, 0
	return items, dropped
}

// requeue puts items back in front of the queue, keeping their order.
func (q *eventQueue) requeue(items []any) {
	q.mu.Lock()
	q.items = append(append(make([]any, 0, len(items)+len(q.items)), items...), q.items...)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// run handles items until ctx ends.
func (q *eventQueue) run(ctx context.Context, handle func(ctx context.Context, item any, dropped int)) {
	for {
		items, dropped := q.take()
		for i, item := range items {
			if ctx.Err() != nil {
				// The context ended mid-batch (reconnect, logout, stop): the items not handled
				// yet go back to the front, in order, for the next run.
				q.requeue(items[i:])
				return
			}
			d := 0
			if i == 0 {
				d = dropped
			}
			handle(ctx, item, d)
		}
		if len(items) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-q.signal:
		}
	}
}
