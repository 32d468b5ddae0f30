package abch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/internal/transit"
)

// DefaultApplicationID is the ABApplicationHeader ApplicationId sent when
// Client.ApplicationID is empty (Windows Live Messenger 2009).
const DefaultApplicationID = "AAD9B99B-58E6-4F23-B975-D9EC1F9EC24A"

// Limits applied to every response.
const (
	// MaxResponseBytes is the largest response body the client reads.
	MaxResponseBytes = 4 << 20
	// MaxEntries is the largest number of contacts, groups or members accepted in one
	// response.
	MaxEntries = 10000
	// DefaultTimeout is the timeout of the HTTP client used when Client.HTTP is nil.
	DefaultTimeout = 30 * time.Second
)

// PartnerScenario values for the ABApplicationHeader.
const (
	ScenarioInitial              = "Initial"              // login-time fetches
	ScenarioTimer                = "Timer"                // periodic refresh
	ScenarioContactSave          = "ContactSave"          // adding or deleting a contact
	ScenarioBlockUnblock         = "BlockUnblock"         // moving between Allow and Block
	ScenarioMessengerPendingList = "MessengerPendingList" // accepting or refusing a pending contact
)

// Role is a membership role of the Messenger service.
type Role string

// The membership roles (the MSNP≤12 lists AL, BL, RL and PL).
const (
	RoleAllow   Role = "Allow"
	RoleBlock   Role = "Block"
	RoleReverse Role = "Reverse"
	RolePending Role = "Pending"
)

func (r Role) valid() bool {
	switch r {
	case RoleAllow, RoleBlock, RoleReverse, RolePending:
		return true
	}
	return false
}

// Member is one member of a role. Passport is lower-cased; MembershipID is the server's id
// for this membership (used by DeleteMember when known).
type Member struct {
	Passport, DisplayName, MembershipID string
	Role                                Role
}

// Memberships holds the members of each role of the Messenger service.
type Memberships struct{ Members map[Role][]Member }

// Contact is one address book entry. ID is the contact guid, Passport is lower-cased, Type is
// the contactType (Regular, Live, LivePending, …), NickName the AB.NickName annotation and
// GroupIDs the guids of the groups the contact is in.
type Contact struct {
	ID, Passport, DisplayName, NickName, Type string
	IsMessengerUser                           bool
	GroupIDs                                  []string
}

// Group is an address book group.
type Group struct{ ID, Name string }

// AddressBook is the result of FindAll or FindContactsPaged. Me is the account's own entry
// (contactType Me), which is not repeated in Contacts.
type AddressBook struct {
	Contacts []Contact
	Groups   []Group
	Me       *Contact
}

// Client calls the address book and sharing services. Set the exported fields before the
// first call and do not change them afterwards; a Client is safe for concurrent use.
type Client struct {
	// HTTP is the client used for requests; nil means a client with DefaultTimeout.
	HTTP *http.Client
	// SharingURL is the SharingService.asmx URL, AddressBookURL the abservice.asmx URL.
	SharingURL, AddressBookURL string
	// Ticket returns the current TicketToken, "t=…&p=…" (TWN era: "t=<ticket>").
	Ticket func() string
	// Renew, when set, fetches a fresh ticket; a call refused for its ticket (HTTP 401/403
	// or an authentication fault) renews once and is retried with the new ticket.
	Renew func(ctx context.Context) error
	// ApplicationID is the ABApplicationHeader ApplicationId; empty means
	// DefaultApplicationID.
	ApplicationID string
	// Logger receives debug lines about calls; it never sees the ticket.
	Logger zerolog.Logger
	// MembershipIDsOnDemand, when set, makes FindMembership keep no MembershipIds (for a
	// long-lived client holding many contacts, they are memory kept for rare changes): a
	// DeleteMember then looks up the one id it needs with a FindMembership call of its own.
	MembershipIDsOnDemand bool

	mu       sync.Mutex
	cacheKey string
	// memberIDs remembers MembershipIds from the last FindMembership, per role and
	// lower-cased passport.
	memberIDs map[Role]map[string]string
}

var defaultHTTPClient = &http.Client{Timeout: DefaultTimeout}

// CacheKey returns the last CacheKey the server sent ("" before the first answer).
func (c *Client) CacheKey() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cacheKey
}

func (c *Client) setCacheKey(k string) {
	if k == "" {
		return
	}
	c.mu.Lock()
	c.cacheKey = k
	c.mu.Unlock()
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTPClient
}

func (c *Client) appID() string {
	if c.ApplicationID != "" {
		return c.ApplicationID
	}
	return DefaultApplicationID
}

const soapActionPrefix = "http://www.msn.com/webservices/AddressBook/"

