package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/msntest"
)

// Item is something a scripted contact received, as listed by GET /v1/received.
type Item struct {
	// Index is the item's position in the contact's list; the next cursor is Index+1.
	Index int `json:"index"`
	// From is the sender's passport.
	From string `json:"from"`
	// Kind is text, typing, nudge, oim, or other:<content type>.
	Kind string `json:"kind"`
	// Text is the body of text and oim items (chunked messages reassembled).
	Text string `json:"text,omitempty"`
	// Format is the X-MMS-IM-Format of text items.
	Format *FormatJSON `json:"format,omitempty"`
	// Chunks is how many switchboard messages a text item came in: 1 for a plain message,
	// the number of chunks of one chunked message (FACTS §7.2) otherwise.
	Chunks int `json:"chunks,omitempty"`
	// MessageID is the Message-ID header of a chunked message.
	MessageID string `json:"message_id,omitempty"`
	// At is when the fake server got it.
	At time.Time `json:"at"`
}

// FormatJSON is the JSON form of message.Format.
type FormatJSON struct {
	Font      string `json:"font,omitempty"`
	Color     string `json:"color,omitempty"` // RRGGBB
	Bold      bool   `json:"bold,omitempty"`
	Italic    bool   `json:"italic,omitempty"`
	Underline bool   `json:"underline,omitempty"`
	Strike    bool   `json:"strike,omitempty"`
}

func formatToJSON(f message.Format) *FormatJSON {
	out := &FormatJSON{Font: f.Font, Bold: f.Bold, Italic: f.Italic, Underline: f.Underline, Strike: f.Strike}
	if f.HasColor {
		out.Color = fmt.Sprintf("%06x", f.Color&0xffffff)
	}
	return out
}

func (j *FormatJSON) format() (message.Format, error) {
	f := message.DefaultFormat
	if j == nil {
		return f, nil
	}
	if j.Font != "" {
		f.Font = j.Font
	}
	f.Bold, f.Italic, f.Underline, f.Strike = j.Bold, j.Italic, j.Underline, j.Strike
	if j.Color != "" {
		c, err := strconv.ParseUint(strings.TrimPrefix(j.Color, "#"), 16, 32)
		if err != nil || len(strings.TrimPrefix(j.Color, "#")) != 6 {
			return f, fmt.Errorf("color %q is not RRGGBB", j.Color)
		}
		f.Color, f.HasColor = uint32(c), true
	}
	return f, nil
}

// maxItems bounds what is kept per contact.
const maxItems = 10000

// recorder keeps what one scripted contact received, and answers for an echo contact.
type recorder struct {
	c    *msntest.Contact
	srv  *msntest.Server
	echo bool
	log  zerolog.Logger

	mu      sync.Mutex
	items   []Item
	oimSeen map[string]bool
	changed chan struct{}
}

func newRecorder(srv *msntest.Server, c *msntest.Contact, echo bool, log zerolog.Logger) *recorder {
	return &recorder{c: c, srv: srv, echo: echo, log: log, oimSeen: map[string]bool{}, changed: make(chan struct{})}
}

func (r *recorder) add(it Item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.items) >= maxItems {
		return
	}
	it.Index = len(r.items)
	r.items = append(r.items, it)
	close(r.changed)
	r.changed = make(chan struct{})
}

// maxOpenChunked bounds the chunked messages being counted at once.
const maxOpenChunked = 1000

