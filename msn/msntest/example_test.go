package msntest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/msnbridge/msnbridge/msn/msntest"
)

// A test sets up accounts, points its client at NSAddr/HTTPURL, and scripts the other side.
func Example() {
	srv, err := msntest.New(msntest.Options{})
	if err != nil {
		panic(err)
	}
	if err := srv.Start(); err != nil {
		panic(err)
	}
	defer srv.Close()
	_ = srv.AddAccount("bridge@example.com", "secret", "Bridge")
	_ = srv.AddAccount("carol@example.com", "secret", "Carol")
	_ = srv.AddContact("bridge@example.com", "carol@example.com", msntest.FL|msntest.AL)

	// … log a client in as bridge@example.com at srv.NSAddr() / srv.HTTPURL() …

	carol := srv.Contact("carol@example.com")
	_ = carol.SignIn("NLN") // the client sees carol come online
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// With a logged-in client, Say rings it and sends the text once it answered.
	err = carol.Say(ctx, "bridge@example.com", "hello")
	fmt.Println(err != nil) // no client logged in here, so it fails
	// Output: true
}
