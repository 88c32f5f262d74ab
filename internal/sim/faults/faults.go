// Package faults is the fault-injection middleware shared by the simulators: latency,
// 429 with Retry-After, 5xx, dropped connections, a concurrency cap, and request counters.
package faults

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Config says which faults to inject. Rates are probabilities in [0,1] drawn per request.
type Config struct {
	Latency       time.Duration // added before every answer
	Rate429       float64       // answer 429 Too Many Requests with Retry-After
	RetryAfter    time.Duration // value of Retry-After on 429 (rounded up to seconds; 0 → "0")
	Rate5xx       float64       // answer 503
	RateDrop      float64       // close the connection without an answer
	MaxConcurrent int           // requests beyond it wait for a slot (0 = no cap)
}

// Injector wraps an http.Handler with the faults of its current Config. Safe for concurrent use.
type Injector struct {
	mu      sync.Mutex
	conf    Config
	sem     chan struct{}
	next    http.Handler
	total   atomic.Int64
	faulted atomic.Int64
	active  atomic.Int64
	peak    atomic.Int64
	// Skip, when set, exempts requests from faults (e.g. test-only inspection endpoints).
	Skip func(*http.Request) bool
}

// New wraps next.
func New(next http.Handler) *Injector { return &Injector{next: next} }

// Set replaces the fault configuration.
func (f *Injector) Set(c Config) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conf = c
	if c.MaxConcurrent > 0 {
		f.sem = make(chan struct{}, c.MaxConcurrent)
	} else {
		f.sem = nil
	}
}

// Get returns the current configuration.
func (f *Injector) Get() Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conf
}

// Requests is the number of requests received (faulted ones included).
func (f *Injector) Requests() int64 { return f.total.Load() }

// Faulted is the number of requests answered with an injected fault.
func (f *Injector) Faulted() int64 { return f.faulted.Load() }

// PeakConcurrency is the highest number of requests served at once.
func (f *Injector) PeakConcurrency() int64 { return f.peak.Load() }

// ResetCounters zeroes the counters.
func (f *Injector) ResetCounters() {
	f.total.Store(0)
	f.faulted.Store(0)
	f.peak.Store(0)
}

func (f *Injector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.Skip != nil && f.Skip(r) {
		f.next.ServeHTTP(w, r)
		return
	}
	f.total.Add(1)
	f.mu.Lock()
	c, sem := f.conf, f.sem
	f.mu.Unlock()
	if sem != nil {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
		case <-r.Context().Done():
			return
		}
	}
	n := f.active.Add(1)
	defer f.active.Add(-1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if c.Latency > 0 {
		select {
		case <-time.After(c.Latency):
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case hit(c.RateDrop):
		f.faulted.Add(1)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case hit(c.Rate429):
		f.faulted.Add(1)
		secs := int((c.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", itoa(secs))
		http.Error(w, `{"detail":"Request was throttled."}`, http.StatusTooManyRequests)
		return
	case hit(c.Rate5xx):
		f.faulted.Add(1)
		http.Error(w, "service unavailable (injected)", http.StatusServiceUnavailable)
		return
	}
	f.next.ServeHTTP(w, r)
}

func hit(p float64) bool { return p > 0 && rand.Float64() < p }

func itoa(n int) string {
	if n <= 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
