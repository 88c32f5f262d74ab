package retry

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func TestBackoffGrowsWithinJitterAndCap(t *testing.T) {
	base, top := 100*time.Millisecond, 2*time.Second
	for attempt, full := range []time.Duration{100, 200, 400, 800, 1600, 2000, 2000} {
		full *= time.Millisecond
		for range 50 {
			d := Backoff(attempt, base, top)
			if d < full/2 || d > full {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, full/2, full)
			}
		}
	}
	if d := Backoff(1000, base, top); d > top {
		t.Fatalf("huge attempt overflowed the cap: %v", d)
	}
	if Backoff(3, 0, top) != 0 {
		t.Fatal("no base means no wait")
	}
}

func TestParseRetryAfter(t *testing.T) {
	if got := ParseRetryAfter(" 3 "); got != 3*time.Second {
		t.Errorf("seconds: %v", got)
	}
	for _, v := range []string{"", "soon", "-5"} {
		if got := ParseRetryAfter(v); got != 0 {
			t.Errorf("%q: %v, want 0", v, got)
		}
	}
	date := time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)
	if got := ParseRetryAfter(date); got < 8*time.Second || got > 10*time.Second {
		t.Errorf("HTTP date: %v", got)
	}
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	if got := ParseRetryAfter(past); got != 0 {
		t.Errorf("past date: %v", got)
	}
}

func TestSleepStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Minute); err == nil || time.Since(start) > time.Second {
		t.Fatalf("Sleep ignored the cancelled context: %v", err)
	}
	if err := Sleep(t.Context(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
}
