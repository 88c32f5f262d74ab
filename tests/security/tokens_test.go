package security

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/faults"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/harfanglab"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/opencti"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/deploy"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/harness"
)

// Distinctive tokens: any appearance in output is a leak, never a coincidence.
const (
	leakHLToken   = deploy.HLToken
	leakOCTIToken = deploy.OCTIToken
)

// deployment is both simulators and the binary running both pipelines in one process, the
// binary given hlToken and octiToken (right or wrong) and logging at DEBUG.
type deployment struct {
	*deploy.Deployment
	t *testing.T
}

func newDeployment(t *testing.T, hlToken, octiToken string) *deployment {
	t.Helper()
	d := &deployment{Deployment: deploy.New(t), t: t}
	d.Vars["HARFANGLAB_TOKEN"], d.Vars["OPENCTI_TOKEN"], d.Vars["LOG_LEVEL"] = hlToken, octiToken, "DEBUG"
	return d
}

func (d *deployment) start() (*harness.Proc, string) {
	p := d.Start(0, deploy.IntelPush, deploy.DetectionsPull)
	return p, d.Addr
}

// seed publishes n indicators (the last one with a pattern that does not parse, so the
// dead-letter path runs too) and adds n alerts with their rules.
func (d *deployment) seed(n int) {
	for i := range n {
		pattern := fmt.Sprintf("[domain-name:value = 'leak-%d.example']", i)
		if i == n-1 {
			pattern = "[domain-name:value = 'unterminated]"
		}
		// Distinct modification times: the recover snapshot groups elements by updated_at ms.
		ind := openctisim.Indicator{InternalID: uuid.NewString(), Name: fmt.Sprint("leak ", i), Pattern: pattern, Score: 60,
			Modified: time.Now().Add(time.Duration(i-n) * time.Second)}
		d.OCTI.Publish("live", "create", openctisim.IndicatorEvent("create", ind, nil))
		a := d.HL.SampleAlert(hlsim.SampleKinds[i%len(hlsim.SampleKinds)], i)
		kind, rule := hlsim.SampleRuleFor(a, "indicator--"+uuid.NewString())
		d.HL.AddRule(kind, rule)
		d.HL.AddAlert(a)
	}
}

// leakIOCs counts the IOC rules made from the seeded indicators.
func (d *deployment) leakIOCs() int {
	n := 0
	for _, r := range d.HL.IOCs("from_OpenCTI") {
		if strings.HasPrefix(r.Value, "leak-") {
			n++
		}
	}
	return n
}

// assertNoToken scans the process output and every file under STATE_DIR (cursors,
// dead letters) for both tokens.
func (d *deployment) assertNoToken(logs string, tokens ...string) {
	d.t.Helper()
	require.NotEmpty(d.t, logs)
	for _, tok := range tokens {
		assert.NotContains(d.t, logs, tok, "token in the process output")
	}
	files := 0
	err := filepath.WalkDir(d.State, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, tok := range tokens {
			assert.NotContains(d.t, string(b), tok, "token in %s", path)
		}
		return nil
	})
	require.NoError(d.t, err)
	d.t.Logf("scanned %d bytes of logs and %d state files", len(logs), files)
}

// TestTokensNeverPrintedUnderFaults runs both pipelines at DEBUG level through HarfangLab
// 429/5xx/dropped connections, OpenCTI GraphQL errors and 503s, stream 503s and disconnects,
// and a dead-lettered event, then stops gracefully: no token in any output or state file.
func TestTokensNeverPrintedUnderFaults(t *testing.T) {
	d := newDeployment(t, leakHLToken, leakOCTIToken)
	const n = 20
	d.seed(n)
	d.HL.Faults().Set(faults.Config{Rate429: 0.1, Rate5xx: 0.1, RateDrop: 0.05})
	d.OCTI.SetGraphQLFaults(openctisim.GraphQLFaults{ErrorEvery: 4, Status5xxNext: 3})
	d.OCTI.SetStreamFaults(openctisim.StreamFaults{DisconnectEvery: 5, Status5xxNext: 2})
	p, addr := d.start()
	p.Eventually(90*time.Second, func() bool {
		return d.leakIOCs() == n-1 && len(d.OCTI.ObjectsOfType("incident")) >= n
	}, "both pipelines done: %v", progress(func() string {
		return fmt.Sprintf("%d IOCs, %d incidents", d.leakIOCs(), len(d.OCTI.ObjectsOfType("incident")))
	}))
	for _, path := range []string{"/metrics", "/ready", "/benthos/metrics"} {
		resp, err := http.Get("http://" + addr + path)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.NotContains(t, string(b), leakHLToken, "token served on %s", path)
		assert.NotContains(t, string(b), leakOCTIToken, "token served on %s", path)
	}
	p.Stop()
	assert.Positive(t, d.HL.Faults().Faulted(), "HarfangLab faults were injected")
	assert.Contains(t, p.Logs(), "level=debug", "the run logged at DEBUG")
	_, err := os.Stat(filepath.Join(d.State, "dead-letter", "opencti-to-harfanglab.jsonl"))
	require.NoError(t, err, "the bad pattern was dead-lettered")
	d.assertNoToken(p.Logs(), leakHLToken, leakOCTIToken)
}

