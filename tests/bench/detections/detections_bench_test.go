// Package detections benchmarks the detections pull (HarfangLab → OpenCTI). The tests only run
// with BENCH=1:
//
//	BENCH=1 go test -run . -v ./tests/bench/detections/
//
// TestDetectionsEndToEnd runs the real binary on pipelines/harfanglab-to-opencti.yaml against
// both simulators with 10 ms of latency each; TestAlertsInputAlone measures the
// harfanglab_alerts input by itself (StreamBuilder, drop output).
package detections

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/harfanglab"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/faults"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/harness"
)

const (
	hlToken   = "hl-bench-token"
	octiToken = "octi-bench-token"
	latency   = 10 * time.Millisecond
	// distinctRules: alerts come from a limited set of rules, as in real detections.
	distinctRules = 350
)

func alertCount() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_ALERTS")); err == nil && n > 0 {
		return n
	}
	return 20000
}

func benchOnly(t *testing.T) {
	if os.Getenv("BENCH") == "" {
		t.Skip("benchmark: set BENCH=1")
	}
}

// seedAlerts fills the simulator with n alerts of every type cycling over distinctRules rules,
// each rule present in the connector's lists (IOC rules with an OpenCTI indicator id).
func seedAlerts(hl *hlsim.Server, n int) {
	for j := 0; j < distinctRules; j++ {
		a := hl.SampleAlert(hlsim.SampleKinds[j%len(hlsim.SampleKinds)], j)
		kind, rule := hlsim.SampleRuleFor(a, "indicator--"+uuid.NewSHA1(uuid.NameSpaceOID, []byte(strconv.Itoa(j))).String())
		if kind == "ioc" || j < len(hlsim.SampleKinds)*3 { // sigma/yara rules repeat every 3 titles
			hl.AddRule(kind, rule)
		}
	}
	// One alert per millisecond of alert_time, ending now: a real console's rate at most. (All
	// in one second, one status × type would exceed the 10 000 result window HarfangLab pages
	// through within a second.)
	start := time.Now().UTC().Add(-time.Duration(n) * time.Millisecond)
	for i := 0; i < n; i++ {
		a := hl.SampleAlert(hlsim.SampleKinds[i%len(hlsim.SampleKinds)], i%distinctRules)
		a["alert_time"] = start.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000000+00:00")
		hl.AddAlert(a)
	}
}

func TestDetectionsEndToEnd(t *testing.T) {
	benchOnly(t)
	n := alertCount()
	hl := hlsim.New(hlToken)
	hlURL, err := hl.Start("")
	require.NoError(t, err)
	defer hl.Close()
	octi := openctisim.New(octiToken)
	octiURL, err := octi.Start("")
	require.NoError(t, err)
	defer octi.Close()
	seedAlerts(hl, n)
	hl.Faults().Set(faults.Config{Latency: latency})
	octi.Faults().Set(faults.Config{Latency: latency})
	hl.Faults().ResetCounters()
	octi.Faults().ResetCounters()

	addr := harness.FreeAddr(t)
	vars := map[string]string{
		"OPENCTI_URL": octiURL, "OPENCTI_TOKEN": octiToken, "CONNECTOR_ID": uuid.NewString(),
		"HARFANGLAB_URL": hlURL, "HARFANGLAB_TOKEN": hlToken, "HARFANGLAB_POLL_INTERVAL": "1s",
		"HARFANGLAB_SETTLE_DELAY":                     "0s", // measure the pull, not the wait for fresh alerts
		"HARFANGLAB_IMPORT_THREATS_AS_CASE_INCIDENTS": "false",
		"STATE_DIR": t.TempDir(), "HTTP_ADDRESS": addr, "LOG_LEVEL": "WARN",
	}
	pipeline := harness.Pipeline("harfanglab-to-opencti.yaml")
	if os.Getenv("BENCH_TUNED") != "" {
		pipeline = tunedPipeline(t, pipeline)
	}
	harness.Binary(t) // build outside the measurement
	start := time.Now()
	p := harness.Start(t, vars, "streams", "--no-api",
		"-o", harness.Pipeline("observability.yaml"),
		"-r", harness.Pipeline("resources.yaml"),
		pipeline)
	p.Eventually(15*time.Minute, func() bool { return octi.BundlesPushed() >= n }, "%d bundles pushed", n)
	elapsed := time.Since(start)
	p.Stop()

	hlReq, octiReq := hl.Faults().Requests(), octi.Faults().Requests()
	t.Logf("end to end: %d alerts in %v = %.0f alerts/s (incl. start-up); latency %v on both simulators",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), latency)
	t.Logf("requests per alert: HarfangLab %.3f (%d), OpenCTI %.3f (%d)",
		float64(hlReq)/float64(n), hlReq, float64(octiReq)/float64(n), octiReq)
}

// tunedPipeline writes a copy of the pipeline whose opencti output batches 100 bundles per work
// with 16 batches in flight (BENCH_TUNED=1), to compare with the shipped settings.
func tunedPipeline(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	const anchor = "                connector_name: ${CONNECTOR_NAME:HarfangLab}\n"
	require.Contains(t, string(b), anchor)
	tuned := strings.Replace(string(b), anchor, anchor+
		"                max_in_flight: 16\n                batching:\n                  count: 100\n                  period: 200ms\n", 1)
	out := filepath.Join(t.TempDir(), "harfanglab-to-opencti.yaml")
	require.NoError(t, os.WriteFile(out, []byte(tuned), 0o600))
	return out
}

func TestAlertsInputAlone(t *testing.T) {
	benchOnly(t)
	n := alertCount()
	hl := hlsim.New(hlToken)
	hlURL, err := hl.Start("")
	require.NoError(t, err)
	defer hl.Close()
	seedAlerts(hl, n)
	hl.Faults().Set(faults.Config{Latency: latency})
	hl.Faults().ResetCounters()

	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML("level: warn"))
	require.NoError(t, b.AddInputYAML(fmt.Sprintf(`
harfanglab_alerts:
  url: %s
  token: %s
  threats: false
  poll_interval: 1s
  settle_delay: 0s # measure the input, not the wait for fresh alerts to settle
  checkpoint_cache: cursor
`, hlURL, hlToken)))
	require.NoError(t, b.AddCacheYAML(fmt.Sprintf("label: cursor\nfile:\n  directory: %s\n", t.TempDir())))
	var got atomic.Int64
	done := make(chan struct{})
	require.NoError(t, b.AddConsumerFunc(func(context.Context, *service.Message) error {
		if got.Add(1) == int64(n) {
			close(done)
		}
		return nil
	}))
	s, err := b.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	go func() {
		if err := s.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("stream: %v", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		t.Fatalf("only %d of %d alerts after 10 minutes", got.Load(), n)
	}
	elapsed := time.Since(start)
	_ = s.StopWithin(5 * time.Second)
	req := hl.Faults().Requests()
	t.Logf("input alone: %d alerts in %v = %.0f alerts/s; HarfangLab requests per alert %.3f (%d), latency %v",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), float64(req)/float64(n), req, latency)
}
