package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"

	"github.com/msnbridge/msnbridge/database"
	"github.com/msnbridge/msnbridge/msn/auth"
	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/msn/sb"
	"github.com/msnbridge/msnbridge/puppet"
)

// Bridge state error codes of this connector.
const (
	StateErrSignedInElsewhere  status.BridgeStateErrorCode = "msn-signed-in-elsewhere"
	StateErrBadCredentials     status.BridgeStateErrorCode = "msn-bad-credentials"
	StateErrDisconnected       status.BridgeStateErrorCode = "msn-disconnected"
	StateErrConnectFailed      status.BridgeStateErrorCode = "msn-connect-failed"
	StateErrPasswordUnreadable status.BridgeStateErrorCode = "msn-password-unreadable"
	StateErrServerShutdown     status.BridgeStateErrorCode = "msn-server-shutdown"
	StateErrUnknownServer      status.BridgeStateErrorCode = "msn-unknown-server"
)

func init() {
	status.BridgeStateHumanErrors.Update(status.BridgeStateErrorMap{
		StateErrSignedInElsewhere:  "Your MSN account signed in from another location, so the bridge was signed out of MSN. Your password is fine: send `reconnect` to bring the bridge back (that signs the other location out).",
		StateErrBadCredentials:     "MSN refused the stored password: wrong e-mail or password. Log in again.",
		StateErrDisconnected:       "Disconnected from MSN, reconnecting",
		StateErrConnectFailed:      "Could not connect to MSN, retrying",
		StateErrPasswordUnreadable: "The stored password can't be decrypted (the encryption key changed?). Log in again.",
		StateErrServerShutdown:     "The MSN server is shutting down, reconnecting later",
		StateErrUnknownServer:      "The MSN server of this login is no longer offered by the bridge. Log in again.",
	})
}

// signedInElsewhereState is the state of a login whose account signed in from another
// location. It is not BAD_CREDENTIALS, which makes clients ask for a new password: the
// credentials are fine and `reconnect` brings the login back. UNKNOWN_ERROR is shown as an
// error with its message, and bridgev2 sends it as a notice to the management room.
func signedInElsewhereState() status.BridgeState {
	return status.BridgeState{StateEvent: status.StateUnknownError, Error: StateErrSignedInElsewhere}
}

// Session bounds (the reconnect schedule is in retry.go).
const (
	// stableSession is how long a session must have stayed up for the next reconnect to start
	// again from the shortest delay.
	stableSession = time.Minute
	// deliveryTimeout bounds how long a Matrix message waits for its MSN outcome.
	deliveryTimeout = 2 * time.Minute
)

// Client is the MSN side of one login: the NS session, its switchboard manager and the
// connection loop. It implements bridgev2.NetworkAPI.
type Client struct {
	conn  *Connector
	login *bridgev2.UserLogin
	log   zerolog.Logger

	mu   sync.Mutex
	sess *ns.Session
	// sbm lives from the start of a connection loop run to its end, across NS reconnects
	// (see switchboards.go); relay is its view of the current NS session.
	sbm   *sb.Manager
	relay *nsRelay
	// heldInvites are switchboard invitations that arrived while there was no manager.
	heldInvites []heldInvite
	// sessUp is closed while a session is installed and replaced by an open channel when it
	// goes away, so that senders can wait for a reconnect without polling.
	sessUp    chan struct{}
	stop      context.CancelFunc
	running   bool
	loopDone  chan struct{}
	groupConv map[networkid.PortalID]*sb.Conversation // group portal → live conversation
	convGroup map[*sb.Conversation]networkid.PortalID // live conversation → group portal
	passports *passportCache                          // hashed ghost ids → passports (bounded)
	// pendingFetch holds offline-message fetches announced before the session was installed.
	pendingFetch []fetchOIMs
	// ownMu serialises updates of the user's own ghost (worker and set-nick both make them);
	// shownOwnName is the friendly name last shown on it (dedupes updates).
	ownMu        sync.Mutex
	shownOwnName string

	events *dispatcher
	mx     matrixSide
	// dp fetches contacts' display pictures for their ghosts (avatars.go); made on first use.
	dp *avatarQueue
	// ownPic is the user's display picture, made from their Matrix avatar (ownpicture.go).
	ownPic ownPicture
	// backoffMin is the first reconnect delay ceiling (tests shorten it, which shortens the
	// whole schedule, see retryTimingFor).
	backoffMin time.Duration
	// oimSettled, when set (tests), learns how many offline messages of a fetch were deleted
	// and kept, once the deletion request is done.
	oimSettled func(deleted, kept int)
	// deliverRetryMin is the first pause between two attempts to deliver a message to
	// Matrix (deliver.go; tests shorten it).
	deliverRetryMin time.Duration
	// metaMu guards the login's metadata and its saves (see updateMeta).
	metaMu sync.Mutex
	// maintenanceAt is when the server announced it goes down for maintenance (zero: none).
	maintenanceAt time.Time
	// roomsLoaded is set once the login's portal rooms are loaded for presence (presencerooms.go).
	roomsLoaded bool
	// roomWaits are the portals whose room is being created, each with one goroutine waiting
	// to tell the pusher (presencerooms.go).
	roomWaits map[networkid.PortalKey]struct{}
	// files runs the offers of files sent from Matrix, room by room (sendfile.go).
	files fileSends
}

