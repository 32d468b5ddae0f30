package ns

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/msnbridge/msnbridge/msn/abch"
	"github.com/msnbridge/msnbridge/msn/auth"
	"github.com/msnbridge/msnbridge/msn/wire"
)

// Defaults applied by Login.
const (
	DefaultDialTimeout    = 15 * time.Second
	DefaultRequestTimeout = 30 * time.Second
	DefaultLoginTimeout   = 90 * time.Second
	DefaultPingInterval   = 60 * time.Second
	// DefaultMinTicketRenewal is the least time between two scheduled ticket renewals.
	DefaultMinTicketRenewal = time.Minute
	maxRedirects            = 5
)

// DefaultVersions is the version offer used when Config.Versions is empty.
var DefaultVersions = []int{18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8}

// Default service endpoints (the historical Microsoft ones; revival servers need their own).
const (
	DefaultNexusURL       = "https://nexus.passport.com/rdr/pprdr.asp"
	DefaultRSTURL         = "https://login.live.com/RST.srf"
	DefaultSharingURL     = "https://contacts.msn.com/abservice/SharingService.asmx"
	DefaultAddressBookURL = "https://contacts.msn.com/abservice/abservice.asmx"
)

// ErrNoCommonVersion means the server speaks none of the offered versions ("VER t 0").
var ErrNoCommonVersion = errors.New("msn: server supports none of the offered protocol versions")

func (cfg *Config) setDefaults() error {
	if cfg.Server == "" {
		return errors.New("msn: Config.Server is empty")
	}
	if len(cfg.Versions) == 0 {
		cfg.Versions = DefaultVersions
	}
	for _, v := range cfg.Versions {
		if v < 2 || v > 18 {
			return fmt.Errorf("msn: protocol version %d not supported (2…18)", v)
		}
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.LoginTimeout <= 0 {
		cfg.LoginTimeout = DefaultLoginTimeout
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.MinTicketRenewal <= 0 {
		cfg.MinTicketRenewal = DefaultMinTicketRenewal
	}
	if cfg.InitialStatus == "" {
		cfg.InitialStatus = Online
	}
	if cfg.InitialStatus == Offline || !validStatus(string(cfg.InitialStatus)) {
		return fmt.Errorf("msn: invalid initial status %q", cfg.InitialStatus)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultHTTPClient(*cfg)
	}
	e := &cfg.Endpoints
	if e.Nexus == "" && e.Login == "" {
		e.Nexus = DefaultNexusURL
	}
	if e.RST == "" {
		e.RST = DefaultRSTURL
	}
	if e.Sharing == "" {
		e.Sharing = DefaultSharingURL
	}
	if e.AddressBook == "" {
		e.AddressBook = DefaultAddressBookURL
	}
	return nil
}

// Login connects to cfg.Server, negotiates a version, authenticates (following XFR NS
// redirects), fetches the contact list and sets the initial status. The whole login is bounded
// by cfg.LoginTimeout. A wrong password gives an error for which
// errors.Is(err, auth.ErrBadCredentials) holds.
func Login(ctx context.Context, cfg Config, passport, password string) (*Session, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	passport = strings.TrimSpace(passport)
	if err := checkPassport(strings.ToLower(passport)); err != nil || !strings.Contains(passport, "@") {
		return nil, fmt.Errorf("msn: invalid passport %q", truncate(passport, 64))
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.LoginTimeout)
	defer cancel()
	log := cfg.Logger.With().Str("passport", strings.ToLower(passport)).Logger()
	addr := cfg.Server
	for hop := 0; ; hop++ {
		s, redirect, err := attempt(ctx, cfg, addr, passport, password)
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, ErrTimeout) {
				err = fmt.Errorf("%w: %w", ErrTimeout, err)
			}
			return nil, fmt.Errorf("msn: login to %s: %w", addr, err)
		}
		if redirect == "" {
			return s, nil
		}
		if hop+1 >= maxRedirects {
			return nil, fmt.Errorf("msn: login: more than %d XFR NS redirects", maxRedirects)
		}
		log.Debug().Str("to", redirect).Msg("redirected to another NS")
		addr = redirect
	}
}

