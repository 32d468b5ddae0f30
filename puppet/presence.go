package puppet

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
)

// MaxStatusMessageBytes bounds the Matrix status message built from an MSN status and personal message.
const MaxStatusMessageBytes = 256

// Presence is a Matrix presence state with its status message.
type Presence struct {
	State     event.Presence
	StatusMsg string
}

// MSN status codes as sent on the wire (the values of ns.Status).
const (
	StatusOnline      = "NLN"
	StatusBusy        = "BSY"
	StatusIdle        = "IDL"
	StatusBeRightBack = "BRB"
	StatusAway        = "AWY"
	StatusOnThePhone  = "PHN"
	StatusOutToLunch  = "LUN"
	StatusHidden      = "HDN"
	StatusOffline     = "FLN"
)

// statusLabels names the MSN statuses that map to "unavailable".
var statusLabels = map[string]string{
	StatusAway:        "Away",
	StatusBusy:        "Busy",
	StatusIdle:        "Idle",
	StatusBeRightBack: "Be right back",
	StatusOutToLunch:  "Out to lunch",
	StatusOnThePhone:  "On the phone",
}

// MapPresence maps an MSN status code and personal message to Matrix presence: online → online;
// away, busy, idle, be right back, out to lunch and on the phone → unavailable with the status as
// message; hidden, offline and anything unknown → offline. The personal message, when set, is
// appended to the status message.
func MapPresence(status, personalMessage string) Presence {
	psm := cleanText(personalMessage, MaxStatusMessageBytes)
	switch status {
	case StatusOnline:
		return Presence{State: event.PresenceOnline, StatusMsg: psm}
	case StatusHidden, StatusOffline:
		return Presence{State: event.PresenceOffline}
	}
	label, ok := statusLabels[status]
	if !ok {
		return Presence{State: event.PresenceOffline}
	}
	msg := label
	if psm != "" {
		msg = cleanText(label+" — "+psm, MaxStatusMessageBytes)
	}
	return Presence{State: event.PresenceUnavailable, StatusMsg: msg}
}

// ParseStatus maps a user-typed status name (as in the set-status command) to an MSN status code.
func ParseStatus(name string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "online", "available", "nln":
		return StatusOnline, true
	case "away", "awy":
		return StatusAway, true
	case "busy", "bsy", "dnd":
		return StatusBusy, true
	case "idle", "idl":
		return StatusIdle, true
	case "brb", "berightback", "be-right-back":
		return StatusBeRightBack, true
	case "lunch", "outtolunch", "out-to-lunch", "lun":
		return StatusOutToLunch, true
	case "phone", "onthephone", "on-the-phone", "phn":
		return StatusOnThePhone, true
	case "hidden", "invisible", "appear-offline", "hdn":
		return StatusHidden, true
	}
	return "", false
}

// PresenceSetter sets the presence of one Matrix user (a ghost's appservice intent).
type PresenceSetter interface {
	SetPresence(ctx context.Context, req mautrix.ReqPresence) error
}

// DefaultRefresh is how often a ghost's non-offline presence is pushed again by default.
//
// Synapse has no special case for appservice users here: PUT /presence from the appservice
// (masquerading as the ghost) is handled like any client's set_state for the ghost's "device".
// It records the device's state and sets its last_active_ts to now; the presence timeout
// handler then marks a local user's device offline once now - max(last_sync_ts, last_active_ts)
// exceeds sync_online_timeout (default 30 s, SYNC_ONLINE_TIMEOUT), because the ghost never
// syncs, and an online device goes unavailable after idle_timeout (5 min) without activity.
// Only "busy" (org.matrix.msc3026.busy) gets an hour. So a ghost shown online or unavailable
// must be re-pushed within 30 s or it flips to offline; 20 s leaves room for the worker's rate
// limit and request latency. Re-pushing the same state changes only timestamps, so Synapse
// rarely tells anyone about it, and appservices are exempt from rc_presence when not rate limited.
// Offline needs no refresh: no timeout applies to it.
const DefaultRefresh = 20 * time.Second

