package opencti

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
)

const (
	testSeed = "0b8c4c6e-4b0f-4a59-9a2e-3f7d2c1e5a10"
	// testStreamConnectorID is Python's uuid.uuid5(uuid.UUID(testSeed), "opencti-to-harfanglab").
	testStreamConnectorID = "99b741c9-3321-50d5-9f63-bf5b57ac80b4"
)

func startOCTISim(t *testing.T) (*openctisim.Server, string) {
	t.Helper()
	sim := openctisim.New("tok")
	url, err := sim.Start("")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim, url
}

func connectorOf(sim *openctisim.Server, id string) (openctisim.Connector, bool) {
	for _, c := range sim.Connectors() {
		if c.ID == id {
			return c, true
		}
	}
	return openctisim.Connector{}, false
}

func waitFor(t *testing.T, d time.Duration, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStreamConnectorIDIsDerivedLikePythonUUID5(t *testing.T) {
	conf, err := streamInputSpec().ParseYAML("url: http://x\ntoken: t\ncheckpoint_cache: c\nconnector:\n  id_seed: "+testSeed+"\n", nil)
	require.NoError(t, err)
	id, err := streamConnectorID(conf.Namespace(osFieldConnector))
	require.NoError(t, err)
	assert.Equal(t, testStreamConnectorID, id)

	conf, err = streamInputSpec().ParseYAML("url: http://x\ntoken: t\ncheckpoint_cache: c\nconnector:\n  id_seed: not-a-uuid\n", nil)
	require.NoError(t, err)
	_, err = newStreamInput(conf, service.MockResources(service.MockResourcesOptAddCache("c")))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CONNECTOR_ID")
}

// The input registers as a STREAM connector, pings, and its position is in connector_state in
// pycti's shape; the registration carries none of the fields OpenCTI 6.5 rejects.
func TestStreamInputRegistersAndPingsItsPosition(t *testing.T) {
	sim, url := startOCTISim(t)
	sim.SetSchema(openctisim.Schema65)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: 50 * time.Millisecond})
	sim.PublishWithID("s1", "100-0", "create", []byte(`{"data":{"id":"a"}}`))
	in := newTestInput(t, "url: "+url+"\ntoken: tok\nstream_id: s1\ncheckpoint_cache: cursor\ncheckpoint_flush_interval: 0s\n"+
		"connector:\n  id_seed: "+testSeed+"\n  name: HarfangLab intel push\n  ping_interval: 50ms\n")
	setCursor(t, in, `{"start_from":"50-0","recover_until":"2026-01-02T03:04:05Z"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, in.Connect(ctx))

	want := `{"start_from":"50-0","recover_until":"2026-01-02T03:04:05Z"}`
	waitFor(t, 5*time.Second, func() bool { c, ok := connectorOf(sim, testStreamConnectorID); return ok && c.State == want },
		"connector_state never held the cursor")
	c, _ := connectorOf(sim, testStreamConnectorID)
	assert.Equal(t, "STREAM", c.Type)
	assert.Equal(t, "HarfangLab intel push", c.Name)
	assert.Equal(t, []string{"harfanglab"}, c.Scope)
	assert.Equal(t, 1, c.Registrations)
	for _, f := range []string{"auto_update", "enrichment_resolution", "listen_callback_uri"} {
		assert.NotContains(t, c.LastRegistration, f)
	}

	// The acknowledged event moves the cursor (once a heartbeat closes its group; idle
	// heartbeats then move it further); the next pings carry it.
	msg, ack, err := in.Read(ctx)
	require.NoError(t, err)
	require.NotNil(t, msg)
	require.NoError(t, ack(ctx, nil))
	go func() { // keep reading so heartbeats are handled
		for ctx.Err() == nil {
			if _, _, err := in.Read(ctx); err != nil {
				return
			}
		}
	}()
	var st map[string]string
	waitFor(t, 5*time.Second, func() bool {
		c, _ := connectorOf(sim, testStreamConnectorID)
		st = nil
		return json.Unmarshal([]byte(c.State), &st) == nil && st["start_from"] != "" && !idLess(st["start_from"], "100-0")
	}, "connector_state did not follow the cursor past 100-0")
	assert.Equal(t, "2026-01-02T03:04:05Z", st["recover_until"])
	assert.Len(t, st, 2, "pycti's shape: start_from and recover_until")
	c, _ = connectorOf(sim, testStreamConnectorID)
	assert.GreaterOrEqual(t, c.Pings, 2)
}

// A reset from the UI is seen in the next ping's answer and calls onReset once; a reset done
// while the process was down is seen by the first ping after the registration.
func TestStreamInputDetectsUIReset(t *testing.T) {
	sim, url := startOCTISim(t)
	sim.PublishWithID("s1", "100-0", "create", []byte(`{"data":{"id":"a"}}`))
	yaml := "url: " + url + "\ntoken: tok\nstream_id: s1\ncheckpoint_cache: cursor\n" +
		"connector:\n  id: " + testStreamConnectorID + "\n  ping_interval: 50ms\n"
	in := newTestInput(t, yaml)
	setCursor(t, in, `{"start_from":"50-0"}`)
	var mu sync.Mutex
	var reasons []string
	in.link.onReset = func(r string) { mu.Lock(); reasons = append(reasons, r); mu.Unlock() }
	resets := func() int { mu.Lock(); defer mu.Unlock(); return len(reasons) }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, in.Connect(ctx))
	// Without a snapshot end, recover_until is the position's own date (pycti reads it always).
	want := `{"start_from":"50-0","recover_until":"1970-01-01T00:00:00.05Z"}`
	waitFor(t, 5*time.Second, func() bool { c, _ := connectorOf(sim, testStreamConnectorID); return c.State == want }, "no state")
	time.Sleep(200 * time.Millisecond)
	assert.Zero(t, resets(), "pings that store our state are no reset")

	require.NoError(t, sim.ResetConnectorState(testStreamConnectorID))
	waitFor(t, 5*time.Second, func() bool { return resets() == 1 }, "the reset was not detected")
	assert.Contains(t, reasons[0], "reset")
	// The placeholder resnapshot leaves the cursor: the following pings store it again.
	waitFor(t, 5*time.Second, func() bool { c, _ := connectorOf(sim, testStreamConnectorID); return c.State == want }, "state not stored again")
	assert.Equal(t, 1, resets())
	require.NoError(t, in.Close(ctx))

	// Reset while stopped: the registration answers "" (not decisive), the first ping detects it.
	require.NoError(t, sim.ResetConnectorState(testStreamConnectorID))
	in2 := newTestInput(t, yaml)
	setCursor(t, in2, `{"start_from":"50-0"}`)
	got := make(chan string, 4)
	in2.link.onReset = func(r string) { got <- r }
	require.NoError(t, in2.Connect(ctx))
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("a reset done while the process was down was not detected")
	}
}

// The link never holds the stream up: with GraphQL refusing (no CONNECTORAPI) the stream
// still delivers, and the registration succeeds once the capability is granted.
func TestRegistrationFailureDoesNotStopTheStream(t *testing.T) {
	sim, url := startOCTISim(t)
	sim.SetConnectorAPI(false)
	sim.PublishWithID("s1", "100-0", "create", []byte(`{"data":{"id":"a"}}`))
	in := newTestInput(t, "url: "+url+"\ntoken: tok\nstream_id: s1\ncheckpoint_cache: cursor\n"+
		"connector:\n  id_seed: "+testSeed+"\n  ping_interval: 50ms\n")
	setCursor(t, in, `{"start_from":"50-0"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, in.Connect(ctx))
	msg, _, err := in.Read(ctx)
	require.NoError(t, err)
	require.NotNil(t, msg)
	_, ok := connectorOf(sim, testStreamConnectorID)
	assert.False(t, ok)
	sim.SetConnectorAPI(true)
	waitFor(t, 5*time.Second, func() bool { c, ok := connectorOf(sim, testStreamConnectorID); return ok && c.Pings > 0 }, "never registered")
}