// attempt runs one connection's handshake. It returns a redirect address for XFR NS.
func attempt(ctx context.Context, cfg Config, addr, passport, password string) (*Session, string, error) {
	d := net.Dialer{Timeout: cfg.DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, "", fmt.Errorf("dial: %w: %w", ErrTimeout, err)
		}
		return nil, "", fmt.Errorf("dial: %w", err)
	}
	s := newSession(cfg, passport, conn)
	// Abort the handshake when ctx ends: closing the connection unblocks everything.
	stop := context.AfterFunc(ctx, func() { s.fail(&DisconnectError{Reason: "login aborted", Err: ctx.Err()}) })
	redirect, err := s.handshake(ctx, password)
	stop()
	if err != nil || redirect != "" {
		s.fail(nil)
		if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, ErrTimeout) {
			err = fmt.Errorf("%w: %w", ErrTimeout, err)
		}
		return nil, redirect, err
	}
	return s, "", nil
}

func (s *Session) handshake(ctx context.Context, password string) (redirect string, err error) {
	// VER
	offer := make([]string, 0, len(s.cfg.Versions)+1)
	for _, v := range s.cfg.Versions {
		offer = append(offer, "MSNP"+strconv.Itoa(v))
	}
	offer = append(offer, "CVR0")
	r, err := s.request(ctx, wire.New("VER", 0, offer...), "VER")
	if err != nil {
		return "", err
	}
	v := 0
	for _, a := range r.Args {
		if n, ok := strings.CutPrefix(a, "MSNP"); ok {
			if x, err := strconv.Atoi(n); err == nil && containsInt(s.cfg.Versions, x) {
				v = x
				break
			}
		}
	}
	if v == 0 {
		return "", ErrNoCommonVersion
	}
	s.mu.Lock()
	s.version = v
	s.mu.Unlock()
	s.logVersion.Store(int32(v))
	s.logger().Debug().Msg("protocol version negotiated")

	if v <= 7 {
		r, err := s.request(ctx, wire.New("INF", 0), "INF")
		if err != nil {
			return "", err
		}
		if !containsString(r.Args, "MD5") {
			return "", fmt.Errorf("msn: server offers no MD5 authentication (INF %s)", strings.Join(r.Args, " "))
		}
	}
	if _, err := s.request(ctx, wire.New("CVR", 0, s.cvrArgs(v)...), "CVR"); err != nil {
		return "", err
	}

	redirect, err = s.authenticate(ctx, v, password)
	if err != nil || redirect != "" {
		return redirect, err
	}
	if err := s.loadContacts(ctx, v); err != nil {
		return "", fmt.Errorf("contact list: %w", err)
	}
	s.mu.Lock()
	s.compactContactsLocked()
	s.mu.Unlock()
	st := s.cfg.InitialStatus
	if err := s.changeStatus(ctx, st); err != nil {
		return "", fmt.Errorf("initial status: %w", err)
	}
	// Becoming logged in and failing are decided under s.mu: either fail saw loggedIn and
	// sends a DisconnectEvent, or Login reports the failure; never both, never neither.
	s.mu.Lock()
	if s.failed {
		err := s.closedErrorLocked()
		s.mu.Unlock()
		return "", err
	}
	s.loggedIn = true
	s.mu.Unlock()
	s.startKeepAlive()
	s.startTicketRenewal()
	s.logger().Info().Int("contacts", len(s.Contacts())).Msg("logged in")
	return "", nil
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func containsString(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// clientVersionFor returns a client version of the era of protocol version v.
func clientVersionFor(v int) string {
	switch {
	case v <= 4:
		return "3.6.0039"
	case v <= 7:
		return "4.7.3001"
	case v == 8:
		return "5.0.0544"
	case v == 9:
		return "6.0.0602"
	case v == 10:
		return "6.2.0205"
	case v == 11:
		return "7.0.0816"
	case v == 12:
		return "7.5.0324"
	case v <= 14:
		return "8.0.0792"
	case v == 15:
		return "8.5.1302"
	default:
		return "14.0.8117.0416"
	}
}

func (s *Session) cvrArgs(v int) []string {
	ci := s.cfg.Client
	def := func(x, d string) string {
		if x == "" {
			return d
		}
		return x
	}
	osv := "5.1"
	if v >= 16 {
		osv = "6.1"
	}
	args := []string{
		def(ci.LCID, "0x0409"), def(ci.OSType, "winnt"), def(ci.OSVersion, osv), def(ci.Arch, "i386"),
		def(ci.ClientName, "MSNMSGR"), def(ci.ClientVersion, clientVersionFor(v)), def(ci.Brand, "msmsgs"),
	}
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, " ", "")
	}
	if v >= 8 {
		args = append(args, s.passport)
	}
	return args
}

