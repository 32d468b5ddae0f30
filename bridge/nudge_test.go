package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// redactRecorder adds redactions to the recorder.
type redactRecorder struct {
	*recorder
	redacted chan id.EventID
}

func (r *redactRecorder) RedactEvent(_ context.Context, _ *bridgev2.Portal, evt id.EventID, _ string) error {
	r.redacted <- evt
	return nil
}

func TestSlashNudgeReplacedByNotice(t *testing.T) {
	h := newHarness(t, 18)
	ux := &redactRecorder{recorder: h.rec, redacted: make(chan id.EventID, 10)}
	h.client.mx = ux
	h.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob := h.online(t, "bob@example.com")
	bobKey := networkid.PortalKey{ID: "bob@example.com", Receiver: "alice@example.com"}
	send := func(evt id.EventID, body string) {
		t.Helper()
		if _, err := h.client.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
			Event:   &event.Event{ID: evt},
			Content: &event.MessageEventContent{MsgType: event.MsgText, Body: body}, Portal: portalFor(bobKey),
		}}); err != nil {
			t.Fatal(err)
		}
	}

	// Plain text stays as it is.
	send("$text", "hello")
	if m, err := bob.NextText(ctx); err != nil || m.Body != "hello" {
		t.Fatalf("bob got %+v, %v", m, err)
	}
	select {
	case evt := <-ux.redacted:
		t.Fatalf("a text message was redacted: %s", evt)
	case n := <-h.rec.notices:
		t.Fatalf("a text message got a notice: %q", n)
	default:
	}

	// "/nudge" goes out as a nudge, and the room shows the nudge notice instead of the text.
	send("$nudge", "/nudge")
	for {
		m, err := bob.Next(ctx)
		if err != nil {
			t.Fatalf("no nudge: %v", err)
		}
		if strings.Contains(m.ContentType, "datacast") {
			break
		}
	}
	if got := wait(t, h.rec.notices, "the nudge notice", func(string) bool { return true }); got != "You sent Bob a nudge." {
		t.Errorf("notice %q, want %q", got, "You sent Bob a nudge.")
	}
	if got := wait(t, ux.redacted, "the redaction of /nudge", func(id.EventID) bool { return true }); got != "$nudge" {
		t.Errorf("redacted %s, want $nudge", got)
	}
}

func TestNudgeSentNotice(t *testing.T) {
	for to, want := range map[string]string{"Bob": "You sent Bob a nudge.", "": "You sent a nudge."} {
		if got := nudgeSentNotice(to); got != want {
			t.Errorf("nudgeSentNotice(%q) = %q, want %q", to, got, want)
		}
	}
}
