package opencti

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// readAcked reads the next message, reconnecting like Benthos does, and acknowledges it.
func readAcked(ctx context.Context, t *testing.T, in *streamInput) (event string, body map[string]any) {
	t.Helper()
	for {
		msg, ack, err := in.Read(ctx)
		if errors.Is(err, service.ErrNotConnected) {
			require.NoError(t, in.Connect(ctx))
			continue
		}
		require.NoError(t, err)
		event, _ = msg.MetaGet(metaEvent)
		b, _ := msg.AsBytes()
		_ = json.Unmarshal(b, &body)
		require.NoError(t, ack(ctx, nil))
		return event, body
	}
}

// readUntil reads until the marker kind and returns the data events read before it.
func readUntil(ctx context.Context, t *testing.T, in *streamInput, kind string) (ids []string, marker map[string]any) {
	t.Helper()
	for {
		ev, body := readAcked(ctx, t, in)
		if ev == kind {
			return ids, body
		}
		if data, ok := body["data"].(map[string]any); ok {
			ids = append(ids, fmt.Sprint(data["id"]))
		}
	}
}

func envelopeOf(id string) []byte {
	return fmt.Appendf(nil, `{"data":{"id":%q,"type":"indicator"}}`, id)
}

// Issue 11.4: with recover_from now, an event published after `connected` and before the
// server's first read at `$` must still arrive.
func TestLiveTailLosesNothingBetweenConnectedAndFirstRead(t *testing.T) {
	sim := openctisim.New("tok")
	url, err := sim.Start("")
	require.NoError(t, err)
	defer sim.Close()
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: 50 * time.Millisecond, LiveTailDelay: 500 * time.Millisecond})
	sim.Publish("live", "create", envelopeOf("indicator--before"))

	in := newTestInput(t, "url: "+url+"\ntoken: tok\ncheckpoint_cache: cursor\nrecover_from: now\n")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, in.Connect(ctx))
	sim.Publish("live", "create", envelopeOf("indicator--in-the-gap")) // server still before `$`

	_, body := readAcked(ctx, t, in)
	assert.Equal(t, "indicator--in-the-gap", body["data"].(map[string]any)["id"])
	assert.GreaterOrEqual(t, sim.StreamConnections(), 2, "the first connection only gave the position")
}

// Issue 11.3: a snapshot resumed after the server trimmed events newer than its recover date
// has lost them: the input takes the snapshot again from recover_from, bracketed by markers.
func TestTrimmedSnapshotResumeResnapshots(t *testing.T) {
	sim := openctisim.New("tok")
	url, err := sim.Start("")
	require.NoError(t, err)
	defer sim.Close()
	old := time.Now().Add(-2 * time.Hour)
	for i := range 5 { // elements of the old snapshot, then live events lost to trimming
		sim.PublishWithID("live", fmt.Sprintf("%d-0", old.Add(-time.Hour).UnixMilli()+int64(i)), "create", envelopeOf(fmt.Sprintf("indicator--old%d", i)))
		sim.PublishWithID("live", fmt.Sprintf("%d-0", old.Add(time.Minute).UnixMilli()+int64(i)), "create", envelopeOf(fmt.Sprintf("indicator--lost%d", i)))
	}
	sim.PublishWithID("live", fmt.Sprintf("%d-0", old.Add(time.Hour).UnixMilli()), "create", envelopeOf("indicator--kept"))
	first := sim.TrimTo("live", 1)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: 50 * time.Millisecond, FirstRetainedID: first})

	in := newTestInput(t, "url: "+url+"\ntoken: tok\ncheckpoint_cache: cursor\nsnapshot_markers: true\ncheckpoint_flush_interval: 0s\n")
	setCursor(t, in, fmt.Sprintf(`{"start_from":"%d-0","recover_until":%q}`, old.Add(-time.Hour).UnixMilli()+2, old.UTC().Format(time.RFC3339Nano)))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	require.NoError(t, in.Connect(ctx))

	_, start := readUntil(ctx, t, in, intel.ControlSnapshotStart)
	assert.Equal(t, reasonTrimmed, start["reason"])
	assert.Equal(t, "0-0", storedCursor(t, in).SnapshotFrom, "a crash now must take the snapshot again")
	ids, end := readUntil(ctx, t, in, intel.ControlSnapshotEnd)
	assert.Equal(t, start["generation"], end["generation"])
	assert.Len(t, ids, 11, "every element, the ones whose events were lost included: %v", ids)
	assert.Contains(t, ids, "indicator--lost4")
	assert.Eventually(t, func() bool { return storedCursor(t, in).SnapshotFrom == "" }, 5*time.Second, 10*time.Millisecond,
		"the acknowledged end marker clears the pending sweep")
	req := sim.LastStreamRequest()
	assert.Equal(t, "0-0", req.Header.Get("Last-Event-ID"))
	assert.Equal(t, start["generation"], req.URL.Query().Get("recover"))
}

