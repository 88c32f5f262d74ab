package security

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/harness"
)

// TestPipelinesVerifyHarfangLabCertificate: the shipped pipelines against a HarfangLab with a
// self-signed certificate. With HARFANGLAB_SSL_VERIFY unset nothing reaches HarfangLab and the
// log says why; HARFANGLAB_SSL_VERIFY=false (the Python connector's setting) lets both
// pipelines work.
func TestPipelinesVerifyHarfangLabCertificate(t *testing.T) {
	for _, verify := range []string{"", "false"} {
		t.Run("HARFANGLAB_SSL_VERIFY="+verify, func(t *testing.T) {
			hl := hlsim.New(leakHLToken)
			hl.AddAlert(hl.SampleAlert(hlsim.SampleSigma, 1))
			srv := tlsServer(t, hl)
			octi := openctisim.New(leakOCTIToken)
			octiURL, err := octi.Start("")
			require.NoError(t, err)
			t.Cleanup(func() { _ = octi.Close() })
			octi.Publish("live", "create", openctisim.IndicatorEvent("create", openctisim.Indicator{
				InternalID: uuid.NewString(), Name: "tls", Pattern: "[domain-name:value = 'tls-pipeline.example']"}, nil))

			addr := harness.FreeAddr(t)
			vars := map[string]string{
				"OPENCTI_URL": octiURL, "OPENCTI_TOKEN": leakOCTIToken,
				"HARFANGLAB_URL": srv.URL, "HARFANGLAB_TOKEN": leakHLToken,
				"CONNECTOR_ID": uuid.NewString(), "HARFANGLAB_POLL_INTERVAL": "300ms",
				"HARFANGLAB_SETTLE_DELAY": "0s", // the alert was just added
				"STATE_DIR":               t.TempDir(), "HTTP_ADDRESS": addr,
			}
			if verify != "" {
				vars["HARFANGLAB_SSL_VERIFY"] = verify
			}
			p := harness.Start(t, vars, "streams", "--no-api",
				"-o", harness.Pipeline("observability.yaml"), "-r", harness.Pipeline("resources.yaml"),
				harness.Pipeline("opencti-to-harfanglab.yaml"), harness.Pipeline("harfanglab-to-opencti.yaml"))
			worked := func() bool {
				return len(hl.IOCs("from_OpenCTI")) == 1 && len(octi.ObjectsOfType("incident")) == 1
			}
			if verify == "" {
				time.Sleep(failWait + 2*time.Second)
				assert.False(t, worked())
				assert.Zero(t, hl.Faults().Requests(), "no request may pass an unverified TLS handshake")
				assert.True(t, strings.Contains(p.Logs(), "certificate"), "the log says the certificate is not trusted:\n%s", tail(p.Logs()))
			} else {
				p.Eventually(60*time.Second, worked, "both pipelines work with verification off")
			}
			// Killed, not stopped, when HarfangLab was never reached: a graceful stop then takes
			// ~22 s (outputs that never connected wait for the shutdown timeout).
			if verify == "" {
				p.Kill()
			} else {
				p.Stop()
			}
			assert.NotContains(t, p.Logs(), leakHLToken)
			assert.NotContains(t, p.Logs(), leakOCTIToken)
		})
	}
}
