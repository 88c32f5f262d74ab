package badinput

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/deploy"
)

// TestHostileEntriesAlreadyInHarfangLab: the connector's lists already hold entries whose
// comment is not what the connector writes (not JSON, wrong types, huge) and rules with odd
// names. The intel output loads them at start without failing; an indicator that then names
// one of those values takes it over (one entry, enabled, owned by the indicator) or, when the
// comment is not the connector's, leaves it exactly as it was and says so; the rest of the
// stream is applied.
func TestHostileEntriesAlreadyInHarfangLab(t *testing.T) {
	d := deploy.New(t)
	comments := []string{"", "not json", `{"indicator_ids": "str"}`, `{"indicator_ids": [1, 2]}`,
		`{"indicator_id": 5, "indicator_score": "high"}`, `[1]`, `null`, `{"indicator_ids": [null]}`,
		`{"indicator_ids": ["` + strings.Repeat("x", 1<<20) + `"]}`, "{\"indicator_ids\": [\"\xff\"]}"}
	for i, c := range comments {
		d.HL.AddIOC(deploy.ListName, hlsim.IOCRule{Type: "domain_name", Value: fmt.Sprintf("pre-%d.example", i),
			Comment: c, HLStatus: "stable", Enabled: i%2 == 0})
	}
	d.HL.AddSigmaRule(deploy.ListName, hlsim.Rule{Name: "no owner suffix", Content: "title: x\ndetection: {}\n", Enabled: true})
	d.HL.AddSigmaRule(deploy.ListName, hlsim.Rule{Name: "odd [] [[name]", Content: "title: y\ndetection: {}\n", Enabled: true})
	d.HL.AddYaraFile(deploy.ListName, hlsim.Rule{Name: "[not-an-id]", Content: "rule r { condition: true }", Enabled: true})

	p := d.Start(60*time.Second, deploy.IntelPush)
	for i := range comments {
		d.OCTI.Publish(deploy.StreamID, "create", openctisim.IndicatorEvent("create", openctisim.Indicator{
			InternalID: fmt.Sprintf("claim-%d", i), Name: fmt.Sprint("claim ", i),
			Pattern: fmt.Sprintf("[domain-name:value = 'pre-%d.example']", i)}, nil))
	}
	d.OCTI.Publish(deploy.StreamID, "create", openctisim.IndicatorEvent("create", openctisim.Indicator{
		InternalID: "fresh", Name: "fresh", Pattern: "[domain-name:value = 'fresh.example']"}, nil))

	// Each pre-existing value is either taken over (enabled, owned by its indicator) or, when
	// its comment is not the connector's, left exactly as it was with a warning naming it.
	unsettled := func() []string {
		var out []string
		entries := map[string]int{}
		for _, r := range d.HL.IOCs(deploy.ListName) {
			entries[r.Value]++
			var c struct {
				IDs []string `json:"indicator_ids"`
			}
			_ = json.Unmarshal([]byte(r.Comment), &c)
			want, i := "fresh", -1
			if n, ok := strings.CutPrefix(r.Value, "pre-"); ok {
				i, _ = strconv.Atoi(strings.TrimSuffix(n, ".example"))
				want = fmt.Sprint("claim-", i)
			}
			takenOver := r.Enabled && slices.Contains(c.IDs, want)
			untouched := i >= 0 && r.Comment == comments[i] && r.Enabled == (i%2 == 0) &&
				strings.Contains(p.Logs(), "domain_name:"+r.Value+" in list")
			if !takenOver && !untouched {
				out = append(out, fmt.Sprintf("%s: enabled %v, comment %q", r.Value, r.Enabled, clip(r.Comment)))
			}
		}
		for v, n := range entries {
			if n > 1 {
				out = append(out, fmt.Sprintf("%s: %d entries", v, n))
			}
		}
		if len(entries) != len(comments)+1 {
			out = append(out, fmt.Sprintf("%d entries, want %d", len(entries), len(comments)+1))
		}
		return out
	}
	d.Eventually(60*time.Second, func() bool { return len(unsettled()) == 0 }, "every value taken over or left alone with a warning",
		func() string { return strings.Join(unsettled(), "\n") })
	require.False(t, p.Exited())
	assert.Len(t, d.HL.SigmaRules(deploy.ListName), 2, "rules the connector does not own are left alone")
	assert.Len(t, d.HL.YaraFiles(deploy.ListName), 1, "rules the connector does not own are left alone")
	assert.NotContains(t, p.Logs(), "panic")
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
