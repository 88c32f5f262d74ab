package harfanglab

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		err := got.decodeAnswer([]byte(s))
		assert.Equal(t, wantErr != nil, err != nil, s)
		if wantErr == nil {
			assert.Equal(t, want.ID, got.ID, s)
		}
	}
}
