package sb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/wire"
)

// maxEarlyNotes bounds what a switchboard buffers before it is routed to a conversation.
const maxEarlyNotes = 256

// errNotSent: the switchboard was already closing, the part was not taken.
var errNotSent = errors.New("sb: switchboard closing")

// errLocalClose is the close cause when this side closed the switchboard on purpose.
var errLocalClose = errors.New("sb: closed by this client")

// noteKind is what a switchboard tells its conversation.
type noteKind int

const (
	noteJoined noteKind = iota
	noteLeft
	noteMessage
)

// note is one roster change or message, in wire order.
type note struct {
	kind    noteKind
	p       Participant
	idle    bool // noteLeft: "BYE email 1"
	payload []byte
	early   bool // buffered before routing: delivered by route's caller, which must not wait
}

// switchboard is one SB connection: one reader goroutine, serialised writes, the roster, the
// requests waiting for their reply and the MSGs waiting for ACK/NAK.
type switchboard struct {
	m    *Manager
	id   uint64
	nc   net.Conn
	r    *wire.Reader
	w    *wire.Writer
	log  zerolog.Logger
	self string // our own passport, lower case

	conv atomic.Pointer[Conversation]
	// paused is set while the reader waits for room in a conversation's event queue: what
	// the server sent meanwhile (ACKs included) is not read yet.
	paused atomic.Bool

	// noteMu orders note delivery: notes buffered before routing are delivered first.
	noteMu sync.Mutex
	routed bool
	early  []note

	mu         sync.Mutex
	trid       uint32
	calls      map[uint32]chan *wire.Command
	inflight   map[uint32]*part
	roster     roster
	closing    bool // shutdown started: no new writes
	leaving    bool // this side said OUT (or closed): the connection ends soon
	retired    bool // replaced by a newer switchboard: close once nothing is in flight
	retiredAt  time.Time
	rechecking bool // a retired switchboard kept for P2P will look again (leaveRetired)
	abandoned  bool // left on the user's request: in-flight parts fail instead of re-sending
	err        error
	joinedOnce bool
	joined     chan struct{} // closed at the first JOI/IRO of someone else
	joinSig    chan struct{} // signalled (cap 1) at every JOI/IRO of someone new
	// missReason says why a member of the conversation is not on a switchboard this client
	// opened: the CAL failed, or they did not join in time (see Result.Missed).
	missReason map[string]error
	done       chan struct{} // closed when the reader has finished
	closingCh  chan struct{} // closed when closing becomes true
}

func newSwitchboard(m *Manager, nc net.Conn) *switchboard {
	id := m.sbSeq.Add(1)
	s := &switchboard{
		m:         m,
		id:        id,
		nc:        nc,
		r:         wire.NewReader(nc, wire.FromServer, m.cfg.Limits),
		w:         wire.NewWriter(nc),
		log:       m.log.With().Uint64("switchboard", id).Logger(),
		self:      m.self(),
		calls:     make(map[uint32]chan *wire.Command),
		inflight:  make(map[uint32]*part),
		joined:    make(chan struct{}),
		joinSig:   make(chan struct{}, 1),
		done:      make(chan struct{}),
		closingCh: make(chan struct{}),
	}
	return s
}

// readLoop is the connection's only reader. It ends when the connection does, then settles
// everything still waiting on this switchboard.
func (s *switchboard) readLoop() {
	var err error
	for {
		var cmd *wire.Command
		cmd, err = s.r.ReadCommand()
		if err != nil {
			break
		}
		s.log.Trace().Str("cmd", cmd.String()).Msg("received")
		s.handle(cmd)
	}
	s.finish(err)
}

// handle dispatches one command from the server. It never panics on odd input: unknown or
// malformed lines are logged and skipped.
func (s *switchboard) handle(cmd *wire.Command) {
	if cmd.IsError() {
		s.handleError(cmd)
		return
	}
	switch cmd.Name {
	case "USR", "ANS", "CAL":
		s.reply(cmd)
	case "IRO":
		// IRO t <index> <total> <id> <friendly> [caps]
		s.handleJoin(cmd.Arg(2), cmd.Arg(3), cmd.Arg(4))
	case "JOI":
		// JOI <id> <friendly> [caps]
		s.handleJoin(cmd.Arg(0), cmd.Arg(1), cmd.Arg(2))
	case "BYE":
		s.handleBye(cmd)
	case "MSG":
		s.handleMSG(cmd)
	case "ACK":
		s.handleAck(cmd, true)
	case "NAK":
		s.handleAck(cmd, false)
	case "OUT":
		s.log.Debug().Msg("server closed the switchboard (OUT)")
		s.shutdown(fmt.Errorf("sb: server sent OUT: %w", ErrConnectionLost))
	default:
		s.log.Debug().Str("cmd", cmd.String()).Msg("ignoring unexpected switchboard command")
	}
}

