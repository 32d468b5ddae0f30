package abch

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// sampleTicket is the TicketToken of the soap-samples, unescaped.
func sampleTicket(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`<TicketToken>(.*?)</TicketToken>`).FindSubmatch(readFixture(t, "FindMembership.request.xml"))
	if m == nil {
		t.Fatal("no TicketToken in the sample")
	}
	return strings.ReplaceAll(string(m[1]), "&amp;", "&")
}

func TestRequestsMatchSamples(t *testing.T) {
	const appID = "CFE80F9D-180F-4399-82AB-413F33A1FA11" // the id the samples were captured with
	ticket := sampleTicket(t)
	tests := []struct {
		file, body string
	}{
		{"FindMembership.request.xml", findMembershipBody()},
		{"ABFindContactsPaged.request.xml", findContactsPagedBody()},
	}
	for _, tt := range tests {
		got := buildEnvelope(appID, ScenarioInitial, "", ticket, tt.body)
		if want := string(readFixture(t, tt.file)); got != want {
			t.Errorf("%s differs from our request:\n got %s\nwant %s", tt.file, got, want)
		}
	}
	// The MSNP13 transcript shows the ABFindAll request is 982 bytes with the ticket
	// "t=f848829e5e13d0861fa8".
	if n := len(buildEnvelope(appID, ScenarioInitial, "", "t=f848829e5e13d0861fa8", findAllBody())); n != 982 {
		t.Errorf("ABFindAll request is %d bytes, the transcript's is 982", n)
	}
}

// request is what the fake server saw.
type request struct {
	Path, Action, ContentType string
	Scenario, AppID, Ticket   string
	ManagedGroupRequest       string
	CacheKey                  *string
	Method                    string // local name of the Body element
	Body                      string // inner XML of the Body element
}