var (
	_ bridgev2.NetworkAPI                    = (*Client)(nil)
	_ bridgev2.NetworkAPIWithUserID          = (*Client)(nil)
	_ bridgev2.IdentifierResolvingNetworkAPI = (*Client)(nil)
	_ bridgev2.ContactListingNetworkAPI      = (*Client)(nil)
	_ bridgev2.TypingHandlingNetworkAPI      = (*Client)(nil)
)

func newClient(c *Connector, login *bridgev2.UserLogin) *Client {
	cl := &Client{
		conn:       c,
		groupConv:  make(map[networkid.PortalID]*sb.Conversation),
		convGroup:  make(map[*sb.Conversation]networkid.PortalID),
		passports:  newPassportCache(maxCachedPassports),
		backoffMin: backoffMin,
		// deliverRetryMin is the first pause before a message that did not reach Matrix is
		// handed over again (deliver.go).
		deliverRetryMin: time.Second,
		sessUp:          make(chan struct{}),
	}
	cl.events = newDispatcher(cl.handleQueued)
	cl.attach(login)
	return cl
}

// attach binds the client to its login (the login flow makes the client before the login exists).
func (c *Client) attach(login *bridgev2.UserLogin) {
	c.login = login
	if login != nil {
		c.log = login.Log.With().Str("component", "msn client").Logger()
		if c.mx == nil {
			c.mx = &bridgeSide{br: c.conn.Bridge, login: login}
		}
	}
}

func (c *Client) meta() *database.UserLoginMetadata {
	if m, ok := c.login.Metadata.(*database.UserLoginMetadata); ok {
		return m
	}
	m := &database.UserLoginMetadata{}
	c.login.Metadata = m
	return m
}

// dial logs in to MSN. Events of the new session go to the client's queue.
func (c *Client) dial(ctx context.Context, meta *database.UserLoginMetadata, password string) (*ns.Session, error) {
	srv, err := c.conn.serverOf(meta)
	if err != nil {
		return nil, err // before any connection: the password only goes to configured servers
	}
	cfg := ns.Config{
		Server:             srv.NSAddress,
		Versions:           srv.ProtocolVersions,
		Endpoints:          srv.Endpoints(),
		HTTPClient:         c.conn.Config.HTTPClient(),
		InsecureSkipVerify: !c.conn.Config.TLSVerify,
		Client:             c.conn.Config.ClientInfo(),
		MachineGUID:        meta.MachineGUID,
		InitialStatus:      c.chosenStatus(meta),
		Logger:             c.log.With().Str("component", "msn ns").Logger(),
		OnEvent:            c.pushNSEvent,
	}
	return c.conn.loginFunc(ctx, cfg, meta.Passport, password)
}

