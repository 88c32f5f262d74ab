package opencti

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStreamConnectionTest opens the stream against the simulator: it passes for a stream the
// token may read, and fails naming the three causes of a 401 for an unknown stream and for a
// wrong token (which it never repeats).
func TestStreamConnectionTest(t *testing.T) {
	sim, url := startOCTISim(t)
	sim.PublishWithID("s1", "100-0", "create", []byte(`{"data":{"id":"a"}}`))
	for yaml, want := range map[string]string{
		"url: " + url + "\ntoken: tok\nstream_id: s1\ncheckpoint_cache: cursor\n":             "",
		"url: " + url + "\ntoken: tok\nstream_id: nope\ncheckpoint_cache: cursor\n":           `no live stream has id "nope"`,
		"url: " + url + "\ntoken: wrong-secret\nstream_id: s1\ncheckpoint_cache: cursor\n":    "the token is wrong or expired",
		"url: " + url + "/not-opencti\ntoken: tok\nstream_id: s1\ncheckpoint_cache: cursor\n": "nothing serves /stream there",
	} {
		res := newTestInput(t, yaml).ConnectionTest(t.Context())
		require.Len(t, res, 1, yaml)
		if want == "" {
			assert.NoError(t, res[0].Err, yaml)
			continue
		}
		require.Error(t, res[0].Err, yaml)
		assert.Contains(t, res[0].Err.Error(), want, yaml)
		assert.NotContains(t, res[0].Err.Error(), "wrong-secret")
	}
}

// TestOutputConnectionTest runs the output's `me` query: it passes with the token and fails,
// without repeating it, with another.
func TestOutputConnectionTest(t *testing.T) {
	sim := startSim(t)
	res := newTestOutput(t, sim.URL(), testToken, "").ConnectionTest(t.Context())
	require.Len(t, res, 1)
	require.NoError(t, res[0].Err)

	res = newTestOutput(t, sim.URL(), "wrong-secret", "").ConnectionTest(t.Context())
	require.Len(t, res, 1)
	require.Error(t, res[0].Err)
	assert.NotContains(t, res[0].Err.Error(), "wrong-secret")
}
