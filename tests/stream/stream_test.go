package stream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
)

const fastBeats = 100 * time.Millisecond

// First run: snapshot of every current element; clean stop; second run: only what is new.
func TestResumeAfterCleanStop(t *testing.T) {
	sim, u := startSim(t)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: fastBeats})
	for i := range 200 {
		sim.Publish("live", "create", envelope(fmt.Sprintf("indicator--%04d", i), 500))
	}
	// Deleted and updated elements: the snapshot holds the current state only.
	sim.Publish("live", "delete", envelope("indicator--0000", 500))
	sim.Publish("live", "update", envelope("indicator--0001", 900))
	dir := t.TempDir()

	first := &sink{}
	r := run(t, u, dir, "", first)
	waitFor(t, 10*time.Second, "the snapshot", func() bool { return first.count() >= 199 })
	// The cursor passes the end of the snapshot once an idle heartbeat arrives.
	waitFor(t, 10*time.Second, "the cursor past the snapshot", func() bool {
		c := readCursor(t, dir)
		return c.RecoverUntil != "" && idMs(c.StartFrom) >= mustMs(t, c.RecoverUntil)
	})
	r.stop(t)
	ids := first.dataIDs(t)
	assert.Len(t, ids, 199)
	assert.NotContains(t, ids, "indicator--0000", "deleted before the snapshot")
	for _, got := range first.all() {
		assert.Equal(t, "create", got.event)
		assert.Contains(t, string(got.body), `"referer":"init"`)
		if strings.Contains(string(got.body), "indicator--0001") {
			assert.Greater(t, len(got.body), 800, "the snapshot carries the updated state")
		}
	}

	var want []string
	for i := range 100 {
		want = append(want, sim.Publish("live", "create", envelope(fmt.Sprintf("indicator--new-%04d", i), 500)))
	}
	second := &sink{}
	r = run(t, u, dir, "", second)
	waitFor(t, 10*time.Second, "the new events", func() bool { return second.count() >= 100 })
	time.Sleep(300 * time.Millisecond)
	r.stop(t)
	var gotIDs []string
	for _, g := range second.all() {
		gotIDs = append(gotIDs, g.id)
	}
	assert.Equal(t, want, gotIDs, "exactly the new events, in order, once")
	req := sim.LastStreamRequest()
	assert.Empty(t, req.URL.Query().Get("recover"), "no second snapshot")
}

func mustMs(t *testing.T, date string) int64 {
	ts, err := time.Parse(time.RFC3339Nano, date)
	require.NoError(t, err)
	return ts.UnixMilli()
}

func TestTenMegabyteEvent(t *testing.T) {
	sim, u := startSim(t)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: fastBeats})
	big := envelope("indicator--big", 10<<20)
	sim.Publish("live", "create", envelope("indicator--before", 500))
	sim.Publish("live", "create", big)
	sim.Publish("live", "update", envelope("indicator--after", 500))
	dir := t.TempDir()
	seedCursor(t, dir, "0-0")

	snk := &sink{}
	run(t, u, dir, "", snk)
	waitFor(t, 20*time.Second, "3 events", func() bool { return snk.count() >= 3 })
	got := snk.all()
	assert.Equal(t, []string{"indicator--before", "indicator--big", "indicator--after"}, snk.dataIDs(t))
	assert.True(t, bytes.Equal(big, got[1].body), "10 MB body unchanged (got %d bytes)", len(got[1].body))
	assert.Equal(t, 1, sim.StreamConnections())
}

func TestEventAboveMaxEventSizeIsReportedNotSkipped(t *testing.T) {
	sim, u := startSim(t)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: fastBeats})
	sim.Publish("live", "create", envelope("indicator--big", 100<<10))
	sim.Publish("live", "create", envelope("indicator--after", 500))
	dir := t.TempDir()
	seedCursor(t, dir, "0-0")
	snk := &sink{}
	r := run(t, u, dir, "max_event_size: 65536", snk)
	waitFor(t, 10*time.Second, "the size error", func() bool { return strings.Contains(r.logs.String(), "max_event_size") })
	assert.Zero(t, snk.count(), "nothing after the oversized event is delivered past it")
}

