package jsonscan

import "unicode/utf8"

// jsonSafe marks the ASCII bytes encoding/json writes as they are (it escapes control
// characters, quote, backslash and, by default, the HTML characters <, > and &).
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// wordNeedsEscape tells whether the first 8 bytes of s hold a byte that is not jsonSafe
// (a control character, ", \\, <, >, & or a byte of a non-ASCII character).
func wordNeedsEscape(s string) bool {
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	return (x|HasByte(x, '"')|HasByte(x, '\\')|HasByte(x, '<')|
		HasByte(x, '>')|HasByte(x, '&')|(x-LSB*0x20)&^x)&MSB != 0
}

// AppendString appends s quoted exactly as encoding/json writes it (HTML characters escaped,
// invalid UTF-8 as \ufffd, U+2028/U+2029 escaped): the encoders of intel changes, IOC
// comments and request bodies write by hand what json.Marshal would (TestAppendStringMatchesEncodingJSON).
// Long plain runs are skipped a word (8 bytes) at a time.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip 8 safe ASCII bytes at a time (long descriptions are mostly plain text).
		for i+8 <= len(s) && !wordNeedsEscape(s[i:]) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
