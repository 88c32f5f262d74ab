package security

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/faults"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
)

const (
	hlToken   = "hl-tls-token-Zq81xV"
	octiToken = "octi-tls-token-Wm37pK"
	// failWait is how long a component gets to (wrongly) reach a server it must not trust.
	failWait = 4 * time.Second
	workWait = 30 * time.Second
)

// tlsServer serves h over TLS with httptest's self-signed certificate (127.0.0.1).
func tlsServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected here
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// tlsCase is one component pointed at a TLS server.
type tlsCase struct {
	name string
	// setup starts the simulator behind TLS and returns the stream YAML (with the tls block
	// spliced in at %[2]s, the URL at %[1]s), whether the test consumes the input, the
	// request counter of the simulator, and the "it worked" condition.
	setup func(t *testing.T) (srv *httptest.Server, yaml string, consume bool, reqs *faults.Injector, worked func(int64) bool)
}

var tlsCases = []tlsCase{
	{
		name: "harfanglab_intel output",
		setup: func(t *testing.T) (*httptest.Server, string, bool, *faults.Injector, func(int64) bool) {
			hl := hlsim.New(hlToken)
			srv := tlsServer(t, hl)
			yaml := `
input:
  generate:
    count: 1
    interval: ""
    mapping: 'root = {"owner":"ind-tls","via":"pattern","live":true,"score":50,"name":"tls","iocs":[{"type":"domain_name","value":"tls.example"}]}'
output:
  harfanglab_intel:
    url: %[1]s
    token: ` + hlToken + `
%[2]s`
			return srv, yaml, false, hl.Faults(), func(int64) bool { return len(hl.IOCs("from_OpenCTI")) == 1 }
		},
	},
	{
		name: "harfanglab_alerts input",
		setup: func(t *testing.T) (*httptest.Server, string, bool, *faults.Injector, func(int64) bool) {
			hl := hlsim.New(hlToken)
			hl.AddAlert(hl.SampleAlert(hlsim.SampleSigma, 1))
			srv := tlsServer(t, hl)
			yaml := `
input:
  harfanglab_alerts:
    url: %[1]s
    token: ` + hlToken + `
    poll_interval: 200ms
    settle_delay: 0s
    checkpoint_cache: cursor
%[2]s
cache_resources:
  - label: cursor
    memory: {}`
			return srv, yaml, true, hl.Faults(), func(n int64) bool { return n >= 1 }
		},
	},
	{
		name: "opencti output",
		setup: func(t *testing.T) (*httptest.Server, string, bool, *faults.Injector, func(int64) bool) {
			octi := openctisim.New(octiToken)
			srv := tlsServer(t, octi)
			yaml := `
input:
  generate:
    count: 1
    interval: ""
    mapping: |
      root = {"type":"bundle","id":"bundle--` + uuid.NewString() + `","objects":[{"type":"identity","spec_version":"2.1","id":"identity--` + uuid.NewString() + `","name":"tls","identity_class":"organization"}]}
output:
  opencti:
    url: %[1]s
    token: ` + octiToken + `
    connector_id: ` + uuid.NewString() + `
%[2]s`
			return srv, yaml, false, octi.Faults(), func(int64) bool { return octi.BundlesPushed() >= 1 }
		},
	},
	{
		name: "opencti_stream input",
		setup: func(t *testing.T) (*httptest.Server, string, bool, *faults.Injector, func(int64) bool) {
			octi := openctisim.New(octiToken)
			octi.Publish("live", "create", openctisim.IndicatorEvent("create", openctisim.Indicator{
				InternalID: uuid.NewString(), Name: "tls", Pattern: "[domain-name:value = 'tls.example']",
			}, nil))
			srv := tlsServer(t, octi)
			t.Cleanup(func() { _ = octi.Close() }) // ends open streams before srv.Close waits on them
			yaml := `
input:
  opencti_stream:
    url: %[1]s
    token: ` + octiToken + `
    checkpoint_cache: cursor
%[2]s
cache_resources:
  - label: cursor
    memory: {}`
			return srv, yaml, true, octi.Faults(), func(n int64) bool { return n >= 1 }
		},
	},
}

// indent puts a tls block under the component (4 spaces).
func tlsBlock(lines ...string) string {
	if len(lines) == 0 {
		return ""
	}
	return "    tls:\n      " + strings.Join(lines, "\n      ")
}

// TestTLSVerifiedByDefault: against a server with a self-signed certificate, every component
// refuses to talk without the CA (no request reaches the server, the log says why), works
// once the CA is given, and works with certificate verification explicitly turned off.
func TestTLSVerifiedByDefault(t *testing.T) {
	for _, c := range tlsCases {
		t.Run(c.name, func(t *testing.T) {
			t.Run("no CA: refused", func(t *testing.T) {
				srv, yaml, consume, reqs, worked := c.setup(t)
				run := runStream(t, fmt.Sprintf(yaml, srv.URL, tlsBlock()), consume, failWait, worked)
				assert.False(t, run.done, "must not work against an untrusted certificate")
				assert.Zero(t, run.messages)
				assert.Zero(t, reqs.Requests(), "no request may pass an unverified TLS handshake")
				assert.Contains(t, run.logs, "certificate", "the log says the certificate is not trusted")
				assert.NotContains(t, run.logs, hlToken)
				assert.NotContains(t, run.logs, octiToken)
			})
			t.Run("root_cas_file: works", func(t *testing.T) {
				srv, yaml, consume, reqs, worked := c.setup(t)
				block := tlsBlock("root_cas_file: " + caFile(t, srv))
				run := runStream(t, fmt.Sprintf(yaml, srv.URL, block), consume, workWait, worked)
				require.True(t, run.done, "with the CA the component works; logs:\n%s", tail(run.logs))
				assert.Positive(t, reqs.Requests())
			})
			t.Run("skip_cert_verify: works", func(t *testing.T) {
				srv, yaml, consume, _, worked := c.setup(t)
				block := tlsBlock("skip_cert_verify: true")
				run := runStream(t, fmt.Sprintf(yaml, srv.URL, block), consume, workWait, worked)
				require.True(t, run.done, "with verification off the component works; logs:\n%s", tail(run.logs))
			})
		})
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// TestOpenCTIStreamTLSBlockWithoutEnabled: the same tls block as the other three components
// (no `enabled`) must take effect on opencti_stream too.
// (opencti_stream once used a toggled TLS block that ignored these settings without
// `enabled: true`; every component now applies the block as written.)
func TestOpenCTIStreamTLSBlockWithoutEnabled(t *testing.T) {
	c := tlsCases[len(tlsCases)-1]
	require.Equal(t, "opencti_stream input", c.name)
	srv, yaml, consume, _, worked := c.setup(t)
	run := runStream(t, fmt.Sprintf(yaml, srv.URL, tlsBlock("root_cas_file: "+caFile(t, srv))), consume, failWait, worked)
	assert.True(t, run.done, "tls.root_cas_file without enabled: true was ignored; logs:\n%s", tail(run.logs))
}
