package abch

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/msnbridge/msnbridge/msn/internal/transit"
)

// readOnlyMethods are the calls that change nothing on the server: trying one again cannot
// do anything twice.
var readOnlyMethods = map[string]bool{"FindMembership": true, "ABFindAll": true, "ABFindContactsPaged": true}

// call is callOnce, renewing the ticket and trying again once when the service refuses the
// ticket (Renew set). A read-only call whose HTTP exchange failed (a keep-alive connection the
// server or a proxy closed under it, a reset) is tried once more on a new attempt: at login it
// would otherwise fail the whole sign-in. Calls that change something are not repeated, as the
// server may have done the change before the connection failed.
func (c *Client) call(ctx context.Context, endpoint, method, scenario, body string) ([]byte, error) {
	data, err := c.callOnce(ctx, endpoint, method, scenario, body)
	if err != nil && readOnlyMethods[method] && errors.Is(err, transit.ErrInTransit) && ctx.Err() == nil {
		c.Logger.Debug().Err(err).Str("method", method).Msg("abch call failed in transit; trying once more")
		data, err = c.callOnce(ctx, endpoint, method, scenario, body)
	}
	if err == nil || c.Renew == nil || !IsAuthFault(err) {
		return data, err
	}
	c.Logger.Debug().Str("method", method).Msg("abch ticket refused; renewing")
	if rerr := c.Renew(ctx); rerr != nil {
		return nil, errors.Join(err, rerr)
	}
	return c.callOnce(ctx, endpoint, method, scenario, body)
}

// authFaultCodes are the detail error codes the services use for a ticket they do not accept.
var authFaultCodes = []string{"ticket", "authfail", "authenticationfail", "unauthorized", "notauthenticated"}

// IsAuthFault reports whether err means the service refused the ticket: HTTP 401 or 403, or a
// SOAP fault whose error code names the ticket or authentication.
func IsAuthFault(err error) bool {
	var se *StatusError
	if errors.As(err, &se) && (se.StatusCode == http.StatusUnauthorized || se.StatusCode == http.StatusForbidden) {
		return true
	}
	var f *Fault
	if !errors.As(err, &f) {
		return false
	}
	if f.HTTPStatus == http.StatusUnauthorized || f.HTTPStatus == http.StatusForbidden {
		return true
	}
	code := strings.ToLower(f.ErrorCode)
	for _, c := range authFaultCodes {
		if strings.Contains(code, c) {
			return true
		}
	}
	return false
}