// chosenStatus is the status the user chose last (set-status), online when none or unknown.
func (c *Client) chosenStatus(meta *database.UserLoginMetadata) ns.Status {
	c.metaMu.Lock()
	code := meta.Status
	c.metaMu.Unlock()
	if code == string(ns.Offline) {
		return ns.Online
	}
	if st, ok := puppet.ParseStatus(code); ok {
		return ns.Status(st)
	}
	return ns.Online
}

// setStatus changes the user's MSN status and remembers it for later sessions.
func (c *Client) setStatus(ctx context.Context, sess *ns.Session, st ns.Status) error {
	if err := sess.SetStatus(ctx, st); err != nil {
		return err
	}
	if err := c.updateMeta(ctx, func(m *database.UserLoginMetadata) bool {
		m.Status = string(st)
		return true
	}); err != nil {
		return fmt.Errorf("status set, but not saved for the next session: %w", err)
	}
	return nil
}

// setPersonalMessage changes the user's personal message and remembers it for later sessions.
func (c *Client) setPersonalMessage(ctx context.Context, sess *ns.Session, psm string) error {
	if err := sess.SetPersonalMessage(ctx, psm); err != nil {
		return err
	}
	if err := c.updateMeta(ctx, func(m *database.UserLoginMetadata) bool {
		m.PersonalMessage, m.PersonalMessageSet = psm, true
		return true
	}); err != nil {
		return fmt.Errorf("personal message set, but not saved for the next session: %w", err)
	}
	return nil
}

// restoreProfile applies the user's chosen status and personal message to a new session (the
// status is also the session's initial status; this covers sessions made before it was
// known) and shows the user's friendly name on their own ghost.
func (c *Client) restoreProfile(ctx context.Context) {
	sess, _ := c.session()
	if sess == nil {
		return
	}
	want := c.chosenStatus(c.meta())
	meta := c.metaSnapshot()
	psm, psmSet := meta.PersonalMessage, meta.PersonalMessageSet
	rctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	if sess.Status() != want {
		if err := sess.SetStatus(rctx, want); err != nil {
			c.log.Warn().Err(err).Str("status", string(want)).Msg("Failed to restore status")
		}
	}
	if psmSet && sess.Version() >= 11 {
		if err := sess.SetPersonalMessage(rctx, psm); err != nil {
			c.log.Warn().Err(err).Msg("Failed to restore personal message")
		}
	}
	c.ownNameChanged(ctx, sess.FriendlyName())
	c.syncOwnPicture()
}

// ownNameChanged shows the user's friendly name, as the server reports it, on the user's own
// ghost and as the login's remote name.
func (c *Client) ownNameChanged(ctx context.Context, friendly string) {
	if friendly == "" || c.login == nil {
		return
	}
	c.ownMu.Lock()
	defer c.ownMu.Unlock()
	if c.shownOwnName == friendly {
		return
	}
	c.shownOwnName = friendly
	passport := c.meta().Passport
	name := puppet.DecodeFriendlyName(friendly)
	if name == "" {
		name = passport
	}
	if c.login.UserLogin != nil {
		if err := c.updateMeta(ctx, func(*database.UserLoginMetadata) bool {
			if c.login.RemoteProfile.Name == name {
				return false
			}
			c.login.RemoteProfile.Name = name
			return true
		}); err != nil {
			c.log.Err(err).Msg("Failed to save login profile")
		}
	}
	c.updateGhost(ctx, c.ghostID(passport), passport, friendly)
}

// adoptSession installs a logged-in session (from the login flow) and starts the connection loop.
func (c *Client) adoptSession(sess *ns.Session) {
	c.startLoop(sess)
}

// Connect starts the connection loop: log in, stay connected, reconnect with backoff.
func (c *Client) Connect(ctx context.Context) {
	if c.metaSnapshot().SignedInElsewhere {
		// Do not kick the user's other client on every bridge restart; wait for "reconnect".
		c.sendState(signedInElsewhereState())
		return
	}
	c.startLoop(nil)
}

