package harfanglab

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

func marker(kind, gen string) intel.Change {
	return intel.Change{Control: kind, Generation: gen, Reason: "test"}
}

// After a snapshot, owners it did not name lose what they hold (after a restart too: the
// index comes from the comments); shared values keep their other owners; writes are those of
// the removed claims only.
func TestIntelSweepRemovesOwnersAbsentFromTheSnapshot(t *testing.T) {
	for _, remove := range []bool{true, false} {
		f := newIntelFixture(t)
		extra := "remove_indicator: false\n"
		if remove {
			extra = ""
		}
		o := f.output(extra)
		mustWrite(t, o, pattern("A", "1-0", 50, ioc("ip_both", "1.1.1.1"), ioc("ip_both", "9.9.9.9")))
		mustWrite(t, o, pattern("B", "2-0", 50, ioc("ip_both", "2.2.2.2"), ioc("ip_both", "9.9.9.9")))
		mustWrite(t, o, pattern("C", "3-0", 50, ioc("ip_both", "3.3.3.3")))
		mustWrite(t, o, pattern("D", "4-0", 50, ioc("ip_both", "4.4.4.4")))

		o2 := f.output(extra) // restarted: what it knows comes from HarfangLab
		writes := f.sim.WriteCount()
		mustWrite(t, o2, marker(intel.ControlSnapshotStart, "g1"))
		mustWrite(t, o2, pattern("A", "1-0", 50, ioc("ip_both", "1.1.1.1"), ioc("ip_both", "9.9.9.9")))
		mustWrite(t, o2, pattern("C", "3-0", 50, ioc("ip_both", "3.3.3.3")))
		mustWrite(t, o2, dead("D", intel.ViaPattern, "5-0")) // revoked: listed, not live
		mustWrite(t, o2, marker(intel.ControlSnapshotEnd, "g1"))
		want := map[string]string{"1.1.1.1": "enabled A", "9.9.9.9": "enabled A", "3.3.3.3": "enabled C"}
		if !remove {
			want["2.2.2.2"], want["4.4.4.4"] = "disabled", "disabled"
		}
		assert.Equal(t, want, f.state(), "remove_indicator %v", remove)
		assert.Equal(t, writes+3, f.sim.WriteCount(), "D's value, B's own value and the shared value's comment")

		// An end without its start (restarted in mid-snapshot) sweeps nothing.
		mustWrite(t, o2, pattern("E", "6-0", 50, ioc("ip_both", "5.5.5.5")))
		mustWrite(t, o2, marker(intel.ControlSnapshotEnd, "g2"))
		assert.Contains(t, f.state(), "5.5.5.5")
	}
}

// The safety valve: a sweep removing more than sweep_max_share of the list does nothing and
// fails, naming the flag; with the flag it goes through.
func TestIntelSweepSafetyValve(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	for i, v := range []string{"1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"} {
		mustWrite(t, o, pattern(string(rune('A'+i)), "1-0", 50, ioc("ip_both", v)))
	}
	before := f.state()
	writes := f.sim.WriteCount()
	mustWrite(t, o, marker(intel.ControlSnapshotStart, "g1"))
	mustWrite(t, o, pattern("A", "1-0", 50, ioc("ip_both", "1.1.1.1")))
	err := write(t, o, marker(intel.ControlSnapshotEnd, "g1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "would remove 3 of the 4")
	assert.Contains(t, err.Error(), hioFieldSweepAllowLarge)
	assert.Equal(t, before, f.state(), "nothing removed")
	assert.Equal(t, writes, f.sim.WriteCount())

	o2 := f.output("sweep_allow_large: true\n")
	mustWrite(t, o2, marker(intel.ControlSnapshotStart, "g2"))
	mustWrite(t, o2, pattern("A", "1-0", 50, ioc("ip_both", "1.1.1.1")))
	mustWrite(t, o2, marker(intel.ControlSnapshotEnd, "g2"))
	assert.Equal(t, map[string]string{"1.1.1.1": "enabled A"}, f.state())
}

// Scale-out: each writer sweeps the values of its own shard; together they give the single
// writer's result.
func TestIntelSweepShardedWriters(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	for i := range 20 {
		mustWrite(t, o, pattern("own"+string(rune('a'+i)), "1-0", 50, ioc("ip_both", fmt.Sprintf("10.0.0.%d", i+1))))
	}
	w0, w1 := f.output("shard_count: 2\nshard_index: 0\n"), f.output("shard_count: 2\nshard_index: 1\n")
	for _, w := range []*intelOutput{w0, w1} {
		mustWrite(t, w, marker(intel.ControlSnapshotStart, "g"))
		for i := range 15 { // 5 indicators are gone
			mustWrite(t, w, pattern("own"+string(rune('a'+i)), "1-0", 50, ioc("ip_both", fmt.Sprintf("10.0.0.%d", i+1))))
		}
		mustWrite(t, w, marker(intel.ControlSnapshotEnd, "g"))
	}
	assert.Len(t, f.state(), 15)
	for v, s := range f.state() {
		assert.Equal(t, "enabled", s[:7], v)
	}
}

// Snapshot numbers are one byte: when they come round again, the marks of older snapshots
// are cleared, so an owner named 255 snapshots ago is not taken as named by the new one.
func TestSweepMarksComeRoundCleared(t *testing.T) {
	ix := newIndex()
	s := ix.owner(ownerIDOf("indicator--0b9f2f4e-6a43-4f1a-9c2d-1f5a3b7c8d90"))
	w := &sweeper{}
	first := w.nextMark(ix)
	require.Equal(t, uint8(1), first)
	s.snapshotMark = first
	for range 254 {
		assert.NotEqual(t, first, w.nextMark(ix))
	}
	assert.Equal(t, first, s.snapshotMark, "no wrap yet: the old mark stays")
	assert.Equal(t, uint8(1), w.nextMark(ix), "the 256th snapshot is numbered 1 again")
	assert.Equal(t, uint8(0), s.snapshotMark, "and the older marks are cleared")
}
