package harfanglab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/faults"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

const list = "from_OpenCTI"

type intelFixture struct {
	t   *testing.T
	sim *hlsim.Server
	url string
}

func newIntelFixture(t *testing.T) *intelFixture {
	t.Helper()
	sim := hlsim.New(testToken)
	u, err := sim.Start("")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return &intelFixture{t: t, sim: sim, url: u}
}

// output builds and connects a harfanglab_intel output against the simulator.
func (f *intelFixture) output(extra string) *intelOutput {
	f.t.Helper()
	conf := fmt.Sprintf("url: %s\ntoken: %s\nexpiry_check_interval: 100ms\n%s", f.url, testToken, extra)
	pc, err := intelOutputSpec().ParseYAML(conf, nil)
	require.NoError(f.t, err)
	o, err := newIntelOutput(pc, service.MockResources())
	require.NoError(f.t, err)
	o.client.retryBase, o.client.retryMax = time.Millisecond, 20*time.Millisecond
	require.NoError(f.t, o.Connect(f.t.Context()))
	f.t.Cleanup(func() { _ = o.Close(context.Background()) })
	return o
}

func write(t *testing.T, o *intelOutput, c intel.Change) error {
	t.Helper()
	b, err := c.Encode()
	require.NoError(t, err)
	return o.Write(t.Context(), service.NewMessage(b))
}

func mustWrite(t *testing.T, o *intelOutput, c intel.Change) {
	t.Helper()
	require.NoError(t, write(t, o, c))
}

func ioc(typ, value string) intel.IOC { return intel.IOC{Type: typ, Value: value} }

func pattern(owner, seq string, score int, iocs ...intel.IOC) intel.Change {
	return intel.Change{Owner: owner, Via: intel.ViaPattern, Seq: seq, Live: true, Name: "ind " + owner, Description: "desc " + owner, Score: score, Platforms: []string{"windows"}, Maturity: "stable", IOCs: iocs}
}

func dead(owner, via, seq string) intel.Change {
	return intel.Change{Owner: owner, Via: via, Seq: seq, Live: false}
}

// state is the IOC list as value → "enabled owners..." for compact assertions.
func (f *intelFixture) state() map[string]string {
	out := map[string]string{}
	for _, r := range f.sim.IOCs(list) {
		o, ours := parseComment(r.Comment)
		desc := "disabled"
		if r.Enabled {
			desc = "enabled"
		}
		if !ours {
			desc += " foreign"
		}
		for _, id := range o.sortedIDs() {
			desc += " " + id
		}
		out[r.Value] = desc
	}
	return out
}

func (f *intelFixture) comment(value string) commentDoc {
	for _, r := range f.sim.IOCs(list) {
		if r.Value == value {
			var d commentDoc
			require.NoError(f.t, json.Unmarshal([]byte(r.Comment), &d))
			return d
		}
	}
	f.t.Fatalf("no IOC %s", value)
	return commentDoc{}
}

func TestIntelConnectCreatesListsOnceAndNeverAdoptsOthers(t *testing.T) {
	f := newIntelFixture(t)
	f.sim.AddIOC("vendor feed", hlsim.IOCRule{Type: "domain_name", Value: "vendor.com", Enabled: true})
	f.output("")
	f.output("") // a second start finds the lists
	for _, kind := range []string{"IOCSource", "SigmaSource", "YaraSource"} {
		names := f.sim.Sources(kind)
		assert.Contains(t, names, list, kind)
		n := 0
		for _, name := range names {
			if name == list {
				n++
			}
		}
		assert.Equal(t, 1, n, "exactly one %s named %s", kind, list)
	}
	pc, err := intelOutputSpec().ParseYAML(fmt.Sprintf("url: %s\ntoken: x\nsource_list_name: \"\"\n", f.url), nil)
	require.NoError(t, err)
	_, err = newIntelOutput(pc, service.MockResources())
	require.ErrorContains(t, err, "source_list_name")
}

