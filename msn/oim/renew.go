package oim

import (
	"context"
	"errors"
	"net/http"
)

// IsAuthFault reports whether err means the service refused the ticket (AuthenticationFailed
// without a lock-key challenge, or HTTP 401/403): a renewed ticket may succeed.
func IsAuthFault(err error) bool {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status == http.StatusUnauthorized || he.Status == http.StatusForbidden
	}
	var f *Fault
	return errors.As(err, &f) && errors.Is(err, ErrAuthFailed) && f.LockKeyChallenge == ""
}

// withRenew runs call, which builds its request with the current ticket; when the service
// refuses the ticket and renew is set, it renews once and runs call again.
func withRenew(ctx context.Context, renew func(context.Context) error, call func() (*envelope, error)) (*envelope, error) {
	env, err := call()
	if err == nil || renew == nil || !IsAuthFault(err) {
		return env, err
	}
	if rerr := renew(ctx); rerr != nil {
		return nil, errors.Join(err, rerr)
	}
	return call()
}