func (c *Client) startLoop(sess *ns.Session) {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		if sess != nil {
			_ = sess.Close()
		}
		return
	}
	if c.stop != nil {
		// A loop that ended by itself (bad credentials, signed in elsewhere) leaves its event
		// worker waiting on the old context: end it before starting anew.
		c.stop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	c.running = true
	// The switchboard manager exists before the first session's events are handled, so that an
	// invitation during login is answered; it outlives NS reconnects.
	mgr := c.newSwitchboards(sess)
	c.sbm = mgr
	c.answerHeldInvitesLocked(mgr)
	if sess != nil {
		c.sess = sess // logged in already (login flow): IsLoggedIn is true from now on
		c.markUpLocked()
	}
	c.loopDone = make(chan struct{})
	done := c.loopDone
	c.mu.Unlock()
	c.events.start(ctx)
	go func() {
		defer close(done)
		c.runLoop(ctx, sess)
		c.closeSwitchboards(mgr)
	}()
}

func (c *Client) sendState(st status.BridgeState) {
	if st.Message == "" && st.Error != "" {
		st.Message = status.BridgeStateHumanErrors[st.Error]
	}
	if c.mx != nil {
		c.mx.SendState(st)
	}
}

// runLoop keeps the session alive until ctx ends or the login can't continue.
func (c *Client) runLoop(ctx context.Context, sess *ns.Session) {
	// Whatever ends the loop (logout, bridge stop, bad credentials, signed in elsewhere), the
	// bridge no longer sees the contacts: their ghosts must not stay online.
	defer c.contactsOffline()
	retry := c.newReconnector()
	outage := false // contacts were already shown offline in this outage
	for ctx.Err() == nil {
		if sess == nil {
			c.sendState(status.BridgeState{StateEvent: status.StateConnecting})
			password, err := c.conn.sealer.Open(c.meta().Password, c.meta().Passport)
			if err != nil {
				c.log.Error().Err(err).Msg("Can't decrypt stored password")
				c.setRunning(false)
				c.sendState(status.BridgeState{StateEvent: status.StateBadCredentials, Error: StateErrPasswordUnreadable})
				return
			}
			if !c.paceLogin(ctx) { // the bridge-wide login rate (pacer.go)
				return
			}
			loginCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			sess, err = c.dial(loginCtx, c.meta(), password)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				if errors.Is(err, ErrUnknownServer) {
					c.log.Warn().Str("server", c.meta().Server).Msg("The login's MSN server is no longer configured")
					c.setRunning(false)
					c.sendState(status.BridgeState{StateEvent: status.StateBadCredentials, Error: StateErrUnknownServer})
					return
				}
				if errors.Is(err, auth.ErrBadCredentials) {
					c.log.Warn().Err(err).Msg("MSN refused the stored credentials")
					c.setRunning(false)
					c.sendState(status.BridgeState{StateEvent: status.StateBadCredentials, Error: StateErrBadCredentials})
					return
				}
				c.log.Warn().Str("error", redact(err.Error(), password)).Bool("unreachable", unreachable(err)).Msg("MSN login failed")
				if !outage {
					// Reconnecting failed: this is more than a blip, so stop showing stale presence.
					outage = true
					c.contactsOffline()
				}
				c.sendState(status.BridgeState{StateEvent: status.StateTransientDisconnect, Error: StateErrConnectFailed,
					Message: redact(fmt.Sprintf("Could not connect to %s: %v", c.conn.serverLabel(c.meta()), err), password)})
				if !retry.afterFailure(ctx, err) {
					return
				}
				continue
			}
		}
		c.onConnected(ctx, sess)
		outage = false
		connectedAt := time.Now()
		select {
		case <-ctx.Done():
			_ = sess.Close()
			c.onDisconnected(sess)
			return
		case <-sess.Done():
		}
		cause := sess.Err()
		wait := retry.afterSession(time.Since(connectedAt), hintFor(cause, c.maintenanceTime(), time.Now()))
		c.onDisconnected(sess)
		sess = nil
		switch {
		case errors.Is(cause, ns.ErrSignedInElsewhere):
			c.log.Warn().Msg("Signed in elsewhere; not reconnecting")
			if err := c.setSignedInElsewhere(context.Background(), true); err != nil {
				c.log.Err(err).Msg("Failed to save login metadata")
			}
			c.setRunning(false)
			c.sendState(signedInElsewhereState())
			return
		case errors.Is(cause, ns.ErrServerShutdown):
			c.sendState(status.BridgeState{StateEvent: status.StateTransientDisconnect, Error: StateErrServerShutdown})
		default:
			msg := "connection lost"
			if cause != nil {
				msg = cause.Error()
			}
			c.log.Warn().Err(cause).Dur("retry_in", wait).Msg("Disconnected from MSN")
			c.sendState(status.BridgeState{StateEvent: status.StateTransientDisconnect, Error: StateErrDisconnected, Message: "Disconnected from MSN: " + msg})
		}
		if !waitCtx(ctx, wait) {
			return
		}
	}
}

