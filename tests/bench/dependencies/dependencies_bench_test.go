// Package dependencies measures what `no_dependencies: false` (CONNECTOR_LIVE_STREAM_NO_DEPENDENCIES)
// adds to a first-run snapshot. It only runs with BENCH=1:
//
//	BENCH=1 go test -run . -v -timeout 30m ./tests/bench/dependencies/
//
// The OpenCTI simulator holds DEPENDENCIES_INDICATORS (default 100 000) indicators, each created
// by one author identity with a based-on relationship to its own Domain-Name, and serves them on
// a stream filtered on indicators with the server's dependency resolution emulated
// (openctisim.SetDependencyResolution, on by default). The opencti_stream input reads the whole snapshot, then
// stix_to_harfanglab turns it into intel changes, once with each setting: events and bytes
// received, seconds from the connection to the last snapshot event, and the intel changes
// (those from based-on relationships are the observables HarfangLab only learns with `false`).
package dependencies

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/opencti"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/statefile"
	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/stix"
)

const (
	token    = "deps-bench-token"
	streamID = "5a1e6f2c-0b8d-4c1e-9a47-000000000001"
	authorID = "identity--7b82b010-b1c0-4dae-981f-7756374a17df"
	quiet    = 2 * time.Second // the snapshot is over when nothing arrived for this long
)

// counts is what reached each stage.
type counts struct {
	mu                     sync.Mutex
	events, bytes, authors int
	last                   time.Time
	changes, basedOn       int
}

// bench_count counts the input's messages and bytes and passes them on.
type countProc struct{ c *counts }

func (p countProc) Process(_ context.Context, m *service.Message) (service.MessageBatch, error) {
	b, err := m.AsBytes()
	if err != nil {
		return nil, err
	}
	p.c.mu.Lock()
	p.c.events++
	p.c.bytes += len(b)
	if bytes.Contains(b, []byte(`"id":"`+authorID+`"`)) {
		p.c.authors++
	}
	p.c.last = time.Now()
	p.c.mu.Unlock()
	return service.MessageBatch{m}, nil
}

func (countProc) Close(context.Context) error { return nil }

var current *counts // the run bench_count reports to (runs are sequential)

