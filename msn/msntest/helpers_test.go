package msntest

import (
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/msnbridge/msnbridge/msn/wire"
)

const ioTimeout = 5 * time.Second

func newServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// aliceBob creates the two transcript accounts, each on the other's FL and AL.
func aliceBob(t *testing.T, s *Server) {
	t.Helper()
	must(t, s.AddAccount("bob@example.com", "bobpass1", ""))
	must(t, s.AddAccount("alice@example.com", "alicepass1", ""))
	must(t, s.AddContact("bob@example.com", "alice@example.com", FL|AL))
	must(t, s.AddContact("alice@example.com", "bob@example.com", FL|AL))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// client is a raw MSNP client used to drive the server with literal wire commands.
type client struct {
	t      *testing.T
	name   string
	conn   net.Conn
	r      *wire.Reader
	ticket string // login ticket (TWN token or SSO ticket), for SOAP calls
}

func dial(t *testing.T, name, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, name: name, conn: c, r: wire.NewReader(c, wire.FromServer, wire.Limits{})}
}

// send writes one command line (CRLF added).
func (c *client) send(line string) {
	c.t.Helper()
	c.raw(line + "\r\n")
}

// sendPayload writes "head <len>\r\n<payload>".
func (c *client) sendPayload(head, payload string) {
	c.t.Helper()
	c.raw(fmt.Sprintf("%s %d\r\n%s", head, len(payload), payload))
}

func (c *client) raw(s string) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("%s: write: %v", c.name, err)
	}
}

// read reads the next command within the timeout.
func (c *client) read() *wire.Command {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	cmd, err := c.r.ReadCommand()
	if err != nil {
		c.t.Fatalf("%s: read: %v", c.name, err)
	}
	return cmd
}