func TestIntelCreateIsOneRequestAndReplayWritesNothing(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	f.sim.Faults().ResetCounters()
	mustWrite(t, o, pattern("A", "100-0", 50, ioc("domain_name", "evil.com"), ioc("ip_both", "1.2.3.4"), ioc("hash", strings.Repeat("a", 64))))
	assert.EqualValues(t, 3, f.sim.Faults().Requests(), "one POST per new value, no lookup")
	assert.Equal(t, map[string]string{"evil.com": "enabled A", "1.2.3.4": "enabled A", strings.Repeat("a", 64): "enabled A"}, f.state())
	d := f.comment("evil.com")
	require.NotNil(t, d.IndicatorID)
	assert.Equal(t, "A", *d.IndicatorID)
	assert.Equal(t, []string{"A"}, d.IndicatorIDs)
	assert.Equal(t, 50, d.IndicatorScore)
	assert.Equal(t, []string{"windows"}, d.IndicatorPlatforms)
	assert.Equal(t, []string{intel.ViaPattern}, d.Claims["A"].Via)
	r := f.sim.IOCs(list)[0]
	assert.Equal(t, "desc A", r.Description)
	assert.Equal(t, "stable", r.HLStatus)

	writes := f.sim.WriteCount()
	mustWrite(t, o, pattern("A", "100-0", 50, ioc("domain_name", "evil.com"), ioc("ip_both", "1.2.3.4"), ioc("hash", strings.Repeat("a", 64))))
	mustWrite(t, o, pattern("A", "101-0", 50, ioc("domain_name", "evil.com"), ioc("ip_both", "1.2.3.4"), ioc("hash", strings.Repeat("a", 64))))
	assert.Equal(t, writes, f.sim.WriteCount(), "the same desired state writes nothing")

	// A restarted output replaying the same change writes nothing either.
	o2 := f.output("")
	mustWrite(t, o2, pattern("A", "100-0", 50, ioc("domain_name", "evil.com"), ioc("ip_both", "1.2.3.4"), ioc("hash", strings.Repeat("a", 64))))
	assert.Equal(t, writes, f.sim.WriteCount())
}

func TestIntelPatternChangeAndOrdering(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	mustWrite(t, o, pattern("A", "100-0", 50, ioc("ip_both", "7.7.7.7"), ioc("domain_name", "seven.com")))
	mustWrite(t, o, pattern("A", "200-0", 50, ioc("ip_both", "7.7.7.8"), ioc("domain_name", "seven.com")))
	assert.Equal(t, map[string]string{"7.7.7.8": "enabled A", "seven.com": "enabled A"}, f.state())
	// An older change arriving late is ignored.
	mustWrite(t, o, pattern("A", "150-0", 50, ioc("ip_both", "7.7.7.7")))
	assert.Equal(t, map[string]string{"7.7.7.8": "enabled A", "seven.com": "enabled A"}, f.state())
}

func TestIntelSharedValuesAndScores(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	mustWrite(t, o, pattern("A", "1-0", 40, ioc("domain_name", "shared.com")))
	mustWrite(t, o, pattern("B", "2-0", 90, ioc("domain_name", "shared.com"), intel.IOC{Type: "ip_both", Value: "9.9.9.9", Block: true}))
	assert.Equal(t, map[string]string{"shared.com": "enabled A B", "9.9.9.9": "enabled B"}, f.state())
	assert.Equal(t, 90, f.comment("shared.com").IndicatorScore)
	assert.Equal(t, "A", *f.comment("shared.com").IndicatorID)
	for _, r := range f.sim.IOCs(list) {
		assert.Equal(t, r.Value == "9.9.9.9", r.BlockOnAgent, r.Value)
	}
	mustWrite(t, o, dead("A", intel.ViaPattern, "3-0"))
	assert.Equal(t, map[string]string{"shared.com": "enabled B", "9.9.9.9": "enabled B"}, f.state())
	assert.Equal(t, "B", *f.comment("shared.com").IndicatorID)
	assert.Equal(t, "desc B", f.sim.IOCs(list)[0].Description)
	mustWrite(t, o, dead("B", intel.ViaPattern, "4-0"))
	assert.Empty(t, f.state())
}