// run records every message the contact receives until ctx ends.
func (r *recorder) run(ctx context.Context) {
	ra := message.NewReassembler(message.ReassemblerConfig{})
	chunks := map[string]int{} // sender + Message-ID → chunks seen so far
	for {
		m, err := r.c.Next(ctx)
		if err != nil {
			return
		}
		it := Item{From: m.From, At: time.Now()}
		parsed, err := message.Parse(m.Payload)
		if err != nil {
			it.Kind = "other:" + m.ContentType
			r.add(it)
			continue
		}
		it.Chunks = 1
		if id := parsed.Header(message.HeaderMessageID); id != "" {
			key := m.From + "\x00" + id
			if len(chunks) >= maxOpenChunked {
				clear(chunks)
			}
			chunks[key]++
			full, err := ra.Add(m.From, parsed)
			if err != nil {
				delete(chunks, key)
				r.log.Warn().Err(err).Str("from", m.From).Msg("bad chunked message")
				continue
			}
			if full == nil {
				continue // more chunks to come
			}
			it.Chunks, it.MessageID = chunks[key], id
			delete(chunks, key)
			parsed = full
		}
		switch parsed.Kind {
		case message.KindText:
			it.Kind, it.Text, it.Format = "text", parsed.Text.Body, formatToJSON(parsed.Text.Format)
		case message.KindTyping:
			it.Kind = "typing"
		case message.KindNudge:
			it.Kind = "nudge"
		default:
			it.Kind = "other:" + parsed.ContentType
		}
		r.add(it)
		if r.echo && it.Kind == "text" {
			go r.answer(ctx, m.From, it.Text)
		}
	}
}

func (r *recorder) answer(ctx context.Context, to, text string) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := sendText(ctx, r.c, to, text, message.DefaultFormat); err != nil {
		r.log.Warn().Err(err).Str("to", to).Msg("echo failed")
	}
}

// pullOIMs appends the offline messages stored for the contact since the last call.
func (r *recorder) pullOIMs() {
	for _, o := range r.srv.OfflineMessages(r.c.Passport()) {
		r.mu.Lock()
		seen := r.oimSeen[o.ID]
		r.oimSeen[o.ID] = true
		r.mu.Unlock()
		if !seen {
			r.add(Item{From: o.From, Kind: "oim", Text: o.Text, At: o.Time})
		}
	}
}

// since returns the items from index on, waiting up to wait for at least one.
func (r *recorder) since(ctx context.Context, index int, wait time.Duration) ([]Item, int) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	oimTick := time.NewTicker(100 * time.Millisecond) // OIMs arrive over HTTP, not through Next
	defer oimTick.Stop()
	for {
		r.pullOIMs()
		r.mu.Lock()
		n, ch := len(r.items), r.changed
		var out []Item
		if index < n {
			out = append(out, r.items[max(index, 0):]...)
		}
		r.mu.Unlock()
		if len(out) > 0 || wait <= 0 {
			return out, n
		}
		select {
		case <-ch:
		case <-oimTick.C:
		case <-deadline.C:
			return nil, n
		case <-ctx.Done():
			return nil, n
		}
	}
}

// sendText sends text as one message, or as chunks when it does not fit one switchboard payload.
func sendText(ctx context.Context, c *msntest.Contact, to, text string, f message.Format) error {
	payloads, err := message.ChunkedTextPayloads(text, f, "", message.MaxSBPayload)
	if err != nil {
		return err
	}
	for _, p := range payloads {
		if err := c.Send(ctx, to, p); err != nil {
			return err
		}
	}
	return nil
}

// control is the loopback HTTP API that scripts the fake server.
type control struct {
	srv       *msntest.Server
	gate      *gate
	faults    *faults
	recorders map[string]*recorder
	passports []string // every account
	log       zerolog.Logger
}

// newControl makes the control API; scripted contacts' recorders are added by the caller. The
// fault knobs ring through it (ring-on-login).
func newControl(srv *msntest.Server, g *gate, f *faults, log zerolog.Logger) *control {
	ctl := &control{srv: srv, gate: g, faults: f, recorders: map[string]*recorder{}, log: log}
	f.send = func(from, to, text string) error {
		rec, err := ctl.scripted(from)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return sendText(ctx, rec.c, to, text, message.DefaultFormat)
	}
	return ctl
}

// maxBody bounds a control request body (a 5,000-character message fits easily).
const maxBody = 1 << 20

