package stix

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// fastDecoder reads an OpenCTI event in one pass over its bytes, building only the fields of
// event and skipping (while validating) everything else. encoding/json scans every event twice
// (a validity pass, then the decoding pass) through a state machine called once per byte, and
// reflects on every field: on a large IN list or a long description the translation spent half
// its time there.
//
// It must give exactly what json.Unmarshal gives. It therefore handles only the plain case and
// reports ok=false for anything else, and decodeEvent then lets encoding/json decide (same
// result, same error): a key that matches a field only case-insensitively, a key with escapes
// or non-ASCII bytes, a key seen twice in one object, a value of an unexpected JSON type, a
// number out of range, nesting deeper than maxFastDepth, and of course invalid JSON.
// FuzzDecodeEvent holds it to json.Unmarshal.
type fastDecoder struct {
	b     []byte
	i     int
	depth int
}

const maxFastDepth = 512

// Field names of the decoded objects, in the order of their struct fields (field index = bit
// in the duplicate mask). TestFastDecoderFieldNames checks them against the json tags.
var (
	eventFields   = []string{"data", "context"}
	contextFields = []string{"reverse_patch", "sources"}
	patchFields   = []string{"op", "path", "value"}
	objectFields  = []string{"id", "type", "name", "description", "pattern", "pattern_type", "revoked",
		"valid_until", "created_by_ref", "relationship_type", "source_ref", "x_opencti_score",
		"x_opencti_detection", "x_mitre_platforms", "extensions"}
	extensionsFields = []string{extOpenCTI, extMITRE}
	openCTIFields    = []string{"id", "stix_ids", "score", "detection", "source_ref", "source_type",
		"source_value", "target_type", "target_value"}
	mitreFields = []string{"x_mitre_platforms"}
)

// decodeEventFast decodes body, or reports ok=false when encoding/json must decide.
func decodeEventFast(body []byte) (*event, bool) {
	d := fastDecoder{b: body}
	var ev event
	d.ws()
	if !d.object(eventFields, func(f int) bool {
		if f == 0 {
			return d.objectPtr(&ev.Data)
		}
		return d.contextPtr(&ev.Context)
	}) {
		return nil, false
	}
	d.ws()
	return &ev, d.i == len(d.b)
}

