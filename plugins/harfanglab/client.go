// Package harfanglab holds the HarfangLab API client shared by every HarfangLab component and
// the harfanglab_intel output, which applies intel.Change messages to HarfangLab's
// threat-intelligence lists.
package harfanglab

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/metricbuf"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/retry"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/safehttp"
)

// apiPrefix is where every HarfangLab data endpoint lives.
const apiPrefix = "/api/data/"

// DefaultPageSize is the `limit` sent on list requests that do not set one: HarfangLab's own
// default page size is unknown and small, so always ask for big pages.
const DefaultPageSize = 500

// Defaults applied by NewClient to zero fields.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultRetryBase = 200 * time.Millisecond
	DefaultRetryMax  = 30 * time.Second
	// maxRetryAfter caps a server-requested wait so a bogus header cannot stall us for hours.
	maxRetryAfter = 5 * time.Minute
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// URL is the HarfangLab base URL (scheme and host, optionally a path prefix).
	URL string
	// Token is the API token sent as `Authorization: Token <token>`.
	Token string
	// TLS is the TLS configuration (nil: Go defaults, certificates verified).
	TLS *tls.Config
	// Timeout bounds one HTTP attempt (default 30 s).
	Timeout time.Duration
	// MaxRetries is how many times a transient failure is retried after the first attempt;
	// negative means until the context ends.
	MaxRetries int
	// RetryBase and RetryMax bound the jittered exponential back-off between attempts.
	RetryBase, RetryMax time.Duration
	// Logger receives retry warnings (may be nil).
	Logger *service.Logger
	// Metrics, when set, receives harfanglab_requests_total and harfanglab_retries_total.
	Metrics *service.Metrics
}

// Client is a HarfangLab API client: token auth, trailing slashes, DRF pagination, retries on
// 429/5xx/network errors with jittered back-off honouring Retry-After. Safe for concurrent use.
type Client struct {
	hc         *http.Client // GETs, which follow redirects
	rt         http.RoundTripper
	timeout    time.Duration // of one attempt, body read included
	auth       []string      // the Authorization header value, built once
	base       *url.URL      // {URL}/api/data/
	fixed      sync.Map      // path → *url.URL of resolveFixed
	maxRetries int
	retryBase  time.Duration
	retryMax   time.Duration
	log        *service.Logger

	requests  atomic.Int64
	retries   atomic.Int64
	mRequests *metricbuf.Counter // per request: coalesced (plugins/metricbuf)
	mRetries  *service.MetricCounter
	sleep     func(ctx context.Context, d time.Duration) error // replaced in tests
}

// NewClient validates c and builds a Client.
func NewClient(c ClientConfig) (*Client, error) {
	base, err := parseBaseURL(c.URL)
	if err != nil {
		return nil, err
	}
	if c.Token == "" {
		return nil, errors.New("harfanglab token is empty")
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.RetryBase <= 0 {
		c.RetryBase = DefaultRetryBase
	}
	if c.RetryMax <= 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.RetryMax < c.RetryBase {
		c.RetryMax = c.RetryBase
	}

	// Our own transport: enough idle connections for max_in_flight concurrent writers
	// (resty's default keeps GOMAXPROCS+1, which churns connections under load).
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 256
	if c.TLS != nil {
		tr.TLSClientConfig = c.TLS.Clone()
	}

	hc := &http.Client{
		Transport:     tr,
		CheckRedirect: safehttp.RedirectPolicy(5, true),
	}

	cl := &Client{
		hc:         hc,
		rt:         tr,
		timeout:    c.Timeout,
		auth:       []string{"Token " + c.Token},
		base:       base,
		maxRetries: c.MaxRetries,
		retryBase:  c.RetryBase,
		retryMax:   c.RetryMax,
		log:        c.Logger,
		sleep:      retry.Sleep,
	}
	if c.Metrics != nil {
		cl.mRequests = metricbuf.NewCounter(c.Metrics.NewCounter("harfanglab_requests_total", "method", "code"), 2)
		cl.mRetries = c.Metrics.NewCounter("harfanglab_retries_total", "reason")
	}
	return cl, nil
}

func parseBaseURL(raw string) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, errors.New("harfanglab url is empty")
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing harfanglab url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("harfanglab url %q must be http(s)://host[:port]", u.Redacted())
	}
	if u.User != nil {
		return nil, errors.New("harfanglab url must not carry credentials: use the token field")
	}
	u.Path = strings.TrimRight(u.Path, "/") + apiPrefix
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// Requests is the number of HTTP attempts made (retries included).
func (c *Client) Requests() int64 { return c.requests.Load() }