func TestIntelDisableInsteadOfDelete(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("remove_indicator: false\n")
	mustWrite(t, o, pattern("A", "1-0", 50, ioc("ip_both", "6.6.6.6")))
	mustWrite(t, o, dead("A", intel.ViaPattern, "2-0"))
	assert.Equal(t, map[string]string{"6.6.6.6": "disabled"}, f.state())
	mustWrite(t, o, pattern("A", "3-0", 50, ioc("ip_both", "6.6.6.6")))
	assert.Equal(t, map[string]string{"6.6.6.6": "enabled A"}, f.state())
	// After a restart the disabled entry is still recognised as ours.
	mustWrite(t, o, dead("A", intel.ViaPattern, "4-0"))
	o2 := f.output("remove_indicator: false\n")
	mustWrite(t, o2, pattern("C", "5-0", 50, ioc("ip_both", "6.6.6.6")))
	assert.Equal(t, map[string]string{"6.6.6.6": "enabled C"}, f.state())
	assert.Len(t, f.sim.IOCs(list), 1, "never a duplicate")
}

func TestIntelBasedOnClaims(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	mustWrite(t, o, pattern("A", "1-0", 50, ioc("ip_both", "4.4.4.4")))
	rel := intel.Change{Owner: "A", Via: "relationship--1", Seq: "2-0", Live: true, Score: 50, IOCs: []intel.IOC{ioc("domain_name", "four.com"), ioc("ip_both", "4.4.4.4")}}
	mustWrite(t, o, rel)
	assert.Equal(t, map[string]string{"4.4.4.4": "enabled A", "four.com": "enabled A"}, f.state())
	assert.Equal(t, []string{"pattern", "relationship--1"}, f.comment("4.4.4.4").Claims["A"].Via)
	assert.Equal(t, 50, f.comment("4.4.4.4").IndicatorScore, "a relationship change carries no score: the owner's is kept")
	assert.Equal(t, 50, f.comment("four.com").IndicatorScore)
	for _, r := range f.sim.IOCs(list) {
		assert.Equal(t, "desc A", r.Description, r.Value)
	}
	// In a fresh process a relationship change seen before its owner's keeps what the value records.
	o2 := f.output("")
	rel2 := intel.Change{Owner: "A", Via: "relationship--2", Seq: "2-5", Live: true, IOCs: []intel.IOC{ioc("ip_both", "4.4.4.4")}}
	writes := f.sim.WriteCount()
	mustWrite(t, o2, rel2)
	assert.Equal(t, writes+1, f.sim.WriteCount(), "one PATCH adding the claim")
	assert.Equal(t, 50, f.comment("4.4.4.4").IndicatorScore)
	mustWrite(t, o2, dead("A", "relationship--2", "2-6"))

	// Revoked: everything goes; live again: the relationship claim comes back.
	mustWrite(t, o, dead("A", intel.ViaPattern, "3-0"))
	assert.Empty(t, f.state())
	mustWrite(t, o, pattern("A", "4-0", 50, ioc("ip_both", "4.4.4.4")))
	assert.Equal(t, map[string]string{"4.4.4.4": "enabled A", "four.com": "enabled A"}, f.state())

	// Removing the relationship removes only what it alone brought.
	mustWrite(t, o, dead("A", "relationship--1", "5-0"))
	assert.Equal(t, map[string]string{"4.4.4.4": "enabled A"}, f.state())
	assert.Equal(t, []string{"pattern"}, f.comment("4.4.4.4").Claims["A"].Via)
}