// The UI reset path: resnapshot on a running input restarts from recover_from with markers.
func TestResnapshotRestartsFromRecoverFrom(t *testing.T) {
	sim := openctisim.New("tok")
	url, err := sim.Start("")
	require.NoError(t, err)
	defer sim.Close()
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: 50 * time.Millisecond})
	sim.Publish("live", "create", envelopeOf("indicator--a"))
	sim.Publish("live", "create", envelopeOf("indicator--b"))

	in := newTestInput(t, "url: "+url+"\ntoken: tok\ncheckpoint_cache: cursor\nsnapshot_markers: true\n")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	require.NoError(t, in.Connect(ctx))
	_, start := readUntil(ctx, t, in, intel.ControlSnapshotStart)
	assert.Equal(t, reasonFirstRun, start["reason"])
	ids, _ := readUntil(ctx, t, in, intel.ControlSnapshotEnd)
	assert.ElementsMatch(t, []string{"indicator--a", "indicator--b"}, ids)

	in.resnapshot("reset")
	_, again := readUntil(ctx, t, in, intel.ControlSnapshotStart)
	assert.Equal(t, "reset", again["reason"])
	assert.NotEqual(t, start["generation"], again["generation"])
	ids, _ = readUntil(ctx, t, in, intel.ControlSnapshotEnd)
	assert.ElementsMatch(t, []string{"indicator--a", "indicator--b"}, ids)
}

// A complete snapshot stopped before its end marker was acknowledged is taken again from its
// start, as a new snapshot (a new generation ending now).
func TestInterruptedSweepSnapshotRestartsFromItsStart(t *testing.T) {
	sim := openctisim.New("tok")
	url, err := sim.Start("")
	require.NoError(t, err)
	defer sim.Close()
	sim.PublishWithID("live", "1000-0", "create", envelopeOf("indicator--a"))
	in := newTestInput(t, "url: "+url+"\ntoken: tok\ncheckpoint_cache: cursor\nsnapshot_markers: true\n")
	gen := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	setCursor(t, in, fmt.Sprintf(`{"start_from":"1000-0","recover_until":%q,"snapshot_from":"0-0"}`, gen))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, in.Connect(ctx))
	req := sim.LastStreamRequest()
	assert.Equal(t, "0-0", req.Header.Get("Last-Event-ID"))
	_, start := readUntil(ctx, t, in, intel.ControlSnapshotStart)
	assert.Equal(t, reasonRestart, start["reason"])
	assert.NotEqual(t, gen, start["generation"])
	assert.Equal(t, start["generation"], req.URL.Query().Get("recover"))
}

func TestEstimateLost(t *testing.T) {
	n, ok := estimateLost(eventID{ms: 1000}, eventID{ms: 2000}, connectedInfo{LastEventID: "3000-0", StreamSize: 101})
	assert.True(t, ok)
	assert.Equal(t, int64(100), n, "100 events per second held: about 100 in the lost second")
	_, ok = estimateLost(eventID{ms: 1000}, eventID{ms: 2000}, connectedInfo{LastEventID: "2000-0", StreamSize: 1})
	assert.False(t, ok)
}
