package harfanglab

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

func TestNewIOCBodyMatchesEncodingJSON(t *testing.T) {
	for _, b := range []newIOCBody{
		{},
		{SourceID: "src-1", Type: "domain_name", Value: "a.example.com", Description: "backfill 1", Comment: `{"indicator_id":"x","score":60}`, HLStatus: "stable", Enabled: true},
		{SourceID: "s", Type: "url", Value: "http://a/<b>&c?d=\"e\"\\", Description: "é\n\t\x01\u2028", HLStatus: "testing", BlockOnAgent: true, LocalTestingStatus: "in_progress"},
	} {
		want, err := json.Marshal(b)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(b.appendJSON(nil)))
		got, err := encodeBody(b)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "encodeBody takes the appender")
	}
}

func TestCreatedIDDecodesAsEncodingJSON(t *testing.T) {
	for _, s := range []string{`{"id":"4f1c","type":"x"}`, `{"ID":"a"}`, `{"id":"a\u0041"}`, `{}`, `null`, `{"id":1}`, `{"id":`, `[]`} {
		var want struct {
			ID string `json:"id"`
		}
		wantErr := json.Unmarshal([]byte(s), &want)
		var got createdID
		if got.decodeFast([]byte(s)) { // else the client lets encoding/json decide
			require.NoError(t, wantErr, s)
			assert.Equal(t, want.ID, got.ID, s)
		}
	}
	var c createdID
	require.True(t, c.decodeFast([]byte(`{"id":"4f1c","type":"x"}`)), "HarfangLab's plain answer takes the fast path")
	assert.Equal(t, "4f1c", c.ID)
}

func TestClaimValuesEachKeyOnce(t *testing.T) {
	for _, n := range []int{1, claimValuesIndexed, 3 * claimValuesIndexed} {
		var cv claimValues
		var iocs []intel.IOC
		for i := range n {
			v := fmt.Sprintf("v%d.example.com", i)
			iocs = append(iocs, intel.IOC{Type: "domain_name", Value: v}, intel.IOC{Type: "domain_name", Value: v, Block: i%2 == 1})
		}
		iocs = append(iocs, intel.IOC{Type: "", Value: "x"}, intel.IOC{Type: "domain_name"})
		cv.want(iocs)
		held := cv.add(iocKey{"domain_name", "held.example.com"})
		require.Len(t, cv.keys, n+1, "n=%d", n)
		assert.Equal(t, held, cv.add(iocKey{"domain_name", "held.example.com"}))
		for i := range n {
			j := cv.add(iocKey{"domain_name", fmt.Sprintf("v%d.example.com", i)})
			assert.Equal(t, i, j)
			assert.True(t, cv.wanted[j])
			assert.Equal(t, i%2 == 1, cv.block[j], "a value listed twice blocks if either does")
		}
		assert.False(t, cv.wanted[held])
		assert.Len(t, cv.keys, n+1)
	}
}
