package puppet

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

func TestNormalizePassport(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Alice@Example.COM", "alice@example.com", true},
		{"  bob+tag@hotmail.com ", "bob+tag@hotmail.com", true},
		{"first.last@msn.com", "first.last@msn.com", true},
		{"", "", false},
		{"noat", "", false},
		{"@example.com", "", false},
		{"a@", "", false},
		{"a@b@c", "", false},
		{"a b@c.com", "", false},
		{"a<b>@c.com", "", false},
		{"a\x00@c.com", "", false},
		// ':' never appears in a passport; group portal ids ("group:…") rely on it.
		{"group:x@c.com", "", false},
		{strings.Repeat("a", 120) + "@example.com", "", false},
	}
	for _, tt := range tests {
		got, err := NormalizePassport(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("NormalizePassport(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestGhostID(t *testing.T) {
	tests := []struct {
		passport string
		hashed   bool
	}{
		{"alice@example.com", false},
		{"Bob.Smith+msn@Hotmail.com", false},
		{strings.Repeat("x", 64) + "@" + strings.Repeat("y", 60) + ".com", false},
		{strings.Repeat("é", 32) + "@" + strings.Repeat("ü", 30) + ".de", true},
		{strings.Repeat("!", 64) + "@" + strings.Repeat("y", 60) + ".com", true},
	}
	for _, tt := range tests {
		gid := GhostID(tt.passport)
		enc := id.EncodeUserLocalpart(string(gid))
		if len(enc) > MaxEncodedIDLength {
			t.Errorf("GhostID(%q) encodes to %d bytes > %d", tt.passport, len(enc), MaxEncodedIDLength)
		}
		if dec, err := id.DecodeUserLocalpart(enc); err != nil || dec != string(gid) {
			t.Errorf("GhostID(%q) localpart %q does not round-trip: %q, %v", tt.passport, enc, dec, err)
		}
		if IsHashedID(gid) != tt.hashed {
			t.Errorf("GhostID(%q) = %q hashed=%v, want %v", tt.passport, gid, IsHashedID(gid), tt.hashed)
		}
		if !tt.hashed {
			if string(gid) != strings.ToLower(tt.passport) {
				t.Errorf("GhostID(%q) = %q, want lower-cased passport", tt.passport, gid)
			}
			if p, ok := PassportFromID(gid); !ok || p != strings.ToLower(tt.passport) {
				t.Errorf("PassportFromID(%q) = %q, %v", gid, p, ok)
			}
		} else if _, ok := PassportFromID(gid); ok {
			t.Errorf("PassportFromID(%q) must fail for hashed ids", gid)
		}
		if GhostID(strings.ToUpper(tt.passport)) != gid {
			t.Errorf("GhostID is not case-insensitive for %q", tt.passport)
		}
	}
	a := GhostID(strings.Repeat("!", 64) + "@" + strings.Repeat("a", 60))
	b := GhostID(strings.Repeat("!", 64) + "@" + strings.Repeat("b", 60))
	if a == b {
		t.Errorf("different long passports got the same id %q", a)
	}
}

func TestDisplayName(t *testing.T) {
	tmpl, err := ParseNameTemplate("{{or .FriendlyName .Passport}} (MSN)")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ friendly, passport, want string }{
		{"Alice%20Smith", "alice@example.com", "Alice Smith (MSN)"},
		{"", "bob@example.com", "bob@example.com (MSN)"},
		{"100%", "c@example.com", "100% (MSN)"},
		{"line\nbreak\x01", "d@example.com", "line break (MSN)"},
		{"%E2%99%A5 love", "e@example.com", "♥ love (MSN)"},
	}
	for _, tt := range tests {
		if got := DisplayName(tmpl, tt.friendly, tt.passport); got != tt.want {
			t.Errorf("DisplayName(%q) = %q, want %q", tt.friendly, got, tt.want)
		}
	}
	long := DisplayName(tmpl, strings.Repeat("ab", 1000), "x@y.z")
	if len(long) > MaxDisplayNameBytes {
		t.Errorf("display name not bounded: %d bytes", len(long))
	}
	if _, err := ParseNameTemplate("{{.Nope"); err == nil {
		t.Error("broken template accepted")
	}
	if _, err := ParseNameTemplate("{{.Unknown}}"); err == nil {
		t.Error("template with unknown field accepted")
	}
}

func TestMapPresence(t *testing.T) {
	tests := []struct {
		status, psm string
		state       event.Presence
		msg         string
	}{
		{StatusOnline, "", event.PresenceOnline, ""},
		{StatusOnline, "hello", event.PresenceOnline, "hello"},
		{StatusAway, "", event.PresenceUnavailable, "Away"},
		{StatusBusy, "working", event.PresenceUnavailable, "Busy — working"},
		{StatusIdle, "", event.PresenceUnavailable, "Idle"},
		{StatusBeRightBack, "", event.PresenceUnavailable, "Be right back"},
		{StatusOutToLunch, "", event.PresenceUnavailable, "Out to lunch"},
		{StatusOnThePhone, "", event.PresenceUnavailable, "On the phone"},
		{StatusHidden, "secret", event.PresenceOffline, ""},
		{StatusOffline, "bye", event.PresenceOffline, ""},
		{"XYZ", "", event.PresenceOffline, ""},
	}
	for _, tt := range tests {
		got := MapPresence(tt.status, tt.psm)
		if got.State != tt.state || got.StatusMsg != tt.msg {
			t.Errorf("MapPresence(%q, %q) = %+v, want %s %q", tt.status, tt.psm, got, tt.state, tt.msg)
		}
	}
	if got := MapPresence(StatusBusy, strings.Repeat("x", 5000)); len(got.StatusMsg) > MaxStatusMessageBytes {
		t.Errorf("status message not bounded: %d", len(got.StatusMsg))
	}
}

func TestParseStatus(t *testing.T) {
	for in, want := range map[string]string{"online": StatusOnline, "Away": StatusAway, "busy": StatusBusy, "brb": StatusBeRightBack,
		"lunch": StatusOutToLunch, "phone": StatusOnThePhone, "idle": StatusIdle, "invisible": StatusHidden} {
		if got, ok := ParseStatus(in); !ok || got != want {
			t.Errorf("ParseStatus(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := ParseStatus("offline-ish"); ok {
		t.Error("unknown status accepted")
	}
}

type recorder struct {
	mu   sync.Mutex
	key  string
	got  chan call
	fail bool
}

type call struct {
	key string
	req mautrix.ReqPresence
}

func (r *recorder) SetPresence(_ context.Context, req mautrix.ReqPresence) error {
	r.got <- call{r.key, req}
	return nil
}

// TestPusherCoalescesAndLimits drives the pusher's scheduler directly with a fake clock, so the
// rate limit is checked step by step without waiting for real time.
func TestPusherCoalescesAndLimits(t *testing.T) {
	now := time.Unix(1000, 0)
	p := NewPusher(PusherConfig{
		MinInterval: time.Hour, // a second push for the same ghost waits an hour: changes coalesce
		Burst:       2,
		Rate:        1, // then one push a second over all ghosts
		Refresh:     -1,
		Resolve:     func(context.Context, string) (PresenceSetter, error) { return nil, nil },
		Now:         func() time.Time { return now },
	})
	p.lastTok = now
	expect := func(step, key string, state event.Presence, msg string) {
		t.Helper()
		k, pres, wait := p.next()
		if k != key || (key != "" && (pres.State != state || pres.StatusMsg != msg)) || (key == "" && wait <= 0) {
			t.Fatalf("%s: next() = %q %+v wait %v, want %q %s %q", step, k, pres, wait, key, state, msg)
		}
	}
	p.Update("a", Presence{State: event.PresenceOnline})
	p.Update("a", Presence{State: event.PresenceUnavailable, StatusMsg: "Away"})
	expect("coalesced", "a", event.PresenceUnavailable, "Away")
	expect("nothing left", "", "", "")
	p.Update("b", Presence{State: event.PresenceOnline})
	expect("burst", "b", event.PresenceOnline, "")
	// The burst is spent: c must wait for a token, a also for its interval.
	p.Update("c", Presence{State: event.PresenceOnline})
	p.Update("a", Presence{State: event.PresenceOffline})
	expect("burst spent", "", "", "")
	now = now.Add(time.Second)
	expect("one token later", "c", event.PresenceOnline, "")
	now = now.Add(time.Minute)
	expect("a within its interval", "", "", "")
	now = now.Add(time.Hour)
	expect("a after its interval", "a", event.PresenceOffline, "")
}

// TestPusherRefreshesWithinSynapseTimeout checks with a fake clock that the default refresh
// re-pushes online and away ghosts before Synapse's 30 s sync_online_timeout marks them offline,
// never refreshes offline ghosts, lets changes go before refreshes, and leaves no timer running
// once every ghost is offline.
func TestPusherRefreshesWithinSynapseTimeout(t *testing.T) {
	const synapseTimeout = 30 * time.Second
	now := time.Unix(1000, 0)
	p := NewPusher(PusherConfig{
		MinInterval: time.Second,
		Burst:       10,
		Rate:        1,
		Resolve:     func(context.Context, string) (PresenceSetter, error) { return nil, nil },
		Now:         func() time.Time { return now },
	})
	p.lastTok = now
	drain := func(step string) (map[string]event.Presence, time.Duration) {
		t.Helper()
		got := map[string]event.Presence{}
		for {
			k, pres, wait := p.next()
			if k == "" {
				return got, wait
			}
			if _, dup := got[k]; dup {
				t.Fatalf("%s: %q pushed twice in one round", step, k)
			}
			got[k] = pres.State
		}
	}
	p.Update("on", Presence{State: event.PresenceOnline})
	p.Update("away", Presence{State: event.PresenceUnavailable, StatusMsg: "Away"})
	p.Update("off", Presence{State: event.PresenceOffline})
	if got, _ := drain("first"); len(got) != 3 {
		t.Fatalf("first round pushed %v, want all three", got)
	}
	got, wait := drain("right after")
	if len(got) != 0 || wait <= 0 || wait >= synapseTimeout {
		t.Fatalf("right after: pushed %v, next wake in %v; want nothing now and a wake before %v", got, wait, synapseTimeout)
	}
	now = now.Add(wait)
	got, _ = drain("refresh")
	if len(got) != 2 || got["on"] != event.PresenceOnline || got["away"] != event.PresenceUnavailable {
		t.Fatalf("refresh pushed %v, want on=online and away=unavailable only", got)
	}
	if now.Sub(time.Unix(1000, 0)) >= synapseTimeout {
		t.Fatalf("refresh came %v after the push, Synapse times out after %v", now.Sub(time.Unix(1000, 0)), synapseTimeout)
	}

	// Tokens spent: a change waits for the next token but then goes before the due refreshes.
	p.tokens = 0
	now = now.Add(DefaultRefresh)
	p.lastTok = now
	p.Update("new", Presence{State: event.PresenceOnline})
	if k, _, _ := p.next(); k != "" {
		t.Fatalf("pushed %q without a token", k)
	}
	now = now.Add(time.Second)
	if k, _, _ := p.next(); k != "new" {
		t.Fatalf("first push after the wait was %q, want the change before refreshes", k)
	}

	// Everything goes offline: pushed once, then no refresh timer at all.
	now = now.Add(time.Minute)
	for _, k := range []string{"on", "away", "new"} {
		p.Update(k, Presence{State: event.PresenceOffline})
	}
	got, _ = drain("offline")
	if len(got) != 3 {
		t.Fatalf("offline round pushed %v, want on, away and new", got)
	}
	now = now.Add(time.Minute)
	if got, wait := drain("idle"); len(got) != 0 || wait != time.Hour {
		t.Fatalf("all offline: pushed %v, next wake in %v; want nothing and no refresh timer", got, wait)
	}
}

func TestPusherSkipsUnchanged(t *testing.T) {
	calls := make(chan call, 10)
	p := NewPusher(PusherConfig{
		MinInterval: time.Nanosecond, Refresh: -1,
		Resolve: func(_ context.Context, key string) (PresenceSetter, error) {
			return &recorder{key: key, got: calls}, nil
		},
	})
	p.Start()
	defer p.Stop()
	p.Update("a", Presence{State: event.PresenceOnline})
	waitCall(t, calls)
	p.Update("a", Presence{State: event.PresenceOnline})
	p.Update("b", Presence{State: event.PresenceOffline})
	if c := waitCall(t, calls); c.key != "b" {
		t.Fatalf("unchanged presence of a was pushed again: %+v", c)
	}
}

func waitCall(t *testing.T, calls chan call) call {
	t.Helper()
	select {
	case c := <-calls:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no presence push within 5 s")
	}
	return call{}
}

// FuzzPassportAndName feeds network-supplied passports and friendly names through the ghost id
// and display name code: ids must round-trip through Matrix localpart encoding within the
// length limit, names must be bounded valid UTF-8.
func FuzzPassportAndName(f *testing.F) {
	f.Add("Alice@Example.com", "Alice%20Smith")
	f.Add(strings.Repeat("é", 40)+"@x.com", "%E2%99%A5%")
	f.Add("a@b", "\x00\x01\n\t")
	tmpl, err := ParseNameTemplate("")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, passport, friendly string) {
		if p, err := NormalizePassport(passport); err == nil {
			gid := GhostID(p)
			enc := id.EncodeUserLocalpart(string(gid))
			if len(enc) > MaxEncodedIDLength {
				t.Fatalf("encoded id too long: %d", len(enc))
			}
			if dec, err := id.DecodeUserLocalpart(enc); err != nil || dec != string(gid) {
				t.Fatalf("id %q does not round-trip: %q %v", gid, dec, err)
			}
			if back, ok := PassportFromID(gid); ok && back != p {
				t.Fatalf("PassportFromID(%q) = %q, want %q", gid, back, p)
			}
		}
		name := DisplayName(tmpl, friendly, "x@y.z")
		if !utf8.ValidString(name) || len(name) > MaxDisplayNameBytes || name == "" {
			t.Fatalf("bad display name %q", name)
		}
	})
}
