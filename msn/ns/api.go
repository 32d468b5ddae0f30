package ns

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/msnbridge/msnbridge/msn/wire"
)

// Endpoints are the HTTP service URLs a session uses beside the NS connection.
// Every one may be plain http (revival servers, tests); https certificates are verified unless
// Config.InsecureSkipVerify is set.
type Endpoints struct {
	// Nexus is the Passport 1.4 nexus (pprdr.asp) that names the login URL (MSNP8–14); it is
	// not asked when Login is set.
	Nexus string
	// Login is the Passport 1.4 login URL (login.srf) used directly (MSNP8–14).
	Login string
	// RST is the SSO security token service, RST.srf (MSNP15–18).
	RST string
	// Sharing is the ABCH SharingService.asmx URL (FindMembership, AddMember, DeleteMember).
	Sharing string
	// AddressBook is the ABCH abservice.asmx URL (ABFindAll, ABFindContactsPaged, ABContactAdd…).
	AddressBook string
	// Storage is the storage service URL (profile / display picture), for callers that use it.
	Storage string
	// RSI is the offline-message retrieval service (rsi.asmx), for the oim package.
	RSI string
	// OIM is the offline-message sending service (oim.asmx), for the oim package.
	OIM string
}

// ClientInfo holds the CVR fields; zero fields take sane defaults for the negotiated version.
// Spaces are removed before sending.
type ClientInfo struct {
	// LCID is the locale id, default "0x0409".
	LCID string
	// OSType and OSVersion name the operating system, default "winnt" and "5.1" ("6.1" for
	// MSNP16+).
	OSType, OSVersion string
	// Arch is the CPU architecture, default "i386".
	Arch string
	// ClientName is the client's name, default "MSNMSGR".
	ClientName string
	// ClientVersion is the client's version, default a release of the negotiated version's era.
	ClientVersion string
	// Brand is the client's brand id, default "msmsgs".
	Brand string
}

// Config configures [Login].
type Config struct {
	// Server is the dispatch or NS address "host:port".
	Server string
	// Versions are the protocol versions offered, highest first; default 18, 17, …, 8.
	Versions []int
	// Endpoints are the HTTP services (Passport nexus/login, RST, ABCH, storage, RSI, OIM).
	Endpoints Endpoints
	// HTTPClient is used for every HTTP request; nil means a default with timeouts and verified TLS.
	HTTPClient *http.Client
	// InsecureSkipVerify disables TLS verification of the default HTTP client (tests only).
	InsecureSkipVerify bool
	// Client holds the CVR fields.
	Client ClientInfo
	// MachineGUID "{…}" is sent with USR SSO on MSNP16+; it should be stable per account.
	MachineGUID string
	// DialTimeout bounds each TCP connect (default 15 s).
	DialTimeout time.Duration
	// RequestTimeout bounds each request/reply exchange (default 30 s).
	RequestTimeout time.Duration
	// LoginTimeout bounds the whole login (default 90 s).
	LoginTimeout time.Duration
	// PingInterval is the keep-alive interval until the server names one with "QNG n"
	// (default 60 s). The session is considered dead when no QNG comes within twice the interval.
	PingInterval time.Duration
	// MinTicketRenewal is the least time between two scheduled renewals of the HTTP tickets
	// (each one logs in with the password again), whatever lifetime the server gives them or
	// however its clock differs from ours (default DefaultMinTicketRenewal).
	MinTicketRenewal time.Duration
	// Limits bounds the wire reader.
	Limits wire.Limits
	// MaxContacts bounds the contacts the session keeps, from every source (SYN/LST, the ABCH
	// address book and memberships, presence and ADL pushes) (default DefaultMaxContacts).
	MaxContacts int
	// MaxGroups bounds the contact groups the session keeps (default DefaultMaxGroups).
	MaxGroups int
	// InitialStatus is the status set at the end of login (default Online).
	InitialStatus Status
	// Logger receives structured logs; secrets never reach it.
	Logger zerolog.Logger
	// OnEvent is called from one goroutine in order; it must not block long.
	OnEvent func(Event)
}

// Status is an MSN presence status code.
type Status string

// Presence statuses.
const (
	Online      Status = "NLN"
	Busy        Status = "BSY"
	Idle        Status = "IDL"
	BeRightBack Status = "BRB"
	Away        Status = "AWY"
	OnThePhone  Status = "PHN"
	OutToLunch  Status = "LUN"
	Hidden      Status = "HDN"
	Offline     Status = "FLN"
)

// ListBits is a set of contact lists.
type ListBits uint8

// Contact lists.
const (
	FL ListBits = 1  // forward list: people I have added
	AL ListBits = 2  // allow list
	BL ListBits = 4  // block list
	RL ListBits = 8  // reverse list: people who have added me
	PL ListBits = 16 // pending list
)

// Contact is one entry of the contact list with its last known presence.
type Contact struct {
	Passport, FriendlyName, PersonalMessage, CurrentMedia, MSNObject, ContactID string
	Lists                                                                       ListBits
	Status                                                                      Status
	Caps                                                                        string
	Groups                                                                      []string
}

// Group is a contact group: a number (MSNP7–9) or a GUID (MSNP10+) and its name.
type Group struct{ ID, Name string }

// SwitchboardTicket is the answer to XFR SB: where to connect and with which cookie.
type SwitchboardTicket struct {
	Addr, Cookie string
}