// FlushMetrics hands the coalesced request counts to Benthos now (at Close).
func (c *Client) FlushMetrics() { c.mRequests.Flush() }

// Retries is the number of attempts that were retries.
func (c *Client) Retries() int64 { return c.retries.Load() }

// Get reads one resource or one list page into out. path is relative to {URL}/api/data/.
func (c *Client) Get(ctx context.Context, path string, q url.Values, out any) error {
	return c.do(ctx, http.MethodGet, c.resolve(path, q), nil, out)
}

// Post creates a resource.
func (c *Client) Post(ctx context.Context, path string, body, out any) error {
	return c.do(ctx, http.MethodPost, c.resolveFixed(path), body, out)
}

// PostOnce creates a resource with a single attempt, for endpoints where a retried POST whose
// first answer was lost would create a second copy (Sigma rules, YARA files have no unique
// key): the caller checks what exists before trying again.
func (c *Client) PostOnce(ctx context.Context, path string, body, out any) error {
	_, err := c.once(ctx, http.MethodPost, c.resolve(path, nil), body, out)
	return err
}

// Backoff is the jittered wait before retry number attempt+1 (0-based), for callers that
// retry themselves.
func (c *Client) Backoff(attempt int) time.Duration { return c.backoff(attempt) }

// Patch partially updates a resource.
func (c *Client) Patch(ctx context.Context, path string, body, out any) error {
	return c.do(ctx, http.MethodPatch, c.resolve(path, nil), body, out)
}

// Delete removes a resource.
func (c *Client) Delete(ctx context.Context, path string) error {
	return c.do(ctx, http.MethodDelete, c.resolve(path, nil), nil, nil)
}

// pageOf is a DRF limit/offset list answer.
type pageOf[T any] struct {
	Count   int     `json:"count"`
	Next    *string `json:"next"`
	Results []T     `json:"results"`
}

// List calls each for every element of a DRF list, following `next` (relative or absolute, on
// the same host only) until the last page. A `limit` is always sent.
func (c *Client) List(ctx context.Context, path string, q url.Values, each func(json.RawMessage) error) error {
	return ListOf(ctx, c, path, q, each)
}

// ListOf is List decoding each element into T as part of its page (one pass over the JSON).
// The next page is fetched while each runs over the current one.
func ListOf[T any](ctx context.Context, c *Client, path string, q url.Values, each func(T) error) error {
	return listFrom(ctx, c, path, c.resolve(path, withLimit(q)), each)
}

// withLimit is a copy of q with a `limit` (DefaultPageSize when q sets none).
func withLimit(q url.Values) url.Values {
	q = cloneValues(q)
	if q.Get("limit") == "" {
		q.Set("limit", strconv.Itoa(DefaultPageSize))
	}
	return q
}

// fetchedPage is one list page read in the background, or why it could not be.
type fetchedPage[T any] struct {
	p   pageOf[T]
	err error
}

// fetchPage reads the page at u in a goroutine; the channel gets exactly one value.
func fetchPage[T any](ctx context.Context, c *Client, u *url.URL) <-chan fetchedPage[T] {
	ch := make(chan fetchedPage[T], 1)
	go func() {
		var f fetchedPage[T]
		f.err = c.do(ctx, http.MethodGet, u, nil, &f.p)
		ch <- f
	}()
	return ch
}

// listFrom calls each for every element from the page at u on, following `next`.
func listFrom[T any](ctx context.Context, c *Client, path string, u *url.URL, each func(T) error) error {
	pending := fetchPage[T](ctx, c, u)
	for pages := 0; pending != nil; pages++ {
		f := <-pending
		pending = nil
		if f.err != nil {
			return f.err
		}
		if pages > 1_000_000 {
			return fmt.Errorf("listing %s: too many pages", path)
		}
		var nextErr error // a refused next link ends the listing after this page
		if f.p.Next != nil && *f.p.Next != "" && len(f.p.Results) > 0 {
			if u, err := c.followNext(*f.p.Next); err != nil {
				nextErr = fmt.Errorf("listing %s: %w", path, err)
			} else {
				pending = fetchPage[T](ctx, c, u)
			}
		}
		for _, r := range f.p.Results {
			if err := each(r); err != nil {
				if pending != nil {
					<-pending // let the prefetch end before returning
				}
				return err
			}
		}
		if nextErr != nil {
			return nextErr
		}
	}
	return nil
}

// followNext resolves a DRF `next` link. It refuses another host or scheme so the token never
// leaves the configured server nor travels in clear text.
func (c *Client) followNext(next string) (*url.URL, error) {
	ref, err := url.Parse(next)
	if err != nil {
		return nil, fmt.Errorf("parsing next link: %w", err)
	}
	u := c.base.ResolveReference(ref)
	if u.Host != c.base.Host || u.Scheme != c.base.Scheme {
		return nil, fmt.Errorf("next link points to another origin %s://%s", u.Scheme, u.Host)
	}
	return u, nil
}

