package security

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/harfanglab"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/opencti"
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
// Go keeps Authorization on a redirect to the same host name whatever the scheme and port;
// plugins/safehttp's redirect policy refuses any change of scheme, host or port.
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
		g, err := opencti.NewClient(opencti.ClientConfig{URL: front.URL, Token: leakOCTIToken, TLS: trusting(front), MaxRetries: 0})
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
		assert.NotContains(t, h, token, "the token was sent in clear text over http://")
	}
	t.Logf("%d requests reached the plain-HTTP server", len(headers))
}

// chanListener hands over connections accepted elsewhere.
type chanListener struct {
	conns chan net.Conn
	addr  net.Addr
	done  chan struct{}
	once  sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *chanListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *chanListener) Addr() net.Addr { return l.addr }

// peekedConn replays the bytes read to tell TLS from plain HTTP.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c peekedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// dualPort serves HTTPS (tlsHandler) and plain HTTP (plainHandler) on one port, telling them
// apart by the first byte (0x16 opens a TLS handshake): a plain request sent to an HTTPS port
// is visible, as it would be on the wire.
func dualPort(t *testing.T, tlsHandler, plainHandler http.Handler) (port string, ca *x509.Certificate) {
	donor := httptest.NewUnstartedServer(http.NotFoundHandler())
	donor.StartTLS() // only for its certificate
	cert, ca := donor.TLS.Certificates[0], donor.Certificate()
	donor.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tlsL := &chanListener{conns: make(chan net.Conn), addr: ln.Addr(), done: make(chan struct{})}
	plainL := &chanListener{conns: make(chan net.Conn), addr: ln.Addr(), done: make(chan struct{})}
	tlsSrv := &http.Server{Handler: tlsHandler, ErrorLog: log.New(io.Discard, "", 0)}
	plainSrv := &http.Server{Handler: plainHandler}
	go func() { _ = tlsSrv.Serve(tls.NewListener(tlsL, &tls.Config{Certificates: []tls.Certificate{cert}})) }()
	go func() { _ = plainSrv.Serve(plainL) }()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				r := bufio.NewReader(c)
				b, err := r.Peek(1)
				if err != nil {
					c.Close()
					return
				}
				target := plainL
				if b[0] == 0x16 {
					target = tlsL
				}
				select {
				case target.conns <- peekedConn{c, r}:
				case <-target.done:
					c.Close()
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); tlsSrv.Close(); plainSrv.Close() })
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port, ca
}

// TestListNeverFollowsANextLinkToPlainHTTP: a DRF page served over HTTPS whose `next` link is
// http:// on the same host and port (a proxy that rewrites links without the scheme). The
// HarfangLab client must not send the token in clear text to follow it.
// followNext (plugins/harfanglab/client.go) requires the base's scheme and host.
func TestListNeverFollowsANextLinkToPlainHTTP(t *testing.T) {
	plain := &sink{}
	var port string
	tlsHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"count": 2, "next": "http://127.0.0.1:%s%s?offset=1", "previous": null, "results": [{"id": "1"}]}`, port, r.URL.Path)
	})
	plainHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plain.mu.Lock()
		plain.auth = append(plain.auth, r.Header.Get("Authorization"))
		plain.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"count": 2, "next": null, "results": [{"id": "2"}]}`)
	})
	var ca *x509.Certificate
	port, ca = dualPort(t, tlsHandler, plainHandler)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	c, err := harfanglab.NewClient(harfanglab.ClientConfig{URL: "https://127.0.0.1:" + port, Token: leakHLToken,
		TLS: &tls.Config{RootCAs: pool}, MaxRetries: 0})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ids []string
	err = c.List(ctx, "alert/alert/Alert/", nil, func(b json.RawMessage) error { ids = append(ids, string(b)); return nil })
	t.Logf("listed %v, err %v", ids, err)
	require.NotEmpty(t, ids, "the HTTPS page was read")
	assertNoTokenIn(t, plain.received(), leakHLToken)
}
