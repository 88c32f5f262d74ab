package harfanglab

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hand-written comment must be byte for byte what encoding/json writes: the stored
// comment's hash decides at each restart whether an entry is rewritten.
func TestAppendCommentMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"", "indicator--0b2c", "a<b>&c", `quo"te`, `back\slash`, "tab\there", "é", "\u2028", "\xff", "linux", "windows", "macos", "pattern", "rel--x"}
	pick := func() string { return words[rng.IntN(len(words))] }
	zones := []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("", -5*3600-1800)}
	for i := range 5000 {
		n := rng.IntN(4)
		o := make(owners, 0, n)
		for j := range n {
			r := &ownerRecord{Block: rng.IntN(2) == 0}
			switch rng.IntN(3) {
			case 0:
				r.Via = viaPatternOnly
			case 1:
				r.Via = []string{pick(), pick()}
			}
			if rng.IntN(3) > 0 {
				r.Score = scoreRef(rng.IntN(120) - 10)
			}
			var plat []string
			for range rng.IntN(3) {
				plat = append(plat, pick())
			}
			r.Platforms = platformsOf(plat)
			if rng.IntN(2) == 0 {
				v := time.Date(2020+rng.IntN(10), 1, 1, 0, 0, rng.IntN(100000), rng.IntN(1e9)*rng.IntN(2), zones[rng.IntN(len(zones))])
				r.ValidUntil = &v
			}
			id := fmt.Sprintf("%s-%03d", pick(), j)
			if rng.IntN(2) == 0 { // as OpenCTI writes them: kept compactly by the index
				id = fmt.Sprintf("indicator--%08x-0000-4000-8000-%012x", rng.Uint32(), j)
			}
			o = append(o, ownerClaim{ownerIDOf(id), r})
		}
		slices.SortFunc(o, func(a, b ownerClaim) int { return a.id.compare(b.id) })
		got, ok := appendComment(nil, o)
		if !ok {
			assert.Equal(t, buildCommentJSON(o), buildComment(o), "case %d: the fallback", i)
			continue
		}
		require.Equal(t, buildCommentJSON(o), string(got), "case %d", i)
	}
}

func TestAppendCommentRefusesUnsortedOwners(t *testing.T) {
	o := owners{{"b", &ownerRecord{Via: viaPatternOnly}}, {"a", &ownerRecord{Via: viaPatternOnly}}}
	_, ok := appendComment(nil, o)
	assert.False(t, ok)
	assert.Equal(t, buildCommentJSON(o), buildComment(o))
	assert.Equal(t, buildCommentJSON(owners{}), buildComment(owners{}), "no owner left")
	assert.Equal(t, buildCommentJSON(nil), buildComment(nil))
}

func BenchmarkBuildComment(b *testing.B) {
	v := time.Now()
	o := owners{{ownerIDOf("indicator--1f0c2a35-8a4d-4bfb-9c1e-54bb4d6e2f10"), &ownerRecord{Via: viaPatternOnly, Score: scoreRef(60), Platforms: platformsOf([]string{"windows", "linux"}), ValidUntil: &v}}}
	b.Run("append", func(b *testing.B) {
		for b.Loop() {
			_ = buildComment(o)
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			_ = buildCommentJSON(o)
		}
	})
}
