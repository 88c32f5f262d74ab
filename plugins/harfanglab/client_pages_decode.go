package harfanglab

import "github.com/opencti-harfanglab/opencti-harfanglab/plugins/jsonscan"

// A page of IOC rules is what the output reads most (a 1 000 000-entry list at start is 2 000
// pages of ~250 KB): encoding/json scans each page twice (validity, then decoding) through a
// per-byte state machine and reflects on every field, including the ones the index never uses
// (source_id, dates, global_state...). iocPageDecoder reads the page in one pass, building only
// iocRule's fields.
//
// It must give what json.Unmarshal gives, so it handles only the plain case and reports false
// for anything else, and the caller then lets encoding/json decide (same result, same error):
// a key with escapes or non-ASCII bytes, a key matching a field only case-insensitively, a
// field of an unexpected JSON type, a count that is not an int, deep nesting, invalid JSON. TestIOCPageDecoderMatchesEncodingJSON and FuzzIOCPageDecoder hold it to json.Unmarshal.
//
// The lexical layer is jsonscan's; this file keeps the mapping of the fields.
type iocPageDecoder struct {
	jsonscan.Scanner
}

// fastDecoding is implemented by answers with a decoder of their own; decodeFast reports false
// (and leaves the value as it was) when encoding/json must decide.
type fastDecoding interface {
	decodeFast(b []byte) bool
}

func (p *pageOf[T]) decodeFast(b []byte) bool {
	ip, ok := any(p).(*pageOf[iocRule])
	if !ok {
		return false
	}
	d := iocPageDecoder{jsonscan.New(b, maxIOCPageDepth)}
	if d.page(ip) {
		return true
	}
	*ip = pageOf[iocRule]{}
	return false
}

// decodeFast reads one IOC rule (the answer to a create or an update) into r; fields absent
// from b keep their value, as with encoding/json.
func (r *iocRule) decodeFast(b []byte) bool {
	old := *r
	d := iocPageDecoder{jsonscan.New(b, maxIOCPageDepth)}
	d.WS()
	if d.Peek() == '{' && d.rule(r) {
		d.WS()
		if d.AtEnd() {
			return true
		}
	}
	*r = old
	return false
}

const maxIOCPageDepth = 100

// Field names of a page and of an IOC rule (jsonscan.Lookup gives the index).
var (
	pageFields    = []string{"count", "next", "results"}
	iocRuleFields = []string{"id", "type", "value", "enabled", "block_on_agent", "description", "comment", "hl_status"}
)

// page reads a page. A repeated key is decoded as encoding/json does (the last value wins,
// null keeps the value), except "results": encoding/json would decode the second copy into the
// first one's elements. A key matching a field only case-insensitively is encoding/json's.
func (d *iocPageDecoder) page(p *pageOf[iocRule]) bool {
	d.WS()
	seenResults := false
	ok := d.Object(func(key []byte) bool {
		switch jsonscan.Lookup(pageFields, key) {
		case 0:
			return d.ReadInt(&p.Count)
		case 1:
			return d.nullableString(&p.Next)
		case 2:
			if seenResults {
				return false
			}
			seenResults = true
			return d.results(&p.Results)
		case jsonscan.Unknown:
			return d.Skip()
		}
		return false
	})
	d.WS()
	return ok && d.AtEnd()
}

func (d *iocPageDecoder) results(dst *[]iocRule) bool {
	if d.Null() {
		*dst = nil
		return true
	}
	*dst = make([]iocRule, 0, 64) // `[]` is an empty slice, not nil
	return d.Array(func() bool {
		var r iocRule
		if !d.rule(&r) {
			return false
		}
		*dst = append(*dst, r)
		return true
	})
}

func (d *iocPageDecoder) rule(r *iocRule) bool {
	if d.Null() {
		return true
	}
	strs := [...]*string{0: &r.ID, 1: &r.Type, 2: &r.Value, 5: &r.Description, 6: &r.Comment, 7: &r.HLStatus}
	return d.Object(func(key []byte) bool {
		switch f := jsonscan.Lookup(iocRuleFields, key); f {
		case 3:
			return d.ReadBool(&r.Enabled)
		case 4:
			return d.ReadBool(&r.BlockOnAgent)
		case jsonscan.Unknown:
			return d.Skip()
		case jsonscan.Folded:
			return false
		default:
			return d.ReadString(strs[f])
		}
	})
}

func (d *iocPageDecoder) nullableString(dst **string) bool {
	if d.Null() {
		*dst = nil
		return true
	}
	s, ok := d.Str()
	if ok {
		*dst = &s
	}
	return ok
}
