package opencti

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/stixid"
)

const (
	testToken       = "s3cr3t-token-value"
	testConnectorID = "6f1e4b7e-f0f6-4c5b-9a77-1d2e3f4a5b6c"
)

func startSim(t *testing.T) *openctisim.Server {
	t.Helper()
	sim := openctisim.New(testToken)
	_, err := sim.Start("")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

func newTestOutput(t *testing.T, url, token, extra string) *openCTIOutput {
	t.Helper()
	yaml := fmt.Sprintf("url: %s\ntoken: %s\nconnector_id: %s\n%s", url, token, testConnectorID, extra)
	conf, err := openCTIOutputSpec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	o, err := newOpenCTIOutput(conf, service.MockResources())
	require.NoError(t, err)
	o.client.retryBase, o.client.retryMax = 5*time.Millisecond, 20*time.Millisecond
	t.Cleanup(func() { _ = o.Close(context.Background()) })
	return o
}

func bundleMsg(objects ...map[string]any) *service.Message {
	b, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--1", "objects": objects})
	return service.NewMessage(b)
}

func incident(id, name string) map[string]any {
	return map[string]any{"type": "incident", "spec_version": "2.1", "id": id, "name": name}
}

func TestRegisterPushWorksAndPing(t *testing.T) {
	sim := startSim(t)
	o := newTestOutput(t, sim.URL(), testToken, "ping_interval: 20ms\nconnector_name: HL Test\n")
	ctx := context.Background()
	require.NoError(t, o.Connect(ctx))
	require.NoError(t, o.Connect(ctx), "reconnecting re-registers without a second pinger")

	conns := sim.Connectors()
	require.Len(t, conns, 1)
	assert.Equal(t, testConnectorID, conns[0].ID)
	assert.Equal(t, "HL Test", conns[0].Name)
	assert.Equal(t, "EXTERNAL_IMPORT", conns[0].Type)
	assert.Equal(t, []string{"harfanglab"}, conns[0].Scope)
	assert.False(t, conns[0].Auto)
	assert.Equal(t, 2, conns[0].Registrations)

	batch := service.MessageBatch{bundleMsg(incident("incident--a", "one")), bundleMsg(incident("incident--b", "two"))}
	require.NoError(t, o.WriteBatch(ctx, batch))
	require.NoError(t, o.WriteBatch(ctx, service.MessageBatch{bundleMsg(incident("incident--a", "one again"))}))

	assert.Equal(t, 3, sim.BundlesPushed())
	assert.Equal(t, "one again", sim.Objects()["incident--a"]["name"])
	assert.Equal(t, 2, sim.PushCount("incident--a"))
	works := sim.Works()
	require.Len(t, works, 2, "one work per batch")
	assert.Equal(t, "complete", works[0].Status)
	assert.Equal(t, 2, works[0].Bundles)
	assert.False(t, works[0].InError)
	assert.Contains(t, works[0].Message, "2 bundle(s) pushed")
	assert.True(t, strings.HasPrefix(works[0].Name, "HL Test run @ "))

	require.Eventually(t, func() bool { return sim.Connectors()[0].Pings >= 2 }, 2*time.Second, 10*time.Millisecond)
	require.NoError(t, o.Close(ctx))
	require.NoError(t, o.Close(ctx), "idempotent")
	pings := sim.Connectors()[0].Pings
	time.Sleep(80 * time.Millisecond)
	assert.Equal(t, pings, sim.Connectors()[0].Pings, "the heartbeat stops at Close")
}

func TestRetriesOn5xxAndRetryableGraphQLErrors(t *testing.T) {
	sim := startSim(t)
	o := newTestOutput(t, sim.URL(), testToken, "")
	ctx := context.Background()
	sim.SetGraphQLFaults(openctisim.GraphQLFaults{Status5xxNext: 2})
	require.NoError(t, o.Connect(ctx))
	assert.Equal(t, 3, sim.GraphQLCalls("registerConnector"), "two 503s then success")

	sim.SetGraphQLFaults(openctisim.GraphQLFaults{ErrorEvery: 2, Operations: []string{"stixBundlePush"}})
	batch := service.MessageBatch{}
	for i := range 4 {
		batch = append(batch, bundleMsg(incident(fmt.Sprintf("incident--%d", i), "x")))
	}
	require.NoError(t, o.WriteBatch(ctx, batch))
	assert.Equal(t, 4, sim.BundlesPushed())
	assert.Equal(t, 7, sim.GraphQLCalls("stixBundlePush"), "calls 2, 4 and 6 hit LOCK_ERROR and were retried")
	assert.False(t, sim.Works()[0].InError)
}

func TestPermanentErrorsFailTheMessageOnly(t *testing.T) {
	sim := startSim(t)
	o := newTestOutput(t, sim.URL(), testToken, "max_retries: 2\n")
	ctx := context.Background()
	require.NoError(t, o.Connect(ctx))
	batch := service.MessageBatch{
		bundleMsg(incident("incident--ok", "fine")),
		service.NewMessage([]byte(`{"not":"a bundle"}`)),
		service.NewMessage([]byte(`{"type":"bundle","objects":[]}`)),
	}
	idx := batch.Index()
	err := o.WriteBatch(ctx, batch)
	var berr *service.BatchError
	require.ErrorAs(t, err, &berr)
	failed := map[int]bool{}
	berr.WalkMessagesIndexedBy(idx, func(i int, _ *service.Message, err error) bool {
		if err != nil {
			failed[i] = true
		}
		return true
	})
	assert.Equal(t, map[int]bool{1: true, 2: true}, failed)
	assert.Equal(t, 2, berr.IndexedErrors())
	assert.Equal(t, 1, sim.BundlesPushed())
	w := sim.Works()[0]
	assert.True(t, w.InError)
	assert.Contains(t, w.Message, "2 failed")

	sim.SetGraphQLFaults(openctisim.GraphQLFaults{Status5xxNext: 100})
	err = o.WriteBatch(ctx, service.MessageBatch{bundleMsg(incident("incident--x", "x"))})
	require.Error(t, err, "retries are bounded by max_retries")
	assert.Equal(t, 1+3, sim.GraphQLCalls("workAdd"), "the second workAdd was tried 1+max_retries times")
}

func TestAuthAndCapabilityErrorsAreClear(t *testing.T) {
	sim := startSim(t)
	ctx := context.Background()

	bad := newTestOutput(t, sim.URL(), "wrong-token-xyz", "")
	err := bad.Connect(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "OPENCTI_TOKEN")
	assert.Contains(t, err.Error(), "AUTH_REQUIRED")
	assert.NotContains(t, err.Error(), "wrong-token-xyz")
	assert.EqualValues(t, 1, sim.Faults().Requests(), "401 is not retried")

	sim.SetConnectorAPI(false)
	o := newTestOutput(t, sim.URL(), testToken, "")
	err = o.Connect(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CONNECTORAPI")
	assert.Contains(t, err.Error(), "FORBIDDEN_ACCESS")
	assert.NotContains(t, err.Error(), testToken)

	// A capability revoked while running: the batch reports not-connected so Connect runs again.
	sim.SetConnectorAPI(true)
	require.NoError(t, o.Connect(ctx))
	sim.SetConnectorAPI(false)
	err = o.WriteBatch(ctx, service.MessageBatch{bundleMsg(incident("incident--z", "z"))})
	assert.ErrorIs(t, err, service.ErrNotConnected)
}

func TestPendingSightingsResolved(t *testing.T) {
	sim := startSim(t)
	o := newTestOutput(t, sim.URL(), testToken, "")
	ctx := context.Background()
	require.NoError(t, o.Connect(ctx))
	const known, unknown = "9a0b8f6e-3b7d-4c55-9f0e-2a1b3c4d5e6f", "11111111-2222-4333-8444-555555555555"
	const std = "indicator--813991e2-0c6d-5bde-ae38-3b47198d5cfc"
	sim.AddIndicator(known, std)
	pending := func(internal string) map[string]any {
		return map[string]any{"type": "sighting", "id": "sighting--tmp-" + internal, "where_sighted_refs": []string{"identity--h"},
			stixid.PendingSightingOfProperty: internal, stixid.PendingSightingSeenProperty: "2024-01-01T00:00:00+00:00",
			"description": "<b>&</b>"}
	}
	msg := bundleMsg(incident("incident--p", "p"), pending(known), pending(unknown))
	require.NoError(t, o.WriteBatch(ctx, service.MessageBatch{msg}))
	require.NoError(t, o.WriteBatch(ctx, service.MessageBatch{bundleMsg(pending(known))}))

	sightings := sim.ObjectsOfType("sighting")
	require.Len(t, sightings, 1, "the unknown indicator's sighting is dropped; the known one upserted")
	s := sightings[0]
	assert.Equal(t, std, s["sighting_of_ref"])
	assert.Equal(t, stixid.SightingID(std, "identity--h", "2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00+00:00"), s["id"])
	assert.NotContains(t, s, stixid.PendingSightingOfProperty)
	assert.Equal(t, "<b>&</b>", s["description"])
	assert.Equal(t, 2, sim.GraphQLCalls("indicator"), "the known id is asked once then cached; the unknown one once")
}

func TestConfigValidation(t *testing.T) {
	for _, yaml := range []string{
		"url: http://127.0.0.1:1\ntoken: t\nconnector_id: not-a-uuid\n",
		"url: http://127.0.0.1:1\ntoken: ''\nconnector_id: " + testConnectorID + "\n",
		"url: ftp://x\ntoken: t\nconnector_id: " + testConnectorID + "\n",
		"url: http://127.0.0.1:1\ntoken: t\nconnector_id: " + testConnectorID + "\nconnector_name: x\n",
	} {
		conf, err := openCTIOutputSpec().ParseYAML(yaml, nil)
		require.NoError(t, err)
		_, err = newOpenCTIOutput(conf, service.MockResources())
		assert.Error(t, err, yaml)
	}
}
