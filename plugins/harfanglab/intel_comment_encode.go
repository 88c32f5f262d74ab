package harfanglab

import (
	"slices"
	"strconv"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/jsonscan"
)

// appendComment writes the comment of owners o exactly as json.Marshal writes its commentDoc
// (the stored comment is compared by hash at every restart: one different byte would rewrite
// every entry), without the reflection, the map of claims and the copies: the comment is built
// for every IOC written (issue 12). ok is false when o is not strictly sorted by id or a
// record cannot be written here; buildComment then uses json.Marshal.
func appendComment(buf []byte, o owners) (_ []byte, ok bool) {
	for i := 1; i < len(o); i++ {
		if o[i-1].id.compare(o[i].id) >= 0 { // unsorted or duplicate ids: the map of claims would differ
			return buf, false
		}
	}
	buf = append(buf, `{"indicator_id":`...)
	if len(o) == 0 {
		buf = append(buf, "null"...)
	} else {
		buf = jsonscan.AppendString(buf, o[0].id.String())
	}
	buf = append(buf, `,"indicator_ids":[`...)
	score := 0
	var platforms []string
	for i, c := range o {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = jsonscan.AppendString(buf, c.id.String())
		if c.rec != nil {
			if c.rec.Score != nil && *c.rec.Score > score {
				score = *c.rec.Score
			}
			platforms = append(platforms, c.rec.platforms()...)
		}
	}
	buf = append(buf, `],"indicator_score":`...)
	buf = strconv.AppendInt(buf, int64(score), 10)
	buf = append(buf, `,"indicator_platforms":`...)
	slices.Sort(platforms)
	buf = appendJSONStrings(buf, slices.Compact(platforms), false)
	if len(o) > 0 {
		buf = append(buf, `,"claims":{`...)
		for i, c := range o {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = jsonscan.AppendString(buf, c.id.String())
			buf = append(buf, ':')
			if buf, ok = appendRecord(buf, c.rec); !ok {
				return buf, false
			}
		}
		buf = append(buf, '}')
	}
	return append(buf, '}'), true
}

// appendRecord writes one claim as json.Marshal writes an *ownerRecord.
func appendRecord(buf []byte, r *ownerRecord) ([]byte, bool) {
	if r == nil {
		return append(buf, "null"...), true
	}
	buf = append(buf, `{"via":`...)
	buf = appendJSONStrings(buf, r.Via, true)
	if r.Score != nil {
		buf = append(buf, `,"score":`...)
		buf = strconv.AppendInt(buf, int64(*r.Score), 10)
	}
	if p := r.platforms(); len(p) > 0 {
		buf = append(buf, `,"platforms":`...)
		buf = appendJSONStrings(buf, p, false)
	}
	if r.Block {
		buf = append(buf, `,"block":true`...)
	}
	if r.ValidUntil != nil {
		t, err := r.ValidUntil.MarshalJSON()
		if err != nil {
			return buf, false
		}
		buf = append(buf, `,"valid_until":`...)
		buf = append(buf, t...)
	}
	return append(buf, '}'), true
}

// appendJSONStrings writes a string slice; a nil one is null when nilIsNull (no omitempty).
func appendJSONStrings(buf []byte, s []string, nilIsNull bool) []byte {
	if s == nil && nilIsNull {
		return append(buf, "null"...)
	}
	buf = append(buf, '[')
	for i, v := range s {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = jsonscan.AppendString(buf, v)
	}
	return append(buf, ']')
}
