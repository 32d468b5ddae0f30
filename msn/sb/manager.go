package sb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/p2p"
	"github.com/msnbridge/msnbridge/msn/wire"
)

// Ticket is the answer to XFR SB: where the new switchboard is and the cookie for USR. It has
// the fields of ns.SwitchboardTicket, so sb.Ticket(t) converts one.
type Ticket struct {
	Addr, Cookie string
}

// Invitation is an invitation to a switchboard (an RNG on the NS). It has the fields of
// ns.SwitchboardInviteEvent, so sb.Invitation(*ev) converts one.
type Invitation struct {
	SessionID, Addr, Cookie, Inviter, InviterName string
}

// NotificationServer is what the manager needs from the NS session. The package does not
// import msn/ns; wrapping *ns.Session takes one method (see the package example).
//
// The manager does not depend on one NS session staying up: switchboards are connections of
// their own, which live on when the NS connection drops. A caller may keep one Manager across
// NS reconnects with an implementation that forwards to whichever session is current. The
// manager reads Passport once (it must not change) and Version each time it authenticates a
// switchboard (so it should report the last negotiated version while there is no session);
// RequestSwitchboard may fail while there is no session: the messages waiting for that
// switchboard then fail with that error, and the next Send tries again.
type NotificationServer interface {
	// Passport is the account's own e-mail address.
	Passport() string
	// Version is the negotiated MSNP version (switchboard identities change at 16).
	Version() int
	// RequestSwitchboard asks the NS for a new switchboard (XFR SB).
	RequestSwitchboard(ctx context.Context) (Ticket, error)
}

