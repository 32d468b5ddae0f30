package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/msntest"
	"github.com/msnbridge/msnbridge/msn/ns"
	"github.com/msnbridge/msnbridge/msn/sb"
)

const waitLimit = 10 * time.Second

// nsAdapter gives *ns.Session the sb.NotificationServer method set.
type nsAdapter struct{ *ns.Session }

func (a nsAdapter) RequestSwitchboard(ctx context.Context) (sb.Ticket, error) {
	t, err := a.Session.RequestSwitchboard(ctx)
	return sb.Ticket(t), err
}

// client is one logged-in account: its NS session, switchboard manager and events.
type client struct {
	passport string
	session  *ns.Session
	mgr      *sb.Manager
	events   chan sb.Event
}

func startServer(t testing.TB, accounts ...string) *msntest.Server {
	t.Helper()
	return startServerWith(t, msntest.Options{}, accounts...)
}

func startServerWith(t testing.TB, opts msntest.Options, accounts ...string) *msntest.Server {
	t.Helper()
	srv, err := msntest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for _, a := range accounts {
		if err := srv.AddAccount(a, "secret-"+a, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range accounts {
		for _, b := range accounts {
			if a != b {
				if err := srv.AddContact(a, b, msntest.FL|msntest.AL); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return srv
}

func login(t testing.TB, srv *msntest.Server, version int, passport string, n int) *client {
	t.Helper()
	return loginWith(t, srv, version, passport, n, nil)
}

// loginWith is login with a switchboard configuration adjusted by tweak (nil: defaults).
func loginWith(t testing.TB, srv *msntest.Server, version int, passport string, n int, tweak func(*sb.Config)) *client {
	t.Helper()
	url := srv.HTTPURL()
	c := &client{passport: passport, events: make(chan sb.Event, 1024)}
	invites := make(chan ns.SwitchboardInviteEvent, 16)
	guid := fmt.Sprintf("{5E3EDFE5-440D-5132-A3F3-A7AE35275C6%d}", n)
	cfg := ns.Config{
		Server:      srv.NSAddr(),
		Versions:    []int{version},
		MachineGUID: guid,
		Endpoints: ns.Endpoints{
			Nexus:       url + "/rdr/pprdr.asp",
			Login:       url + "/login",
			RST:         url + "/RST.srf",
			Sharing:     url + "/abservice/SharingService.asmx",
			AddressBook: url + "/abservice/abservice.asmx",
			Storage:     url + "/storageservice/SchematizedStore.asmx",
			RSI:         url + "/rsi/rsi.asmx",
			OIM:         url + "/OimWS/oim.asmx",
		},
		OnEvent: func(ev ns.Event) {
			if inv, ok := ev.(*ns.SwitchboardInviteEvent); ok {
				invites <- *inv
			}
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	s, err := ns.Login(ctx, cfg, passport, "secret-"+passport)
	if err != nil {
		t.Fatalf("login %s on MSNP%d: %v", passport, version, err)
	}
	t.Cleanup(func() { s.Close() })
	if err := srv.WaitLoggedIn(ctx, passport); err != nil {
		t.Fatal(err)
	}
	c.session = s
	scfg := sb.Config{
		MachineGUID: guid,
		XFRInterval: -1,
		OnEvent:     func(ev sb.Event) { c.events <- ev },
	}
	if tweak != nil {
		tweak(&scfg)
	}
	c.mgr = sb.NewManager(nsAdapter{s}, scfg)
	t.Cleanup(func() { c.mgr.Close() })
	go func() {
		for {
			select {
			case inv := <-invites:
				c.mgr.HandleInvite(sb.Invitation(inv))
			case <-s.Done():
				return
			}
		}
	}()
	return c
}

// waitEvent skips events until one of type T that satisfies ok arrives.
func waitEvent[T sb.Event](t *testing.T, c *client, ok func(T) bool) T {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case ev := <-c.events:
			if e, is := ev.(T); is && (ok == nil || ok(e)) {
				return e
			}
		case <-deadline:
			var zero T
			t.Fatalf("%s: no matching %T event", c.passport, zero)
			return zero
		}
	}
}

func send(t *testing.T, conv *sb.Conversation, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	o, err := conv.SendText(ctx, text, message.Format{}).Wait(ctx)
	if o != sb.Delivered {
		t.Fatalf("send %q: %v %v", text, o, err)
	}
}

func textFrom(sender, text string) func(*sb.MessageEvent) bool {
	return func(e *sb.MessageEvent) bool { return e.Sender.Passport == sender && e.Text == text }
}

func TestOneToOneBothDirections(t *testing.T) {
	for _, v := range []int{7, 12, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t, "alice@example.com", "bob@example.com")
			alice := login(t, srv, v, "alice@example.com", 1)
			bob := login(t, srv, v, "bob@example.com", 2)

			toBob := alice.mgr.Conversation("bob@example.com")
			send(t, toBob, "Hello Bob, this is Alice!")
			got := waitEvent(t, bob, textFrom("alice@example.com", "Hello Bob, this is Alice!"))
			toAlice := got.Conv
			if toAlice.IsGroup() || toAlice.ID() != "alice@example.com" || toAlice != bob.mgr.Conversation("alice@example.com") {
				t.Fatalf("bob's conversation %q group=%v", toAlice.ID(), toAlice.IsGroup())
			}
			send(t, toAlice, "Hi Alice, Bob here.\nTwo lines.")
			waitEvent(t, alice, textFrom("bob@example.com", "Hi Alice, Bob here.\nTwo lines."))

			// Typing and nudges arrive as their own events.
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			if o, err := toBob.SendTyping(ctx).Wait(ctx); o != sb.Delivered {
				t.Fatalf("typing: %v %v", o, err)
			}
			waitEvent[*sb.TypingEvent](t, bob, nil)
			if o, err := toAlice.SendNudge(ctx).Wait(ctx); o != sb.Delivered {
				t.Fatalf("nudge: %v %v", o, err)
			}
			waitEvent[*sb.NudgeEvent](t, alice, nil)

			// Bob leaves; Alice's next message reopens transparently.
			if err := toAlice.Leave(); err != nil {
				t.Fatal(err)
			}
			waitEvent(t, alice, func(e *sb.LeftEvent) bool { return e.Passport == "bob@example.com" })
			waitEvent[*sb.ClosedEvent](t, alice, nil)
			send(t, toBob, "Are you still there?")
			waitEvent(t, bob, textFrom("alice@example.com", "Are you still there?"))
		})
	}
}

func TestThreePartyConversation(t *testing.T) {
	for _, v := range []int{7, 12, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t, "alice@example.com", "bob@example.com", "carol@example.com")
			alice := login(t, srv, v, "alice@example.com", 1)
			bob := login(t, srv, v, "bob@example.com", 2)
			carol := login(t, srv, v, "carol@example.com", 3)

			toBob := alice.mgr.Conversation("bob@example.com")
			send(t, toBob, "hi bob")
			waitEvent(t, bob, textFrom("alice@example.com", "hi bob"))

			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			if err := toBob.Invite(ctx, "carol@example.com"); err != nil {
				t.Fatalf("invite carol: %v", err)
			}
			ag := waitEvent[*sb.BecameGroupEvent](t, alice, nil)
			bg := waitEvent[*sb.BecameGroupEvent](t, bob, nil)
			if ag.From != toBob || len(ag.Participants) != 2 || len(bg.Participants) != 2 {
				t.Fatalf("group events: alice %+v bob %+v", ag, bg)
			}
			send(t, ag.Conv, "hello both")
			cm := waitEvent(t, carol, textFrom("alice@example.com", "hello both"))
			bm := waitEvent(t, bob, textFrom("alice@example.com", "hello both"))
			if !cm.Conv.IsGroup() || bm.Conv != bg.Conv {
				t.Fatalf("carol's conversation group=%v, bob's routed to %q", cm.Conv.IsGroup(), bm.Conv.ID())
			}
			if ps := cm.Conv.Participants(); len(ps) != 2 {
				t.Fatalf("carol's roster %+v", ps)
			}
			send(t, cm.Conv, "hi from carol")
			waitEvent(t, alice, func(e *sb.MessageEvent) bool { return e.Conv == ag.Conv && e.Text == "hi from carol" })
			waitEvent(t, bob, func(e *sb.MessageEvent) bool { return e.Conv == bg.Conv && e.Text == "hi from carol" })

			// Carol leaves: Alice and Bob see her go, their rosters shrink, the group goes on.
			if err := cm.Conv.Leave(); err != nil {
				t.Fatal(err)
			}
			waitEvent(t, alice, func(e *sb.LeftEvent) bool { return e.Conv == ag.Conv && e.Passport == "carol@example.com" && !e.Idle })
			waitEvent(t, bob, func(e *sb.LeftEvent) bool { return e.Conv == bg.Conv && e.Passport == "carol@example.com" && !e.Idle })
			if ps := ag.Conv.Participants(); len(ps) != 1 || ps[0].Passport != "bob@example.com" {
				t.Fatalf("alice's roster after carol left: %+v", ps)
			}
			if ps := bg.Conv.Participants(); len(ps) != 1 || ps[0].Passport != "alice@example.com" {
				t.Fatalf("bob's roster after carol left: %+v", ps)
			}
			send(t, ag.Conv, "carol has gone")
			waitEvent(t, bob, func(e *sb.MessageEvent) bool { return e.Conv == bg.Conv && e.Text == "carol has gone" })

			// The one-to-one conversation lives on beside the group.
			send(t, toBob, "just you")
			bm = waitEvent(t, bob, textFrom("alice@example.com", "just you"))
			if bm.Conv.IsGroup() {
				t.Fatal("one-to-one message routed to the group")
			}
		})
	}
}