// lineOf renders a command's line as it was on the wire (payload length included).
func lineOf(cmd *wire.Command) string {
	b := cmd.Encode()
	s := string(b)
	if i := strings.Index(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// expect reads one command and compares its line with want, where "*" matches one field and
// a field "*rest" matches the remaining fields. It returns the command.
func (c *client) expect(want string) *wire.Command {
	c.t.Helper()
	cmd := c.read()
	got := lineOf(cmd)
	if !matchLine(want, got) {
		c.t.Fatalf("%s: got %q, want %q", c.name, got, want)
	}
	return cmd
}

func matchLine(want, got string) bool {
	wf, gf := strings.Split(want, " "), strings.Split(got, " ")
	for i, w := range wf {
		if w == "*rest" {
			return true
		}
		if i >= len(gf) {
			return false
		}
		if w != "*" && w != gf[i] {
			return false
		}
	}
	return len(wf) == len(gf)
}

// expectSilence asserts nothing arrives within d (used only where the real server sends no
// reply; the deadline is the observation window, not a sleep before an event).
func (c *client) expectSilence(d time.Duration) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	cmd, err := c.r.ReadCommand()
	if err == nil {
		c.t.Fatalf("%s: expected no reply, got %q", c.name, lineOf(cmd))
	}
	var ne net.Error
	if !(asNetErr(err, &ne) && ne.Timeout()) {
		c.t.Fatalf("%s: expected a timeout, got %v", c.name, err)
	}
	c.r = wire.NewReader(c.conn, wire.FromServer, wire.Limits{})
}

func asNetErr(err error, ne *net.Error) bool {
	for err != nil {
		if e, ok := err.(net.Error); ok {
			*ne = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// expectClosed asserts the server closes the connection.
func (c *client) expectClosed() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	for {
		cmd, err := c.r.ReadCommand()
		if err != nil {
			var ne net.Error
			if asNetErr(err, &ne) && ne.Timeout() {
				c.t.Fatalf("%s: connection not closed", c.name)
			}
			return
		}
		c.t.Fatalf("%s: expected close, got %q", c.name, lineOf(cmd))
	}
}

var fromPP = regexp.MustCompile(`from-PP='([^']+)'`)

// twnLogin fetches a /login token.
func twnLogin(t *testing.T, s *Server, email, pw string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", s.HTTPURL()+"/login", nil)
	req.Header.Set("Authorization", "Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,sign-in="+strings.ReplaceAll(email, "@", "%40")+",pwd="+pw+","+twnChallenge)
	resp, err := (&http.Client{Timeout: ioTimeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	m := fromPP.FindStringSubmatch(resp.Header.Get("Authentication-Info"))
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("/login: %d %q", resp.StatusCode, resp.Header.Get("Authentication-Info"))
	}
	return m[1]
}

const rstRequest = `<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsse="http://schemas.xmlsoap.org/ws/2003/06/secext" xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" xmlns:wsp="http://schemas.xmlsoap.org/ws/2002/12/policy" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/03/addressing" xmlns:wssc="http://schemas.xmlsoap.org/ws/2004/04/sc" xmlns:wst="http://schemas.xmlsoap.org/ws/2004/04/trust">
<Header><wsse:Security><wsse:UsernameToken Id="user"><wsse:Username>%s</wsse:Username><wsse:Password>%s</wsse:Password></wsse:UsernameToken></wsse:Security></Header>
<Body><ps:RequestMultipleSecurityTokens xmlns:ps="http://schemas.microsoft.com/Passport/SoapServices/PPCRL" Id="RSTS">
<wst:RequestSecurityToken Id="RST0"><wst:RequestType>http://schemas.xmlsoap.org/ws/2004/04/security/trust/Issue</wst:RequestType><wsp:AppliesTo><wsa:EndpointReference><wsa:Address>http://Passport.NET/tb</wsa:Address></wsa:EndpointReference></wsp:AppliesTo></wst:RequestSecurityToken>
<wst:RequestSecurityToken Id="RST1"><wst:RequestType>http://schemas.xmlsoap.org/ws/2004/04/security/trust/Issue</wst:RequestType><wsp:AppliesTo><wsa:EndpointReference><wsa:Address>messengerclear.live.com</wsa:Address></wsa:EndpointReference></wsp:AppliesTo><wsse:PolicyReference URI="MBI_KEY_OLD"></wsse:PolicyReference></wst:RequestSecurityToken>
<wst:RequestSecurityToken Id="RST2"><wst:RequestType>http://schemas.xmlsoap.org/ws/2004/04/security/trust/Issue</wst:RequestType><wsp:AppliesTo><wsa:EndpointReference><wsa:Address>contacts.msn.com</wsa:Address></wsa:EndpointReference></wsp:AppliesTo><wsse:PolicyReference URI="MBI"></wsse:PolicyReference></wst:RequestSecurityToken>
</ps:RequestMultipleSecurityTokens></Body></Envelope>`

// ssoLogin posts RST.srf and returns the messengerclear ticket and its BinarySecret.
func ssoLogin(t *testing.T, s *Server, email, pw string) (ticket, secret string, body string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: ioTimeout}).Post(s.HTTPURL()+"/RST.srf", "text/xml; charset=utf-8", strings.NewReader(fmt.Sprintf(rstRequest, email, pw)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body = string(b)
	doc, err := parseXML(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range doc.findAll("RequestSecurityTokenResponse") {
		if r.str("Address") == "messengerclear.live.com" {
			return strings.ReplaceAll(r.str("BinarySecurityToken"), "&amp;", "&"), r.str("BinarySecret"), body
		}
	}
	return "", "", body
}

func mbiFor(t *testing.T, secret, nonce string) string {
	t.Helper()
	iv := make([]byte, 8)
	_, _ = rand.Read(iv)
	blob, err := makeMBI(secret, nonce, iv)
	if err != nil {
		t.Fatal(err)
	}
	return blob
}

// login runs the full login of one version over raw wire and returns the NS client, after
// the profile MSG (and the self UBX on MSNP16+). guid is used on MSNP16+.
func login(t *testing.T, s *Server, ver int, email, pw, guid string) *client {
	t.Helper()
	c := dial(t, email, s.NSAddr())
	c.send(fmt.Sprintf("VER 1 MSNP%d CVR0", ver))
	c.expect(fmt.Sprintf("VER 1 MSNP%d", ver))
	c.send("CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 7.5.0324 msmsgs " + email)
	c.expect("CVR 2 7.5.0324 7.5.0324 7.5.0324 https://escargot.log1p.xyz https://escargot.log1p.xyz")
	switch {
	case ver <= 7:
		c.send("USR 3 MD5 I " + email)
		salt := c.expect("USR 3 MD5 S *").Args[2]
		c.send("USR 4 MD5 S " + md5Hex(salt+pw))
	case ver <= 14:
		c.send("USR 3 TWN I " + email)
		if ver >= 13 {
			c.expect("GCF 0 *")
		}
		c.expect("USR 3 TWN S " + twnChallenge)
		c.ticket = "t=" + twnLogin(t, s, email, pw)
		c.send("USR 4 TWN S " + c.ticket[2:])
	default:
		c.send("USR 3 SSO I " + email)
		c.expect("GCF 0 *")
		nonce := c.expect("USR 3 SSO S MBI_KEY_OLD *").Args[3]
		ticket, secret, _ := ssoLogin(t, s, email, pw)
		c.ticket = ticket
		line := "USR 4 SSO S " + ticket + " " + mbiFor(t, secret, nonce)
		if ver >= 16 {
			line += " " + guid
		}
		c.send(line)
	}
	c.expect("USR 4 OK *rest")
	if ver >= 11 {
		c.expect("SBS 0 null")
	}
	c.expect("MSG Hotmail Hotmail *")
	if ver >= 16 {
		if ver >= 18 {
			c.expect("UBX 1:" + email + " 0")
		} else {
			c.expect("UBX " + email + " 1 0")
		}
	}
	return c
}
