package harfanglab

import (
	"fmt"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// shardHistory is a mixed history: shared values, a pattern change, a death, Sigma rules.
func shardHistory() []intel.Change {
	var cs []intel.Change
	for i := 0; i < 40; i++ {
		owner := fmt.Sprintf("O%02d", i)
		c := pattern(owner, fmt.Sprintf("%d-0", 10+i), 50, ioc(intel.TypeIPBoth, fmt.Sprintf("10.0.0.%d", i)), ioc(intel.TypeDomainName, fmt.Sprintf("shared-%d.example", i%5)))
		if i%6 == 0 {
			c.IOCs, c.Rule = nil, &intel.Rule{Kind: intel.RuleSigma, Content: "title: r\ndetection:\n  condition: x\n"}
		}
		cs = append(cs, c)
	}
	for i := 0; i < 40; i += 3 {
		owner := fmt.Sprintf("O%02d", i)
		cs = append(cs, pattern(owner, fmt.Sprintf("%d-0", 100+i), 60, ioc(intel.TypeIPBoth, fmt.Sprintf("10.9.0.%d", i))))
	}
	for i := 1; i < 40; i += 4 {
		cs = append(cs, dead(fmt.Sprintf("O%02d", i), intel.ViaPattern, fmt.Sprintf("%d-0", 200+i)))
	}
	return cs
}

func TestShardedWritersReachTheSingleWriterState(t *testing.T) {
	single := newIntelFixture(t)
	one := single.output("")
	for _, c := range shardHistory() {
		mustWrite(t, one, c)
	}

	sharded := newIntelFixture(t)
	w0 := sharded.output("shard_index: 0\nshard_count: 2\n")
	w1 := sharded.output("shard_index: 1\nshard_count: 2\n") // lists exist now: writer 1 may start
	for _, c := range shardHistory() {
		mustWrite(t, w0, c)
		mustWrite(t, w1, c)
	}
	require.NotEmpty(t, single.state())
	assert.Equal(t, single.state(), sharded.state(), "two writers must end where one writer ends")
	assert.Len(t, sharded.sim.SigmaRules(list), len(single.sim.SigmaRules(list)))
	assert.Less(t, w0.client.Requests(), one.client.Requests(), "each writer makes only part of the writes")
}

func TestShardFieldsAreValidated(t *testing.T) {
	for _, conf := range []string{"shard_count: 0", "shard_index: 2\nshard_count: 2", "shard_index: -1\nshard_count: 2"} {
		pc, err := intelOutputSpec().ParseYAML("url: http://127.0.0.1:1\ntoken: x\n"+conf, nil)
		require.NoError(t, err)
		_, err = newIntelOutput(pc, service.MockResources())
		require.ErrorContains(t, err, "shard_index", conf)
	}
}

func TestOnlyWriterZeroCreatesTheLists(t *testing.T) {
	f := newIntelFixture(t)
	pc, err := intelOutputSpec().ParseYAML(fmt.Sprintf("url: %s\ntoken: %s\nshard_index: 1\nshard_count: 2\n", f.url, testToken), nil)
	require.NoError(t, err)
	o, err := newIntelOutput(pc, service.MockResources())
	require.NoError(t, err)
	require.ErrorContains(t, o.Connect(t.Context()), "waiting for writer 0")
	assert.Empty(t, f.sim.Sources("IOCSource"))
}
