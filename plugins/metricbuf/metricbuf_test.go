package metricbuf

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// recorder stands for the Benthos metric: what it was handed, per label values.
type recorder struct {
	mu    sync.Mutex
	calls int
	got   map[string]int64
	sum   bool
}

func (r *recorder) emit(v int64, labelValues ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	k := ""
	for _, l := range labelValues {
		k += l + ","
	}
	if r.sum {
		r.got[k] += v
	} else {
		r.got[k] = v
	}
}

func (r *recorder) snapshot() (map[string]int64, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(r.got))
	for k, v := range r.got {
		out[k] = v
	}
	return out, r.calls
}

func TestCounterSumsABurstAndHandsItOverWithinInterval(t *testing.T) {
	r := &recorder{got: map[string]int64{}, sum: true}
	c := &Counter{buffer{nLabels: 2, sum: true, emit: r.emit}}
	for range 1000 {
		c.Incr(1, "POST", "2xx")
		c.Incr(2, "GET", "2xx")
	}
	assert.Eventually(t, func() bool {
		got, _ := r.snapshot()
		return got["POST,2xx,"] == 1000 && got["GET,2xx,"] == 2000
	}, time.Second, time.Millisecond, "every increment arrives, by the timer")
	_, calls := r.snapshot()
	assert.Less(t, calls, 100, "a burst is coalesced, not handed over per increment")
}

func TestUpdateAfterAQuietIntervalGoesThroughAtOnce(t *testing.T) {
	r := &recorder{got: map[string]int64{}, sum: true}
	c := &Counter{buffer{nLabels: 1, sum: true, emit: r.emit}}
	c.Incr(1, "create")
	got, _ := r.snapshot()
	assert.Equal(t, int64(1), got["create,"], "the first update is not held back")
	time.Sleep(2 * Interval)
	c.Incr(1, "create")
	got, _ = r.snapshot()
	assert.Equal(t, int64(2), got["create,"])
}

func TestGaugeKeepsTheLastValueAndFlushHandsItOver(t *testing.T) {
	r := &recorder{got: map[string]int64{}}
	g := &Gauge{buffer{nLabels: 0, emit: r.emit}}
	for i := range 100 {
		g.Set(int64(i))
	}
	g.Flush()
	got, _ := r.snapshot()
	assert.Equal(t, int64(99), got[""])
	time.Sleep(2 * Interval) // the armed timer finds nothing and changes nothing
	got, _ = r.snapshot()
	assert.Equal(t, int64(99), got[""])
}

func TestNilMetricsDoNothing(t *testing.T) {
	assert.Nil(t, NewCounter(nil, 1))
	assert.Nil(t, NewGauge(nil, 0))
	var c *Counter
	var g *Gauge
	c.Incr(1, "x")
	c.Flush()
	g.Set(1)
	g.Flush()
}
