package oim

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// DefaultTimeout is the timeout of the HTTP client used when none is given.
const DefaultTimeout = 30 * time.Second

var defaultHTTP = &http.Client{Timeout: DefaultTimeout}

// Fault errors, matched by errors.Is on a *Fault.
var (
	// ErrAuthFailed: AuthenticationFailed / BadContextToken without a lock-key challenge — the
	// ticket must be refreshed.
	ErrAuthFailed = errors.New("oim: authentication failed")
	// ErrRecipientUnavailable: SystemUnavailable — the recipient blocked you or does not exist.
	ErrRecipientUnavailable = errors.New("oim: recipient unavailable")
	// ErrThrottled: SenderThrottleLimitExceeded.
	ErrThrottled = errors.New("oim: sender throttled")
	// ErrInvalidContent: InvalidContent.
	ErrInvalidContent = errors.New("oim: invalid content")
)

// Fault is a SOAP fault returned by the RSI or OIM service.
type Fault struct {
	Code             string // faultcode without its namespace prefix, e.g. "AuthenticationFailed"
	String           string // faultstring
	LockKeyChallenge string // detail/LockKeyChallenge (Store2)
	TweenerChallenge string // detail/TweenerChallenge: the ticket expired
	HTTPStatus       int
}

// Error describes the fault.
func (f *Fault) Error() string {
	return fmt.Sprintf("oim: SOAP fault %s (HTTP %d): %s", f.Code, f.HTTPStatus, truncate(f.String, 200))
}

// Unwrap maps the fault code to ErrAuthFailed, ErrRecipientUnavailable, ErrThrottled or
// ErrInvalidContent.
func (f *Fault) Unwrap() error {
	switch f.Code {
	case "AuthenticationFailed", "BadContextToken":
		return ErrAuthFailed
	case "SystemUnavailable":
		return ErrRecipientUnavailable
	case "SenderThrottleLimitExceeded":
		return ErrThrottled
	case "InvalidContent":
		return ErrInvalidContent
	}
	return nil
}

// HTTPError is a non-2xx answer without a SOAP fault.
type HTTPError struct {
	Op, URL string
	Status  int
}

// Error describes the failed request.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("oim: %s %s: HTTP %d", e.Op, e.URL, e.Status)
}

type soapFault struct {
	Code   string `xml:"faultcode"`
	String string `xml:"faultstring"`
	Detail struct {
		LockKeyChallenge string `xml:"LockKeyChallenge"`
		TweenerChallenge string `xml:"TweenerChallenge"`
	} `xml:"detail"`
}

// envelope is a SOAP response; Body.Inner keeps the raw body for the caller's own decoding.
type envelope struct {
	Body struct {
		Inner []byte     `xml:",innerxml"`
		Fault *soapFault `xml:"Fault"`
	} `xml:"Body"`
}

// parseEnvelope decodes a SOAP response and returns the fault, if any, as a *Fault.
func parseEnvelope(body []byte, status int) (*envelope, error) {
	var env envelope
	if err := xml.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: SOAP response (HTTP %d): %v", ErrMalformed, status, err)
	}
	if f := env.Body.Fault; f != nil {
		code := strings.TrimSpace(f.Code)
		if i := strings.LastIndexByte(code, ':'); i >= 0 {
			code = code[i+1:]
		}
		return nil, &Fault{
			Code: code, String: strings.TrimSpace(f.String), HTTPStatus: status,
			LockKeyChallenge: strings.TrimSpace(f.Detail.LockKeyChallenge),
			TweenerChallenge: strings.TrimSpace(f.Detail.TweenerChallenge),
		}
	}
	return &env, nil
}

// soapCall posts body with SOAPAction action and returns the parsed envelope. Faults come back
// as *Fault, other non-2xx answers as *HTTPError. The request and response are logged without
// their bodies (which hold tickets).
func soapCall(ctx context.Context, hc *http.Client, log *zerolog.Logger, op, url, action, body string) (*envelope, error) {
	if hc == nil {
		hc = defaultHTTP
	}
	if url == "" {
		return nil, fmt.Errorf("oim: %s: no service URL configured", op)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("oim: %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"`+action+`"`)
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		log.Debug().Str("op", op).Str("url", url).Err(err).Msg("OIM SOAP request failed")
		return nil, fmt.Errorf("oim: %s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("oim: %s: reading response: %w", op, err)
	}
	log.Debug().Str("op", op).Str("url", url).Int("status", resp.StatusCode).Int("bytes", len(data)).
		Dur("took", time.Since(start)).Msg("OIM SOAP request")
	if len(data) > MaxResponseBytes {
		return nil, fmt.Errorf("oim: %s: %w: response over %d bytes", op, ErrTooLarge, MaxResponseBytes)
	}
	env, perr := parseEnvelope(data, resp.StatusCode)
	var f *Fault
	if errors.As(perr, &f) {
		return nil, fmt.Errorf("oim: %s: %w", op, f)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &HTTPError{Op: op, URL: url, Status: resp.StatusCode}
	}
	if perr != nil {
		return nil, fmt.Errorf("oim: %s: %w", op, perr)
	}
	return env, nil
}

// xmlEscape escapes s for XML text and attribute values.
func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
