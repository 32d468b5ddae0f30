package puppet

import (
	"container/heap"
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
// handler (handle_timeout in synapse/handlers/presence.py) then marks a local user's device
// offline once now - max(last_sync_ts, last_active_ts) exceeds presence.sync_online_timeout
// (default 30 s), because the ghost never syncs, and an online device goes unavailable after
// presence.idle_timeout (default 5 min) without activity. Only "busy" gets an hour. So on a
// default Synapse a ghost shown online or unavailable must be re-pushed within 30 s or it flips
// to offline; 20 s leaves room for scheduling and request latency. A homeserver configured with
// long presence.sync_online_timeout and presence.idle_timeout keeps pushed presence standing, and
// the bridge can then turn refreshes off (Refresh < 0). Offline needs no refresh: no timeout
// applies to it.
const DefaultRefresh = 20 * time.Second

// DefaultMaxRate is the default ceiling of pushes per second over all ghosts.
const DefaultMaxRate = 1000

// PusherConfig configures a [Pusher].
type PusherConfig struct {
	// MinInterval is the least time between two pushes for the same ghost (default 5 s).
	// Changes in between are coalesced: only the latest is pushed.
	MinInterval time.Duration
	// Burst and Rate bound the pushes of all ghosts: Burst at once, then Rate per second (default
	// 20, 5). With refreshes on, the rate grows with the number of ghosts shown online or away so
	// that every one of them is refreshed within Refresh, up to MaxRate.
	Burst int
	Rate  float64
	// MaxRate is the ceiling of the grown rate (default [DefaultMaxRate] per second). When the
	// ghosts to refresh need more, the pusher logs a warning: presence will flap.
	MaxRate float64
	// Workers is the number of pushes in flight at once (default 4).
	Workers int
	// Refresh re-pushes each ghost's current non-offline presence this often so the homeserver
	// does not time it out (default [DefaultRefresh], <0 disables: use that when the homeserver
	// keeps presence without refreshes). Refreshes are scheduled most overdue first and come after
	// changes; offline ghosts are never refreshed.
	Refresh time.Duration
	// RequestTimeout bounds each push (default 10 s).
	RequestTimeout time.Duration
	// Resolve returns the setter for a ghost key; nil means skip.
	Resolve func(ctx context.Context, key string) (PresenceSetter, error)
	Logger  zerolog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// RequireRoom pushes only ghosts that share a room with a bridged Matrix user, as recorded
	// with [Pusher.SetRoom], [Pusher.JoinRoom], [Pusher.LeaveRoom] and [Pusher.DropSource].
	// Synapse sends a user's presence only to users it shares a room with, so pushing a ghost
	// without one (a contact nobody has chatted with) is load for nothing. Without RequireRoom
	// every ghost is pushed.
	RequireRoom bool
}

// sourcePresence is what one source (a login of the bridge) sees of a ghost.
type sourcePresence struct {
	source string
	pres   Presence
	seq    uint64
}

// ghostState is the scheduling state of one ghost.
type ghostState struct {
	key      string
	sources  []sourcePresence // sources that see the ghost other than offline; usually one
	want     Presence
	pushed   Presence
	lastPush time.Time
	due      time.Time // heap key while idx >= 0
	idx      int       // index in the heap, -1 when not in it
	rooms    int       // rooms (of any source) the ghost is in, see RequireRoom
	hasPush  bool
	force    bool // a push is owed even if want equals pushed (it just got a room)
	dirty    bool // a push is owed: force, or want differs from pushed (or never pushed)
	queued   bool // in the change queue
	inflight bool // a worker is pushing it
}

// dueHeap orders ghosts by due time, most overdue first (a container/heap).
type dueHeap []*ghostState

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *dueHeap) Push(x any) {
	g := x.(*ghostState)
	g.idx = len(*h)
	*h = append(*h, g)
}
func (h *dueHeap) Pop() any {
	old := *h
	g := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	g.idx = -1
	return g
}