type reqEnvelope struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Header  struct {
		App struct {
			ApplicationId   string
			IsMigration     string
			PartnerScenario string
			CacheKey        *string
		} `xml:"http://www.msn.com/webservices/AddressBook ABApplicationHeader"`
		Auth struct {
			ManagedGroupRequest string
			TicketToken         string
		} `xml:"http://www.msn.com/webservices/AddressBook ABAuthHeader"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Header"`
	Body struct {
		Inner struct {
			XMLName xml.Name
			Raw     string `xml:",innerxml"`
		} `xml:",any"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

// fakeService answers every request with the next scripted reply and records requests.
type fakeService struct {
	t   *testing.T
	mu  sync.Mutex
	got []request
	// reply returns status and body for a request.
	reply func(r request) (int, []byte)
}

func (f *fakeService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	var env reqEnvelope
	if err := xml.Unmarshal(raw, &env); err != nil {
		f.t.Errorf("request body is not a SOAP envelope: %v\n%s", err, raw)
		http.Error(w, "bad xml", 500)
		return
	}
	if env.Header.App.IsMigration != "false" {
		f.t.Errorf("IsMigration = %q", env.Header.App.IsMigration)
	}
	req := request{
		Path:                r.URL.Path,
		Action:              r.Header.Get("SOAPAction"),
		ContentType:         r.Header.Get("Content-Type"),
		Scenario:            env.Header.App.PartnerScenario,
		AppID:               env.Header.App.ApplicationId,
		Ticket:              env.Header.Auth.TicketToken,
		ManagedGroupRequest: env.Header.Auth.ManagedGroupRequest,
		CacheKey:            env.Header.App.CacheKey,
		Method:              env.Body.Inner.XMLName.Local,
		Body:                env.Body.Inner.Raw,
	}
	if env.Body.Inner.XMLName.Space != nsAB {
		f.t.Errorf("%s body element in namespace %q", req.Method, env.Body.Inner.XMLName.Space)
	}
	f.mu.Lock()
	f.got = append(f.got, req)
	f.mu.Unlock()
	status, body := f.reply(req)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (f *fakeService) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.got...)
}

const testTicket = "t=0123456789abcdef0123Y6+H31sTU&p="

func newTestClient(t *testing.T, reply func(r request) (int, []byte)) (*Client, *fakeService) {
	t.Helper()
	fs := &fakeService{t: t, reply: reply}
	srv := httptest.NewServer(fs) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	c := &Client{
		HTTP:           srv.Client(),
		SharingURL:     srv.URL + "/abservice/SharingService.asmx",
		AddressBookURL: srv.URL + "/abservice/abservice.asmx",
		Ticket:         func() string { return testTicket },
	}
	return c, fs
}

// replyByMethod serves the fixture named for each method.
func replyByMethod(t *testing.T) func(r request) (int, []byte) {
	files := map[string]string{
		"FindMembership":      "FindMembership.response.xml",
		"ABFindAll":           "ABFindAll.response.xml",
		"ABFindContactsPaged": "ABFindContactsPaged.response.xml",
		"ABContactAdd":        "ABContactAdd.response.xml",
	}
	return func(r request) (int, []byte) {
		if f, ok := files[r.Method]; ok {
			return 200, readFixture(t, f)
		}
		return 200, soapResponse(`<` + r.Method + `Response xmlns="http://www.msn.com/webservices/AddressBook"/>`)
	}
}

func TestCalls(t *testing.T) {
	const sharing, ab = "/abservice/SharingService.asmx", "/abservice/abservice.asmx"
	tests := []struct {
		name         string
		call         func(ctx context.Context, c *Client) error
		path, method string
		scenario     string
		bodyHas      []string
		bodyHasNot   []string
	}{
		{
			name: "FindMembership",
			call: func(ctx context.Context, c *Client) error {
				m, err := c.FindMembership(ctx)
				if err == nil && (len(m.Members[RoleAllow]) != 1 || m.Members[RoleAllow][0].Passport != "bob@example.com") {
					t.Errorf("FindMembership = %+v", m.Members)
				}
				return err
			},
			path: sharing, method: "FindMembership", scenario: "Initial",
			bodyHas: []string{"<serviceFilter><Types><ServiceType>Messenger</ServiceType>"},
		},
		{
			name: "FindAll",
			call: func(ctx context.Context, c *Client) error {
				book, err := c.FindAll(ctx)
				if err == nil && (len(book.Contacts) != 2 || len(book.Groups) != 1 || book.Me == nil) {
					t.Errorf("FindAll = %+v", book)
				}
				return err
			},
			path: ab, method: "ABFindAll", scenario: "Initial",
			bodyHas: []string{"<abId>00000000-0000-0000-0000-000000000000</abId>", "<abView>Full</abView>", "<deltasOnly>false</deltasOnly>", "<lastChange>0001-01-01T00:00:00.0000000-08:00</lastChange>"},
		},
		{
			name: "FindContactsPaged",
			call: func(ctx context.Context, c *Client) error {
				book, err := c.FindContactsPaged(ctx)
				if err == nil && (len(book.Contacts) != 1 || book.Me == nil || book.Me.Passport != "alice@example.com") {
					t.Errorf("FindContactsPaged = %+v", book)
				}
				return err
			},
			path: ab, method: "ABFindContactsPaged", scenario: "Initial",
			bodyHas: []string{"<abView>MessengerClient8</abView>", "<extendedContent>AB AllGroups CircleResult</extendedContent>", "<DeltasOnly>false</DeltasOnly>", "<IncludeHiddenContacts>true</IncludeHiddenContacts>"},
		},
		{
			name: "AddContact",
			call: func(ctx context.Context, c *Client) error {
				id, err := c.AddContact(ctx, " Bob@Example.com ")
				if err == nil && id != "6bd5e1a5-3c0f-4b8e-9f0e-1b2c3d4e5f60" {
					t.Errorf("AddContact id = %q", id)
				}
				return err
			},
			path: ab, method: "ABContactAdd", scenario: "ContactSave",
			bodyHas: []string{"<contacts><Contact><contactInfo><passportName>bob@example.com</passportName><isMessengerUser>true</isMessengerUser><contactType>LivePending</contactType></contactInfo></Contact></contacts>", "<EnableAllowListManagement>true</EnableAllowListManagement>"},
		},
		{
			name: "DeleteContact",
			call: func(ctx context.Context, c *Client) error {
				return c.DeleteContact(ctx, "2ad08235-0ca5-4637-a1ec-490b3fba04f4")
			},
			path: ab, method: "ABContactDelete", scenario: "ContactSave",
			bodyHas: []string{"<contacts><Contact><contactId>2ad08235-0ca5-4637-a1ec-490b3fba04f4</contactId></Contact></contacts>"},
		},
		{
			name: "AddMember block",
			call: func(ctx context.Context, c *Client) error {
				return c.AddMember(ctx, RoleBlock, "mallory@example.com", "")
			},
			path: sharing, method: "AddMember", scenario: "BlockUnblock",
			bodyHas: []string{"<serviceHandle><Id>0</Id><Type>Messenger</Type><ForeignId></ForeignId></serviceHandle>", "<MemberRole>Block</MemberRole>",
				`<Member xsi:type="PassportMember" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><Type>Passport</Type><State>Accepted</State><PassportName>mallory@example.com</PassportName></Member>`},
		},
		{
			name: "AddMember allow for a pending contact",
			call: func(ctx context.Context, c *Client) error {
				return c.AddMember(ctx, RoleAllow, "erin@example.com", ScenarioMessengerPendingList)
			},
			path: sharing, method: "AddMember", scenario: "MessengerPendingList",
			bodyHas: []string{"<MemberRole>Allow</MemberRole>", "<PassportName>erin@example.com</PassportName>"},
		},
		{
			name: "DeleteMember pending without a known id",
			call: func(ctx context.Context, c *Client) error {
				return c.DeleteMember(ctx, RolePending, "erin@example.com", "")
			},
			path: sharing, method: "DeleteMember", scenario: "MessengerPendingList",
			bodyHas:    []string{"<MemberRole>Pending</MemberRole>", "<Type>Passport</Type><State>Accepted</State><PassportName>erin@example.com</PassportName>"},
			bodyHasNot: []string{"MembershipId"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, fs := newTestClient(t, replyByMethod(t))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tt.call(ctx, c); err != nil {
				t.Fatalf("call: %v", err)
			}
			reqs := fs.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Path != tt.path {
				t.Errorf("path %q, want %q", r.Path, tt.path)
			}
			if want := `"http://www.msn.com/webservices/AddressBook/` + tt.method + `"`; r.Action != want {
				t.Errorf("SOAPAction %s, want %s", r.Action, want)
			}
			if r.ContentType != "text/xml; charset=utf-8" {
				t.Errorf("Content-Type %q", r.ContentType)
			}
			if r.Method != tt.method {
				t.Errorf("body element <%s>, want <%s>", r.Method, tt.method)
			}
			if r.Scenario != tt.scenario {
				t.Errorf("PartnerScenario %q, want %q", r.Scenario, tt.scenario)
			}
			if r.Ticket != testTicket {
				t.Errorf("TicketToken %q, want %q", r.Ticket, testTicket)
			}
			if r.AppID != DefaultApplicationID {
				t.Errorf("ApplicationId %q", r.AppID)
			}
			if r.ManagedGroupRequest != "false" {
				t.Errorf("ManagedGroupRequest %q", r.ManagedGroupRequest)
			}
			for _, s := range tt.bodyHas {
				if !strings.Contains(r.Body, s) {
					t.Errorf("body lacks %s\nbody: %s", s, r.Body)
				}
			}
			for _, s := range tt.bodyHasNot {
				if strings.Contains(r.Body, s) {
					t.Errorf("body has %s\nbody: %s", s, r.Body)
				}
			}
		})
	}
}

func TestTicketIsEscapedOnTheWire(t *testing.T) {
	var raw []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ = io.ReadAll(r.Body)
		_, _ = w.Write(readFixture(t, "FindMembership.response.xml"))
	}))
	defer srv.Close()
	c := &Client{SharingURL: srv.URL, Ticket: func() string { return "t=a<b&p=c" }, ApplicationID: "X&Y"}
	if _, err := c.FindMembership(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<TicketToken>t=a&lt;b&amp;p=c</TicketToken>", "<ApplicationId>X&amp;Y</ApplicationId>"} {
		if !bytes.Contains(raw, []byte(s)) {
			t.Errorf("request lacks %s:\n%s", s, raw)
		}
	}
}

func TestCacheKeyRoundTrip(t *testing.T) {
	keys := []string{"12r1:first-key", "12r1:second&key"}
	n := 0
	c, fs := newTestClient(t, func(r request) (int, []byte) {
		key := keys[n%len(keys)]
		n++
		return 200, []byte(`<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><ServiceHeader xmlns="http://www.msn.com/webservices/AddressBook"><Version>15.01.1408.0000</Version><CacheKey>` +
			strings.ReplaceAll(key, "&", "&amp;") + `</CacheKey><CacheKeyChanged>true</CacheKeyChanged></ServiceHeader></soap:Header><soap:Body><FindMembershipResponse xmlns="http://www.msn.com/webservices/AddressBook"><FindMembershipResult/></FindMembershipResponse></soap:Body></soap:Envelope>`)
	})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := c.FindMembership(ctx); err != nil {
			t.Fatal(err)
		}
	}
	reqs := fs.requests()
	if reqs[0].CacheKey != nil {
		t.Errorf("first request sent CacheKey %q", *reqs[0].CacheKey)
	}
	for i, want := range []string{keys[0], keys[1]} {
		if got := reqs[i+1].CacheKey; got == nil || *got != want {
			t.Errorf("request %d CacheKey %v, want %q", i+1, got, want)
		}
	}
	if got := c.CacheKey(); got != keys[0] {
		t.Errorf("CacheKey() = %q after three answers, want %q", got, keys[0])
	}
}

func TestFaultsAndStatuses(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      []byte
		check     func(t *testing.T, err error)
		fullSync  bool
		forbidden bool
	}{
		{
			name: "full sync fault with 500", status: 500, body: readFixture(t, "Fault.fullsync.xml"), fullSync: true,
			check: func(t *testing.T, err error) {
				var f *Fault
				if !errors.As(err, &f) || f.HTTPStatus != 500 || f.ErrorCode != "FullSyncRequired" || f.Code != "soap:Client" {
					t.Errorf("error %v (%#v)", err, f)
				}
			},
		},
		{
			name: "fault with 200", status: 200, body: readFixture(t, "Fault.memberdoesnotexist.xml"),
			check: func(t *testing.T, err error) {
				var f *Fault
				if !errors.As(err, &f) || f.HTTPStatus != 200 || f.ErrorCode != "MemberDoesNotExist" {
					t.Errorf("error %v", err)
				}
			},
		},
		{
			name: "403 without body", status: 403, forbidden: true,
			check: func(t *testing.T, err error) {
				var se *StatusError
				if !errors.As(err, &se) || se.StatusCode != 403 || se.Method != "ABFindAll" {
					t.Errorf("error %v", err)
				}
			},
		},
		{
			name: "500 with a text body", status: 500, body: []byte("500: Internal Server Error"),
			check: func(t *testing.T, err error) {
				var se *StatusError
				if !errors.As(err, &se) || se.StatusCode != 500 {
					t.Errorf("error %v", err)
				}
			},
		},
		{
			name: "200 with garbage", status: 200, body: []byte("<html>oops</html>"),
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("error %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestClient(t, func(request) (int, []byte) { return tt.status, tt.body })
			_, err := c.FindAll(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			tt.check(t, err)
			if IsFullSyncRequired(err) != tt.fullSync {
				t.Errorf("IsFullSyncRequired(%v) = %v", err, !tt.fullSync)
			}
			if errors.Is(err, ErrForbidden) != tt.forbidden {
				t.Errorf("errors.Is(%v, ErrForbidden) = %v", err, !tt.forbidden)
			}
		})
	}
}

func TestOversizedResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><!--`))
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for written := 0; written <= MaxResponseBytes; written += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c := &Client{HTTP: srv.Client(), AddressBookURL: srv.URL, Ticket: func() string { return testTicket }}
	_, err := c.FindContactsPaged(context.Background())
	if !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("error %v, want ErrResponseTooLarge", err)
	}
}