// Config tunes a Manager. Zero fields take the defaults in brackets.
type Config struct {
	// MachineGUID is the NS login's machine GUID ("{…}"), sent as "email;{guid}" on MSNP16+.
	MachineGUID string
	// DialTimeout bounds the TCP connect [10 s].
	DialTimeout time.Duration
	// RequestTimeout bounds USR/ANS/CAL answers and each write [15 s].
	RequestTimeout time.Duration
	// OpenTimeout bounds opening a switchboard: XFR, connect, USR, CAL, first JOI [60 s].
	OpenTimeout time.Duration
	// JoinWait bounds how long messages queued for a switchboard this client opens wait, once
	// the first contact joined, for the other contacts it called (the CALs that rang) to join
	// too [10 s]; then they go out to whoever is there and Result.Missed names the others.
	// Negative: send as soon as the first contact joined.
	JoinWait time.Duration
	// SendTimeout bounds a message from Send to its outcome [90 s].
	SendTimeout time.Duration
	// AckTimeout bounds the wait for the ACK/NAK of one MSG written on a switchboard [30 s].
	// A MSG without an answer by then fails its message, and the switchboard is retired: it
	// is closed once nothing else waits on it, and the conversation's next message goes out on
	// a new one (a server that lost one ACK is not trusted with the next message).
	AckTimeout time.Duration
	// ChunkTimeout is how long the chunks of a chunked message may take to arrive; then what
	// arrived is delivered as an incomplete MessageEvent [message.DefaultExpiry, 2 min].
	ChunkTimeout time.Duration
	// IdleTimeout closes a one-to-one switchboard after that long without traffic [3 min];
	// negative: never. Multi-party switchboards are never closed for idleness.
	IdleTimeout time.Duration
	// XFRInterval is the least time between two XFR SB of this manager [1 s]; negative: none.
	XFRInterval time.Duration
	// MaxGroups bounds the multi-party conversations the manager keeps [256]: beyond it, the
	// least recently used dormant ones (no live or opening switchboard, nothing queued) are
	// forgotten, so every invitation with a new set of people no longer costs memory forever.
	// A forgotten conversation stays usable by whoever holds it (sending on it or accepting an
	// invitation into it registers it again when its id is free), and RestoreGroup with its id
	// and roster brings it back. Negative: no bound.
	MaxGroups int
	// MaxConversations bounds the one-to-one conversations the manager keeps [1024]: beyond
	// it, the least recently used dormant ones (no live or opening switchboard, nothing
	// queued, no event waiting) are forgotten. Conversation(passport) makes a new one for a
	// forgotten contact; a forgotten one still held by a caller stays usable and is registered
	// again when it sends while its contact has no other. Negative: no bound.
	MaxConversations int
	// Limits bounds what the server may send [4 KiB lines, 16 KiB payloads].
	Limits wire.Limits
	// Dial connects to a switchboard [net.Dialer].
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Capabilities, when set, gives the client capabilities the NS reported for a contact
	// (the number of their NLN/ILN; ok false when unknown). It is asked only for participants
	// whose JOI/IRO carried none (MSNP11 and older), to decide whether a long text can go as
	// one chunked message (capability 0x20) instead of several messages. It is called with
	// a conversation's lock held: it must be quick and must not call into this package.
	Capabilities func(passport string) (caps uint32, ok bool)
	// P2P feeds and bounds the P2P sessions of every conversation: Objects serves our own
	// display picture, the rest bounds FetchObject (package p2p's defaults when zero). The
	// bounds on serving (MaxServesPerPeer, MaxServes) hold for all conversations together.
	P2P p2p.SessionConfig
	// AcceptFile decides on a file a contact offers on conv (t.Peer, t.File: name and size)
	// within P2P.MaxFileSize: it returns the writer the data is streamed to as its chunks
	// arrive (never held whole in memory), or nil to decline. It runs on the goroutine that
	// reads the switchboard and must return quickly; t.Done is closed when the transfer ended
	// (t.Err: nil when complete, else declined by the writer, cancelled by the contact, timed
	// out after P2P.FileTimeout without data), and the writer is not used after that. Nil:
	// every offer is declined. Declined offers (too large, or declined here) are still reported
	// as a ContentEvent carrying the INVITE.
	AcceptFile func(conv *Conversation, t *p2p.Transfer) io.Writer
	// Logger gets structured logs; cookies never appear in them.
	Logger zerolog.Logger
	// OnEvent receives the events of all conversations. The events of one conversation come
	// one at a time, in order, from one goroutine; those of different conversations may come
	// concurrently, from different goroutines. OnEvent MAY BLOCK: while it blocks on an
	// event of conversation A, the events of other conversations are still delivered, and
	// once 128 events of A wait, the switchboard carrying A stops reading (the server, then
	// the contact, are slowed down through TCP) until OnEvent catches up; no event is dropped
	// for it (typing notifications excepted). There is at most one delivering goroutine per
	// conversation with events waiting; it ends when that conversation's queue is empty. It
	// may call any method of the package. Nil: events are dropped.
	OnEvent func(Event)
}

func (cfg Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.DialTimeout, 10*time.Second)
	def(&cfg.RequestTimeout, 15*time.Second)
	def(&cfg.OpenTimeout, 60*time.Second)
	def(&cfg.JoinWait, 10*time.Second)
	def(&cfg.SendTimeout, 90*time.Second)
	def(&cfg.AckTimeout, 30*time.Second)
	def(&cfg.IdleTimeout, 3*time.Minute)
	def(&cfg.XFRInterval, time.Second)
	if cfg.MaxGroups == 0 {
		cfg.MaxGroups = DefaultMaxGroups
	}
	if cfg.MaxConversations == 0 {
		cfg.MaxConversations = DefaultMaxConversations
	}
	if cfg.Limits.MaxLine <= 0 {
		cfg.Limits.MaxLine = 4 << 10
	}
	if cfg.Limits.MaxPayload <= 0 {
		cfg.Limits.MaxPayload = 16 << 10
	}
	if cfg.Dial == nil {
		d := &net.Dialer{}
		cfg.Dial = d.DialContext
	}
	if cfg.MachineGUID != "" && !strings.HasPrefix(cfg.MachineGUID, "{") {
		cfg.MachineGUID = "{" + cfg.MachineGUID + "}"
	}
	return cfg
}

