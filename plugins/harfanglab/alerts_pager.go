package harfanglab

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// resultWindow is the deepest position a HarfangLab list can page to: alerts and threats live
// in Elasticsearch, which refuses `offset + limit` beyond 10 000 (index.max_result_window; the
// HarfangLab SDK splits its time window when `count` reaches 10 000).
const resultWindow = 10000

// Time fields the passes are ordered and filtered on.
const (
	fieldAlertTime  = "alert_time"
	fieldLastUpdate = "last_update"
)

// listItem is one object of a list page.
type listItem struct {
	raw json.RawMessage
	id  string
	t   time.Time // the pager's time field
	// alertTime is the alert's alert_time when present (the update pass compares it).
	alertTime time.Time
	err       error // the object is unusable (not an object, no id, bad time)
}

// decodeItem reads the fields the cursor needs: the id and the time field. An item that fails
// still gets a stable key: its id when present, else a digest of its bytes.
func decodeItem(raw json.RawMessage, field string) listItem {
	it := listItem{raw: raw}
	var head map[string]any
	if err := json.Unmarshal(raw, &head); err != nil {
		it.id, it.err = digestKey(raw), fmt.Errorf("not a JSON object: %w", err)
		return it
	}
	switch v := head["id"].(type) {
	case string:
		it.id = v
	case float64:
		it.id = strconv.FormatFloat(v, 'f', -1, 64)
	}
	if it.id == "" {
		it.id, it.err = digestKey(raw), errors.New("object has no id")
		return it
	}
	if s, ok := head[fieldAlertTime].(string); ok {
		it.alertTime, _ = parseTime(s)
	}
	s, _ := head[field].(string)
	if s == "" {
		it.err = fmt.Errorf("object has no %s", field)
		return it
	}
	t, err := parseTime(s)
	if err != nil {
		it.err = fmt.Errorf("%s: %w", field, err)
		return it
	}
	it.t = t
	return it
}

