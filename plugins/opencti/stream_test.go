package opencti

import (
	"context"
	"fmt"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/opencti-harfanglab/opencti-harfanglab/plugins/detections" // registers harfanglab_to_stix
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/stixid"
)

// TestStreamAlertsIntoOpenCTI runs harfanglab_to_stix and the opencti output as configured in a
// real Benthos stream against the simulator: the registered components, their YAML fields and
// the bundle contract between them.
func TestStreamAlertsIntoOpenCTI(t *testing.T) {
	sim := startSim(t)
	const internal = "9a0b8f6e-3b7d-4c55-9f0e-2a1b3c4d5e6f"
	const std = "indicator--a479da3b-a151-5e90-a1ca-836ed90c1426"
	sim.AddIndicator(internal, std)

	sb := service.NewStreamBuilder()
	require.NoError(t, sb.SetLoggerYAML("level: none"))
	produce, err := sb.AddProducerFunc()
	require.NoError(t, err)
	require.NoError(t, sb.AddProcessorYAML(`harfanglab_to_stix:
  author_name: HarfangLab
  marking: TLP:GREEN
  harfanglab_url: https://hl.example.com`))
	require.NoError(t, sb.AddOutputYAML(fmt.Sprintf(`opencti:
  url: %s
  token: %s
  connector_id: %s
  batching:
    count: 2
    period: 50ms`, sim.URL(), testToken, testConnectorID)))
	stream, err := sb.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- stream.Run(ctx) }()

	alertObj := `{"id":"A1","status":"new","msg":"ip_dst=185.220.101.4","rule_name":"IOC","alert_type":"ioc","level":"high",
  "alert_time":"2024-01-15T08:13:47.621+00:00","agent":{"hostname":"WKS-001"},"process":{"process_name":"curl.exe","username":"EX\\jdoe"}}`
	alert := `{"kind":"alert","rule":{"type":"ip_dst","value":"185.220.101.4"},"rule_type":"ioc","indicator_ids":["` + internal + `"],"alert":` + alertObj + `}`
	threat := `{"kind":"threat","threat":{"id":7,"slug":"calm-fox-7","level":"medium","creation_date":"2024-01-15T09:00:00Z",
 "top_agents":[{"agent_hostname":"WKS-001"}]},"alerts":[` + alertObj + `],"notes":[]}`
	for _, body := range []string{alert, threat, alert} {
		require.NoError(t, produce(ctx, service.NewMessage([]byte(body))))
	}
	require.NoError(t, stream.Stop(ctx))
	require.NoError(t, <-done)

	assert.Equal(t, 3, sim.BundlesPushed())
	sightings := sim.ObjectsOfType("sighting")
	require.Len(t, sightings, 1, "the re-import upserted the same sighting")
	assert.Equal(t, std, sightings[0]["sighting_of_ref"])
	assert.Equal(t, []any{stixid.IdentityID("WKS-001", "system")}, sightings[0]["where_sighted_refs"])
	incidents := sim.ObjectsOfType("incident")
	require.Len(t, incidents, 1, "the alert and the threat name the same incident")
	assert.Equal(t, "185.220.101.4 on WKS-001", incidents[0]["name"])
	cases := sim.ObjectsOfType("case-incident")
	require.Len(t, cases, 1)
	assert.Contains(t, cases[0]["object_refs"], incidents[0]["id"])
	assert.NotEmpty(t, sim.ObjectsOfType("ipv4-addr"))
	for id, o := range sim.Objects() {
		if o["type"] != "marking-definition" {
			assert.Equal(t, []any{"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"}, o["object_marking_refs"], id)
		}
	}
	require.Len(t, sim.Connectors(), 1)
	for _, w := range sim.Works() {
		assert.Equal(t, "complete", w.Status)
		assert.False(t, w.InError)
	}
}