func TestIntelForeignEntriesAreNeverTouched(t *testing.T) {
	f := newIntelFixture(t)
	f.output("")
	f.sim.AddIOC(list, hlsim.IOCRule{Type: "ip_both", Value: "3.3.3.3", Comment: "added by analyst", Enabled: false, HLStatus: "testing"})
	f.sim.AddIOC(list, hlsim.IOCRule{Type: "ip_both", Value: "3.3.3.4", Comment: `{"note": "json but not ours"}`, Enabled: true, HLStatus: "stable"})
	o := f.output("")
	writes := f.sim.WriteCount()
	mustWrite(t, o, pattern("A", "1-0", 50, ioc("ip_both", "3.3.3.3"), ioc("ip_both", "3.3.3.4"), ioc("ip_both", "3.3.3.5")))
	mustWrite(t, o, dead("A", intel.ViaPattern, "2-0"))
	assert.Equal(t, writes+2, f.sim.WriteCount(), "only 3.3.3.5 was created and deleted")
	assert.Equal(t, map[string]string{"3.3.3.3": "disabled foreign", "3.3.3.4": "enabled foreign"}, f.state())
}

func TestIntelLegacyCommentsAreAdopted(t *testing.T) {
	f := newIntelFixture(t)
	f.output("")
	// Written by the older connector: owner = STIX id, double-encoded by the intel connector.
	legacy := `{"indicator_id": "indicator--old", "indicator_score": 50, "indicator_platforms": ["windows"]}`
	enc, _ := json.Marshal(legacy)
	f.sim.AddIOC(list, hlsim.IOCRule{Type: "ip_both", Value: "7.7.7.7", Comment: string(enc), Enabled: true, HLStatus: "stable"})
	f.sim.AddIOC(list, hlsim.IOCRule{Type: "domain_name", Value: "legacy.com", Comment: legacy, Enabled: true, HLStatus: "stable"})
	o := f.output("")
	c := pattern("internal-1", "1-0", 60, ioc("ip_both", "7.7.7.7"))
	c.StixIDs = []string{"indicator--new", "indicator--old"}
	mustWrite(t, o, c)
	assert.Equal(t, map[string]string{"7.7.7.7": "enabled internal-1"}, f.state(), "legacy.com belonged to the old pattern only")
}

