package auth

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/msnbridge/msnbridge/msn/internal/transit"
)

// Service domains of the security tokens requested by SSO.Login.
const (
	// DomainMessengerClear is the NS login ticket; its token carries the BinarySecret for the
	// MBI blob.
	DomainMessengerClear = "messengerclear.live.com"
	// DomainContacts is the ABCH (address book / sharing) SOAP ticket.
	DomainContacts = "contacts.msn.com"
	// DomainMessengerSecure is the OIM sending ticket.
	DomainMessengerSecure = "messengersecure.live.com"
	// DomainStorage is the roaming profile / storage service ticket.
	DomainStorage = "storage.msn.com"
	// DomainMessengerWeb is the "web" ticket (OIM retrieval through RSI).
	DomainMessengerWeb = "messenger.msn.com"
	// domainPassportTB is the master token, always requested first.
	domainPassportTB = "http://Passport.NET/tb"
)

// defaultPolicy is the policy requested for messengerclear.live.com when Login gets none; it is
// what the server announces in "USR … SSO S MBI_KEY_OLD <nonce>".
const defaultPolicy = "MBI_KEY_OLD"

// maxSSORedirects bounds the psf:Redirect faults followed by one Login.
const maxSSORedirects = 3

// SSO is the RST.srf (WS-Trust, SOAP 1.1) login client for MSNP15–18 and for the RST-based
// TWN variant of MSNP13–14.
type SSO struct {
	// HTTP is the client to use; nil means a default client with a 30 s timeout.
	HTTP *http.Client
	// URL is the RST.srf endpoint, e.g. "https://login.live.com/RST.srf".
	URL string
	// AllowedHosts are the host names (besides URL's) a psf:Redirect may lead to; a redirect to
	// any other host is refused, as it would receive the password.
	AllowedHosts []string
}

// Token is the security token issued for one service domain.
type Token struct {
	// Domain is the service address the token applies to.
	Domain string
	// Ticket is the compact ticket ("t=…&p=…", XML-unescaped) to send as is.
	Ticket string
	// BinarySecret is the base64 proof key (only messengerclear.live.com gets one from the
	// revival server); decode it for MBIBlob.
	BinarySecret string
	// Expires is the token's expiry time; zero when the server gave none or an unparseable one.
	Expires time.Time
}

// SSOResult is the set of tokens of one successful SSO login.
type SSOResult struct {
	// Tokens maps the service domain to its token.
	Tokens map[string]Token
}

// Token returns the token for domain.
func (r *SSOResult) Token(domain string) (Token, bool) {
	if r == nil {
		return Token{}, false
	}
	t, ok := r.Tokens[domain]
	return t, ok
}

// ssoRequest is one RequestSecurityToken of the request: a service address and its policy.
type ssoRequest struct{ address, policy string }

// ssoRequests lists the tokens Login asks for, in order; "" as the messengerclear policy is
// replaced by the caller's policy.
var ssoRequests = []ssoRequest{
	{domainPassportTB, ""},
	{DomainMessengerClear, ""},
	{DomainMessengerWeb, "?id=507"},
	{DomainContacts, "MBI"},
	{DomainMessengerSecure, "MBI_SSL"},
	{DomainStorage, "MBI"},
	{"sup.live.com", "MBI"},
	{"spaces.live.com", "MBI"},
}

