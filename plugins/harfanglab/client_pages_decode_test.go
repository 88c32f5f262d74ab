package harfanglab

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// iocPageSamples are pages as hlsim and a real console answer them, and the corner cases where
// the fast decoder must either agree with encoding/json or step aside.
var iocPageSamples = []string{
	`{"count":2,"next":"/api/data/threat_intelligence/IOCRule/?limit=2&offset=2","previous":null,"results":[` +
		`{"id":"0b5e7c3a-1f2e-4d6b-9a8c-7e6f5d4c3b2a","source_id":"s","type":"domain_name","value":"evil.com","description":"d","comment":"{\"indicator_id\":\"indicator--1\",\"indicator_ids\":[\"indicator--1\"],\"indicator_score\":50}","hl_status":"stable","enabled":true,"block_on_agent":false,"global_state":"alert","creation_date":"2026-01-01T00:00:00Z","last_update":"2026-01-01T00:00:00Z"},` +
		`{"id":"x","type":"url","value":"http://e.com/?q=a+b&c=\u00e9\ud83d\ude00","comment":null,"enabled":false,"extra":{"a":[1,-2.5e3,true,null,{"b":"c"}]}}]}`,
	`{"count":0,"next":null,"previous":null,"results":[]}`,
	`  {"results":null}  `,
	`{"results":[null]}`,
	`{"count":3,"count":4,"next":"a","next":null}`,
	`{"results":[{"value":"a","value":"b","enabled":true,"enabled":null}]}`,
	`{"results":[{"value":"tab\there \"q\" \\ \/ \b\f\n\r"}]}`,
	`{"results":[{"value":"lone \ud800 surrogate \udc00 x"}]}`,
	`{"results":[{"value":"pair \ud83d\ude00 then high \ud83d\u0041"}]}`,
	`{"results":[{"Value":"folded key"}]}`,
	`{"Results":[{"value":"folded page key"}]}`,
	`{"results":[{"val\u0075e":"escaped key"}]}`,
	`{"results":[{"valüe":"non-ASCII key"}]}`,
	`{"results":[{"value":"bad utf8 ` + "\xff" + `"}]}`,
	`{"results":[{"value":"é plain non-ASCII"}]}`,
	`{"results":[{"enabled":"true"}]}`,
	`{"results":[{"value":1}]}`,
	`{"count":1.0}`,
	`{"count":-1}`,
	`{"count":1e3}`,
	`{"count":99999999999999999999}`,
	`{"count":01}`,
	`{"next":5}`,
	`{"results":[],"results":[{"value":"twice"}]}`,
	`{"results":[{"value":"a"},]}`,
	`{"results":[{"value":"a",}]}`,
	`{"results":[{"value":"a"}]} x`,
	`{"results":[{"value":"ctrl ` + "\x01" + `"}]}`,
	`{"results":[{"value":"bad escape \x"}]}`,
	`{"results":[{"value":"short \u12"}]}`,
	`{"other":[[[[[[[[[[]]]]]]]]]]}`,
	`{"other":-}`,
	`{"other":tru}`,
	`null`,
	`[]`,
	``,
	`{"results":[{"id":"a"`,
}

// decodeBoth runs the fast decoder and json.Unmarshal on b. When the fast decoder accepts, the
// results must be equal and encoding/json must accept too.
func checkAgainstEncodingJSON(t *testing.T, b []byte) (fast bool) {
	var want pageOf[iocRule]
	wantErr := json.Unmarshal(b, &want)
	var got pageOf[iocRule]
	if !got.decodeFast(b) {
		assert.Equal(t, pageOf[iocRule]{}, got, "left zero when stepping aside: %q", b)
		return false
	}
	require.NoError(t, wantErr, "fast decoder accepted what encoding/json refuses: %q", b)
	assert.Equal(t, want, got, "%q", b)
	return true
}

