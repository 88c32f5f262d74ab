package security

import (
	"net"
	"net/url"
	"os/exec"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/harness"
)

func requireLoopback(t *testing.T, what, hostport string) {
	t.Helper()
	host, _, err := net.SplitHostPort(hostport)
	require.NoError(t, err, what)
	ip := net.ParseIP(host)
	require.NotNil(t, ip, "%s listens on %q: not an IP literal", what, hostport)
	assert.True(t, ip.IsLoopback(), "%s listens on %s, not loopback", what, hostport)
}

// TestSimulatorsListenOnLoopbackByDefault: Start("") never exposes a simulator to the network.
func TestSimulatorsListenOnLoopbackByDefault(t *testing.T) {
	hl := hlsim.New("t")
	hlURL, err := hl.Start("")
	require.NoError(t, err)
	defer hl.Close()
	octi := openctisim.New("t")
	octiURL, err := octi.Start("")
	require.NoError(t, err)
	defer octi.Close()
	for what, raw := range map[string]string{"hlsim": hlURL, "openctisim": octiURL} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		requireLoopback(t, what, u.Host)
	}
}

// TestHTTPServerListensOnLoopbackByDefault: with HTTP_ADDRESS unset, the service-wide HTTP
// server of pipelines/observability.yaml (/ready, /metrics) binds to loopback. The binary
// resolves the configuration itself (`echo`), so the check covers the real defaults.
func TestHTTPServerListensOnLoopbackByDefault(t *testing.T) {
	cmd := exec.Command(harness.Binary(t), "-c", harness.Pipeline("observability.yaml"), "echo")
	cmd.Env = []string{} // no HTTP_ADDRESS
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	m := regexp.MustCompile(`(?m)^http:\n(?:  .*\n)*?  address: (\S+)`).FindSubmatch(out)
	require.NotNil(t, m, "no http.address in:\n%s", out)
	requireLoopback(t, "the HTTP server", string(m[1]))
	assert.Regexp(t, `(?m)^  enabled: true`, string(out), "the HTTP server is on (so its address matters)")
}