// Login posts a RequestMultipleSecurityTokens envelope for passport/password and returns the
// issued tokens. policy is the policy of "USR … SSO S <policy> <nonce>" ("MBI_KEY_OLD" when
// empty). A rejected password gives an error matching ErrBadCredentials. The result always
// holds a ticket for messengerclear.live.com.
func (s *SSO) Login(ctx context.Context, passport, password, policy string) (*SSOResult, error) {
	if policy == "" {
		policy = defaultPolicy
	}
	if s.URL == "" {
		return nil, &Error{Op: "sso login", Err: errors.New("no RST URL configured")}
	}
	client := noRedirectClient(s.HTTP)
	body := buildRSTRequest(passport, password, policy)
	target := s.URL
	for hop := 0; ; hop++ {
		res, redirect, err := s.post(ctx, client, target, body, password)
		if errors.Is(err, transit.ErrInTransit) && ctx.Err() == nil {
			// A token request changes nothing: one whose exchange broke (a keep-alive
			// connection closed under it, an answer cut off) is made once more.
			res, redirect, err = s.post(ctx, client, target, body, password)
		}
		if err != nil {
			return nil, err
		}
		if redirect == "" {
			return res, nil
		}
		if hop >= maxSSORedirects {
			return nil, &Error{Op: "sso login", URL: safeURL(target), Err: fmt.Errorf("more than %d psf:Redirect faults", maxSSORedirects)}
		}
		if strings.HasPrefix(target, "https:") && !strings.HasPrefix(redirect, "https:") {
			return nil, &Error{Op: "sso login", URL: safeURL(target), Err: errors.New("refusing a psf:Redirect from https to another scheme")}
		}
		if !hostAllowed(redirect, s.AllowedHosts, s.URL) {
			return nil, &Error{Op: "sso login", URL: safeURL(target), Err: fmt.Errorf("refusing a psf:Redirect to %s: not a configured host", safeURL(redirect))}
		}
		target = redirect
	}
}

// post performs one POST to target and returns either the tokens or a redirect URL.
func (s *SSO) post(ctx context.Context, client *http.Client, target string, body []byte, password string) (*SSOResult, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, "", &Error{Op: "sso login", URL: safeURL(target), Err: errors.New("invalid RST URL")}
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", &Error{Op: "sso login", URL: safeURL(target), Err: transit.Mark(stripURLError(err))}
	}
	defer drainAndClose(resp.Body)
	fail := func(err error) (*SSOResult, string, error) {
		return nil, "", &Error{Op: "sso login", URL: safeURL(target), Status: resp.StatusCode, Err: err}
	}
	// Faults come with 200 from the revival server and with 500 from the original service.
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusInternalServerError {
		return fail(statusError(resp))
	}
	data, err := readBounded(resp.Body, maxBodyBytes)
	if err != nil {
		if !errors.Is(err, errBodyTooLarge) {
			err = transit.Mark(err)
		}
		return fail(err)
	}
	res, err := parseRSTResponse(data)
	var redirect *redirectError
	switch {
	case errors.As(err, &redirect):
		return nil, redirect.url, nil
	case err != nil:
		return fail(scrub(err, password))
	case resp.StatusCode != http.StatusOK:
		return fail(errors.New("unexpected status"))
	}
	return res, "", nil
}

// scrub makes sure a server-supplied fault text echoing the password does not end up in an
// error string.
func scrub(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	if errors.Is(err, ErrBadCredentials) {
		return ErrBadCredentials
	}
	return errors.New("SOAP fault (details withheld: they repeat the password)")
}

