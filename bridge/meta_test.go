package bridge

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"

	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"

	"github.com/msnbridge/msnbridge/database"
)

// savingSide is a matrixSide whose SaveLogin reads the whole metadata (as the database save
// does) and notices overlapping saves.
type savingSide struct {
	*recorder
	login    *bridgev2.UserLogin
	inFlight atomic.Int32
	overlap  atomic.Bool
	last     atomic.Value // the last saved JSON
}

func (s *savingSide) SaveLogin(context.Context) error {
	if s.inFlight.Add(1) > 1 {
		s.overlap.Store(true)
	}
	defer s.inFlight.Add(-1)
	b, err := json.Marshal(s.login.Metadata)
	if err != nil {
		return err
	}
	s.last.Store(string(b))
	return nil
}

// TestLoginMetadataChangedAndSavedUnderOneLock: the connection loop, the reconnect command and
// status changes update the metadata concurrently; every change and save happens under one
// lock (the race detector and the overlap check fail otherwise) and the last save holds the
// final values.
func TestLoginMetadataChangedAndSavedUnderOneLock(t *testing.T) {
	meta := &database.UserLoginMetadata{Passport: "me@example.com"}
	login := &bridgev2.UserLogin{UserLogin: &bridgedb.UserLogin{ID: "me@example.com", Metadata: meta}}
	side := &savingSide{recorder: newRecorder(), login: login}
	c := &Client{login: login, mx: side}
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(3)
		go func() { defer wg.Done(); _ = c.noteConnected(ctx, 15+i%4) }()
		go func() { defer wg.Done(); _ = c.setSignedInElsewhere(ctx, i%2 == 0) }()
		go func() {
			defer wg.Done()
			_ = c.updateMeta(ctx, func(m *database.UserLoginMetadata) bool { m.Status = "AWY"; return true })
			_ = c.chosenStatus(meta)
		}()
	}
	wg.Wait()
	if side.overlap.Load() {
		t.Fatal("two saves of the login ran at the same time")
	}
	if err := c.setSignedInElsewhere(ctx, true); err != nil {
		t.Fatal(err)
	}
	var saved database.UserLoginMetadata
	if err := json.Unmarshal([]byte(side.last.Load().(string)), &saved); err != nil {
		t.Fatal(err)
	}
	if !saved.SignedInElsewhere || saved.Status != "AWY" || c.metaSnapshot().SignedInElsewhere != true {
		t.Fatalf("saved %+v", saved)
	}
	if err := c.setSignedInElsewhere(ctx, true); err != nil {
		t.Fatal(err)
	}
}
