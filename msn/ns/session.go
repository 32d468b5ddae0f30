package ns

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/abch"
	"github.com/msnbridge/msnbridge/msn/wire"
)

// Defaults of Config.MaxContacts, which bounds the contact map against a server pushing
// presence for endless unknown handles, and Config.MaxGroups, which bounds the group map.
const (
	DefaultMaxContacts = 20000
	DefaultMaxGroups   = 1000
)

const (
	maxQueuedEvents = 8192
	pendingBuffer   = 64
	maxQNGInterval  = 10 * time.Minute
)

// Session is a logged-in Notification Server session. All methods are safe for concurrent use.
type Session struct {
	cfg Config // cfg.Logger has logHook: every line names the session
	// logVersion is the negotiated version for the log lines (0 before VER): atomic, as
	// lines are logged with s.mu held.
	logVersion atomic.Int32
	passport   string

	conn net.Conn
	rd   *wire.Reader
	w    *wire.Writer
	wmu  sync.Mutex
	trid atomic.Uint32
	// uumMu keeps the UUMs of one offline text together (SendOfflineText).
	uumMu sync.Mutex

	mu      sync.Mutex
	version int
	name    string
	status  Status
	psm     string
	msnobj  string
	// selfEndpoints is the digest of our own last UBX endpoint list (endpointsKey), to
	// report changes; each contact has its own (contact.epKey).
	selfEndpoints uint32
	contacts      map[string]*contact
	groups        map[string]string
	mspauth       string
	tickets       []domainTicket // SSO tickets (ssoTickets)
	twnTicket     string
	pending       map[uint32]chan *wire.Command
	sync          *syncState
	loggedIn      bool
	failed        bool
	closedByMe    bool
	machineGUID   string
	ab            *abch.Client
	renewal       ticketRenewal

	done      chan struct{}
	err       error
	closeOnce sync.Once

	evMu     sync.Mutex
	evQueue  []Event
	evClosed bool
	evActive bool          // a dispatcher goroutine is draining evQueue
	evDone   chan struct{} // closed once the session closed and the last event was delivered
	evEnded  bool          // evDone is closed

	ka keepAliveState
}

// syncState tracks a SYN (MSNP ≤ 12) in progress.
type syncState struct {
	trid               uint32
	gotReply           bool
	nContacts, nGroups int
	seenLST, seenLSG   int
	done               chan struct{}
	finished           bool
}

func newSession(cfg Config, passport string, conn net.Conn) *Session {
	if cfg.MaxContacts <= 0 {
		cfg.MaxContacts = DefaultMaxContacts
	}
	if cfg.MaxGroups <= 0 {
		cfg.MaxGroups = DefaultMaxGroups
	}
	s := &Session{
		cfg:      cfg,
		passport: strings.ToLower(passport),
		conn:     conn,
		rd:       wire.NewReader(conn, wire.FromServer, cfg.Limits),
		w:        wire.NewWriterKeeping(conn, maxKeptWriteBuffer),
		contacts: map[string]*contact{},
		groups:   map[string]string{},
		pending:  map[uint32]chan *wire.Command{},
		done:     make(chan struct{}),
		evDone:   make(chan struct{}),
		status:   cfg.InitialStatus,
	}
	// A hook rather than a child logger (With): zerolog gives each child a 500-byte context
	// buffer, kept for the session's lifetime; the hook adds the fields to enabled lines only.
	s.cfg.Logger = cfg.Logger.Hook(logHook{s})
	go s.readLoop()
	return s
}

func (s *Session) logger() *zerolog.Logger { return &s.cfg.Logger }

// logHook adds the session's passport and, once negotiated, protocol version to a log line.
type logHook struct{ s *Session }

// Run implements zerolog.Hook.
func (h logHook) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	e.Str("passport", h.s.passport)
	if v := h.s.logVersion.Load(); v != 0 {
		e.Int("version", int(v))
	}
}

