package harfanglab

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// drfList serves the integers 0..n-1 as a DRF limit/offset list (relative `next`), capping
// `limit` at maxLimit like DRF's max_limit; grow adds that many integers once the first page
// (and its count) is answered.
type drfList struct {
	mu          sync.Mutex
	n, maxLimit int
	grow        int
	cursor      bool          // answer `next` as an opaque cursor (no offset) after the first page
	delay       time.Duration // per request: lets requests overlap
	offsets     []int
	inFlight    atomic.Int32
	peak        atomic.Int32
}

func (d *drfList) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cur := d.inFlight.Add(1)
	defer d.inFlight.Add(-1)
	for p := d.peak.Load(); cur > p; p = d.peak.Load() {
		if d.peak.CompareAndSwap(p, cur) {
			break
		}
	}
	time.Sleep(d.delay)
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	limit = min(limit, d.maxLimit)
	off, _ := strconv.Atoi(q.Get("offset"))
	if c := q.Get("cursor"); c != "" {
		off, _ = strconv.Atoi(c)
	}
	d.mu.Lock()
	d.offsets = append(d.offsets, off)
	n := d.n
	if d.grow > 0 { // after the first answer
		d.n += d.grow
		d.grow = 0
	}
	d.mu.Unlock()
	results := []map[string]int{}
	for i := off; i < min(off+limit, n); i++ {
		results = append(results, map[string]int{"n": i})
	}
	page := map[string]any{"count": n, "results": results, "next": nil}
	if off+limit < n {
		nq := url.Values{"source_id": {q.Get("source_id")}, "limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(off + limit)}}
		if d.cursor {
			nq = url.Values{"cursor": {strconv.Itoa(off + limit)}, "limit": {strconv.Itoa(limit)}}
		}
		page["next"] = r.URL.Path + "?" + nq.Encode()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

func listAll(t *testing.T, d *drfList, parallel int, stopAt int) ([]int, error) {
	t.Helper()
	srv := httptest.NewServer(d)
	defer srv.Close()
	cl := newTestClient(t, srv.URL, nil)
	var got []int
	err := ListOfParallel(t.Context(), cl, "threat_intelligence/IOCRule/", url.Values{"source_id": {"S"}}, parallel, func(v struct{ N int }) error {
		if v.N == stopAt {
			return errors.New("stop")
		}
		got = append(got, v.N)
		return nil
	})
	return got, err
}

func upTo(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestListOfParallelReadsEveryPageInOrder(t *testing.T) {
	// The server caps the limit at 70 (DefaultPageSize asked): the stride comes from `next`.
	d := &drfList{n: 1000, maxLimit: 70, delay: 10 * time.Millisecond}
	got, err := listAll(t, d, 4, -1)
	require.NoError(t, err)
	assert.Equal(t, upTo(1000), got, "every element once, in list order")
	assert.Len(t, d.offsets, 15, "one request per page of 70")
	assert.ElementsMatch(t, []int{0, 70, 140, 210, 280, 350, 420, 490, 560, 630, 700, 770, 840, 910, 980}, d.offsets)
	assert.Greater(t, d.peak.Load(), int32(1), "pages fetched concurrently")
	assert.LessOrEqual(t, d.peak.Load(), int32(4))
}

func TestListOfParallelFollowsNextWhenTheListGrows(t *testing.T) {
	d := &drfList{n: 250, maxLimit: 100, grow: 130}
	got, err := listAll(t, d, 4, -1)
	require.NoError(t, err)
	assert.Equal(t, upTo(380), got, "entries added while listing are read through `next`")
}

func TestListOfParallelFallsBackToNextWithoutOffsets(t *testing.T) {
	d := &drfList{n: 450, maxLimit: 100, cursor: true, delay: 5 * time.Millisecond}
	got, err := listAll(t, d, 4, -1)
	require.NoError(t, err)
	assert.Equal(t, upTo(450), got)
	assert.Equal(t, int32(1), d.peak.Load(), "an opaque cursor is followed one page at a time")
}

func TestListOfParallelStopsAtTheFirstError(t *testing.T) {
	d := &drfList{n: 2000, maxLimit: 100}
	got, err := listAll(t, d, 4, 321)
	require.EqualError(t, err, "stop")
	assert.Equal(t, upTo(321), got)
	d.mu.Lock()
	defer d.mu.Unlock()
	assert.Less(t, len(d.offsets), 10, "no page read beyond the ones in flight")
}

func TestListOfParallelOnePage(t *testing.T) {
	d := &drfList{n: 42, maxLimit: 100}
	got, err := listAll(t, d, 4, -1)
	require.NoError(t, err)
	assert.Equal(t, upTo(42), got)
	assert.Equal(t, []int{0}, d.offsets)
}
