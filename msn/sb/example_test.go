package sb_test

import (
	"context"
	"fmt"
	"time"

	"github.com/msnbridge/msnbridge/msn/message"
	"github.com/msnbridge/msnbridge/msn/sb"
)

// nsSession stands for *ns.Session: anything with these three methods.
type nsSession interface {
	Passport() string
	Version() int
	RequestSwitchboard(ctx context.Context) (sb.Ticket, error)
}

// With a real NS session the adapter is one method:
//
//	type nsAdapter struct{ *ns.Session }
//
//	func (a nsAdapter) RequestSwitchboard(ctx context.Context) (sb.Ticket, error) {
//		t, err := a.Session.RequestSwitchboard(ctx)
//		return sb.Ticket(t), err
//	}
//
// and invitations from the NS events go to the manager with
//
//	case *ns.SwitchboardInviteEvent:
//		mgr.HandleInvite(sb.Invitation(*ev))
func Example() {
	var session nsSession // your logged-in NS session (see above)
	if session == nil {
		return
	}
	mgr := sb.NewManager(session, sb.Config{
		MachineGUID: "{F52973B6-C926-4BAD-9BA8-7C1E840E4AB0}", // the one given to the NS login
		IdleTimeout: 5 * time.Minute,
		OnEvent: func(ev sb.Event) {
			switch ev := ev.(type) {
			case *sb.MessageEvent:
				fmt.Printf("%s: %s\n", ev.Sender.Passport, ev.Text)
			case *sb.NudgeEvent:
				fmt.Printf("%s nudged you\n", ev.Sender.Passport)
			case *sb.BecameGroupEvent:
				fmt.Printf("group chat %s started with %d people\n", ev.Conv.ID(), len(ev.Participants))
			}
		},
	})
	defer mgr.Close()

	ctx := context.Background()
	res := mgr.Conversation("bob@example.com").SendText(ctx, "Hello Bob!", message.Format{Font: "Segoe UI"})
	switch outcome, err := res.Wait(ctx); outcome {
	case sb.Delivered:
		fmt.Println("delivered")
	case sb.Offline:
		fmt.Println("Bob is offline: send an offline message instead")
	default:
		fmt.Println("not delivered:", err)
	}
}