// Pusher pushes presence to Matrix for many ghosts with coalescing and rate limiting. Update is
// O(1) and never blocks on the network; a few worker goroutines do the pushing.
//
// Scheduling: changed ghosts wait in a FIFO queue and go first; ghosts whose presence must be
// refreshed (or whose change waits for MinInterval) wait in a heap keyed by due time, so the
// most overdue goes next. The shared token bucket grows with the number of ghosts to refresh.
//
// Rooms (with [PusherConfig.RequireRoom]): a ghost is eligible while it is in at least one room
// recorded for any source. A ghost without a room is neither refreshed nor pushed on a change:
// its wanted presence is only recorded. Skipping its changes (rather than pushing them once) is
// safe because the moment it gets a room its current presence is pushed at once, and until then
// nobody on the homeserver can see it; it also keeps an idle contact list of thousands from
// costing a push per change. When it loses its last room it leaves the refresh heap; what was
// pushed last then times out on the homeserver, unseen. Room changes cost O(1) per ghost and
// room; nothing is looked up per push.
type Pusher struct {
	cfg      PusherConfig
	mu       sync.Mutex
	ghosts   map[string]*ghostState
	rooms    map[roomKey]map[string]struct{} // ghosts in each room
	bySource map[string]map[string]struct{}  // rooms of each source
	changes  []*ghostState                   // FIFO of changed ghosts; changes[head:] are live
	head     int
	due      dueHeap
	online   int // eligible ghosts whose pushed presence is not offline (the ones refreshed)
	wanted   int // eligible ghosts whose wanted presence is not offline (the ones to refresh soon)
	seq      uint64
	tokens   float64
	lastTok  time.Time
	lastWarn time.Time
	wake     chan struct{}
	stop     chan struct{}
	done     sync.WaitGroup
	started  bool
}

// NewPusher makes a Pusher; call Start to run its workers.
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
	if cfg.MaxRate <= 0 {
		cfg.MaxRate = DefaultMaxRate
	}
	if cfg.MaxRate < cfg.Rate {
		cfg.MaxRate = cfg.Rate
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
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
		cfg:      cfg,
		ghosts:   make(map[string]*ghostState),
		rooms:    make(map[roomKey]map[string]struct{}),
		bySource: make(map[string]map[string]struct{}),
		wake:     make(chan struct{}, 1),
		tokens:   float64(cfg.Burst),
		lastTok:  cfg.Now(),
		stop:     make(chan struct{}),
	}
}

// Update records the wanted presence of a ghost as seen by the bridge as a whole (one source).
func (p *Pusher) Update(key string, pres Presence) {
	p.UpdateFrom(key, "", pres)
}

// UpdateFrom records the presence of a ghost as one source (a login) sees it. A ghost seen by
// several sources is pushed once, with the most online state among them (online, then
// unavailable, then offline; the latest report among equals). The cost does not depend on the
// number of ghosts: a map lookup, the ghost's few sources and a queue append. A ghost without a
// room (see [PusherConfig.RequireRoom]) is not queued.
func (p *Pusher) UpdateFrom(key, source string, pres Presence) {
	p.mu.Lock()
	g := p.ghostLocked(key)
	p.seq++
	g.setSource(source, pres, p.seq)
	p.uncount(g)
	g.want = g.best()
	p.count(g)
	g.dirty = g.force || !g.hasPush || g.pushed != g.want
	queued := p.queueLocked(g)
	p.mu.Unlock()
	if queued {
		p.signal()
	}
}

// ghostLocked returns the state of a ghost, making it; p.mu is held.
func (p *Pusher) ghostLocked(key string) *ghostState {
	g, ok := p.ghosts[key]
	if !ok {
		g = &ghostState{key: key, idx: -1}
		p.ghosts[key] = g
	}
	return g
}

// queueLocked puts a dirty, eligible ghost in the change queue; p.mu is held.
func (p *Pusher) queueLocked(g *ghostState) bool {
	if !g.dirty || g.queued || !p.eligible(g) {
		return false
	}
	g.queued = true
	p.changes = append(p.changes, g)
	return true
}

// eligible reports whether g may be pushed: it shares a room with a Matrix user, or rooms are
// not required.
func (p *Pusher) eligible(g *ghostState) bool {
	return !p.cfg.RequireRoom || g.rooms > 0
}