func TestHeartbeatOnlyPeriodsKeepTheConnectionAndMoveTheCursor(t *testing.T) {
	sim, u := startSim(t)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: fastBeats})
	dir := t.TempDir()
	seedCursor(t, dir, "0-0")
	var last string
	for i := range 5 {
		last = sim.Publish("live", "create", envelope(fmt.Sprintf("indicator--%d", i), 500))
	}
	snk := &sink{}
	run(t, u, dir, "heartbeat_timeout: 1s", snk)
	waitFor(t, 10*time.Second, "5 events", func() bool { return snk.count() >= 5 })
	// Only heartbeats for 2.5 heartbeat timeouts: no reconnect, and the last group is closed.
	time.Sleep(2500 * time.Millisecond)
	assert.Equal(t, 1, sim.StreamConnections())
	c := readCursor(t, dir)
	assert.False(t, idLess(c.StartFrom, last), "cursor %s should have reached %s", c.StartFrom, last)
	for i := range 5 {
		sim.Publish("live", "create", envelope(fmt.Sprintf("indicator--later-%d", i), 500))
	}
	waitFor(t, 10*time.Second, "5 more events", func() bool { return snk.count() >= 10 })
	assert.Equal(t, 1, sim.StreamConnections())
	assert.Equal(t, 10, snk.count())
}

func TestSilenceLongerThanHeartbeatTimeoutReconnects(t *testing.T) {
	sim, u := startSim(t)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: fastBeats, StallEvery: 3, Stall: 3 * time.Second})
	dir := t.TempDir()
	seedCursor(t, dir, "0-0")
	for i := range 9 {
		sim.Publish("live", "create", envelope(fmt.Sprintf("indicator--%d", i), 500))
	}
	snk := &sink{}
	start := time.Now()
	run(t, u, dir, "heartbeat_timeout: 500ms", snk)
	waitFor(t, 8*time.Second, "9 events", func() bool { return unique(snk) >= 9 })
	assert.Less(t, time.Since(start), 6*time.Second, "stalls of 3 s must be cut at 500 ms")
	assert.GreaterOrEqual(t, sim.StreamConnections(), 3)
}

func unique(s *sink) int {
	seen := map[string]bool{}
	for _, r := range s.all() {
		seen[r.id] = true
	}
	return len(seen)
}

func TestDisconnectStorm(t *testing.T) {
	sim, u := startSim(t)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: fastBeats, DisconnectEvery: 7})
	dir := t.TempDir()
	seedCursor(t, dir, "0-0")
	var ids []string
	for i := range 2000 {
		ids = append(ids, sim.Publish("live", "create", envelope(fmt.Sprintf("indicator--%d", i), 300)))
	}
	snk := &sink{}
	run(t, u, dir, "", snk)
	waitFor(t, 30*time.Second, "2000 distinct events", func() bool { return unique(snk) >= 2000 })
	seen := map[string]int{}
	for _, r := range snk.all() {
		seen[r.id]++
	}
	for _, id := range ids {
		assert.Positive(t, seen[id], id)
	}
	conns := sim.StreamConnections()
	assert.GreaterOrEqual(t, conns, 2000/7)
	dups := snk.count() - 2000
	assert.LessOrEqual(t, dups, conns, "at most the last (incomplete) group is re-read per reconnect")
	t.Logf("2000 events over %d connections, %d duplicates", conns, dups)
}

func TestServerErrorsThenRecovery(t *testing.T) {
	sim, u := startSim(t)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: fastBeats, Status5xxNext: 3})
	dir := t.TempDir()
	seedCursor(t, dir, "0-0")
	for i := range 50 {
		sim.Publish("live", "create", envelope(fmt.Sprintf("indicator--%d", i), 300))
	}
	snk := &sink{}
	r := run(t, u, dir, "", snk)
	waitFor(t, 20*time.Second, "50 events", func() bool { return snk.count() >= 50 })
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, 50, snk.count(), "no duplicates")
	assert.Equal(t, 4, sim.StreamConnections(), "three 503 then one good connection")
	assert.Contains(t, r.logs.String(), "503")
}

