package oim_test

import (
	"context"
	"fmt"

	"github.com/msnbridge/msnbridge/msn/oim"
)

// The bridge's flow for waiting offline messages: parse the NS Mail-Data payload, fall back to
// GetMetadata when it says too-large, fetch everything, deliver in order, and only then delete
// what was delivered (FetchAll deletes nothing).
func Example() {
	payload := []byte("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinitialmdatanotification; charset=UTF-8\r\n\r\n" +
		"Mail-Data: <MD><M><T>11</T><E>alice@example.com</E><I>E6E014A5-CAC1-4375-81EA-2F1ED90FD344</I>" +
		"<N>=?utf-8?B?QWxpY2UgKHByb2JlKQ==?=</N></M></MD>\r\n")
	md, tooLarge, err := oim.ParseMailDataPayload(payload)
	if err != nil {
		fmt.Println("bad mail data:", err)
		return
	}
	rsi := &oim.RSIClient{
		URL:    "http://127.0.0.1:8081/rsi/rsi.asmx",
		Ticket: func() string { return "t=…&p=…" }, // ns.Session.Ticket("messenger.msn.com")
	}
	if tooLarge {
		if md, err = rsi.GetMetadata(context.Background()); err != nil {
			return
		}
	}
	for _, m := range md.OIMs() {
		fmt.Println(m.From, m.FromName, m.ID)
	}
	// msgs, err := rsi.FetchAll(ctx, md.OIMs()) — then post msgs in order, and after that
	// rsi.DeleteMessages(ctx, oim.MessageIDs(msgs)).

	// Output:
	// alice@example.com Alice (probe) E6E014A5-CAC1-4375-81EA-2F1ED90FD344
}