// resolve builds {base}{path}/ with the query q; the trailing slash is always ensured.
func (c *Client) resolve(path string, q url.Values) *url.URL {
	u := *c.base
	p := strings.TrimLeft(path, "/")
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	u.Path += p
	u.RawPath = ""
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return &u
}

// resolveFixed is resolve(path, nil) for the few fixed paths creations go to (one per list
// kind), built once: an IOC creation is one request per IOC (issue 12). The URL is shared, so
// nothing may modify it (net/http does not).
func (c *Client) resolveFixed(path string) *url.URL {
	if u, ok := c.fixed.Load(path); ok {
		return u.(*url.URL)
	}
	u := c.resolve(path, nil)
	c.fixed.Store(path, u)
	return u
}

// apiPath is the path shown in errors and logs: relative to /api/data/, no host, no query.
func (c *Client) apiPath(u *url.URL) string {
	return strings.TrimPrefix(u.Path, c.base.Path)
}

// do runs one logical request with retries.
func (c *Client) do(ctx context.Context, method string, u *url.URL, body, out any) error {
	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			c.retries.Add(1)
		}
		wait, err := c.once(ctx, method, u, body, out)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			if lastErr == nil {
				lastErr = err
			}
			return fmt.Errorf("%s %s: %w", method, c.apiPath(u), errors.Join(ctx.Err(), lastErr))
		}
		if !IsTransient(err) {
			return err
		}
		lastErr = err
		if c.maxRetries >= 0 && attempt >= c.maxRetries {
			return fmt.Errorf("giving up after %d attempts: %w", attempt+1, err)
		}
		d := c.backoff(attempt)
		if wait > 0 {
			d = min(wait, maxRetryAfter)
		}
		c.mRetries.Incr(1, retryReason(err))
		c.log.Debugf("HarfangLab %s %s failed (%v), retrying in %v", method, c.apiPath(u), err, d)
		if err := c.sleep(ctx, d); err != nil {
			return fmt.Errorf("%s %s: %w", method, c.apiPath(u), errors.Join(err, lastErr))
		}
	}
}

// once runs a single attempt. wait is the server's Retry-After, if any.
func (c *Client) once(ctx context.Context, method string, u *url.URL, body, out any) (wait time.Duration, err error) {
	c.requests.Add(1)
	status, header, answer, err := c.send(ctx, method, u, body)
	defer putBuffer(answer)
	if err != nil {
		c.mRequests.Incr(1, method, "error")
		return 0, err
	}
	c.mRequests.Incr(1, method, statusClass(status))
	if status < 200 || status > 299 {
		apiErr := &APIError{Method: method, Path: c.apiPath(u), Status: status, Body: truncate(answer.String(), 1000)}
		if status == http.StatusTooManyRequests {
			wait = retry.ParseRetryAfter(header.Get("Retry-After"))
		}
		return wait, apiErr
	}
	if out == nil || answer.Len() == 0 || status == http.StatusNoContent {
		return 0, nil
	}
	if fd, ok := out.(fastDecoding); ok && fd.decodeFast(answer.Bytes()) {
		return 0, nil
	}
	if err := json.Unmarshal(answer.Bytes(), out); err != nil {
		return 0, fmt.Errorf("decoding HarfangLab answer to %s %s: %w", method, c.apiPath(u), err)
	}
	return 0, nil
}

