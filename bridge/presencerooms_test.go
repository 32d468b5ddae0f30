package bridge

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"go.mau.fi/util/exsync"
	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/msnbridge/msnbridge/database"
	"github.com/msnbridge/msnbridge/puppet"
)

// storeWithPortals is a bridge store whose database also holds bridgev2's tables, as in the
// running bridge (one database), so that portals can be stored next to group rosters.
func storeWithPortals(t *testing.T) (*database.Store, *bridgedb.Database) {
	t.Helper()
	db := testDB(t)
	store := upgradedStore(t, db)
	if err := store.IndexPortals(context.Background()); err != nil { // as Connector.Start does
		t.Fatal(err)
	}
	return store, bridgedb.New("test", (&Connector{}).GetDBMetaTypes(), db)
}

// upgradedStore brings db to bridgev2's schema and the bridge's own (without the bridge's
// index on portal) and returns the bridge's store on it.
func upgradedStore(tb testing.TB, db *dbutil.Database) *database.Store {
	tb.Helper()
	ctx := context.Background()
	if err := bridgedb.New("test", (&Connector{}).GetDBMetaTypes(), db).Upgrade(ctx); err != nil {
		tb.Fatal(err)
	}
	store := database.New("test", db, dbutil.ZeroLogger(zerolog.Nop()))
	if err := store.Upgrade(ctx); err != nil {
		tb.Fatal(err)
	}
	return store
}

// queryPlan is SQLite's plan for query with args, its steps joined by "; ".
func queryPlan(t testing.TB, db *dbutil.Database, query string, args ...any) string {
	t.Helper()
	rows, err := db.RawDB.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(steps, "; ")
}

// TestPresenceRoomsQueryUsesIndex: a login's rooms are read through the bridge's index on
// portal (bridge_id, receiver). Without it SQLite reads every portal of the bridge that has a
// room (bridgev2's index on bridge_id, mxid) at every login's first connect: 1.6 ms per login at
// 20,000 portals against 24 µs with it (BenchmarkPresenceRoomsQuery).
func TestPresenceRoomsQueryUsesIndex(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	store := upgradedStore(t, db)
	before := queryPlan(t, db, presenceRoomsQuery, "test", "alice@example.com")
	if strings.Contains(before, "msn_portal_receiver_idx") || !strings.Contains(before, " p") {
		t.Fatalf("plan before the index: %s", before)
	}
	for range 2 { // idempotent: every start runs it
		if err := store.IndexPortals(ctx); err != nil {
			t.Fatal(err)
		}
	}
	after := queryPlan(t, db, presenceRoomsQuery, "test", "alice@example.com")
	t.Logf("before: %s\nafter: %s", before, after)
	if !strings.Contains(after, "USING INDEX msn_portal_receiver_idx (bridge_id=? AND receiver=?)") {
		t.Fatalf("a login's portals are not looked up by the index: %s (before: %s)", after, before)
	}
}

