package opencti

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidJSONMatchesEncodingJSON(t *testing.T) {
	cases := []string{``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `1e5`, `1E+5`, `1e-`, `.5`,
		`true`, `tru`, `nullx`, ` {"a" : [1, 2.5e3, "x\u00e9\n", {"b":null}] } `, `{"a":1,}`, `[1,]`, `{,}`,
		`"\x"`, `"\u12"`, `"\u12G4"`, "\"a\tb\"", "\"\x7f\xff\"", `{"a"}`, `{1:2}`, `[1 2]`, `"\/"`,
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000), strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001)}
	for _, c := range cases {
		assert.Equal(t, json.Valid([]byte(c)), validJSON([]byte(c)), "%.60q", c)
	}
	base := []byte(`{"data":{"id":"indicator--1","type":"indicator","name":"a \"b\" \u00e9","pattern":"[domain-name:value = 'a.com']","x_opencti_score":-12.5e-3,"revoked":false,"labels":[],"extensions":{"x":{"n":null,"t":true,"l":[1,2,{"k":[]}]}}},"context":{}}`)
	dmg := "{}[]\",:0123456789-+.eEtrufalsn \\/u\t\n\x01\xff"
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 200000 {
		b := append([]byte(nil), base...)
		for range 1 + rng.IntN(3) {
			j := rng.IntN(len(b))
			switch rng.IntN(3) {
			case 0:
				b[j] = dmg[rng.IntN(len(dmg))]
			case 1:
				b = append(b[:j:j], b[j+1:]...)
			default:
				b = append(b[:j+1:j+1], b[j:]...)
			}
		}
		if json.Valid(b) != validJSON(b) {
			t.Fatalf("case %d: json.Valid %v on %q", i, json.Valid(b), b)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	f.Add([]byte(`{"a":[1,"b",null]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if json.Valid(b) != validJSON(b) {
			t.Fatalf("json.Valid %v on %q", json.Valid(b), b)
		}
	})
}