// Dependencies share the triggering event's id; a disconnect in mid-group must not lose the
// rest of the group (resume is exclusive of the id).
func TestSharedIDsAcrossDisconnects(t *testing.T) {
	sim, u := startSim(t)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: fastBeats, DisconnectEvery: 4})
	groups := []struct {
		id string
		n  int
	}{{"1000-0", 3}, {"2000-0", 2}, {"3000-0", 1}, {"4000-0", 3}, {"5000-0", 1}}
	want := map[string]bool{}
	for _, g := range groups {
		for k := range g.n {
			stixID := fmt.Sprintf("indicator--%s-%d", g.id, k)
			sim.PublishWithID("live", g.id, "create", envelope(stixID, 300))
			want[stixID] = true
		}
	}
	dir := t.TempDir()
	seedCursor(t, dir, "0-0")
	snk := &sink{}
	run(t, u, dir, "", snk)
	waitFor(t, 10*time.Second, "every event of every group", func() bool {
		got := map[string]bool{}
		for _, id := range snk.dataIDs(t) {
			got[id] = true
		}
		return len(got) == len(want)
	})
	waitFor(t, 5*time.Second, "the cursor past the last group", func() bool { return !idLess(readCursor(t, dir).StartFrom, "5000-0") })
}

// The stream sends ids it already sent (replays): every event is delivered, and the stored
// cursor never moves backwards.
func TestReplayedIDs(t *testing.T) {
	sim, u := startSim(t)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: fastBeats})
	for i, id := range []string{"1000-0", "2000-0", "3000-0", "2000-0", "3000-0", "4000-0"} {
		sim.PublishWithID("live", id, "update", envelope(fmt.Sprintf("indicator--%d", i), 300))
	}
	dir := t.TempDir()
	seedCursor(t, dir, "0-0")
	snk := &sink{}
	run(t, u, dir, "checkpoint_flush_interval: 0s", snk)
	prev := "0-0"
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && (snk.count() < 6 || idLess(readCursor(t, dir).StartFrom, "4000-0")) {
		c := readCursor(t, dir).StartFrom
		require.False(t, idLess(c, prev), "cursor moved back from %s to %s", prev, c)
		prev = c
		time.Sleep(time.Millisecond)
	}
	assert.Equal(t, 6, snk.count())
	// Idle heartbeats (wall clock) then move it further, minus a margin.
	assert.False(t, idLess(readCursor(t, dir).StartFrom, "4000-0"))
}

func TestInvalidJSONIsFlaggedAndTheStreamGoesOn(t *testing.T) {
	sim, u := startSim(t)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: fastBeats})
	sim.Publish("live", "create", envelope("indicator--a", 300))
	bad := sim.Publish("live", "update", []byte(`{"version":"4","data":{"id":`))
	sim.Publish("live", "delete", envelope("indicator--c", 300))
	dir := t.TempDir()
	seedCursor(t, dir, "0-0")
	snk := &sink{}
	run(t, u, dir, "", snk)
	waitFor(t, 10*time.Second, "3 messages", func() bool { return snk.count() >= 3 })
	got := snk.all()
	require.NoError(t, got[0].err)
	require.Error(t, got[1].err)
	assert.Contains(t, got[1].err.Error(), bad)
	assert.Contains(t, got[1].err.Error(), "not valid JSON")
	assert.Equal(t, `{"version":"4","data":{"id":`, string(got[1].body), "body unchanged")
	require.NoError(t, got[2].err)
	assert.Equal(t, "delete", got[2].event)
}

func TestRejectedTokenIsReportedWithoutItsValue(t *testing.T) {
	sim := openctisim.New("another-token")
	u, err := sim.Start("")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	snk := &sink{}
	r := run(t, u, t.TempDir(), "", snk)
	waitFor(t, 10*time.Second, "the token error", func() bool {
		return strings.Contains(r.logs.String(), "the token is wrong or expired: check the token field (OPENCTI_TOKEN)")
	})
	assert.NotContains(t, r.logs.String(), testToken)
	assert.Zero(t, snk.count())
}

