package jsonscan

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Damaged OpenCTI events: json.Valid and Valid agree on every one.
func TestValidMatchesEncodingJSONOnDamagedEvents(t *testing.T) {
	cases := []string{``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `1e5`, `1E+5`, `1e-`, `.5`,
		`true`, `tru`, `nullx`, ` {"a" : [1, 2.5e3, "x\u00e9\n", {"b":null}] } `, `{"a":1,}`, `[1,]`, `{,}`,
		`"\x"`, `"\u12"`, `"\u12G4"`, "\"a\tb\"", "\"\x7f\xff\"", `{"a"}`, `{1:2}`, `[1 2]`, `"\/"`,
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000), strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001)}
	for _, c := range cases {
		assert.Equal(t, json.Valid([]byte(c)), Valid([]byte(c)), "%.60q", c)
	}
	base := []byte(`{"data":{"id":"indicator--1","type":"indicator","name":"a \"b\" \u00e9","pattern":"[domain-name:value = 'a.com']","x_opencti_score":-12.5e-3,"revoked":false,"labels":[],"extensions":{"x":{"n":null,"t":true,"l":[1,2,{"k":[]}]}}},"context":{}}`)
	dmg := "{}[]\",:0123456789-+.eEtrufalsn \\/u\t\n\x01\xff"
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 200000 {
		b := damaged(rng, base, dmg)
		if json.Valid(b) != Valid(b) {
			t.Fatalf("case %d: json.Valid %v on %q", i, json.Valid(b), b)
		}
	}
}

// damaged is a copy of base with one to three bytes replaced (by one of alphabet), removed
// or doubled.
func damaged(rng *rand.Rand, base []byte, alphabet string) []byte {
	b := append([]byte(nil), base...)
	for range 1 + rng.IntN(3) {
		j := rng.IntN(len(b))
		switch rng.IntN(3) {
		case 0:
			b[j] = alphabet[rng.IntN(len(alphabet))]
		case 1:
			b = append(b[:j:j], b[j+1:]...)
		default:
			b = append(b[:j+1:j+1], b[j:]...)
		}
	}
	return b
}

// objectStringByJSON is what ObjectString stands for: json.Unmarshal into a struct whose one
// field is the string "id".
func objectStringByJSON(b []byte) (string, error) {
	var v struct {
		ID string `json:"id"`
	}
	err := json.Unmarshal(b, &v)
	return v.ID, err
}

func checkObjectString(t *testing.T, b []byte) bool {
	got, ok := ObjectString(b, "id")
	want, err := objectStringByJSON(b)
	if ok && (err != nil || got != want) {
		t.Errorf("ObjectString(%q) = %q, json.Unmarshal = %q, %v", b, got, want, err)
		return false
	}
	return ok
}

func TestObjectStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{``, `{}`, `[]`, `null`, `"id"`, `{"id":"a"}`, ` { "id" : "a" } `, `{"ID":"a"}`, `{"iD":"a","Id":"b"}`,
		`{"id":"a","id":"b"}`, `{"id":1}`, `{"id":null}`, `{"id":"a\u0041"}`, `{"i\u0064":"a"}`, `{"id":"é"}`,
		`{"idx":"a","x":{"id":"b"}}`, `{"id":"a",}`, `{"id":"a"`, `{"id":"a"}x`, `{"a":[1,{"id":2}],"id":"c"}`}
	fast := 0
	for _, c := range cases {
		if checkObjectString(t, []byte(c)) {
			fast++
		}
	}
	assert.Equal(t, 9, fast, "the plain cases (valid UTF-8 included) take the fast path")
	base := []byte(`{"id":"4f1c-9a","type":"domain_name","value":"a.example.com","comment":"{\"indicator_id\":\"x\"}","enabled":true,"score":-1.5e3,"tags":[],"meta":{"id":null,"l":[1,{"k":[]}]}}`)
	_, ok := ObjectString(base, "id")
	require.True(t, ok)
	dmg := "{}[]\",:0123456789-+.eEtrufalsnIiDd \\/u\t\n\x01\xff"
	rng := rand.New(rand.NewPCG(7, 8))
	for range 200000 {
		b := damaged(rng, base, dmg)
		if !checkObjectString(t, b) && t.Failed() {
			return
		}
	}
}

func FuzzObjectString(f *testing.F) {
	f.Add([]byte(`{"id":"a","x":[1,"b",null]}`))
	f.Fuzz(func(t *testing.T, b []byte) { checkObjectString(t, b) })
}
