package message

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func mustParse(t *testing.T, p []byte) *Message {
	t.Helper()
	m, err := Parse(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestChunkRoundTrip(t *testing.T) {
	text := mixedText(3000)
	f := Format{Font: "Arial", Bold: true, Color: 0x112233, HasColor: true, CharSet: "0", PitchFamily: "22"}
	payloads, err := ChunkedTextPayloads(text, f, "{A1B2C3D4-0000-4000-8000-000000000001}", 1400)
	if err != nil {
		t.Fatal(err)
	}
	if len(payloads) < 3 {
		t.Fatalf("%d chunks", len(payloads))
	}
	for i, p := range payloads {
		if len(p) > 1400 {
			t.Errorf("chunk %d is %d bytes", i, len(p))
		}
		m := mustParse(t, p)
		if m.Header("Message-ID") != "{A1B2C3D4-0000-4000-8000-000000000001}" {
			t.Errorf("chunk %d: Message-ID %q", i, m.Header("Message-ID"))
		}
		if i == 0 && m.Header("Chunks") == "" || i > 0 && m.Header("Chunk") == "" {
			t.Errorf("chunk %d headers %v", i, m.Headers)
		}
	}
	r := NewReassembler(ReassemblerConfig{})
	var done *Message
	for i, p := range payloads {
		got, err := r.Add("alice@example.com", mustParse(t, p))
		if err != nil {
			t.Fatal(err)
		}
		if (got != nil) != (i == len(payloads)-1) {
			t.Fatalf("chunk %d: complete=%v", i, got != nil)
		}
		done = got
	}
	if done.Kind != KindText || done.Text.Body != normaliseNewlines(text) || done.Text.Format != f {
		t.Errorf("joined message wrong: kind %v format %+v same body %v", done.Kind, done.Text.Format, done.Text.Body == normaliseNewlines(text))
	}
	if done.Header("Message-ID") != "" || r.Pending() != 0 {
		t.Errorf("chunk headers kept or set pending")
	}
}

func TestChunkShortTextIsPlain(t *testing.T) {
	p, err := ChunkedTextPayloads("hi", Format{}, "", MaxSBPayload)
	if err != nil || len(p) != 1 || string(p[0]) != string(TextPayload("hi", Format{})) {
		t.Errorf("%q %v", p, err)
	}
	if id := NewMessageID(); len(id) != 38 || id[0] != '{' || id == NewMessageID() {
		t.Errorf("id %q", id)
	}
}

func chunk(id, hdr string, body string) []byte {
	return []byte("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nMessage-ID: " + id + "\r\n" + hdr + "\r\n\r\n" + body)
}

func TestReassemblerOutOfOrderAndSenders(t *testing.T) {
	r := NewReassembler(ReassemblerConfig{})
	add := func(sender string, p []byte) *Message {
		t.Helper()
		m, err := r.Add(sender, mustParse(t, p))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if add("a", chunk("{1}", "Chunk: 2", "C")) != nil || add("a", chunk("{1}", "Chunks: 3", "A")) != nil {
		t.Fatal("completed early")
	}
	// Same Message-ID from another sender is a separate message.
	if add("b", chunk("{1}", "Chunks: 2", "x")) != nil {
		t.Fatal("sender b completed early")
	}
	m := add("a", chunk("{1}", "Chunk: 1", "B"))
	if m == nil || m.Text.Body != "ABC" {
		t.Fatalf("got %+v", m)
	}
	if r.Pending() != 1 {
		t.Errorf("pending %d", r.Pending())
	}
	// A message without chunk headers passes through untouched.
	plain := mustParse(t, TextPayload("plain", Format{}))
	if got, _ := r.Add("a", plain); got != plain {
		t.Error("plain message not passed through")
	}
	// Chunks: 1 completes at once.
	if m := add("a", chunk("{2}", "Chunks: 1", "solo")); m == nil || m.Text.Body != "solo" {
		t.Errorf("single chunk: %+v", m)
	}
}

func TestReassemblerBounds(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	r := NewReassembler(ReassemblerConfig{MaxChunks: 4, MaxBytes: 10, MaxPending: 2, Expiry: time.Minute, Now: clock.now})
	add := func(sender string, p []byte) error {
		_, err := r.Add(sender, mustParse(t, p))
		return err
	}
	if err := add("a", chunk("{1}", "Chunks: 5", "x")); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too many chunks: %v", err)
	}
	if err := add("a", chunk("{1}", "Chunk: 4", "x")); !errors.Is(err, ErrTooLarge) {
		t.Errorf("index over max: %v", err)
	}
	if err := add("a", chunk("{1}", "Chunks: zero", "x")); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad Chunks: %v", err)
	}
	if err := add("a", chunk("{1}", "Chunk: 0", "x")); !errors.Is(err, ErrMalformed) {
		t.Errorf("Chunk 0: %v", err)
	}
	if err := add("a", chunk("{2}", "Chunks: 2", "123456")); err != nil {
		t.Fatal(err)
	}
	if err := add("a", chunk("{2}", "Chunk: 1", "123456")); !errors.Is(err, ErrTooLarge) {
		t.Errorf("total bytes: %v", err)
	}
	if r.Pending() != 0 {
		t.Errorf("oversized set kept: %d", r.Pending())
	}
	if err := add("a", chunk("{3}", "Chunks: 2", "a")); err != nil {
		t.Fatal(err)
	}
	if err := add("a", chunk("{3}", "Chunk: 2", "a")); !errors.Is(err, ErrMalformed) {
		t.Errorf("index beyond total: %v", err)
	}
	if err := add("a", chunk("{4}", "Chunk: 1", "a")); err != nil {
		t.Fatal(err)
	}
	if err := add("a", chunk("{4}", "Chunk: 1", "a")); !errors.Is(err, ErrMalformed) {
		t.Errorf("duplicate: %v", err)
	}
	// MaxPending: the oldest incomplete set is evicted.
	for i, id := range []string{"{5}", "{6}", "{7}"} {
		clock.t = clock.t.Add(time.Second)
		if err := add("a", chunk(id, "Chunks: 3", strings.Repeat("z", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if r.Pending() != 2 {
		t.Errorf("pending %d, want 2", r.Pending())
	}
	if m, _ := r.Add("a", mustParse(t, chunk("{5}", "Chunk: 1", "q"))); m != nil {
		t.Error("evicted set completed")
	}
	// The late chunk of the evicted {5} started a new set, evicting {6}: {7} and {5} remain, both
	// created at the current clock. Nothing expires before a minute, everything after.
	clock.t = clock.t.Add(59 * time.Second)
	if n := r.Expire(); n != 0 || r.Pending() != 2 {
		t.Errorf("expired %d early, pending %d", n, r.Pending())
	}
	clock.t = clock.t.Add(time.Second)
	if n := r.Expire(); n != 2 || r.Pending() != 0 {
		t.Errorf("pending after expiry: %d", r.Pending())
	}
}

func TestReassemblerExpiry(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	r := NewReassembler(ReassemblerConfig{Expiry: 30 * time.Second, Now: clock.now})
	if m, err := r.Add("a", mustParse(t, chunk("{1}", "Chunks: 2", "A"))); m != nil || err != nil {
		t.Fatal(m, err)
	}
	clock.t = clock.t.Add(29 * time.Second)
	if n := r.Expire(); n != 0 || r.Pending() != 1 {
		t.Fatalf("expired early: %d", n)
	}
	clock.t = clock.t.Add(time.Second)
	// The late chunk finds nothing: the set expired, so it starts a new incomplete set.
	m, err := r.Add("a", mustParse(t, chunk("{1}", "Chunk: 1", "B")))
	if m != nil || err != nil {
		t.Fatalf("expired set completed: %v %v", m, err)
	}
	if r.Pending() != 1 {
		t.Errorf("pending %d", r.Pending())
	}
}

func TestChunkedTextPayloadsLimits(t *testing.T) {
	if _, err := ChunkedTextPayloads(strings.Repeat("x", 100), Format{}, "{1}", 130); !errors.Is(err, ErrTooLarge) {
		t.Errorf("limit below the headers: %v", err)
	}
	if _, err := ChunkedTextPayloads(strings.Repeat("x", 70*1400), Format{}, "{1}", 1400); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too many chunks: %v", err)
	}
	// 10+ chunks: the Chunks header grows a digit and every payload still fits.
	p, err := ChunkedTextPayloads(strings.Repeat("y", 12*300), Format{}, "", 400)
	if err != nil || len(p) < 10 {
		t.Fatalf("%d chunks, %v", len(p), err)
	}
	for i, c := range p {
		if len(c) > 400 {
			t.Errorf("chunk %d: %d bytes", i, len(c))
		}
	}
}

// incompleteLog records what a Reassembler hands to OnIncomplete.
type incompleteLog struct {
	senders []string
	msgs    []*Message
}

func (l *incompleteLog) on(sender string, m *Message) {
	l.senders = append(l.senders, sender)
	l.msgs = append(l.msgs, m)
}

// TestReassemblerDeliversExpiredIncomplete: a chunked message whose last chunk never comes is
// not lost when it expires: what arrived comes out, in chunk order, flagged incomplete with the
// number of chunks missing.
func TestReassemblerDeliversExpiredIncomplete(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	var got incompleteLog
	r := NewReassembler(ReassemblerConfig{Expiry: 30 * time.Second, Now: clock.now, OnIncomplete: got.on})
	f := Format{Font: "Arial", Color: 0x0000ff, HasColor: true}
	payloads, err := ChunkedTextPayloads(strings.Repeat("héllo wörld ", 300), f, "{AB}", 1000)
	if err != nil || len(payloads) < 4 {
		t.Fatalf("%d payloads, %v", len(payloads), err)
	}
	// Chunks 2 and 0 arrive (out of order); 1 and the rest never do.
	for _, i := range []int{2, 0} {
		if m, err := r.Add("alice@example.com", mustParse(t, payloads[i])); m != nil || err != nil {
			t.Fatalf("chunk %d: %v %v", i, m, err)
		}
	}
	if at, ok := r.NextExpiry(); !ok || !at.Equal(time.Unix(30, 0)) {
		t.Fatalf("NextExpiry %v %v", at, ok)
	}
	clock.t = clock.t.Add(29 * time.Second)
	if n := r.Expire(); n != 0 || len(got.msgs) != 0 {
		t.Fatalf("expired early: %d, %d delivered", n, len(got.msgs))
	}
	clock.t = clock.t.Add(time.Second)
	if n := r.Expire(); n != 1 {
		t.Fatalf("expired %d", n)
	}
	if len(got.msgs) != 1 || got.senders[0] != "alice@example.com" {
		t.Fatalf("delivered %d (%v)", len(got.msgs), got.senders)
	}
	m := got.msgs[0]
	first := mustParse(t, payloads[0]).Text
	want := first.Body + mustParse(t, payloads[2]).Text.Body
	if m.Kind != KindText || m.Text.Body != want || m.Text.Format != first.Format || first.Format.Font != "Arial" {
		t.Errorf("partial message: kind %v format %+v body ok %v", m.Kind, m.Text.Format, m.Text.Body == want)
	}
	if !m.Incomplete || m.Missing != len(payloads)-2 {
		t.Errorf("Incomplete %v Missing %d, want %d", m.Incomplete, m.Missing, len(payloads)-2)
	}
	if m.Header(HeaderMessageID) != "" || m.Header(HeaderChunks) != "" || r.Pending() != 0 {
		t.Errorf("chunk headers kept or still pending")
	}
	if _, ok := r.NextExpiry(); ok {
		t.Error("NextExpiry with nothing pending")
	}
}

// TestReassemblerDeliversEvictedIncomplete: the incomplete message evicted for MaxPending comes
// out (before the message Add returns); one whose first chunk never came still carries the
// repeated MIME headers of a later chunk, and a complete message is never flagged.
func TestReassemblerDeliversEvictedIncomplete(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	var got incompleteLog
	r := NewReassembler(ReassemblerConfig{MaxPending: 1, Now: clock.now, OnIncomplete: func(s string, m *Message) {
		got.on(s, m)
	}})
	if m, _ := r.Add("a", mustParse(t, chunk("{1}", "Chunk: 2", "C"))); m != nil {
		t.Fatal("completed early")
	}
	if m, _ := r.Add("a", mustParse(t, chunk("{1}", "Chunk: 1", "B"))); m != nil {
		t.Fatal("completed early")
	}
	clock.t = clock.t.Add(time.Second)
	// A second chunked message evicts {1}; a single-chunk one completes at once.
	if m, _ := r.Add("b", mustParse(t, chunk("{2}", "Chunks: 2", "x"))); m != nil {
		t.Fatal("completed early")
	}
	if len(got.msgs) != 1 || got.senders[0] != "a" {
		t.Fatalf("evicted set delivered %d times", len(got.msgs))
	}
	m := got.msgs[0]
	if m.Kind != KindText || m.Text.Body != "BC" || !m.Incomplete || m.Missing != 1 {
		t.Errorf("evicted partial: %+v text %+v", m, m.Text)
	}
	done, err := r.Add("b", mustParse(t, chunk("{2}", "Chunk: 1", "y")))
	if err != nil || done == nil || done.Incomplete || done.Missing != 0 || done.Text.Body != "xy" {
		t.Fatalf("complete message %+v %v", done, err)
	}
	if len(got.msgs) != 1 {
		t.Errorf("completing a message reported %d incomplete", len(got.msgs))
	}
}