// PusherConfig configures a [Pusher].
type PusherConfig struct {
	// MinInterval is the least time between two pushes for the same ghost (default 5 s).
	// Changes in between are coalesced: only the latest is pushed.
	MinInterval time.Duration
	// Burst and Rate bound the pushes of all ghosts: Burst at once, then Rate per second (default 20, 5).
	Burst int
	Rate  float64
	// Refresh re-pushes each ghost's current non-offline presence this often so the homeserver
	// does not time it out (default [DefaultRefresh], <0 disables). See [DefaultRefresh] for why
	// it must stay well below 30 s on Synapse. Refreshes share the rate limit with changes but
	// come after them; offline ghosts are never refreshed (offline does not time out), so with
	// every ghost offline the worker has no timer running.
	Refresh time.Duration
	// RequestTimeout bounds each push (default 10 s).
	RequestTimeout time.Duration
	// Resolve returns the setter for a ghost key; nil means skip.
	Resolve func(ctx context.Context, key string) (PresenceSetter, error)
	Logger  zerolog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

type pending struct {
	want     Presence
	pushed   Presence
	hasPush  bool
	lastPush time.Time
	dirty    bool
}

// Pusher pushes presence to Matrix for many ghosts with coalescing and rate limiting. Update is
// cheap and never blocks on the network; a single worker goroutine does the pushing.
type Pusher struct {
	cfg     PusherConfig
	mu      sync.Mutex
	ghosts  map[string]*pending
	wake    chan struct{}
	tokens  float64
	lastTok time.Time
	stop    chan struct{}
	done    chan struct{}
	started bool
}

// NewPusher makes a Pusher; call Start to run its worker.
func NewPusher(cfg PusherConfig) *Pusher {
	if cfg.MinInterval <= 0 {
		cfg.MinInterval = 5 * time.Second
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 20
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 5
	}
	if cfg.Refresh == 0 {
		cfg.Refresh = DefaultRefresh
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Pusher{
		cfg:    cfg,
		ghosts: make(map[string]*pending),
		wake:   make(chan struct{}, 1),
		tokens: float64(cfg.Burst),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
}

// Update records the wanted presence of a ghost; the worker pushes it when allowed.
func (p *Pusher) Update(key string, pres Presence) {
	p.mu.Lock()
	g, ok := p.ghosts[key]
	if !ok {
		g = &pending{}
		p.ghosts[key] = g
	}
	g.want = pres
	g.dirty = !g.hasPush || g.pushed != pres
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Start runs the worker until Stop.
func (p *Pusher) Start() {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return
	}
	p.started = true
	p.lastTok = p.cfg.Now()
	p.mu.Unlock()
	go p.run()
}

// Stop ends the worker and waits for it.
func (p *Pusher) Stop() {
	p.mu.Lock()
	started := p.started
	p.started = false
	p.mu.Unlock()
	if !started {
		return
	}
	close(p.stop)
	<-p.done
}

// next picks a ghost due for a push, or returns how long to wait. Changed presence goes before
// refreshes, so a long contact list being refreshed does not delay a real change.
func (p *Pusher) next() (key string, pres Presence, wait time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now()
	p.tokens += now.Sub(p.lastTok).Seconds() * p.cfg.Rate
	if p.tokens > float64(p.cfg.Burst) {
		p.tokens = float64(p.cfg.Burst)
	}
	p.lastTok = now
	wait = time.Hour
	sooner := func(w time.Duration) {
		if w < wait {
			wait = w
		}
	}
	var pick, refresh string
	for k, g := range p.ghosts {
		due := g.dirty
		if !due && p.cfg.Refresh > 0 && g.hasPush && g.pushed.State != event.PresenceOffline {
			if since := now.Sub(g.lastPush); since >= p.cfg.Refresh {
				if refresh == "" {
					refresh = k
				}
			} else {
				sooner(p.cfg.Refresh - since)
			}
			continue
		}
		if !due {
			continue
		}
		if g.hasPush {
			if since := now.Sub(g.lastPush); since < p.cfg.MinInterval {
				sooner(p.cfg.MinInterval - since)
				continue
			}
		}
		pick = k
		break
	}
	if pick == "" {
		pick = refresh
	}
	if pick == "" {
		return "", Presence{}, wait
	}
	if p.tokens < 1 {
		return "", Presence{}, time.Duration((1 - p.tokens) / p.cfg.Rate * float64(time.Second))
	}
	p.tokens--
	g := p.ghosts[pick]
	g.dirty = false
	g.hasPush = true
	g.pushed = g.want
	g.lastPush = now
	return pick, g.want, 0
}

func (p *Pusher) run() {
	defer close(p.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		key, pres, wait := p.next()
		if key != "" {
			p.push(key, pres)
			continue
		}
		timer.Reset(wait)
		select {
		case <-p.stop:
			return
		case <-p.wake:
		case <-timer.C:
		}
	}
}

func (p *Pusher) push(key string, pres Presence) {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.RequestTimeout)
	defer cancel()
	log := p.cfg.Logger.With().Str("ghost", key).Str("presence", string(pres.State)).Logger()
	setter, err := p.cfg.Resolve(ctx, key)
	if err != nil {
		log.Warn().Err(err).Msg("Failed to get ghost for presence")
		return
	}
	if setter == nil {
		return
	}
	if err = setter.SetPresence(ctx, mautrix.ReqPresence{Presence: pres.State, StatusMsg: pres.StatusMsg}); err != nil {
		log.Warn().Err(err).Msg("Failed to set presence")
		return
	}
	log.Debug().Msg("Pushed presence")
}