// authenticate runs USR for the version's family; it returns a redirect for XFR NS.
func (s *Session) authenticate(ctx context.Context, v int, password string) (string, error) {
	method := "SSO"
	switch {
	case v <= 7:
		method = "MD5"
	case v <= 14:
		method = "TWN"
	}
	r, err := s.request(ctx, wire.New("USR", 0, method, "I", s.passport), "USR", "XFR")
	if err != nil {
		return "", authError(err)
	}
	if r.Name == "XFR" {
		return xfrNS(r)
	}
	if r.Arg(0) == "OK" {
		return "", s.loggedInAs(v, r)
	}
	if r.Arg(0) != method || r.Arg(1) != "S" || len(r.Args) < 3 {
		return "", fmt.Errorf("msn: unexpected USR reply %s", r.String())
	}
	var final *wire.Command
	switch method {
	case "MD5":
		final = wire.New("USR", 0, "MD5", "S", auth.MD5Response(r.Args[2], password))
	case "TWN":
		p := &auth.Passport{HTTP: s.cfg.HTTPClient, NexusURL: s.cfg.Endpoints.Nexus, LoginURL: s.cfg.Endpoints.Login, AllowedHosts: s.cfg.Endpoints.hosts()}
		ticket, err := p.TWN(ctx, s.passport, password, r.Args[2])
		if err != nil {
			return "", fmt.Errorf("passport login: %w", err)
		}
		s.mu.Lock()
		s.twnTicket = ticket
		s.mu.Unlock()
		s.rememberTickets("TWN", password, r.Args[2], time.Time{})
		final = wire.New("USR", 0, "TWN", "S", ticket)
	case "SSO":
		if len(r.Args) < 4 {
			return "", fmt.Errorf("msn: USR SSO S without nonce")
		}
		policy, nonce := r.Args[2], r.Args[3]
		sso := &auth.SSO{HTTP: s.cfg.HTTPClient, URL: s.cfg.Endpoints.RST, AllowedHosts: s.cfg.Endpoints.hosts()}
		res, err := sso.Login(ctx, s.passport, password, policy)
		if err != nil {
			return "", fmt.Errorf("SSO login: %w", err)
		}
		tok, ok := res.Token(auth.DomainMessengerClear)
		if !ok || tok.Ticket == "" {
			return "", fmt.Errorf("msn: SSO response has no %s token", auth.DomainMessengerClear)
		}
		s.mu.Lock()
		s.tickets = ssoTickets(res.Tokens)
		s.mu.Unlock()
		s.rememberTickets("SSO", password, policy, earliestExpiry(res.Tokens))
		args := []string{"SSO", "S", tok.Ticket}
		if tok.BinarySecret != "" {
			secret, err := base64.StdEncoding.DecodeString(tok.BinarySecret)
			if err != nil {
				return "", fmt.Errorf("msn: SSO binary secret: %w", err)
			}
			blob, err := auth.MBIBlob(secret, nonce)
			if err != nil {
				return "", fmt.Errorf("msn: MBI blob: %w", err)
			}
			args = append(args, blob)
		} else if v >= 16 {
			return "", fmt.Errorf("msn: SSO response has no binary secret for the MBI blob")
		}
		if v >= 16 {
			args = append(args, s.machineGUIDFor())
		}
		final = wire.New("USR", 0, args...)
	}
	r, err = s.request(ctx, final, "USR", "XFR")
	if err != nil {
		return "", authError(err)
	}
	if r.Name == "XFR" {
		return xfrNS(r)
	}
	if r.Arg(0) != "OK" {
		return "", fmt.Errorf("msn: unexpected USR reply %s", r.String())
	}
	return "", s.loggedInAs(v, r)
}

