package intel_bench

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/faults"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/harness"
)

const (
	octiToken = "bench-octi-token"
	extOCTI   = "extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba"
)

// envSize is the positive integer in the environment variable name, or def.
func envSize(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// startPipeline runs the binary on pipelines/opencti-to-harfanglab.yaml against both simulators.
// ready bounds the wait for the binary's readiness (the intel output connects before it).
func startPipeline(t *testing.T, hl, octi string, ready time.Duration) (*harness.Proc, string) {
	t.Helper()
	addr := harness.FreeAddr(t)
	observability := harness.Pipeline("observability.yaml")
	if os.Getenv("BENCH_PIPELINE_PPROF") != "" { // /debug/pprof on the binary's HTTP server
		b, err := os.ReadFile(observability)
		require.NoError(t, err)
		observability = filepath.Join(t.TempDir(), "observability.yaml")
		conf := strings.Replace(string(b), "http:\n", "http:\n  debug_endpoints: true\n", 1)
		require.NoError(t, os.WriteFile(observability, []byte(conf), 0o600))
	}
	p := harness.Start(t, map[string]string{
		"OPENCTI_URL": octi, "OPENCTI_TOKEN": octiToken, "CONNECTOR_ID": "9f0c3a52-7d1e-4b8a-a6f3-2c5e8d7b1a40",
		"HARFANGLAB_URL": hl, "HARFANGLAB_TOKEN": token,
		"STATE_DIR": t.TempDir(), "HTTP_ADDRESS": addr, "LOG_LEVEL": "INFO",
	}, "streams", "--no-api",
		"-o", observability,
		"-r", harness.Pipeline("resources.yaml"),
		harness.Pipeline("opencti-to-harfanglab.yaml"))
	require.NoError(t, p.WaitReady(addr, ready))
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

// TestPipelineThroughput: BENCH_PIPELINE_INDICATORS (default 10 000) indicators through the
// binary (stream → processor → output), HarfangLab answering in 20 ms with at most 32
// requests at once, from an empty HarfangLab.
func TestPipelineThroughput(t *testing.T) {
	skipUnlessBench(t)
	n := envSize("BENCH_PIPELINE_INDICATORS", 10_000)
	hl := startSim(t)
	hl.Faults().Set(faults.Config{Latency: latency, MaxConcurrent: maxConcurrent})
	octi := openctisim.New(octiToken)
	octiURL, err := octi.Start("")
	require.NoError(t, err)
	t.Cleanup(func() { _ = octi.Close() })
	for i := range n {
		publishIndicator(t, octi, i)
	}
	p, addr := startPipeline(t, hl.URL(), octiURL, time.Minute)

	// Steady state starts with the first IOC written (lists found/created and loaded).
	// IOCCount, not len(IOCs): a copy of the whole list every poll would hold the simulator's
	// lock for milliseconds and slow what is measured.
	p.Eventually(time.Minute, func() bool { return hl.IOCCount(listName) > 0 }, "no IOC written")
	start := time.Now()
	hl.Faults().ResetCounters()
	base := hl.IOCCount(listName)
	w0 := hl.WriteCount()
	prog := newProgress(t, p.Pid(), hl)
	if f := os.Getenv("BENCH_PIPELINE_PPROF"); f != "" {
		go cpuProfile(t, addr, f) // 30 s of the steady state
	}
	// Room for a rate of a fifth of the limit.
	p.Eventually(max(5*time.Minute, time.Duration(float64(n)/(limit/5)*float64(time.Second))),
		func() bool { prog.tick(false); return hl.IOCCount(listName) == n }, "not all IOCs written")
	elapsed := time.Since(start)
	created := n - base
	rate := float64(hl.WriteCount()-w0) / elapsed.Seconds()
	binCPU, simCPU := prog.total()
	t.Logf("pipeline: %d IOCs in %v: %.0f IOC writes/s = %.2f of the %.0f req/s limit; %.3f requests per IOC after startup; peak concurrency %d; CPU: binary %.0f µs per IOC (%.2f cores), simulators %.2f cores",
		created, elapsed.Round(time.Millisecond), rate, rate/limit, limit, float64(hl.Faults().Requests())/float64(created), hl.Faults().PeakConcurrency(),
		float64(binCPU.Microseconds())/float64(created), binCPU.Seconds()/elapsed.Seconds(), simCPU.Seconds()/elapsed.Seconds())
}

// cpuProfile writes a 30 s CPU profile of the binary to file (BENCH_PIPELINE_PPROF=<file>).
func cpuProfile(t *testing.T, addr, file string) {
	resp, err := http.Get("http://" + addr + "/debug/pprof/profile?seconds=30")
	if err != nil {
		t.Logf("CPU profile: %v", err)
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(file, b, 0o600)
	}
	t.Logf("CPU profile of the binary written to %s (%v)", file, err)
}

// progress logs, every 20 s of a long run, the write rate and the CPU the binary and this
// process (both simulators) used meanwhile: which side limits the rate.
type progress struct {
	t                    *testing.T
	pid                  int
	hl                   *hlsim.Server
	start, last          time.Time
	writes0, writes      int64
	bin0, sim0, bin, sim time.Duration
}

func newProgress(t *testing.T, pid int, hl *hlsim.Server) *progress {
	p := &progress{t: t, pid: pid, hl: hl, start: time.Now()}
	p.last, p.writes0 = p.start, hl.WriteCount()
	p.bin0, _ = harness.ProcCPU(pid)
	p.sim0, _ = harness.ProcCPU(os.Getpid())
	p.writes, p.bin, p.sim = p.writes0, p.bin0, p.sim0
	return p
}

func (p *progress) tick(force bool) {
	now := time.Now()
	if !force && now.Sub(p.last) < 20*time.Second {
		return
	}
	w := p.hl.WriteCount()
	bin, _ := harness.ProcCPU(p.pid)
	sim, _ := harness.ProcCPU(os.Getpid())
	d := now.Sub(p.last).Seconds()
	p.t.Logf("  +%3.0fs: %.0f writes/s; CPU binary %.2f cores, simulators %.2f cores", now.Sub(p.start).Seconds(),
		float64(w-p.writes)/d, (bin-p.bin).Seconds()/d, (sim-p.sim).Seconds()/d)
	p.last, p.writes, p.bin, p.sim = now, w, bin, sim
}

// total is the CPU time of the binary and of this process since the progress began.
func (p *progress) total() (bin, sim time.Duration) {
	b, _ := harness.ProcCPU(p.pid)
	s, _ := harness.ProcCPU(os.Getpid())
	return b - p.bin0, s - p.sim0
}

// loadedRe is the output's log line at the end of the index load (a time.Duration string:
// "850ms", "1.8s", "1m4.2s").
var loadedRe = regexp.MustCompile(`loaded: (\d+) entries, \d+ owners, in ([0-9.hmsµ]+)`)

// TestPipelineIndexLoad: start of the binary with BENCH_INDEX_ENTRIES (default 100 000)
// entries already in the IOC list; the figure is the index load the output logs.
func TestPipelineIndexLoad(t *testing.T) {
	skipUnlessBench(t)
	n := envSize("BENCH_INDEX_ENTRIES", 100_000)
	hl := startSim(t)
	hl.SeedIOCs(listName, n)
	octi := openctisim.New(octiToken)
	octiURL, err := octi.Start("")
	require.NoError(t, err)
	t.Cleanup(func() { _ = octi.Close() })
	wait := max(2*time.Minute, time.Duration(n)*time.Millisecond/2) // 2 000 entries/s at worst
	// Built before the clock starts.
	harness.Binary(t)
	start := time.Now()
	hl.Faults().ResetCounters()
	p, _ := startPipeline(t, hl.URL(), octiURL, wait)
	var m []string
	p.Eventually(wait, func() bool { m = loadedRe.FindStringSubmatch(p.Logs()); return m != nil }, "index never loaded")
	t.Logf("binary start with %d IOCs: index of %s entries loaded in %s (%v from process start, %d requests)",
		n, m[1], m[2], time.Since(start).Round(time.Millisecond), hl.Faults().Requests())
	require.Equal(t, strconv.Itoa(n), m[1])
}
