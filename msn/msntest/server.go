package msntest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/wire"
)

// List bits of a contact-list entry.
const (
	FL = 1  // forward list: the owner watches the contact
	AL = 2  // allow list
	BL = 4  // block list
	RL = 8  // reverse list: the contact has the owner on its FL
	PL = 16 // pending list: the contact added the owner, not yet acknowledged
)

// Options configures a Server. The zero value is usable.
type Options struct {
	// Logger receives structured server logs; default zerolog.Nop().
	Logger *zerolog.Logger
	// Dispatch, when true, runs a separate dispatch listener that answers USR … I with
	// XFR … NS <ns address> in the format of the negotiated version and closes.
	Dispatch bool
	// TWNTokenTTL is how long a /login token stays valid (Escargot: 30 s).
	TWNTokenTTL time.Duration
	// SSOTokenTTL is how long an RST.srf token stays valid (Escargot: 24 h).
	SSOTokenTTL time.Duration
	// SBCookieTTL is how long XFR and RNG switchboard cookies stay valid (Escargot: 120 s).
	SBCookieTTL time.Duration
	// SBAuthTimeout closes switchboard connections that send no USR/ANS in time (60 s).
	SBAuthTimeout time.Duration
	// SBIdleTimeout, when set, drops every participant of a switchboard session that carried
	// no MSG for that long; the others see "BYE email 1". Escargot has none (0).
	SBIdleTimeout time.Duration
	// WriteTimeout bounds every write to a client (default 5 s).
	WriteTimeout time.Duration
	// MaxLine and MaxPayload bound what the NS reads (defaults of wire.Limits).
	MaxLine, MaxPayload int
	// AdvertiseSB, when set, is the switchboard host:port put in XFR and RNG instead of the
	// listener address (for a server behind a proxy or port mapping).
	AdvertiseSB string
	// AdvertiseNS, when set, is the NS host:port the dispatch server refers clients to.
	AdvertiseNS string
}

// CommandEvent describes one command received by the server, for [Server.OnCommand].
type CommandEvent struct {
	// Service is "NS", "SB" or "DS" (dispatch).
	Service string
	// Passport is the authenticated account of the connection, "" before login.
	Passport string
	// Version is the negotiated MSNP version, 0 before VER.
	Version int
	// Command is the command as read (payload included).
	Command *wire.Command
}

// Group is a contact group of an account.
type Group struct {
	// ID is the group id: a GUID (MSNP10+/ABCH); MSNP≤9 shows a small number derived from the
	// position.
	ID string
	// Name is the group's name.
	Name string
}

type listEntry struct {
	passport  string
	lists     int
	groups    []string // group IDs
	contactID string   // AB contact GUID
	inAB      bool
	added     time.Time
}

type endpoint struct {
	guid       string // lower-case, no braces
	epName     string
	clientType string
	state      string
	idle       string
	caps       string
}

// Account is a stored user. Fields are guarded by Server.mu.
type Account struct {
	passport string
	password string
	friendly string
	salt     string
	cid      int64
	puid     string // hex contact guid used as "pid"
	guid     string // AB id of the account itself
	memberHi uint32
	memberLo uint32
	blp      string
	gtc      string
	order    []string // passports in insertion order
	entries  map[string]*listEntry
	groups   []Group

	// presence
	status   string // "" / FLN = offline
	caps     string
	msnobj   string
	psm      string
	media    string
	dataXML  string // raw last <Data> UUX payload
	virtual  bool   // online through a scripted Contact
	logins   int
	contact  *Contact
	endpoint map[string]*endpoint
}

// Server is the fake MSN server. Create it with [New], then [Server.Start]; [Server.Close]
// stops every listener and connection and waits for their goroutines.
type Server struct {
	opts Options
	log  zerolog.Logger

	mu        sync.Mutex
	accounts  map[string]*Account
	ns        map[*nsConn]struct{}
	sbConns   map[*sbConn]struct{}
	dsConns   map[net.Conn]struct{}
	outboxes  map[*outbox]struct{} // every outbox whose writer has not exited
	twnTokens map[string]twnToken  // 20-char token → passport
	ssoTokens map[string]ssoToken
	sbCookies map[string]sbCookie
	sessions  map[string]*sbSession
	oims      []*OfflineMessage
	oimSeq    map[string]int // last X-OIM-Sequence-Num per sender and recipient (storeOIM)
	hooks     []func(CommandEvent)
	silent    bool
	dropAfter int
	ackMode   AckMode
	ackDelay  time.Duration

	// checkTicketExpiry: SOAP services accept only unexpired tokens (see SetTicketExpiry).
	checkTicketExpiry bool

	nsLn, sbLn, dsLn, httpLn net.Listener
	httpSrv                  *http.Server
	wg                       sync.WaitGroup
	closed                   chan struct{}
	closeOnce                sync.Once
	started                  bool
	connSeq                  uint64
}

