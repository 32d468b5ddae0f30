package bridge

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/event"
)

// maxCreateRoomBody bounds the createRoom request body the filter rewrites; larger ones pass as
// they are.
const maxCreateRoomBody = 1 << 20

// installCreateRoomFilter makes the bridge bot's createRoom requests leave out an empty
// m.room.topic. bridgev2 (mautrix-go v0.31) puts m.room.topic into the initial state of every
// room it creates, also when the chat has no topic, so every DM portal got an empty topic
// event; MSN conversations never have a topic. Rooms are always created by the bot.
func (c *Connector) installCreateRoomFilter() {
	if c.Bridge == nil {
		return
	}
	bot, ok := c.Bridge.Bot.(*matrix.ASIntent)
	if !ok || bot.Matrix == nil || bot.Matrix.Client == nil {
		return
	}
	filterCreateRoom(bot.Matrix.Client)
}

// filterCreateRoom hooks a Matrix client so that createRoom requests drop an empty topic from
// their initial state. An existing request hook still runs.
func filterCreateRoom(cli *mautrix.Client) {
	prev := cli.RequestHook
	cli.RequestHook = func(req *http.Request) {
		if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/createRoom") && req.Body != nil {
			rewriteBody(req)
		}
		if prev != nil {
			prev(req)
		}
	}
}

// rewriteBody replaces a createRoom request's body with one without an empty topic. A body
// that is too large or not JSON is sent unchanged.
func rewriteBody(req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, maxCreateRoomBody+1))
	if err != nil || len(body) > maxCreateRoomBody {
		req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), req.Body))
		return
	}
	_ = req.Body.Close()
	if out, changed := stripEmptyTopic(body); changed {
		body = out
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
}

// stripEmptyTopic removes m.room.topic events with an empty topic from a createRoom request's
// initial_state. It reports whether it changed anything; on any decoding problem it changes
// nothing.
func stripEmptyTopic(body []byte) ([]byte, bool) {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return body, false
	}
	raw, ok := req["initial_state"]
	if !ok {
		return body, false
	}
	var state []json.RawMessage
	if err := json.Unmarshal(raw, &state); err != nil {
		return body, false
	}
	kept := state[:0:0]
	for _, evt := range state {
		if isEmptyTopic(evt) {
			continue
		}
		kept = append(kept, evt)
	}
	if len(kept) == len(state) {
		return body, false
	}
	enc, err := json.Marshal(kept)
	if err != nil {
		return body, false
	}
	req["initial_state"] = enc
	out, err := json.Marshal(req)
	if err != nil {
		return body, false
	}
	return out, true
}

func isEmptyTopic(raw json.RawMessage) bool {
	var evt struct {
		Type     string  `json:"type"`
		StateKey *string `json:"state_key"`
		Content  struct {
			Topic      *string         `json:"topic"`
			Extensible json.RawMessage `json:"m.topic"`
		} `json:"content"`
	}
	if err := json.Unmarshal(raw, &evt); err != nil || evt.Type != event.StateTopic.Type {
		return false
	}
	if evt.StateKey != nil && *evt.StateKey != "" {
		return false
	}
	ext := bytes.TrimSpace(evt.Content.Extensible)
	return (evt.Content.Topic == nil || *evt.Content.Topic == "") && (len(ext) == 0 || bytes.Equal(ext, []byte("null")))
}
