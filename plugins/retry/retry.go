// Package retry holds the back-off arithmetic shared by every client of the distribution
// (HarfangLab REST, OpenCTI GraphQL, the OpenCTI stream), so they all wait the same way.
package retry

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff is the wait before retry number attempt (0 for the first retry): a random duration
// in [d/2, d] with d = base·2^attempt, capped at ceiling. The jitter spreads clients that failed
// together (e.g. every writer hit by one 503) so they do not retry in lockstep.
func Backoff(attempt int, base, ceiling time.Duration) time.Duration {
	if base <= 0 || ceiling <= 0 {
		return 0
	}
	d := base << min(max0(attempt), 30)
	if d <= 0 || d > ceiling {
		d = ceiling
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func max0(n int) int {
	if n < 0 {
		return 0
	}
	return n
}

// Sleep waits d, or until ctx ends (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ParseRetryAfter reads a Retry-After header value: delay-seconds or an HTTP date. It returns
// 0 when the value is absent, invalid or in the past.
func ParseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(secs, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
