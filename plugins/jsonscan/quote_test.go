package jsonscan

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Random short strings over the bytes that matter, and every special byte at every place of
// an 8-byte word (AppendString skips plain words).
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{"", "plain", `{"indicator_id":"x"}`, "a<b>&c", "\\ \" / \b\f\n\r\t\x00\x1f\x7f", "é 日本 \u2028\u2029 😀",
		"\xff", "a\xc3", "\xed\xa0\x80", "\xe2\x80", "x\u2027\u202a"}
	alphabet := []byte("a\"\\<>&/\b\f\n\r\t\x00\x01\x1f\x7f\x80\xbf\xc3\xa9\xe2\x80\xa8\xa9\xf0\x9f\x98\x80\xff")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, special := range []string{"\"", "\\", "\x00", "\x1f", "<", ">", "&", "\u2028", "é", "\xff", "\x7f"} {
		for off := range 17 {
			cases = append(cases, strings.Repeat("x", off)+special+strings.Repeat("y", 17-off))
		}
	}
	for _, s := range cases {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("AppendString(%q) = %s, json.Marshal = %s", s, got[1:], want)
		}
	}
}
