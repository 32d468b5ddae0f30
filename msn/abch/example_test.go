package abch_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/msnbridge/msnbridge/msn/abch"
)

// The login-time fetch of an MSNP18 client: memberships, then the address book.
func Example() {
	// A stand-in for the contact services, answering with the captured Escargot responses.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := strings.Trim(r.Header.Get("SOAPAction"), `"`)
		method = method[strings.LastIndex(method, "/")+1:]
		file := map[string]string{
			"FindMembership":      "FindMembership.response.xml",
			"ABFindContactsPaged": "ABFindContactsPaged.response.xml",
		}[method]
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if file == "" || err != nil {
			http.Error(w, "unknown method", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = w.Write(data)
	}))
	defer srv.Close()

	c := &abch.Client{
		SharingURL:     srv.URL + "/abservice/SharingService.asmx",
		AddressBookURL: srv.URL + "/abservice/abservice.asmx",
		Ticket:         func() string { return "t=0123456789abcdef0123&p=" },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	m, err := c.FindMembership(ctx)
	if err != nil {
		fmt.Println("FindMembership:", err)
		return
	}
	for _, role := range []abch.Role{abch.RoleAllow, abch.RoleBlock, abch.RoleReverse, abch.RolePending} {
		for _, mem := range m.Members[role] {
			fmt.Println(role, mem.Passport)
		}
	}
	book, err := c.FindContactsPaged(ctx)
	if err != nil {
		fmt.Println("FindContactsPaged:", err)
		return
	}
	fmt.Println("me:", book.Me.Passport)
	for _, ct := range book.Contacts {
		fmt.Println("contact:", ct.Passport, ct.Type, ct.IsMessengerUser)
	}
	// Output:
	// Allow bob@example.com
	// Reverse bob@example.com
	// me: alice@example.com
	// contact: bob@example.com Regular true
}