// Version returns the negotiated protocol version.
func (s *Session) Version() int { s.mu.Lock(); defer s.mu.Unlock(); return s.version }

// Passport returns the account's passport (e-mail), lower-case.
func (s *Session) Passport() string { return s.passport }

// FriendlyName returns our own friendly name.
func (s *Session) FriendlyName() string { s.mu.Lock(); defer s.mu.Unlock(); return s.name }

// Status returns our own current status.
func (s *Session) Status() Status { s.mu.Lock(); defer s.mu.Unlock(); return s.status }

// Groups returns the contact groups, sorted by ID.
func (s *Session) Groups() []Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Group, 0, len(s.groups))
	for id, name := range s.groups {
		out = append(out, Group{ID: id, Name: name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Contacts returns a snapshot of the contact list (every handle on any list), sorted by
// passport. Contact also knows handles seen only through presence (circle members).
func (s *Session) Contacts() []Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Contact, 0, len(s.contacts))
	for _, c := range s.contacts {
		if c.lists != 0 {
			out = append(out, c.snapshot())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Passport < out[j].Passport })
	return out
}

// Contact returns one contact by passport (case-insensitive).
func (s *Session) Contact(passport string) (Contact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.contacts[strings.ToLower(passport)]
	if !ok {
		return Contact{}, false
	}
	return c.snapshot(), true
}

// compactContactsLocked moves the contact records into one allocation and their passports
// and friendly names into another: the contact list is built while the login's replies are
// parsed, and small objects allocated one by one amid that garbage each keep a span of the
// heap in use long after the garbage is collected. The map then points into the slab (no
// pointer to a record outlives s.mu) and is keyed by the strings of the block, which never
// leave the session: snapshots copy them (contact.snapshot), so that a caller keeping a
// passport does not keep the block. s.mu must be held.
func (s *Session) compactContactsLocked() {
	if len(s.contacts) < 2 {
		return
	}
	slab := make([]contact, 0, len(s.contacts))
	size := 0
	for _, c := range s.contacts {
		slab = append(slab, *c)
		size += len(c.passport)
		if c.name != c.passport {
			size += len(c.name)
		}
	}
	var b strings.Builder
	b.Grow(size)
	for i := range slab {
		b.WriteString(slab[i].passport)
		if slab[i].name != slab[i].passport {
			b.WriteString(slab[i].name)
		}
	}
	block := b.String()
	byPassport := make(map[string]*contact, len(slab))
	off := 0
	for i := range slab {
		r, c := &slab[i], slab[i]
		r.passport = block[off : off+len(c.passport)]
		off += len(c.passport)
		if c.name == c.passport {
			r.name = r.passport
		} else {
			r.name = block[off : off+len(c.name)]
			off += len(c.name)
		}
		byPassport[r.passport] = r
	}
	s.contacts = byPassport
}

// roomForLocked reports whether passport is known or may still be added. s.mu must be held.
func (s *Session) roomForLocked(passport string) bool {
	if _, ok := s.contacts[passport]; ok {
		return true
	}
	return len(s.contacts) < s.cfg.MaxContacts
}

// roomForGroupLocked reports whether group id is known or may still be added. s.mu must be held.
func (s *Session) roomForGroupLocked(id string) bool {
	if _, ok := s.groups[id]; ok {
		return true
	}
	return len(s.groups) < s.cfg.MaxGroups
}

// contactLocked returns the contact entry for passport, creating it. s.mu must be held.
func (s *Session) contactLocked(passport string) *contact {
	c, ok := s.contacts[passport]
	if !ok {
		passport = strings.Clone(passport)               // the map key outlives the command it came from
		c = &contact{passport: passport, name: passport} // status 0: Offline
		s.contacts[passport] = c
	}
	return c
}

// Ticket returns the SSO ticket for a domain (MSNP15+) or the TWN ticket (MSNP8–14), or "".
// The SSO tickets kept are those of messengerclear.live.com, contacts.msn.com,
// messenger.msn.com, messengersecure.live.com and storage.msn.com.
func (s *Session) Ticket(domain string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.ticketLocked(domain); ok {
		return t
	}
	return s.twnTicket
}

// MSPAuth returns the MSPAuth value of the login profile message.
func (s *Session) MSPAuth() string { s.mu.Lock(); defer s.mu.Unlock(); return s.mspauth }

// ChallengeAnswer computes the answer to a challenge for the negotiated version (also the OIM
// lock key).
func (s *Session) ChallengeAnswer(chl string) (productID, answer string) {
	return challengeResponse(s.Version(), chl)
}

// Done is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns the disconnect cause after Done is closed (nil after Close).
func (s *Session) Err() error { s.mu.Lock(); defer s.mu.Unlock(); return s.err }

// Close logs out (OUT) and closes the connection. It is safe to call more than once.
func (s *Session) Close() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	s.mu.Lock()
	s.closedByMe = true
	s.mu.Unlock()
	err := s.send(wire.NewNoTrID("OUT"))
	s.fail(nil)
	if err != nil {
		return fmt.Errorf("msn: logout: %w", err)
	}
	return nil
}

