package harfanglab

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeListing answers pager queries from an in-memory table the way a strict HarfangLab
// would: <field>__gte/__lte in whole seconds, ordering=<field> (ties in a fixed order),
// status/alert_type filters, limit/offset within the 10 000 result window.
type fakeListing struct {
	objs map[string]time.Time
	// kind, when set, gives an object's "status/alert_type" (default "new/sigma").
	kind map[string]string
}

func (f *fakeListing) page(t *testing.T, p *pager) ([]json.RawMessage, bool) {
	t.Helper()
	q := p.query()
	require.Equal(t, p.field, q.Get("ordering"))
	since, err := time.Parse(queryTimeLayout, q.Get(p.field+"__gte"))
	require.NoError(t, err, "whole-second filter")
	until := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if v := q.Get(p.field + "__lte"); v != "" {
		until, err = time.Parse(queryTimeLayout, v)
		require.NoError(t, err)
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	offset, _ := strconv.Atoi(q.Get("offset"))
	require.LessOrEqual(t, offset+limit, defaultResultWindow, "the pager pages past the result window")
	var ids []string
	for id, at := range f.objs {
		st, typ := "new", "sigma"
		if k, ok := f.kind[id]; ok {
			st, typ, _ = strings.Cut(k, "/")
		}
		if !at.Before(since) && !at.After(until) && inFilter(q.Get("status"), st) && inFilter(q.Get("alert_type"), typ) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := f.objs[ids[i]], f.objs[ids[j]]
		if !a.Equal(b) {
			return a.Before(b)
		}
		return ids[i] < ids[j]
	})
	var out []json.RawMessage
	for i := offset; i < len(ids) && i < offset+limit; i++ {
		b, _ := json.Marshal(map[string]any{"id": ids[i], p.field: f.objs[ids[i]].Format(time.RFC3339Nano)})
		out = append(out, b)
	}
	return out, offset+limit < len(ids)
}

func inFilter(list, v string) bool {
	return list == "" || slices.Contains(strings.Split(list, ","), v)
}

// poll runs one full poll and returns the ids read, failing on a runaway loop.
func (f *fakeListing) poll(t *testing.T, p *pager, between func(page int)) []string {
	t.Helper()
	p.restart(time.Time{})
	var got []string
	for pages := 0; !p.caughtUp; pages++ {
		require.Less(t, pages, 1000, "pager loops")
		results, next := f.page(t, p)
		for _, it := range p.take(results, next) {
			require.NoError(t, it.err)
			got = append(got, it.id)
		}
		if between != nil {
			between(pages)
		}
	}
	return got
}

func TestPagerSharedTimestampsAcrossPages(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &fakeListing{objs: map[string]time.Time{}}
	// 3 seconds of 23 objects each (some sharing one microsecond), read with pages of 5.
	for i := range 69 {
		f.objs[fmt.Sprintf("a%03d", i)] = t0.Add(time.Duration(i/23)*time.Second + time.Duration(i%23/3)*time.Millisecond)
	}
	p := newPager(PathAlerts, apiLastUpdate, nil, 5, streamCursor{Since: t0.Add(-time.Hour)})
	got := f.poll(t, p, nil)
	assert.Len(t, got, 69)
	assert.Len(t, uniq(got), 69, "no object read twice")
	assert.Equal(t, t0.Add(2*time.Second+7*time.Millisecond), p.cur.Since)
	assert.Len(t, p.cur.Seen, 23, "Seen holds the cursor's second")

	// Caught up: polling again reads nothing and ends.
	assert.Empty(t, f.poll(t, p, nil))

	// A status change moves an object to a new last_update: it is read again, alone.
	f.objs["a010"] = t0.Add(time.Minute)
	assert.Equal(t, []string{"a010"}, f.poll(t, p, nil))
	assert.Empty(t, f.poll(t, p, nil))
}