func init() {
	err := service.RegisterProcessor("bench_count", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.Processor, error) {
			return countProc{c: current}, nil
		})
	if err != nil {
		panic(err)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// publish fills the simulator: the author, then per indicator its Domain-Name, the indicator and
// the based-on relationship.
func publish(sim *openctisim.Server, n int) {
	sim.Publish(streamID, "create", []byte(`{"version":"4","type":"create","data":{"id":"`+authorID+
		`","type":"identity","spec_version":"2.1","name":"CERT","identity_class":"organization","extensions":{"`+
		openctisim.ExtOpenCTI+`":{"id":"author-internal","type":"Organization"}}}}`))
	for i := range n {
		value := fmt.Sprintf("host-%06d.bench.example", i)
		obsID := fmt.Sprintf("domain-name--00000000-0000-5000-8000-%012d", i)
		sim.Publish(streamID, "create", openctisim.ObservableEvent("create", fmt.Sprintf("obs-%d", i), "domain-name", obsID, "Domain-Name", value))
		ind := openctisim.Indicator{
			InternalID: fmt.Sprintf("ind-%d", i), Name: value, Score: 80, CreatedByRef: authorID,
			Pattern: "[domain-name:value = '" + value + "']",
		}
		sim.Publish(streamID, "create", openctisim.IndicatorEvent("create", ind, nil))
		sim.Publish(streamID, "create", openctisim.BasedOnEvent("create", openctisim.BasedOn{
			InternalID: fmt.Sprintf("rel-%d", i), Indicator: ind, TargetType: "Domain-Name",
			TargetValue: value, TargetStixID: obsID,
		}))
	}
}

// run reads the whole snapshot once with the given setting.
func run(t *testing.T, u string, noDependencies bool) (*counts, time.Duration, time.Duration) {
	c := &counts{}
	current = c
	dir := t.TempDir()
	builder := service.NewStreamBuilder()
	require.NoError(t, builder.AddInputYAML(fmt.Sprintf(`opencti_stream:
  url: %s
  token: %s
  stream_id: %s
  no_dependencies: %v
  checkpoint_cache: cursor
`, u, token, streamID, noDependencies)))
	require.NoError(t, builder.AddResourcesYAML("cache_resources:\n  - label: cursor\n    state_file:\n      directory: "+dir+"\n"))
	require.NoError(t, builder.AddProcessorYAML("bench_count: {}"))
	require.NoError(t, builder.AddProcessorYAML("stix_to_harfanglab: {}"))
	require.NoError(t, builder.AddConsumerFunc(func(_ context.Context, m *service.Message) error {
		b, err := m.AsBytes()
		if err != nil {
			return err
		}
		var ch intel.Change
		if err := json.Unmarshal(b, &ch); err != nil {
			return err
		}
		c.mu.Lock()
		c.changes++
		if ch.Via != intel.ViaPattern {
			c.basedOn++
		}
		c.mu.Unlock()
		return nil
	}))
	require.NoError(t, builder.SetLoggerYAML("level: WARN"))
	s, err := builder.Build()
	require.NoError(t, err)

	cpu0 := cpuTime()
	start := time.Now()
	go func() { _ = s.Run(context.Background()) }()
	for {
		time.Sleep(200 * time.Millisecond)
		c.mu.Lock()
		done := !c.last.IsZero() && time.Since(c.last) > quiet
		c.mu.Unlock()
		if done {
			break
		}
		require.Less(t, time.Since(start), 20*time.Minute, "snapshot not read")
	}
	cpu := cpuTime() - cpu0 // includes the quiet period, which costs next to nothing
	require.NoError(t, s.StopWithin(10*time.Second))
	return c, c.last.Sub(start), cpu
}

// cpuTime is the CPU time of the test process (simulator and pipeline share it).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestNoDependenciesSnapshot(t *testing.T) {
	if os.Getenv("BENCH") != "1" {
		t.Skip("set BENCH=1")
	}
	n := envInt("DEPENDENCIES_INDICATORS", 100_000)
	sim := openctisim.New(token)
	u, err := sim.Start("")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: time.Second})
	sim.SetDependencyResolution(true) // the default: said for the reader
	sim.SetStreamFilter(streamID, "indicator")
	t0 := time.Now()
	publish(sim, n)
	t.Logf("simulator filled with %d indicators, %d observables, %d based-on in %s", n, n, n, time.Since(t0).Round(time.Millisecond))

	// A stream filtered on indicators (what the legacy connector was given), then the same
	// stream unfiltered (like the default `live`), where observables and relationships are
	// snapshot elements of their own.
	filtered := measure(t, u, n, "filtered stream")
	// With true each indicator; with false each indicator's based-on relationship, its
	// observable and the indicator itself (the relationship names it as a missing ref). Both
	// send the author again each time it fell out of the connection's 5 000-entry LRU: three
	// times as often with false.
	on, off := filtered[true], filtered[false]
	require.Equal(t, n, on.c.events-on.c.authors)
	require.Equal(t, 3*n, off.c.events-off.c.authors)
	require.LessOrEqual(t, on.c.authors, n/(openctisim.LiveStreamCacheSize-1)+1)
	require.LessOrEqual(t, off.c.authors, 3*n/(openctisim.LiveStreamCacheSize-1)+1)
	require.Zero(t, on.c.basedOn, "no based-on relationship reaches a filtered stream with no_dependencies=true")
	require.Equal(t, n, off.c.basedOn)

	if os.Getenv("DEPENDENCIES_UNFILTERED") == "0" {
		return
	}
	sim.SetStreamFilter(streamID)
	unfiltered := measure(t, u, n, "unfiltered stream")
	// Every element is in the snapshot either way: false sends the same elements, earlier and
	// as dependencies, and costs the server one relation lookup per element.
	for _, noDeps := range []bool{true, false} {
		r := unfiltered[noDeps]
		require.Equal(t, 3*n, r.c.events-r.c.authors, "no_dependencies=%v", noDeps)
		require.Equal(t, n, r.c.basedOn, "no_dependencies=%v", noDeps)
	}
}

type result struct {
	c         *counts
	wall, cpu time.Duration
}

// measure reads the snapshot with both settings and logs the figures.
func measure(t *testing.T, u string, n int, what string) map[bool]result {
	results := map[bool]result{}
	for _, noDeps := range []bool{true, false} {
		c, wall, cpu := run(t, u, noDeps)
		results[noDeps] = result{c, wall, cpu}
		t.Logf("%s, no_dependencies=%v: %d events (%d of them the author), %.1f MB, %.2f s (CPU %.2f s), %d intel changes (%d from based-on)",
			what, noDeps, c.events, c.authors, float64(c.bytes)/1e6, wall.Seconds(), cpu.Seconds(), c.changes, c.basedOn)
	}
	on, off := results[true], results[false]
	t.Logf("DEPENDENCIES %s, %d indicators: no_dependencies=false adds %d events (x%.2f), %.1f MB (x%.2f), %.2f s (x%.2f), CPU x%.2f; based-on observables %d vs %d",
		what, n, off.c.events-on.c.events, float64(off.c.events)/float64(on.c.events),
		float64(off.c.bytes-on.c.bytes)/1e6, float64(off.c.bytes)/float64(on.c.bytes),
		(off.wall - on.wall).Seconds(), off.wall.Seconds()/on.wall.Seconds(), off.cpu.Seconds()/on.cpu.Seconds(),
		off.c.basedOn, on.c.basedOn)
	return results
}