// BenchmarkPresenceRoomsQuery reads one login's rooms among 2,000 logins with 10 portals each,
// with and without the bridge's index on portal (bridge_id, receiver).
func BenchmarkPresenceRoomsQuery(b *testing.B) {
	for _, indexed := range []bool{false, true} {
		name := "scan"
		if indexed {
			name = "indexed"
		}
		b.Run(name, func(b *testing.B) {
			db, err := dbutil.NewWithDialect("file:bench_rooms_"+name+"?mode=memory&cache=shared&_txlock=immediate", "sqlite3-fk-wal")
			if err != nil {
				b.Fatal(err)
			}
			db.RawDB.SetMaxOpenConns(1)
			defer db.Close()
			ctx := context.Background()
			store := upgradedStore(b, db)
			if indexed {
				if err := store.IndexPortals(ctx); err != nil {
					b.Fatal(err)
				}
			}
			err = db.DoTxn(ctx, nil, func(ctx context.Context) error {
				for l := range 2000 {
					for p := range 10 {
						if _, err := db.Exec(ctx, `INSERT INTO portal (bridge_id, id, receiver, mxid, other_user_id, name, topic, avatar_id, avatar_hash, avatar_mxc, name_set, avatar_set, topic_set, name_is_custom, in_space, room_type, metadata)
							VALUES ('test', $1, $2, $3, $1, '', '', '', '', '', false, false, false, false, false, '', '{}')`,
							fmt.Sprintf("c%d@example.com", p), fmt.Sprintf("u%d@example.com", l), fmt.Sprintf("!r%d_%d:example", l, p)); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				rows, err := db.Query(ctx, presenceRoomsQuery, "test", fmt.Sprintf("u%d@example.com", i%2000))
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for rows.Next() {
					n++
				}
				if err := rows.Close(); err != nil || n != 10 {
					b.Fatalf("%d rows, %v", n, err)
				}
			}
		})
	}
}

// roomsHarness is a harness whose store holds bridgev2's tables too, with presence bridged by
// a started pusher that needs rooms and sends every push to the returned channel, one at a time
// in queue order.
func roomsHarness(t *testing.T) (*harness, *bridgedb.Database, chan presenceCall) {
	h := newHarness(t, 18)
	store, bdb := storeWithPortals(t)
	h.conn.Store = store
	calls := make(chan presenceCall, 100)
	p := puppet.NewPusher(puppet.PusherConfig{
		MinInterval: time.Millisecond, Workers: 1, RequireRoom: true,
		Resolve: func(_ context.Context, key string) (puppet.PresenceSetter, error) {
			return &presenceRec{key: key, calls: calls}, nil
		},
	})
	p.Start()
	t.Cleanup(p.Stop)
	h.conn.Config.BridgePresence = true
	h.conn.presence = p
	return h, bdb, calls
}

// waitHasRoom polls the pusher until the ghost's room state is want (nothing signals it: the
// hook records it from a goroutine waiting for the room's creation).
func waitHasRoom(t *testing.T, p *puppet.Pusher, ghost string, want bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for p.HasRoom(ghost) != want {
		if time.Now().After(deadline) {
			t.Fatalf("HasRoom(%s) stayed %v", ghost, !want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPresenceRoomsFromPortals: at login the pusher learns, in one query, which contacts share a
// room with the user (DM portals with a room, rosters of group portals with a room; not portals
// without a room, nor another login's); a contact without one is not pushed when it comes
// online, and is pushed at once when its DM room is created; a contact leaving a group room, a
// group room being created and a logout update the set.
func TestPresenceRoomsFromPortals(t *testing.T) {
	h, bdb, calls := roomsHarness(t)
	store := h.conn.Store
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice := h.login.ID
	for _, p := range []*bridgedb.Portal{
		{PortalKey: networkid.PortalKey{ID: "bob@example.com", Receiver: alice}, MXID: "!bob:example", OtherUserID: "bob@example.com", RoomType: bridgedb.RoomTypeDM},
		{PortalKey: networkid.PortalKey{ID: "carol@example.com", Receiver: alice}, OtherUserID: "carol@example.com", RoomType: bridgedb.RoomTypeDM},
		{PortalKey: networkid.PortalKey{ID: groupPrefix + "g1", Receiver: alice}, MXID: "!g1:example", RoomType: bridgedb.RoomTypeGroupDM},
		{PortalKey: networkid.PortalKey{ID: groupPrefix + "g2", Receiver: alice}, RoomType: bridgedb.RoomTypeGroupDM},
		{PortalKey: networkid.PortalKey{ID: "grace@example.com", Receiver: "other@example.com"}, MXID: "!grace:example", OtherUserID: "grace@example.com", RoomType: bridgedb.RoomTypeDM},
	} {
		if err := bdb.Portal.Insert(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.SetGroupMembers(ctx, alice, groupPrefix+"g1", []string{"dave@example.com", "erin@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := store.SetGroupMembers(ctx, alice, groupPrefix+"g2", []string{"frank@example.com"}); err != nil {
		t.Fatal(err)
	}

	h.connect(t)
	// The rooms are loaded on the NS lane after the connect.
	for _, ghost := range []string{"bob@example.com", "dave@example.com", "erin@example.com"} {
		waitHasRoom(t, h.conn.presence, ghost, true)
	}
	for _, ghost := range []string{"carol@example.com", "frank@example.com", "grace@example.com"} {
		if h.conn.presence.HasRoom(ghost) {
			t.Errorf("after login HasRoom(%s) = true, want false", ghost)
		}
	}

	// Carol (no room) comes online before Bob (a DM room): with one worker taking changes in
	// order, a push for Carol would come before Bob's.
	h.online(t, "carol@example.com")
	h.online(t, "bob@example.com")
	for c := range calls {
		if c.key == "carol@example.com" {
			t.Fatalf("carol has no room and was pushed: %+v", c.req)
		}
		if c.key == "bob@example.com" && c.req.Presence == event.PresenceOnline {
			break
		}
	}

	// Carol's DM room is created: bridgev2 applies the chat info (with its hook) first and
	// creates the room after; her current presence is pushed once the room exists.
	carolKey := networkid.PortalKey{ID: "carol@example.com", Receiver: alice}
	info, err := h.client.GetChatInfo(ctx, portalFor(carolKey))
	if err != nil || info.ExtraUpdates == nil {
		t.Fatalf("DM chat info %+v, %v: no room hook", info, err)
	}
	creating := &bridgev2.Portal{Portal: &bridgedb.Portal{PortalKey: carolKey}, RoomCreated: exsync.NewEvent()}
	info.ExtraUpdates(ctx, creating)
	if h.conn.presence.HasRoom("carol@example.com") {
		t.Fatal("carol counted before her room exists")
	}
	creating.MXID = id.RoomID("!carol:example")
	creating.RoomCreated.Set()
	wait(t, calls, "carol online once her room exists", func(c presenceCall) bool {
		return c.key == "carol@example.com" && c.req.Presence == event.PresenceOnline
	})

	// A group room created for g2 (roster frank): frank counts.
	g2Key := networkid.PortalKey{ID: groupPrefix + "g2", Receiver: alice}
	info, err = h.client.GetChatInfo(ctx, portalFor(g2Key))
	if err != nil || info.ExtraUpdates == nil {
		t.Fatalf("group chat info %+v, %v: no room hook", info, err)
	}
	info.ExtraUpdates(ctx, withMXID(g2Key, "!g2:example"))
	waitHasRoom(t, h.conn.presence, "frank@example.com", true)

	// Dave leaves g1; the member change's post-handle hook takes him out, erin stays.
	g1Key := networkid.PortalKey{ID: groupPrefix + "g1", Receiver: alice}
	h.client.groupMembership(ctx, g1Key, "dave@example.com", "", false)
	change := wait(t, h.rec.events, "dave leaves g1", func(e bridgev2.RemoteEvent) bool {
		return e.GetType() == bridgev2.RemoteEventChatInfoChange && e.GetPortalKey() == g1Key
	}).(*simplevent.ChatInfoChange)
	change.PostHandle(ctx, withMXID(g1Key, "!g1:example"))
	if h.conn.presence.HasRoom("dave@example.com") || !h.conn.presence.HasRoom("erin@example.com") {
		t.Fatalf("after dave left g1: HasRoom dave=%v erin=%v, want false and true",
			h.conn.presence.HasRoom("dave@example.com"), h.conn.presence.HasRoom("erin@example.com"))
	}
	// And joins again.
	h.client.groupMembership(ctx, g1Key, "dave@example.com", "Dave", true)
	change = wait(t, h.rec.events, "dave joins g1", func(e bridgev2.RemoteEvent) bool {
		return e.GetType() == bridgev2.RemoteEventChatInfoChange && e.GetPortalKey() == g1Key
	}).(*simplevent.ChatInfoChange)
	change.PostHandle(ctx, withMXID(g1Key, "!g1:example"))
	if !h.conn.presence.HasRoom("dave@example.com") {
		t.Fatal("dave rejoined g1 and does not count")
	}

	// Logout: none of the login's rooms count any more.
	h.client.LogoutRemote(ctx)
	for _, ghost := range []string{"bob@example.com", "carol@example.com", "dave@example.com", "erin@example.com", "frank@example.com"} {
		if h.conn.presence.HasRoom(ghost) {
			t.Errorf("HasRoom(%s) after logout", ghost)
		}
	}
}

// withMXID is a portal whose room exists.
func withMXID(key networkid.PortalKey, room id.RoomID) *bridgev2.Portal {
	return &bridgev2.Portal{Portal: &bridgedb.Portal{PortalKey: key, MXID: room}}
}

// TestPresenceRoomsNotLoadedTwice: the rooms are read from the database at the first connect
// only (a load that failed is tried again); the hooks keep them current after that (a
// reconnect does not re-read them).
func TestPresenceRoomsNotLoadedTwice(t *testing.T) {
	h, bdb, _ := roomsHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bdb.Portal.Insert(ctx, &bridgedb.Portal{PortalKey: networkid.PortalKey{ID: "dave@example.com", Receiver: h.login.ID},
		MXID: "!dave:example", OtherUserID: "dave@example.com", RoomType: bridgedb.RoomTypeDM}); err != nil {
		t.Fatal(err)
	}
	failed, stop := context.WithCancel(ctx)
	stop()
	h.client.loadPresenceRooms(failed) // the query fails: not counted as loaded
	h.client.loadPresenceRooms(ctx)
	if !h.conn.presence.HasRoom("dave@example.com") {
		t.Fatal("a failed load was not tried again")
	}
	if err := bdb.Portal.Insert(ctx, &bridgedb.Portal{PortalKey: networkid.PortalKey{ID: "bob@example.com", Receiver: h.login.ID},
		MXID: "!bob:example", OtherUserID: "bob@example.com", RoomType: bridgedb.RoomTypeDM}); err != nil {
		t.Fatal(err)
	}
	h.client.loadPresenceRooms(ctx)
	if h.conn.presence.HasRoom("bob@example.com") {
		t.Fatal("the rooms were read again")
	}
	h.client.dropPresenceRooms() // logout: a new login reads them anew
	h.client.loadPresenceRooms(ctx)
	if !h.conn.presence.HasRoom("bob@example.com") {
		t.Fatal("the rooms were not read after a logout")
	}
}

// TestPresenceRoomOneWaiterPerPortal: a room creation that fails is retried with every event for
// the portal, each applying the chat info again; only one goroutine waits for the room.
func TestPresenceRoomOneWaiterPerPortal(t *testing.T) {
	h, _, _ := roomsHarness(t)
	key := networkid.PortalKey{ID: "carol@example.com", Receiver: h.login.ID}
	creating := &bridgev2.Portal{Portal: &bridgedb.Portal{PortalKey: key}, RoomCreated: exsync.NewEvent()}
	for range 3 {
		h.client.portalRoom(creating, []string{"carol@example.com"})
	}
	h.client.mu.Lock()
	waits := len(h.client.roomWaits)
	h.client.mu.Unlock()
	if waits != 1 {
		t.Fatalf("%d waiters for one portal, want 1", waits)
	}
	creating.MXID = "!carol:example"
	creating.RoomCreated.Set()
	waitHasRoom(t, h.conn.presence, "carol@example.com", true)
	h.client.mu.Lock()
	waits = len(h.client.roomWaits)
	h.client.mu.Unlock()
	if waits != 0 {
		t.Fatalf("%d waiters left after the room was created", waits)
	}
}