// The registration document is accepted by a 6.5 schema; the simulator does reject a field
// 6.5 does not know, so the acceptance means something.
func TestRegisterAgainstOpenCTI65Schema(t *testing.T) {
	sim, url := startOCTISim(t)
	sim.SetSchema(openctisim.Schema65)
	c, err := NewClient(ClientConfig{URL: url, Token: "tok", MaxRetries: 0})
	require.NoError(t, err)
	ctx := context.Background()
	reg := ConnectorRegistration{ID: testStreamConnectorID, Name: "HarfangLab", Type: "STREAM", Scope: []string{"harfanglab"}}
	_, err = c.RegisterConnector(ctx, reg)
	require.NoError(t, err)
	reg.ListenCallbackURI = "http://127.0.0.1:9/callback"
	_, err = c.RegisterConnector(ctx, reg)
	require.NoError(t, err, "6.5.7 knows listen_callback_uri")

	yes := true
	reg.AutoUpdate = &yes
	_, err = c.RegisterConnector(ctx, reg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `Field "auto_update" is not defined by type "RegisterConnectorInput"`)

	sim.SetSchema(openctisim.SchemaLatest)
	_, err = c.RegisterConnector(ctx, reg)
	require.NoError(t, err, "6.8.9+ knows auto_update")
}

