package stix

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// awkward holds every character class encoding/json treats specially.
const awkward = "a\"b\\c\x00\x01\x1f\b\f\n\r\t<>&\u2028\u2029é✓\xff\xc3 end\x7f"

func TestEncodeChangeMatchesEncodingJSON(t *testing.T) {
	until := time.Date(2025, 9, 13, 10, 0, 0, 123456789, time.UTC)
	far := time.Date(5138, 11, 16, 9, 46, 40, 0, time.UTC)
	tests := []*intel.Change{
		{Owner: "o", Via: intel.ViaPattern},
		{Owner: "o", Via: "v", StixIDs: []string{}, Platforms: []string{}, IOCs: []intel.IOC{}},
		{
			Owner: testInternalID, StixIDs: []string{testStixID, "indicator--old"}, Via: intel.ViaPattern,
			Seq: "1718445600123-0", Live: true, ValidUntil: &until, Name: "n" + awkward, Description: awkward,
			Score: -42, Platforms: []string{"windows", awkward}, Maturity: "testing",
			IOCs: []intel.IOC{{Type: intel.TypeHash, Value: md5Empty, Block: true}, {Type: intel.TypeURL, Value: awkward}},
			Rule: &intel.Rule{Kind: intel.RuleSigma, Name: awkward, Content: "title: x\n" + awkward},
		},
		{Owner: "o", Via: "v", ValidUntil: &far, Score: 1 << 40},
		{Owner: "", Via: "", Description: strings.Repeat("<&>", 1000)},
	}
	// Every special byte at every place of an 8-byte word (appendString skips safe words).
	for _, special := range []string{"\"", "\\", "\x00", "\x1f", "<", ">", "&", "\u2028", "é", "\xff", "\x7f"} {
		for off := range 17 {
			tests = append(tests, &intel.Change{Owner: "o", Via: "v",
				Description: strings.Repeat("x", off) + special + strings.Repeat("y", 17-off)})
		}
	}
	for _, c := range tests {
		want, err := c.Encode()
		require.NoError(t, err)
		assert.Equal(t, string(want), string(encodeChange(c)))
	}
}

func FuzzEncodeChange(f *testing.F) {
	f.Add("o", "desc", "v", awkward, int64(3), true)
	f.Fuzz(func(t *testing.T, owner, desc, value, name string, score int64, block bool) {
		until := time.Unix(score%(1<<35), score%1e9).UTC()
		c := &intel.Change{
			Owner: owner, Via: intel.ViaPattern, StixIDs: []string{name}, Description: desc, Name: name,
			Score: int(score), ValidUntil: &until, IOCs: []intel.IOC{{Type: intel.TypeDomainName, Value: value, Block: block}},
			Rule: &intel.Rule{Kind: intel.RuleYara, Name: name, Content: desc},
		}
		want, err := c.Encode()
		if err != nil {
			return // years outside 0-9999: json.Marshal refuses them; never produced from OpenCTI data
		}
		if got := encodeChange(c); string(got) != string(want) {
			t.Fatalf("encodeChange differs from json.Marshal:\n got %s\nwant %s", got, want)
		}
	})
}