func (ctl *control) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { reply(w, map[string]bool{"ok": true}) })
	mux.HandleFunc("POST /v1/message", ctl.post(ctl.message))
	mux.HandleFunc("POST /v1/typing", ctl.post(ctl.typing))
	mux.HandleFunc("POST /v1/nudge", ctl.post(ctl.nudge))
	mux.HandleFunc("POST /v1/presence", ctl.post(ctl.presence))
	mux.HandleFunc("POST /v1/join", ctl.post(ctl.join))
	mux.HandleFunc("POST /v1/leave", ctl.post(ctl.leave))
	mux.HandleFunc("POST /v1/oim", ctl.post(ctl.oim))
	mux.HandleFunc("POST /v1/restart", ctl.post(ctl.restart))
	mux.HandleFunc("POST /v1/down", ctl.post(ctl.down))
	mux.HandleFunc("POST /v1/up", ctl.post(ctl.up))
	mux.HandleFunc("POST /v1/sb/hold", ctl.post(ctl.sbHold))
	mux.HandleFunc("POST /v1/sb/drop", ctl.post(ctl.sbDrop))
	mux.HandleFunc("POST /v1/sb/swallow-ack", ctl.post(ctl.swallowACK))
	mux.HandleFunc("POST /v1/sb/call-delay", ctl.post(ctl.callDelay))
	mux.HandleFunc("POST /v1/ns/drop", ctl.post(ctl.nsDrop))
	mux.HandleFunc("POST /v1/ns/ring-on-login", ctl.post(ctl.ringOnLogin))
	mux.HandleFunc("POST /v1/file/send", ctl.post(ctl.fileSend))
	mux.HandleFunc("POST /v1/file/policy", ctl.post(ctl.filePolicy))
	mux.HandleFunc("GET /v1/files", ctl.files)
	mux.HandleFunc("POST /v1/picture", ctl.post(ctl.picture))
	mux.HandleFunc("POST /v1/picture/fetch", ctl.post(ctl.pictureFetch))
	mux.HandleFunc("GET /v1/received", ctl.received)
	mux.HandleFunc("GET /v1/logins", ctl.logins)
	mux.HandleFunc("GET /v1/faults", ctl.faultLog)
	mux.HandleFunc("GET /v1/oims", ctl.oims)
	return mux
}

// request is the union of the POST bodies.
type request struct {
	From   string      `json:"from"`
	To     string      `json:"to"`
	With   string      `json:"with"`
	Who    string      `json:"who"`
	Text   string      `json:"text"`
	Format *FormatJSON `json:"format"`
	Status string      `json:"status"`
	PSM    string      `json:"psm"`
	Name   string      `json:"name"`
	DownMS int64       `json:"down_ms"`
	// Refuse makes /v1/down shut the listeners (connects refused) instead of accepting and
	// closing connections.
	Refuse bool `json:"refuse"`
	Count  int  `json:"count"`
	// DelayMS and HoldMS are the durations of /v1/sb/call-delay and /v1/ns/ring-on-login.
	DelayMS int64 `json:"delay_ms"`
	HoldMS  int64 `json:"hold_ms"`
	// Data (base64) or Size (pseudo-random bytes) is the file of /v1/file/send; Policy is
	// "accept", "decline" or "hold" for /v1/file/policy.
	Data   string `json:"data"`
	Size   int64  `json:"size"`
	Policy string `json:"policy"`
}

// httpError is an error with the HTTP status to answer.
type httpError struct {
	status int
	err    error
}

func (e *httpError) Error() string { return e.err.Error() }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Errorf(format, args...)}
}