// TestWrongTokensNeverPrinted: both tokens rejected (401 on every request); the errors name the
// variable to fix but never the value sent.
func TestWrongTokensNeverPrinted(t *testing.T) {
	const wrongHL, wrongOCTI = "hl-WRONG-0d9a3e55c1", "octi-WRONG-77be02f4aa"
	d := newDeployment(t, wrongHL, wrongOCTI)
	d.seed(3)
	p, _ := d.start()
	p.Eventually(60*time.Second, func() bool {
		l := p.Logs()
		return strings.Contains(l, "OPENCTI_TOKEN") && strings.Contains(strings.ToLower(l), "token")
	}, "errors about the rejected tokens")
	time.Sleep(2 * time.Second) // a few more retries
	p.Stop()
	assert.Contains(t, p.Logs(), "401 Unauthorized", "HarfangLab's refusals were logged")
	assert.Zero(t, d.HL.WriteCount())
	assert.Zero(t, d.OCTI.BundlesPushed())
	d.assertNoToken(p.Logs(), wrongHL, wrongOCTI, leakHLToken, leakOCTIToken)
}

// TestClientErrorsNeverCarryTheToken: the errors the API clients return (which end up in logs
// and dead-letter reasons) for 401, 5xx after retries, and network failures.
func TestClientErrorsNeverCarryTheToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hl := hlsim.New("the-right-one")
	hlURL, err := hl.Start("")
	require.NoError(t, err)
	defer hl.Close()
	octi := openctisim.New("the-right-one")
	octiURL, err := octi.Start("")
	require.NoError(t, err)
	defer octi.Close()
	dead := "http://" + harness.FreeAddr(t) // nothing listens there

	for name, u := range map[string]string{"401": hlURL, "network": dead} {
		c, err := harfanglab.NewClient(harfanglab.ClientConfig{URL: u, Token: leakHLToken, MaxRetries: 1, RetryBase: time.Millisecond})
		require.NoError(t, err)
		err = c.Get(ctx, "threat_intelligence/IOCSource/", nil, &map[string]any{})
		require.Error(t, err, name)
		assert.NotContains(t, err.Error(), leakHLToken, "harfanglab client, %s", name)
		assert.NotContains(t, fmt.Sprintf("%+v", err), leakHLToken, "harfanglab client, %s", name)
	}
	hl.Faults().Set(faults.Config{Rate5xx: 1})
	c, err := harfanglab.NewClient(harfanglab.ClientConfig{URL: hlURL, Token: leakHLToken, MaxRetries: 1, RetryBase: time.Millisecond})
	require.NoError(t, err)
	err = c.Get(ctx, "threat_intelligence/IOCSource/", nil, &map[string]any{})
	require.Error(t, err)
	assert.NotContains(t, fmt.Sprintf("%+v", err), leakHLToken, "harfanglab client, 5xx")

	for name, u := range map[string]string{"401": octiURL, "network": dead} {
		g, err := opencti.NewClient(opencti.ClientConfig{URL: u, Token: leakOCTIToken, MaxRetries: 1, RetryBase: time.Millisecond})
		require.NoError(t, err)
		err = g.Do(ctx, "pingConnector", `mutation { pingConnector(id: "x", state: "{}") { id } }`, nil, nil)
		require.Error(t, err, name)
		assert.NotContains(t, fmt.Sprintf("%+v", err), leakOCTIToken, "graphql client, %s", name)
	}
}

// progress formats a state when printed, not when passed.
type progress func() string

func (p progress) String() string { return p() }
