package auth

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Bounds on what the login clients read from a server.
const (
	// maxBodyBytes bounds an RST.srf response body.
	maxBodyBytes = 1 << 20
	// maxDrainBytes bounds how much of an ignored body is read to reuse the connection.
	maxDrainBytes = 64 << 10
	// maxHeaderBytes bounds the response headers of the default client.
	maxHeaderBytes = 64 << 10
	// maxRedirects bounds the redirects followed by one login.
	maxRedirects = 5
	// defaultTimeout is the overall timeout of the default client.
	defaultTimeout = 30 * time.Second
)

// fallbackTimeout bounds each request of a caller-supplied client that has no Timeout, so that
// a login never waits forever even with a context without deadline (a variable for tests).
var fallbackTimeout = defaultTimeout

// defaultHTTPClient is used when the caller leaves HTTP nil.
var defaultHTTPClient = &http.Client{
	Timeout: defaultTimeout,
	Transport: &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  defaultTimeout,
		MaxResponseHeaderBytes: maxHeaderBytes,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	},
}

// noRedirectClient returns a copy of c (or of the default client) that hands redirects back to
// the caller, so that the login clients follow them themselves: a bounded number of times and
// keeping the Authorization header, which net/http drops on a cross-host redirect. A copy of a
// client without Timeout gets fallbackTimeout.
func noRedirectClient(c *http.Client) *http.Client {
	if c == nil {
		c = defaultHTTPClient
	}
	cp := *c
	if cp.Timeout <= 0 {
		cp.Timeout = fallbackTimeout
	}
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// errBodyTooLarge is readBounded's error for a body over its limit.
var errBodyTooLarge = errors.New("response body exceeds the limit")

// readBounded reads at most limit bytes of r and fails if there is more.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w of %d bytes", errBodyTooLarge, limit)
	}
	return b, nil
}

// drainAndClose discards a bounded part of an ignored body and closes it.
func drainAndClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxDrainBytes))
	_ = body.Close()
}