// DefaultMaxGroups is Config.MaxGroups when it is zero.
const DefaultMaxGroups = 256

// DefaultMaxConversations is Config.MaxConversations when it is zero.
const DefaultMaxConversations = 1024

// Bounds on accepting invitations (HandleInvite): at most maxInviteWorkers accept at once, and
// at most maxInviteBacklog more wait; beyond that an invitation is refused (logged), and the
// inviter's server gives up on it.
const (
	maxInviteWorkers = 4
	maxInviteBacklog = 64
)

// Manager runs the switchboards of one account: it opens them for conversations, accepts
// invitations and routes them, and delivers events. It may outlive NS sessions (see
// NotificationServer).
type Manager struct {
	ns       NotificationServer
	cfg      Config
	log      zerolog.Logger
	passport string
	ctx      context.Context
	cancel   context.CancelFunc
	sbSeq    atomic.Uint64
	useSeq   atomic.Uint64 // orders conversations by last use, for forgetting groups
	// closed is set (under mu) by Close; it is atomic so that a conversation holding its own
	// lock can check it without taking mu (groupFor takes mu, then conversation locks).
	closed atomic.Bool

	mu     sync.Mutex
	direct map[string]*Conversation
	groups map[string]*Conversation
	sbs    map[*switchboard]struct{}

	xfrMu   sync.Mutex
	lastXFR time.Time

	invites   chan Invitation // accepted by at most maxInviteWorkers goroutines
	invMu     sync.Mutex
	invActive int // goroutines accepting invitations
}

// NewManager returns a manager for the NS session nsrv.
func NewManager(nsrv NotificationServer, cfg Config) *Manager {
	cfg = cfg.withDefaults()
	if cfg.P2P.ServeLimiter == nil {
		// One bound on serving our display picture for all conversations: a contact
		// asking in several conversations, or many contacts at once, are bounded as a whole.
		cfg.P2P.ServeLimiter = p2p.NewServeLimiter(cfg.P2P)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		ns:       nsrv,
		cfg:      cfg,
		passport: strings.ToLower(nsrv.Passport()),
		ctx:      ctx,
		cancel:   cancel,
		direct:   make(map[string]*Conversation),
		groups:   make(map[string]*Conversation),
		sbs:      make(map[*switchboard]struct{}),
		invites:  make(chan Invitation, maxInviteBacklog),
	}
	m.log = cfg.Logger.With().Str("component", "switchboard").Logger()
	return m
}

// self is our passport in lower case.
func (m *Manager) self() string { return m.passport }

// selfID is how we name ourselves in USR/ANS: "email;{guid}" on MSNP16+.
func (m *Manager) selfID() string {
	if m.ns.Version() >= 16 && m.cfg.MachineGUID != "" {
		return m.ns.Passport() + ";" + m.cfg.MachineGUID
	}
	return m.ns.Passport()
}

func (m *Manager) isClosed() bool { return m.closed.Load() }

// Conversation returns the one-to-one conversation with passport, creating it if needed.
func (m *Manager) Conversation(passport string) *Conversation {
	passport, _ = splitID(passport)
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.direct[passport]; ok {
		return c
	}
	c := newConversation(m, passport, passport, false, []Participant{{Passport: passport}})
	m.addDirectLocked(c)
	return c
}

// addDirectLocked registers one-to-one conversation c and, beyond Config.MaxConversations,
// forgets the least recently used dormant ones. m.mu is held.
func (m *Manager) addDirectLocked(c *Conversation) {
	m.direct[c.id] = c
	m.pruneLocked(m.direct, c, m.cfg.MaxConversations, "one-to-one")
}

// Group returns the multi-party conversation with that id, or nil.
func (m *Manager) Group(id string) *Conversation {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.groups[id]
}

// NewGroup starts a multi-party conversation with these contacts; its first Send opens a
// switchboard and calls them all.
func (m *Manager) NewGroup(passports ...string) *Conversation {
	return m.newGroup(m.participantsOf(passports))
}