func (s *switchboard) reply(cmd *wire.Command) {
	if !cmd.HasTrID {
		return
	}
	s.mu.Lock()
	ch := s.calls[cmd.TrID]
	s.mu.Unlock()
	if ch != nil {
		select {
		case ch <- cmd:
		default:
		}
	}
}

func (s *switchboard) handleError(cmd *wire.Command) {
	if !cmd.HasTrID {
		s.log.Debug().Str("cmd", cmd.String()).Msg("error without transaction id")
		return
	}
	s.mu.Lock()
	ch := s.calls[cmd.TrID]
	p := s.takeInflightLocked(cmd.TrID)
	drained := p != nil && s.retired && len(s.inflight) == 0
	s.mu.Unlock()
	if drained {
		defer s.leaveRetired()
	}
	switch {
	case ch != nil:
		select {
		case ch <- cmd:
		default:
		}
	case p != nil:
		p.failed(s, cmd.Err())
	default:
		s.log.Debug().Int("code", cmd.ErrorCode()).Msg("unsolicited error")
	}
}

func (s *switchboard) handleJoin(id, name, caps string) {
	passport, guid := splitID(id)
	if !validPassport(passport) {
		return
	}
	if passport == s.self {
		// Our own JOI (MSNP16+ answering endpoint) or another endpoint of ours: not a peer.
		return
	}
	if len(caps) > 64 {
		caps = caps[:64]
	}
	s.mu.Lock()
	p, added := s.roster.add(passport, guid, decodeName(name), caps)
	first := added && !s.joinedOnce
	if first {
		s.joinedOnce = true
	}
	s.mu.Unlock()
	if !added {
		return
	}
	// The note first: a third participant turns the switchboard into a group conversation
	// before the opener, woken by joined, decides whose switchboard it is (else a one-to-one
	// message could go out on the group's switchboard).
	s.deliver(note{kind: noteJoined, p: p})
	if first {
		close(s.joined)
	}
	select {
	case s.joinSig <- struct{}{}:
	default:
	}
}

// setMissReasons records why some called members are not on the switchboard.
func (s *switchboard) setMissReasons(m map[string]error) {
	s.mu.Lock()
	s.missReason = m
	s.mu.Unlock()
}

// missing returns, for each of members not on the switchboard now, why: the recorded reason
// or ErrNotJoined.
func (s *switchboard) missing(members []Participant) map[string]error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out map[string]error
	for _, p := range members {
		if s.roster.has(p.Passport) {
			continue
		}
		if out == nil {
			out = make(map[string]error)
		}
		if err := s.missReason[p.Passport]; err != nil {
			out[p.Passport] = err
		} else {
			out[p.Passport] = ErrNotJoined
		}
	}
	return out
}

func (s *switchboard) handleBye(cmd *wire.Command) {
	passport, guid := splitID(cmd.Arg(0))
	if !validPassport(passport) || passport == s.self {
		return
	}
	s.mu.Lock()
	removed := s.roster.remove(passport, guid)
	empty := s.roster.len() == 0
	s.mu.Unlock()
	if !removed {
		return
	}
	s.deliver(note{kind: noteLeft, p: Participant{Passport: passport}, idle: cmd.Arg(1) == "1"})
	if empty {
		// Nobody left to talk to: close, the conversation reopens on the next message.
		s.leave()
	}
}

func (s *switchboard) handleMSG(cmd *wire.Command) {
	passport, _ := splitID(cmd.Arg(0))
	if !validPassport(passport) {
		return
	}
	s.deliver(note{kind: noteMessage, p: Participant{Passport: passport, FriendlyName: decodeName(cmd.Arg(1))}, payload: cmd.Payload})
}