// count adds g to the online and wanted counts it belongs to; uncount takes it out. Every
// change of g's eligibility, wanted or pushed presence is bracketed by the two.
func (p *Pusher) count(g *ghostState)   { p.addCounts(g, 1) }
func (p *Pusher) uncount(g *ghostState) { p.addCounts(g, -1) }

func (p *Pusher) addCounts(g *ghostState, d int) {
	if !p.eligible(g) {
		return
	}
	if g.hasPush && g.pushed.State != event.PresenceOffline {
		p.online += d
	}
	if g.want.State != "" && g.want.State != event.PresenceOffline {
		p.wanted += d
	}
}

// roomKey names one room of one source.
type roomKey struct{ source, room string }

// SetRoom records the ghosts in one room of a source (a login's portal): those listed are in it,
// any other ghost recorded in it before has left. An empty list removes the room. A ghost that
// gets its first room has its current presence pushed at once; one that loses its last room is
// no longer pushed (see [PusherConfig.RequireRoom]).
func (p *Pusher) SetRoom(source, room string, ghosts []string) {
	rk := roomKey{source, room}
	p.mu.Lock()
	old := p.rooms[rk]
	next := make(map[string]struct{}, len(ghosts))
	for _, key := range ghosts {
		next[key] = struct{}{}
	}
	woke := false
	for key := range old {
		if _, stays := next[key]; !stays {
			p.leaveLocked(rk, key)
		}
	}
	for key := range next {
		if _, was := old[key]; !was {
			woke = p.joinLocked(rk, key) || woke
		}
	}
	p.mu.Unlock()
	if woke {
		p.signal()
	}
}

// JoinRoom records that a ghost is in one room of a source.
func (p *Pusher) JoinRoom(source, room, key string) {
	p.mu.Lock()
	woke := p.joinLocked(roomKey{source, room}, key)
	p.mu.Unlock()
	if woke {
		p.signal()
	}
}

// LeaveRoom records that a ghost is no longer in one room of a source.
func (p *Pusher) LeaveRoom(source, room, key string) {
	p.mu.Lock()
	p.leaveLocked(roomKey{source, room}, key)
	p.mu.Unlock()
}

// DropSource forgets every room of a source (a login that logged out).
func (p *Pusher) DropSource(source string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for room := range p.bySource[source] {
		rk := roomKey{source, room}
		for key := range p.rooms[rk] {
			p.leaveLocked(rk, key)
		}
	}
}

// HasRoom reports whether a ghost is in at least one recorded room.
func (p *Pusher) HasRoom(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.ghosts[key]
	return ok && g.rooms > 0
}

// joinLocked adds a ghost to a room; it reports whether a push was queued. p.mu is held.
func (p *Pusher) joinLocked(rk roomKey, key string) bool {
	members, ok := p.rooms[rk]
	if !ok {
		members = make(map[string]struct{})
		p.rooms[rk] = members
		if p.bySource[rk.source] == nil {
			p.bySource[rk.source] = make(map[string]struct{})
		}
		p.bySource[rk.source][rk.room] = struct{}{}
	}
	if _, in := members[key]; in {
		return false
	}
	members[key] = struct{}{}
	g := p.ghostLocked(key)
	if g.rooms > 0 || !p.cfg.RequireRoom {
		g.rooms++
		return false
	}
	g.rooms++
	p.count(g)
	if g.want.State == "" {
		return false // no presence known yet: the first report is pushed as a change
	}
	// Its presence was not pushed while it had no room (or has timed out since): push it now,
	// unless it is offline and was pushed as offline (offline does not time out).
	if !g.hasPush || g.pushed != g.want || g.want.State != event.PresenceOffline {
		g.force = true
		g.dirty = true
	}
	return p.queueLocked(g)
}

// leaveLocked removes a ghost from a room; p.mu is held.
func (p *Pusher) leaveLocked(rk roomKey, key string) {
	members := p.rooms[rk]
	if _, in := members[key]; !in {
		return
	}
	delete(members, key)
	if len(members) == 0 {
		delete(p.rooms, rk)
		delete(p.bySource[rk.source], rk.room)
		if len(p.bySource[rk.source]) == 0 {
			delete(p.bySource, rk.source)
		}
	}
	g := p.ghosts[key]
	if g.rooms > 1 || !p.cfg.RequireRoom {
		g.rooms--
		return
	}
	p.uncount(g)
	g.rooms = 0
	g.force = false
	if g.idx >= 0 {
		heap.Remove(&p.due, g.idx) // no refreshes; a queued change is dropped when it comes up
	}
}