func TestPagerStatusChangesDuringAPollSkipNothing(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &fakeListing{objs: map[string]time.Time{}}
	for i := range 40 {
		f.objs[fmt.Sprintf("b%03d", i)] = t0 // all at one instant
	}
	p := newPager(PathAlerts, apiLastUpdate, nil, 10, streamCursor{Since: t0})
	moved := 0
	got := f.poll(t, p, func(page int) {
		// Between pages an analyst closes two alerts already read: they leave the block.
		if page < 3 {
			for _, id := range []string{fmt.Sprintf("b%03d", page*2), fmt.Sprintf("b%03d", page*2+1)} {
				f.objs[id] = t0.Add(time.Duration(10+moved) * time.Second)
				moved++
			}
		}
	})
	for i := range 40 {
		assert.Contains(t, got, fmt.Sprintf("b%03d", i))
	}
	// The moved ones come again with their new last_update (6 of them), nothing else repeats.
	assert.Len(t, got, 40+6)
}

func TestPagerCrowdedSecondBeyondTheResultWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &fakeListing{objs: map[string]time.Time{}, kind: map[string]string{}}
	statuses, types := []string{"new", "investigating"}, []string{"sigma", "yara", "ioc"}
	// 12 000 objects in one instant (a bulk status change), spread over statuses and types,
	// between two ordinary ones.
	f.objs["before"] = t0.Add(-time.Second)
	for i := range 12000 {
		id := fmt.Sprintf("c%05d", i)
		f.objs[id] = t0.Add(500 * time.Millisecond)
		f.kind[id] = statuses[i%2] + "/" + types[i%3]
	}
	f.objs["after"] = t0.Add(3 * time.Second)
	filters := url.Values{"status": {"new,investigating"}, "alert_type": {"sigma,yara,ioc"}}
	var truncated []string
	mk := func(from streamCursor) *pager {
		p := newPager(PathAlerts, apiLastUpdate, filters, 500, from)
		p.truncated = func(s time.Time, slice url.Values) { truncated = append(truncated, slice.Encode()) }
		return p
	}
	p := mk(streamCursor{Since: t0.Add(-time.Hour)})
	got := f.poll(t, p, nil)
	assert.Len(t, uniq(got), 12002, "every object, past the window")
	assert.Len(t, got, 12002, "none twice")
	assert.Empty(t, truncated)
	assert.Nil(t, p.cur.Crowd)
	assert.Equal(t, t0.Add(3*time.Second), p.cur.Since)

	// A restart in the middle of the crowd (cursor persisted mid-walk) resumes it.
	p = mk(streamCursor{Since: t0.Add(-time.Hour)})
	var mid streamCursor
	first := f.poll(t, p, func(page int) {
		if page == 40 {
			mid = p.cur.clone()
		}
	})
	require.NotNil(t, mid.Crowd, "page 40 is inside the crowd walk")
	p = mk(mid)
	rest := f.poll(t, p, nil)
	assert.NotEmpty(t, rest)
	assert.Less(t, len(rest), len(first), "the restart does not read the crowd again")
	assert.Contains(t, rest, "after")

	// One combination over the window cannot be listed whole: reported, and no stall.
	for i := range 12000 {
		f.kind[fmt.Sprintf("c%05d", i)] = "new/sigma"
	}
	p = mk(streamCursor{Since: t0.Add(-time.Hour)})
	got = f.poll(t, p, nil)
	assert.Equal(t, []string{"alert_type=sigma&status=new"}, truncated)
	assert.Contains(t, got, "after", "the cursor moves past the crowded second")
}

