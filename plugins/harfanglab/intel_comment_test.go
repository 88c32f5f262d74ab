package harfanglab

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCommentLeniently(t *testing.T) {
	legacy := `{"indicator_id": "indicator--1", "indicator_score": 50, "indicator_platforms": ["windows"]}`
	double, _ := json.Marshal(legacy)
	triple, _ := json.Marshal(string(double))
	for name, tc := range map[string]struct {
		comment string
		ours    bool
		owners  []string
		score   int
	}{
		"legacy":             {legacy, true, []string{"indicator--1"}, 50},
		"double-encoded":     {string(double), true, []string{"indicator--1"}, 50},
		"triple-encoded":     {string(triple), true, []string{"indicator--1"}, 50},
		"current":            {`{"indicator_id":"a","indicator_ids":["a","b"],"indicator_score":70,"claims":{"a":{"via":["pattern"],"score":70},"b":{"via":["relationship--1"],"score":20}}}`, true, []string{"a", "b"}, 70},
		"no owner left":      {`{"indicator_id":null,"indicator_ids":[],"indicator_score":0,"indicator_platforms":[]}`, true, nil, 0},
		"ids of mixed types": {`{"indicator_ids":["a", 3, null]}`, true, []string{"a"}, 0},
		"intel null owner":   {`{"indicator_id": null, "indicator_score": 0}`, false, nil, 0},
		"free text":          {"added by analyst", false, nil, 0},
		"empty":              {"", false, nil, 0},
		"json not ours":      {`{"note":"x"}`, false, nil, 0},
		"json array":         {`["a"]`, false, nil, 0},
		"broken json":        {`{"indicator_ids": [`, false, nil, 0},
	} {
		o, ours := parseComment(tc.comment)
		assert.Equal(t, tc.ours, ours, name)
		if !ours {
			continue
		}
		ids := o.sortedIDs()
		if len(tc.owners) == 0 {
			assert.Empty(t, ids, name)
		} else {
			assert.Equal(t, tc.owners, ids, name)
		}
		for _, r := range o {
			assert.NotEmpty(t, r.rec.Via, name)
		}
		if len(ids) > 0 {
			var d commentDoc
			require.NoError(t, json.Unmarshal([]byte(buildComment(o)), &d), name)
			assert.Equal(t, tc.score, d.IndicatorScore, name)
		}
	}
}

func TestCommentRoundTrip(t *testing.T) {
	s40, s90 := 40, 90
	until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	o := ownersOf(map[string]*ownerRecord{
		"b": {Via: []string{"pattern", "relationship--9"}, Score: &s90, Platforms: platformsOf([]string{"linux"}), Block: true, ValidUntil: &until},
		"a": {Via: []string{"pattern"}, Score: &s40, Platforms: platformsOf([]string{"windows", "linux"})},
	})
	c := buildComment(o)
	assert.JSONEq(t, `{"indicator_id":"a","indicator_ids":["a","b"],"indicator_score":90,"indicator_platforms":["linux","windows"],
		"claims":{"a":{"via":["pattern"],"score":40,"platforms":["windows","linux"]},
		          "b":{"via":["pattern","relationship--9"],"score":90,"platforms":["linux"],"block":true,"valid_until":"2030-01-02T03:04:05Z"}}}`, c)
	back, ours := parseComment(c)
	require.True(t, ours)
	assert.Equal(t, c, buildComment(back), "parse(build(x)) builds the same comment")
	assert.Equal(t, until, *back.get("b").ValidUntil)
}

func FuzzParseComment(f *testing.F) {
	for _, s := range []string{"", "x", `{"indicator_ids":["a"]}`, `"{\"indicator_id\":\"a\"}"`, `{"indicator_id":1}`, `{"claims":{"a":{"via":"x"}},"indicator_ids":["a"]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, ours := parseComment(s)
		if !ours {
			return
		}
		// Whatever was read can be written back and read again identically.
		c := buildComment(o)
		o2, ours2 := parseComment(c)
		if !ours2 || buildComment(o2) != c {
			t.Fatalf("round trip of %q: %q", s, c)
		}
	})
}