// buildRSTRequest renders the RST.srf envelope (same shape as the official client's, see
// soap-samples/RST_srf.request.xml) with passport, password and policy XML-escaped.
func buildRSTRequest(passport, password, policy string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsse="http://schemas.xmlsoap.org/ws/2003/06/secext" xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" xmlns:wsp="http://schemas.xmlsoap.org/ws/2002/12/policy" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/03/addressing" xmlns:wssc="http://schemas.xmlsoap.org/ws/2004/04/sc" xmlns:wst="http://schemas.xmlsoap.org/ws/2004/04/trust">` + "\n" +
		`<Header>` + "\n" +
		`<ps:AuthInfo xmlns:ps="http://schemas.microsoft.com/Passport/SoapServices/PPCRL" Id="PPAuthInfo">` + "\n" +
		`<ps:HostingApp>{7108E71A-9926-4FCB-BCC9-9A9D3F32E423}</ps:HostingApp>` + "\n" +
		`<ps:BinaryVersion>4</ps:BinaryVersion><ps:UIVersion>1</ps:UIVersion><ps:Cookies/>` + "\n" +
		`<ps:RequestParams>AQAAAAIAAABsYwQAAAAxMDMz</ps:RequestParams>` + "\n" +
		`</ps:AuthInfo>` + "\n" +
		`<wsse:Security><wsse:UsernameToken Id="user">` + "\n" +
		`<wsse:Username>`)
	_ = xml.EscapeText(&b, []byte(passport))
	b.WriteString(`</wsse:Username><wsse:Password>`)
	_ = xml.EscapeText(&b, []byte(password))
	b.WriteString(`</wsse:Password>` + "\n" +
		`</wsse:UsernameToken></wsse:Security>` + "\n" +
		`</Header>` + "\n" +
		`<Body>` + "\n" +
		`<ps:RequestMultipleSecurityTokens xmlns:ps="http://schemas.microsoft.com/Passport/SoapServices/PPCRL" Id="RSTS">` + "\n")
	for i, r := range ssoRequests {
		pol := r.policy
		if r.address == DomainMessengerClear {
			pol = policy
		}
		b.WriteString(`<wst:RequestSecurityToken Id="RST` + strconv.Itoa(i) + `">` +
			`<wst:RequestType>http://schemas.xmlsoap.org/ws/2004/04/security/trust/Issue</wst:RequestType>` +
			`<wsp:AppliesTo><wsa:EndpointReference><wsa:Address>`)
		_ = xml.EscapeText(&b, []byte(r.address))
		b.WriteString(`</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>`)
		if pol != "" {
			b.WriteString(`<wsse:PolicyReference URI="`)
			_ = xml.EscapeText(&b, []byte(pol))
			b.WriteString(`"/>`)
		}
		b.WriteString(`</wst:RequestSecurityToken>`)
	}
	b.WriteString("\n" + `</ps:RequestMultipleSecurityTokens>` + "\n" + `</Body>` + "\n" + `</Envelope>` + "\n")
	return b.Bytes()
}

// XML shapes of the RST response. Element names match by local name, so both the SOAP 1.1
// (RST.srf) and SOAP 1.2 (RST2.srf) forms decode.
type rstEnvelope struct {
	XMLName xml.Name `xml:"Envelope"`
	Header  struct {
		PP struct {
			ReqStatus string `xml:"reqstatus"`
		} `xml:"pp"`
	} `xml:"Header"`
	Body struct {
		Fault      *soapFault `xml:"Fault"`
		Collection *struct {
			Responses []rstResponse `xml:"RequestSecurityTokenResponse"`
		} `xml:"RequestSecurityTokenResponseCollection"`
		Single *rstResponse `xml:"RequestSecurityTokenResponse"`
	} `xml:"Body"`
}

type soapFault struct {
	// SOAP 1.1
	FaultCode   string `xml:"faultcode"`
	FaultString string `xml:"faultstring"`
	// SOAP 1.2
	Code struct {
		Value   string `xml:"Value"`
		Subcode struct {
			Value string `xml:"Value"`
		} `xml:"Subcode"`
	} `xml:"Code"`
	Reason struct {
		Text string `xml:"Text"`
	} `xml:"Reason"`
	// psf:Redirect
	RedirectURL string `xml:"redirectUrl"`
	Detail      struct {
		RedirectURL string `xml:"redirectUrl"`
	} `xml:"detail"`
}

type rstLifetime struct {
	Created string `xml:"Created"`
	Expires string `xml:"Expires"`
}

type rstResponse struct {
	TokenType string `xml:"TokenType"`
	AppliesTo struct {
		Address string `xml:"EndpointReference>Address"`
	} `xml:"AppliesTo"`
	LifeTime  rstLifetime `xml:"LifeTime"`
	Lifetime  rstLifetime `xml:"Lifetime"`
	Requested struct {
		BinarySecurityToken string `xml:"BinarySecurityToken"`
		CipherValue         string `xml:"EncryptedData>CipherData>CipherValue"`
	} `xml:"RequestedSecurityToken"`
	Proof struct {
		BinarySecret string `xml:"BinarySecret"`
	} `xml:"RequestedProofToken"`
}

// redirectError is a psf:Redirect fault: repeat the request at url.
type redirectError struct{ url string }

func (e *redirectError) Error() string { return "psf:Redirect" }