// The transient errors OpenCTI really sends are retried; a final FUNCTIONAL_ERROR is not.
func TestRealTransientErrorCodesAreRetried(t *testing.T) {
	for _, tc := range []struct {
		e     openctisim.GraphQLError
		retry bool
	}{
		{openctisim.ErrLock, true},
		{openctisim.ErrDatabase, true},
		{openctisim.ErrTooManyRequests, true},
		{openctisim.ErrFunctional, false},
		{openctisim.GraphQLError{Code: "FUNCTIONAL_ERROR", Message: "No connector found with the specified ID"}, false},
	} {
		t.Run(tc.e.Code+" "+tc.e.Message, func(t *testing.T) {
			sim, url := startOCTISim(t)
			c, err := NewClient(ClientConfig{URL: url, Token: "tok", MaxRetries: 3, RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond})
			require.NoError(t, err)
			ctx := context.Background()
			_, err = c.RegisterConnector(ctx, ConnectorRegistration{ID: testStreamConnectorID, Name: "HarfangLab", Type: "STREAM"})
			require.NoError(t, err)
			// Every other ping fails: the first attempt fails, its retry succeeds.
			sim.SetGraphQLFaults(openctisim.GraphQLFaults{ErrorEvery: 2, Error: tc.e, Operations: []string{"pingConnector"}})
			before := sim.GraphQLCalls("pingConnector")
			_, err = c.PingConnector(ctx, testStreamConnectorID, nil) // call 1: ok
			require.NoError(t, err)
			_, err = c.PingConnector(ctx, testStreamConnectorID, nil) // call 2 fails
			calls := sim.GraphQLCalls("pingConnector") - before
			if tc.retry {
				require.NoError(t, err)
				assert.Equal(t, 3, calls, "one retry")
				return
			}
			require.Error(t, err)
			assert.Equal(t, 2, calls, "no retry")
			var ge *Error
			require.True(t, errors.As(err, &ge))
			assert.Equal(t, tc.e.Code, ge.Code)
		})
	}
}

// OpenCTI answers 401 for a bad token, a missing capability and an unknown stream alike: the
// error names the three causes and the settings to check, and is not retried at full speed.
func TestStream401NamesTheThreeCauses(t *testing.T) {
	sim, url := startOCTISim(t)
	sim.PublishWithID("known", "100-0", "create", []byte(`{"data":{"id":"a"}}`))
	check := func(t *testing.T, yaml, capability string) {
		in := newTestInput(t, yaml)
		err := in.Connect(context.Background())
		require.Error(t, err)
		msg := err.Error()
		for _, want := range []string{"401", "three causes", "token", "OPENCTI_TOKEN", capability, "stream_id", "CONNECTOR_LIVE_STREAM_ID"} {
			assert.Contains(t, msg, want)
		}
		assert.NotContains(t, msg, "404")
		assert.False(t, strings.Contains(msg, "wrong-tok"), "the token never appears")
	}
	t.Run("unknown stream", func(t *testing.T) {
		check(t, "url: "+url+"\ntoken: tok\nstream_id: no-such-stream\ncheckpoint_cache: cursor\n", "TAXIIAPI")
	})
	t.Run("live without bypass", func(t *testing.T) {
		sim.SetBypass(false)
		defer sim.SetBypass(true)
		check(t, "url: "+url+"\ntoken: tok\nstream_id: live\ncheckpoint_cache: cursor\n", "BYPASS")
	})
	t.Run("wrong token", func(t *testing.T) {
		check(t, "url: "+url+"\ntoken: wrong-tok\nstream_id: known\ncheckpoint_cache: cursor\n", "TAXIIAPI")
	})
}