func TestIntelSigmaAndYara(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	sigma := "title: WEAXOR\nlogsource: {}\ndetection:\n  condition: sel\n"
	c := intel.Change{Owner: "S1", Via: intel.ViaPattern, Seq: "1-0", Live: true, Name: "WEAXOR Ransomware File Create", Score: 70, Maturity: "stable",
		Rule: &intel.Rule{Kind: intel.RuleSigma, Name: "WEAXOR Ransomware File Create", Content: sigma}}
	mustWrite(t, o, c)
	rules := f.sim.SigmaRules(list)
	require.Len(t, rules, 1)
	assert.Equal(t, "WEAXOR Ransomware File Create [S1]", rules[0].Name)
	id := rules[0].ID

	c.Seq, c.Name = "2-0", strings.Repeat("Long name ", 20)
	c.Rule.Content = strings.Replace(sigma, "sel", "sel2", 1)
	mustWrite(t, o, c)
	rules = f.sim.SigmaRules(list)
	require.Len(t, rules, 1, "a rename updates in place")
	assert.Equal(t, id, rules[0].ID)
	assert.LessOrEqual(t, len([]rune(rules[0].Name)), 100)
	assert.True(t, strings.HasSuffix(rules[0].Name, " [S1]"))
	assert.Contains(t, rules[0].Content, "sel2")

	// A restart finds the rule by its owner suffix: no duplicate on the next change.
	o2 := f.output("")
	c.Seq, c.Name = "3-0", "Renamed"
	mustWrite(t, o2, c)
	rules = f.sim.SigmaRules(list)
	require.Len(t, rules, 1)
	assert.Equal(t, "Renamed [S1]", rules[0].Name)

	y := intel.Change{Owner: "Y1", Via: intel.ViaPattern, Seq: "4-0", Live: true, Name: "MAL_WEAXOR", Rule: &intel.Rule{Kind: intel.RuleYara, Content: "rule MAL_WEAXOR { condition: true }"}}
	mustWrite(t, o2, y)
	require.Len(t, f.sim.YaraFiles(list), 1)

	bad := intel.Change{Owner: "Y2", Via: intel.ViaPattern, Seq: "5-0", Live: true, Name: "bad", Rule: &intel.Rule{Kind: intel.RuleYara, Content: "not a rule"}}
	err := write(t, o2, bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refused")

	mustWrite(t, o2, dead("S1", intel.ViaPattern, "6-0"))
	mustWrite(t, o2, dead("Y1", intel.ViaPattern, "7-0"))
	assert.Empty(t, f.sim.SigmaRules(list))
	assert.Empty(t, f.sim.YaraFiles(list))
}

func TestIntelSigmaDisabledThenBackWithNewContent(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("remove_indicator: false\n")
	c := intel.Change{Owner: "S1", Via: intel.ViaPattern, Seq: "1-0", Live: true, Name: "r", Rule: &intel.Rule{Kind: intel.RuleSigma, Content: "detection: a"}}
	mustWrite(t, o, c)
	mustWrite(t, o, dead("S1", intel.ViaPattern, "2-0"))
	rules := f.sim.SigmaRules(list)
	require.Len(t, rules, 1)
	assert.False(t, rules[0].Enabled)
	c.Seq, c.Rule.Content = "3-0", "detection: b"
	mustWrite(t, o, c)
	rules = f.sim.SigmaRules(list)
	require.Len(t, rules, 1)
	assert.True(t, rules[0].Enabled)
	assert.YAMLEq(t, "detection: b", rules[0].Content, "HarfangLab re-serialises the YAML it stores")
}

func TestIntelExpiryWithNoEventSurvivesRestart(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	soon := time.Now().Add(700 * time.Millisecond)
	c := pattern("A", "1-0", 50, ioc("domain_name", "expiring.com"))
	c.ValidUntil = &soon
	mustWrite(t, o, c)
	later := time.Now().Add(time.Hour)
	c2 := pattern("B", "1-0", 50, ioc("domain_name", "staying.com"))
	c2.ValidUntil = &later
	mustWrite(t, o, c2)
	require.NoError(t, o.Close(t.Context()))

	// A fresh process re-arms the timer from the comment.
	o2 := f.output("")
	assert.Eventually(t, func() bool {
		_, ok := f.state()["expiring.com"]
		return !ok
	}, 5*time.Second, 50*time.Millisecond)
	assert.Equal(t, map[string]string{"staying.com": "enabled B"}, f.state())
	// Replaying the expired indicator changes nothing.
	writes := f.sim.WriteCount()
	mustWrite(t, o2, c)
	assert.Equal(t, writes, f.sim.WriteCount())
}

func TestIntelDuplicateAnswerIsResolvedByRereading(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	// Another instance created the value after our index was loaded.
	f.sim.AddIOC(list, hlsim.IOCRule{Type: "domain_name", Value: "race.com", Enabled: true, HLStatus: "stable", Comment: `{"indicator_id":"B","indicator_ids":["B"],"indicator_score":10}`})
	mustWrite(t, o, pattern("A", "1-0", 50, ioc("domain_name", "race.com")))
	assert.Equal(t, map[string]string{"race.com": "enabled A B"}, f.state())
	assert.Len(t, f.sim.IOCs(list), 1)
	// And an entry deleted behind our back is created again.
	for _, r := range f.sim.IOCs(list) {
		require.NoError(t, o.client.Delete(t.Context(), PathIOCRule+r.ID))
	}
	mustWrite(t, o, pattern("A", "2-0", 60, ioc("domain_name", "race.com")))
	assert.Equal(t, map[string]string{"race.com": "enabled A"}, f.state(), "B's claim went with the deleted entry")
	assert.Equal(t, 60, f.comment("race.com").IndicatorScore)
}

func TestIntelValidationErrorIsPermanent(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	err := write(t, o, pattern("A", "1-0", 50, ioc("hash", "not-a-hash"), ioc("domain_name", "ok.com")))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not-a-hash")
	assert.NotContains(t, err.Error(), testToken)
	assert.Equal(t, map[string]string{"ok.com": "enabled A"}, f.state())
	require.Error(t, o.Write(t.Context(), service.NewMessage([]byte(`{not json`))))
	require.Error(t, o.Write(t.Context(), service.NewMessage([]byte(`{"owner":""}`))))
}

func TestIntelDryRunWritesNothing(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("dry_run: true\n")
	mustWrite(t, o, pattern("A", "1-0", 50, ioc("domain_name", "dry.com")))
	mustWrite(t, o, intel.Change{Owner: "S", Via: intel.ViaPattern, Live: true, Name: "s", Rule: &intel.Rule{Kind: intel.RuleSigma, Content: "detection: x"}})
	mustWrite(t, o, dead("A", intel.ViaPattern, "2-0"))
	assert.Zero(t, f.sim.WriteCount())
	assert.Empty(t, f.sim.Sources("IOCSource"))
}

func TestIntelConcurrentChangesUnderFaultsConverge(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	f.sim.Faults().Set(faults.Config{Rate429: 0.1, Rate5xx: 0.1, RateDrop: 0.05, MaxConcurrent: 8, Latency: time.Millisecond})
	const owners = 40
	var wg sync.WaitGroup
	for i := range owners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every owner shares "shared.com" and has two values of its own; odd owners
			// then drop their pattern.
			own := fmt.Sprintf("o%02d", i)
			assert.NoError(t, write(t, o, pattern(own, "1-0", i, ioc("domain_name", "shared.com"), ioc("domain_name", own+".com"), ioc("ip_both", fmt.Sprintf("10.0.0.%d", i)))))
			if i%2 == 1 {
				assert.NoError(t, write(t, o, dead(own, intel.ViaPattern, "2-0")))
			}
		}()
	}
	wg.Wait()
	f.sim.Faults().Set(faults.Config{})
	st := f.state()
	assert.Len(t, st, 1+owners, "shared.com + two values per even owner")
	want := "enabled"
	for i := 0; i < owners; i += 2 {
		want += fmt.Sprintf(" o%02d", i)
		assert.Equal(t, fmt.Sprintf("enabled o%02d", i), st[fmt.Sprintf("o%02d.com", i)])
	}
	assert.Equal(t, want, st["shared.com"])
	assert.Len(t, f.sim.IOCs(list), 1+owners, "no duplicate")
	assert.Equal(t, 38, f.comment("shared.com").IndicatorScore)
	assert.LessOrEqual(t, f.sim.Faults().PeakConcurrency(), int64(8))
}