// checkRuleAgainstEncodingJSON is checkAgainstEncodingJSON for one IOC rule decoded over a
// non-zero value (fields absent from b must keep it).
func checkRuleAgainstEncodingJSON(t *testing.T, b []byte) (fast bool) {
	before := iocRule{ID: "kept", Enabled: true, Comment: "c"}
	want := before
	wantErr := json.Unmarshal(b, &want)
	got := before
	if !got.decodeFast(b) {
		assert.Equal(t, before, got, "left as it was when stepping aside: %q", b)
		return false
	}
	require.NoError(t, wantErr, "fast decoder accepted what encoding/json refuses: %q", b)
	assert.Equal(t, want, got, "%q", b)
	return true
}

func TestIOCRuleDecoderMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		`{"id":"a","source_id":"s","type":"domain_name","value":"evil.com","enabled":false,"comment":null,"hl_status":"stable"}`,
		` {"value":"\u00e9 \ud83d\ude00"} `,
		`{}`, `null`, `{"Value":"x"}`, `{"value":"a"} {}`, `{"value":1}`, `{"value":"a"`,
	} {
		checkRuleAgainstEncodingJSON(t, []byte(s))
	}
	assert.True(t, checkRuleAgainstEncodingJSON(t, []byte(`{"id":"a","type":"url","value":"http://e.com/","enabled":true,"block_on_agent":true,"description":"d","comment":"{\"indicator_ids\":[]}","hl_status":"testing","creation_date":"2026-01-01T00:00:00Z"}`)))
}

func TestIOCPageDecoderMatchesEncodingJSON(t *testing.T) {
	fast := 0
	for _, s := range iocPageSamples {
		if checkAgainstEncodingJSON(t, []byte(s)) {
			fast++
		}
	}
	// The usual pages are decoded by the fast path, not handed back to encoding/json.
	for _, s := range iocPageSamples[:9] {
		var p pageOf[iocRule]
		assert.True(t, p.decodeFast([]byte(s)), "%s", s)
	}
	assert.Greater(t, fast, 8)
}

func TestIOCPageDecoderHlsimPage(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"count":500,"next":"/api/data/threat_intelligence/IOCRule/?limit=500&offset=500","previous":null,"results":[`)
	for i := range 500 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"%08d-0000-4000-8000-000000000000","source_id":"s","type":"domain_name","value":"seed-%d.example.com","description":"seeded","comment":"{\"indicator_id\":\"o-%d\",\"indicator_ids\":[\"o-%d\"],\"indicator_score\":50,\"indicator_platforms\":[\"windows\"]}","hl_status":"stable","enabled":true,"block_on_agent":false,"creation_date":"2026-12-02T15:00:00.123456789Z","last_update":"2026-12-02T15:00:00.123456789Z"}`, i, i, i, i)
	}
	b.WriteString(`]}`)
	require.True(t, checkAgainstEncodingJSON(t, []byte(b.String())))
}

func FuzzIOCPageDecoder(f *testing.F) {
	for _, s := range iocPageSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkAgainstEncodingJSON(t, b)
		checkRuleAgainstEncodingJSON(t, b)
	})
}

func BenchmarkIOCPageDecode(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"count":500,"next":null,"previous":null,"results":[`)
	for i := range 500 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":"%08d-0000-4000-8000-000000000000","source_id":"s","type":"domain_name","value":"seed-%d.example.com","description":"seeded","comment":"{\"indicator_id\":\"o-%d\",\"indicator_ids\":[\"o-%d\"],\"indicator_score\":50,\"indicator_platforms\":[\"windows\"]}","hl_status":"stable","enabled":true,"block_on_agent":false,"creation_date":"2026-12-02T15:00:00.123456789Z","last_update":"2026-12-02T15:00:00.123456789Z"}`, i, i, i, i)
	}
	sb.WriteString(`]}`)
	page := []byte(sb.String())
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for range b.N {
			var p pageOf[iocRule]
			if !p.decodeFast(page) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for range b.N {
			var p pageOf[iocRule]
			if err := json.Unmarshal(page, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
