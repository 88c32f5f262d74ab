package harfanglab

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A page of IOC rules is what the output reads most (a 1 000 000-entry list at start is 2 000
// pages of ~250 KB): encoding/json scans each page twice (validity, then decoding) through a
// per-byte state machine and reflects on every field, including the ones the index never uses
// (source_id, dates, global_state...). iocPageDecoder reads the page in one pass, building only
// iocRule's fields.
//
// It must give what json.Unmarshal gives, so it handles only the plain case and reports false
// for anything else, and the caller then lets encoding/json decide (same result, same error):
// a key with escapes, a key matching a field only case-insensitively, a field of an unexpected
// JSON type, a string with invalid UTF-8, an integer count out of range, deep nesting, invalid
// JSON. TestIOCPageDecoderMatchesEncodingJSON and FuzzIOCPageDecoder hold it to json.Unmarshal.
type iocPageDecoder struct {
	b     []byte
	i     int
	depth int
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
	d := iocPageDecoder{b: b}
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
	d := iocPageDecoder{b: b}
	d.ws()
	if d.peek() == '{' && d.rule(r) {
		d.ws()
		if d.i == len(d.b) {
			return true
		}
	}
	*r = old
	return false
}

const maxIOCPageDepth = 100

func (d *iocPageDecoder) page(p *pageOf[iocRule]) bool {
	d.ws()
	seenResults := false
	ok := d.object(func(key []byte) bool {
		switch string(key) {
		case "count":
			return d.count(&p.Count)
		case "next":
			return d.nullableString(&p.Next)
		case "results":
			if seenResults { // encoding/json would decode into the first copy's elements
				return false
			}
			seenResults = true
			if d.literal("null") {
				p.Results = nil
				return true
			}
			p.Results = make([]iocRule, 0, 64) // `[]` is an empty slice, not nil
			return d.array(func() bool {
				var r iocRule
				if !d.rule(&r) {
					return false
				}
				p.Results = append(p.Results, r)
				return true
			})
		}
		return !foldsTo(key, "count", "next", "results") && d.skip()
	})
	d.ws()
	return ok && d.i == len(d.b)
}

func (d *iocPageDecoder) rule(r *iocRule) bool {
	if d.literal("null") {
		return true
	}
	return d.object(func(key []byte) bool {
		switch string(key) {
		case "id":
			return d.str(&r.ID)
		case "type":
			return d.str(&r.Type)
		case "value":
			return d.str(&r.Value)
		case "enabled":
			return d.boolean(&r.Enabled)
		case "block_on_agent":
			return d.boolean(&r.BlockOnAgent)
		case "description":
			return d.str(&r.Description)
		case "comment":
			return d.str(&r.Comment)
		case "hl_status":
			return d.str(&r.HLStatus)
		}
		return !foldsTo(key, "id", "type", "value", "enabled", "block_on_agent", "description", "comment", "hl_status") && d.skip()
	})
}

// foldsTo reports whether key matches one of names case-insensitively (encoding/json would
// fill that field: leave it to encoding/json).
func foldsTo(key []byte, names ...string) bool {
	for _, n := range names {
		if strings.EqualFold(string(key), n) {
			return true
		}
	}
	return false
}

func (d *iocPageDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *iocPageDecoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *iocPageDecoder) literal(word string) bool {
	if len(d.b)-d.i >= len(word) && string(d.b[d.i:d.i+len(word)]) == word {
		d.i += len(word)
		return true
	}
	return false
}

// object reads {"key": value, ...}, calling field with each key (plain ASCII without escapes,
// else false) positioned on its value.
func (d *iocPageDecoder) object(field func(key []byte) bool) bool {
	if d.peek() != '{' || d.depth >= maxIOCPageDepth {
		return false
	}
	d.depth++
	d.i++
	d.ws()
	if d.peek() == '}' {
		d.i++
		d.depth--
		return true
	}
	for {
		d.ws()
		key, plain, ok := d.scanString()
		if !ok || !plain {
			return false
		}
		d.ws()
		if d.peek() != ':' {
			return false
		}
		d.i++
		d.ws()
		if !field(key) {
			return false
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			d.depth--
			return true
		default:
			return false
		}
	}
}

func (d *iocPageDecoder) array(elem func() bool) bool {
	if d.peek() != '[' || d.depth >= maxIOCPageDepth {
		return false
	}
	d.depth++
	d.i++
	d.ws()
	if d.peek() == ']' {
		d.i++
		d.depth--
		return true
	}
	for {
		d.ws()
		if !elem() {
			return false
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			d.depth--
			return true
		default:
			return false
		}
	}
}

// scanString reads a JSON string and returns its raw body; plain is true when the body has no
// escape and only ASCII (then it is the value itself).
func (d *iocPageDecoder) scanString() (body []byte, plain, ok bool) {
	if d.peek() != '"' {
		return nil, false, false
	}
	start := d.i + 1
	plain = true
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			d.i = j + 1
			return d.b[start:j], plain, true
		case c == '\\':
			plain = false
			j++
			if j >= len(d.b) {
				return nil, false, false
			}
			if d.b[j] == 'u' {
				if j+4 >= len(d.b) || !isHex4(d.b[j+1:j+5]) {
					return nil, false, false
				}
				j += 4
			} else if !strings.ContainsRune(`"\/bfnrt`, rune(d.b[j])) {
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false
		case c >= utf8.RuneSelf:
			plain = false
		}
	}
	return nil, false, false
}