func TestUnknownStreamIsReported(t *testing.T) {
	_, u := startSim(t)
	r := run(t, u, t.TempDir(), "stream_id: stopped-stream", &sink{})
	waitFor(t, 10*time.Second, "the stream error", func() bool {
		return strings.Contains(r.logs.String(), `no live stream has id \"stopped-stream\"`)
	})
}

// A resume position older than the server's oldest event means events were trimmed unread:
// the input says so at ERROR and takes the recover_from snapshot again, which lists the
// element whose event was lost.
func TestTrimmedStreamResnapshots(t *testing.T) {
	sim, u := startSim(t)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: fastBeats, FirstRetainedID: "5000-0"})
	sim.PublishWithID("live", "2000-0", "create", envelope("indicator--trimmed", 300))
	sim.PublishWithID("live", "6000-0", "create", envelope("indicator--kept", 300))
	dir := t.TempDir()
	seedCursor(t, dir, "1000-0")
	snk := &sink{}
	r := run(t, u, dir, "", snk)
	waitFor(t, 10*time.Second, "both elements", func() bool { return unique(snk) >= 2 })
	assert.ElementsMatch(t, []string{"indicator--trimmed", "indicator--kept"}, snk.dataIDs(t), "only the snapshot: nothing of the trimmed connection")
	assert.Contains(t, r.logs.String(), "were trimmed unread and are lost")
	assert.Contains(t, r.logs.String(), "level=ERROR")
	waitFor(t, 5*time.Second, "the metrics", func() bool {
		m := r.metrics(t)
		return strings.Contains(m, "opencti_stream_trimmed_total") && strings.Contains(m, `opencti_stream_resnapshots_total{`)
	})
}

// The snapshot envelope is what the processor reads: check its shape once.
func TestSnapshotEventShape(t *testing.T) {
	sim, u := startSim(t)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: fastBeats})
	sim.Publish("live", "create", envelope("indicator--x", 300))
	snk := &sink{}
	run(t, u, t.TempDir(), "", snk)
	waitFor(t, 10*time.Second, "the snapshot", func() bool { return snk.count() >= 1 })
	var env struct {
		Version string
		Origin  struct{ Referer string }
		Data    struct{ ID, Pattern string }
	}
	require.NoError(t, json.Unmarshal(snk.all()[0].body, &env))
	assert.Equal(t, "4", env.Version)
	assert.Equal(t, "init", env.Origin.Referer)
	assert.Equal(t, "indicator--x", env.Data.ID)
	assert.NotEmpty(t, env.Data.Pattern)
}

func TestMetrics(t *testing.T) {
	sim, u := startSim(t)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: fastBeats, DisconnectEvery: 2})
	sim.PublishWithID("live", "2000-0", "create", envelope("indicator--a", 300))
	sim.PublishWithID("live", "3000-0", "update", envelope("indicator--a", 300))
	sim.PublishWithID("live", "4000-0", "delete", envelope("indicator--a", 300))
	dir := t.TempDir()
	seedCursor(t, dir, "2000-0") // the first event's id: nothing trimmed
	snk := &sink{}
	r := run(t, u, dir, "", snk)
	waitFor(t, 10*time.Second, "the two events", func() bool { return unique(snk) >= 2 })
	// Per-event metrics reach Benthos up to metricbuf.Interval (10 ms) after the event.
	waitFor(t, 5*time.Second, "the checkpoint gauge and the event counters", func() bool {
		b := r.metrics(t)
		return strings.Contains(b, "opencti_stream_checkpoint_ms") &&
			strings.Contains(b, `event=\"update\"`) && strings.Contains(b, `event=\"delete\"`)
	})
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.metrics(t)), &m))
	// Keys look like name{event="create",label="",path="root.input"}.
	num := func(name, label string) float64 {
		for k, v := range m {
			if strings.HasPrefix(k, name+"{") && strings.Contains(k, label) {
				f, _ := v.(float64)
				return f
			}
		}
		return 0
	}
	assert.GreaterOrEqual(t, num("opencti_stream_events_total", `event="update"`), 1.0)
	assert.GreaterOrEqual(t, num("opencti_stream_events_total", `event="delete"`), 1.0)
	assert.GreaterOrEqual(t, num("opencti_stream_reconnects_total", ""), 1.0)
	assert.Greater(t, num("opencti_stream_lag_ms", ""), 1e12, "events of 1970: a huge lag")
	assert.GreaterOrEqual(t, num("opencti_stream_checkpoint_ms", ""), 3000.0)
}

