package stix

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// Through the engine: the registered processor, configured in YAML, splits a merge into two
// changes, drops what concerns nothing, and flags an unparsable pattern so `catch` can route it.
func TestPipelineThroughTheEngine(t *testing.T) {
	env := service.NewEnvironment()
	metrics := &recordingMetrics{counts: map[string]int64{}}
	require.NoError(t, env.RegisterMetricsExporter("recording", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Logger) (service.MetricsExporter, error) { return metrics, nil }))
	b := env.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML(`level: none`))
	require.NoError(t, b.SetMetricsYAML(`recording: {}`))
	produce, err := b.AddProducerFunc()
	require.NoError(t, err)
	require.NoError(t, b.AddProcessorYAML(`stix_to_harfanglab: { rule_maturity: testing, block_min_score: 50 }`))
	require.NoError(t, b.AddProcessorYAML(`catch: [ { mapping: 'root = {"dead_letter": error()}' } ]`))
	var mu sync.Mutex
	var got []string
	require.NoError(t, b.AddConsumerFunc(func(_ context.Context, m *service.Message) error {
		body, err := m.AsBytes()
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, string(body))
		return nil
	}))
	stream, err := b.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- stream.Run(ctx) }()

	absorbed := indicatorObject(`[domain-name:value = 'b.com']`)
	octiExt(absorbed)["id"] = "absorbed"
	events := []*service.Message{
		streamMessage("merge", "2-0", envelopeJSON(t, "merge", indicatorObject(`[domain-name:value = 'a.com']`),
			map[string]any{"sources": []any{absorbed}})),
		streamMessage("create", "3-0", envelopeJSON(t, "create", map[string]any{"id": "malware--x", "type": "malware"}, nil)),
		streamMessage("create", "4-0", envelopeJSON(t, "create", indicatorObject(`[domain-name:value = 'a.com'`), nil)),
	}
	for _, m := range events {
		require.NoError(t, produce(ctx, m))
	}
	require.NoError(t, stream.StopWithin(10*time.Second))
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		require.NoError(t, err)
	}

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 3)
	target, err := intel.Decode([]byte(got[0]))
	require.NoError(t, err)
	assert.Equal(t, []intel.IOC{{Type: intel.TypeDomainName, Value: "a.com", Block: true}}, target.IOCs)
	assert.Equal(t, "testing", target.Maturity)
	source, err := intel.Decode([]byte(got[1]))
	require.NoError(t, err)
	assert.Equal(t, "absorbed", source.Owner)
	assert.False(t, source.Live)
	assert.Equal(t, map[string]int64{
		"stix_to_harfanglab_changes_total{live=true}":          1,
		"stix_to_harfanglab_changes_total{live=false}":         1,
		"stix_to_harfanglab_dropped_total{reason=object_type}": 1,
		"stix_to_harfanglab_errors_total{reason=indicator}":    1,
	}, metrics.snapshot("stix_to_harfanglab_"))
	assert.JSONEq(t, `{"dead_letter": "event 4-0: indicator `+testInternalID+` (\"evil indicator\"): invalid STIX pattern: line 1:29: expected ']', found end of pattern"}`, got[2])
}

// recordingMetrics is a metrics exporter that counts counter increments by name and labels.
type recordingMetrics struct {
	mu     sync.Mutex
	counts map[string]int64
}

func (r *recordingMetrics) NewCounterCtor(name string, labelKeys ...string) service.MetricsExporterCounterCtor {
	return func(labelValues ...string) service.MetricsExporterCounter {
		pairs := make([]string, 0, len(labelKeys))
		for i, k := range labelKeys {
			if k != "label" && k != "path" { // added by the engine to every component metric
				pairs = append(pairs, k+"="+labelValues[i])
			}
		}
		return &recordingCounter{r: r, key: name + "{" + strings.Join(pairs, ",") + "}"}
	}
}

func (r *recordingMetrics) NewTimerCtor(string, ...string) service.MetricsExporterTimerCtor {
	return func(...string) service.MetricsExporterTimer { return noopMetric{} }
}

func (r *recordingMetrics) NewGaugeCtor(string, ...string) service.MetricsExporterGaugeCtor {
	return func(...string) service.MetricsExporterGauge { return noopMetric{} }
}

func (r *recordingMetrics) Close(context.Context) error { return nil }

func (r *recordingMetrics) snapshot(prefix string) map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int64{}
	for k, v := range r.counts {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

type recordingCounter struct {
	r   *recordingMetrics
	key string
}

func (c *recordingCounter) Incr(n int64) {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	c.r.counts[c.key] += n
}

type noopMetric struct{}

func (noopMetric) Timing(int64) {}
func (noopMetric) Set(int64)    {}