// reqstatus values the login service uses for a wrong e-mail or password (seen from the
// revival server: 0x80048823 on RST.srf, 0x80048821 on RST2.srf).
var badCredentialStatus = map[string]bool{"0x80048821": true, "0x80048823": true}

// parseRSTResponse decodes an RST.srf / RST2.srf response body into tokens. Faults become
// errors: wrong credentials match ErrBadCredentials, psf:Redirect is a *redirectError.
func parseRSTResponse(data []byte) (*SSOResult, error) {
	var env rstEnvelope
	if err := xml.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("malformed RST response: %w", err)
	}
	reqStatus := strings.ToLower(strings.TrimSpace(env.Header.PP.ReqStatus))
	if f := env.Body.Fault; f != nil {
		return nil, faultError(f, reqStatus)
	}
	if badCredentialStatus[reqStatus] {
		return nil, fmt.Errorf("%w (reqstatus %s)", ErrBadCredentials, reqStatus)
	}
	var responses []rstResponse
	if env.Body.Collection != nil {
		responses = env.Body.Collection.Responses
	}
	if env.Body.Single != nil {
		responses = append(responses, *env.Body.Single)
	}
	res := &SSOResult{Tokens: make(map[string]Token, len(responses))}
	for _, r := range responses {
		addr := strings.TrimSpace(r.AppliesTo.Address)
		if addr == "" {
			continue
		}
		if _, dup := res.Tokens[addr]; dup {
			continue
		}
		tok := Token{
			Domain:       addr,
			Ticket:       strings.TrimSpace(r.Requested.BinarySecurityToken),
			BinarySecret: strings.TrimSpace(r.Proof.BinarySecret),
		}
		if tok.Ticket == "" {
			tok.Ticket = strings.TrimSpace(r.Requested.CipherValue)
		}
		expires := r.LifeTime.Expires
		if expires == "" {
			expires = r.Lifetime.Expires
		}
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(expires)); err == nil {
			tok.Expires = t
		}
		res.Tokens[addr] = tok
	}
	if t, ok := res.Tokens[DomainMessengerClear]; !ok || t.Ticket == "" {
		if len(res.Tokens) == 0 {
			return nil, errors.New("RST response carries no security tokens")
		}
		return nil, errors.New("RST response carries no messengerclear.live.com ticket")
	}
	return res, nil
}

// faultError classifies a SOAP fault.
func faultError(f *soapFault, reqStatus string) error {
	code := strings.TrimSpace(f.FaultCode)
	if code == "" {
		code = strings.TrimSpace(f.Code.Value)
	}
	sub := strings.TrimSpace(f.Code.Subcode.Value)
	local := func(s string) string {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			return s[i+1:]
		}
		return s
	}
	if local(code) == "Redirect" {
		u := strings.TrimSpace(f.RedirectURL)
		if u == "" {
			u = strings.TrimSpace(f.Detail.RedirectURL)
		}
		if u == "" || !(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) {
			return errors.New("psf:Redirect fault without a usable redirectUrl")
		}
		return &redirectError{url: u}
	}
	desc := code
	if sub != "" {
		desc += "/" + sub
	}
	if len(desc) > 200 {
		desc = desc[:200]
	}
	// Only an answer that names the credentials is a wrong password: a SOAP 1.2 Sender fault
	// alone also covers throttling and malformed requests, which must stay retriable.
	if local(code) == "FailedAuthentication" || local(sub) == "FailedAuthentication" || badCredentialStatus[reqStatus] {
		return fmt.Errorf("%w (SOAP fault %s)", ErrBadCredentials, desc)
	}
	text := strings.TrimSpace(f.FaultString)
	if text == "" {
		text = strings.TrimSpace(f.Reason.Text)
	}
	text = printable(text, 200)
	if reqStatus != "" {
		desc += ", reqstatus " + printable(reqStatus, 16)
	}
	err := fmt.Errorf("SOAP fault %s: %s", printable(desc, 240), text)
	if throttled(code, sub, text) {
		return fmt.Errorf("%w: %w", ErrThrottled, err)
	}
	return err
}
