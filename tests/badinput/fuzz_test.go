package badinput

import (
	"encoding/json"
	"testing"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// FuzzDecodeChange: the harfanglab_intel output decodes every message body with intel.Decode.
// Whatever the bytes, it returns a valid Change or an error, never panics, and a decoded
// Change survives an encode/decode round trip unchanged.
//
//	go test -run '^$' -fuzz FuzzDecodeChange -fuzztime 30s ./tests/badinput/
func FuzzDecodeChange(f *testing.F) {
	for _, s := range []string{
		`{"owner":"o","via":"pattern","live":true,"score":50,"iocs":[{"type":"domain_name","value":"a.example"}]}`,
		`{"owner":"o","via":"rel-1","seq":"1-0","live":false}`,
		`{"owner":"o","via":"pattern","live":true,"rule":{"kind":"sigma","name":"n","content":"title: x"}}`,
		`{"owner":"o","via":"pattern","valid_until":"2020-01-01T00:00:00Z","live":true}`,
		`{"owner":"o","via":"pattern","rule":{"kind":"exe"}}`,
		`{"owner":1}`, `[]`, `null`, `{"owner":"o","via":"p","score":"x"}`, "\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := intel.Decode(b)
		if err != nil {
			if c != nil {
				t.Fatalf("error %v with a change", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Decode returned an invalid change: %v", err)
		}
		enc, err := c.Encode()
		if err != nil {
			t.Fatalf("encoding a decoded change: %v", err)
		}
		again, err := intel.Decode(enc)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		a, _ := json.Marshal(c)
		b2, _ := json.Marshal(again)
		if string(a) != string(b2) {
			t.Fatalf("round trip changed the change:\n%s\n%s", a, b2)
		}
	})
}
