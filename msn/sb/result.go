package sb

import (
	"context"
	"sync"
	"time"
)

// Outcome is how an outgoing message ended.
type Outcome int

// Outcomes. Pending is only returned by Result.Wait when its context ends first.
const (
	Pending   Outcome = iota // not decided yet
	Delivered                // acknowledged by the server (or written, for messages without ACK)
	Failed                   // NAK, error, connection lost twice, timeout, closed
	Offline                  // the contact is offline (CAL 217, or NAK in a one-to-one conversation)
)

// String returns a lower-case name for logs.
func (o Outcome) String() string {
	switch o {
	case Pending:
		return "pending"
	case Delivered:
		return "delivered"
	case Failed:
		return "failed"
	case Offline:
		return "offline"
	}
	return "unknown"
}

// Result follows one outgoing message (all its parts, when it was split) to its outcome.
type Result struct {
	done chan struct{}

	mu        sync.Mutex
	outcome   Outcome
	err       error
	remaining int
	written   bool
	timer     *time.Timer
	stopCtx   func() bool
}

func newResult(parts int) *Result {
	return &Result{done: make(chan struct{}), remaining: parts}
}

// Done is closed when the outcome is known.
func (r *Result) Done() <-chan struct{} { return r.done }

// Wait blocks until the outcome is known or ctx ends (then it returns Pending and ctx.Err()).
// The error is nil for Delivered and says why otherwise.
func (r *Result) Wait(ctx context.Context) (Outcome, error) {
	select {
	case <-r.done:
		return r.Outcome()
	case <-ctx.Done():
		return Pending, ctx.Err()
	}
}

// Outcome returns the outcome so far (Pending while undecided) without blocking.
func (r *Result) Outcome() (Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.outcome, r.err
}

// resolved reports whether the outcome is known.
func (r *Result) resolved() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// resolve sets the outcome once; later calls are ignored. It reports whether it won.
func (r *Result) resolve(o Outcome, err error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.outcome != Pending {
		return false
	}
	r.outcome, r.err = o, err
	if r.timer != nil {
		r.timer.Stop()
	}
	if r.stopCtx != nil {
		r.stopCtx()
	}
	close(r.done)
	return true
}

// partDelivered records one acknowledged part; the last one resolves the result.
func (r *Result) partDelivered() {
	r.mu.Lock()
	r.remaining--
	last := r.remaining <= 0
	r.mu.Unlock()
	if last {
		r.resolve(Delivered, nil)
	}
}

// markWritten records that a part reached the wire: cancelling the context no longer fails it.
func (r *Result) markWritten() {
	r.mu.Lock()
	r.written = true
	r.mu.Unlock()
}

// arm starts the overall timeout and the context watch.
func (r *Result) arm(ctx context.Context, timeout time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.outcome != Pending {
		return
	}
	if timeout > 0 {
		r.timer = time.AfterFunc(timeout, func() { r.resolve(Failed, ErrTimeout) })
	}
	if ctx != nil && ctx.Done() != nil {
		r.stopCtx = context.AfterFunc(ctx, func() {
			r.mu.Lock()
			written := r.written
			r.mu.Unlock()
			if !written {
				r.resolve(Failed, context.Cause(ctx))
			}
		})
	}
}
