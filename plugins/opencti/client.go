// Package graphql holds a small OpenCTI GraphQL client (go-resty) and the `opencti` output,
// which registers as an EXTERNAL_IMPORT connector and pushes STIX bundles with stixBundlePush,
// each WriteBatch tracked as one OpenCTI work.
package opencti

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/retry"
)

// Defaults applied by NewClient to zero fields.
const (
	DefaultTimeout   = 60 * time.Second
	DefaultRetryBase = 500 * time.Millisecond
	DefaultRetryMax  = 30 * time.Second
	maxRetryAfter    = 5 * time.Minute
)

// ClientConfig configures a Client.
type ClientConfig struct {
	URL     string // OpenCTI base URL; /graphql is appended
	Token   string // sent as `Authorization: Bearer <token>`; never logged
	TLS     *tls.Config
	Timeout time.Duration // one attempt
	// MaxRetries is how many times a transient failure is retried; negative: until ctx ends.
	MaxRetries          int
	RetryBase, RetryMax time.Duration
	Logger              *service.Logger
	Metrics             *service.Metrics
}

// Client sends GraphQL operations to OpenCTI. Safe for concurrent use.
type Client struct {
	rc         *resty.Client
	endpoint   string
	maxRetries int
	retryBase  time.Duration
	retryMax   time.Duration
	log        *service.Logger
	mRetries   *service.MetricCounter
	sleep      func(ctx context.Context, d time.Duration) error
}

// Error is a failed GraphQL operation: an `errors[]` entry or an HTTP failure.
type Error struct {
	Op        string // root field, e.g. stixBundlePush
	Status    int    // HTTP status (0: network error)
	Code      string // errors[0].extensions.code (or name)
	Message   string
	Retryable bool
	err       error
}

func (e *Error) Error() string {
	switch {
	case e.Code == codeAuthReq || e.Status == http.StatusUnauthorized:
		return fmt.Sprintf("opencti %s: OpenCTI rejected the token (AUTH_REQUIRED): check OPENCTI_TOKEN", e.Op)
	case e.Code == codeForbidden || e.Status == http.StatusForbidden:
		return fmt.Sprintf("opencti %s: the OpenCTI user of OPENCTI_TOKEN lacks the CONNECTORAPI capability (FORBIDDEN_ACCESS): give it the \"Connector\" role", e.Op)
	case e.Code == codeFunctional && transientCode(e.Code, e.Message):
		return fmt.Sprintf("opencti %s: OpenCTI is rate limiting this client (%s %q)", e.Op, e.Code, e.Message)
	case e.Code != "":
		return fmt.Sprintf("opencti %s: %s: %s", e.Op, e.Code, e.Message)
	case e.Status != 0:
		return fmt.Sprintf("opencti %s: HTTP %d: %s", e.Op, e.Status, e.Message)
	default:
		return fmt.Sprintf("opencti %s: %s", e.Op, e.Message)
	}
}

func (e *Error) Unwrap() error { return e.err }