type twnToken struct {
	passport string
	expires  time.Time
}

type ssoToken struct {
	passport string
	secret   string
	expires  time.Time
}

type sbCookie struct {
	passport string
	guid     string
	version  int
	session  string // "" for XFR cookies
	expires  time.Time
}

// AckMode selects how the switchboard answers MSG with ack type A or D.
type AckMode int

const (
	// AckNormal sends ACK (Escargot's behaviour).
	AckNormal AckMode = iota
	// AckNAK sends NAK instead.
	AckNAK
	// AckNone sends nothing.
	AckNone
	// AckDelayed sends ACK after the delay set with SetAckMode.
	AckDelayed
)

// New returns a server configured by opts; call Start to listen.
func New(opts Options) (*Server, error) {
	if opts.TWNTokenTTL <= 0 {
		opts.TWNTokenTTL = 30 * time.Second
	}
	if opts.SSOTokenTTL <= 0 {
		opts.SSOTokenTTL = 24 * time.Hour
	}
	if opts.SBCookieTTL <= 0 {
		opts.SBCookieTTL = 120 * time.Second
	}
	if opts.SBAuthTimeout <= 0 {
		opts.SBAuthTimeout = 60 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 5 * time.Second
	}
	if opts.MaxLine < 0 || opts.MaxPayload < 0 {
		return nil, errors.New("msntest: negative read limits")
	}
	log := zerolog.Nop()
	if opts.Logger != nil {
		log = *opts.Logger
	}
	return &Server{
		opts:      opts,
		log:       log,
		accounts:  map[string]*Account{},
		ns:        map[*nsConn]struct{}{},
		sbConns:   map[*sbConn]struct{}{},
		dsConns:   map[net.Conn]struct{}{},
		outboxes:  map[*outbox]struct{}{},
		twnTokens: map[string]twnToken{},
		ssoTokens: map[string]ssoToken{},
		sbCookies: map[string]sbCookie{},
		sessions:  map[string]*sbSession{},
		closed:    make(chan struct{}),
	}, nil
}

// Start opens the listeners on 127.0.0.1 with free ports and starts serving.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("msntest: server already started")
	}
	listen := func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
	var err error
	if s.nsLn, err = listen(); err != nil {
		return fmt.Errorf("listen NS: %w", err)
	}
	if s.sbLn, err = listen(); err != nil {
		s.nsLn.Close()
		return fmt.Errorf("listen SB: %w", err)
	}
	if s.httpLn, err = listen(); err != nil {
		s.nsLn.Close()
		s.sbLn.Close()
		return fmt.Errorf("listen HTTP: %w", err)
	}
	if s.opts.Dispatch {
		if s.dsLn, err = listen(); err != nil {
			s.nsLn.Close()
			s.sbLn.Close()
			s.httpLn.Close()
			return fmt.Errorf("listen dispatch: %w", err)
		}
	}
	s.started = true
	s.httpSrv = &http.Server{
		Handler:           s.httpHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.httpSrv.Serve(s.httpLn)
	}()
	s.acceptLoop(s.nsLn, s.serveNS)
	s.acceptLoop(s.sbLn, s.serveSB)
	if s.dsLn != nil {
		s.acceptLoop(s.dsLn, s.serveDS)
	}
	s.log.Info().Str("ns", s.nsLn.Addr().String()).Str("sb", s.sbLn.Addr().String()).
		Str("http", s.httpLn.Addr().String()).Msg("fake MSN server started")
	return nil
}

func (s *Server) acceptLoop(ln net.Listener, serve func(net.Conn)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				serve(c)
			}()
		}
	}()
}