func TestIntelRelationshipBeforeItsIndicatorWaitsForIt(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	rel := intel.Change{Owner: "A", Via: "relationship--1", Seq: "1-0", Live: true, IOCs: []intel.IOC{ioc("domain_name", "four.com")}}
	mustWrite(t, o, rel)
	assert.Empty(t, f.state(), "the owner may be dead: nothing is written yet")
	mustWrite(t, o, pattern("A", "2-0", 50, ioc("ip_both", "4.4.4.4")))
	assert.Equal(t, map[string]string{"4.4.4.4": "enabled A", "four.com": "enabled A"}, f.state())

	// A revoked indicator's relationship replayed in a fresh process writes nothing.
	o2 := f.output("")
	writes := f.sim.WriteCount()
	mustWrite(t, o2, intel.Change{Owner: "R", Via: "relationship--2", Seq: "1-0", Live: true, IOCs: []intel.IOC{ioc("domain_name", "r.com")}})
	mustWrite(t, o2, dead("R", intel.ViaPattern, "1-1"))
	// And a live owner known from the index takes relationship changes at once.
	mustWrite(t, o2, intel.Change{Owner: "A", Via: "relationship--3", Seq: "3-0", Live: true, IOCs: []intel.IOC{ioc("domain_name", "three.com")}})
	assert.Equal(t, writes+1, f.sim.WriteCount())
	assert.Equal(t, "enabled A", f.state()["three.com"])
}

