package p2p

import (
	"sync"
	"time"
)

// served is a request for one of our objects being served: it counts against the bounds of
// its ServeLimiter until the peer acknowledges the data, closes the session (BYE) or
// SessionTimeout passes.
type served struct {
	peer    string
	sid     uint32
	dataID  uint32 // Identifier of the data message (0 until drawn)
	created time.Time
}

// ServeLimiter bounds the requests for our own objects (display picture) served at once:
// at most MaxServesPerPeer to one contact and MaxServes overall, across every Responder that
// shares it (SessionConfig.ServeLimiter). A request counts from its admission until its
// Responder sees it end, or SessionTimeout after its admission. Safe for concurrent use.
type ServeLimiter struct {
	perPeer, overall int
	timeout          time.Duration
	now              func() time.Time

	mu     sync.Mutex
	active map[*served]struct{}
}

// NewServeLimiter returns a ServeLimiter with the MaxServesPerPeer, MaxServes,
// SessionTimeout and Now of cfg (their defaults when zero).
func NewServeLimiter(cfg SessionConfig) *ServeLimiter {
	cfg = cfg.withDefaults()
	return &ServeLimiter{
		perPeer: cfg.MaxServesPerPeer, overall: cfg.MaxServes, timeout: cfg.SessionTimeout, now: cfg.Now,
		active: make(map[*served]struct{}),
	}
}

// admit counts sv (its peer and created time set) unless its peer has perPeer requests or
// everybody overall requests being served; it reports whether sv was admitted.
func (l *ServeLimiter) admit(sv *served) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expireLocked()
	n := 0
	for o := range l.active {
		if o.peer == sv.peer {
			n++
		}
	}
	if n >= l.perPeer || len(l.active) >= l.overall {
		return false
	}
	l.active[sv] = struct{}{}
	return true
}

// release stops counting sv (nothing when it is not counted any more).
func (l *ServeLimiter) release(sv *served) {
	l.mu.Lock()
	delete(l.active, sv)
	l.mu.Unlock()
}

// expireLocked stops counting the requests older than the timeout.
func (l *ServeLimiter) expireLocked() {
	now := l.now()
	for sv := range l.active {
		if now.Sub(sv.created) >= l.timeout {
			delete(l.active, sv)
		}
	}
}

// Active returns how many requests are being served.
func (l *ServeLimiter) Active() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expireLocked()
	return len(l.active)
}

// expireServesLocked forgets the served requests older than SessionTimeout.
func (r *Responder) expireServesLocked() {
	now := r.cfg.Now()
	for id, sv := range r.serves {
		if now.Sub(sv.created) >= r.cfg.SessionTimeout {
			r.endServeLocked(id, sv)
		}
	}
}

// endServeLocked forgets the served request of Call-ID id.
func (r *Responder) endServeLocked(id string, sv *served) {
	delete(r.serves, id)
	r.serveLimit.release(sv)
}

// admitServeLocked records a request from peer to serve (Call-ID callID, session sid) unless
// it is being served already (repeat: the first answer stands) or the ServeLimiter's bounds
// are reached (nil). The caller sets the data message's Identifier once it is drawn.
func (r *Responder) admitServeLocked(peer, callID string, sid uint32) (sv *served, repeat bool) {
	r.expireServesLocked()
	if _, dup := r.serves[callID]; dup {
		return nil, true
	}
	sv = &served{peer: peer, sid: sid, created: r.cfg.Now()}
	if !r.serveLimit.admit(sv) {
		return nil, false
	}
	r.serves[callID] = sv
	return sv, false
}

// onServeAck ends the served request whose data message the peer's ACK h acknowledges.
func (r *Responder) onServeAck(peer string, h Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, sv := range r.serves {
		if sv.peer == peer && sv.sid == h.SessionID && sv.dataID != 0 && sv.dataID == h.AckID {
			r.endServeLocked(id, sv)
			return
		}
	}
}

// onSLPForServe ends the served request a BYE from peer closes (by Call-ID); it reports
// false when the message belongs to none.
func (r *Responder) onSLPForServe(peer string, m *SLPMessage) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	sv := r.serves[m.CallID()]
	if sv == nil || sv.peer != peer {
		return false
	}
	if m.Method == "BYE" {
		r.endServeLocked(m.CallID(), sv)
	}
	return true
}

// Serves returns how many requests for our objects this Responder is serving.
func (r *Responder) Serves() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expireServesLocked()
	return len(r.serves)
}