// RestoreGroup returns the multi-party conversation id, creating it with these members if the
// manager does not know it: a caller that persisted a group's id and roster gets the same
// conversation back after a restart, and invitations with that roster are routed to it.
func (m *Manager) RestoreGroup(id string, passports ...string) *Conversation {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.groups[id]; ok {
		return c
	}
	c := newConversation(m, id, "", true, m.participantsOf(passports))
	m.addGroupLocked(c)
	return c
}

// participantsOf turns passports into distinct participants other than ourselves.
func (m *Manager) participantsOf(passports []string) []Participant {
	ps := make([]Participant, 0, len(passports))
	seen := map[string]bool{}
	for _, p := range passports {
		p, _ = splitID(p)
		if validPassport(p) && p != m.self() && !seen[p] && len(ps) < maxParticipants {
			seen[p] = true
			ps = append(ps, Participant{Passport: p})
		}
	}
	return ps
}

// Conversations returns every conversation the manager knows.
func (m *Manager) Conversations() []*Conversation {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Conversation, 0, len(m.direct)+len(m.groups))
	for _, c := range m.direct {
		out = append(out, c)
	}
	for _, c := range m.groups {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (m *Manager) newGroup(ps []Participant) *Conversation {
	return m.newGroupOn(ps, nil)
}

// newGroupOn makes a group conversation whose live switchboard is s (nil: none yet); s is set
// before the group is registered, so it is never taken for a dormant one.
func (m *Manager) newGroupOn(ps []Participant, s *switchboard) *Conversation {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := "group-" + hex.EncodeToString(b[:])
	c := newConversation(m, id, "", true, ps)
	c.active = s
	m.mu.Lock()
	m.addGroupLocked(c)
	m.mu.Unlock()
	return c
}

// addGroupLocked registers group conversation c and, beyond Config.MaxGroups, forgets the
// least recently used dormant groups other than c. m.mu is held.
func (m *Manager) addGroupLocked(c *Conversation) {
	m.groups[c.id] = c
	m.pruneLocked(m.groups, c, m.cfg.MaxGroups, "group")
}

// pruneLocked forgets, while set holds more than limit conversations, the least recently used
// dormant ones other than keep: no live or opening switchboard, nothing queued, no event
// waiting for OnEvent. m.mu is held (then each conversation's locks are taken, the order
// groupFor uses). A negative limit keeps everything.
func (m *Manager) pruneLocked(set map[string]*Conversation, keep *Conversation, limit int, kind string) {
	if limit < 0 || len(set) <= limit {
		return
	}
	type candidate struct {
		c   *Conversation
		use uint64
	}
	var dormant []candidate
	for _, g := range set {
		if g == keep {
			continue
		}
		// m.mu is held: a conversation busy under its own lock (its reader may be turning
		// it into a group, which takes m.mu) is not dormant; waiting for it would deadlock.
		if !g.mu.TryLock() {
			continue
		}
		idle := g.active == nil && !g.opening && len(g.queue) == 0
		use := g.lastUse
		g.mu.Unlock()
		if idle && !g.eventsPending() {
			dormant = append(dormant, candidate{g, use})
		}
	}
	sort.Slice(dormant, func(i, j int) bool { return dormant[i].use < dormant[j].use })
	for _, d := range dormant {
		if len(set) <= limit {
			break
		}
		delete(set, d.c.id)
		m.log.Debug().Str("conversation", d.c.id).Str("kind", kind).Int("kept", len(set)).Msg("forgot a dormant conversation")
	}
}

// readopt registers conversation c again when it was forgotten (see Config.MaxGroups and
// Config.MaxConversations) and its id is free. It must be called without c's lock.
func (m *Manager) readopt(c *Conversation) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return
	}
	set := m.direct
	if c.group {
		set = m.groups
	}
	if _, ok := set[c.id]; ok {
		return
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return
	}
	if c.group {
		m.addGroupLocked(c)
	} else {
		m.addDirectLocked(c)
	}
}

