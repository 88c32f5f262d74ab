// Package jsonscan is the lexical layer shared by the hand-written one-pass JSON decoders of
// the plugins (the STIX event decoder, the intel.Change decoder, the HarfangLab IOC page
// decoder and the OpenCTI event validity check). encoding/json scans a document twice (a
// validity pass, then the decoding pass) through a state machine called once per byte and
// reflects on every field; those decoders read the few fields they need in one pass and let
// encoding/json decide everything unusual. This package gives them one tested copy of the
// byte-level rules (whitespace, literals, numbers, strings and their unescaping, skipping a
// value, nesting limits) so that each decoder keeps only its field mapping.
//
// Every reader reports ok=false on anything it does not take as encoding/json would, and the
// decoders then fall back to encoding/json: a Scanner never guesses.
package jsonscan

import "unicode/utf8"

// Scanner reads JSON from b, position i. It is meant to be embedded by value in a decoder: its
// small methods (WS, Peek, Literal...) are inlined by the compiler on the decoders' hot loops.
type Scanner struct {
	b        []byte
	i        int
	depth    int
	maxDepth int
}

// New returns a Scanner over b that refuses objects and arrays nested deeper than maxDepth.
func New(b []byte, maxDepth int) Scanner {
	return Scanner{b: b, maxDepth: maxDepth}
}

// Pos is the offset of the next byte to read.
func (s *Scanner) Pos() int { return s.i }

// Since returns the bytes read from offset start (a Pos) up to now.
func (s *Scanner) Since(start int) []byte { return s.b[start:s.i] }

// AtEnd tells whether every byte has been read.
func (s *Scanner) AtEnd() bool { return s.i == len(s.b) }

// WS skips JSON whitespace.
func (s *Scanner) WS() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// Peek returns the next byte, 0 at the end.
func (s *Scanner) Peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// Literal consumes word if it is next.
func (s *Scanner) Literal(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// Null consumes null if it is next: encoding/json leaves most destinations as they are on
// null, so the decoders test it first.
func (s *Scanner) Null() bool {
	return s.Peek() == 'n' && s.Literal("null")
}

// enter consumes the opening byte of an object or array within the depth limit; it reports
// empty when the closing byte follows at once.
func (s *Scanner) enter(open, closing byte) (empty, ok bool) {
	if s.Peek() != open || s.depth >= s.maxDepth {
		return false, false
	}
	s.i++
	s.depth++
	s.WS()
	if s.Peek() == closing {
		s.i++
		s.depth--
		return true, true
	}
	return false, true
}

// next reads what follows a member or element: more after ',', done after the closing byte.
func (s *Scanner) next(closing byte) (more, ok bool) {
	s.WS()
	switch s.Peek() {
	case ',':
		s.i++
		s.WS()
		return true, true
	case closing:
		s.i++
		s.depth--
		return false, true
	}
	return false, false
}

// Array reads [value, ...], each element by elem (positioned on it).
func (s *Scanner) Array(elem func() bool) bool {
	empty, ok := s.enter('[', ']')
	if empty || !ok {
		return ok
	}
	for {
		if !elem() {
			return false
		}
		more, ok := s.next(']')
		if !more {
			return ok
		}
	}
}

// Object reads {"key": value, ...}, calling field with each key positioned on its value. Keys
// are taken only as printable ASCII without escapes (else false): then the raw key is the key,
// and an ASCII key matches a field name case-insensitively exactly when its ASCII fold does.
func (s *Scanner) Object(field func(key []byte) bool) bool {
	empty, ok := s.enter('{', '}')
	if empty || !ok {
		return ok
	}
	for {
		key, ok := s.key()
		if !ok || !field(key) {
			return false
		}
		more, ok := s.next('}')
		if !more {
			return ok
		}
	}
}

// Fields reads an object whose known keys are names (at most 64): field(index in names) reads
// the value of a known key, and unknown keys are skipped. It refuses what encoding/json
// resolves otherwise than by exact name: a key seen twice (encoding/json merges into the first
// value) or a key equal to a name only case-insensitively.
func (s *Scanner) Fields(names []string, field func(int) bool) bool {
	empty, ok := s.enter('{', '}')
	if empty || !ok {
		return ok
	}
	var seen uint64
	for {
		key, ok := s.key()
		if !ok {
			return false
		}
		switch f := Lookup(names, key); {
		case f == Folded || (f >= 0 && seen&(1<<f) != 0):
			return false
		case f == Unknown:
			ok = s.Skip()
		default:
			seen |= 1 << f
			ok = field(f)
		}
		if !ok {
			return false
		}
		more, ok := s.next('}')
		if !more {
			return ok
		}
	}
}

// Lookup results besides an index in names.
const (
	Unknown = -1 // a key encoding/json ignores
	Folded  = -2 // a key encoding/json matches to a name case-insensitively: encoding/json decides
)

// Lookup returns the index of key (as Object gives it) in names, Unknown, or Folded.
func Lookup(names []string, key []byte) int {
	for f, n := range names {
		if string(key) == n {
			return f
		}
	}
	for _, n := range names {
		if asciiEqualFold(key, n) {
			return Folded
		}
	}
	return Unknown
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

// key reads `"name" :` and the whitespace after it; see Object for what a key may hold.
func (s *Scanner) key() ([]byte, bool) {
	if s.Peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	end := start
	for end < len(s.b) && s.b[end] != '"' {
		if c := s.b[end]; c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return nil, false
		}
		end++
	}
	if end == len(s.b) {
		return nil, false
	}
	s.i = end + 1
	s.WS()
	if s.Peek() != ':' {
		return nil, false
	}
	s.i++
	s.WS()
	return s.b[start:end], true
}

// Skip reads and validates any value, as json.Valid does (string contents are not checked
// for UTF-8).
func (s *Scanner) Skip() bool {
	switch s.Peek() {
	case '"':
		_, _, ok := s.scanString()
		return ok
	case '{':
		return s.skipObject()
	case '[':
		return s.Array(s.Skip)
	case 't':
		return s.Literal("true")
	case 'f':
		return s.Literal("false")
	case 'n':
		return s.Literal("null")
	}
	_, ok := s.Number()
	return ok
}

// skipObject reads an object whose keys do not matter (any valid string).
func (s *Scanner) skipObject() bool {
	empty, ok := s.enter('{', '}')
	if empty || !ok {
		return ok
	}
	for {
		if s.Peek() != '"' {
			return false
		}
		if _, _, ok := s.scanString(); !ok {
			return false
		}
		s.WS()
		if s.Peek() != ':' {
			return false
		}
		s.i++
		s.WS()
		if !s.Skip() {
			return false
		}
		more, ok := s.next('}')
		if !more {
			return ok
		}
	}
}

// Raw reads any value and returns its bytes (json.RawMessage); they share b's memory.
func (s *Scanner) Raw() ([]byte, bool) {
	start := s.i
	if !s.Skip() {
		return nil, false
	}
	return s.b[start:s.i], true
}

// Valid is json.Valid in one plain pass: it accepts exactly what json.Valid accepts (no UTF-8
// check inside strings, nesting up to encoding/json's 10 000 levels).
func Valid(b []byte) bool {
	s := New(b, maxNestingDepth)
	s.WS()
	if !s.Skip() {
		return false
	}
	s.WS()
	return s.AtEnd()
}

// maxNestingDepth is encoding/json's limit.
const maxNestingDepth = 10000