func (d *fastDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *fastDecoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// object reads {"key": value, ...}; field(index in names) reads the value of a known key.
func (d *fastDecoder) object(names []string, field func(int) bool) bool {
	if d.peek() != '{' || d.depth >= maxFastDepth {
		return false
	}
	d.i++
	d.depth++
	d.ws()
	if d.peek() == '}' {
		d.i++
		d.depth--
		return true
	}
	var seen uint64
	for {
		d.ws()
		f, ok := d.key(names)
		if !ok {
			return false
		}
		switch {
		case f < 0:
			ok = d.skip()
		case seen&(1<<f) != 0:
			return false
		default:
			seen |= 1 << f
			ok = field(f)
		}
		if !ok {
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

// key reads `"name" :` and returns the index of name in names, or -1 for an unknown key. A
// key that needs unescaping, is not ASCII, or folds to a known name is not handled here.
func (d *fastDecoder) key(names []string) (int, bool) {
	if d.peek() != '"' {
		return 0, false
	}
	start := d.i + 1
	end := start
	for end < len(d.b) && d.b[end] != '"' {
		if c := d.b[end]; c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return 0, false
		}
		end++
	}
	if end == len(d.b) {
		return 0, false
	}
	k := d.b[start:end]
	d.i = end + 1
	d.ws()
	if d.peek() != ':' {
		return 0, false
	}
	d.i++
	d.ws()
	for f, n := range names {
		if string(k) == n {
			return f, true
		}
	}
	for _, n := range names {
		if asciiEqualFold(k, n) {
			return 0, false
		}
	}
	return -1, true
}

func asciiEqualFold(k []byte, n string) bool {
	if len(k) != len(n) {
		return false
	}
	for i := range k {
		a, b := k[i], n[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// literal consumes the literal word if it is next.
func (d *fastDecoder) literal(word string) bool {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return false
	}
	d.i += len(word)
	return true
}

// array reads [value, ...]; elem reads one element. empty is called for [].
func (d *fastDecoder) array(elem func() bool) bool {
	if d.peek() != '[' || d.depth >= maxFastDepth {
		return false
	}
	d.i++
	d.depth++
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

// skip reads and validates any value.
func (d *fastDecoder) skip() bool {
	switch d.peek() {
	case '"':
		_, _, ok := d.scanString()
		return ok
	case '{':
		return d.skipObject()
	case '[':
		return d.array(d.skip)
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	_, ok := d.number()
	return ok
}

// skipObject reads and validates an object whose keys do not matter.
func (d *fastDecoder) skipObject() bool {
	if d.depth >= maxFastDepth {
		return false
	}
	d.i++
	d.depth++
	d.ws()
	if d.peek() == '}' {
		d.i++
		d.depth--
		return true
	}
	for {
		d.ws()
		if d.peek() != '"' {
			return false
		}
		if _, _, ok := d.scanString(); !ok {
			return false
		}
		d.ws()
		if d.peek() != ':' {
			return false
		}
		d.i++
		d.ws()
		if !d.skip() {
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

// number reads a JSON number and returns its text.
func (d *fastDecoder) number() ([]byte, bool) {
	start := d.i
	if d.peek() == '-' {
		d.i++
	}
	switch c := d.peek(); {
	case c == '0':
		d.i++
	case c >= '1' && c <= '9':
		d.digits()
	default:
		return nil, false
	}
	if d.peek() == '.' {
		d.i++
		if !d.digits() {
			return nil, false
		}
	}
	if c := d.peek(); c == 'e' || c == 'E' {
		d.i++
		if c := d.peek(); c == '+' || c == '-' {
			d.i++
		}
		if !d.digits() {
			return nil, false
		}
	}
	return d.b[start:d.i], true
}

// digits reads one or more digits.
func (d *fastDecoder) digits() bool {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// strPlain marks the bytes a JSON string holds as they are (escapes and the closing quote
// are not; control characters are invalid).
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString reads a string and validates its syntax (as encoding/json's scanner: escapes,
// no control characters; bytes ≥ 0x80 are not checked). It returns its body, and whether the
// body is the value as it stands (no escape, valid UTF-8).
func (d *fastDecoder) scanString() (body []byte, plain bool, ok bool) {
	b := d.b
	start := d.i + 1
	i := start
	plain = true
	for {
		for i+8 <= len(b) && !wordHas(binary.LittleEndian.Uint64(b[i:]), '"', '\\', 0x20) {
			i += 8
		}
		for i < len(b) && strPlain[b[i]] {
			i++
		}
		if i >= len(b) || b[i] < 0x20 {
			return nil, false, false
		}
		if b[i] == '"' {
			break
		}
		plain = false
		if !validEscape(b[i:]) {
			return nil, false, false
		}
		if b[i+1] == 'u' {
			i += 6
		} else {
			i += 2
		}
	}
	d.i = i + 1
	body = b[start:i]
	return body, plain && utf8.Valid(body), true
}

// SWAR (8 bytes at a time) tests: whether a little-endian word holds a given byte, or a byte
// below n (n <= 0x80), or a byte >= 0x80. Long strings are scanned a word at a time and byte
// by byte only near the bytes that need attention.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

func hasByte(x uint64, c byte) uint64 {
	y := x ^ (lsb * uint64(c))
	return (y - lsb) &^ y
}

// wordHas tells whether x holds a or b or a byte below below.
func wordHas(x uint64, a, b, below byte) bool {
	return (hasByte(x, a)|hasByte(x, b)|(x-lsb*uint64(below))&^x)&msb != 0
}

// validEscape tells whether s starts with a valid JSON escape sequence.
func validEscape(s []byte) bool {
	if len(s) < 2 {
		return false
	}
	switch s[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return true
	case 'u':
		return len(s) >= 6 && hex4(s[2:6]) >= 0
	}
	return false
}

// hex4 decodes 4 hex digits, -1 if they are not.
func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// str reads a string into dst; null leaves dst as it is (as encoding/json does).
func (d *fastDecoder) str(dst *string) bool {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	if d.peek() != '"' {
		return false
	}
	body, plain, ok := d.scanString()
	if !ok {
		return false
	}
	if plain {
		*dst = string(body)
	} else {
		*dst = unquote(body)
	}
	return true
}

// unquote decodes a validated string body with escapes or invalid UTF-8 the way
// encoding/json does: escapes decoded, a lone or invalid surrogate and every byte of invalid
// UTF-8 replaced by U+FFFD. strings.Builder.Grow allocates without zeroing, and String does
// not copy: a 5 MB description is written once.
func unquote(s []byte) string {
	var out strings.Builder
	out.Grow(len(s) + utf8.UTFMax)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			i += writeEscape(&out, s[i:])
		case c < utf8.RuneSelf:
			j := i + 1
			for j+8 <= len(s) {
				x := binary.LittleEndian.Uint64(s[j:])
				if (hasByte(x, '\\')|x)&msb != 0 {
					break
				}
				j += 8
			}
			for j < len(s) && s[j] != '\\' && s[j] < utf8.RuneSelf {
				j++
			}
			out.Write(s[i:j])
			i = j
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				out.WriteRune(utf8.RuneError)
			} else {
				out.Write(s[i : i+size])
			}
			i += size
		}
	}
	return out.String()
}

// writeEscape decodes the (validated) escape at the start of s and returns its length.
func writeEscape(out *strings.Builder, s []byte) int {
	switch s[1] {
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
		r := hex4(s[2:6])
		if utf16.IsSurrogate(r) {
			if len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
				if dec := utf16.DecodeRune(r, hex4(s[8:12])); dec != utf8.RuneError {
					out.WriteRune(dec)
					return 12
				}
			}
			r = utf8.RuneError
		}
		out.WriteRune(r)
		return 6
	default:
		out.WriteByte(s[1])
	}
	return 2
}

func (d *fastDecoder) boolean(dst *bool) bool {
	switch d.peek() {
	case 't':
		*dst = true
		return d.literal("true")
	case 'f':
		*dst = false
		return d.literal("false")
	}
	return d.literal("null")
}

func (d *fastDecoder) boolPtr(dst **bool) bool {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	v := new(bool)
	*dst = v
	return (d.peek() == 't' || d.peek() == 'f') && d.boolean(v)
}

func (d *fastDecoder) floatPtr(dst **float64) bool {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	num, ok := d.number()
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil {
		return false
	}
	*dst = &f
	return true
}

// strings reads an array of strings ([] is an empty slice, null leaves dst nil).
func (d *fastDecoder) strings(dst *[]string) bool {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	out := []string{}
	ok := d.array(func() bool {
		var s string
		if d.peek() != '"' || !d.str(&s) {
			return false
		}
		out = append(out, s)
		return true
	})
	*dst = out
	return ok
}

// raw keeps the bytes of any value (json.RawMessage). They share the body's memory, which
// outlives the event.
func (d *fastDecoder) raw(dst *json.RawMessage) bool {
	start := d.i
	if !d.skip() {
		return false
	}
	*dst = d.b[start:d.i]
	return true
}

// The fields of event, in the order of eventFields, objectFields, etc.

func (d *fastDecoder) objectPtr(dst **stixObject) bool {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	o := new(stixObject)
	*dst = o
	return d.stixObject(o)
}

func (d *fastDecoder) stixObject(o *stixObject) bool {
	strs := [...]*string{0: &o.ID, 1: &o.Type, 2: &o.Name, 3: &o.Description, 4: &o.Pattern,
		5: &o.PatternType, 7: &o.ValidUntil, 8: &o.CreatedByRef, 9: &o.RelationshipType, 10: &o.SourceRef}
	return d.object(objectFields, func(f int) bool {
		switch f {
		case 6:
			return d.boolean(&o.Revoked)
		case 11:
			return d.floatPtr(&o.XOpenCTIScore)
		case 12:
			return d.boolPtr(&o.XOpenCTIDetect)
		case 13:
			return d.strings(&o.XMitrePlatforms)
		case 14:
			return d.extensions(&o.Extensions)
		}
		return d.str(strs[f])
	})
}

func (d *fastDecoder) extensions(e *objectExtensions) bool {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	return d.object(extensionsFields, func(f int) bool {
		if d.peek() == 'n' {
			return d.literal("null")
		}
		if f == 1 {
			e.MITRE = new(mitreExtension)
			return d.object(mitreFields, func(int) bool { return d.strings(&e.MITRE.Platforms) })
		}
		x := new(openCTIExtension)
		e.OpenCTI = x
		strs := [...]*string{0: &x.ID, 4: &x.SourceRef, 5: &x.SourceType, 6: &x.SourceValue, 7: &x.TargetType, 8: &x.TargetValue}
		return d.object(openCTIFields, func(f int) bool {
			switch f {
			case 1:
				return d.strings(&x.StixIDs)
			case 2:
				return d.floatPtr(&x.Score)
			case 3:
				return d.boolPtr(&x.Detection)
			}
			return d.str(strs[f])
		})
	})
}

func (d *fastDecoder) contextPtr(dst **eventContext) bool {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	c := new(eventContext)
	*dst = c
	return d.object(contextFields, func(f int) bool {
		if d.peek() == 'n' {
			return d.literal("null")
		}
		if f == 1 {
			c.Sources = []stixObject{}
			return d.array(func() bool {
				c.Sources = append(c.Sources, stixObject{})
				return d.stixObject(&c.Sources[len(c.Sources)-1])
			})
		}
		c.ReversePatch = []patchOp{}
		return d.array(func() bool {
			c.ReversePatch = append(c.ReversePatch, patchOp{})
			op := &c.ReversePatch[len(c.ReversePatch)-1]
			return d.object(patchFields, func(f int) bool {
				switch f {
				case 0:
					return d.str(&op.Op)
				case 1:
					return d.str(&op.Path)
				}
				return d.raw(&op.Value)
			})
		})
	})
}
