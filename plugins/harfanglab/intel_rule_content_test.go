package harfanglab

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The alerts input reads the owner of a Sigma rule or YARA file from its name, where the intel
// output writes it (consoles keep no description for rules).
func TestAlertsReadRuleOwnerFromName(t *testing.T) {
	name, err := ruleName(ruleHolder{base: "Suspicious PowerShell", owner: "indicator--0a1b"}, "sigma")
	require.NoError(t, err)
	assert.Equal(t, []string{"indicator--0a1b"}, indicatorIDs(intelRule{Name: name}))
	assert.Equal(t, []string{"indicator--0a1b"}, indicatorIDs(intelRule{RuleName: name}))
	assert.Empty(t, indicatorIDs(intelRule{Name: "Someone else's rule"}))
	assert.Equal(t, []string{"i1"}, indicatorIDs(intelRule{Name: name, Comment: `{"indicator_ids":["i1"]}`}),
		"an IOC's comment comes first")
}