// authError maps 911 and 917 (authentication failed) to auth.ErrBadCredentials. 928 (bad
// ticket) is not a wrong password: the server did not accept a ticket its own login service
// issued, which a later login may well fix.
func authError(err error) error {
	switch wire.ErrorCode(err) {
	case wire.ErrAuthFailed, 917:
		return fmt.Errorf("%w: %w", auth.ErrBadCredentials, err)
	}
	return err
}

func xfrNS(r *wire.Command) (string, error) {
	if r.Arg(0) != "NS" || r.Arg(1) == "" {
		return "", fmt.Errorf("msn: unexpected XFR during login: %s", r.String())
	}
	addr := r.Arg(1)
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "1863")
	}
	return addr, nil
}

// loggedInAs records the USR OK reply: MSNP2–9 carry the friendly name.
func (s *Session) loggedInAs(v int, r *wire.Command) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.name = s.passport
	if v <= 9 && len(r.Args) >= 3 {
		s.name = decodeName(r.Args[2])
	}
	s.logger().Debug().Msg("authenticated")
	return nil
}

func (s *Session) machineGUIDFor() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.machineGUID == "" {
		g := s.cfg.MachineGUID
		if g == "" {
			var b [16]byte
			_, _ = rand.Read(b[:])
			b[6] = b[6]&0x0f | 0x40
			b[8] = b[8]&0x3f | 0x80
			g = fmt.Sprintf("%X-%X-%X-%X-%X", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
			s.logger().Warn().Msg("no MachineGUID configured; using a random one for this session")
		}
		if !strings.HasPrefix(g, "{") {
			g = "{" + g + "}"
		}
		s.machineGUID = g
	}
	return s.machineGUID
}

// loadContacts fetches the contact list: SYN up to MSNP12, ABCH + initial ADL from MSNP13.
func (s *Session) loadContacts(ctx context.Context, v int) error {
	if v <= 12 {
		return s.syncList(ctx, v)
	}
	return s.loadAddressBook(ctx, v)
}

func (s *Session) syncList(ctx context.Context, v int) error {
	args := []string{"0"}
	if v >= 10 {
		args = []string{"0", "0"}
	}
	cmd := wire.New("SYN", 0, args...)
	ch, err := s.register(cmd)
	if err != nil {
		return err
	}
	defer s.unregister(cmd.TrID)
	st := &syncState{trid: cmd.TrID, done: make(chan struct{})}
	s.mu.Lock()
	s.sync = st
	s.mu.Unlock()
	if err := s.send(cmd); err != nil {
		return err
	}
	// The reader assembles the list; errors still come through the reply channel.
	return s.wait(ctx, "SYN", ch, func(r *wire.Command) (bool, error) { return false, nil }, st.done)
}

func (s *Session) abchClient() *abch.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ab == nil {
		s.ab = &abch.Client{
			HTTP:           s.cfg.HTTPClient,
			SharingURL:     s.cfg.Endpoints.Sharing,
			AddressBookURL: s.cfg.Endpoints.AddressBook,
			Ticket:         s.contactsTicket,
			Renew:          s.RenewTickets,
			Logger:         *s.logger(),
			// The ids are needed only to delete a membership (rare); kept per contact for
			// the whole session they cost more than the contact list itself.
			MembershipIDsOnDemand: true,
		}
	}
	return s.ab
}

