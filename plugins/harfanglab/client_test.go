package harfanglab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testToken = "s3cr3t-t0ken"

type seenReq struct {
	Method, Path, RawQuery, Auth, Accept, Body string
}

type recorder struct {
	mu   sync.Mutex
	reqs []seenReq
}

func (r *recorder) add(req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, seenReq{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Get("Authorization"), req.Header.Get("Accept"), string(b)})
}

func (r *recorder) all() []seenReq {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seenReq(nil), r.reqs...)
}

func newTestClient(t *testing.T, srvURL string, mod func(*ClientConfig)) *Client {
	t.Helper()
	c := ClientConfig{URL: srvURL + "/", Token: testToken, MaxRetries: 5, RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond, Timeout: 2 * time.Second}
	if mod != nil {
		mod(&c)
	}
	cl, err := NewClient(c)
	require.NoError(t, err)
	return cl
}

func TestClientHeadersSlashesAndEncoding(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		w.Header().Set("Content-Type", "application/json")
		switch r.Method {
		case http.MethodPost:
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"new-id"}`))
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			_, _ = w.Write([]byte(`{"id":"x","value":"v"}`))
		}
	}))
	defer srv.Close()
	cl := newTestClient(t, srv.URL, nil)
	ctx := t.Context()

	var got map[string]string
	require.NoError(t, cl.Get(ctx, "threat_intelligence/IOCRule", url.Values{"value__exact": {"http://e.com/?q=a+b#frag"}, "source_id": {"S1"}}, &got))
	assert.Equal(t, "v", got["value"])
	var created struct{ ID string }
	require.NoError(t, cl.Post(ctx, "threat_intelligence/IOCRule/", map[string]any{"value": "1.2.3.4"}, &created))
	assert.Equal(t, "new-id", created.ID)
	require.NoError(t, cl.Patch(ctx, "/threat_intelligence/IOCRule/42", map[string]any{"enabled": false}, nil))
	require.NoError(t, cl.Delete(ctx, "threat_intelligence/IOCRule/42"))

	reqs := rec.all()
	require.Len(t, reqs, 4)
	for _, r := range reqs {
		assert.Equal(t, "Token "+testToken, r.Auth)
		assert.Equal(t, "application/json", r.Accept)
		assert.True(t, strings.HasSuffix(r.Path, "/"), r.Path)
		assert.True(t, strings.HasPrefix(r.Path, "/api/data/threat_intelligence/IOCRule/"), r.Path)
	}
	q, err := url.ParseQuery(reqs[0].RawQuery)
	require.NoError(t, err)
	assert.Equal(t, "http://e.com/?q=a+b#frag", q.Get("value__exact"), "the value must survive encoding")
	assert.Equal(t, "S1", q.Get("source_id"))
	assert.JSONEq(t, `{"value":"1.2.3.4"}`, reqs[1].Body)
	assert.Equal(t, "/api/data/threat_intelligence/IOCRule/42/", reqs[2].Path)
	assert.JSONEq(t, `{"enabled":false}`, reqs[2].Body)
	assert.Equal(t, http.MethodDelete, reqs[3].Method)
}

func TestClientListFollowsRelativeAndAbsoluteNext(t *testing.T) {
	rec := &recorder{}
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		off := r.URL.Query().Get("offset")
		w.Header().Set("Content-Type", "application/json")
		switch off {
		case "":
			_, _ = fmt.Fprint(w, `{"count":5,"next":"/api/data/threat_intelligence/IOCRule/?limit=2&offset=2","results":[{"n":1},{"n":2}]}`)
		case "2":
			_, _ = fmt.Fprintf(w, `{"count":5,"next":"%s/api/data/threat_intelligence/IOCRule/?limit=2&offset=4","results":[{"n":3},{"n":4}]}`, srvURL)
		default:
			_, _ = fmt.Fprint(w, `{"count":5,"next":null,"results":[{"n":5}]}`)
		}
	}))
	defer srv.Close()
	srvURL = srv.URL
	cl := newTestClient(t, srv.URL, nil)

	var ns []int
	err := cl.List(t.Context(), "threat_intelligence/IOCRule/", url.Values{"source_id": {"S"}}, func(raw json.RawMessage) error {
		var v struct{ N int }
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		ns = append(ns, v.N)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3, 4, 5}, ns)
	reqs := rec.all()
	require.Len(t, reqs, 3)
	q, _ := url.ParseQuery(reqs[0].RawQuery)
	assert.Equal(t, "500", q.Get("limit"), "a limit is always sent")
	assert.Equal(t, "S", q.Get("source_id"))
}

func TestClientListRefusesForeignNextHost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprint(w, `{"count":3,"next":"http://evil.example/api/data/x/?offset=1","results":[{}]}`)
	}))
	defer srv.Close()
	cl := newTestClient(t, srv.URL, nil)
	err := cl.List(t.Context(), "x", nil, func(json.RawMessage) error { return nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "another origin")
}

func TestClientRetriesTransientFailures(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		case 3:
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			_ = conn.Close()
		default:
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"ok"}`))
		}
	}))
	defer srv.Close()
	cl := newTestClient(t, srv.URL, nil)
	var out struct{ ID string }
	require.NoError(t, cl.Post(t.Context(), "threat_intelligence/IOCRule", map[string]string{"value": "a"}, &out))
	assert.Equal(t, "ok", out.ID)
	assert.EqualValues(t, 4, calls.Load())
	assert.EqualValues(t, 4, cl.Requests())
	assert.EqualValues(t, 3, cl.Retries())
}

