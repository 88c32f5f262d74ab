// Package jsonscan checks and reads JSON in one plain pass, for the few documents handled once
// per indicator where encoding/json's scanner (one state-machine call per byte) and reflection
// showed in the CPU profile of the intel push (issue 12).
package jsonscan

// Valid is json.Valid in one plain pass: every OpenCTI event is checked before it becomes a
// message (an event that is not JSON is flagged at the input), and encoding/json's scanner
// was 3 % of the CPU of the intel push (issue 12). It accepts exactly what json.Valid accepts
// (TestValidMatchesEncodingJSON): no UTF-8 check inside strings, nesting up to 10 000 levels.
func Valid(b []byte) bool {
	v := jsonValidator{b: b}
	v.ws()
	if !v.value(0) {
		return false
	}
	v.ws()
	return v.i == len(v.b)
}

// maxJSONDepth is encoding/json's maxNestingDepth.
const maxJSONDepth = 10000

type jsonValidator struct {
	b []byte
	i int
}

func (v *jsonValidator) ws() {
	for v.i < len(v.b) {
		switch v.b[v.i] {
		case ' ', '\t', '\n', '\r':
			v.i++
		default:
			return
		}
	}
}

func (v *jsonValidator) next(c byte) bool {
	if v.i < len(v.b) && v.b[v.i] == c {
		v.i++
		return true
	}
	return false
}

func (v *jsonValidator) value(depth int) bool {
	if v.i >= len(v.b) {
		return false
	}
	switch c := v.b[v.i]; {
	case c == '{':
		return depth < maxJSONDepth && v.object(depth+1)
	case c == '[':
		return depth < maxJSONDepth && v.array(depth+1)
	case c == '"':
		return v.str()
	case c == 't':
		return v.literal("true")
	case c == 'f':
		return v.literal("false")
	case c == 'n':
		return v.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return v.number()
	}
	return false
}

func (v *jsonValidator) object(depth int) bool {
	v.i++ // {
	v.ws()
	if v.next('}') {
		return true
	}
	for {
		if v.i >= len(v.b) || v.b[v.i] != '"' || !v.str() {
			return false
		}
		v.ws()
		if !v.next(':') {
			return false
		}
		v.ws()
		if !v.value(depth) {
			return false
		}
		v.ws()
		if v.next('}') {
			return true
		}
		if !v.next(',') {
			return false
		}
		v.ws()
	}
}

func (v *jsonValidator) array(depth int) bool {
	v.i++ // [
	v.ws()
	if v.next(']') {
		return true
	}
	for {
		if !v.value(depth) {
			return false
		}
		v.ws()
		if v.next(']') {
			return true
		}
		if !v.next(',') {
			return false
		}
		v.ws()
	}
}

// str reads a string from its opening quote.
func (v *jsonValidator) str() bool {
	v.i++ // "
	for v.i < len(v.b) {
		c := v.b[v.i]
		v.i++
		switch {
		case c == '"':
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if v.i >= len(v.b) {
				return false
			}
			e := v.b[v.i]
			v.i++
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for range 4 {
					if v.i >= len(v.b) || !isHex(v.b[v.i]) {
						return false
					}
					v.i++
				}
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (v *jsonValidator) literal(word string) bool {
	if len(v.b)-v.i >= len(word) && string(v.b[v.i:v.i+len(word)]) == word {
		v.i += len(word)
		return true
	}
	return false
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (v *jsonValidator) number() bool {
	v.next('-')
	switch {
	case v.next('0'):
	case v.i < len(v.b) && v.b[v.i] >= '1' && v.b[v.i] <= '9':
		v.digits()
	default:
		return false
	}
	if v.next('.') && v.digits() == 0 {
		return false
	}
	if v.next('e') || v.next('E') {
		if !v.next('+') {
			v.next('-')
		}
		if v.digits() == 0 {
			return false
		}
	}
	return true
}

func (v *jsonValidator) digits() int {
	start := v.i
	for v.i < len(v.b) && v.b[v.i] >= '0' && v.b[v.i] <= '9' {
		v.i++
	}
	return v.i - start
}

// ObjectString is what json.Unmarshal leaves in the one string field named key (a lower-case
// ASCII name) of a struct, when b is a JSON object whose keys and key's values are plain
// printable ASCII without escapes: the last member whose name equals key ignoring ASCII case
// (encoding/json's matching), "" when none. ok is false for anything else (invalid JSON, not
// an object, an escape or a non-ASCII byte in a key or in the value, a value that is not a
// string): the caller then lets encoding/json decide. TestObjectStringMatchesEncodingJSON.
func ObjectString(b []byte, key string) (value string, ok bool) {
	v := jsonValidator{b: b}
	v.ws()
	if !v.next('{') {
		return "", false
	}
	v.ws()
	for !v.next('}') {
		if v.i >= len(b) || b[v.i] != '"' {
			return "", false
		}
		start := v.i
		if !v.str() {
			return "", false
		}
		name := b[start+1 : v.i-1]
		v.ws()
		if !v.next(':') {
			return "", false
		}
		v.ws()
		start = v.i
		if !v.value(1) || !plainASCII(name) {
			return "", false
		}
		if equalFoldASCII(name, key) {
			s := b[start:v.i]
			if s[0] != '"' || !plainASCII(s[1:len(s)-1]) {
				return "", false
			}
			value = string(s[1 : len(s)-1])
		}
		v.ws()
		if !v.next(',') {
			if v.i >= len(b) || b[v.i] != '}' {
				return "", false
			}
			continue
		}
		v.ws()
		if v.i < len(b) && b[v.i] == '}' { // a trailing comma
			return "", false
		}
	}
	v.ws()
	return value, v.i == len(b)
}

// plainASCII tells whether s, the inside of a valid JSON string, reads as it is: printable
// ASCII and no escape.
func plainASCII(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c > 0x7e || c == '\\' {
			return false
		}
	}
	return true
}

// equalFoldASCII compares an ASCII name with a lower-case ASCII key, ignoring case.
func equalFoldASCII(name []byte, key string) bool {
	if len(name) != len(key) {
		return false
	}
	for i, c := range name {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != key[i] {
			return false
		}
	}
	return true
}
