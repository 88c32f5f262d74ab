package opencti

import (
	"context"
	"fmt"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
)

// BenchmarkWriteBatch pushes batches of 10 bundles (20 objects each) to the loopback simulator:
// one workAdd, 10 stixBundlePush and one workEdit per batch.
func BenchmarkWriteBatch(b *testing.B) {
	sim := openctisim.New(testToken)
	_, err := sim.Start("")
	require.NoError(b, err)
	defer sim.Close()
	conf, err := openCTIOutputSpec().ParseYAML(fmt.Sprintf("url: %s\ntoken: %s\nconnector_id: %s\n", sim.URL(), testToken, testConnectorID), nil)
	require.NoError(b, err)
	o, err := newOpenCTIOutput(conf, service.MockResources())
	require.NoError(b, err)
	defer o.Close(context.Background())
	ctx := context.Background()
	require.NoError(b, o.Connect(ctx))
	objs := make([]map[string]any, 20)
	for i := range objs {
		objs[i] = incident(fmt.Sprintf("incident--%d", i), "bench")
	}
	batch := make(service.MessageBatch, 10)
	for i := range batch {
		batch[i] = bundleMsg(objs...)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := o.WriteBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "bundles/s")
}