// callOnce POSTs one SOAP request and returns the response body of a successful (HTTP 200,
// fault-free) answer. Faults and error statuses become errors.
func (c *Client) callOnce(ctx context.Context, endpoint, method, scenario, body string) ([]byte, error) {
	if endpoint == "" {
		return nil, fmt.Errorf("abch: %s: endpoint URL not configured", method)
	}
	if c.Ticket == nil {
		return nil, fmt.Errorf("abch: %s: no Ticket function configured", method)
	}
	ticket := c.Ticket()
	if ticket == "" {
		return nil, fmt.Errorf("abch: %s: empty ticket", method)
	}
	env := buildEnvelope(c.appID(), scenario, c.CacheKey(), ticket, body)
	if _, ok := ctx.Deadline(); !ok {
		// A caller-supplied HTTP client may have no timeout; never wait forever.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(env))
	if err != nil {
		return nil, fmt.Errorf("abch: %s: build request: %w", method, err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"`+soapActionPrefix+method+`"`)

	start := time.Now()
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("abch: %s: %w", method, transit.Mark(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("abch: %s: read response: %w", method, transit.Mark(err))
	}
	if len(data) > MaxResponseBytes {
		return nil, fmt.Errorf("abch: %s: %w (more than %d bytes)", method, ErrResponseTooLarge, MaxResponseBytes)
	}
	c.Logger.Debug().Str("method", method).Str("scenario", scenario).Int("status", resp.StatusCode).
		Int("bytes", len(data)).Dur("took", time.Since(start)).Msg("abch call")

	if fault, hdr, ferr := parseFaultHeader(data); ferr == nil {
		c.setCacheKey(hdr.CacheKey)
		if fault != nil {
			fault.HTTPStatus = resp.StatusCode
			return nil, fmt.Errorf("abch: %s: %w", method, fault)
		}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Method: method, StatusCode: resp.StatusCode}
	}
	return data, nil
}

// FindMembership fetches the Allow, Block, Reverse and Pending members of the Messenger
// service (SharingService FindMembership, scenario Initial).
func (c *Client) FindMembership(ctx context.Context) (*Memberships, error) {
	data, err := c.call(ctx, c.SharingURL, "FindMembership", ScenarioInitial, findMembershipBody())
	if err != nil {
		return nil, err
	}
	m, err := parseFindMembership(data)
	if err != nil {
		return nil, fmt.Errorf("abch: FindMembership: %w", err)
	}
	if c.MembershipIDsOnDemand {
		return m, nil
	}
	ids := make(map[Role]map[string]string, len(m.Members))
	for role, list := range m.Members {
		for _, mem := range list {
			if mem.MembershipID == "" {
				continue
			}
			if ids[role] == nil {
				ids[role] = make(map[string]string)
			}
			ids[role][mem.Passport] = mem.MembershipID
		}
	}
	c.mu.Lock()
	c.memberIDs = ids
	c.mu.Unlock()
	return m, nil
}

// FindAll fetches the whole address book with ABFindAll (the MSNP13–15 form, scenario
// Initial).
func (c *Client) FindAll(ctx context.Context) (*AddressBook, error) {
	data, err := c.call(ctx, c.AddressBookURL, "ABFindAll", ScenarioInitial, findAllBody())
	if err != nil {
		return nil, err
	}
	ab, err := parseAddressBook(data, "ABFindAllResponse")
	if err != nil {
		return nil, fmt.Errorf("abch: ABFindAll: %w", err)
	}
	return ab, nil
}

// FindContactsPaged fetches the whole address book with ABFindContactsPaged (the MSNP16+
// form: abView MessengerClient8, extendedContent "AB AllGroups CircleResult").
func (c *Client) FindContactsPaged(ctx context.Context) (*AddressBook, error) {
	data, err := c.call(ctx, c.AddressBookURL, "ABFindContactsPaged", ScenarioInitial, findContactsPagedBody())
	if err != nil {
		return nil, err
	}
	ab, err := parseAddressBook(data, "ABFindContactsPagedResponse")
	if err != nil {
		return nil, fmt.Errorf("abch: ABFindContactsPaged: %w", err)
	}
	return ab, nil
}

// AddContact adds passport to the address book as a LivePending messenger contact
// (ABContactAdd, scenario ContactSave) and returns the new contact guid.
func (c *Client) AddContact(ctx context.Context, passport string) (contactID string, err error) {
	passport, err = checkPassport(passport)
	if err != nil {
		return "", fmt.Errorf("abch: ABContactAdd: %w", err)
	}
	data, err := c.call(ctx, c.AddressBookURL, "ABContactAdd", ScenarioContactSave, contactAddBody(passport))
	if err != nil {
		return "", err
	}
	id, err := parseContactAdd(data)
	if err != nil {
		return "", fmt.Errorf("abch: ABContactAdd: %w", err)
	}
	return id, nil
}

// DeleteContact removes the contact with the given guid from the address book
// (ABContactDelete, scenario ContactSave).
func (c *Client) DeleteContact(ctx context.Context, contactID string) error {
	if err := checkField("contact id", contactID); err != nil {
		return fmt.Errorf("abch: ABContactDelete: %w", err)
	}
	data, err := c.call(ctx, c.AddressBookURL, "ABContactDelete", ScenarioContactSave, contactDeleteBody(contactID))
	if err != nil {
		return err
	}
	if err := expectResponse(data, "ABContactDeleteResponse"); err != nil {
		return fmt.Errorf("abch: ABContactDelete: %w", err)
	}
	return nil
}

// AddMember adds passport to role of the Messenger service (SharingService AddMember).
// scenario is the PartnerScenario; empty means BlockUnblock for Allow and Block and
// MessengerPendingList for Reverse and Pending.
func (c *Client) AddMember(ctx context.Context, role Role, passport, scenario string) error {
	passport, err := checkMember(role, passport)
	if err != nil {
		return fmt.Errorf("abch: AddMember: %w", err)
	}
	data, err := c.call(ctx, c.SharingURL, "AddMember", defaultScenario(role, scenario), addMemberBody(role, passport))
	if err != nil {
		return err
	}
	if err := expectResponse(data, "AddMemberResponse"); err != nil {
		return fmt.Errorf("abch: AddMember: %w", err)
	}
	return nil
}

// DeleteMember removes passport from role of the Messenger service (SharingService
// DeleteMember). The member is named by the MembershipId seen in the last FindMembership
// when there is one, and always by PassportName. scenario works as in AddMember.
func (c *Client) DeleteMember(ctx context.Context, role Role, passport, scenario string) error {
	passport, err := checkMember(role, passport)
	if err != nil {
		return fmt.Errorf("abch: DeleteMember: %w", err)
	}
	var membershipID string
	if c.MembershipIDsOnDemand {
		if membershipID, err = c.lookupMembershipID(ctx, role, passport); err != nil {
			return fmt.Errorf("abch: DeleteMember: looking up the membership: %w", err)
		}
	} else {
		c.mu.Lock()
		membershipID = c.memberIDs[role][passport]
		c.mu.Unlock()
	}
	data, err := c.call(ctx, c.SharingURL, "DeleteMember", defaultScenario(role, scenario),
		deleteMemberBody(role, passport, membershipID))
	if err != nil {
		return err
	}
	if err := expectResponse(data, "DeleteMemberResponse"); err != nil {
		return fmt.Errorf("abch: DeleteMember: %w", err)
	}
	c.mu.Lock()
	delete(c.memberIDs[role], passport)
	c.mu.Unlock()
	return nil
}

// lookupMembershipID fetches the memberships and returns the MembershipId of passport in role
// ("" when it is not a member or has no id).
func (c *Client) lookupMembershipID(ctx context.Context, role Role, passport string) (string, error) {
	m, err := c.FindMembership(ctx)
	if err != nil {
		return "", err
	}
	for _, mem := range m.Members[role] {
		if mem.Passport == passport {
			return mem.MembershipID, nil
		}
	}
	return "", nil
}

func defaultScenario(role Role, scenario string) string {
	if scenario != "" {
		return scenario
	}
	if role == RoleAllow || role == RoleBlock {
		return ScenarioBlockUnblock
	}
	return ScenarioMessengerPendingList
}

// maxFieldLen bounds passports and ids the caller passes in.
const maxFieldLen = 256

func checkField(what, s string) error {
	if s == "" {
		return fmt.Errorf("empty %s", what)
	}
	if len(s) > maxFieldLen {
		return fmt.Errorf("%s longer than %d bytes", what, maxFieldLen)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return fmt.Errorf("%s contains an invalid character", what)
		}
	}
	return nil
}

func checkPassport(p string) (string, error) {
	p = strings.ToLower(strings.TrimSpace(p))
	if err := checkField("passport", p); err != nil {
		return "", err
	}
	if !strings.Contains(p, "@") {
		return "", errors.New("passport without @")
	}
	return p, nil
}

func checkMember(role Role, passport string) (string, error) {
	if !role.valid() {
		return "", fmt.Errorf("unknown role %q", role)
	}
	return checkPassport(passport)
}

// isBlank reports whether data has nothing but whitespace.
func isBlank(data []byte) bool { return len(bytes.TrimSpace(data)) == 0 }
