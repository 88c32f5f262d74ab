package security

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/harfanglab"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/opencti/graphql"
)

// sink is a plain-HTTP server that records the Authorization headers it receives.
type sink struct {
	*httptest.Server
	mu   sync.Mutex
	auth []string
}

func newSink(t *testing.T) *sink {
	s := &sink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		http.Error(w, "nothing here", http.StatusNotFound)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sink) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...)
}

// redirectingTLS is an HTTPS server that redirects every request to the same path on target
// (a plain-HTTP server on the same host, another port): a misconfigured or hostile proxy.
func redirectingTLS(t *testing.T, target string) *httptest.Server {
	return tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+r.URL.RequestURI(), http.StatusFound)
	}))
}

func trusting(srv *httptest.Server) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return &tls.Config{RootCAs: pool}
}

// TestTokenNeverFollowsARedirectToPlainHTTP: a server reached over HTTPS answers with a
// redirect to http:// on the same host (another port). Following it would send the token in
// clear text to whatever listens there. No client may do so.
// FAILS today for the HarfangLab client (GET redirects are followed: getOnlyRedirects in
// plugins/harfanglab/client.go) and for opencti_stream (default http.Client redirect policy,
// plugins/opencti/input_opencti_stream.go): Go keeps Authorization on a redirect to the same
// host name whatever the scheme and port. Refusing redirects that leave https (or that change
// scheme/host/port) fixes it.
func TestTokenNeverFollowsARedirectToPlainHTTP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("harfanglab client GET", func(t *testing.T) {
		plain := newSink(t)
		front := redirectingTLS(t, plain.URL)
		c, err := harfanglab.NewClient(harfanglab.ClientConfig{URL: front.URL, Token: leakHLToken, TLS: trusting(front), MaxRetries: 0})
		require.NoError(t, err)
		_ = c.Get(ctx, "alert/alert/Alert/", nil, &map[string]any{})
		assertNoTokenIn(t, plain.received(), leakHLToken)
	})
	t.Run("opencti graphql client", func(t *testing.T) {
		plain := newSink(t)
		front := redirectingTLS(t, plain.URL)
		g, err := graphql.NewClient(graphql.ClientConfig{URL: front.URL, Token: leakOCTIToken, TLS: trusting(front), MaxRetries: 0})
		require.NoError(t, err)
		_ = g.Do(ctx, "pingConnector", `mutation { pingConnector(id: "x", state: "{}") { id } }`, nil, nil)
		assertNoTokenIn(t, plain.received(), leakOCTIToken)
	})
	t.Run("opencti_stream input", func(t *testing.T) {
		plain := newSink(t)
		front := redirectingTLS(t, plain.URL)
		yaml := fmt.Sprintf(`
input:
  opencti_stream:
    url: %s
    token: %s
    checkpoint_cache: cursor
    tls:
      enabled: true
      root_cas_file: %s
cache_resources:
  - label: cursor
    memory: {}`, front.URL, leakOCTIToken, caFile(t, front))
		runStream(t, yaml, true, 3*time.Second, func(int64) bool { return len(plain.received()) > 0 })
		assertNoTokenIn(t, plain.received(), leakOCTIToken)
	})
}

func assertNoTokenIn(t *testing.T, headers []string, token string) {
	t.Helper()
	for _, h := range headers {
		assert.False(t, strings.Contains(h, token), "the token was sent in clear text after a redirect to http://")
	}
	t.Logf("%d requests reached the plain-HTTP server", len(headers))
}
