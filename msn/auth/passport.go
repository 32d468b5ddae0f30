package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// orgURL is the fixed OrgURL of the Messenger service, encoded the way the official client
// sends it.
const orgURL = "http%3A%2F%2Fmessenger%2Emsn%2Ecom"

// maxPassportParams bounds the number of key=value pairs read from one Passport header.
const maxPassportParams = 64

// Passport is the Passport 1.4 ("Tweener") login client for MSNP8–14.
//
// LoginURL, when set, is used directly and wins over the nexus: the revival server's nexus
// advertises an https DALogin URL it cannot serve, so a bridge talking to it configures the
// plain-http login URL. Otherwise NexusURL is asked for the DALogin URL first.
type Passport struct {
	// HTTP is the client to use; nil means a default client with a 30 s timeout. Its
	// redirect policy is replaced: TWN follows a bounded number of redirects itself.
	HTTP *http.Client
	// NexusURL is the nexus ("…/rdr/pprdr.asp") consulted when LoginURL is empty.
	NexusURL string
	// LoginURL is the Passport login URL ("…/login" or "…/login2.srf").
	LoginURL string
	// AllowedHosts are the host names (besides those of NexusURL and LoginURL) the password
	// may be sent to: a DALogin URL of the nexus on any other host is refused.
	AllowedHosts []string
}

// TWN performs the Passport 1.4 login for "USR … TWN S <challenge>" and returns the ticket to
// send as "USR … TWN S <ticket>". challenge is the server's TWN S string, passed through
// verbatim. A rejected password gives an error matching ErrBadCredentials.
func (p *Passport) TWN(ctx context.Context, passport, password, challenge string) (string, error) {
	if strings.ContainsAny(challenge, "\r\n\x00") {
		return "", &Error{Op: "passport login", Err: errors.New("challenge contains control characters")}
	}
	client := noRedirectClient(p.HTTP)
	loginURL := p.LoginURL
	if loginURL == "" {
		if p.NexusURL == "" {
			return "", &Error{Op: "passport login", Err: errors.New("neither a login URL nor a nexus URL is configured")}
		}
		var err error
		if loginURL, err = p.nexus(ctx, client); err != nil {
			return "", err
		}
		if !hostAllowed(loginURL, p.AllowedHosts, p.NexusURL) {
			return "", &Error{Op: "passport nexus", URL: safeURL(p.NexusURL), Err: fmt.Errorf("refusing DALogin %s: not a configured host", safeURL(loginURL))}
		}
	}

	authz := "Passport1.4 OrgVerb=GET,OrgURL=" + orgURL +
		",sign-in=" + percentEncode(passport) + ",pwd=" + percentEncode(password)
	if challenge != "" {
		authz += "," + challenge
	}
	header := http.Header{
		"Authorization": {authz},
		"User-Agent":    {"MSMSGS"},
		"Cache-Control": {"no-cache"},
	}
	resp, finalURL, err := getFollowing(ctx, client, "passport login", loginURL, header)
	if err != nil {
		return "", err
	}
	defer drainAndClose(resp.Body)
	fail := func(err error) error {
		return &Error{Op: "passport login", URL: safeURL(finalURL), Status: resp.StatusCode, Err: err}
	}

	switch resp.StatusCode {
	case http.StatusOK:
		info := resp.Header.Get("Authentication-Info")
		if info == "" {
			return "", fail(errors.New("no Authentication-Info header"))
		}
		ticket, status, err := parseAuthenticationInfo(info)
		if status == "failed" {
			return "", fail(ErrBadCredentials)
		}
		if err != nil {
			return "", fail(err)
		}
		return ticket, nil
	case http.StatusUnauthorized:
		for _, h := range []string{"WWW-Authenticate", "Authentication-Info"} {
			if v := resp.Header.Get(h); v != "" && daStatus(v) == "failed" {
				return "", fail(ErrBadCredentials)
			}
		}
		return "", fail(errors.New("unauthorized without da-status=failed"))
	default:
		return "", fail(statusError(resp))
	}
}

// nexus asks the nexus for the DALogin URL.
func (p *Passport) nexus(ctx context.Context, client *http.Client) (string, error) {
	resp, finalURL, err := getFollowing(ctx, client, "passport nexus", p.NexusURL, nil)
	if err != nil {
		return "", err
	}
	defer drainAndClose(resp.Body)
	fail := func(err error) error {
		return &Error{Op: "passport nexus", URL: safeURL(finalURL), Status: resp.StatusCode, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return "", fail(statusError(resp))
	}
	var urls string
	for k, v := range resp.Header {
		if strings.EqualFold(k, "PassportURLs") && len(v) > 0 {
			urls = v[0]
			break
		}
	}
	if urls == "" {
		return "", fail(errors.New("no PassportURLs header"))
	}
	login, err := parsePassportURLs(urls)
	if err != nil {
		return "", fail(err)
	}
	return login, nil
}

// getFollowing GETs rawURL with header, following at most maxRedirects redirects (refusing an
// https→http downgrade). The headers go along only while the redirects stay on the same scheme
// and host: the Authorization header carries the password, which must never reach a host the
// operator did not configure. It returns the final non-redirect response and its URL; the
// caller closes the body.
func getFollowing(ctx context.Context, client *http.Client, op, rawURL string, header http.Header) (*http.Response, string, error) {
	header = header.Clone()
	for hop := 0; ; hop++ {
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, rawURL, &Error{Op: op, URL: safeURL(rawURL), Err: errors.New("not an absolute http(s) URL")}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return nil, rawURL, &Error{Op: op, URL: safeURL(rawURL), Err: err}
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, rawURL, &Error{Op: op, URL: safeURL(rawURL), Err: stripURLError(err)}
		}
		if resp.StatusCode < 300 || resp.StatusCode > 399 || resp.StatusCode == http.StatusNotModified {
			return resp, rawURL, nil
		}
		drainAndClose(resp.Body)
		fail := func(err error) (*http.Response, string, error) {
			return nil, rawURL, &Error{Op: op, URL: safeURL(rawURL), Status: resp.StatusCode, Err: err}
		}
		if hop >= maxRedirects {
			return fail(fmt.Errorf("more than %d redirects", maxRedirects))
		}
		next, err := resp.Location()
		if err != nil {
			return fail(errors.New("redirect without a usable Location"))
		}
		if u.Scheme == "https" && next.Scheme == "http" {
			return fail(errors.New("refusing to follow a redirect from https to http"))
		}
		if !strings.EqualFold(next.Scheme, u.Scheme) || !strings.EqualFold(next.Host, u.Host) {
			header.Del("Authorization")
			header.Del("Cookie")
		}
		rawURL = next.String()
	}
}