// send makes one HTTP exchange: body (if any) sent as JSON, the whole answer read into a
// pooled buffer the caller returns with putBuffer. Plain net/http: one IOC is one request, so
// the per-request cost is the per-IOC cost (issue 12).
func (c *Client) send(ctx context.Context, method string, u *url.URL, body any) (status int, header http.Header, answer *bytes.Buffer, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// The URL is already parsed: the request gets it as it is rather than through its string
	// (what NewRequestWithContext does with a URL is parse it, then take its host).
	req, err := http.NewRequestWithContext(ctx, method, "", nil)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("building %s %s: %w", method, c.apiPath(u), err)
	}
	req.URL, req.Host = u, strings.TrimSuffix(u.Host, ":")
	req.Header = make(http.Header, 5)
	req.Header["Authorization"] = c.auth
	req.Header["Accept"] = jsonMedia
	if method != http.MethodGet {
		// The answer to a write is small: no compression asked, so the transport does not
		// add its own Accept-Encoding (a header map of its own per request). Lists (GETs)
		// keep asking for gzip.
		req.Header["Accept-Encoding"] = identityEncoding
	}
	if body != nil {
		b, err := encodeBody(body)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("encoding the body of %s %s: %w", method, c.apiPath(u), err)
		}
		req.Header["Content-Type"] = jsonMedia
		req.ContentLength = int64(len(b))
		// A NopCloser over a bytes.Reader is what net/http knows to be in memory: it then
		// writes headers and body in one write (any other reader gets a write each).
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	var resp *http.Response
	if method == http.MethodGet {
		resp, err = c.hc.Do(req)
	} else {
		// Writes never follow a redirect (the policy hands back the 3xx as it is), so they
		// skip http.Client: its per-request header copy (for redirects) and bookkeeping.
		resp, err = c.rt.RoundTrip(req)
	}
	if err != nil {
		return 0, nil, nil, &transportError{method: method, path: c.apiPath(u), err: err}
	}
	defer resp.Body.Close()
	answer = getBuffer()
	if _, err := answer.ReadFrom(resp.Body); err != nil {
		putBuffer(answer)
		return 0, nil, nil, &transportError{method: method, path: c.apiPath(u), err: err}
	}
	return resp.StatusCode, resp.Header, answer, nil
}

// encodeBody is body as JSON; bytes and strings are taken as JSON already (as resty, which
// this client used before, did).
func encodeBody(body any) ([]byte, error) {
	switch b := body.(type) {
	case []byte:
		return b, nil
	case json.RawMessage:
		return b, nil
	case string:
		return []byte(b), nil
	case jsonAppender:
		return b.appendJSON(nil), nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encoding JSON: %w", err)
	}
	return b, nil
}

// jsonMedia is the Accept and Content-Type header value, shared by every request.
var jsonMedia = []string{"application/json"}

// identityEncoding is the Accept-Encoding of writes.
var identityEncoding = []string{"identity"}

// jsonAppender is a body that writes its own JSON, exactly as json.Marshal would, without the
// reflection: the body of an IOC creation, sent once per IOC (issue 12).
type jsonAppender interface {
	appendJSON(buf []byte) []byte
}

// statusClass is the `code` label of harfanglab_requests_total, without formatting per request.
func statusClass(status int) string {
	if c := status / 100; c >= 1 && c <= 5 {
		return [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}[c-1]
	}
	return strconv.Itoa(status/100) + "xx"
}

// buffers are reused for request bodies and answers; list pages can be large, so a buffer
// grown past maxPooledBuffer is left to the GC rather than kept.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuffer = 64 << 10

func getBuffer() *bytes.Buffer { return buffers.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b == nil || b.Cap() > maxPooledBuffer {
		return
	}
	b.Reset()
	buffers.Put(b)
}

// backoff is the jittered exponential wait before retry number attempt+1.
func (c *Client) backoff(attempt int) time.Duration {
	return retry.Backoff(attempt, c.retryBase, c.retryMax)
}

// APIError is a non-2xx answer from HarfangLab. Error() never contains the token (it is only
// ever in a request header, and neither the URL nor the body carries it).
type APIError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("HarfangLab %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// IsAuthFailure reports whether err is HarfangLab refusing the token (401) or its rights (403):
// a configuration problem of the whole process, never a property of the message being sent, so
// callers stop the flow and retry instead of dead-lettering (issue 10, item 11).
func IsAuthFailure(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) &&
		(apiErr.Status == http.StatusUnauthorized || apiErr.Status == http.StatusForbidden)
}

// transportError is a failure before any HTTP answer (connection refused or reset, timeout).
type transportError struct {
	method, path string
	err          error
}

func (e *transportError) Error() string {
	return fmt.Sprintf("HarfangLab %s %s: %v", e.method, e.path, e.err)
}

func (e *transportError) Unwrap() error { return e.err }

// IsTransient tells whether err is worth retrying: 429, 5xx, 408, or a network failure.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Status == http.StatusTooManyRequests || apiErr.Status == http.StatusRequestTimeout || apiErr.Status >= 500
	}
	var te *transportError
	if errors.As(err, &te) {
		return !errors.Is(err, context.Canceled)
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// IsDuplicate tells whether err is HarfangLab's 400 "... already exists" answer to a POST.
func IsDuplicate(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest &&
		strings.Contains(strings.ToLower(apiErr.Body), "already exists")
}

// IsNotFound tells whether err is a 404 answer.
func IsNotFound(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}

func retryReason(err error) string {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		if apiErr.Status == http.StatusTooManyRequests {
			return "429"
		}
		return "5xx"
	}
	return "network"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func cloneValues(q url.Values) url.Values {
	out := make(url.Values, len(q)+1)
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}
