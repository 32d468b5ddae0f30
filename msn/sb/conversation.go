package sb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/message"
)

// errTakenOver: the switchboard being opened became a group conversation before it was ready.
var errTakenOver = errors.New("sb: switchboard was taken over by a group conversation")

// maxQueue bounds the MSGs waiting in one conversation for a switchboard.
const maxQueue = 1024

// Conversation is a one-to-one or multi-party conversation. It outlives the switchboards it
// is carried on: the manager opens, reuses and closes them as needed. Methods are safe for
// concurrent use.
type Conversation struct {
	m     *Manager
	id    string
	peer  string // one-to-one: the contact's passport
	group bool
	log   zerolog.Logger
	reasm *message.Reassembler
	// chunks expires incomplete chunked messages (chunks.go).
	chunks chunkTimer
	// p2p answers P2P invitations the client cannot serve (p2p.go).
	p2p p2pState

	mu           sync.Mutex
	members      []Participant // group: who is in the conversation; one-to-one: the peer
	active       *switchboard  // the switchboard messages go out on (nil: none ready)
	opening      bool
	queue        []*part
	closed       bool
	lastActivity time.Time
	lastUse      uint64 // Manager.useSeq at creation or the last activity
	idleTimer    *time.Timer

	// Events waiting for Config.OnEvent, delivered in order by one goroutine at a time.
	evMu      sync.Mutex
	evQueue   []Event
	evRunning bool          // a goroutine is delivering evQueue
	evRoom    chan struct{} // closed when evQueue drops below the bound; made by a waiting reader
	// evUse counts the events queued or being delivered that show the conversation in use
	// (showsUse): a switchboard opened for a fetch stays while any is pending.
	evUse int
}

// showsUse reports whether ev shows the conversation in use, something the application may
// answer on it (a message, typing, content), rather than a change of who is on it.
func showsUse(ev Event) bool {
	switch ev.(type) {
	case *JoinedEvent, *LeftEvent, *ClosedEvent:
		return false
	}
	return true
}

func newConversation(m *Manager, id, peer string, group bool, members []Participant) *Conversation {
	c := &Conversation{
		m:       m,
		id:      id,
		peer:    peer,
		group:   group,
		members: append([]Participant(nil), members...),
		lastUse: m.useSeq.Add(1),
	}
	c.log = m.log.With().Str("conversation", id).Logger()
	c.reasm = c.newReassembler()
	return c
}

// enqueueEvent queues ev for Config.OnEvent and starts the conversation's delivering
// goroutine when none runs. It never blocks.
func (c *Conversation) enqueueEvent(ev Event) {
	c.evMu.Lock()
	c.evQueue = append(c.evQueue, ev)
	if showsUse(ev) {
		c.evUse++
	}
	start := !c.evRunning
	c.evRunning = true
	c.evMu.Unlock()
	if start {
		go c.deliverEvents()
	}
}

// deliverEvents hands the queued events to Config.OnEvent one by one and ends when the queue
// is empty.
func (c *Conversation) deliverEvents() {
	var done Event // the event just delivered
	for {
		c.evMu.Lock()
		if done != nil && showsUse(done) {
			c.evUse--
		}
		if len(c.evQueue) == 0 {
			c.evQueue = nil
			c.evRunning = false
			c.evMu.Unlock()
			return
		}
		ev := c.evQueue[0]
		c.evQueue[0] = nil
		c.evQueue = c.evQueue[1:]
		if c.evRoom != nil && len(c.evQueue) < maxPendingEvents {
			close(c.evRoom)
			c.evRoom = nil
		}
		c.evMu.Unlock()
		if on := c.m.cfg.OnEvent; on != nil {
			on(ev)
		}
		done = ev
	}
}

// usePending reports whether events that show the conversation in use (showsUse) wait or
// are being delivered.
func (c *Conversation) usePending() bool {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	return c.evUse > 0
}

// eventsPending reports whether events of the conversation wait or are being delivered.
func (c *Conversation) eventsPending() bool {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	return c.evRunning
}

// ID is the contact's passport for a one-to-one conversation, or the manager-made id of a
// multi-party one.
func (c *Conversation) ID() string { return c.id }

// IsGroup reports whether this is a multi-party conversation.
func (c *Conversation) IsGroup() bool { return c.group }

// Peer returns the contact's passport of a one-to-one conversation ("" for a group).
func (c *Conversation) Peer() string { return c.peer }