func (m *Manager) dropGroup(c *Conversation) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.groups[c.id] == c {
		delete(m.groups, c.id)
	}
}

// groupFor finds the multi-party conversation with exactly these participants, or makes one.
func (m *Manager) groupFor(ps []Participant) *Conversation {
	want := map[string]bool{}
	for _, p := range ps {
		want[p.Passport] = true
	}
	m.mu.Lock()
	var found *Conversation
	for _, c := range m.groups {
		c.mu.Lock()
		same := len(c.members) == len(want)
		for _, p := range c.members {
			same = same && want[p.Passport]
		}
		closed := c.closed
		c.mu.Unlock()
		if same && !closed && (found == nil || c.id < found.id) {
			found = c
		}
	}
	m.mu.Unlock()
	if found != nil {
		return found
	}
	return m.newGroup(ps)
}

// HandleInvite accepts an invitation (an RNG from the NS) in the background; the
// conversation's events report what follows. Failures are logged. At most a few invitations
// are accepted at once and a bounded number wait; beyond that the invitation is refused
// (logged): a flood of RNGs costs neither unbounded goroutines nor memory.
func (m *Manager) HandleInvite(inv Invitation) {
	if m.isClosed() {
		return
	}
	select {
	case m.invites <- inv:
	default:
		m.log.Warn().Str("inviter", inv.Inviter).Int("waiting", maxInviteBacklog).Msg("too many switchboard invitations waiting: refusing this one")
		return
	}
	m.invMu.Lock()
	start := m.invActive < maxInviteWorkers
	if start {
		m.invActive++
	}
	m.invMu.Unlock()
	if start {
		go m.acceptInvites()
	}
}

// acceptInvites accepts waiting invitations one by one and ends when none waits.
func (m *Manager) acceptInvites() {
	for {
		var inv Invitation
		select {
		case inv = <-m.invites:
		default:
			// Stop only when nothing waits, deciding under invMu: HandleInvite queues first
			// and then starts a goroutine if fewer than the maximum run.
			m.invMu.Lock()
			if len(m.invites) == 0 {
				m.invActive--
				m.invMu.Unlock()
				return
			}
			m.invMu.Unlock()
			continue
		}
		if _, err := m.Accept(m.ctx, inv); err != nil && !errors.Is(err, ErrClosed) {
			m.log.Warn().Err(err).Str("inviter", inv.Inviter).Msg("could not accept switchboard invitation")
		}
	}
}

// Accept answers an invitation (ANS), reads the roster (IRO) and routes the switchboard: one
// other participant → that contact's one-to-one conversation; several → the multi-party
// conversation with the same participants, or a new one.
func (m *Manager) Accept(ctx context.Context, inv Invitation) (*Conversation, error) {
	if m.isClosed() {
		return nil, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.OpenTimeout)
	defer cancel()
	s, err := m.dial(ctx, inv.Addr)
	if err != nil {
		return nil, fmt.Errorf("sb: invitation from %s: %w", inv.Inviter, err)
	}
	if _, err := s.call(ctx, "ANS", m.selfID(), inv.Cookie, inv.SessionID); err != nil {
		s.shutdown(err)
		return nil, fmt.Errorf("sb: answer invitation from %s: %w", inv.Inviter, err)
	}
	ps := s.participants()
	var c *Conversation
	switch len(ps) {
	case 0:
		s.leave()
		return nil, fmt.Errorf("sb: invitation from %s: %w", inv.Inviter, ErrNoParticipants)
	case 1:
		c = m.Conversation(ps[0].Passport)
	default:
		c = m.groupFor(ps)
	}
	c.attach(s)
	return c, nil
}

