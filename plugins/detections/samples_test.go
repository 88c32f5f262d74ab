package detections

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
)

// TestSimulatorSamples converts every sample alert of the HarfangLab simulator, with a rule
// that came from OpenCTI and with one that did not: the contract with what the demo and the
// end-to-end tests feed the pipeline.
func TestSimulatorSamples(t *testing.T) {
	sim := hlsim.New("t")
	p := newTestProcessor(t, "harfanglab_url: https://hl.example.com\n")
	for i, kind := range hlsim.SampleKinds {
		a := sim.Alert(sim.AddAlert(sim.SampleAlert(kind, i))) // AddAlert fills id and dates
		for _, fromOpenCTI := range []bool{true, false} {
			var ids []string
			if fromOpenCTI {
				ids = []string{"indicator--00000000-0000-4000-8000-00000000000" + string(rune('0'+i))}
			}
			ruleKind, rule := hlsim.SampleRuleFor(a, ids...)
			doc, err := json.Marshal(map[string]any{"kind": "alert", "alert": a, "rule": rule, "rule_type": ruleKind, "indicator_ids": ids})
			require.NoError(t, err)
			b, warnings := convertOK(t, p, string(doc))
			assert.Empty(t, warnings, "%s: %v", kind, warnings)
			assert.Len(t, b.ofType("incident"), 1, kind)
			sightings := b.ofType("sighting")
			require.Len(t, sightings, 1, kind)
			if fromOpenCTI {
				assert.Equal(t, ids[0], sightings[0]["sighting_of_ref"], kind)
				assert.Empty(t, b.ofType("indicator"), kind)
			} else {
				require.Len(t, b.ofType("indicator"), 1, kind)
				assert.Equal(t, b.ofType("indicator")[0]["id"], sightings[0]["sighting_of_ref"], kind)
			}
		}
	}
}
