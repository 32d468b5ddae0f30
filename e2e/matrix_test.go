//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// seenKind says where in a /sync answer an event was found.
type seenKind int

const (
	kindTimeline  seenKind = iota // a joined room's timeline (messages and state in the timeline)
	kindState                     // a joined room's state block
	kindEphemeral                 // typing and receipts
	kindInvite                    // an invite's stripped state
	kindPresence                  // a presence update
	kindAccount                   // account data
)

// seen is one event received through /sync.
type seen struct {
	Kind  seenKind
	Room  id.RoomID
	Event *event.Event
	At    time.Time // when the /sync answer carrying it arrived
}

// str returns a string field of the event content ("" when absent).
func (s seen) str(key string) string {
	v, _ := s.Event.Content.Raw[key].(string)
	return v
}

func (s seen) String() string {
	body := s.str("body")
	if len(body) > 80 {
		body = body[:80] + "…"
	}
	return fmt.Sprintf("[%d] %s %s from %s %q", s.Kind, s.Room, s.Event.Type.Type, s.Event.Sender, body)
}

// matrixUser is a real Matrix client logged in as a test user, with a /sync loop recording every
// event it sees and accepting every invite.
type matrixUser struct {
	cli *mautrix.Client
	ID  id.UserID

	mu      sync.Mutex
	events  []seen
	changed chan struct{} // closed and replaced on every append
	syncErr error

	cancel context.CancelFunc
	done   chan struct{}

	// leaveInvited, when set, says which invites (by their stripped state) to leave pending
	// instead of accepting them, like a user who ignores them. Set it only between steps.
	leaveInvited func(state []*event.Event) bool
}

func newMatrixUser(hsURL string, reg *registeredUser) (*matrixUser, error) {
	cli, err := mautrix.NewClient(hsURL, id.UserID(reg.UserID), reg.AccessToken)
	if err != nil {
		return nil, fmt.Errorf("matrix client: %w", err)
	}
	cli.DeviceID = id.DeviceID(reg.DeviceID)
	cli.Client = &httpClientNoTimeout
	return &matrixUser{cli: cli, ID: id.UserID(reg.UserID), changed: make(chan struct{})}, nil
}

// syncFilter raises the timeline limit of /sync (Synapse's default is 10 events per room):
// after an outage of the homeserver, a "limited" timeline would hide events from the tests.
const syncFilter = `{"room":{"timeline":{"limit":400}}}`

// httpClientNoTimeout serves long-polling /sync; every request carries a context deadline instead.
var httpClientNoTimeout = *httpClient

func init() { httpClientNoTimeout.Timeout = 0 }

// start runs the /sync loop until stop.
func (m *matrixUser) start() {
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.done = make(chan struct{})
	go m.syncLoop(ctx)
}

func (m *matrixUser) stop() {
	if m.cancel != nil {
		m.cancel()
		<-m.done
	}
}

func (m *matrixUser) syncLoop(ctx context.Context) {
	defer close(m.done)
	since := ""
	for ctx.Err() == nil {
		reqCtx, cancel := context.WithTimeout(ctx, 40*time.Second)
		resp, err := m.cli.SyncRequest(reqCtx, 10000, since, syncFilter, false, event.PresenceOnline)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			m.mu.Lock()
			m.syncErr = err
			m.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond): // back off before retrying a failed /sync
			}
			continue
		}
		since = resp.NextBatch
		m.record(ctx, resp)
	}
}

func (m *matrixUser) record(ctx context.Context, resp *mautrix.RespSync) {
	var add []seen
	at := time.Now()
	put := func(kind seenKind, room id.RoomID, evts []*event.Event, class event.TypeClass) {
		for _, evt := range evts {
			evt.RoomID = room
			evt.Type.Class = class
			if evt.StateKey != nil {
				evt.Type.Class = event.StateEventType
			}
			add = append(add, seen{Kind: kind, Room: room, Event: evt, At: at})
		}
	}
	for room, r := range resp.Rooms.Join {
		put(kindState, room, r.State.Events, event.StateEventType)
		put(kindTimeline, room, r.Timeline.Events, event.MessageEventType)
		put(kindEphemeral, room, r.Ephemeral.Events, event.EphemeralEventType)
	}
	m.mu.Lock()
	leaveInvited := m.leaveInvited
	m.mu.Unlock()
	for room, r := range resp.Rooms.Invite {
		put(kindInvite, room, r.State.Events, event.StateEventType)
		if leaveInvited != nil && leaveInvited(r.State.Events) {
			continue
		}
		go func(room id.RoomID) { // accept every invite, like a user who trusts the bridge
			jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			_, _ = m.cli.JoinRoomByID(jctx, room)
		}(room)
	}
	put(kindPresence, "", resp.Presence.Events, event.EphemeralEventType)
	put(kindAccount, "", resp.AccountData.Events, event.AccountDataEventType)
	if len(add) == 0 {
		return
	}
	m.mu.Lock()
	m.events = append(m.events, add...)
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
}

// mark returns a cursor: waits with it see only events recorded after this call.
func (m *matrixUser) mark() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.events)
}

// waitFor waits until an event recorded at or after cursor matches, and returns it.
func (m *matrixUser) waitFor(cursor int, timeout time.Duration, what string, match func(seen) bool) (seen, error) {
	deadline := time.After(timeout)
	for {
		m.mu.Lock()
		for i := cursor; i < len(m.events); i++ {
			if match(m.events[i]) {
				s := m.events[i]
				m.mu.Unlock()
				return s, nil
			}
		}
		cursor = len(m.events)
		ch, syncErr := m.changed, m.syncErr
		m.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			return seen{}, fmt.Errorf("no %s within %s (last /sync error: %v)", what, timeout, syncErr)
		}
	}
}

// expect is waitFor failing the test.
func (m *matrixUser) expect(t testing.TB, cursor int, timeout time.Duration, what string, match func(seen) bool) seen {
	t.Helper()
	s, err := m.waitFor(cursor, timeout, what, match)
	if err != nil {
		t.Fatalf("%v\nrecent events:\n%s", err, m.recent(25))
	}
	return s
}

// all returns the events recorded at or after cursor that match.
func (m *matrixUser) all(cursor int, match func(seen) bool) []seen {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []seen
	for i := cursor; i < len(m.events); i++ {
		if match(m.events[i]) {
			out = append(out, m.events[i])
		}
	}
	return out
}

func (m *matrixUser) recent(n int) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	start := max(0, len(m.events)-n)
	var b strings.Builder
	for _, s := range m.events[start:] {
		b.WriteString("  " + s.String() + "\n")
	}
	return b.String()
}

// message matches an m.room.message in room (any room if empty) from sender whose body
// satisfies bodyMatch.
func message(room id.RoomID, sender id.UserID, bodyMatch func(string) bool) func(seen) bool {
	return func(s seen) bool {
		return s.Kind == kindTimeline && s.Event.Type == event.EventMessage &&
			(room == "" || s.Room == room) && (sender == "" || s.Event.Sender == sender) &&
			bodyMatch(s.str("body"))
	}
}

func contains(sub string) func(string) bool {
	return func(s string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(sub)) }
}

func equals(want string) func(string) bool { return func(s string) bool { return s == want } }

// ctx returns a context for one request.
func reqCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}
