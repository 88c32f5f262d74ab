package intel_bench

import (
	"encoding/json"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/faults"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/harness"
)

const (
	octiToken = "bench-octi-token"
	extOCTI   = "extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba"
)

// startPipeline runs the binary on pipelines/opencti-to-harfanglab.yaml against both simulators.
func startPipeline(t *testing.T, hl, octi string) (*harness.Proc, string) {
	t.Helper()
	addr := harness.FreeAddr(t)
	p := harness.Start(t, map[string]string{
		"OPENCTI_URL": octi, "OPENCTI_TOKEN": octiToken, "CONNECTOR_ID": "9f0c3a52-7d1e-4b8a-a6f3-2c5e8d7b1a40",
		"HARFANGLAB_URL": hl, "HARFANGLAB_TOKEN": token,
		"STATE_DIR": t.TempDir(), "HTTP_ADDRESS": addr, "LOG_LEVEL": "INFO",
	}, "streams", "--no-api",
		"-o", harness.Pipeline("observability.yaml"),
		"-r", harness.Pipeline("resources.yaml"),
		harness.Pipeline("opencti-to-harfanglab.yaml"))
	require.NoError(t, p.WaitReady(addr, time.Minute))
	return p, addr
}

func publishIndicator(t *testing.T, octi *openctisim.Server, i int) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	data := map[string]any{
		"id": fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i), "type": "indicator", "spec_version": "2.1",
		"name": fmt.Sprintf("bench %d", i), "pattern": fmt.Sprintf("[domain-name:value = 'pipe-%d.example.com']", i),
		"pattern_type": "stix", "created": now, "modified": now,
		"extensions": map[string]any{extOCTI: map[string]any{"id": fmt.Sprintf("bench-%d", i), "score": 60, "detection": true, "updated_at": now}},
	}
	b, err := json.Marshal(map[string]any{"version": "4", "type": "create", "data": data, "message": "creates"})
	require.NoError(t, err)
	octi.Publish("live", "create", b)
}

// TestPipelineThroughput: 10 000 indicators through the binary (stream → processor → output),
// HarfangLab answering in 20 ms with at most 32 requests at once.
func TestPipelineThroughput(t *testing.T) {
	skipUnlessBench(t)
	const n = 10_000
	hl := startSim(t)
	hl.Faults().Set(faults.Config{Latency: latency, MaxConcurrent: maxConcurrent})
	octi := openctisim.New(octiToken)
	octiURL, err := octi.Start("")
	require.NoError(t, err)
	t.Cleanup(func() { _ = octi.Close() })
	for i := range n {
		publishIndicator(t, octi, i)
	}
	p, _ := startPipeline(t, hl.URL(), octiURL)

	// Steady state starts with the first IOC written (lists found/created and loaded).
	p.Eventually(time.Minute, func() bool { return len(hl.IOCs(listName)) > 0 }, "no IOC written")
	start := time.Now()
	hl.Faults().ResetCounters()
	base := len(hl.IOCs(listName))
	w0 := hl.WriteCount()
	p.Eventually(5*time.Minute, func() bool { return len(hl.IOCs(listName)) == n }, "not all IOCs written")
	elapsed := time.Since(start)
	created := n - base
	rate := float64(hl.WriteCount()-w0) / elapsed.Seconds()
	t.Logf("pipeline: %d IOCs in %v: %.0f IOC writes/s = %.2f of the %.0f req/s limit; %.3f requests per IOC after startup; peak concurrency %d",
		created, elapsed.Round(time.Millisecond), rate, rate/limit, limit, float64(hl.Faults().Requests())/float64(created), hl.Faults().PeakConcurrency())
}

var loadedRe = regexp.MustCompile(`loaded: (\d+) entries, \d+ owners, in ([0-9.]+m?s)`)

// TestPipelineIndexLoad100k: start of the binary with 100 000 entries already in the IOC list.
func TestPipelineIndexLoad100k(t *testing.T) {
	skipUnlessBench(t)
	hl := startSim(t)
	hl.SeedIOCs(listName, 100_000)
	octi := openctisim.New(octiToken)
	octiURL, err := octi.Start("")
	require.NoError(t, err)
	t.Cleanup(func() { _ = octi.Close() })
	start := time.Now()
	p, _ := startPipeline(t, hl.URL(), octiURL)
	var m []string
	p.Eventually(2*time.Minute, func() bool { m = loadedRe.FindStringSubmatch(p.Logs()); return m != nil }, "index never loaded")
	t.Logf("binary start with 100 000 IOCs: index of %s entries loaded in %s (%v from process start)", m[1], m[2], time.Since(start).Round(time.Millisecond))
}
