package harfanglab

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// cursorVersion is the schema version of the persisted cursor. A newer version found in the
// cache is refused rather than misread.
const cursorVersion = 1

// streamCursor is the position in one ordered listing (alerts or threats, both ordered by
// `last_update,id`): everything with last_update < Since has been read, and Seen holds the
// objects read at exactly Since (id → their last_update), so objects sharing that timestamp are
// neither skipped nor read twice. An object whose last_update later changes (a status change)
// is listed again with a new last_update and read again.
type streamCursor struct {
	Since time.Time         `json:"since"`
	Seen  map[string]string `json:"seen,omitempty"`
	// Bad holds the keys of objects that could not be decoded, so each is reported once even
	// while the server keeps listing it. Bounded by maxBad.
	Bad map[string]bool `json:"bad,omitempty"`
}

// maxBad bounds Bad: past it the oldest knowledge is dropped (worst case a re-report).
const maxBad = 1000

func (c streamCursor) clone() streamCursor {
	return streamCursor{Since: c.Since, Seen: maps.Clone(c.Seen), Bad: maps.Clone(c.Bad)}
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

// seenAt tells whether the object id with last_update lu was already read.
func (c streamCursor) seenAt(id string, lu time.Time) bool {
	prev, ok := c.Seen[id]
	return ok && prev == formatTime(lu)
}

// advance moves the cursor over one object read with last_update lu. Objects older than the
// cursor do not move it; an object at a later instant moves Since and resets Seen.
func (c *streamCursor) advance(id string, lu time.Time) {
	switch {
	case lu.Before(c.Since):
		return
	case lu.After(c.Since):
		c.Since = lu
		c.Seen = map[string]string{}
	}
	if c.Seen == nil {
		c.Seen = map[string]string{}
	}
	c.Seen[id] = formatTime(lu)
}

// cursorState is what the input persists in its checkpoint cache.
type cursorState struct {
	Version int          `json:"version"`
	Alerts  streamCursor `json:"alerts"`
	Threats streamCursor `json:"threats"`
}

func decodeCursor(b []byte) (cursorState, error) {
	var st cursorState
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("decoding cursor: %w", err)
	}
	if st.Version > cursorVersion {
		return st, fmt.Errorf("cursor has version %d, newer than this binary understands (%d)", st.Version, cursorVersion)
	}
	if st.Alerts.Since.IsZero() {
		return st, fmt.Errorf("cursor has no alerts position")
	}
	if st.Threats.Since.IsZero() {
		st.Threats.Since = st.Alerts.Since
	}
	return st, nil
}

func (st cursorState) encode() ([]byte, error) {
	st.Version = cursorVersion
	return json.Marshal(st)
}

// queryTimeLayout is how instants are sent to HarfangLab: UTC with microseconds, the precision
// Django stores, so a `__gte` filter never excludes the object the cursor came from.
const queryTimeLayout = "2006-01-02T15:04:05.000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(queryTimeLayout) }

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
