package intel

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func randomChange(rng *rand.Rand) *Change {
	words := []string{"", "indicator--0b2c", "a.example.com", "1.2.3.4", "pattern", "linux", "2026-12-02T10:00:00Z"}
	odd := []string{"a<b", `q"t`, "é", "tab\t", "\xff"}
	pick := func() string {
		if rng.IntN(40) == 0 {
			return odd[rng.IntN(len(odd))]
		}
		return words[rng.IntN(len(words))]
	}
	c := &Change{Owner: pick(), Via: pick(), Seq: pick(), Live: rng.IntN(2) == 0, Name: pick(),
		Description: pick(), Score: rng.IntN(2000) - 100, Maturity: pick(), Control: pick(), Generation: pick(), Reason: pick()}
	for range rng.IntN(3) {
		c.StixIDs = append(c.StixIDs, pick())
	}
	for range rng.IntN(3) {
		c.Platforms = append(c.Platforms, pick())
	}
	for range rng.IntN(3) {
		c.IOCs = append(c.IOCs, IOC{Type: pick(), Value: pick(), Block: rng.IntN(2) == 0})
	}
	if rng.IntN(3) == 0 {
		c.Rule = &Rule{Kind: pick(), Name: pick(), Content: pick()}
	}
	if rng.IntN(2) == 0 {
		t := time.Date(2020+rng.IntN(10), 3, 1, 0, 0, rng.IntN(100000), rng.IntN(1e9)*rng.IntN(2), time.FixedZone("", 3600*(rng.IntN(5)-2)))
		c.ValidUntil = &t
	}
	return c
}

// decodeFast must agree with json.Unmarshal whenever it answers, on encoded changes and on
// every kind of damage done to them.
func TestDecodeFastMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	fast := 0
	for i := range 20000 {
		b, err := json.Marshal(randomChange(rng))
		require.NoError(t, err)
		if i%2 == 1 { // damaged: a byte changed, dropped or doubled
			j := rng.IntN(len(b))
			switch rng.IntN(3) {
			case 0:
				dmg := "{}[]\",:01-.etrufalsn \\Zx"
				b[j] = dmg[rng.IntN(len(dmg))]
			case 1:
				b = append(b[:j:j], b[j+1:]...)
			default:
				b = append(b[:j+1:j+1], b[j:]...)
			}
		}
		got, ok := decodeFast(b)
		if !ok {
			continue
		}
		fast++
		var want Change
		require.NoError(t, json.Unmarshal(b, &want), "case %d: fast path took invalid JSON %s", i, b)
		require.Equal(t, &want, got, "case %d: %s", i, b)
	}
	assert.Greater(t, fast, 2000, "the fast path is taken")
}

func TestDecodeFastTakesWhatTheProcessorWrites(t *testing.T) {
	b := []byte(`{"owner":"indicator--1","stix_ids":["indicator--1"],"via":"pattern","seq":"1700000000000-0","live":true,"valid_until":"2030-01-02T03:04:05.123Z","name":"n","score":60,"platforms":["linux"],"maturity":"stable","iocs":[{"type":"domain_name","value":"a.example.com","block":true}]}`)
	got, ok := decodeFast(b)
	require.True(t, ok)
	var want Change
	require.NoError(t, json.Unmarshal(b, &want))
	assert.Equal(t, &want, got)
	c, err := Decode(b)
	require.NoError(t, err)
	assert.Equal(t, &want, c)
}

func BenchmarkDecode(b *testing.B) {
	body := []byte(`{"owner":"backfill-0000001","stix_ids":["indicator--0b2c7ef1-1d5e-5b8e-9d41-7b0e44f1c2aa"],"via":"pattern","seq":"1764680000000-0","live":true,"name":"backfill 1","score":60,"maturity":"stable","iocs":[{"type":"domain_name","value":"backfill-1.example.com"}]}`)
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			_, _ = Decode(body)
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			var c Change
			_ = json.Unmarshal(body, &c)
		}
	})
}
