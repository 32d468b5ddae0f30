package bridge

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// Bounds of the bridge's HTTP client, shared by every HTTP service of every login (Passport,
// RST, address book, sharing, storage, RSI, OIM store).
const (
	httpTimeout         = 30 * time.Second
	httpDialTimeout     = 10 * time.Second
	httpTLSTimeout      = 10 * time.Second
	httpMaxHeaderBytes  = 64 << 10
	httpIdleConnTimeout = 90 * time.Second
	httpMaxIdlePerHost  = 16
)

// newHTTPClient builds the one HTTP client of the bridge: bounded in time and header size,
// pooling connections, and verifying TLS certificates unless the operator turned tls_verify off.
func newHTTPClient(tlsVerify bool) *http.Client {
	tr := &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{Timeout: httpDialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:    httpTLSTimeout,
		ResponseHeaderTimeout:  httpTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: httpMaxHeaderBytes,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    httpMaxIdlePerHost,
		IdleConnTimeout:        httpIdleConnTimeout,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if !tlsVerify {
		tr.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // the operator's choice (network.tls_verify)
		// Old revival servers may speak nothing newer.
		tr.TLSClientConfig.MinVersion = tls.VersionTLS10
	}
	return &http.Client{Transport: tr, Timeout: httpTimeout}
}

// HTTPClient returns the bridge's HTTP client, made once by Validate (a config that was never
// validated gets a fresh one per call).
func (c *Config) HTTPClient() *http.Client {
	if c.httpClient == nil {
		return newHTTPClient(c.TLSVerify)
	}
	return c.httpClient
}