// contactsOffline shows this login's contacts as offline in Matrix. Without it the presence
// pusher would keep refreshing their last known state while no session sees them. A contact that
// another live login of this bridge still sees online keeps its presence (ghosts are shared).
func (c *Client) contactsOffline() {
	if c.conn.presence == nil || !c.conn.Config.BridgePresence || c.conn.Store == nil || c.login == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := c.conn.Store.Contacts(ctx, c.login.ID)
	if err != nil {
		c.log.Warn().Err(err).Msg("Failed to list contacts to show them offline")
		return
	}
	for _, row := range rows {
		if row.Status == "" || row.Status == string(ns.Offline) || c.conn.seenOnlineByOther(c, row.Passport) {
			continue
		}
		c.conn.updatePresence(c.login.ID, c.ghostID(row.Passport), string(ns.Offline), "")
	}
}

// seenOnlineByOther reports whether a live session of another login sees a contact online.
func (c *Connector) seenOnlineByOther(self *Client, passport string) bool {
	if c.Bridge == nil {
		return false
	}
	for _, login := range c.Bridge.GetAllCachedUserLogins() {
		other, ok := login.Client.(*Client)
		if !ok || other == self {
			continue
		}
		if sess, _ := other.session(); sess != nil {
			if contact, ok := sess.Contact(passport); ok && contact.Status != ns.Offline && contact.Status != "" {
				return true
			}
		}
	}
	return false
}

func (c *Client) setRunning(v bool) {
	c.mu.Lock()
	c.running = v
	c.mu.Unlock()
}

func waitCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// onConnected installs a fresh session and syncs the contact list. The switchboard manager of
// the loop stays: its switchboards and conversations (and their portals) carry on.
func (c *Client) onConnected(ctx context.Context, sess *ns.Session) {
	c.mu.Lock()
	c.sess = sess
	if c.relay != nil {
		c.relay.version.Store(int64(sess.Version()))
	}
	c.markUpLocked()
	pending := c.pendingFetch
	c.pendingFetch = nil
	c.mu.Unlock()
	if err := c.noteConnected(ctx, sess.Version()); err != nil {
		c.log.Err(err).Msg("Failed to save login metadata")
	}
	c.log.Info().Int("protocol", sess.Version()).Msg("Connected to MSN")
	c.sendState(status.BridgeState{StateEvent: status.StateConnected})
	c.pushWork(loadRoomsItem{})
	c.pushWork(restoreProfileItem{})
	c.pushWork(syncContacts{})
	for _, f := range pending {
		c.pushWork(f)
	}
}

// onDisconnected forgets a session that ended. The switchboards stay open: they are separate
// connections the server keeps, and the next session's XFRs serve the same manager.
func (c *Client) onDisconnected(sess *ns.Session) {
	c.mu.Lock()
	if c.sess == sess {
		c.sess = nil
		c.sessUp = make(chan struct{})
	}
	c.mu.Unlock()
}

func (c *Client) session() (*ns.Session, *sb.Manager) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess, c.sbm
}