// answerLosingProxy serves the simulator but drops the connection after HarfangLab has handled
// the first POST to each path in lose: the write happened, its answer never arrives.
func answerLosingProxy(t *testing.T, sim *hlsim.Server, lose ...string) string {
	t.Helper()
	var mu sync.Mutex
	lost := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		drop := r.Method == http.MethodPost && slices.Contains(lose, r.URL.Path) && !lost[r.URL.Path]
		lost[r.URL.Path] = lost[r.URL.Path] || drop
		mu.Unlock()
		if !drop {
			sim.ServeHTTP(w, r)
			return
		}
		sim.ServeHTTP(httptest.NewRecorder(), r)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestIntelLostAnswersNeverDuplicate(t *testing.T) {
	f := newIntelFixture(t)
	f.output("") // creates the lists
	f.url = answerLosingProxy(t, f.sim, "/api/data/"+PathIOCRule, "/api/data/"+PathSigmaRule)
	o := f.output("")
	w0 := f.sim.WriteCount()
	mustWrite(t, o, pattern("A", "1-0", 50, ioc("domain_name", "lost.com")))
	assert.Equal(t, map[string]string{"lost.com": "enabled A"}, f.state())
	assert.Equal(t, w0+2, f.sim.WriteCount(), "the lost POST, its retry answered 'already exists', then nothing: the re-read entry is already right")
	mustWrite(t, o, intel.Change{Owner: "S", Via: intel.ViaPattern, Seq: "1-0", Live: true, Name: "s", Rule: &intel.Rule{Kind: intel.RuleSigma, Content: "detection: x"}})
	require.Len(t, f.sim.SigmaRules(list), 1, "the retried upload found the first one")
	assert.Equal(t, w0+3, f.sim.WriteCount(), "the lost upload is not repeated")
	// The entries are known: removing them needs no lookup.
	mustWrite(t, o, dead("A", intel.ViaPattern, "2-0"))
	mustWrite(t, o, dead("S", intel.ViaPattern, "2-0"))
	assert.Empty(t, f.state())
	assert.Empty(t, f.sim.SigmaRules(list))
}

func TestIntelDuplicateRulesOfOneOwnerAreCleanedUp(t *testing.T) {
	f := newIntelFixture(t)
	f.output("")
	first := f.sim.AddSigmaRule(list, hlsim.Rule{Name: "old [S]", Content: "detection: a", Enabled: true, HLStatus: "stable"})
	f.sim.AddSigmaRule(list, hlsim.Rule{Name: "old copy [S]", Content: "detection: a", Enabled: true, HLStatus: "stable"})
	f.sim.AddSigmaRule(list, hlsim.Rule{Name: "analyst rule", Content: "detection: z", Enabled: true, HLStatus: "stable"})
	o := f.output("")
	mustWrite(t, o, intel.Change{Owner: "S", Via: intel.ViaPattern, Seq: "1-0", Live: true, Name: "new", Rule: &intel.Rule{Kind: intel.RuleSigma, Content: "detection: b"}})
	rules := f.sim.SigmaRules(list)
	require.Len(t, rules, 2)
	assert.Equal(t, first.ID, rules[0].ID)
	assert.Equal(t, "new [S]", rules[0].Name)
	assert.Equal(t, "analyst rule", rules[1].Name, "a rule with no owner suffix is not ours")
}
