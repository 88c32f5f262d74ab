package stream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
)

// BenchmarkInput measures the input in-process (simulator and stream share the process):
// b.N events of ~2 KB from the simulator to a consumer that drops them.
func BenchmarkInput(b *testing.B) {
	sim, u := startSim(b)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: time.Hour})
	body := envelope("indicator--bench", 2048)
	for range b.N {
		sim.Publish("live", "create", body)
	}
	dir := b.TempDir()
	seedCursor(b, dir, "0-0")
	builder := service.NewStreamBuilder()
	require.NoError(b, builder.AddInputYAML(fmt.Sprintf("opencti_stream:\n  url: %s\n  token: %s\n  checkpoint_cache: cursor\n", u, testToken)))
	require.NoError(b, builder.AddResourcesYAML("cache_resources:\n  - label: cursor\n    state_file:\n      directory: "+dir+"\n"))
	done := make(chan struct{})
	n := 0
	require.NoError(b, builder.AddConsumerFunc(func(context.Context, *service.Message) error {
		if n++; n == b.N {
			close(done)
		}
		return nil
	}))
	require.NoError(b, builder.SetLoggerYAML("level: OFF"))
	s, err := builder.Build()
	require.NoError(b, err)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	go func() { _ = s.Run(context.Background()) }()
	<-done
	b.StopTimer()
	_ = s.StopWithin(5 * time.Second)
}
