package stix

import (
	"context"
	"errors"
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
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML(`level: none`))
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
	assert.JSONEq(t, `{"dead_letter": "event 4-0: indicator `+testInternalID+` (\"evil indicator\"): invalid STIX pattern: line 1:29: expected ']', found end of pattern"}`, got[2])
}