// fail ends the session once with cause (nil for a clean Close).
func (s *Session) fail(cause error) {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.err = cause
		s.failed = true
		loggedIn := s.loggedIn
		for _, c := range s.contacts {
			c.setStatus(Offline)
		}
		s.mu.Unlock()
		_ = s.conn.Close()
		close(s.done)
		s.stopKeepAlive()
		if cause != nil {
			s.logger().Warn().Err(cause).Msg("NS session ended")
		} else {
			s.logger().Info().Msg("NS session closed")
		}
		if loggedIn {
			s.emit(&DisconnectEvent{Err: cause})
		}
		s.evMu.Lock()
		s.evClosed = true
		if !s.evActive {
			s.endEventsLocked()
		}
		s.evMu.Unlock()
	})
}

// closedError is what a request gets when the session has ended.
func (s *Session) closedError() error {
	if err := s.Err(); err != nil {
		return err
	}
	return ErrClosed
}

// send writes one command with a write deadline.
func (s *Session) send(cmd *wire.Command) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.cfg.RequestTimeout))
	s.logger().Trace().Stringer("cmd", cmd).Msg("send")
	return s.w.WriteCommand(cmd)
}

// maxKeptWriteBuffer is the largest write buffer the session keeps between commands: the
// login's long ones (USR with its ticket, the initial ADL) would otherwise stay for the
// session's lifetime.
const maxKeptWriteBuffer = 256

func (s *Session) nextTrID() uint32 {
	for {
		if id := s.trid.Add(1); id != 0 {
			return id
		}
	}
}

// register allocates a TrID for cmd and a reply channel.
func (s *Session) register(cmd *wire.Command) (chan *wire.Command, error) {
	cmd.TrID, cmd.HasTrID = s.nextTrID(), true
	ch := make(chan *wire.Command, pendingBuffer)
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return nil, s.closedErrorLocked()
	default:
	}
	s.pending[cmd.TrID] = ch
	return ch, nil
}

func (s *Session) closedErrorLocked() error {
	if s.err != nil {
		return s.err
	}
	return ErrClosed
}

func (s *Session) unregister(trid uint32) {
	s.mu.Lock()
	delete(s.pending, trid)
	s.mu.Unlock()
}

// roundTrip sends cmd with a fresh TrID and feeds every reply with that TrID to accept until it
// reports done. Error replies end the exchange as *wire.ServerError. The wait is bounded by
// RequestTimeout and ctx.
func (s *Session) roundTrip(ctx context.Context, cmd *wire.Command, accept func(*wire.Command) (bool, error)) error {
	ch, err := s.register(cmd)
	if err != nil {
		return err
	}
	defer s.unregister(cmd.TrID)
	if err := s.send(cmd); err != nil {
		return fmt.Errorf("msn: send %s: %w", cmd.Name, err)
	}
	return s.wait(ctx, cmd.Name, ch, accept, nil)
}