// Participants returns the other participants: the live switchboard's roster when there is
// one, else the members the next switchboard will invite.
func (c *Conversation) Participants() []Participant {
	c.mu.Lock()
	s := c.active
	members := append([]Participant(nil), c.members...)
	c.mu.Unlock()
	if s != nil {
		if ps := s.participants(); len(ps) > 0 {
			return ps
		}
	}
	return members
}

// Connected reports whether a switchboard with someone on it is live for the conversation.
func (c *Conversation) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active != nil && !c.active.isClosing()
}

// SendText sends a text message (see Send).
func (c *Conversation) SendText(ctx context.Context, text string, f message.Format) *Result {
	return c.Send(ctx, Outgoing{Kind: OutText, Text: text, Format: f})
}

// SendTyping sends a typing notification (see Send).
func (c *Conversation) SendTyping(ctx context.Context) *Result {
	return c.Send(ctx, Outgoing{Kind: OutTyping})
}

// SendNudge sends a nudge (see Send).
func (c *Conversation) SendNudge(ctx context.Context) *Result {
	return c.Send(ctx, Outgoing{Kind: OutNudge})
}

// Send queues a message and returns at once. It goes out on the live switchboard, or on one
// opened for it (messages queued meanwhile go out in order once someone joined). The Result
// ends Delivered when every MSG of it was acknowledged (or written, for ack types without an
// answer), Offline when the contact is offline, Failed otherwise. If ctx ends before anything
// was written the message is dropped and fails with ctx's cause; Config.SendTimeout bounds
// the whole journey.
func (c *Conversation) Send(ctx context.Context, out Outgoing) *Result {
	payloads, ack, err := out.encode(c.m.self())
	if err != nil {
		res := newResult(1)
		res.resolve(Failed, err)
		return res
	}
	var parts []*part
	var res *Result
	if out.Kind == OutText {
		// One entry until it reaches a switchboard (textParts).
		res = newResult(1)
		res.text = out.Text
		parts = []*part{{res: res, conv: c, ack: ack, text: out.Text, format: out.Format}}
	} else {
		res = newResult(len(payloads))
		for i, p := range payloads {
			parts = append(parts, &part{res: res, conv: c, ack: ack, payload: p, index: i})
		}
	}
	c.m.readopt(c)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.enqueueLocked(ctx, res, parts)
	return res
}

// enqueueLocked queues the parts of res for the live switchboard (flushLocked opens one when
// there is none), or fails res when the conversation is closed or its queue full. c.mu is held.
func (c *Conversation) enqueueLocked(ctx context.Context, res *Result, parts []*part) {
	if c.closed || c.m.isClosed() {
		res.resolve(Failed, ErrClosed)
		return
	}
	if len(c.queue)+len(parts) > maxQueue {
		res.resolve(Failed, ErrQueueFull)
		return
	}
	c.queue = append(c.queue, parts...)
	res.arm(ctx, c.m.cfg.SendTimeout)
	c.flushLocked()
}

