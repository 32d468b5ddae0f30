package bridge

import (
	"context"
	"testing"
)

// spaceRecorder adds space removals to the recorder.
type spaceRecorder struct {
	*recorder
	spaceLeaves chan struct{}
}

func (s *spaceRecorder) RemoveUserFromSpace(context.Context) error {
	s.spaceLeaves <- struct{}{}
	return nil
}

func TestLogoutRemovesUserFromSpace(t *testing.T) {
	h := newHarness(t, 18)
	ux := &spaceRecorder{recorder: h.rec, spaceLeaves: make(chan struct{}, 10)}
	h.client.mx = ux
	h.connect(t)
	h.client.LogoutRemote(context.Background())
	select {
	case <-ux.spaceLeaves:
	default:
		t.Fatal("logout left the user in (or invited to) the login's space")
	}
}
