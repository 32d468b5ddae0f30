package ns_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/msntest"
	"github.com/msnbridge/msnbridge/msn/ns"
)

// exampleServer starts a fake MSN server with alice and bob on each other's lists; bob is
// busy and has a personal message.
func exampleServer() *msntest.Server {
	quiet := zerolog.Nop()
	srv, err := msntest.New(msntest.Options{Logger: &quiet})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		log.Fatal(err)
	}
	_ = srv.AddAccount("alice@example.com", "alicepass", "Alice")
	_ = srv.AddAccount("bob@example.com", "bobpass", "Bob")
	_ = srv.AddContact("alice@example.com", "bob@example.com", msntest.FL|msntest.AL)
	_ = srv.AddContact("bob@example.com", "alice@example.com", msntest.FL|msntest.AL)
	_ = srv.SetPresence("bob@example.com", "BSY")
	_ = srv.SetPersonalMessage("bob@example.com", "at work")
	return srv
}

// Example logs in with MSNP18 (SSO, address book over SOAP), prints the contact list and
// watches a contact's presence and personal message arrive.
func Example() {
	srv := exampleServer()
	defer srv.Close()

	events := make(chan ns.Event, 64)
	web := srv.HTTPURL()
	cfg := ns.Config{
		Server:   srv.NSAddr(),
		Versions: []int{18},
		Endpoints: ns.Endpoints{
			RST:         web + "/RST.srf",
			Sharing:     web + "/abservice/SharingService.asmx",
			AddressBook: web + "/abservice/abservice.asmx",
		},
		MachineGUID: "{7A1E8C2D-1111-4222-8333-444455556666}",
		OnEvent: func(e ns.Event) {
			select {
			case events <- e:
			default: // never block the session
			}
		},
	}
	s, err := ns.Login(context.Background(), cfg, "alice@example.com", "alicepass")
	if err != nil {
		fmt.Println("login:", err)
		return
	}
	defer s.Close()

	for _, c := range s.Contacts() {
		fmt.Printf("%s on %s\n", c.Passport, c.Lists)
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e := <-events:
			switch e := e.(type) {
			case *ns.PresenceEvent:
				if !e.Self {
					fmt.Printf("%s is %s\n", e.Contact.Passport, e.Contact.Status)
				}
			case *ns.ProfileEvent:
				if !e.Self && e.PersonalMessage != "" {
					fmt.Printf("%s says %q\n", e.Passport, e.PersonalMessage)
					return
				}
			}
		case <-timeout:
			fmt.Println("timed out")
			return
		}
	}
	// Output:
	// bob@example.com on FL|AL|RL
	// bob@example.com is BSY
	// bob@example.com says "at work"
}

// ExampleLogin shows a login to a revival server whose HTTP services are on plain http, as
// an application would configure it. It needs a real server, so it is compiled but not run.
func ExampleLogin() {
	web := "http://msn.example.net:8081"
	cfg := ns.Config{
		Server: "msn.example.net:1863",
		Endpoints: ns.Endpoints{
			Login:       web + "/login", // Passport 1.4 (MSNP8–14)
			RST:         web + "/RST.srf",
			Sharing:     web + "/abservice/SharingService.asmx",
			AddressBook: web + "/abservice/abservice.asmx",
		},
		MachineGUID: "{2B7C5F1A-0000-4000-8000-000000000001}", // keep it stable per account
		Logger:      zerolog.New(os.Stderr).With().Timestamp().Logger(),
		OnEvent: func(e ns.Event) {
			switch e := e.(type) {
			case *ns.PresenceEvent:
				fmt.Println(e.Contact.Passport, e.Contact.Status)
			case *ns.SwitchboardInviteEvent:
				fmt.Println("invited by", e.Inviter)
			case *ns.DisconnectEvent:
				fmt.Println("disconnected:", e.Err)
			}
		},
	}
	s, err := ns.Login(context.Background(), cfg, "me@example.net", "secret")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if err := s.SetStatus(context.Background(), ns.Away); err != nil {
		log.Print(err)
	}
	<-s.Done()
	log.Print("session ended: ", s.Err())
}

// ExampleSession_RequestSwitchboard opens a switchboard to chat; the ticket goes to the
// switchboard package.
func ExampleSession_RequestSwitchboard() {
	srv := exampleServer()
	defer srv.Close()
	s, err := ns.Login(context.Background(), ns.Config{Server: srv.NSAddr(), Versions: []int{7}}, "alice@example.com", "alicepass")
	if err != nil {
		fmt.Println("login:", err)
		return
	}
	defer s.Close()
	tk, err := s.RequestSwitchboard(context.Background())
	fmt.Println(err == nil && tk.Addr == srv.SBAddr() && tk.Cookie != "")
	// Output: true
}
