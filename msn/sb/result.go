package sb

import (
	"context"
	"strings"
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

	text    string   // a text message: the whole text
	pieces  []string // a split text message: the text each part carries, in order
	acked   []bool   // per part (text messages): acknowledged
	chunked bool     // sent as one chunked message: useless to the peer unless whole
	missed  map[string]error
}

// addMissed records members of a multi-party conversation a part went out without.
func (r *Result) addMissed(m map[string]error) {
	if len(m) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.missed == nil {
		r.missed = make(map[string]error, len(m))
	}
	for p, err := range m {
		if _, ok := r.missed[p]; !ok {
			r.missed[p] = err
		}
	}
}

// Missed returns the members of a multi-party conversation who did not get the message
// (or a part of it) although it was sent: they were not on the switchboard when it went out.
// Each comes with why: a *CallError when calling them failed (ErrOffline, ErrBlocked, …), or
// ErrNotJoined when they were called but did not join within Config.JoinWait (or had left).
// The outcome stays Delivered when the others got it. Nil for one-to-one conversations and
// when everybody got it; the map is the caller's.
func (r *Result) Missed() map[string]error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.missed) == 0 {
		return nil
	}
	out := make(map[string]error, len(r.missed))
	for p, err := range r.missed {
		out[p] = err
	}
	return out
}

func newResult(parts int) *Result {
	return &Result{done: make(chan struct{}), remaining: parts}
}

// setParts records how a text message was encoded for the wire: n parts, carrying pieces
// (nil for a chunked message, which only counts whole).
func (r *Result) setParts(n int, pieces []string, chunked bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.remaining = n
	r.pieces = pieces
	r.chunked = chunked
	r.acked = make([]bool, n)
}

// Undelivered returns the text of a text message that did not reach the contact: "" once it
// was delivered whole, the parts that were not acknowledged when a long message split into
// several MSGs was delivered in part (in order, joined), and the whole text when no part was
// acknowledged or when it went as one chunked message that did not arrive whole (the
// recipient cannot use a partial chunked message). Other kinds of messages give "". A caller
// that falls back to an offline message after Offline sends this, so the contact does not get
// the delivered parts twice.
func (r *Result) Undelivered() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.text == "" || r.outcome == Delivered {
		return ""
	}
	if r.chunked || len(r.pieces) == 0 || len(r.pieces) != len(r.acked) {
		if r.chunked && allTrue(r.acked) {
			return ""
		}
		return r.text
	}
	var b strings.Builder
	for i, p := range r.pieces {
		if !r.acked[i] {
			b.WriteString(p)
		}
	}
	return b.String()
}

func allTrue(v []bool) bool {
	for _, b := range v {
		if !b {
			return false
		}
	}
	return len(v) > 0
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

// partDelivered records that part index was acknowledged; the last one resolves the result.
func (r *Result) partDelivered(index int) {
	r.mu.Lock()
	if index >= 0 && index < len(r.acked) {
		r.acked[index] = true
	}
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