// wait feeds replies to accept until it is done, doneCh closes, or the request times out.
func (s *Session) wait(ctx context.Context, name string, ch chan *wire.Command, accept func(*wire.Command) (bool, error), doneCh <-chan struct{}) error {
	timer := time.NewTimer(s.cfg.RequestTimeout)
	defer timer.Stop()
	for {
		var r *wire.Command
		select {
		case r = <-ch:
		case <-doneCh:
			return nil
		case <-timer.C:
			return fmt.Errorf("msn: %s: no reply within %v: %w", name, s.cfg.RequestTimeout, ErrTimeout)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("msn: %s: %w: %w", name, ErrTimeout, ctx.Err())
			}
			return fmt.Errorf("msn: %s: %w", name, ctx.Err())
		case <-s.done:
			// The reader queues every reply it read before it ends the session, so a reply
			// followed at once by the end of the connection (XFR NS, then the dispatch server
			// hangs up) is in ch already: it still answers the request.
			select {
			case r = <-ch:
			default:
				return fmt.Errorf("msn: %s: %w", name, s.closedError())
			}
		}
		if r.IsError() {
			return fmt.Errorf("msn: %s: %w", name, r.Err())
		}
		done, err := accept(r)
		if err != nil || done {
			return err
		}
	}
}

// request sends cmd and returns the first reply whose name is one of names.
func (s *Session) request(ctx context.Context, cmd *wire.Command, names ...string) (*wire.Command, error) {
	var got *wire.Command
	err := s.roundTrip(ctx, cmd, func(r *wire.Command) (bool, error) {
		for _, n := range names {
			if r.Name == n {
				got = r
				return true, nil
			}
		}
		return false, nil
	})
	return got, err
}

// deliver hands a reply to the request waiting for its TrID; it reports whether one was found.
func (s *Session) deliver(cmd *wire.Command) bool {
	if !cmd.HasTrID || cmd.TrID == 0 {
		return false
	}
	s.mu.Lock()
	ch, ok := s.pending[cmd.TrID]
	s.mu.Unlock()
	if !ok {
		return false
	}
	select {
	case ch <- cmd:
	default:
		s.logger().Warn().Stringer("cmd", cmd).Msg("reply queue full; reply dropped")
	}
	return true
}

// emit queues an event for in-order delivery to Config.OnEvent.
func (s *Session) emit(ev Event) {
	s.evMu.Lock()
	if s.evClosed {
		s.evMu.Unlock()
		return
	}
	// The DisconnectEvent is the last event and the one a caller must not miss: it is queued
	// even when the queue is full.
	if _, last := ev.(*DisconnectEvent); len(s.evQueue) >= maxQueuedEvents && !last {
		s.evMu.Unlock()
		s.logger().Error().Str("event", fmt.Sprintf("%T", ev)).Msg("event queue full; event dropped (OnEvent too slow)")
		return
	}
	s.evQueue = append(s.evQueue, ev)
	start := !s.evActive
	s.evActive = true
	s.evMu.Unlock()
	if start {
		go s.dispatch()
	}
}

// endEventsLocked marks the end of event delivery (evMu held).
func (s *Session) endEventsLocked() {
	if !s.evEnded {
		s.evEnded = true
		close(s.evDone)
	}
}

// dispatch delivers the queued events in order and ends when the queue is empty, so an idle
// session has no dispatcher goroutine; emit starts one when events arrive (one at a time).
func (s *Session) dispatch() {
	for {
		s.evMu.Lock()
		if len(s.evQueue) == 0 {
			s.evQueue = nil // release the backing array of a burst (the initial presence)
			s.evActive = false
			if s.evClosed {
				s.endEventsLocked()
			}
			s.evMu.Unlock()
			return
		}
		ev := s.evQueue[0]
		s.evQueue[0] = nil
		s.evQueue = s.evQueue[1:]
		s.evMu.Unlock()
		if s.cfg.OnEvent != nil {
			s.cfg.OnEvent(ev)
		}
	}
}