// contactsTicket is the ABCH TicketToken: the contacts.msn.com SSO ticket, or "t=<TWN ticket>".
func (s *Session) contactsTicket() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.ticketLocked(auth.DomainContacts); ok {
		return t
	}
	if strings.HasPrefix(s.twnTicket, "t=") {
		return s.twnTicket
	}
	return "t=" + s.twnTicket
}

func roleBit(r abch.Role) ListBits {
	switch r {
	case abch.RoleAllow:
		return AL
	case abch.RoleBlock:
		return BL
	case abch.RoleReverse:
		return RL
	case abch.RolePending:
		return PL
	}
	return 0
}

func (s *Session) loadAddressBook(ctx context.Context, v int) error {
	ab := s.abchClient()
	ms, err := ab.FindMembership(ctx)
	if err != nil {
		return fmt.Errorf("FindMembership: %w", err)
	}
	var book *abch.AddressBook
	if v >= 16 {
		book, err = ab.FindContactsPaged(ctx)
	} else {
		book, err = ab.FindAll(ctx)
	}
	if err != nil {
		return fmt.Errorf("address book: %w", err)
	}
	s.mu.Lock()
	// The same bounds as SYN/LST (onSyncLine): a huge address book must not grow the session
	// beyond Config.MaxContacts and MaxGroups.
	dropped := 0
	for role, members := range ms.Members {
		bit := roleBit(role)
		for _, m := range members {
			pp := strings.ToLower(m.Passport)
			if checkPassport(pp) != nil || pp == s.passport {
				continue
			}
			if !s.roomForLocked(pp) {
				dropped++
				continue
			}
			c := s.contactLocked(pp)
			c.lists |= bit
			if m.DisplayName != "" && c.name == pp {
				c.name = strings.Clone(m.DisplayName)
			}
		}
	}
	droppedGroups := 0
	for _, g := range book.Groups {
		if !s.roomForGroupLocked(g.ID) {
			droppedGroups++
			continue
		}
		s.groups[strings.Clone(g.ID)] = strings.Clone(g.Name)
	}
	for _, bc := range book.Contacts {
		pp := strings.ToLower(bc.Passport)
		if checkPassport(pp) != nil || pp == s.passport || !bc.IsMessengerUser {
			continue
		}
		if !s.roomForLocked(pp) {
			dropped++
			continue
		}
		c := s.contactLocked(pp)
		c.lists |= FL
		// Copies: the parsed reply's strings may share memory with the rest of the reply
		// (substrings, builder slack), which the session must not keep alive.
		c.setContactID(bc.ID)
		if bc.DisplayName != "" {
			c.name = strings.Clone(bc.DisplayName)
		}
		var groups []string // a new slice: snapshots handed out may share the old one
		for _, g := range bc.GroupIDs {
			groups = append(groups, strings.Clone(g))
		}
		c.setGroups(groups)
	}
	if book.Me != nil && book.Me.DisplayName != "" {
		s.name = strings.Clone(book.Me.DisplayName)
	}
	var ml []mlContact
	for _, c := range s.contacts {
		if bits := c.lists & (FL | AL | BL); bits != 0 {
			ml = append(ml, mlContact{Passport: c.passport, Lists: bits, Network: 1})
		}
	}
	s.mu.Unlock()
	if dropped > 0 || droppedGroups > 0 {
		s.logger().Warn().Int("contacts_dropped", dropped).Int("groups_dropped", droppedGroups).
			Int("max_contacts", s.cfg.MaxContacts).Int("max_groups", s.cfg.MaxGroups).
			Msg("address book exceeds the session limits; the excess is ignored")
	}
	sortMLByPassport(ml)
	for _, payload := range buildML(ml, true, adlSplitBytes) {
		if _, err := s.request(ctx, wire.NewPayload("ADL", 0, payload), "ADL"); err != nil {
			return fmt.Errorf("initial ADL: %w", err)
		}
	}
	return nil
}

func sortMLByPassport(ml []mlContact) {
	sort.Slice(ml, func(i, j int) bool { return ml[i].Passport < ml[j].Passport })
}