// dial connects to a switchboard and starts its reader.
func (m *Manager) dial(ctx context.Context, addr string) (*switchboard, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("sb: bad switchboard address %q: %w", addr, err)
	}
	dctx, cancel := context.WithTimeout(ctx, m.cfg.DialTimeout)
	defer cancel()
	nc, err := m.cfg.Dial(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sb: connect to %s: %w", addr, err)
	}
	s := newSwitchboard(m, nc)
	m.mu.Lock()
	if m.closed.Load() {
		m.mu.Unlock()
		_ = nc.Close()
		return nil, ErrClosed
	}
	m.sbs[s] = struct{}{}
	m.mu.Unlock()
	go s.readLoop()
	return s, nil
}

func (m *Manager) forget(s *switchboard) {
	m.mu.Lock()
	delete(m.sbs, s)
	m.mu.Unlock()
}

// throttle spaces XFR SB requests by Config.XFRInterval.
func (m *Manager) throttle(ctx context.Context) error {
	if m.cfg.XFRInterval <= 0 {
		return nil
	}
	m.xfrMu.Lock()
	defer m.xfrMu.Unlock()
	if wait := time.Until(m.lastXFR.Add(m.cfg.XFRInterval)); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("sb: waiting to request a switchboard: %w", ctx.Err())
		}
	}
	m.lastXFR = time.Now()
	return nil
}

// Close leaves every switchboard and fails queued messages with ErrClosed. Events already
// queued are still delivered (possibly after Close returned), then the delivering goroutines
// end. Close may be called from OnEvent.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed.Load() {
		m.mu.Unlock()
		return nil
	}
	m.closed.Store(true)
	convs := make([]*Conversation, 0, len(m.direct)+len(m.groups))
	for _, c := range m.direct {
		convs = append(convs, c)
	}
	for _, c := range m.groups {
		convs = append(convs, c)
	}
	sbs := make([]*switchboard, 0, len(m.sbs))
	for s := range m.sbs {
		sbs = append(sbs, s)
	}
	m.mu.Unlock()
	for _, c := range convs {
		c.shutdown()
	}
	for _, s := range sbs {
		s.abandon()
	}
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	var err error
	for _, s := range sbs {
		select {
		case <-s.done:
		case <-deadline.C:
			err = errors.New("sb: switchboards did not close in time")
		}
		if err != nil {
			break
		}
	}
	m.cancel()
	return err
}

// maxPendingEvents is how many events of one conversation may wait for OnEvent before the
// reader of the switchboard carrying it stops reading (and so the server stops sending) until
// OnEvent catches up with that conversation.
const maxPendingEvents = 128

// emit queues an event for OnEvent; it never blocks.
func (m *Manager) emit(ev Event) {
	if c := ev.Conversation(); c != nil {
		c.enqueueEvent(ev)
	}
}

// emitFlow queues an event caused by input from switchboard s. While maxPendingEvents of the
// event's conversation wait, it blocks the reader, so a slow consumer of that conversation
// slows the server down through TCP instead of filling memory; nothing the server sent is
// dropped, except a typing notification (unacknowledged and short-lived), which is not
// worth waiting for. A closing switchboard or manager queues without waiting: a switchboard
// we left still reads what the server sent before our OUT (at most leaveDrain), and a reader
// held back there would lose it at the deadline, so that input is not bounded.
func (m *Manager) emitFlow(s *switchboard, ev Event) {
	c := ev.Conversation()
	if c == nil {
		return
	}
	for {
		c.evMu.Lock()
		if len(c.evQueue) < maxPendingEvents {
			c.evMu.Unlock()
			break
		}
		if _, typing := ev.(*TypingEvent); typing {
			c.evMu.Unlock()
			return
		}
		if c.evRoom == nil {
			c.evRoom = make(chan struct{})
		}
		room := c.evRoom
		c.evMu.Unlock()
		s.paused.Store(true)
		select {
		case <-room:
			s.paused.Store(false)
			continue
		case <-s.closingCh:
		case <-m.ctx.Done():
		}
		s.paused.Store(false)
		break
	}
	c.enqueueEvent(ev)
}
