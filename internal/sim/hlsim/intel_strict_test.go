package hlsim_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/harfanglab"
)

const strictSigma = "title: Strict\nid: 5f0a3f4e-0000-4000-8000-000000000001\n# a comment the console drops\nlogsource: {product: windows}\ndetection:\n  sel: {Image: 'a.exe'}\n  condition: sel\n"

// rawPost posts body and returns the HTTP status (through the raw answer) and the decoded answer.
func postRule(t *testing.T, cl *harfanglab.Client, path string, body map[string]any) map[string]any {
	t.Helper()
	var ans map[string]any
	require.NoError(t, cl.Post(context.Background(), path, body, &ans))
	return ans
}

func firstStatus(t *testing.T, ans map[string]any) map[string]any {
	t.Helper()
	list, ok := ans["status"].([]any)
	require.True(t, ok, "answer %v has a status list", ans)
	require.Len(t, list, 1)
	return list[0].(map[string]any)
}

// TestStrictSigmaUpload: string codes, no description, YAML re-serialised, name trimmed, Sigma
// id unique across every list (evidence D, W).
func TestStrictSigmaUpload(t *testing.T) {
	sim, cl, _ := newSim(t)
	mine := createSource(t, cl, "SigmaSource", "from_OpenCTI")
	other := createSource(t, cl, "SigmaSource", "analysts")

	st := firstStatus(t, postRule(t, cl, "threat_intelligence/SigmaRule", map[string]any{
		"source_id": mine, "name": "  padded [x]  ", "content": strictSigma, "description": "lost", "hl_status": "stable", "enabled": true,
	}))
	assert.Equal(t, true, st["status"])
	assert.IsType(t, "", st["code"], "strict codes are strings")
	rules := sim.SigmaRules("from_OpenCTI")
	require.Len(t, rules, 1)
	assert.Equal(t, "padded [x]", rules[0].Name, "name trimmed")
	assert.Empty(t, rules[0].Description, "description is not a create field")
	assert.NotEqual(t, strictSigma, rules[0].Content, "content re-serialised")
	assert.NotContains(t, rules[0].Content, "a comment the console drops")

	st = firstStatus(t, postRule(t, cl, "threat_intelligence/SigmaRule", map[string]any{
		"source_id": other, "name": "copy", "content": strictSigma,
	}))
	assert.Equal(t, false, st["status"])
	assert.Equal(t, "duplicate_rule", st["code"], "same Sigma id refused in another list")

	sim.SetLenient(true)
	st = firstStatus(t, postRule(t, cl, "threat_intelligence/SigmaRule", map[string]any{
		"source_id": other, "name": "copy", "content": strictSigma, "description": "kept",
	}))
	assert.Equal(t, true, st["status"])
	assert.InDelta(t, 201, st["code"], 0, "lenient codes are integers")
	assert.Equal(t, "kept", sim.SigmaRules("analysts")[0].Description)
}

// TestStrictIOCValueFormat: a value a real console cannot parse is a 400 naming the value (K).
func TestStrictIOCValueFormat(t *testing.T) {
	sim, cl, _ := newSim(t)
	src := createSource(t, cl, "IOCSource", "from_OpenCTI")
	body := map[string]any{"source_id": src, "type": "ip_both", "value": "999.1.1.1", "hl_status": "stable"}
	err := cl.Post(t.Context(), "threat_intelligence/IOCRule", body, nil)
	var apiErr *harfanglab.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 400, apiErr.Status)
	assert.Contains(t, apiErr.Body, "valid IPv4")
	body["value"] = "10.0.0.0/8"
	require.NoError(t, cl.Post(t.Context(), "threat_intelligence/IOCRule", body, nil), "CIDR accepted (K)")
	sim.SetLenient(true)
	body["value"] = "999.1.1.1"
	require.NoError(t, cl.Post(t.Context(), "threat_intelligence/IOCRule", body, nil))
}
