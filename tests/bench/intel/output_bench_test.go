// Package intel_bench measures the harfanglab_intel output against the HarfangLab simulator
// with the latency and concurrency cap of a real server. Run with:
//
//	BENCH=1 go test -run . -v ./tests/bench/intel/
package intel_bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/faults"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/harfanglab"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

const (
	token         = "bench-token"
	listName      = "from_OpenCTI"
	latency       = 20 * time.Millisecond
	maxConcurrent = 32
	// limit is what the simulator can serve: maxConcurrent requests every latency.
	limit = float64(maxConcurrent) / 0.020
)

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func skipUnlessBench(t *testing.T) {
	if os.Getenv("BENCH") == "" {
		t.Skip("set BENCH=1 to run the benchmarks")
	}
}

func startSim(t *testing.T) *hlsim.Server {
	t.Helper()
	sim := hlsim.New(token)
	_, err := sim.Start("")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// runOutput builds a stream "producer → harfanglab_intel" and returns the producer and a stop func.
func runOutput(t *testing.T, sim *hlsim.Server) (service.MessageHandlerFunc, func()) {
	t.Helper()
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML("level: WARN"))
	produce, err := b.AddProducerFunc()
	require.NoError(t, err)
	require.NoError(t, b.AddOutputYAML(fmt.Sprintf(`
harfanglab_intel:
  url: %s
  token: %s
  max_in_flight: %d
`, sim.URL(), token, maxConcurrent)))
	s, err := b.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("stream: %v", err)
		}
	}()
	return produce, func() {
		_ = s.StopWithin(10 * time.Second)
		cancel()
		<-done
	}
}

func change(i int, seq string, live bool) []byte {
	c := intel.Change{
		Owner: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Via: intel.ViaPattern, Seq: seq, Live: live,
		Name: fmt.Sprintf("indicator %d", i), Score: 50, Maturity: "stable",
	}
	if live {
		c.IOCs = []intel.IOC{{Type: intel.TypeDomainName, Value: fmt.Sprintf("bench-%d.example.com", i)}}
	}
	b, _ := c.Encode()
	return b
}

