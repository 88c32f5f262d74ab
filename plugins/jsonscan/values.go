package jsonscan

import (
	"encoding/binary"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Number reads a JSON number (RFC 8259 grammar) and returns its text.
func (s *Scanner) Number() ([]byte, bool) {
	start := s.i
	if s.Peek() == '-' {
		s.i++
	}
	switch c := s.Peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		return nil, false
	}
	if s.Peek() == '.' {
		s.i++
		if !s.digits() {
			return nil, false
		}
	}
	if c := s.Peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.Peek(); c == '+' || c == '-' {
			s.i++
		}
		if !s.digits() {
			return nil, false
		}
	}
	return s.b[start:s.i], true
}

// digits reads one or more digits.
func (s *Scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// Int reads a number written as an integer (no fraction, no exponent) of at most 18 digits
// that fits an int: what encoding/json decodes into an int without error. Anything else
// (1.0, 1e3, a huge number) is encoding/json's to decide.
func (s *Scanner) Int() (int, bool) {
	num, ok := s.Number()
	if !ok {
		return 0, false
	}
	neg := num[0] == '-'
	if neg {
		num = num[1:]
	}
	if len(num) > 18 {
		return 0, false
	}
	var n uint64
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > uint64(maxInt) {
		return 0, false
	}
	if neg {
		return -int(n), true
	}
	return int(n), true
}

const maxInt = int(^uint(0) >> 1)

// ReadInt reads an Int into dst; null leaves dst as it is (as encoding/json does).
func (s *Scanner) ReadInt(dst *int) bool {
	if s.Null() {
		return true
	}
	n, ok := s.Int()
	if ok {
		*dst = n
	}
	return ok
}

// Boolean reads true or false.
func (s *Scanner) Boolean() (v, ok bool) {
	switch s.Peek() {
	case 't':
		return true, s.Literal("true")
	case 'f':
		return false, s.Literal("false")
	}
	return false, false
}

// ReadBool reads a boolean into dst; null leaves dst as it is (as encoding/json does).
func (s *Scanner) ReadBool(dst *bool) bool {
	if s.Null() {
		return true
	}
	v, ok := s.Boolean()
	*dst = v
	return ok
}

// Str reads a string (not null) and returns its value as encoding/json decodes it.
func (s *Scanner) Str() (string, bool) {
	body, plain, ok := s.ScanString()
	if !ok {
		return "", false
	}
	if plain {
		return string(body), true
	}
	return unquote(body), true
}

// ReadString reads a string into dst; null leaves dst as it is (as encoding/json does).
func (s *Scanner) ReadString(dst *string) bool {
	if s.Null() {
		return true
	}
	v, ok := s.Str()
	if ok {
		*dst = v
	}
	return ok
}

// ReadStrings reads an array of strings into dst as encoding/json decodes it into a []string:
// [] is an empty, non-nil slice and null leaves dst as it is. A null element is refused.
func (s *Scanner) ReadStrings(dst *[]string) bool {
	if s.Null() {
		return true
	}
	out := []string{}
	ok := s.Array(func() bool {
		v, ok := s.Str()
		out = append(out, v)
		return ok
	})
	*dst = out
	return ok
}

// strPlain marks the bytes a JSON string holds as they are (escapes and the closing quote
// are not; control characters are invalid).
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// ScanString reads a string from its opening quote and validates its syntax (as
// encoding/json's scanner: escapes, no control characters). It returns its body, and plain
// when the body is the value as it stands (no escape, valid UTF-8); else unquote makes the
// value.
func (s *Scanner) ScanString() (body []byte, plain, ok bool) {
	body, escaped, ok := s.scanString()
	return body, ok && !escaped && utf8.Valid(body), ok
}

// scanString is ScanString without the UTF-8 check (json.Valid does not make it, and a
// skipped string does not need it). Long strings are scanned a word (8 bytes) at a time and
// byte by byte only near the bytes that need attention.
func (s *Scanner) scanString() (body []byte, escaped, ok bool) {
	if s.Peek() != '"' {
		return nil, false, false
	}
	b := s.b
	start := s.i + 1
	i := start
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
		escaped = true
		if !validEscape(b[i:]) {
			return nil, false, false
		}
		if b[i+1] == 'u' {
			i += 6
		} else {
			i += 2
		}
	}
	s.i = i + 1
	return b[start:i], escaped, true
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
				if (HasByte(x, '\\')|x)&MSB != 0 {
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