// passportParam is one key=value pair of a Passport1.4 header.
type passportParam struct{ key, value string }

// parsePassportParams splits a Passport1.4 header value ("Passport1.4 k=v,k='v',…", the scheme
// word optional) into its pairs. Values quoted with single quotes may contain commas.
func parsePassportParams(s string) ([]passportParam, error) {
	s = strings.TrimSpace(s)
	if len(s) >= len("Passport1.4") && strings.EqualFold(s[:len("Passport1.4")], "Passport1.4") {
		s = s[len("Passport1.4"):]
	}
	var out []passportParam
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return out, nil
		}
		if len(out) >= maxPassportParams {
			return out, fmt.Errorf("more than %d parameters", maxPassportParams)
		}
		end := strings.IndexAny(s, "=,")
		if end < 0 || s[end] == ',' {
			// A bare word without a value.
			if end < 0 {
				end = len(s)
			}
			out = append(out, passportParam{key: strings.TrimSpace(s[:end])})
			s = s[end:]
			continue
		}
		key := strings.TrimSpace(s[:end])
		s = s[end+1:]
		var value string
		if strings.HasPrefix(s, "'") {
			closing := strings.IndexByte(s[1:], '\'')
			if closing < 0 {
				if len(key) > 32 {
					key = key[:32]
				}
				return out, fmt.Errorf("unterminated quoted value for %q", key)
			}
			value, s = s[1:1+closing], s[2+closing:]
		} else {
			comma := strings.IndexByte(s, ',')
			if comma < 0 {
				comma = len(s)
			}
			value, s = strings.TrimSpace(s[:comma]), s[comma:]
		}
		out = append(out, passportParam{key: key, value: value})
	}
}

// daStatus returns the lower-cased da-status of a Passport1.4 header value, "" if absent.
func daStatus(h string) string {
	params, _ := parsePassportParams(h)
	for _, p := range params {
		if strings.EqualFold(p.key, "da-status") {
			return strings.ToLower(p.value)
		}
	}
	return ""
}

// parseAuthenticationInfo extracts the ticket (from-PP) and the da-status from an
// Authentication-Info header of a Passport 1.4 login response, e.g.
// "Passport1.4 da-status=success,from-PP='t=…&p=…'".
func parseAuthenticationInfo(h string) (ticket, status string, err error) {
	params, perr := parsePassportParams(h)
	for _, p := range params {
		switch {
		case strings.EqualFold(p.key, "da-status") && status == "":
			status = strings.ToLower(p.value)
		case strings.EqualFold(p.key, "from-PP") && ticket == "":
			ticket = p.value
		}
	}
	if perr != nil {
		return "", status, fmt.Errorf("malformed Authentication-Info: %w", perr)
	}
	if status != "" && status != "success" {
		return "", status, fmt.Errorf("Authentication-Info da-status is %q", status)
	}
	if ticket == "" {
		return "", status, errors.New("no from-PP ticket in Authentication-Info")
	}
	if strings.ContainsAny(ticket, " \t\r\n\x00") {
		return "", status, errors.New("from-PP ticket contains whitespace or control characters")
	}
	return ticket, status, nil
}

// parsePassportURLs returns the absolute login URL from a nexus PassportURLs header
// ("DARealm=Passport.Net,DALogin=login.passport.com/login2.srf,…"). A DALogin without a scheme
// gets "https://".
func parsePassportURLs(h string) (string, error) {
	params, err := parsePassportParams(h)
	if err != nil {
		return "", fmt.Errorf("malformed PassportURLs: %w", err)
	}
	var login string
	for _, p := range params {
		if strings.EqualFold(p.key, "DALogin") {
			login = p.value
			break
		}
	}
	if login == "" {
		return "", errors.New("no DALogin in PassportURLs")
	}
	if !strings.Contains(login, "://") {
		login = "https://" + login
	}
	u, err := url.Parse(login)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", errors.New("DALogin is not a usable http(s) URL")
	}
	return u.String(), nil
}

// percentEncode escapes every byte outside the RFC 3986 unreserved set, so that "@", ",",
// "+", "=" and spaces in an e-mail address or password survive the Passport1.4 header.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) * 3)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