// feed sends n messages through produce from many goroutines (the engine caps concurrency).
func feed(t *testing.T, produce service.MessageHandlerFunc, n int, body func(i int) []byte) time.Duration {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 2 * maxConcurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := produce(context.Background(), service.NewMessage(body(i))); err != nil {
					t.Errorf("change %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// TestOutputThroughput: 10 000 indicators (one IOC each) created, then all removed, against a
// simulator answering in 20 ms with at most 32 requests at once.
func TestOutputThroughput(t *testing.T) {
	skipUnlessBench(t)
	const n = 10_000
	sim := startSim(t)
	sim.Faults().Set(faults.Config{Latency: latency, MaxConcurrent: maxConcurrent})
	produce, stop := runOutput(t, sim)
	defer stop()

	// Startup (list lookup/creation, index load) is paid by the first message.
	feed(t, produce, 1, func(int) []byte { return change(n, "1-0", true) })
	sim.Faults().ResetCounters()
	writes0 := sim.WriteCount()

	elapsed := feed(t, produce, n, func(i int) []byte { return change(i, "2-0", true) })
	reqs := sim.Faults().Requests()
	require.Len(t, sim.IOCs(listName), n+1)
	rate := float64(sim.WriteCount()-writes0) / elapsed.Seconds()
	t.Logf("create: %d IOCs in %v: %.0f writes/s = %.2f of the %.0f req/s limit; %.3f requests per IOC; peak concurrency %d",
		n, elapsed.Round(time.Millisecond), rate, rate/limit, limit, float64(reqs)/n, sim.Faults().PeakConcurrency())

	sim.Faults().ResetCounters()
	writes0 = sim.WriteCount()
	elapsed = feed(t, produce, n, func(i int) []byte { return change(i, "3-0", false) })
	require.Len(t, sim.IOCs(listName), 1)
	rate = float64(sim.WriteCount()-writes0) / elapsed.Seconds()
	t.Logf("delete: %d IOCs in %v: %.0f writes/s = %.2f of the limit; %.3f requests per IOC",
		n, elapsed.Round(time.Millisecond), rate, rate/limit, float64(sim.Faults().Requests())/n)

	sim.Faults().ResetCounters()
	elapsed = feed(t, produce, n, func(i int) []byte { return change(i, "3-0", false) })
	t.Logf("replay of the %d deletes: %d requests in %v", n, sim.Faults().Requests(), elapsed.Round(time.Millisecond))
}

// TestIndexLoad100k: start time with 100 000 entries already in the IOC list.
func TestIndexLoad100k(t *testing.T) {
	skipUnlessBench(t)
	const n = 100_000
	sim := startSim(t)
	sim.SeedIOCs(listName, n)
	heap0 := heapInUse()
	produce, stop := runOutput(t, sim)
	defer stop()
	sim.Faults().ResetCounters()
	start := time.Now()
	// The first message waits for Connect (lists + index load); the change itself is one POST.
	feed(t, produce, 1, func(int) []byte { return change(n+1, "1-0", true) })
	elapsed := time.Since(start)
	t.Logf("index load of %d entries + first write: %v (%d requests); heap grew by %.0f MB (~%.0f bytes per entry)",
		n, elapsed.Round(time.Millisecond), sim.Faults().Requests(), float64(heapInUse()-heap0)/1e6, float64(heapInUse()-heap0)/n)
	require.Len(t, sim.IOCs(listName), n+1)
}

// TestIndexHeapPerIOC: live heap the harfanglab_intel output keeps per owned IOC after a
// first-run backfill of BENCH_HEAP_IOCS indicators (default 20 000, one IOC each). Every
// allocation is recorded (MemProfileRate 1) and, after a GC, the bytes still live whose
// allocation stack passes through plugins/harfanglab are summed: the simulator's own copy
// of the list, which shares the process, is left out.
func TestIndexHeapPerIOC(t *testing.T) {
	skipUnlessBench(t)
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("BENCH_HEAP_IOCS")); err == nil && v > 0 {
		n = v
	}
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = old }()

	sim := startSim(t)
	produce, stop := runOutput(t, sim)
	defer stop()
	feed(t, produce, n, func(i int) []byte { return change(i, "2-0", true) })
	require.Len(t, sim.IOCs(listName), n)

	live, top := outputHeap()
	t.Logf("index heap after a backfill of %d indicators: %.0f bytes per IOC (%.1f MB live in plugins/harfanglab)",
		n, float64(live)/float64(n), float64(live)/1e6)
	for _, s := range top {
		t.Logf("  %6.0f B/IOC  %s", float64(s.bytes)/float64(n), s.site)
	}
	require.Positive(t, live)
	require.LessOrEqual(t, float64(live)/float64(n), 400.0, "issue 12: at most 400 bytes of live heap per owned IOC")
}

type heapSite struct {
	site  string
	bytes int64
}

// outputHeap sums the live bytes allocated under plugins/harfanglab (not the simulator), and
// returns the largest allocation sites (the innermost plugins/harfanglab frame).
func outputHeap() (int64, []heapSite) {
	runtime.GC()
	runtime.GC() // the profile reflects the heap as of the last completed GC
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+64)
		var ok bool
		if n, ok = runtime.MemProfile(recs, true); ok {
			recs = recs[:n]
			break
		}
	}
	const pkg = "/plugins/harfanglab."
	sites := map[string]int64{}
	var total int64
	for _, r := range recs {
		if r.InUseBytes() == 0 {
			continue
		}
		frames := runtime.CallersFrames(r.Stack())
		for {
			f, more := frames.Next()
			if strings.Contains(f.Function, pkg) {
				total += r.InUseBytes()
				sites[f.Function[strings.LastIndex(f.Function, "/")+1:]+":"+strconv.Itoa(f.Line)] += r.InUseBytes()
				break
			}
			if !more {
				break
			}
		}
	}
	var top []heapSite
	for s, b := range sites {
		top = append(top, heapSite{s, b})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].bytes > top[j].bytes })
	return total, top[:min(len(top), 12)]
}