func isHex4(s []byte) bool {
	for _, c := range s[:4] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// str reads a string (null leaves dst unchanged, as encoding/json does).
func (d *iocPageDecoder) str(dst *string) bool {
	if d.literal("null") {
		return true
	}
	body, plain, ok := d.scanString()
	if !ok {
		return false
	}
	if plain {
		*dst = string(body)
		return true
	}
	s, ok := unescape(body)
	*dst = s
	return ok
}

func (d *iocPageDecoder) nullableString(dst **string) bool {
	if d.literal("null") {
		*dst = nil
		return true
	}
	var s string
	if d.peek() != '"' || !d.str(&s) {
		return false
	}
	*dst = &s
	return true
}

func (d *iocPageDecoder) boolean(dst *bool) bool {
	switch {
	case d.literal("true"):
		*dst = true
	case d.literal("false"):
		*dst = false
	case d.literal("null"):
	default:
		return false
	}
	return true
}

// count reads a non-negative integer without fraction or exponent that fits an int.
func (d *iocPageDecoder) count(dst *int) bool {
	if d.literal("null") {
		return true
	}
	start := d.i
	for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
		d.i++
	}
	digits := d.b[start:d.i]
	if len(digits) == 0 || len(digits) > 15 || (len(digits) > 1 && digits[0] == '0') {
		return false
	}
	if c := d.peek(); c == '.' || c == 'e' || c == 'E' {
		return false
	}
	n, err := strconv.Atoi(string(digits))
	*dst = n
	return err == nil
}

// skip reads any JSON value without keeping it.
func (d *iocPageDecoder) skip() bool {
	switch c := d.peek(); {
	case c == '{':
		return d.object(func([]byte) bool { return d.skip() })
	case c == '[':
		return d.array(d.skip)
	case c == '"':
		body, plain, ok := d.scanString()
		if ok && !plain {
			_, ok = unescape(body) // validates the UTF-8
		}
		return ok
	case c == '-' || ('0' <= c && c <= '9'):
		return d.number()
	}
	return d.literal("true") || d.literal("false") || d.literal("null")
}

// number reads a JSON number (RFC 8259 grammar).
func (d *iocPageDecoder) number() bool {
	if d.peek() == '-' {
		d.i++
	}
	switch c := d.peek(); {
	case c == '0':
		d.i++
	case '1' <= c && c <= '9':
		d.digits()
	default:
		return false
	}
	if d.peek() == '.' {
		d.i++
		if !d.digits() {
			return false
		}
	}
	if c := d.peek(); c == 'e' || c == 'E' {
		d.i++
		if c := d.peek(); c == '+' || c == '-' {
			d.i++
		}
		if !d.digits() {
			return false
		}
	}
	return true
}

func (d *iocPageDecoder) digits() bool {
	start := d.i
	for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// unescape decodes the body of a JSON string that scanString accepted. It reports false on
// invalid UTF-8 (encoding/json would replace it with U+FFFD: let it).
func unescape(s []byte) (string, bool) {
	var out strings.Builder
	out.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				return "", false
			}
			out.Write(s[i : i+n])
			i += n
			continue
		}
		if c != '\\' {
			out.WriteByte(c)
			i++
			continue
		}
		i++
		switch s[i] {
		case 'b':
			out.WriteByte('\b')
		case 'f':
			out.WriteByte('\f')
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case 't':
			out.WriteByte('\t')
		case 'u':
			r := hexRune(s[i+1 : i+5])
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' && isHex4(s[i+3:i+7]) {
					r2 = hexRune(s[i+3 : i+7])
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError // a lone surrogate, as encoding/json
				}
			}
			out.WriteRune(r)
		default: // '"', '\\', '/'
			out.WriteByte(s[i])
		}
		i++
	}
	return out.String(), true
}

func hexRune(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
