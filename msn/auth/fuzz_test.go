package auth

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func FuzzParseRSTResponse(f *testing.F) {
	f.Add([]byte(`<S:Envelope xmlns:S="x"><S:Body><S:Fault><faultcode>psf:Redirect</faultcode><psf:redirectUrl xmlns:psf="y">https://msnia.login.live.com/pp550/RST.srf</psf:redirectUrl></S:Fault></S:Body></S:Envelope>`))
	f.Add([]byte(`<Envelope><Body><RequestSecurityTokenResponse><AppliesTo><EndpointReference><Address>messengerclear.live.com</Address></EndpointReference></AppliesTo><RequestedSecurityToken><BinarySecurityToken>t=a&amp;p=b</BinarySecurityToken></RequestedSecurityToken></RequestSecurityTokenResponse></Body></Envelope>`))
	f.Add([]byte(`<S:Envelope`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := parseRSTResponse(data)
		var redirect *redirectError
		switch {
		case errors.As(err, &redirect):
			if !strings.HasPrefix(redirect.url, "http://") && !strings.HasPrefix(redirect.url, "https://") {
				t.Fatalf("redirect to %q", redirect.url)
			}
		case err != nil:
			if res != nil {
				t.Fatal("result and error")
			}
		default:
			tok, ok := res.Token(DomainMessengerClear)
			if !ok || tok.Ticket == "" {
				t.Fatalf("success without a messengerclear ticket: %+v", res)
			}
			for d, tok := range res.Tokens {
				if d == "" || tok.Domain != d {
					t.Fatalf("token keyed %q has domain %q", d, tok.Domain)
				}
			}
		}
	})
}

func FuzzParseAuthenticationInfo(f *testing.F) {
	f.Add("Passport1.4 da-status=success,from-PP='7f6afeda7855cf10f1a5'")
	f.Add("Passport1.4 da-status=success,tname=MSPAuth,tname=MSPProf,tname=MSPSec,from-PP='t=53*1hAu8ADuD3TE&p=5eKBBC!yBH6ex',ru=http://messenger.msn.com")
	f.Add("Passport1.4 da-status=failed")
	f.Add("Passport1.4 da-status=redir")
	f.Add("from-PP='")
	f.Fuzz(func(t *testing.T, h string) {
		ticket, status, err := parseAuthenticationInfo(h)
		if err != nil {
			if ticket != "" {
				t.Fatal("ticket with an error")
			}
			return
		}
		if ticket == "" || strings.ContainsAny(ticket, " \t\r\n\x00") {
			t.Fatalf("bad ticket %q", ticket)
		}
		if status != "" && status != "success" {
			t.Fatalf("success with da-status %q", status)
		}
		if !strings.Contains(h, ticket) {
			t.Fatalf("ticket %q is not part of the header", ticket)
		}
	})
}

func FuzzParsePassportURLs(f *testing.F) {
	f.Add("DARealm=Passport.Net,DALogin=login.passport.com/login2.srf,ConfigVersion=15")
	f.Add("DALogin=https://127.0.0.1:8081/login")
	f.Add("DALogin='http://x/,y'")
	f.Fuzz(func(t *testing.T, h string) {
		login, err := parsePassportURLs(h)
		if err != nil {
			return
		}
		u, perr := url.Parse(login)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			t.Fatalf("accepted unusable URL %q from %q", login, h)
		}
	})
}
