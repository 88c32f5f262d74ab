// Package metricbuf coalesces the metric updates of the per-message paths. A Benthos counter
// or gauge rebuilds its labelled name on every update (sorting, quoting and a map per call,
// for the stream's local metrics and again for Prometheus): ~2.5 KB and a few µs per update,
// five updates per indicator in the intel push (issue 12). Updates here are summed (counters)
// or the last one kept (gauges) per label values, and handed to Benthos at most once per
// Interval: an update after a quiet Interval goes through at once, a burst is handed over by a
// timer at the end of the Interval. So a metric is at most Interval behind, and exact whenever
// updates are rarer than that.
package metricbuf

import (
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// Interval is the longest an update waits before Benthos sees it.
const Interval = 10 * time.Millisecond

// maxLabels is how many label values a buffered metric may have; more go straight through.
const maxLabels = 2

type labels [maxLabels]string

// buffer holds the updates not handed over yet.
type buffer struct {
	nLabels int
	sum     bool // counter: updates add up; gauge: the last one wins
	emit    func(v int64, labelValues ...string)

	mu      sync.Mutex
	pending map[labels]int64
	last    time.Time // last hand-over
	armed   bool      // a timer will hand the pending updates over

	// emitMu is taken before mu is released by whoever took pending updates, so hand-overs
	// happen in the order they were taken (a gauge never goes back to an older value).
	emitMu sync.Mutex
}

func (b *buffer) update(v int64, labelValues []string) {
	if len(labelValues) > maxLabels || b.nLabels > maxLabels {
		b.emit(v, labelValues...)
		return
	}
	var k labels
	copy(k[:], labelValues)
	b.mu.Lock()
	if b.pending == nil {
		b.pending = make(map[labels]int64, 4)
	}
	if b.sum {
		b.pending[k] += v
	} else {
		b.pending[k] = v
	}
	if b.armed {
		b.mu.Unlock()
		return
	}
	now := time.Now()
	if wait := Interval - now.Sub(b.last); wait > 0 {
		b.armed = true
		b.mu.Unlock()
		time.AfterFunc(wait, b.flush)
		return
	}
	b.handLocked(now)
}

// flush hands every pending update over now.
func (b *buffer) flush() {
	b.mu.Lock()
	b.armed = false
	b.handLocked(time.Now())
}

// handLocked takes the pending updates, releases mu and hands them to Benthos.
func (b *buffer) handLocked(now time.Time) {
	p := b.pending
	b.pending = nil
	b.last = now
	if len(p) == 0 {
		b.mu.Unlock()
		return
	}
	b.emitMu.Lock()
	b.mu.Unlock()
	defer b.emitMu.Unlock()
	for k, v := range p {
		b.emit(v, k[:b.nLabels]...)
	}
}

// Counter is a service.MetricCounter whose increments are coalesced. A nil *Counter, or one
// over a nil counter (no metrics), does nothing.
type Counter struct{ b buffer }

// NewCounter wraps c, created with nLabels label keys.
func NewCounter(c *service.MetricCounter, nLabels int) *Counter {
	if c == nil {
		return nil
	}
	return &Counter{buffer{nLabels: nLabels, sum: true, emit: c.Incr}}
}

// Incr adds n to the counter with these label values.
func (c *Counter) Incr(n int64, labelValues ...string) {
	if c != nil {
		c.b.update(n, labelValues)
	}
}

// Flush hands the pending increments over now (at Close: nothing waits for a timer).
func (c *Counter) Flush() {
	if c != nil {
		c.b.flush()
	}
}

// Gauge is a service.MetricGauge whose settings are coalesced (the last one wins). A nil
// *Gauge, or one over a nil gauge, does nothing.
type Gauge struct{ b buffer }

// NewGauge wraps g, created with nLabels label keys.
func NewGauge(g *service.MetricGauge, nLabels int) *Gauge {
	if g == nil {
		return nil
	}
	return &Gauge{buffer{nLabels: nLabels, emit: g.Set}}
}

// Set sets the gauge with these label values to v.
func (g *Gauge) Set(v int64, labelValues ...string) {
	if g != nil {
		g.b.update(v, labelValues)
	}
}

// Flush hands the pending setting over now.
func (g *Gauge) Flush() {
	if g != nil {
		g.b.flush()
	}
}