// Stopped in the middle of the first-run snapshot, the input resumes the same snapshot (same
// recover date) from the last complete group, and every element arrives.
func TestStopDuringSnapshotResumesIt(t *testing.T) {
	sim, u := startSim(t)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: fastBeats, SlowWrite: 5 * time.Millisecond})
	// One element per millisecond: snapshot ids are <updated_at ms>-0, so elements updated in
	// the same millisecond form one group that is committed only as a whole.
	base := time.Now().Add(-time.Hour).UnixMilli()
	for i := range 200 {
		sim.PublishWithID("live", fmt.Sprintf("%d-0", base+int64(i)), "create", envelope(fmt.Sprintf("indicator--%04d", i), 300))
	}
	dir := t.TempDir()
	first := &sink{}
	r := run(t, u, dir, "", first)
	waitFor(t, 10*time.Second, "part of the snapshot", func() bool { return first.count() >= 60 })
	r.stop(t)
	firstRecover := sim.LastStreamRequest().URL.Query().Get("recover")
	require.NotEmpty(t, firstRecover)
	require.Less(t, first.count(), 200, "stopped in mid-snapshot")
	c := readCursor(t, dir)
	assert.Equal(t, firstRecover, c.RecoverUntil)

	second := &sink{}
	run(t, u, dir, "", second)
	waitFor(t, 15*time.Second, "every element over both runs", func() bool {
		all := map[string]bool{}
		for _, id := range append(first.dataIDs(t), second.dataIDs(t)...) {
			all[id] = true
		}
		return len(all) == 200
	})
	assert.Equal(t, firstRecover, sim.LastStreamRequest().URL.Query().Get("recover"), "the same snapshot")
	assert.Less(t, second.count(), 200, "resumed, not restarted")
	t.Logf("first run %d, second run %d: %d re-delivered", first.count(), second.count(), first.count()+second.count()-200)
}

func TestRecoverFromNowStartsAtTheLiveTail(t *testing.T) {
	sim, u := startSim(t)
	sim.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: fastBeats})
	var lastOld string
	for i := range 3 {
		lastOld = sim.Publish("live", "create", envelope(fmt.Sprintf("indicator--old-%d", i), 300))
	}
	dir := t.TempDir()
	snk := &sink{}
	r := run(t, u, dir, "recover_from: now", snk)
	waitFor(t, 10*time.Second, "the connection", func() bool { return strings.Contains(r.logs.String(), "connected to stream") })
	// The first connection only takes connected.lastEventId; the stream is read from it
	// (the server would start at `$` after `connected`, missing what is published between).
	waitFor(t, 10*time.Second, "the second connection", func() bool { return sim.StreamConnections() >= 2 })
	assert.Equal(t, lastOld, sim.LastStreamRequest().Header.Get("Last-Event-ID"))
	var want []string
	for i := range 2 {
		want = append(want, sim.Publish("live", "create", envelope(fmt.Sprintf("indicator--new-%d", i), 300)))
	}
	waitFor(t, 10*time.Second, "the new events", func() bool { return snk.count() >= 2 })
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, []string{"indicator--new-0", "indicator--new-1"}, snk.dataIDs(t))
	waitFor(t, 5*time.Second, "a stored cursor", func() bool { return !idLess(readCursor(t, dir).StartFrom, want[1]) })
}