func (p *Pusher) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// setSource records one source's view; offline views are dropped so only live ones stay.
func (g *ghostState) setSource(source string, pres Presence, seq uint64) {
	for i := range g.sources {
		if g.sources[i].source == source {
			if pres.State == event.PresenceOffline {
				last := len(g.sources) - 1
				g.sources[i] = g.sources[last]
				g.sources[last] = sourcePresence{}
				g.sources = g.sources[:last]
				return
			}
			g.sources[i] = sourcePresence{source: source, pres: pres, seq: seq}
			return
		}
	}
	if pres.State != event.PresenceOffline {
		g.sources = append(g.sources, sourcePresence{source: source, pres: pres, seq: seq})
	}
}

// presenceRank orders states from least to most online.
func presenceRank(s event.Presence) int {
	switch s {
	case event.PresenceOnline:
		return 2
	case event.PresenceUnavailable:
		return 1
	}
	return 0
}

// best is the most online presence among the ghost's sources (offline when none).
func (g *ghostState) best() Presence {
	var best *sourcePresence
	for i := range g.sources {
		s := &g.sources[i]
		if best == nil || presenceRank(s.pres.State) > presenceRank(best.pres.State) ||
			(presenceRank(s.pres.State) == presenceRank(best.pres.State) && s.seq > best.seq) {
			best = s
		}
	}
	if best == nil {
		return Presence{State: event.PresenceOffline}
	}
	return best.pres
}

// Start runs the workers until Stop.
func (p *Pusher) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return
	}
	p.started = true
	p.lastTok = p.cfg.Now()
	p.done.Add(p.cfg.Workers)
	for range p.cfg.Workers {
		go p.run()
	}
}

// Stop ends the workers and waits for them.
func (p *Pusher) Stop() {
	p.mu.Lock()
	started := p.started
	p.started = false
	p.mu.Unlock()
	if !started {
		return
	}
	close(p.stop)
	p.done.Wait()
}

// backlogDrain is the time the grown rate allots to push every queued change.
const backlogDrain = 10 * time.Second

// rate is the current token rate: enough to refresh every ghost shown online or away within
// 80% of the refresh period and to push the queued changes within backlogDrain, at least
// cfg.Rate and at most cfg.MaxRate. While a refresh is overdue (pushes made in a burst come
// due in a burst) the rate is cfg.MaxRate, so lateness does not pile up. The second result is
// the rate the refreshes alone need.
func (p *Pusher) rate(now time.Time) (rate, need float64) {
	rate = p.cfg.Rate
	if p.cfg.Refresh > 0 {
		need = float64(max(p.online, p.wanted)) / (0.8 * p.cfg.Refresh.Seconds())
		if len(p.due) > 0 && !p.due[0].due.After(now) {
			return p.cfg.MaxRate, need
		}
	}
	want := need + float64(len(p.changes)-p.head)/backlogDrain.Seconds()
	return min(max(rate, want), p.cfg.MaxRate), need
}

// next picks a ghost due for a push, or returns how long to wait (tests call it directly).
func (p *Pusher) next() (key string, pres Presence, wait time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, pres, wait := p.nextLocked(p.cfg.Now())
	if g == nil {
		return "", Presence{}, wait
	}
	return g.key, pres, 0
}

// heapSet puts g in the due heap at due, or moves it there.
func (p *Pusher) heapSet(g *ghostState, due time.Time) {
	g.due = due
	if g.idx >= 0 {
		heap.Fix(&p.due, g.idx)
		return
	}
	heap.Push(&p.due, g)
}

