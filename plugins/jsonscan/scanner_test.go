package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var validSamples = []string{
	``, ` `, `null`, `true`, `false`, `nul`, `truex`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`,
	`1e-05`, `1e`, `1e+`, `-1.25e3`, `+1`, `""`, `"a"`, `"\u00e9"`, `"\u00G9"`, `"\x"`, `"\/"`, "\"\x01\"",
	"\"\xff\"", `"abc`, `"\`, `"\u12`, `{}`, `[]`, `[1,]`, `[,1]`, `{"a":1,}`, `{"a" : [1, {"b" : null}] }`,
	`{"a":1 "b":2}`, `{1:2}`, `{"a"}`, `{"a":}`, " \t\r\n{}\n ", `[1] x`, `{"k":"v"}{}`, `[[[]]]`, `[[[]]`,
	`{"\u00e9\n":"x"}`, `{"a":"` + strings.Repeat("é\\\"x", 40) + `"}`, strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001), strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
	strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, s := range validSamples {
		assert.Equal(t, json.Valid([]byte(s)), Valid([]byte(s)), "%.60q", s)
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range validSamples {
		if len(s) < 200 {
			f.Add([]byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		require.Equal(t, json.Valid(b), Valid(b), "%q", b)
	})
}

var stringSamples = []string{
	`""`, `"plain"`, `"é"`, "\"\xff\"", "\"a\xc3\"", "\"\xed\xa0\x80\"", `"\u00e9"`, `"\ud83d\ude00"`, `"\ud83d"`,
	`"\ud83dx"`, `"\ud83d\u0041"`, `"\ude00"`, `"\ud83d\ud83d"`, `"\"\\\/\b\f\n\r\t"`, `"\u0000"`, `"\uFFFF"`,
	`"x\ud83d\ude0` + `"`, `"` + strings.Repeat("abcdefg\\n", 9) + `"`, "\"" + strings.Repeat("\xe9abcdefgh", 5) + "\"",
	`"\q"`, "\"\n\"", `"open`, `null`, `1`,
}

// Str and ScanString must take strings exactly as encoding/json decodes them into a string.
func checkStr(t *testing.T, b []byte) {
	s := New(b, 10)
	got, ok := s.Str()
	var want string
	err := json.Unmarshal(b, &want)
	if !ok || !s.AtEnd() {
		if len(b) > 0 && b[0] == '"' && s.AtEnd() {
			require.Error(t, err, "%q refused", b)
		}
		return
	}
	require.NoError(t, err, "%q taken", b)
	require.Equal(t, want, got, "%q", b)
}

func TestStrMatchesEncodingJSON(t *testing.T) {
	for _, b := range stringSamples {
		checkStr(t, []byte(b))
	}
	// Every byte that needs attention at every place of an 8-byte word.
	for _, special := range []string{`\"`, `\\`, `\u00e9`, `\ud83d\ude00`, "é", "\xff", "\x01", `"`, "\x7f"} {
		for off := range 17 {
			checkStr(t, []byte(`"`+strings.Repeat("x", off)+special+strings.Repeat("y", 17-off)+`"`))
		}
	}
}

func FuzzStr(f *testing.F) {
	for _, s := range stringSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(checkStr)
}

func TestInt(t *testing.T) {
	for _, tc := range []struct {
		in string
		n  int
		ok bool
	}{
		{`0`, 0, true}, {`-0`, 0, true}, {`42`, 42, true}, {`-17`, -17, true},
		{`999999999999999999`, 999999999999999999, true}, {`1000000000000000000`, 0, false},
		{`1.0`, 0, false}, {`1e3`, 0, false}, {`-`, 0, false}, {`x`, 0, false}, {`"1"`, 0, false},
	} {
		s := New([]byte(tc.in), 1)
		n, ok := s.Int()
		assert.Equal(t, tc.ok, ok, tc.in)
		if ok {
			assert.Equal(t, tc.n, n, tc.in)
			var want int
			require.NoError(t, json.Unmarshal([]byte(tc.in), &want))
			assert.Equal(t, want, n)
		}
	}
}

func TestReadValues(t *testing.T) {
	s := New([]byte(`[null,true,false,"x",null,["a","\u0062"],null,[]]`), 4)
	str, b := "keep", true
	var strs []string
	ok := s.Array(func() bool { return s.ReadBool(&b) })
	assert.False(t, ok, "a string is not a boolean")

	s = New([]byte(`null true false`), 4)
	b = true
	require.True(t, s.ReadBool(&b))
	assert.True(t, b, "null leaves the value")
	s.WS()
	require.True(t, s.ReadBool(&b))
	s.WS()
	require.True(t, s.ReadBool(&b))
	assert.False(t, b)

	s = New([]byte(`null ["a","\u0062"] [] [null]`), 4)
	require.True(t, s.ReadString(&str))
	assert.Equal(t, "keep", str)
	s.WS()
	require.True(t, s.ReadStrings(&strs))
	assert.Equal(t, []string{"a", "b"}, strs)
	s.WS()
	require.True(t, s.ReadStrings(&strs))
	assert.Equal(t, []string{}, strs)
	s.WS()
	assert.False(t, s.ReadStrings(&strs), "a null element is encoding/json's")

	n := 7
	s = New([]byte(`null 12 1.5`), 1)
	require.True(t, s.ReadInt(&n))
	assert.Equal(t, 7, n, "null leaves the value")
	s.WS()
	require.True(t, s.ReadInt(&n))
	assert.Equal(t, 12, n)
	s.WS()
	assert.False(t, s.ReadInt(&n), "a fraction is encoding/json's")
}

func TestFields(t *testing.T) {
	names := []string{"id", "name"}
	read := func(in string) (map[string]string, bool) {
		s := New([]byte(in), 4)
		got := map[string]string{}
		ok := s.Fields(names, func(f int) bool {
			var v string
			ok := s.ReadString(&v)
			got[names[f]] = v
			return ok
		})
		return got, ok && s.AtEnd()
	}
	got, ok := read(`{ "id" : "1", "x": {"y":[1,{"z":null}]}, "name":"n" }`)
	require.True(t, ok)
	assert.Equal(t, map[string]string{"id": "1", "name": "n"}, got)
	for _, in := range []string{`{"id":"1","id":"2"}`, `{"ID":"1"}`, `{"i\u0064":"1"}`, `{"é":1}`, `{"id":"1",}`,
		`{"x":[[[[1]]]]}`, `{"id":1}`, `{"id":"1"`} {
		_, ok := read(in)
		assert.False(t, ok, in)
	}
	got, ok = read(`{}`)
	assert.True(t, ok)
	assert.Empty(t, got)
}

func TestObjectAndRaw(t *testing.T) {
	s := New([]byte(`{"a": [1, 2] , "b" :{"c":"\u0041"}}`), 2)
	raws := map[string]string{}
	require.True(t, s.Object(func(key []byte) bool {
		raw, ok := s.Raw()
		raws[string(key)] = string(raw)
		return ok
	}))
	assert.Equal(t, map[string]string{"a": "[1, 2]", "b": `{"c":"\u0041"}`}, raws)
	assert.True(t, s.AtEnd())

	s = New([]byte(`{"a":[[1]]}`), 2)
	assert.False(t, s.Object(func([]byte) bool { return s.Skip() }), "deeper than maxDepth")
}