func (s *switchboard) handleAck(cmd *wire.Command, ok bool) {
	if !cmd.HasTrID {
		return
	}
	s.mu.Lock()
	p := s.takeInflightLocked(cmd.TrID)
	drained := s.retired && len(s.inflight) == 0
	s.mu.Unlock()
	if drained {
		defer s.leaveRetired()
	}
	if p == nil {
		return
	}
	if ok {
		p.delivered()
		return
	}
	p.naked(s)
}

// takeInflightLocked removes the part in flight with that TrID (nil if none) and stops its
// ACK timer. s.mu is held.
func (s *switchboard) takeInflightLocked(trid uint32) *part {
	p := s.inflight[trid]
	if p == nil {
		return nil
	}
	delete(s.inflight, trid)
	if p.ackTimer != nil {
		p.ackTimer.Stop()
		p.ackTimer = nil
	}
	return p
}

// ackTimedOut handles a MSG that got no ACK/NAK within Config.AckTimeout: the message fails,
// and the switchboard, which lost an answer, is retired (see Conversation.onAckLost).
func (s *switchboard) ackTimedOut(trid uint32) {
	s.mu.Lock()
	p := s.inflight[trid]
	if p == nil || p.trid != trid {
		s.mu.Unlock()
		return
	}
	if s.paused.Load() && !s.closing {
		// The reader is held up by a slow event consumer: the ACK may be waiting unread.
		p.ackTimer = time.AfterFunc(s.m.cfg.AckTimeout, func() { s.ackTimedOut(trid) })
		s.mu.Unlock()
		s.log.Debug().Uint32("trid", trid).Msg("ACK timeout while the reader is paused: waiting on")
		return
	}
	s.takeInflightLocked(trid)
	drained := s.retired && len(s.inflight) == 0
	s.mu.Unlock()
	err := fmt.Errorf("%w: no ACK from the switchboard within %v", ErrTimeout, s.m.cfg.AckTimeout)
	s.log.Warn().Uint32("trid", trid).Dur("ack_timeout", s.m.cfg.AckTimeout).Msg("message not acknowledged in time: failing it and retiring the switchboard")
	p.res.resolve(Failed, err)
	if c := s.conv.Load(); c != nil {
		c.onAckLost(s, err)
	}
	if drained {
		s.leaveRetired()
	}
}

// deliver passes a note to the conversation, or buffers it until the switchboard is routed.
func (s *switchboard) deliver(n note) {
	s.noteMu.Lock()
	defer s.noteMu.Unlock()
	if !s.routed {
		if len(s.early) < maxEarlyNotes {
			s.early = append(s.early, n)
		}
		return
	}
	if c := s.conv.Load(); c != nil {
		c.onNote(s, n)
	}
}

// route attaches the switchboard to a conversation and delivers what arrived before.
func (s *switchboard) route(c *Conversation) {
	s.noteMu.Lock()
	defer s.noteMu.Unlock()
	s.conv.Store(c)
	s.routed = true
	early := s.early
	s.early = nil
	for _, n := range early {
		n.early = true
		if cur := s.conv.Load(); cur != nil {
			cur.onNote(s, n)
		}
	}
}

// call sends a request and waits for the reply with the same TrID (or an error reply).
func (s *switchboard) call(ctx context.Context, name string, args ...string) (*wire.Command, error) {
	pc, err := s.start(name, args...)
	if err != nil {
		return nil, err
	}
	return s.await(ctx, pc)
}

// pendingCall is a request written and waiting for its reply.
type pendingCall struct {
	name string
	trid uint32
	ch   chan *wire.Command
}

// start writes a request and registers for its reply; await must follow.
func (s *switchboard) start(name string, args ...string) (*pendingCall, error) {
	s.mu.Lock()
	if s.closing {
		err := s.err
		s.mu.Unlock()
		return nil, fmt.Errorf("sb: %s: %w", name, closedCause(err))
	}
	s.trid++
	pc := &pendingCall{name: name, trid: s.trid, ch: make(chan *wire.Command, 1)}
	s.calls[pc.trid] = pc.ch
	s.mu.Unlock()
	if err := s.write(wire.New(name, pc.trid, args...)); err != nil {
		s.forgetCall(pc)
		return nil, err
	}
	return pc, nil
}