func TestClientHonoursRetryAfter(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	cl := newTestClient(t, srv.URL, nil)
	start := time.Now()
	require.NoError(t, cl.Get(t.Context(), "x", nil, nil))
	assert.GreaterOrEqual(t, time.Since(start), time.Second, "Retry-After: 1 must be waited for")
}

func TestClientDoesNotRetryClientErrors(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__all__": ["['Ioc rule with this Type, Value and Source already exists.']"]}`))
	}))
	defer srv.Close()
	cl := newTestClient(t, srv.URL, nil)
	err := cl.Post(t.Context(), "threat_intelligence/IOCRule/", map[string]string{"value": "a"}, nil)
	require.Error(t, err)
	assert.EqualValues(t, 1, calls.Load())
	assert.True(t, IsDuplicate(err))
	assert.False(t, IsTransient(err))
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 400, apiErr.Status)
	assert.Equal(t, "POST", apiErr.Method)
	assert.Equal(t, "threat_intelligence/IOCRule/", apiErr.Path)
	assert.Contains(t, err.Error(), "already exists")
	assert.NotContains(t, err.Error(), testToken)
}

func TestClientGivesUpAfterMaxRetriesWithoutLeakingToken(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	cl := newTestClient(t, srv.URL, func(c *ClientConfig) { c.MaxRetries = 2 })
	err := cl.Get(t.Context(), "x", nil, nil)
	require.Error(t, err)
	assert.EqualValues(t, 3, calls.Load())
	assert.True(t, IsTransient(err))
	assert.NotContains(t, err.Error(), testToken)
}

func TestClientStopsRetryingWhenContextEnds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	cl := newTestClient(t, srv.URL, func(c *ClientConfig) { c.MaxRetries = -1 })
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err := cl.Get(ctx, "x", nil, nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestClientNeverFollowsRedirectsForWrites(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		if r.URL.Path == "/api/data/moved/" {
			http.Redirect(w, r, "/api/data/target/", http.StatusMovedPermanently)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	cl := newTestClient(t, srv.URL, nil)

	err := cl.Post(t.Context(), "moved", map[string]int{"a": 1}, nil)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusMovedPermanently, apiErr.Status)
	require.Len(t, rec.all(), 1, "a redirected POST must not be replayed as a GET")

	var out struct{ OK bool }
	require.NoError(t, cl.Get(t.Context(), "moved", nil, &out))
	assert.True(t, out.OK, "GET follows the redirect")
}

func TestClientTimeoutIsTransient(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			time.Sleep(300 * time.Millisecond)
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	cl := newTestClient(t, srv.URL, func(c *ClientConfig) { c.Timeout = 100 * time.Millisecond })
	require.NoError(t, cl.Get(t.Context(), "x", nil, nil))
	assert.EqualValues(t, 2, calls.Load())
}

func TestNewClientValidates(t *testing.T) {
	for _, c := range []ClientConfig{
		{URL: "", Token: "t"},
		{URL: "ftp://x", Token: "t"},
		{URL: "https://user:pw@x", Token: "t"},
		{URL: "https://x", Token: ""},
	} {
		_, err := NewClient(c)
		assert.Error(t, err, "%+v", c)
	}
	cl, err := NewClient(ClientConfig{URL: "https://hl.example.com/prefix/", Token: "t"})
	require.NoError(t, err)
	assert.Equal(t, "https://hl.example.com/prefix/api/data/threat_intelligence/IOCRule/", cl.resolve("threat_intelligence/IOCRule", nil).String())
}

func TestClientConfigFromParsed(t *testing.T) {
	spec := testClientSpec()
	pc, err := spec.ParseYAML(`
url: https://hl.example.com/
token: abc
`, nil)
	require.NoError(t, err)
	c, err := ClientConfigFromParsed(pc, nil)
	require.NoError(t, err)
	assert.Equal(t, 30*time.Second, c.Timeout)
	assert.True(t, c.TLS == nil || !c.TLS.InsecureSkipVerify, "TLS verification is on by default")

	pc, err = spec.ParseYAML(`
url: https://hl.example.com/
token: ""
tls:
  skip_cert_verify: true
`, nil)
	require.NoError(t, err)
	_, err = ClientConfigFromParsed(pc, nil)
	require.Error(t, err)
}

func testClientSpec() *service.ConfigSpec {
	return service.NewConfigSpec().Fields(ClientFields()...)
}
