package harfanglab

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// cursorVersion is the schema version of the persisted cursor. A newer version found in the
// cache is refused rather than misread; version 1 (one last_update cursor) is migrated.
const cursorVersion = 2

// streamCursor is the position in one listing ordered by one time field (alert_time for new
// alerts, last_update for changed alerts and threats). HarfangLab filters on whole seconds, so
// the next query starts at the second of Since: Seen holds the objects already read within
// that second (id → their time), so objects sharing a second are neither skipped nor read
// twice. An object whose time later moves (a status change moves last_update) is read again.
type streamCursor struct {
	Since time.Time         `json:"since"`
	Seen  map[string]string `json:"seen,omitempty"`
	// Crowd is set while the pager walks one second holding more objects than the result
	// window lets a single query page through (see pager); Seen then holds every object read
	// in it. A restart resumes that walk.
	Crowd *time.Time `json:"crowd,omitempty"`
	// Bad holds the keys of objects that could not be decoded, so each is reported once even
	// while the server keeps listing it. Bounded by maxBad.
	Bad map[string]bool `json:"bad,omitempty"`
}

// maxBad bounds Bad: past it the oldest knowledge is dropped (worst case a re-report).
const maxBad = 1000

func (c streamCursor) clone() streamCursor {
	out := streamCursor{Since: c.Since, Seen: maps.Clone(c.Seen), Bad: maps.Clone(c.Bad)}
	if c.Crowd != nil {
		t := *c.Crowd
		out.Crowd = &t
	}
	return out
}

// markBad records a malformed object; it returns false if it was already recorded.
func (c *streamCursor) markBad(key string) bool {
	if c.Bad[key] {
		return false
	}
	if c.Bad == nil || len(c.Bad) >= maxBad {
		c.Bad = map[string]bool{}
	}
	c.Bad[key] = true
	return true
}

// seenAt tells whether the object id with time t was already read.
func (c streamCursor) seenAt(id string, t time.Time) bool {
	prev, ok := c.Seen[id]
	return ok && prev == exactTime(t)
}

// read tells whether the object id with time t is behind the cursor: in an earlier second, or
// seen in the cursor's second.
func (c streamCursor) read(id string, t time.Time) bool {
	return t.Before(wholeSecond(c.Since)) || c.seenAt(id, t)
}

// advance moves the cursor over one object read with time t. An object in a later second
// resets Seen; Since is the latest time read.
func (c *streamCursor) advance(id string, t time.Time) {
	if wholeSecond(t).After(wholeSecond(c.Since)) {
		c.Seen = map[string]string{}
	}
	if t.After(c.Since) {
		c.Since = t
	}
	if c.Seen == nil {
		c.Seen = map[string]string{}
	}
	c.Seen[id] = exactTime(t)
}

// cursorState is what the input persists in its checkpoint cache: one cursor per pass.
type cursorState struct {
	Version int `json:"version"`
	// Created walks alerts by alert_time: every alert once, whether or not it has last_update.
	Created streamCursor `json:"created"`
	// Updated walks alerts by last_update: status changes of alerts already imported.
	Updated streamCursor `json:"updated"`
	Threats streamCursor `json:"threats"`
	// Alerts is the version 1 cursor (last_update only), read for migration.
	Alerts *streamCursor `json:"alerts,omitempty"`
}

func decodeCursor(b []byte) (cursorState, error) {
	var st cursorState
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("decoding cursor: %w", err)
	}
	if st.Version > cursorVersion {
		return st, fmt.Errorf("cursor has version %d, newer than this binary understands (%d)", st.Version, cursorVersion)
	}
	if st.Version <= 1 && st.Alerts != nil {
		// Version 1 followed last_update only: it becomes the update pass, and new alerts
		// are read by alert_time from the same instant.
		st.Updated = *st.Alerts
		st.Created = streamCursor{Since: st.Alerts.Since}
	}
	st.Alerts = nil
	if st.Created.Since.IsZero() {
		return st, fmt.Errorf("cursor has no alerts position")
	}
	if st.Updated.Since.IsZero() {
		st.Updated.Since = st.Created.Since
	}
	if st.Threats.Since.IsZero() {
		st.Threats.Since = st.Created.Since
	}
	st.Version = cursorVersion
	return st, nil
}

func (st cursorState) encode() ([]byte, error) {
	st.Version = cursorVersion
	st.Alerts = nil
	return json.Marshal(st)
}

// queryTimeLayout is how instants are sent to HarfangLab: whole seconds, UTC, `Z` — the form
// HarfangLab's own clients (XSOAR integration, SDK) send; microseconds are not evidenced.
const queryTimeLayout = "2006-01-02T15:04:05Z"

// formatTime floors t to its second for a query.
func formatTime(t time.Time) string { return wholeSecond(t).Format(queryTimeLayout) }

func wholeSecond(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// exactTime is how a time is kept in Seen: full precision, so a change within the same second
// is still told apart.
func exactTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// parseTime accepts the timestamp forms HarfangLab emits (any offset, 0 to 9 fractional digits)
// and the forms a user may give as start_date (RFC 3339, a naive date-time taken as UTC, a date).
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp or a date", s)
}