// await waits up to Config.RequestTimeout for the reply to a started request.
func (s *switchboard) await(ctx context.Context, pc *pendingCall) (*wire.Command, error) {
	defer s.forgetCall(pc)
	ctx, cancel := context.WithTimeout(ctx, s.m.cfg.RequestTimeout)
	defer cancel()
	select {
	case cmd := <-pc.ch:
		if cmd.IsError() {
			return cmd, fmt.Errorf("sb: %s: %w", pc.name, cmd.Err())
		}
		return cmd, nil
	case <-s.done:
		// A reply read just before the connection ended is queued already: it still answers.
		select {
		case cmd := <-pc.ch:
			if cmd.IsError() {
				return cmd, fmt.Errorf("sb: %s: %w", pc.name, cmd.Err())
			}
			return cmd, nil
		default:
		}
		return nil, fmt.Errorf("sb: %s: %w", pc.name, closedCause(s.cause()))
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("sb: %s: %w", pc.name, ErrTimeout)
		}
		return nil, fmt.Errorf("sb: %s: %w", pc.name, ctx.Err())
	}
}

func (s *switchboard) forgetCall(pc *pendingCall) {
	s.mu.Lock()
	delete(s.calls, pc.trid)
	s.mu.Unlock()
}

// sendPart writes one MSG. Parts with an acknowledgement stay in flight until ACK/NAK or the
// end of the connection; the others are delivered once written. missed (members not on the
// switchboard) is recorded on the part's Result when the part is taken. An error wrapping
// errNotSent means the part was not taken and is still the caller's.
func (s *switchboard) sendPart(p *part, missed map[string]error) error {
	s.mu.Lock()
	if s.closing {
		err := s.err
		s.mu.Unlock()
		return fmt.Errorf("%w: %w", errNotSent, closedCause(err))
	}
	p.res.addMissed(missed)
	s.trid++
	t := s.trid
	p.attempts++
	p.trid = t
	if p.ack != AckNone && p.ack != AckNegative {
		s.inflight[t] = p
		p.ackTimer = time.AfterFunc(s.m.cfg.AckTimeout, func() { s.ackTimedOut(t) })
	}
	s.mu.Unlock()
	err := s.write(wire.NewPayload("MSG", t, p.payload, string(p.ack)))
	if err != nil {
		// The reader's finish settles parts still in flight; others fail here.
		if p.ack == AckNone || p.ack == AckNegative {
			p.failed(s, err)
		}
		return err
	}
	p.res.markWritten()
	if p.ack == AckNone || p.ack == AckNegative {
		p.delivered()
	}
	return nil
}

// write sends one command with a write deadline; a failed write shuts the connection down.
func (s *switchboard) write(cmd *wire.Command) error {
	_ = s.nc.SetWriteDeadline(time.Now().Add(s.m.cfg.RequestTimeout))
	if err := s.w.WriteCommand(cmd); err != nil {
		s.shutdown(fmt.Errorf("sb: write: %w: %w", ErrConnectionLost, err))
		return fmt.Errorf("sb: %w", err)
	}
	s.log.Trace().Str("cmd", cmd.String()).Msg("sent")
	return nil
}

// retire closes a switchboard another one replaced, once its messages are acknowledged (and
// its conversation's P2P sessions ended: leaveRetired).
func (s *switchboard) retire() {
	s.mu.Lock()
	if !s.retired {
		s.retired, s.retiredAt = true, time.Now()
	}
	idle := len(s.inflight) == 0
	s.mu.Unlock()
	if idle {
		s.leaveRetired()
	}
}

// A retired switchboard kept for P2P looks every retiredRecheck whether it may go, for at most
// maxRetiredKeep after it was retired.
const (
	retiredRecheck = 2 * time.Second
	maxRetiredKeep = 10 * time.Minute
)

// leaveRetired leaves a retired switchboard with nothing in flight, unless its conversation
// has a P2P session in progress (a file transfer, a picture fetch or serve). A contact's client
// answers a P2P message on the switchboard it came on, so when the two sides' switchboards
// cross (both opened one at the same moment) and this one is replaced, the answers to what
// went out on it still come here: leaving would lose them and hang the transfer. It stays,
// read but no longer written to, and looks again every retiredRecheck until the sessions ended.
func (s *switchboard) leaveRetired() {
	c := s.conv.Load()
	s.mu.Lock()
	if len(s.inflight) > 0 && !s.closing {
		// A message is waiting for its ACK (a P2P ACK bound here): its ACK calls this again.
		s.mu.Unlock()
		return
	}
	keep := c != nil && !s.closing && time.Since(s.retiredAt) < maxRetiredKeep
	s.mu.Unlock()
	if keep && c.p2pBusy() {
		s.mu.Lock()
		if !s.rechecking && !s.closing {
			s.rechecking = true
			time.AfterFunc(retiredRecheck, func() {
				s.mu.Lock()
				s.rechecking = false
				s.mu.Unlock()
				s.leaveRetired()
			})
		}
		s.mu.Unlock()
		return
	}
	s.leave()
}