func TestOfflineContact(t *testing.T) {
	srv := startServer(t, "alice@example.com", "carol@example.com")
	alice := login(t, srv, 18, "alice@example.com", 1)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	o, err := alice.mgr.Conversation("carol@example.com").SendText(ctx, "are you there?", message.Format{}).Wait(ctx)
	if o != sb.Offline || !errors.Is(err, sb.ErrOffline) {
		t.Fatalf("outcome %v %v", o, err)
	}
}

func TestServerIdleDropAndReopen(t *testing.T) {
	srv := startServerWith(t, msntest.Options{SBIdleTimeout: 300 * time.Millisecond}, "alice@example.com", "bob@example.com")
	alice := login(t, srv, 12, "alice@example.com", 1)
	bob := login(t, srv, 12, "bob@example.com", 2)
	toBob := alice.mgr.Conversation("bob@example.com")
	send(t, toBob, "before the idle drop")
	waitEvent(t, bob, textFrom("alice@example.com", "before the idle drop"))
	if l := waitEvent[*sb.LeftEvent](t, alice, nil); !l.Idle || l.Passport != "bob@example.com" {
		t.Fatalf("left %+v", l)
	}
	waitEvent[*sb.ClosedEvent](t, alice, nil)
	send(t, toBob, "after the idle drop")
	waitEvent(t, bob, textFrom("alice@example.com", "after the idle drop"))
}