// IsAuth reports whether err says the token or its capabilities are wrong: retrying will not help.
func IsAuth(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Code == codeAuthReq || e.Code == codeForbidden ||
		e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

// Transient errors OpenCTI really sends (config/errors.ts, graphql/schema.js). A lock timeout
// under concurrent upserts of the same entities is LOCK_ERROR; an engine hiccup (unavailable
// shards, indexing failure) is DATABASE_ERROR; the @rateLimit directive answers
// FUNCTIONAL_ERROR "Too many requests". Every other FUNCTIONAL_ERROR is a refusal for good.
const (
	codeLock       = "LOCK_ERROR"
	codeDatabase   = "DATABASE_ERROR"
	codeFunctional = "FUNCTIONAL_ERROR"
	msgRateLimited = "Too many requests"
	codeAuthReq    = "AUTH_REQUIRED"
	codeForbidden  = "FORBIDDEN_ACCESS"
)

// transientCode reports whether a GraphQL error of this code and message is worth retrying.
func transientCode(code, message string) bool {
	switch code {
	case codeLock, codeDatabase:
		return true
	case codeFunctional:
		return strings.EqualFold(strings.TrimSpace(message), msgRateLimited)
	}
	return false
}

// NewClient validates c and builds a Client.
func NewClient(c ClientConfig) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(c.URL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("opencti url must be http(s)://host[:port][/path] (check OPENCTI_URL)")
	}
	if u.User != nil {
		return nil, errors.New("opencti url must not carry credentials: use the token field")
	}
	if strings.TrimSpace(c.Token) == "" {
		return nil, errors.New("the OpenCTI token is empty (check OPENCTI_TOKEN)")
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.RetryBase <= 0 {
		c.RetryBase = DefaultRetryBase
	}
	if c.RetryMax < c.RetryBase {
		c.RetryMax = max(DefaultRetryMax, c.RetryBase)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/graphql"
	u.RawQuery, u.Fragment = "", ""
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	if c.TLS != nil {
		tr.TLSClientConfig = c.TLS.Clone()
	}
	rc := resty.New().
		SetTransport(tr).
		SetTimeout(c.Timeout).
		SetLogger(quietLogger{}).
		SetHeader("Authorization", "Bearer "+c.Token).
		SetHeader("Content-Type", "application/json").
		SetHeader("Accept", "application/json").
		SetHeader("User-Agent", "opencti-harfanglab").
		SetRedirectPolicy(resty.NoRedirectPolicy())
	cl := &Client{
		rc: rc, endpoint: u.String(), maxRetries: c.MaxRetries,
		retryBase: c.RetryBase, retryMax: c.RetryMax, log: c.Logger, sleep: retry.Sleep,
	}
	if c.Metrics != nil {
		cl.mRetries = c.Metrics.NewCounter("opencti_graphql_retries_total", "op")
	}
	return cl, nil
}

// Do runs one operation and decodes data.<op> into out (nil: ignored), retrying transient
// failures (network, 429, 5xx, retryable GraphQL codes) with jittered exponential back-off.
func (c *Client) Do(ctx context.Context, op, query string, vars map[string]any, out any) error {
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, op, query, vars, out)
		if err == nil {
			return nil
		}
		var ge *Error
		if !errors.As(err, &ge) || !ge.Retryable || (c.maxRetries >= 0 && attempt >= c.maxRetries) || ctx.Err() != nil {
			return err
		}
		wait := c.backoff(attempt)
		if ra, ok := retryAfter(ge); ok {
			wait = ra
		}
		if c.mRetries != nil {
			c.mRetries.Incr(1, op)
		}
		if c.log != nil {
			c.log.Debugf("retrying %s in %v: %v", op, wait, err)
		}
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("%w (gave up: %v)", ge, err)
		}
	}
}

type gqlResponse struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Name       string         `json:"name"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (c *Client) once(ctx context.Context, op, query string, vars map[string]any, out any) error {
	resp, err := c.rc.R().SetContext(ctx).
		SetBody(map[string]any{"query": query, "variables": vars}).
		Post(c.endpoint)
	if err != nil {
		return &Error{Op: op, Message: redactURL(err.Error()), Retryable: ctx.Err() == nil, err: err}
	}
	status := resp.StatusCode()
	var body gqlResponse
	decodeErr := json.Unmarshal(resp.Body(), &body)
	if len(body.Errors) > 0 {
		e := body.Errors[0]
		code, _ := e.Extensions["code"].(string)
		if code == "" {
			code = e.Name
		}
		return &Error{Op: op, Status: status, Code: code, Message: e.Message,
			Retryable: transientCode(code, e.Message) || status >= 500 || status == http.StatusTooManyRequests,
			err:       retryAfterError(resp)}
	}
	if status != http.StatusOK {
		return &Error{Op: op, Status: status, Message: http.StatusText(status),
			Retryable: status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout,
			err:       retryAfterError(resp)}
	}
	if decodeErr != nil {
		return &Error{Op: op, Status: status, Message: "invalid JSON answer: " + decodeErr.Error()}
	}
	if out == nil {
		return nil
	}
	raw, ok := body.Data[op]
	if !ok {
		return &Error{Op: op, Status: status, Message: "answer has no data." + op}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &Error{Op: op, Status: status, Message: "decoding data." + op + ": " + err.Error()}
	}
	return nil
}

// retryAfterHint carries a server-requested wait.
type retryAfterHint struct{ d time.Duration }

func (r retryAfterHint) Error() string { return "retry after " + r.d.String() }

func retryAfterError(resp *resty.Response) error {
	v := strings.TrimSpace(resp.Header().Get("Retry-After"))
	d := retry.ParseRetryAfter(v)
	if d == 0 && v != "0" {
		return nil // absent or unreadable: the normal back-off applies
	}
	return retryAfterHint{min(d, maxRetryAfter)}
}

func retryAfter(e *Error) (time.Duration, bool) {
	var h retryAfterHint
	if errors.As(e.err, &h) {
		return h.d, true
	}
	return 0, false
}

// backoff is the jittered exponential wait before retry number attempt+1.
func (c *Client) backoff(attempt int) time.Duration {
	return retry.Backoff(attempt, c.retryBase, c.retryMax)
}

// redactURL drops query strings from transport errors (the token is in a header, never in the
// URL, but keep errors short and safe).
func redactURL(s string) string {
	if i := strings.Index(s, "?"); i >= 0 {
		if j := strings.IndexAny(s[i:], "\": "); j > 0 {
			return s[:i] + s[i+j:]
		}
	}
	return s
}

// quietLogger silences resty's own logging: errors are returned, and resty could print requests.
type quietLogger struct{}

func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Debugf(string, ...any) {}