func TestPagerMalformedObjectsReportedOnce(t *testing.T) {
	p := newPager(PathAlerts, apiLastUpdate, nil, 10, streamCursor{Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	page := []json.RawMessage{
		json.RawMessage(`"just a string"`),
		json.RawMessage(`{"msg":"no id"}`),
		json.RawMessage(`{"id":"x1","last_update":"yesterday"}`),
		json.RawMessage(`{"id":"x2","last_update":"2026-01-01T02:00:01.5+02:00"}`),
	}
	got := p.take(page, false)
	require.Len(t, got, 4)
	for _, it := range got[:3] {
		assert.Error(t, it.err)
		assert.NotEmpty(t, it.id)
	}
	assert.NoError(t, got[3].err)
	assert.Equal(t, "2026-01-01T00:00:01.5Z", exactTime(p.cur.Since), "offsets are converted to UTC")
	assert.Equal(t, "2026-01-01T00:00:01Z", p.query().Get("last_update__gte"), "queries carry whole seconds")
	// An object older than the cursor is not read (the server should not list it anyway).
	assert.Empty(t, p.take([]json.RawMessage{json.RawMessage(`{"id":"x0","last_update":"2025-12-31T00:00:00Z"}`)}, false))
	p.restart(time.Time{})
	assert.Empty(t, p.take(page[:3], false), "malformed objects are not reported again at the same cursor")
}

func TestCursorRoundTripAndVersion(t *testing.T) {
	crowd := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	st := cursorState{
		Created: streamCursor{Since: time.Date(2026, 2, 3, 4, 5, 6, 7000, time.UTC), Seen: map[string]string{"a": "x"}},
		Updated: streamCursor{Since: crowd, Crowd: &crowd},
	}
	b, err := st.encode()
	require.NoError(t, err)
	back, err := decodeCursor(b)
	require.NoError(t, err)
	assert.True(t, st.Created.Since.Equal(back.Created.Since))
	assert.Equal(t, st.Created.Seen, back.Created.Seen)
	require.NotNil(t, back.Updated.Crowd)
	assert.True(t, crowd.Equal(*back.Updated.Crowd))
	assert.True(t, back.Threats.Since.Equal(st.Created.Since), "threats default to the alerts position")

	// Version 1 (last_update only) becomes the update pass; new alerts start from its position.
	v1, err := decodeCursor([]byte(`{"version":1,"alerts":{"since":"2026-01-01T00:00:00.5Z","seen":{"a":"b"}},"threats":{"since":"2026-01-02T00:00:00Z"}}`))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "b"}, v1.Updated.Seen)
	assert.Equal(t, "2026-01-01T00:00:00.5Z", exactTime(v1.Created.Since))
	assert.Equal(t, "2026-01-02T00:00:00Z", exactTime(v1.Threats.Since))

	_, err = decodeCursor([]byte(`{"version":99,"created":{"since":"2026-01-01T00:00:00Z"}}`))
	assert.ErrorContains(t, err, "newer")
	_, err = decodeCursor([]byte(`not json`))
	assert.Error(t, err)
	_, err = decodeCursor([]byte(`{"version":2}`))
	assert.ErrorContains(t, err, "no alerts position")
}

func TestParseTimeForms(t *testing.T) {
	for _, s := range []string{"2024-07-12T08:13:14.430+00:00", "2021-05-02T07:00:00.000000Z", "2024-02-07T09:18:21.799384-06:00", "2024-01-01", "2024-01-01T00:00:00"} {
		_, err := parseTime(s)
		assert.NoError(t, err, s)
	}
	_, err := parseTime("12/01/2024")
	assert.Error(t, err)
	a, _ := parseTime("2024-02-07T09:18:21.799384-06:00")
	assert.Equal(t, "2024-02-07T15:18:21.799384Z", exactTime(a))
	assert.Equal(t, "2024-02-07T15:18:21Z", formatTime(a), "queries: whole seconds, UTC, Z")
}

func TestParseIOCMessage(t *testing.T) {
	for _, test := range []struct{ msg, typ, value string }{
		{"hash=01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b", "hash", "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b"},
		{"ip_dst = 185.220.101.4", "ip_dst", "185.220.101.4"},
		{"domain_name: evil.example", "domain_name", "evil.example"},
		{"url=http://x.example/a?b=c", "url", "http://x.example/a?b=c"},
	} {
		typ, value, ok := parseIOCMessage(test.msg)
		assert.True(t, ok, test.msg)
		assert.Equal(t, test.typ, typ, test.msg)
		assert.Equal(t, test.value, value, test.msg)
	}
	for _, msg := range []string{"", "no separator here", "=value", "type=", "Binary was found malicious by 2 rule(s) with a score of 120: x"} {
		_, _, ok := parseIOCMessage(msg)
		assert.False(t, ok, msg)
	}
}

func TestTTLLRUExpiresAndEvicts(t *testing.T) {
	c := newTTLLRU(2)
	now := time.Now()
	c.put("a", 1, now.Add(time.Minute))
	c.put("b", 2, now.Add(time.Second))
	_, ok := c.get("a", now) // a is now the most recent
	assert.True(t, ok)
	c.put("c", 3, now.Add(time.Minute)) // evicts b
	_, ok = c.get("b", now)
	assert.False(t, ok)
	_, ok = c.get("a", now.Add(2*time.Minute))
	assert.False(t, ok, "expired")
	assert.Equal(t, 1, c.len())
}

func uniq(ids []string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}