// abandon is leave on the user's request: messages still waiting for their ACK fail, and the
// connection is closed at once (nothing after it is wanted).
func (s *switchboard) abandon() {
	s.mu.Lock()
	s.abandoned = true
	s.mu.Unlock()
	s.depart(false)
}

// leave says OUT and lets the server end the connection, which it does when it reads the OUT:
// until then the reader still handles what the server sent before it saw our OUT — a contact's
// message or P2P invitation racing our leaving is delivered, not lost with the socket. No new
// message is sent on the switchboard meanwhile (it is closing). A server that keeps the
// connection open is cut off after leaveDrain.
func (s *switchboard) leave() { s.depart(true) }

// leaveDrain bounds how long a left switchboard's connection waits for the server to close it.
const leaveDrain = 5 * time.Second

// depart says OUT (unless the switchboard was already closing) and then closes the connection
// now, or, with drain, once the server closed it or leaveDrain passed.
func (s *switchboard) depart(drain bool) {
	s.mu.Lock()
	wasClosing, wasLeaving := s.closing, s.leaving
	if !s.closing {
		s.closing = true
		s.err = errLocalClose
		close(s.closingCh)
	}
	s.leaving = true
	s.mu.Unlock()
	if drain && wasLeaving {
		return // already waiting for the server to close
	}
	if !wasClosing {
		if err := s.write(wire.NewNoTrID("OUT")); err != nil {
			return // write closed the connection
		}
		if drain {
			_ = s.nc.SetReadDeadline(time.Now().Add(leaveDrain))
			return
		}
	}
	_ = s.nc.Close()
}

// shutdown records the cause and closes the socket; the reader then finishes.
func (s *switchboard) shutdown(err error) {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		s.err = err
		close(s.closingCh)
	}
	s.mu.Unlock()
	_ = s.nc.Close()
}

// finish runs once, on the reader goroutine, after the connection ended.
func (s *switchboard) finish(readErr error) {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		s.err = fmt.Errorf("%w: %w", ErrConnectionLost, readErr)
		close(s.closingCh)
	}
	parts := make([]*part, 0, len(s.inflight))
	for t := range s.inflight {
		parts = append(parts, s.takeInflightLocked(t))
	}
	s.inflight = map[uint32]*part{}
	abandoned := s.abandoned
	s.mu.Unlock()
	_ = s.nc.Close()
	close(s.done)
	s.m.forget(s)
	sort.Slice(parts, func(i, j int) bool { return parts[i].trid < parts[j].trid })
	cause := s.cause()
	if cause == errLocalClose {
		s.log.Debug().Msg("switchboard closed")
	} else {
		s.log.Debug().Err(cause).Msg("switchboard connection ended")
	}
	if abandoned {
		for _, p := range parts {
			p.res.resolve(Failed, fmt.Errorf("%w before the message was acknowledged", ErrClosed))
		}
		parts = nil
	}
	// Parts still waiting for their ACK: back to their conversation for one more try.
	byConv := map[*Conversation][]*part{}
	var order []*Conversation
	for _, p := range parts {
		if _, ok := byConv[p.conv]; !ok {
			order = append(order, p.conv)
		}
		byConv[p.conv] = append(byConv[p.conv], p)
	}
	for _, c := range order {
		c.requeue(byConv[c], cause)
	}
	if c := s.conv.Load(); c != nil {
		c.onClosed(s, cause)
	}
}

func (s *switchboard) cause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *switchboard) participants() []Participant {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.roster.list()
}

func (s *switchboard) hasParticipant(passport string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.roster.has(passport)
}

func (s *switchboard) busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.inflight) > 0
}

func (s *switchboard) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// closedCause turns a close cause into what callers see.
func closedCause(err error) error {
	if err == nil || err == errLocalClose {
		return ErrClosed
	}
	return err
}

func decodeName(s string) string {
	n := wire.DecodeParam(s)
	if len(n) > 512 {
		n = strings.ToValidUTF8(n[:512], "")
	}
	return n
}