func (ctl *control) post(f func(context.Context, *request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req request
		dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			fail(w, badRequest("bad JSON body: %v", err))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		out, err := f(ctx, &req)
		if err != nil {
			ctl.log.Warn().Err(err).Str("path", r.URL.Path).Msg("control request failed")
			fail(w, err)
			return
		}
		if out == nil {
			out = map[string]bool{"ok": true}
		}
		reply(w, out)
	}
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var he *httpError
	if errors.As(err, &he) {
		status = he.status
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// scripted returns the recorder of a scripted contact.
func (ctl *control) scripted(passport string) (*recorder, error) {
	r := ctl.recorders[strings.ToLower(strings.TrimSpace(passport))]
	if r == nil {
		return nil, badRequest("%q is not a scripted contact", passport)
	}
	return r, nil
}

func need(fields map[string]string) error {
	for name, v := range fields {
		if strings.TrimSpace(v) == "" {
			return badRequest("%s is required", name)
		}
	}
	return nil
}

func (ctl *control) message(ctx context.Context, req *request) (any, error) {
	if err := need(map[string]string{"from": req.From, "to": req.To, "text": req.Text}); err != nil {
		return nil, err
	}
	rec, err := ctl.scripted(req.From)
	if err != nil {
		return nil, err
	}
	f, err := req.Format.format()
	if err != nil {
		return nil, badRequest("%v", err)
	}
	// "with" only documents the conversation: a scripted contact has one conversation with "to",
	// which holds everybody who joined it.
	return nil, sendText(ctx, rec.c, req.To, req.Text, f)
}

func (ctl *control) typing(ctx context.Context, req *request) (any, error) {
	if err := need(map[string]string{"from": req.From, "to": req.To}); err != nil {
		return nil, err
	}
	rec, err := ctl.scripted(req.From)
	if err != nil {
		return nil, err
	}
	return nil, rec.c.Typing(ctx, req.To)
}

func (ctl *control) nudge(ctx context.Context, req *request) (any, error) {
	if err := need(map[string]string{"from": req.From, "to": req.To}); err != nil {
		return nil, err
	}
	rec, err := ctl.scripted(req.From)
	if err != nil {
		return nil, err
	}
	return nil, rec.c.Nudge(ctx, req.To)
}

func (ctl *control) presence(_ context.Context, req *request) (any, error) {
	if err := need(map[string]string{"who": req.Who}); err != nil {
		return nil, err
	}
	if _, err := ctl.scripted(req.Who); err != nil {
		return nil, err
	}
	if req.Name != "" {
		if err := ctl.srv.SetFriendlyName(req.Who, req.Name); err != nil {
			return nil, err
		}
	}
	if req.PSM != "" {
		if err := ctl.srv.SetPersonalMessage(req.Who, req.PSM); err != nil {
			return nil, err
		}
	}
	if req.Status != "" {
		st := strings.ToUpper(req.Status)
		if !validStatus[st] {
			return nil, badRequest("unknown status %q", req.Status)
		}
		if err := ctl.srv.SetPresence(req.Who, st); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (ctl *control) join(ctx context.Context, req *request) (any, error) {
	if err := need(map[string]string{"who": req.Who, "to": req.To, "with": req.With}); err != nil {
		return nil, err
	}
	host, err := ctl.scripted(req.With)
	if err != nil {
		return nil, err
	}
	if _, err := ctl.scripted(req.Who); err != nil {
		return nil, err
	}
	who := strings.ToLower(strings.TrimSpace(req.Who))
	for _, p := range host.c.Participants(req.To) {
		if p == who {
			return map[string]bool{"ok": true, "already": true}, nil // nothing to do: who is in it
		}
	}
	return nil, host.c.Invite(ctx, req.To, who)
}

func (ctl *control) leave(_ context.Context, req *request) (any, error) {
	if err := need(map[string]string{"who": req.Who, "to": req.To}); err != nil {
		return nil, err
	}
	rec, err := ctl.scripted(req.Who)
	if err != nil {
		return nil, err
	}
	return nil, rec.c.Leave(req.To)
}

func (ctl *control) oim(_ context.Context, req *request) (any, error) {
	if err := need(map[string]string{"from": req.From, "to": req.To, "text": req.Text}); err != nil {
		return nil, err
	}
	id, err := ctl.srv.QueueOfflineMessage(req.From, req.To, req.Text, time.Now())
	if err != nil {
		return nil, err
	}
	return map[string]string{"id": id}, nil
}

func (ctl *control) restart(_ context.Context, req *request) (any, error) {
	if req.DownMS < 0 || req.DownMS > 60_000 {
		return nil, badRequest("down_ms must be within 0..60000")
	}
	dropped := ctl.gate.restart(time.Duration(req.DownMS) * time.Millisecond)
	for _, p := range ctl.passports {
		dropped += ctl.srv.DropConnections(p)
	}
	ctl.log.Info().Int("dropped", dropped).Int64("down_ms", req.DownMS).Msg("restart: connections dropped")
	return map[string]int{"dropped": dropped}, nil
}

// down drops every connection like restart, but keeps refusing new ones until up: a test can
// act during the outage without racing a timer. New connections are accepted and closed at once
// (HTTP requests answered 503), or with refuse the NS, SB and HTTP listeners are shut so that
// connects are refused, as when the server process is gone. A second down switches between the
// two.
func (ctl *control) down(_ context.Context, req *request) (any, error) {
	dropped := ctl.gate.hold()
	if err := ctl.gate.refuse(req.Refuse); err != nil {
		return nil, err
	}
	for _, p := range ctl.passports {
		dropped += ctl.srv.DropConnections(p)
	}
	mode := "close"
	if req.Refuse {
		mode = "refuse"
	}
	ctl.faults.record(FaultEvent{Kind: "server-down", Detail: mode})
	ctl.log.Info().Int("dropped", dropped).Str("mode", mode).Msg("down: connections dropped, refusing new ones until up")
	return map[string]int{"dropped": dropped}, nil
}

// up ends an outage started by down (or restart): connections are accepted again.
func (ctl *control) up(_ context.Context, _ *request) (any, error) {
	if err := ctl.gate.refuse(false); err != nil {
		return nil, err
	}
	ctl.gate.release()
	ctl.faults.record(FaultEvent{Kind: "server-up"})
	ctl.log.Info().Msg("up: accepting connections again")
	return nil, nil
}

// cursor reads the since and wait_ms parameters of a long poll.
func cursor(q url.Values) (since int, wait time.Duration, err error) {
	since, err = strconv.Atoi(q.Get("since"))
	if q.Get("since") == "" {
		since, err = 0, nil
	}
	if err != nil || since < 0 {
		return 0, 0, badRequest("since must be a non-negative integer")
	}
	waitMS, err := strconv.Atoi(q.Get("wait_ms"))
	if q.Get("wait_ms") == "" {
		waitMS, err = 0, nil
	}
	if err != nil || waitMS < 0 || waitMS > 120_000 {
		return 0, 0, badRequest("wait_ms must be within 0..120000")
	}
	return since, time.Duration(waitMS) * time.Millisecond, nil
}

func (ctl *control) received(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rec, err := ctl.scripted(q.Get("contact"))
	if err != nil {
		fail(w, err)
		return
	}
	since, wait, err := cursor(q)
	if err != nil {
		fail(w, err)
		return
	}
	items, next := rec.since(r.Context(), since, wait)
	if items == nil {
		items = []Item{}
	}
	reply(w, map[string]any{"items": items, "next": next})
}

func (ctl *control) logins(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("passport")
	if p == "" {
		fail(w, badRequest("passport is required"))
		return
	}
	p = strings.ToLower(strings.TrimSpace(p))
	reply(w, map[string]any{"logins": ctl.srv.Logins(p), "status": ctl.srv.Status(p), "ns_versions": ctl.faults.nsVersions(p)})
}

// account checks that passport names an account and returns it normalised.
func (ctl *control) account(passport string) (string, error) {
	p := strings.ToLower(strings.TrimSpace(passport))
	for _, q := range ctl.passports {
		if q == p {
			return p, nil
		}
	}
	return "", badRequest("%q is not an account", passport)
}

// sbHold holds every MSG who sends on its switchboard connections from now on: the server
// never sees them (they are "in flight") until /v1/sb/drop discards them with the connection.
func (ctl *control) sbHold(_ context.Context, req *request) (any, error) {
	who, err := ctl.account(req.Who)
	if err != nil {
		return nil, err
	}
	ctl.faults.mu.Lock()
	ctl.faults.holdSB[who] = true
	ctl.faults.mu.Unlock()
	return nil, nil
}

// sbDrop closes who's switchboard connections (both sides, without a word) and discards the
// MSGs held on them; it ends a hold.
func (ctl *control) sbDrop(_ context.Context, req *request) (any, error) {
	who, err := ctl.account(req.Who)
	if err != nil {
		return nil, err
	}
	dropped, discarded := ctl.faults.drop("SB", who)
	ctl.log.Info().Str("who", who).Int("dropped", dropped).Int("discarded", discarded).Msg("switchboards dropped")
	return map[string]int{"dropped": dropped, "discarded": discarded}, nil
}

// swallowACK makes the next count ACK (or NAK) answers to who's MSGs vanish (default 1).
func (ctl *control) swallowACK(_ context.Context, req *request) (any, error) {
	who, err := ctl.account(req.Who)
	if err != nil {
		return nil, err
	}
	n := req.Count
	if n == 0 {
		n = 1
	}
	if n < 0 || n > 1000 {
		return nil, badRequest("count must be within 1..1000")
	}
	ctl.faults.mu.Lock()
	ctl.faults.swallowACK[who] = n
	ctl.faults.mu.Unlock()
	return nil, nil
}

// callDelay makes who answer every call (CAL) delay_ms late: the caller hears RINGING at once,
// who joins later (0 ends it).
func (ctl *control) callDelay(_ context.Context, req *request) (any, error) {
	who, err := ctl.account(req.Who)
	if err != nil {
		return nil, err
	}
	if req.DelayMS < 0 || req.DelayMS > 60_000 {
		return nil, badRequest("delay_ms must be within 0..60000")
	}
	ctl.faults.mu.Lock()
	defer ctl.faults.mu.Unlock()
	if req.DelayMS == 0 {
		delete(ctl.faults.callDelay, who)
		return nil, nil
	}
	ctl.faults.callDelay[who] = time.Duration(req.DelayMS) * time.Millisecond
	return nil, nil
}

// nsDrop closes who's NS connections without a word; its switchboards stay.
func (ctl *control) nsDrop(_ context.Context, req *request) (any, error) {
	who, err := ctl.account(req.Who)
	if err != nil {
		return nil, err
	}
	dropped, _ := ctl.faults.drop("NS", who)
	ctl.log.Info().Str("who", who).Int("dropped", dropped).Msg("NS connections dropped")
	return map[string]int{"dropped": dropped}, nil
}

// ringOnLogin arms a one-shot fault for who's next login (on an NS connection made after this
// call): the answer to its first CHG is held for hold_ms (default 3000) while the scripted
// contact "from" sends "text" (ringing who).
func (ctl *control) ringOnLogin(_ context.Context, req *request) (any, error) {
	if err := need(map[string]string{"who": req.Who, "from": req.From, "text": req.Text}); err != nil {
		return nil, err
	}
	who, err := ctl.account(req.Who)
	if err != nil {
		return nil, err
	}
	if _, err := ctl.scripted(req.From); err != nil {
		return nil, err
	}
	hold := time.Duration(req.HoldMS) * time.Millisecond
	if req.HoldMS == 0 {
		hold = 3 * time.Second
	}
	if hold < 0 || hold > time.Minute {
		return nil, badRequest("hold_ms must be within 0..60000")
	}
	ctl.faults.mu.Lock()
	ctl.faults.ringOnLogin[who] = ringSpec{from: strings.ToLower(strings.TrimSpace(req.From)), text: req.Text, hold: hold, after: ctl.faults.seq}
	ctl.faults.mu.Unlock()
	return nil, nil
}

// faultLog long-polls the fault log (GET /v1/faults?since=&wait_ms=).
func (ctl *control) faultLog(w http.ResponseWriter, r *http.Request) {
	since, wait, err := cursor(r.URL.Query())
	if err != nil {
		fail(w, err)
		return
	}
	events, next := ctl.faults.since(r.Context().Done(), since, wait)
	if events == nil {
		events = []FaultEvent{}
	}
	reply(w, map[string]any{"events": events, "next": next})
}

// OIMJSON is an offline message still stored on the server, as listed by GET /v1/oims.
type OIMJSON struct {
	ID   string    `json:"id"`
	From string    `json:"from"`
	To   string    `json:"to"`
	Text string    `json:"text"`
	Seq  int       `json:"seq"`
	Time time.Time `json:"time"`
}

// oims lists the offline messages stored for an account (GET /v1/oims?to=).
func (ctl *control) oims(w http.ResponseWriter, r *http.Request) {
	to, err := ctl.account(r.URL.Query().Get("to"))
	if err != nil {
		fail(w, err)
		return
	}
	out := []OIMJSON{}
	for _, m := range ctl.srv.OfflineMessages(to) {
		out = append(out, OIMJSON{ID: m.ID, From: m.From, To: m.To, Text: m.Text, Seq: m.Seq, Time: m.Time})
	}
	reply(w, map[string]any{"oims": out})
}
