package stix

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// checkFastDecode holds decodeEventFast to json.Unmarshal on one body: when the fast path
// takes the body, the result must be the same; when encoding/json rejects it, the fast path
// must not take it.
func checkFastDecode(t *testing.T, body []byte) (fast bool) {
	t.Helper()
	var want event
	wantErr := json.Unmarshal(body, &want)
	got, ok := decodeEventFast(body)
	if !ok {
		return false
	}
	if wantErr != nil {
		t.Fatalf("fast decoder took %q, encoding/json says %v", body, wantErr)
	}
	if !reflect.DeepEqual(&want, got) {
		t.Fatalf("fast decoder differs on %q\nencoding/json: %+v\nfast:          %+v", body, want, *got)
	}
	return true
}

// The cases the fast decoder must get right by itself, and the ones it must leave to
// encoding/json (which decides: error or an unusual but valid decoding).
func TestFastDecoderMatchesEncodingJSON(t *testing.T) {
	fast := []string{
		`{"data": {"id": "x", "type": "indicator", "revoked": true, "x_opencti_score": -1.5e2}}`,
		`{"data":{"name":"caf\u00e9 \ud83d\ude00 \ud800 \ud800\u0041 \/\"\\\b\f\n\r\t","description":"\u2028<&>"},"context":null}`,
		"{\"data\":{\"name\":\"bad \xff utf8 \xed\xa0\x80 and \xef\xbf\xbd\"}}",
		`{"data":{"pattern":null,"revoked":null,"x_opencti_detection":null,"x_mitre_platforms":[],"extensions":null}}`,
		`{"data":{"extensions":{"extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba":{"id":"i","stix_ids":["a","b"],"score":0,"detection":false,"target_value":"v"},"extension-definition--322b8f77-262a-4cb8-a915-1e441e00329b":{"x_mitre_platforms":["linux"]},"other":{"x":[1,{"y":null}]}}}}`,
		`{"data":{"type":"indicator"},"context":{"reverse_patch":[{"op":"replace","path":"/id","value":"indicator--1"},{"value":{"a":[true,false,null,0,-0.5e+3]}}],"sources":[{"id":"s","type":"indicator"}]}}`,
		` {"unknown": {"k\u00e9y": "v", "Data": 1}, "data": {"ID2": 1, "labels": ["x"]}} ` + "\n",
		`{"data":{"id":""},"context":{"sources":[],"reverse_patch":null}}`,
	}
	for _, b := range fast {
		require.True(t, checkFastDecode(t, []byte(b)), "fast path should take %s", b)
	}
	fallback := []string{
		`{"data": {"ID": "x"}}`,                   // case-insensitive match
		`{"data": {"id": "x", "id": "y"}}`,        // duplicate key
		`{"data": {"\u0069d": "x"}}`,              // escaped key
		`{"data": {"revoked": "yes"}}`,            // wrong type
		`{"data": {"x_opencti_score": 1e400}}`,    // out of range
		`{"data": {"x_mitre_platforms": [null]}}`, // null element
		`{"data": {}} x`, `{"data": {"id": "x\u12"}}`, `{"data": {"id": "a` + "\x01" + `"}}`,
		`{"data": {"labels": [1,]}}`, `{"data": {"x": 01}}`, `{"data": {"x": 1.}}`, `{"data": {"x": -}}`,
		`{"data": {"x": truex}}`, `{"data": {"x": {"a" 1}}}`, `{"data": {"x": {"a":1,}}}`, `null`, `[]`, ``,
		`{"data": {"x": ` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}}`,
	}
	for _, b := range fallback {
		require.False(t, checkFastDecode(t, []byte(b)), "fast path should leave %s to encoding/json", b)
	}
}

// Every event of the benchmark corpus takes the fast path.
func TestFastDecoderTakesCorpus(t *testing.T) {
	for _, e := range benchCorpus(t) {
		require.True(t, checkFastDecode(t, e.body), e.name)
	}
}

// The field name lists are the json tags of the structs, in field order.
func TestFastDecoderFieldNames(t *testing.T) {
	for _, c := range []struct {
		v     any
		names []string
	}{
		{event{}, eventFields}, {eventContext{}, contextFields}, {patchOp{}, patchFields},
		{stixObject{}, objectFields}, {objectExtensions{}, extensionsFields},
		{openCTIExtension{}, openCTIFields}, {mitreExtension{}, mitreFields},
	} {
		typ := reflect.TypeOf(c.v)
		var tags []string
		for i := range typ.NumField() {
			tags = append(tags, typ.Field(i).Tag.Get("json"))
		}
		require.Equal(t, tags, c.names, typ.Name())
	}
}

// FuzzDecodeEvent holds the fast decoder to encoding/json on arbitrary bodies.
func FuzzDecodeEvent(f *testing.F) {
	for _, e := range benchCorpus(f) {
		if len(e.body) < 64<<10 {
			f.Add(e.body)
		}
	}
	f.Add([]byte(`{"data":{"name":"\ud83d\ude00\ud800x","ID":1},"context":{"reverse_patch":[{"path":"/id","value":"a"}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) { checkFastDecode(t, body) })
}

// TestFastDecoderMutations is a deterministic, always-run complement to FuzzDecodeEvent:
// corpus events with random bytes replaced, inserted or deleted (JSON punctuation, escapes,
// non-ASCII and invalid UTF-8 favoured) must decode as encoding/json decodes them.
func TestFastDecoderMutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 3))
	alphabet := []string{`"`, `\`, `{`, `}`, `[`, `]`, `,`, `:`, ` `, `null`, `1e9`, `-0`, `\u00e9`, `\ud800`,
		"\xff", "é", "\x01", `ID`, `true`, `"x"`, `0.`, `\n`, `/`}
	var fast int
	for _, e := range benchCorpus(t) {
		if len(e.body) > 64<<10 {
			continue
		}
		for range 300 {
			b := append([]byte(nil), e.body...)
			for range 1 + rng.IntN(3) {
				at := rng.IntN(len(b) + 1)
				ins := alphabet[rng.IntN(len(alphabet))]
				switch cut := min(rng.IntN(3), len(b)-at); rng.IntN(3) {
				case 0:
					b = append(b[:at], append([]byte(ins), b[at:]...)...)
				case 1:
					b = append(b[:at], b[at+cut:]...)
				default:
					b = append(b[:at], append([]byte(ins), b[at+cut:]...)...)
				}
			}
			if checkFastDecode(t, b) {
				fast++
			}
		}
	}
	t.Logf("%d mutated bodies took the fast path", fast)
	require.Positive(t, fast)
}

// Every byte that needs attention at every place of an 8-byte word (the decoder skips plain
// words).
func TestFastDecoderWordBoundaries(t *testing.T) {
	for _, special := range []string{`\"`, `\\`, `\u00e9`, `\ud83d\ude00`, "é", "\xff", "\x01", `"`, "\x7f"} {
		for off := range 17 {
			s := strings.Repeat("x", off) + special + strings.Repeat("y", 17-off)
			checkFastDecode(t, []byte(`{"data":{"description":"`+s+`"}}`))
		}
	}
}