func digestKey(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// pager walks one listing ordered by one time field (ordering=<field>, the only orderings
// HarfangLab's own clients use) from a cursor. It is used from the Read goroutine only.
//
// Each request asks for `<field>__gte=<second of the cursor>` and `<field>__lte=<now − settle
// delay>` in whole seconds (objects that become searchable late — Elasticsearch refreshes — are
// not passed by the cursor). The offset only skips objects of the cursor's second already read
// in this poll (minus a small overlap, in case an object moved between two requests), so a
// change during a poll cannot make it skip anything.
//
// When one second holds more objects than the result window lets a query page through (a bulk
// status change gives thousands of alerts one last_update), the pager walks that second as a
// "crowd": one query per slice of the filters (each status × each alert type, filters every
// console accepts), each paged from offset 0, deduplicated by Seen. A slice still deeper than
// the window is reported through truncated (never a stall); the cursor then moves past the second.
type pager struct {
	path      string
	field     string
	filters   url.Values
	slices    []url.Values
	pageSize  int
	overlap   int
	reportBad bool // false: malformed objects are skipped silently (another pass reports them)
	truncated func(second time.Time, slice url.Values)

	cur      streamCursor
	offset   int
	slice    int
	caughtUp bool
	// until, when set, bounds this poll to objects at or before it (settle_delay), floored.
	until time.Time
}

func newPager(path, field string, filters url.Values, pageSize int, from streamCursor) *pager {
	return &pager{
		path:      path,
		field:     field,
		filters:   filters,
		slices:    crowdSlices(filters),
		pageSize:  pageSize,
		overlap:   min(5, (pageSize-1)/2),
		reportBad: true,
		truncated: func(time.Time, url.Values) {},
		cur:       from.clone(),
	}
}

// crowdSlices splits the status and alert_type lists into one filter set per combination.
func crowdSlices(filters url.Values) []url.Values {
	slices := []url.Values{{}}
	for _, key := range []string{"status", "alert_type"} {
		vals := strings.Split(filters.Get(key), ",")
		if len(vals) < 2 {
			continue
		}
		var next []url.Values
		for _, s := range slices {
			for _, v := range vals {
				n := cloneValues(s)
				n.Set(key, v)
				next = append(next, n)
			}
		}
		slices = next
	}
	return slices
}

// restart begins a new poll from the cursor, up to until (zero: no upper bound). A crowd walk
// in progress goes on from its first slice (Seen skips what it already read).
func (p *pager) restart(until time.Time) {
	p.offset = 0
	p.slice = 0
	p.caughtUp = false
	p.until = time.Time{}
	if !until.IsZero() {
		p.until = wholeSecond(until)
	}
}

func (p *pager) query() url.Values {
	q := cloneValues(p.filters)
	if p.cur.Crowd != nil {
		for k, v := range p.slices[p.slice] {
			q[k] = append([]string(nil), v...)
		}
		q.Set(p.field+"__gte", formatTime(*p.cur.Crowd))
		q.Set(p.field+"__lte", formatTime(p.crowdEnd()))
	} else {
		q.Set(p.field+"__gte", formatTime(p.cur.Since))
		if !p.until.IsZero() {
			q.Set(p.field+"__lte", formatTime(p.until))
		}
	}
	q.Set("ordering", p.field)
	q.Set("limit", strconv.Itoa(p.pageSize))
	q.Set("offset", strconv.Itoa(p.offset))
	return q
}

// crowdEnd is the last instant of the crowded second the walk covers.
func (p *pager) crowdEnd() time.Time {
	end := p.cur.Crowd.Add(time.Second)
	if !p.until.IsZero() && p.until.Before(end) {
		return p.until
	}
	return end
}

// take consumes one page: it returns the objects not read before (malformed ones included,
// once, with their error), advances the cursor over them and sets the next request.
func (p *pager) take(results []json.RawMessage, hasNext bool) []listItem {
	if p.cur.Crowd != nil {
		return p.takeCrowd(results, hasNext)
	}
	second := wholeSecond(p.cur.Since)
	fresh := p.fresh(results, true)
	if now := wholeSecond(p.cur.Since); now.Equal(second) {
		p.offset += len(results)
	} else {
		// The query moves to the new second: skip what this page held in it.
		p.offset = 0
		for _, raw := range results {
			if it := decodeItem(raw, p.field); it.err == nil && !it.t.Before(now) {
				p.offset++
			}
		}
	}
	p.offset = max(0, p.offset-p.overlap)
	p.caughtUp = len(results) < p.pageSize || !hasNext
	if !p.caughtUp && p.offset+p.pageSize > resultWindow {
		crowd := wholeSecond(p.cur.Since)
		p.cur.Crowd = &crowd
		p.slice, p.offset = 0, 0
	}
	return fresh
}

// fresh decodes a page and keeps the objects not read yet, recording them in the cursor
// (advancing it when advance is set).
func (p *pager) fresh(results []json.RawMessage, advance bool) []listItem {
	var out []listItem
	for _, raw := range results {
		it := decodeItem(raw, p.field)
		if it.err != nil {
			if p.cur.markBad(it.id) && p.reportBad {
				out = append(out, it)
			}
			continue
		}
		if p.cur.read(it.id, it.t) {
			continue
		}
		if advance {
			p.cur.advance(it.id, it.t)
		} else {
			p.cur.Seen[it.id] = exactTime(it.t)
		}
		out = append(out, it)
	}
	return out
}

// takeCrowd consumes one page of a crowd walk: Since stays at the crowded second and Seen
// grows with every object read, until the last slice ends and the cursor moves past it.
func (p *pager) takeCrowd(results []json.RawMessage, hasNext bool) []listItem {
	if p.cur.Seen == nil {
		p.cur.Seen = map[string]string{}
	}
	fresh := p.fresh(results, false)
	p.offset = max(0, p.offset+len(results)-p.overlap)
	more := len(results) == p.pageSize && hasNext
	if more && p.offset+p.pageSize > resultWindow {
		p.truncated(*p.cur.Crowd, p.slices[p.slice])
		more = false
	}
	if more {
		return fresh
	}
	p.slice, p.offset = p.slice+1, 0
	if p.slice < len(p.slices) {
		return fresh
	}
	end := p.crowdEnd()
	if end.After(*p.cur.Crowd) {
		kept := map[string]string{}
		for id, t := range p.cur.Seen {
			if t == exactTime(end) {
				kept[id] = t
			}
		}
		p.cur.Seen = kept
	}
	if end.After(p.cur.Since) {
		p.cur.Since = end
	}
	p.cur.Crowd, p.slice = nil, 0
	return fresh
}
