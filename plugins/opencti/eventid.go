package opencti

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// eventID is an OpenCTI stream position `<ms since epoch>-<seq>` (a Redis stream id, a
// recovery snapshot id `<updated_at ms>-0`, or a heartbeat position).
type eventID struct{ ms, seq uint64 }

// parseEventID accepts exactly `<digits>-<digits>`.
func parseEventID(s string) (eventID, bool) {
	a, b, ok := strings.Cut(s, "-")
	if !ok || a == "" || b == "" {
		return eventID{}, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	if err1 != nil || err2 != nil {
		return eventID{}, false
	}
	return eventID{ms: ms, seq: seq}, true
}

func (e eventID) less(o eventID) bool {
	return e.ms < o.ms || (e.ms == o.ms && e.seq < o.seq)
}

func (e eventID) String() string {
	return strconv.FormatUint(e.ms, 10) + "-" + strconv.FormatUint(e.seq, 10)
}

// idLess compares two position strings; an unparsable or empty one sorts first, so it never
// wins a max().
func idLess(a, b string) bool {
	ea, oka := parseEventID(a)
	eb, okb := parseEventID(b)
	switch {
	case !okb:
		return false
	case !oka:
		return true
	}
	return ea.less(eb)
}

// startPosition converts `recover_from` into the first-run position: "" for the live tail
// (`now`), `0-0` for everything, `<ms>-0` for a date, or a stream id used verbatim.
func startPosition(recoverFrom string) (string, error) {
	switch v := strings.TrimSpace(recoverFrom); {
	case strings.EqualFold(v, "now"):
		return "", nil
	case v == "" || v == "0" || v == "0-0":
		return "0-0", nil
	default:
		if id, ok := parseEventID(v); ok {
			return id.String(), nil
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, v); err == nil {
				return eventID{ms: uint64(t.UnixMilli())}.String(), nil
			}
		}
		return "", fmt.Errorf("recover_from %q: want `0-0`, `now`, an RFC 3339 date or a stream id <ms>-<seq>", v)
	}
}