// readLoop is the connection's only reader.
func (s *Session) readLoop() {
	for {
		cmd, err := s.rd.ReadCommand()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			s.fail(&DisconnectError{Reason: "connection lost", Err: err})
			return
		}
		s.logger().Trace().Stringer("cmd", cmd).Msg("recv")
		if stop := s.handle(cmd); stop {
			return
		}
	}
}

// keepAliveState holds the session's timers (keep-alive and ticket renewal): no goroutine
// waits while the session idles.
type keepAliveState struct {
	mu       sync.Mutex
	interval time.Duration
	ping     *time.Timer // sends the next PNG
	dead     *time.Timer // set while a PNG waits for its QNG; ends the session when it fires
	renew    *time.Timer // renews the HTTP tickets
	stopped  bool
}

// startKeepAlive pings on the server's interval and ends the session when QNG stops coming.
func (s *Session) startKeepAlive() {
	s.ka.mu.Lock()
	defer s.ka.mu.Unlock()
	if s.ka.stopped || s.ka.ping != nil {
		return
	}
	s.ka.interval = s.cfg.PingInterval
	s.ka.ping = time.AfterFunc(s.ka.interval, s.sendPing)
}

// sendPing sends PNG and arms the timer that ends the session without a QNG in 2 intervals.
func (s *Session) sendPing() {
	select {
	case <-s.done:
		return
	default:
	}
	s.ka.mu.Lock()
	if s.ka.stopped {
		s.ka.mu.Unlock()
		return
	}
	wait := 2 * s.ka.interval
	s.ka.dead = time.AfterFunc(wait, func() {
		s.fail(&DisconnectError{Reason: fmt.Sprintf("no QNG within %v", wait)})
	})
	s.ka.mu.Unlock()
	if err := s.send(wire.NewNoTrID("PNG")); err != nil {
		s.fail(&DisconnectError{Reason: "keep-alive write failed", Err: err})
	}
}

// gotQNG answers the outstanding ping: the next one follows after the interval QNG names.
// A QNG without a ping outstanding changes nothing.
func (s *Session) gotQNG(n int) {
	s.ka.mu.Lock()
	defer s.ka.mu.Unlock()
	if s.ka.stopped || s.ka.dead == nil || !s.ka.dead.Stop() {
		return
	}
	s.ka.dead = nil
	s.ka.interval = qngInterval(n, s.ka.interval)
	s.ka.ping.Reset(s.ka.interval)
}

// stopKeepAlive stops the keep-alive timers (the session ended).
func (s *Session) stopKeepAlive() {
	s.ka.mu.Lock()
	defer s.ka.mu.Unlock()
	s.ka.stopped = true
	if s.ka.ping != nil {
		s.ka.ping.Stop()
	}
	if s.ka.dead != nil {
		s.ka.dead.Stop()
	}
	if s.ka.renew != nil {
		s.ka.renew.Stop()
	}
}

// qngInterval is the ping interval after "QNG n": n seconds, capped at maxQNGInterval (the cap
// is applied before converting so that a huge n cannot overflow into a negative interval); a
// bare or non-positive QNG keeps the current interval.
func qngInterval(n int, cur time.Duration) time.Duration {
	if n <= 0 {
		return cur
	}
	return time.Duration(min(n, int(maxQNGInterval/time.Second))) * time.Second
}

func defaultHTTPClient(cfg Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.InsecureSkipVerify {
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{}
		}
		tr.TLSClientConfig.InsecureSkipVerify = true
	}
	tr.ResponseHeaderTimeout = cfg.RequestTimeout
	return &http.Client{Transport: tr, Timeout: cfg.RequestTimeout}
}