// Event is something that happened on the session; see the concrete types.
type Event interface{ isEvent() }

// PresenceEvent reports a contact's (or, with Self, our own endpoint's) presence change.
// Initial is set for ILN lines, the burst that answers the first CHG (and an ADL) up to
// MSNP17; MSNP18 sends that burst as plain NLN, so there it arrives with Initial false.
type PresenceEvent struct {
	Contact       Contact
	Initial, Self bool
}

// ProfileEvent reports a friendly-name, personal-message or media change, or (MSNP13+ UBX) a
// change of the account's signed-in endpoints. With Self it is about our own account, e.g.
// from another of our endpoints (MSNP16+ MPOP).
type ProfileEvent struct {
	Passport, FriendlyName, PersonalMessage, CurrentMedia string
	Self                                                  bool
	// Endpoints are the endpoints the last UBX listed (MSNP16+; nil when it listed none).
	Endpoints []Endpoint
}

// Endpoint is one signed-in place of an account (MSNP16+ multiple points of presence), merged
// from a UBX's EndpointData and, for our own account, PrivateEndpointData.
type Endpoint struct {
	// ID is the endpoint's machine GUID "{…}" as sent (compare case-insensitively).
	ID string
	// Caps are the endpoint's capabilities "caps:capsex".
	Caps string
	// Name is the endpoint's name (EpName, own endpoints only), ClientType its client type and
	// State its status code.
	Name, ClientType, State string
	// Idle reports that the endpoint is idle.
	Idle bool
}

// ListChangeEvent reports a change of our own lists (confirmed add/remove, or server-side).
type ListChangeEvent struct {
	Passport       string
	Added, Removed ListBits
}

// AddedByEvent reports that someone added us to their contact list.
type AddedByEvent struct{ Passport, FriendlyName string }

// RemovedByEvent reports that someone removed us from their contact list.
type RemovedByEvent struct{ Passport string }

// SwitchboardInviteEvent reports an RNG: someone invites us to a switchboard session.
type SwitchboardInviteEvent struct {
	SessionID, Addr, Cookie, Inviter, InviterName string
}

// MailDataEvent carries a mail-data (OIM metadata) MSG payload; Initial for the login one.
type MailDataEvent struct {
	Payload []byte
	Initial bool
}

// OfflineMessageNotifyEvent carries an OIM notification MSG payload.
type OfflineMessageNotifyEvent struct{ Payload []byte }

// SystemMessageEvent reports a system message (e.g. maintenance: Type "1", Arg minutes).
type SystemMessageEvent struct{ Type, Arg string }

// DisconnectEvent is delivered once when the session ends; Err is the cause (nil after Close).
type DisconnectEvent struct{ Err error }

func (*PresenceEvent) isEvent()             {}
func (*ProfileEvent) isEvent()              {}
func (*ListChangeEvent) isEvent()           {}
func (*AddedByEvent) isEvent()              {}
func (*RemovedByEvent) isEvent()            {}
func (*SwitchboardInviteEvent) isEvent()    {}
func (*MailDataEvent) isEvent()             {}
func (*OfflineMessageNotifyEvent) isEvent() {}
func (*SystemMessageEvent) isEvent()        {}
func (*DisconnectEvent) isEvent()           {}

// Errors of the session.
var (
	// ErrSignedInElsewhere: the server logged us out because the account signed in elsewhere (OUT OTH).
	ErrSignedInElsewhere = errors.New("msn: signed in elsewhere")
	// ErrServerShutdown: the server is shutting down (OUT SSD).
	ErrServerShutdown = errors.New("msn: server shutting down")
	// ErrTimeout: a request or the login did not complete in time.
	ErrTimeout = errors.New("msn: request timed out")
	// ErrNotSupported: the operation does not exist in the negotiated protocol version.
	ErrNotSupported = errors.New("msn: not supported by this protocol version")
	// ErrNotAllowedWhileHidden: the server refuses a switchboard while we appear offline or
	// before the first status change (error 913); the *wire.ServerError is wrapped too.
	ErrNotAllowedWhileHidden = errors.New("msn: not allowed while appearing offline")
	// ErrClosed: the session is closed.
	ErrClosed = errors.New("msn: session closed")
)

// DisconnectError is a disconnect for another reason (other OUT reasons, UBN goawyplzthxbye,
// read errors, missed keep-alives).
type DisconnectError struct {
	// Reason says why the session ended, e.g. "connection lost" or "no QNG within 2m0s".
	Reason string
	// Err is the underlying cause (a read error, a *wire.ProtocolError), or nil.
	Err error
	// RetryAfter is how long the server asked us to stay away (OUT RCT <minutes>); zero when
	// it named no time.
	RetryAfter time.Duration
}

// Error gives the reason and the cause.
func (e *DisconnectError) Error() string {
	if e.Err != nil {
		return "msn: disconnected: " + e.Reason + ": " + e.Err.Error()
	}
	return "msn: disconnected: " + e.Reason
}

// Unwrap returns the underlying cause, if any.
func (e *DisconnectError) Unwrap() error { return e.Err }

// String renders the set as "FL|AL|RL" ("" for none).
func (b ListBits) String() string {
	var parts []string
	for _, bit := range []ListBits{FL, AL, BL, RL, PL} {
		if b&bit != 0 {
			parts = append(parts, listName(bit))
		}
	}
	return strings.Join(parts, "|")
}