// Close stops all listeners, closes every connection and waits for all goroutines.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.mu.Lock()
		for _, ln := range []net.Listener{s.nsLn, s.sbLn, s.dsLn} {
			if ln != nil {
				ln.Close()
			}
		}
		// Every outbox, including those of dropped connections still flushing to a peer that
		// may not read: closing their sockets makes blocked writes fail now.
		for o := range s.outboxes {
			o.abort()
		}
		for c := range s.ns {
			c.conn.Close()
		}
		for c := range s.sbConns {
			c.conn.Close()
		}
		for c := range s.dsConns {
			c.Close()
		}
		for _, ss := range s.sessions {
			if ss.idle != nil {
				ss.idle.Stop()
			}
		}
		srv := s.httpSrv
		s.mu.Unlock()
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = srv.Shutdown(ctx)
			cancel()
			_ = srv.Close()
		}
	})
	s.wg.Wait()
	return nil
}

// NSAddr returns the notification server address (host:port). With Options.Dispatch the
// clients should still be pointed at DispatchAddr.
func (s *Server) NSAddr() string { return s.nsLn.Addr().String() }

// SBAddr returns the switchboard address as advertised in XFR and RNG (Options.AdvertiseSB or
// the listener address).
func (s *Server) SBAddr() string {
	if s.opts.AdvertiseSB != "" {
		return s.opts.AdvertiseSB
	}
	return s.sbLn.Addr().String()
}

// SBListenAddr returns the address the switchboard listener is bound to.
func (s *Server) SBListenAddr() string { return s.sbLn.Addr().String() }

// DispatchAddr returns the dispatch server address, or NSAddr when no dispatch runs.
func (s *Server) DispatchAddr() string {
	if s.dsLn == nil {
		return s.NSAddr()
	}
	return s.dsLn.Addr().String()
}

// HTTPURL returns the base URL of the HTTP services, e.g. "http://127.0.0.1:1234".
func (s *Server) HTTPURL() string { return "http://" + s.httpLn.Addr().String() }

// ---- accounts --------------------------------------------------------------------------

// AddAccount creates an account. An empty friendlyName defaults to the passport, like a new
// Escargot account.
func (s *Server) AddAccount(passport, password, friendlyName string) error {
	p := normPassport(passport)
	if p == "" || !strings.Contains(p, "@") || strings.ContainsAny(p, " \r\n;") {
		return fmt.Errorf("msntest: invalid passport %q", passport)
	}
	if friendlyName == "" {
		friendlyName = p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.accounts[p]; ok {
		return fmt.Errorf("msntest: account %s already exists", p)
	}
	g := newGUID()
	a := &Account{
		passport: p, password: password, friendly: friendlyName,
		salt: randHex(15), guid: g,
		blp: "AL", gtc: "A",
		entries:  map[string]*listEntry{},
		endpoint: map[string]*endpoint{},
	}
	hx := strings.ReplaceAll(g, "-", "")
	cid, _ := strconv.ParseUint(hx[16:32], 16, 64)
	a.cid = int64(cid)
	a.puid = hx[16:32]
	hi, _ := strconv.ParseUint(hx[0:8], 16, 32)
	lo, _ := strconv.ParseUint(hx[8:16], 16, 32)
	a.memberHi, a.memberLo = uint32(hi), uint32(lo)
	s.accounts[p] = a
	return nil
}

// SetPassword changes an account's password.
func (s *Server) SetPassword(passport, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[normPassport(passport)]
	if a == nil {
		return fmt.Errorf("msntest: no account %s", passport)
	}
	a.password = password
	return nil
}

// AddGroup adds a contact group to owner's list and returns its id.
func (s *Server) AddGroup(owner, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[normPassport(owner)]
	if a == nil {
		return "", fmt.Errorf("msntest: no account %s", owner)
	}
	g := Group{ID: newGUID(), Name: name}
	a.groups = append(a.groups, g)
	return g.ID, nil
}

// AddContact puts contact on owner's lists (a mask of FL, AL, BL, RL, PL) and groups. Adding
// FL also sets RL on the contact's side, as the server does. It sends no notification: use it
// to prepare state before logins (see AddedBy for a live notification).
func (s *Server) AddContact(owner, contact string, lists int, groups ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[normPassport(owner)]
	b := s.accounts[normPassport(contact)]
	if a == nil || b == nil {
		return fmt.Errorf("msntest: unknown account in AddContact(%s, %s)", owner, contact)
	}
	e := a.entry(b.passport, true)
	e.lists |= lists
	if lists&FL != 0 {
		e.inAB = true
		b.entry(a.passport, true).lists |= RL
	}
	for _, g := range groups {
		if !a.hasGroup(g) {
			return fmt.Errorf("msntest: %s has no group %s", owner, g)
		}
		if !containsStr(e.groups, g) {
			e.groups = append(e.groups, g)
		}
	}
	return nil
}

// RemoveContact removes bits from owner's entry for contact without notifications.
func (s *Server) RemoveContact(owner, contact string, lists int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[normPassport(owner)]
	if a == nil {
		return fmt.Errorf("msntest: no account %s", owner)
	}
	e := a.entry(normPassport(contact), false)
	if e == nil {
		return nil
	}
	e.lists &^= lists
	if lists&FL != 0 {
		e.inAB = false
		if b := s.accounts[e.passport]; b != nil {
			if be := b.entry(a.passport, false); be != nil {
				be.lists &^= RL
			}
		}
	}
	return nil
}

// Lists returns the list bits owner has for contact.
func (s *Server) Lists(owner, contact string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[normPassport(owner)]
	if a == nil {
		return 0
	}
	if e := a.entry(normPassport(contact), false); e != nil {
		return e.lists
	}
	return 0
}

// FriendlyName returns the stored friendly name of an account.
func (s *Server) FriendlyName(passport string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[normPassport(passport)]; a != nil {
		return a.friendly
	}
	return ""
}

// Status returns an account's presence status ("FLN" when offline).
func (s *Server) Status(passport string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[normPassport(passport)]; a != nil {
		return a.presence()
	}
	return "FLN"
}

// PersonalMessage returns an account's stored personal message.
func (s *Server) PersonalMessage(passport string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[normPassport(passport)]; a != nil {
		return a.psm
	}
	return ""
}

// Logins returns how many successful NS logins the account made.
func (s *Server) Logins(passport string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[normPassport(passport)]; a != nil {
		return a.logins
	}
	return 0
}

// OnCommand registers a hook called (outside the server lock) for every command received on
// any connection, before it is handled.
func (s *Server) OnCommand(f func(CommandEvent)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, f)
}

