package bridge

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"

	"github.com/msnbridge/msnbridge/database"
	"github.com/msnbridge/msnbridge/msn/ns"
)

// connectedSink is a matrixSide that drops everything but reports CONNECTED states.
type connectedSink struct {
	connected chan<- time.Time
}

func (connectedSink) QueueRemoteEvent(bridgev2.RemoteEvent) bool              { return true }
func (connectedSink) EnsurePortal(context.Context, networkid.PortalKey) error { return nil }
func (connectedSink) UpdateGhost(context.Context, networkid.UserID, *bridgev2.UserInfo) error {
	return nil
}
func (connectedSink) NotifyUser(context.Context, string) error                     { return nil }
func (connectedSink) PortalNotice(context.Context, *bridgev2.Portal, string) error { return nil }
func (connectedSink) SaveLogin(context.Context) error                              { return nil }
func (connectedSink) AddPendingSend(*bridgev2.MatrixMessage, *bridgedb.Message, networkid.TransactionID, bridgev2.RemoteEchoHandler) {
}
func (connectedSink) RemovePendingSend(*bridgev2.MatrixMessage, networkid.TransactionID) {}
func (connectedSink) MessageStored(context.Context, *bridgev2.Portal, networkid.MessageID) (bool, error) {
	return true, nil
}
func (s connectedSink) SendState(st status.BridgeState) {
	if st.StateEvent == status.StateConnected {
		s.connected <- time.Now()
	}
}

// TestStartupManyLogins is the startup measurement of docs/PERFORMANCE.md: MSNBRIDGE_STARTUP_LOGINS
// stored logins (each its own account on the in-process fake server) are connected the way
// bridgev2 starts them, one Connect after the other, with network.logins_per_second at
// MSNBRIDGE_STARTUP_RATE (default 100; 0 = no limit). It checks that all reach CONNECTED within 20 s and that
// no second saw more logins than the rate. It runs only when MSNBRIDGE_STARTUP_LOGINS is set:
//
//	MSNBRIDGE_STARTUP_LOGINS=1000 go test -tags goolm -count=1 -run TestStartupManyLogins -v ./bridge/
func TestStartupManyLogins(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MSNBRIDGE_STARTUP_LOGINS"))
	if n <= 0 || testing.Short() {
		t.Skip("set MSNBRIDGE_STARTUP_LOGINS to run the startup measurement")
	}
	rate := 100
	if r, err := strconv.Atoi(os.Getenv("MSNBRIDGE_STARTUP_RATE")); err == nil && r >= 0 {
		rate = r
	}
	srv := newFakeServer(t)
	conn := testConnector(t, srv)
	conn.Config.LoginsPerSecond = rate
	conn.Store = testStore(t)
	var mu sync.Mutex
	var dials []time.Time
	conn.loginFunc = func(ctx context.Context, cfg ns.Config, passport, password string) (*ns.Session, error) {
		mu.Lock()
		dials = append(dials, time.Now())
		mu.Unlock()
		cfg.Logger = zerolog.Nop()
		return ns.Login(ctx, cfg, passport, password)
	}
	connected := make(chan time.Time, n)
	clients := make([]*Client, n)
	for i := range clients {
		passport := fmt.Sprintf("user%d@example.com", i)
		if err := srv.AddAccount(passport, "pw", fmt.Sprintf("User %d", i)); err != nil {
			t.Fatal(err)
		}
		sealed, err := conn.sealer.Seal("pw", passport)
		if err != nil {
			t.Fatal(err)
		}
		meta := &database.UserLoginMetadata{Passport: passport, Password: sealed, MachineGUID: newMachineGUID()}
		login := &bridgev2.UserLogin{UserLogin: &bridgedb.UserLogin{ID: networkid.UserLoginID(passport), Metadata: meta}, Log: zerolog.Nop()}
		cl := newClient(conn, nil)
		cl.mx = connectedSink{connected: connected}
		cl.attach(login)
		login.Client = cl
		clients[i] = cl
	}
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, cl := range clients {
			wg.Add(1)
			go func() { defer wg.Done(); cl.Disconnect() }()
		}
		wg.Wait()
	})

	start := time.Now()
	for _, cl := range clients {
		cl.Connect(context.Background())
	}
	var last time.Time
	deadline := time.After(time.Minute)
	for i := range n {
		select {
		case last = <-connected:
		case <-deadline:
			t.Fatalf("%d of %d logins connected after a minute", i, n)
		}
	}
	took := last.Sub(start)
	mu.Lock()
	sort.Slice(dials, func(i, j int) bool { return dials[i].Before(dials[j]) })
	busiest := 0
	for i, j := 0, 0; i < len(dials); i++ {
		for dials[i].Sub(dials[j]) >= time.Second {
			j++
		}
		busiest = max(busiest, i-j+1)
	}
	attempts := len(dials)
	mu.Unlock()
	t.Logf("%d logins at logins_per_second=%d: all CONNECTED %.2f s after the first Connect; %d login attempts, at most %d in any second",
		n, rate, took.Seconds(), attempts, busiest)
	if took > 20*time.Second {
		t.Errorf("all logins connected after %v, want within 20s", took)
	}
	if rate > 0 && busiest > rate {
		t.Errorf("%d logins within one second, limit %d", busiest, rate)
	}
}