// nextLocked is next with p.mu held. Changes go before refreshes, so refreshing a long
// contact list does not delay a real change; among refreshes the most overdue goes first.
func (p *Pusher) nextLocked(now time.Time) (*ghostState, Presence, time.Duration) {
	rate, need := p.rate(now)
	p.tokens += now.Sub(p.lastTok).Seconds() * rate
	if p.tokens > float64(p.cfg.Burst) {
		p.tokens = float64(p.cfg.Burst)
	}
	p.lastTok = now
	if need > p.cfg.MaxRate && now.Sub(p.lastWarn) >= time.Minute {
		p.lastWarn = now
		p.cfg.Logger.Warn().Int("online_ghosts", p.online).Float64("needed_per_second", need).
			Float64("max_per_second", p.cfg.MaxRate).
			Msg("Presence refreshes cannot keep up: ghosts will flap offline; raise the ceiling or configure the homeserver to keep presence without refreshes")
	}
	var pick *ghostState
	fromQueue := false
	for p.head < len(p.changes) {
		g := p.changes[p.head]
		if !g.dirty || !p.eligible(g) {
			p.popChange()
			continue
		}
		if g.inflight || (g.hasPush && now.Sub(g.lastPush) < p.cfg.MinInterval) {
			p.popChange()
			due := g.lastPush.Add(p.cfg.MinInterval)
			if g.inflight && !due.After(now) {
				due = now.Add(time.Second)
			}
			if g.idx < 0 || due.Before(g.due) {
				p.heapSet(g, due)
			}
			continue
		}
		pick, fromQueue = g, true
		break
	}
	wait := time.Hour
	for pick == nil && len(p.due) > 0 {
		top := p.due[0]
		if !p.eligible(top) {
			heap.Pop(&p.due) // lost its last room (kept out of the heap there; defensive)
			continue
		}
		if top.due.After(now) {
			wait = top.due.Sub(now)
			break
		}
		if top.inflight {
			p.heapSet(top, now.Add(time.Second))
			continue
		}
		if refresh := top.lastPush.Add(p.cfg.Refresh); !top.dirty && top.hasPush && p.cfg.Refresh > 0 && refresh.After(now) {
			// Pushed since it was keyed (a change): re-key it now rather than on every change.
			p.heapSet(top, refresh)
			continue
		}
		pick = top
	}
	if pick == nil {
		return nil, Presence{}, wait
	}
	if p.tokens < 1 {
		return nil, Presence{}, max(time.Duration((1-p.tokens)/rate*float64(time.Second)), time.Millisecond)
	}
	p.tokens--
	if fromQueue {
		p.popChange()
	}
	p.uncount(pick)
	pick.dirty = false
	pick.force = false
	pick.hasPush = true
	pick.pushed = pick.want
	pick.lastPush = now
	p.count(pick)
	isOnline := pick.pushed.State != event.PresenceOffline
	switch {
	case isOnline && p.cfg.Refresh > 0 && (pick.idx < 0 || !fromQueue):
		p.heapSet(pick, now.Add(p.cfg.Refresh))
	case isOnline && p.cfg.Refresh > 0:
		// A change of a ghost already in the heap: its entry is early now and gets re-keyed
		// when it comes up, so a change costs no heap work.
	case pick.idx >= 0:
		heap.Remove(&p.due, pick.idx)
	}
	return pick, pick.want, 0
}

// popChange drops the head of the change queue, compacting it once it is mostly consumed.
func (p *Pusher) popChange() {
	p.changes[p.head].queued = false
	p.changes[p.head] = nil
	p.head++
	if p.head == len(p.changes) {
		p.changes = p.changes[:0]
		p.head = 0
	} else if p.head > 1024 && p.head*2 > len(p.changes) {
		n := copy(p.changes, p.changes[p.head:])
		clear(p.changes[n:])
		p.changes = p.changes[:n]
		p.head = 0
	}
}

func (p *Pusher) run() {
	defer p.done.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		p.mu.Lock()
		g, pres, wait := p.nextLocked(p.cfg.Now())
		if g != nil {
			g.inflight = true
		}
		p.mu.Unlock()
		if g != nil {
			p.signal() // let an idle worker look for the next push while this one is in flight
			p.push(g.key, pres)
			p.mu.Lock()
			g.inflight = false
			p.mu.Unlock()
			continue
		}
		timer.Reset(wait)
		select {
		case <-p.stop:
			return
		case <-p.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
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