// Disconnect stops the connection loop and signs out cleanly.
func (c *Client) Disconnect() {
	c.stopAvatars()
	c.mu.Lock()
	stop, done := c.stop, c.loopDone
	c.running = false
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
	if done != nil {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			c.log.Warn().Msg("Connection loop did not stop in time")
		}
	}
	// The switchboards are closed: file offers end at once, remove their temporary copies and
	// hand their outcome (failed, disconnected) to bridgev2.
	if !c.files.wait(3 * time.Second) {
		c.log.Warn().Msg("File offers did not end in time")
	}
}

// markUpLocked wakes senders waiting for a session; c.mu must be held and c.sess set.
func (c *Client) markUpLocked() {
	select {
	case <-c.sessUp:
	default:
		close(c.sessUp)
	}
}

// reconnectSendWait bounds how long a Matrix message waits for a reconnect before it fails
// with "not connected to MSN".
const reconnectSendWait = 30 * time.Second

// waitSession returns the live session, waiting up to d while the connection loop is
// reconnecting. It returns nils when the loop has stopped (logged out, bad credentials,
// signed in elsewhere), the wait runs out or ctx ends.
func (c *Client) waitSession(ctx context.Context, d time.Duration) (*ns.Session, *sb.Manager) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		c.mu.Lock()
		sess, mgr, running, up := c.sess, c.sbm, c.running, c.sessUp
		c.mu.Unlock()
		if sess != nil || !running {
			return sess, mgr
		}
		select {
		case <-up:
		case <-ctx.Done():
			return nil, nil
		case <-timer.C:
			return nil, nil
		}
	}
}

// IsLoggedIn reports whether the login is usable: an MSN session is up, or the connection
// loop is reconnecting after a transient loss (messages then wait for the reconnect and fail
// visibly with "not connected to MSN" if it takes too long). It is false once the loop has
// stopped: logged out, bad credentials or signed in elsewhere.
func (c *Client) IsLoggedIn() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess != nil || c.running
}

// LogoutRemote signs out of MSN and forgets the bridge's cached data for the login.
func (c *Client) LogoutRemote(ctx context.Context) {
	c.Disconnect()
	c.dropReceivedFiles()
	c.leaveSpace(ctx)
	c.dropPresenceRooms()
	if c.conn.Store != nil && c.login != nil {
		if err := c.conn.Store.DeleteLogin(ctx, c.login.ID); err != nil {
			c.log.Err(err).Msg("Failed to delete cached contacts of login")
		}
	}
}

// GetUserID is the ghost id of the logged-in account.
func (c *Client) GetUserID() networkid.UserID {
	return puppet.GhostID(c.meta().Passport)
}

// IsThisUser reports whether a ghost id is the logged-in account.
func (c *Client) IsThisUser(_ context.Context, userID networkid.UserID) bool {
	return userID == c.GetUserID()
}

// passportOf returns the passport behind a ghost id.
func (c *Client) passportOf(ctx context.Context, id networkid.UserID) (string, bool) {
	if p, ok := puppet.PassportFromID(id); ok {
		return p, true
	}
	if p, ok := c.passports.get(id); ok {
		return p, true
	}
	// Not cached (evicted, or before the first use since a restart): the contact list knows it.
	if c.conn.Store != nil && c.login != nil {
		if rows, err := c.conn.Store.Contacts(ctx, c.login.ID); err == nil {
			for _, row := range rows {
				if puppet.GhostID(row.Passport) == id {
					c.passports.put(id, row.Passport)
					return row.Passport, true
				}
			}
		}
	}
	if c.conn.Bridge == nil {
		return "", false
	}
	ghost, err := c.conn.Bridge.GetExistingGhostByID(ctx, id)
	if err == nil && ghost != nil {
		if meta, ok := ghost.Metadata.(*database.GhostMetadata); ok && meta.Passport != "" {
			return meta.Passport, true
		}
	}
	return "", false
}

// ghostID returns the ghost id of a passport and remembers hashed ones.
func (c *Client) ghostID(passport string) networkid.UserID {
	passport = strings.ToLower(passport)
	id := puppet.GhostID(passport)
	if puppet.IsHashedID(id) {
		c.passports.put(id, passport)
	}
	return id
}