// SetSilent makes the NS read every command and never answer (true) or behave normally.
func (s *Server) SetSilent(silent bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.silent = silent
}

// SetDropAfter makes every NS connection close after it received n commands (0 disables).
func (s *Server) SetDropAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropAfter = n
}

// SetAckMode selects how the switchboard answers MSG A/D; delay is used by AckDelayed.
func (s *Server) SetAckMode(m AckMode, delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ackMode, s.ackDelay = m, delay
}

func (s *Server) fireHooks(ev CommandEvent) {
	s.mu.Lock()
	hooks := append([]func(CommandEvent){}, s.hooks...)
	s.mu.Unlock()
	for _, h := range hooks {
		h(ev)
	}
}

// ---- account helpers (mu held) ---------------------------------------------------------

func (a *Account) entry(p string, create bool) *listEntry {
	if e, ok := a.entries[p]; ok {
		return e
	}
	if !create {
		return nil
	}
	e := &listEntry{passport: p, contactID: newGUID(), added: time.Now().UTC()}
	a.entries[p] = e
	a.order = append(a.order, p)
	return e
}

func (a *Account) hasGroup(id string) bool {
	for _, g := range a.groups {
		if g.ID == id {
			return true
		}
	}
	return false
}

func (a *Account) lists(p string) int {
	if e := a.entries[p]; e != nil {
		return e.lists
	}
	return 0
}

// sortedEntries returns the entries in insertion order.
func (a *Account) sortedEntries() []*listEntry {
	out := make([]*listEntry, 0, len(a.order))
	for _, p := range a.order {
		if e := a.entries[p]; e != nil {
			out = append(out, e)
		}
	}
	return out
}

// presence returns the account's visible status: FLN when offline.
func (a *Account) presence() string {
	if a.status == "" {
		return "FLN"
	}
	return a.status
}

// allows reports whether a lets w see its presence and talk to it.
func (a *Account) allows(w string) bool {
	l := a.lists(w)
	if l&BL != 0 {
		return false
	}
	if a.blp == "BL" && l&AL == 0 {
		return false
	}
	return true
}

func containsStr(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
