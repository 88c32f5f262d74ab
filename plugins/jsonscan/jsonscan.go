package jsonscan

// ObjectString is what json.Unmarshal leaves in the one string field named key (a lower-case
// ASCII name) of a struct, when b is a JSON object whose keys are plain ASCII and whose key's
// value is a plain string: the last member whose name equals key ignoring ASCII case
// (encoding/json's matching), "" when none. ok is false for anything else (invalid JSON, not
// an object, an escape or a non-ASCII byte in a key, an escape or invalid UTF-8 in the value,
// a value that is not a string): the caller then lets encoding/json decide. It reads the id
// HarfangLab answers to every IOC created (issue 12). TestObjectStringMatchesEncodingJSON.
func ObjectString(b []byte, key string) (value string, ok bool) {
	s := New(b, maxNestingDepth)
	s.WS()
	ok = s.Object(func(name []byte) bool {
		if !asciiEqualFold(name, key) {
			return s.Skip()
		}
		body, plain, ok := s.ScanString()
		if !ok || !plain {
			return false
		}
		value = string(body)
		return true
	})
	s.WS()
	return value, ok && s.AtEnd()
}
