package harfanglab

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
)

// TestConnectionTest runs the connection test of both components against the simulator: it
// passes with the right token and fails, naming the endpoint but not the token, with a wrong one.
func TestConnectionTest(t *testing.T) {
	sim := hlsim.New(testToken)
	url, err := sim.Start("")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })

	for _, token := range []string{testToken, "wrong-token-value"} {
		c, err := NewClient(ClientConfig{URL: url, Token: token, MaxRetries: 0})
		require.NoError(t, err)
		for name, res := range map[string]service.ConnectionTestResults{
			"harfanglab_intel":  (&intelOutput{client: c}).ConnectionTest(t.Context()),
			"harfanglab_alerts": (&alertsInput{client: c}).ConnectionTest(t.Context()),
		} {
			require.Len(t, res, 1, name)
			if token == testToken {
				assert.NoError(t, res[0].Err, name)
				continue
			}
			require.Error(t, res[0].Err, name)
			assert.Contains(t, res[0].Err.Error(), "401", name)
			assert.NotContains(t, res[0].Err.Error(), token, name)
		}
	}
}