// Invite calls a contact into the conversation (CAL on the live switchboard). A one-to-one
// conversation needs a live switchboard (ErrNotConnected otherwise); when the contact joins,
// a new multi-party conversation takes over the switchboard (BecameGroupEvent). A group
// conversation without a live switchboard records the contact and calls them with the others
// when the next message opens one.
func (c *Conversation) Invite(ctx context.Context, passport string) error {
	passport, _ = splitID(passport)
	if !validPassport(passport) {
		return &CallError{Passport: passport, Err: ErrInvalidUser}
	}
	c.mu.Lock()
	s := c.active
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if s == nil {
		if !c.group {
			c.mu.Unlock()
			return ErrNotConnected
		}
		c.addMemberLocked(Participant{Passport: passport})
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	if _, err := s.call(ctx, "CAL", passport); err != nil {
		return newCallError(passport, err)
	}
	if c.group {
		c.mu.Lock()
		c.addMemberLocked(Participant{Passport: passport})
		c.mu.Unlock()
	}
	return nil
}

// Leave closes the conversation's switchboard (OUT). Queued messages, and sent ones still
// waiting for their ACK, fail with ErrClosed. A
// one-to-one conversation stays usable (the next Send reopens); a multi-party conversation is
// finished and forgotten by the manager.
func (c *Conversation) Leave() error {
	c.mu.Lock()
	s := c.active
	c.active = nil
	c.stopIdleLocked()
	queue := c.queue
	c.queue = nil
	if c.group {
		c.closed = true
	}
	c.mu.Unlock()
	for _, p := range queue {
		p.res.resolve(Failed, ErrClosed)
	}
	if c.group {
		c.m.dropGroup(c)
	}
	if s != nil {
		s.abandon()
		c.m.emit(&ClosedEvent{Conv: c})
	}
	return nil
}

// shutdown is Leave for the manager's Close.
func (c *Conversation) shutdown() {
	c.mu.Lock()
	c.closed = true
	s := c.active
	c.active = nil
	c.stopIdleLocked()
	queue := c.queue
	c.queue = nil
	c.mu.Unlock()
	for _, p := range queue {
		p.res.resolve(Failed, ErrClosed)
	}
	if s != nil {
		s.abandon()
	}
}

// flushLocked sends what is queued on the live switchboard, or starts opening one.
func (c *Conversation) flushLocked() {
	if c.closed {
		for _, p := range c.queue {
			p.res.resolve(Failed, ErrClosed)
		}
		c.queue = nil
		return
	}
	if c.active != nil {
		sent := false
		var missed map[string]error
		if c.group && len(c.queue) > 0 {
			missed = c.active.missing(c.members)
		}
		for len(c.queue) > 0 {
			p := c.queue[0]
			if p.bound != nil && p.bound != c.active {
				p.res.resolve(Failed, fmt.Errorf("%w: the frame belonged to a switchboard that ended", ErrNotConnected))
			}
			if p.res.resolved() {
				c.queue = c.queue[1:]
				continue
			}
			if p.payload == nil {
				c.queue = append(c.textParts(p, c.active), c.queue[1:]...)
				p = c.queue[0]
			}
			if err := c.active.sendPart(p, missed); errors.Is(err, errNotSent) {
				break // the switchboard is closing; its end brings us back here without it
			}
			// Written, or in flight on a dying connection whose end re-queues it.
			c.queue = c.queue[1:]
			sent = true
		}
		if sent {
			c.touchLocked()
		}
		return
	}
	// Drop what already ended (timeouts, cancelled) and what belonged to a switchboard
	// that ended before deciding to open.
	kept := c.queue[:0]
	for _, p := range c.queue {
		if p.bound != nil {
			p.res.resolve(Failed, fmt.Errorf("%w: the frame belonged to a switchboard that ended", ErrNotConnected))
		}
		if !p.res.resolved() {
			kept = append(kept, p)
		}
	}
	c.queue = kept
	if len(c.queue) > 0 && !c.opening {
		c.opening = true
		go c.open()
	}
}

// textParts encodes text message p for switchboard s: one chunked message when everybody on
// s reassembles chunks (chunkable), else one ordinary message per piece. c.mu is held.
func (c *Conversation) textParts(p *part, s *switchboard) []*part {
	var payloads [][]byte
	var pieces []string
	chunked := false
	if c.chunkable(s) {
		if pl, err := message.ChunkedTextPayloads(p.text, p.format, "", MaxPayload); err == nil {
			payloads, chunked = pl, len(pl) > 1
		} else {
			c.log.Debug().Err(err).Msg("text too long for one chunked message: sending it in pieces")
		}
	}
	if payloads == nil {
		payloads, pieces = splitTextPayloads(p.text, p.format)
	}
	p.res.setParts(len(payloads), pieces, chunked)
	out := make([]*part, len(payloads))
	for i, pl := range payloads {
		out[i] = &part{res: p.res, conv: c, ack: p.ack, payload: pl, index: i}
	}
	return out
}

// chunkable reports whether every participant on s reassembles chunked messages, going by the
// capabilities of their JOI/IRO or, where those carry none, Config.Capabilities.
func (c *Conversation) chunkable(s *switchboard) bool {
	ps := s.participants()
	if len(ps) == 0 {
		return false
	}
	for _, p := range ps {
		caps, ok := parseCaps(p.Caps)
		if !ok && c.m.cfg.Capabilities != nil {
			caps, ok = c.m.cfg.Capabilities(p.Passport)
		}
		if !ok || caps&capChunking == 0 {
			return false
		}
	}
	return true
}

// open gets a switchboard for the queued messages: XFR SB, USR, CAL every member, first JOI.
func (c *Conversation) open() {
	ctx, cancel := context.WithTimeout(c.m.ctx, c.m.cfg.OpenTimeout)
	defer cancel()
	s, err := c.openSwitchboard(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opening = false
	if errors.Is(err, errTakenOver) {
		c.flushLocked() // open another one for the queued messages
		return
	}
	if err != nil {
		outcome := Failed
		if !c.group && errors.Is(err, ErrOffline) {
			outcome = Offline
		}
		c.log.Debug().Err(err).Msg("could not open a switchboard")
		for _, p := range c.queue {
			p.res.resolve(outcome, err)
		}
		c.queue = nil
		return
	}
	if c.closed {
		go s.leave()
		c.flushLocked()
		return
	}
	if s.isClosing() {
		// It ended between the JOI and now (its end saw no active switchboard): try again.
		c.flushLocked()
		return
	}
	if old := c.active; old != nil && old != s {
		go old.retire()
	}
	c.active = s
	c.touchLocked()
	c.flushLocked()
}

func (c *Conversation) openSwitchboard(ctx context.Context) (*switchboard, error) {
	c.mu.Lock()
	members := make([]string, 0, len(c.members))
	for _, p := range c.members {
		members = append(members, p.Passport)
	}
	c.mu.Unlock()
	if len(members) == 0 {
		return nil, ErrNoParticipants
	}
	m := c.m
	if err := m.throttle(ctx); err != nil {
		return nil, err
	}
	t, err := m.ns.RequestSwitchboard(ctx)
	if err != nil {
		return nil, fmt.Errorf("sb: request switchboard: %w", err)
	}
	s, err := m.dial(ctx, t.Addr)
	if err != nil {
		return nil, err
	}
	s.route(c)
	if _, err := s.call(ctx, "USR", m.selfID(), t.Cookie); err != nil {
		s.shutdown(err)
		return nil, fmt.Errorf("sb: authenticate: %w", err)
	}
	// All CALs go out at once; then their answers are collected.
	var errs []error
	failed := map[string]error{}
	calls := make([]*pendingCall, len(members))
	for i, p := range members {
		pc, err := s.start("CAL", p)
		if err != nil {
			failed[p] = newCallError(p, err)
			errs = append(errs, failed[p])
			continue
		}
		calls[i] = pc
	}
	var ringing []string
	for i, pc := range calls {
		if pc == nil {
			continue
		}
		if _, err := s.await(ctx, pc); err != nil {
			failed[members[i]] = newCallError(members[i], err)
			errs = append(errs, failed[members[i]])
			continue
		}
		ringing = append(ringing, members[i])
	}
	if len(errs) == len(members) {
		s.leave()
		return nil, errors.Join(errs...)
	}
	s.setMissReasons(failed)
	select {
	case <-s.joined:
	case <-s.done:
		return nil, fmt.Errorf("sb: waiting for %v to join: %w", members, closedCause(s.cause()))
	case <-ctx.Done():
		s.leave()
		return nil, fmt.Errorf("sb: waiting for %v to join: %w", members, ErrTimeout)
	}
	if err := c.awaitJoins(ctx, s, ringing); err != nil {
		return nil, err
	}
	if s.conv.Load() != c {
		// Someone else joined first and the switchboard became a group conversation.
		return nil, errTakenOver
	}
	return s, nil
}

// awaitJoins waits, after the first JOI, until everybody whose CAL rang is on switchboard s,
// for at most Config.JoinWait (or until ctx ends): the first message of a conversation must
// not go out to whoever joined first only. Those still missing then are reported by
// Result.Missed. It fails only when s ended.
func (c *Conversation) awaitJoins(ctx context.Context, s *switchboard, called []string) error {
	if c.m.cfg.JoinWait < 0 {
		return nil
	}
	timer := time.NewTimer(c.m.cfg.JoinWait)
	defer timer.Stop()
	for {
		if s.conv.Load() != c {
			return nil // taken over by a group conversation: the caller gives it up
		}
		all := true
		for _, p := range called {
			all = all && s.hasParticipant(p)
		}
		if all {
			return nil
		}
		select {
		case <-s.joinSig:
		case <-s.done:
			return fmt.Errorf("sb: waiting for %v to join: %w", called, closedCause(s.cause()))
		case <-timer.C:
			c.log.Debug().Strs("called", called).Msg("not everybody called joined in time: sending to those who did")
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// attach makes an accepted switchboard the conversation's live one. It becomes live before
// what arrived on it during the answer (roster, first messages) is delivered: a caller that
// replies from OnEvent to that first message must find it live, not open a second switchboard.
func (c *Conversation) attach(s *switchboard) {
	c.m.readopt(c)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		s.route(c)
		s.leave()
		return
	}
	// Storing the conversation before the closing check makes a switchboard that ends from
	// now on report to us (onClosed), so a dead one is never left live.
	s.conv.Store(c)
	var replaced *switchboard
	if !s.isClosing() {
		if c.active != s {
			replaced = c.active
		}
		c.active = s
		c.touchLocked()
	}
	c.mu.Unlock()
	s.route(c) // may move s to a group conversation (a third participant joined)
	c.mu.Lock()
	c.flushLocked()
	c.mu.Unlock()
	if replaced != nil {
		replaced.retire()
	}
}

// requeue takes back parts that were in flight on a switchboard that ended: each is sent once
// more, in its original order, ahead of what is queued; a part already sent twice, or bound
// to the switchboard that ended, fails.
func (c *Conversation) requeue(parts []*part, cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	again := make([]*part, 0, len(parts))
	for _, p := range parts {
		if p.res.resolved() {
			continue
		}
		if p.attempts >= 2 || c.closed || p.bound != nil {
			p.res.resolve(Failed, fmt.Errorf("%w: %w", ErrConnectionLost, closedCause(cause)))
			continue
		}
		again = append(again, p)
	}
	if len(again) == 0 {
		return
	}
	c.log.Debug().Int("parts", len(again)).Msg("re-sending unacknowledged messages")
	c.queue = append(again, c.queue...)
	c.flushLocked()
}

// onAckLost is told that a MSG on switchboard s got no ACK in time. A one-to-one
// conversation stops using s (it is retired: closed once nothing else waits on it) and its
// next message opens a new switchboard. A multi-party switchboard stays: only that message
// failed, and reopening would call everybody again.
func (c *Conversation) onAckLost(s *switchboard, cause error) {
	if c.group {
		return
	}
	c.mu.Lock()
	if c.active != s {
		c.mu.Unlock()
		s.retire()
		return
	}
	c.active = nil
	c.stopIdleLocked()
	c.flushLocked()
	c.mu.Unlock()
	s.retire()
	c.m.emit(&ClosedEvent{Conv: c, Err: cause})
}

// onClosed is told that a switchboard carrying this conversation ended.
func (c *Conversation) onClosed(s *switchboard, cause error) {
	c.mu.Lock()
	if c.active != s {
		c.mu.Unlock()
		return
	}
	c.active = nil
	c.stopIdleLocked()
	c.flushLocked()
	c.mu.Unlock()
	var err error
	if cause != errLocalClose {
		err = cause
	}
	c.m.emit(&ClosedEvent{Conv: c, Err: err})
}

// onNote handles a roster change or message from one of the conversation's switchboards.
func (c *Conversation) onNote(s *switchboard, n note) {
	c.mu.Lock()
	if s == c.active {
		c.touchLocked()
	}
	switch n.kind {
	case noteJoined:
		if !c.group && n.p.Passport != c.peer {
			c.becomeGroupLocked(s)
			c.mu.Unlock()
			return
		}
		if c.group {
			c.addMemberLocked(n.p)
		} else if len(c.members) == 1 {
			c.members[0] = n.p
		}
		c.mu.Unlock()
		c.emitNote(s, n, &JoinedEvent{Conv: c, Participant: n.p})
	case noteLeft:
		if c.group && !n.idle {
			c.removeMemberLocked(n.p.Passport)
		}
		c.mu.Unlock()
		c.emitNote(s, n, &LeftEvent{Conv: c, Passport: n.p.Passport, Idle: n.idle})
	case noteMessage:
		c.mu.Unlock()
		c.handleMessage(s, n, n.p, n.payload)
	default:
		c.mu.Unlock()
	}
}

// emitNote queues the event caused by note n: with flow control when it comes from the
// reader, without when route's caller (possibly OnEvent itself, through Accept) delivers it.
func (c *Conversation) emitNote(s *switchboard, n note, ev Event) {
	if n.early {
		c.m.emit(ev)
		return
	}
	c.m.emitFlow(s, ev)
}

// becomeGroupLocked moves switchboard s, where a third participant just joined, to a new
// multi-party conversation.
func (c *Conversation) becomeGroupLocked(s *switchboard) {
	ps := s.participants()
	g := c.m.newGroupOn(ps, s)
	s.conv.Store(g)
	if c.active == s {
		c.active = nil
		c.stopIdleLocked()
		c.flushLocked()
	}
	c.log.Debug().Str("group", g.id).Int("participants", len(ps)).Msg("switchboard became a group conversation")
	c.m.emit(&BecameGroupEvent{Conv: g, From: c, Participants: ps})
	for _, p := range ps {
		c.m.emit(&JoinedEvent{Conv: g, Participant: p})
	}
}

// handleMessage decodes an incoming MSG payload into events.
func (c *Conversation) handleMessage(s *switchboard, n note, from Participant, payload []byte) {
	self := c.m.self()
	fromSelf := from.Passport == self
	msg, err := message.Parse(payload)
	if err == nil {
		msg, err = c.reasm.Add(from.Passport, msg)
		if err == nil && msg == nil {
			c.chunks.arm(c)
			return // more chunks to come
		}
	}
	if err != nil {
		c.log.Debug().Err(err).Str("from", from.Passport).Msg("unparseable switchboard message")
		c.emitNote(s, n, &ContentEvent{Conv: c, Sender: from, Kind: message.KindUnknown, Payload: payload, ParseErr: err})
		return
	}
	switch msg.Kind {
	case message.KindText:
		c.emitNote(s, n, &MessageEvent{Conv: c, Sender: from, Text: msg.Text.Body, Format: msg.Text.Format, FromSelf: fromSelf})
	case message.KindTyping:
		if !fromSelf {
			c.emitNote(s, n, &TypingEvent{Conv: c, Sender: from, Recording: msg.Recording})
		}
	case message.KindNudge:
		c.emitNote(s, n, &NudgeEvent{Conv: c, Sender: from})
	case message.KindKeepAlive, message.KindClientCaps:
		// Nothing to show.
	case message.KindP2P:
		if !c.handleP2P(s, from, msg.P2P) {
			return // for someone else in a multi-party switchboard, or another endpoint of ours
		}
		c.emitNote(s, n, &ContentEvent{Conv: c, Sender: from, Kind: msg.Kind, Message: msg, Payload: payload})
	default:
		c.emitNote(s, n, &ContentEvent{Conv: c, Sender: from, Kind: msg.Kind, Message: msg, Payload: payload})
	}
}

func (c *Conversation) addMemberLocked(p Participant) {
	for i, q := range c.members {
		if q.Passport == p.Passport {
			if p.FriendlyName != "" {
				c.members[i] = p
			}
			return
		}
	}
	if len(c.members) < maxParticipants {
		c.members = append(c.members, p)
	}
}

func (c *Conversation) removeMemberLocked(passport string) {
	for i, q := range c.members {
		if q.Passport == passport {
			c.members = append(c.members[:i], c.members[i+1:]...)
			return
		}
	}
}

// touchLocked records activity and (one-to-one only) re-arms the idle close.
func (c *Conversation) touchLocked() {
	c.lastActivity = time.Now()
	c.lastUse = c.m.useSeq.Add(1)
	idle := c.m.cfg.IdleTimeout
	if c.group || idle <= 0 || c.active == nil {
		return
	}
	if c.idleTimer == nil {
		c.idleTimer = time.AfterFunc(idle, c.idleCheck)
		return
	}
	c.idleTimer.Reset(idle)
}

func (c *Conversation) stopIdleLocked() {
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
}

// idleCheck closes a one-to-one switchboard that had no traffic for Config.IdleTimeout and
// has nothing waiting; the next Send reopens one.
func (c *Conversation) idleCheck() {
	idle := c.m.cfg.IdleTimeout
	c.mu.Lock()
	s := c.active
	if s == nil {
		c.mu.Unlock()
		return
	}
	since := time.Since(c.lastActivity)
	// Events still waiting for OnEvent (the reader may be paused for them, with more unread)
	// keep the switchboard: closing it would lose what the server already sent.
	waiting := s.paused.Load() || c.eventsPending()
	if since < idle || s.busy() || len(c.queue) > 0 || waiting {
		if waiting && since >= idle {
			c.log.Debug().Msg("idle, but events wait for OnEvent: keeping the switchboard")
		}
		wait := idle - since
		if wait <= 0 {
			wait = idle
		}
		c.idleTimer.Reset(wait)
		c.mu.Unlock()
		return
	}
	c.active = nil
	c.mu.Unlock()
	c.log.Debug().Msg("closing idle switchboard")
	s.leave()
	c.m.emit(&ClosedEvent{Conv: c, Idle: true})
}