func TestServerNeverAnswers(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c := &Client{HTTP: srv.Client(), SharingURL: srv.URL, Ticket: func() string { return testTicket }}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := c.FindMembership(ctx); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("FindMembership did not return after its context expired")
	}
}

func TestDeleteMemberUsesKnownMembershipID(t *testing.T) {
	c, fs := newTestClient(t, replyByMethod(t))
	ctx := context.Background()
	if _, err := c.FindMembership(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteMember(ctx, RoleAllow, "BOB@example.com", ScenarioBlockUnblock); err != nil {
		t.Fatal(err)
	}
	// Once deleted, the id is forgotten.
	if err := c.DeleteMember(ctx, RoleAllow, "bob@example.com", ScenarioBlockUnblock); err != nil {
		t.Fatal(err)
	}
	reqs := fs.requests()
	want := "<MembershipId>Allow/2ad08235-0ca5-4637-a1ec-490b3fba04f4</MembershipId><Type>Passport</Type><State>Accepted</State><PassportName>bob@example.com</PassportName>"
	if !strings.Contains(reqs[1].Body, want) {
		t.Errorf("first DeleteMember lacks %s\n%s", want, reqs[1].Body)
	}
	if strings.Contains(reqs[2].Body, "MembershipId") || !strings.Contains(reqs[2].Body, "<PassportName>bob@example.com</PassportName>") {
		t.Errorf("second DeleteMember: %s", reqs[2].Body)
	}
}

// TestDeleteMemberLooksUpMembershipIDOnDemand: with MembershipIDsOnDemand, FindMembership
// keeps no ids, and DeleteMember still names the member by its MembershipId: it fetches the
// memberships first (once per call, nothing kept afterwards).
func TestDeleteMemberLooksUpMembershipIDOnDemand(t *testing.T) {
	c, fs := newTestClient(t, replyByMethod(t))
	c.MembershipIDsOnDemand = true
	ctx := context.Background()
	if _, err := c.FindMembership(ctx); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	kept := len(c.memberIDs)
	c.mu.Unlock()
	if kept != 0 {
		t.Fatalf("%d roles of membership ids kept", kept)
	}
	if err := c.DeleteMember(ctx, RoleAllow, "BOB@example.com", ScenarioBlockUnblock); err != nil {
		t.Fatal(err)
	}
	// A passport without a membership: no id, named by PassportName alone.
	if err := c.DeleteMember(ctx, RoleAllow, "nobody@example.com", ScenarioBlockUnblock); err != nil {
		t.Fatal(err)
	}
	reqs := fs.requests()
	var methods []string
	for _, r := range reqs {
		methods = append(methods, r.Method)
	}
	if got := strings.Join(methods, " "); got != "FindMembership FindMembership DeleteMember FindMembership DeleteMember" {
		t.Fatalf("requests %s", got)
	}
	want := "<MembershipId>Allow/2ad08235-0ca5-4637-a1ec-490b3fba04f4</MembershipId><Type>Passport</Type><State>Accepted</State><PassportName>bob@example.com</PassportName>"
	if !strings.Contains(reqs[2].Body, want) {
		t.Errorf("DeleteMember lacks %s\n%s", want, reqs[2].Body)
	}
	if strings.Contains(reqs[4].Body, "MembershipId") || !strings.Contains(reqs[4].Body, "<PassportName>nobody@example.com</PassportName>") {
		t.Errorf("DeleteMember of a non-member: %s", reqs[4].Body)
	}
	c.mu.Lock()
	kept = len(c.memberIDs)
	c.mu.Unlock()
	if kept != 0 {
		t.Errorf("membership ids kept after DeleteMember")
	}
}

// TestDeleteMemberOnDemandLookupFails: a failed lookup fails DeleteMember before it is sent.
func TestDeleteMemberOnDemandLookupFails(t *testing.T) {
	c, fs := newTestClient(t, func(r request) (int, []byte) { return http.StatusInternalServerError, nil })
	c.MembershipIDsOnDemand = true
	err := c.DeleteMember(context.Background(), RoleBlock, "bob@example.com", "")
	if err == nil || !strings.Contains(err.Error(), "looking up the membership") {
		t.Fatalf("err %v", err)
	}
	for _, r := range fs.requests() {
		if r.Method == "DeleteMember" {
			t.Fatal("DeleteMember sent without its lookup")
		}
	}
}

func TestBadArgumentsSendNothing(t *testing.T) {
	c, fs := newTestClient(t, replyByMethod(t))
	ctx := context.Background()
	calls := map[string]func() error{
		"empty passport":     func() error { _, err := c.AddContact(ctx, ""); return err },
		"passport without @": func() error { _, err := c.AddContact(ctx, "bob"); return err },
		"control char":       func() error { return c.AddMember(ctx, RoleAllow, "bo\nb@example.com", "") },
		"unknown role":       func() error { return c.AddMember(ctx, Role("Friends"), "bob@example.com", "") },
		"empty contact id":   func() error { return c.DeleteContact(ctx, "") },
		"overlong passport":  func() error { return c.DeleteMember(ctx, RoleBlock, strings.Repeat("a", 300)+"@x.com", "") },
		"no ticket": func() error {
			_, err := (&Client{AddressBookURL: c.AddressBookURL}).FindAll(ctx)
			return err
		},
		"empty ticket": func() error {
			_, err := (&Client{AddressBookURL: c.AddressBookURL, Ticket: func() string { return "" }}).FindAll(ctx)
			return err
		},
		"no endpoint": func() error { _, err := (&Client{Ticket: c.Ticket}).FindAll(ctx); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if n := len(fs.requests()); n != 0 {
		t.Errorf("%d requests sent for bad arguments", n)
	}
}

func TestTicketNeverLogged(t *testing.T) {
	var logs bytes.Buffer
	c, _ := newTestClient(t, replyByMethod(t))
	c.Logger = zerolog.New(&logs).Level(zerolog.TraceLevel)
	ctx := context.Background()
	if _, err := c.FindMembership(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddContact(ctx, "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	if logs.Len() == 0 {
		t.Fatal("no debug log lines at all")
	}
	if strings.Contains(logs.String(), "0123456789abcdef0123") {
		t.Fatalf("ticket in the log: %s", logs.String())
	}
}

func TestConcurrentCalls(t *testing.T) {
	c, fs := newTestClient(t, replyByMethod(t))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var err error
			if i%2 == 0 {
				_, err = c.FindMembership(context.Background())
			} else {
				err = c.DeleteMember(context.Background(), RoleAllow, "bob@example.com", "")
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(fs.requests()); n != 8 {
		t.Errorf("%d requests, want 8", n)
	}
}
