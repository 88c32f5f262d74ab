package harfanglab

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// listItem is one object of a list page.
type listItem struct {
	raw json.RawMessage
	id  string
	lu  time.Time
	err error // the object is unusable (not an object, no id, bad last_update)
}

// decodeItem reads the two fields the cursor needs. An item that fails still gets a stable key:
// its id when present, else a digest of its bytes.
func decodeItem(raw json.RawMessage) listItem {
	it := listItem{raw: raw}
	var head struct {
		ID         any    `json:"id"`
		LastUpdate string `json:"last_update"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		it.id, it.err = digestKey(raw), fmt.Errorf("not a JSON object: %w", err)
		return it
	}
	switch v := head.ID.(type) {
	case string:
		it.id = v
	case float64:
		it.id = strconv.FormatFloat(v, 'f', -1, 64)
	}
	if it.id == "" {
		it.id, it.err = digestKey(raw), errors.New("object has no id")
		return it
	}
	if head.LastUpdate == "" {
		it.err = errors.New("object has no last_update")
		return it
	}
	lu, err := parseTime(head.LastUpdate)
	if err != nil {
		it.err = fmt.Errorf("last_update: %w", err)
		return it
	}
	it.lu = lu
	return it
}

func digestKey(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// pager walks one listing (alerts or threats) ordered by `last_update,id` from a cursor. It is
// used from the Read goroutine only.
//
// Each request asks for `last_update__gte=<cursor>` (and `last_update__lte=<now − settle delay>`,
// so objects that become visible late — HarfangLab stores alerts in Elasticsearch, searchable
// only after a refresh — are not passed by the cursor); the offset only skips objects at the
// cursor instant already read in this poll (minus a small overlap, in case an object moved
// between two requests), so a status change during a poll cannot make it skip anything, and
// many objects sharing one timestamp across pages are neither skipped nor looped over.
type pager struct {
	path     string
	filters  url.Values
	pageSize int
	overlap  int

	cur      streamCursor
	offset   int
	caughtUp bool
	// until, when set, bounds this poll to objects updated at or before it (settle_delay).
	until time.Time
}

func newPager(path string, filters url.Values, pageSize int, from streamCursor) *pager {
	return &pager{
		path:     path,
		filters:  filters,
		pageSize: pageSize,
		overlap:  min(5, (pageSize-1)/2),
		cur:      from.clone(),
	}
}

// restart begins a new poll from the cursor, up to until (zero: no upper bound).
func (p *pager) restart(until time.Time) {
	p.offset = 0
	p.caughtUp = false
	p.until = until
}

func (p *pager) query() url.Values {
	q := url.Values{}
	for k, v := range p.filters {
		q[k] = append([]string(nil), v...)
	}
	q.Set("last_update__gte", formatTime(p.cur.Since))
	if !p.until.IsZero() {
		q.Set("last_update__lte", formatTime(p.until))
	}
	q.Set("ordering", "last_update,id")
	q.Set("limit", strconv.Itoa(p.pageSize))
	q.Set("offset", strconv.Itoa(p.offset))
	return q
}

// take consumes one page: it returns the objects not read before (malformed ones included,
// once, with their error), advances the cursor over them and sets the next offset.
func (p *pager) take(results []json.RawMessage, hasNext bool) []listItem {
	prev := p.cur.Since
	var fresh []listItem
	for _, raw := range results {
		it := decodeItem(raw)
		if it.err != nil {
			if p.cur.markBad(it.id) {
				fresh = append(fresh, it)
			}
			continue
		}
		if it.lu.Before(p.cur.Since) || p.cur.seenAt(it.id, it.lu) {
			continue
		}
		p.cur.advance(it.id, it.lu)
		fresh = append(fresh, it)
	}
	if p.cur.Since.Equal(prev) {
		p.offset += len(results)
	} else {
		// The query moves to the new instant: skip what this page held at it.
		atEnd := 0
		for _, raw := range results {
			if it := decodeItem(raw); it.err == nil && it.lu.Equal(p.cur.Since) {
				atEnd++
			}
		}
		p.offset = atEnd
	}
	p.offset = max(0, p.offset-p.overlap)
	p.caughtUp = len(results) < p.pageSize || !hasNext
	return fresh
}
