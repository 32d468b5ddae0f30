package bridge

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// createRoomBodies runs a fake homeserver on 127.0.0.1 that answers createRoom and hands over
// each request body.
func createRoomBodies(t *testing.T) (*mautrix.Client, chan map[string]json.RawMessage) {
	t.Helper()
	bodies := make(chan map[string]json.RawMessage, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/createRoom") {
			http.NotFound(w, r)
			return
		}
		data, _ := io.ReadAll(r.Body)
		var body map[string]json.RawMessage
		if err := json.Unmarshal(data, &body); err != nil || r.ContentLength != int64(len(data)) {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		bodies <- body
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"room_id":"!r:test"}`))
	}))
	t.Cleanup(srv.Close)
	cli, err := mautrix.NewClient(srv.URL, id.UserID("@bot:test"), "token")
	if err != nil {
		t.Fatal(err)
	}
	cli.DefaultHTTPRetries = 0
	return cli, bodies
}

func stateTypes(t *testing.T, body map[string]json.RawMessage) map[string]string {
	t.Helper()
	var state []struct {
		Type    string         `json:"type"`
		Content map[string]any `json:"content"`
	}
	if err := json.Unmarshal(body["initial_state"], &state); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range state {
		topic, _ := s.Content["topic"].(string)
		out[s.Type] = topic
	}
	return out
}

// TestCreateRoomLeavesOutEmptyTopic sends the initial state bridgev2 builds for a DM portal
// (an empty m.room.topic among the rest) through the filtered bot client: the empty topic must
// not reach the homeserver, everything else (and a real topic) must.
func TestCreateRoomLeavesOutEmptyTopic(t *testing.T) {
	cli, bodies := createRoomBodies(t)
	filterCreateRoom(cli)
	hookRan := false
	prev := cli.RequestHook
	cli.RequestHook = func(r *http.Request) { hookRan = true; prev(r) }
	req := func(topic string) *mautrix.ReqCreateRoom {
		return &mautrix.ReqCreateRoom{
			Preset:   "private_chat",
			IsDirect: true,
			InitialState: []*event.Event{
				{Type: event.StateElementFunctionalMembers, Content: event.Content{Parsed: &event.ElementFunctionalMembersContent{ServiceMembers: []id.UserID{"@bot:test"}}}},
				{Type: event.StateTopic, Content: event.Content{Parsed: &event.TopicEventContent{Topic: topic}, Raw: map[string]any{"com.beeper.exclude_from_timeline": true}}},
			},
		}
	}
	if _, err := cli.CreateRoom(context.Background(), req("")); err != nil {
		t.Fatal(err)
	}
	got := stateTypes(t, <-bodies)
	if _, ok := got[event.StateTopic.Type]; ok {
		t.Errorf("empty m.room.topic sent in the initial state: %v", got)
	}
	if _, ok := got[event.StateElementFunctionalMembers.Type]; !ok {
		t.Errorf("other initial state lost: %v", got)
	}
	if _, err := cli.CreateRoom(context.Background(), req("Weekend plans")); err != nil {
		t.Fatal(err)
	}
	if got := stateTypes(t, <-bodies); got[event.StateTopic.Type] != "Weekend plans" {
		t.Errorf("a real topic was dropped: %v", got)
	}
	if !hookRan {
		t.Error("request hook chain broken")
	}
}

func TestStripEmptyTopic(t *testing.T) {
	for _, tt := range []struct {
		in      string
		changed bool
	}{
		{`{"initial_state":[{"type":"m.room.topic","content":{"topic":""}}]}`, true},
		{`{"initial_state":[{"type":"m.room.topic","state_key":"","content":{}}]}`, true},
		{`{"initial_state":[{"type":"m.room.topic","content":{"topic":"","m.topic":{"m.text":[{"body":"x"}]}}}]}`, false},
		{`{"initial_state":[{"type":"m.room.topic","content":{"topic":"x"}}]}`, false},
		{`{"initial_state":[{"type":"m.room.name","content":{"name":""}}]}`, false},
		{`{"preset":"private_chat"}`, false},
		{`not json`, false},
		{`{"initial_state":"nope"}`, false},
	} {
		out, changed := stripEmptyTopic([]byte(tt.in))
		if changed != tt.changed {
			t.Errorf("%s: changed = %v, want %v", tt.in, changed, tt.changed)
		}
		if changed && (strings.Contains(string(out), "m.room.topic") || !json.Valid(out)) {
			t.Errorf("%s: bad output %s", tt.in, out)
		}
		if !changed && string(out) != tt.in {
			t.Errorf("%s: body changed to %s", tt.in, out)
		}
	}
}

// FuzzStripEmptyTopic: any body gives valid JSON when rewritten and never panics.
func FuzzStripEmptyTopic(f *testing.F) {
	f.Add([]byte(`{"initial_state":[{"type":"m.room.topic","content":{"topic":""}},{"type":"m.room.name","content":{"name":"x"}}]}`))
	f.Add([]byte(`{"initial_state":[null, 1, "x", {"type":"m.room.topic","state_key":null}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, changed := stripEmptyTopic(body)
		if changed && !json.Valid(out) {
			t.Fatalf("invalid JSON out of %q: %q", body, out)
		}
		if !changed && string(out) != string(body) {
			t.Fatal("unchanged body differs")
		}
	})
}
