package harfanglab

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

const sigmaWithID = `title: Shared rule
id: 0b3c8f8e-1111-4222-8333-444455556666
# a comment a real console drops
logsource: {product: windows, category: process_creation}
detection:
  sel: {Image|endswith: '\evil.exe'}
  condition: sel
`

func sigmaChange(owner, seq, content string) intel.Change {
	return intel.Change{Owner: owner, Via: intel.ViaPattern, Seq: seq, Live: true, Name: "rule of " + owner,
		Rule: &intel.Rule{Kind: intel.RuleSigma, Content: content}}
}

func TestParseUploadAnswer(t *testing.T) {
	for name, tc := range map[string]struct {
		body   string
		ok     bool
		id     string
		code   string
		reason string
	}{
		"string code success (D)": {`{"status":[{"status":true,"code":"created","content":"x","id":"r1","filename":"n"}]}`, true, "r1", "created", ""},
		"int code success":        {`{"status":[{"status":true,"code":201,"id":"r1"}]}`, true, "r1", "201", ""},
		"duplicate (D)":           {`{"status":[{"status":false,"code":"duplicate_rule","content":"exists","id":null}]}`, false, "", "duplicate_rule", "exists"},
		"reason as an object":     {`{"status":[{"status":false,"code":400,"content":{"detection":["missing"]}}]}`, false, "", "400", `{"detection":["missing"]}`},
		"missing status":          {`{"detail":"weird"}`, false, "", "", `answer without a status: {"detail":"weird"}`},
		"empty status":            {`{"status":[]}`, false, "", "", `answer without a status: {"status":[]}`},
		"plain object":            {`{"id":"r9","name":"x"}`, true, "r9", "", ""},
		"status word":             {`{"status":[{"status":"success","id":7}]}`, true, "7", "", ""},
		"not json":                {`<html>`, false, "", "", "undecodable answer: <html>"},
	} {
		t.Run(name, func(t *testing.T) {
			got := parseUploadAnswer([]byte(tc.body))
			assert.Equal(t, uploadOutcome{ok: tc.ok, id: tc.id, code: tc.code, reason: tc.reason}, got)
		})
	}
	assert.True(t, uploadOutcome{code: "duplicate_rule"}.duplicate())
	assert.True(t, uploadOutcome{reason: "Yara file with this Id already exists."}.duplicate())
}

func TestPatchFindings(t *testing.T) {
	errs, warns := patchFindings([]byte(`{"id":"x","errors":{"content":["bad yaml"]},"warnings":["deprecated field"]}`))
	assert.Equal(t, []string{"content: bad yaml"}, errs)
	assert.Equal(t, []string{"deprecated field"}, warns)
	errs, warns = patchFindings([]byte(`{"id":"x","errors":[],"warnings":[]}`))
	assert.Empty(t, errs)
	assert.Empty(t, warns)
}

func TestRuleNameCarriesOwnerAndExpiry(t *testing.T) {
	until := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	name, err := ruleName(ruleHolder{owner: "indicator--" + strings.Repeat("a", 36), base: strings.Repeat("long name ", 20), validUntil: &until}, intel.RuleSigma)
	require.NoError(t, err)
	assert.LessOrEqual(t, len([]rune(name)), maxRuleNameLen)
	owner, got := parseRuleName("  " + name + "  ")
	assert.Equal(t, "indicator--"+strings.Repeat("a", 36), owner)
	require.NotNil(t, got)
	assert.True(t, until.Equal(*got))
	owner, got = parseRuleName("plain [S1]")
	assert.Equal(t, "S1", owner)
	assert.Nil(t, got)
	owner, _ = parseRuleName("analyst rule")
	assert.Empty(t, owner)
}

func TestSameContentIsSemanticForSigma(t *testing.T) {
	assert.True(t, sameContent(intel.RuleSigma, sigmaWithID, "title: Shared rule\nid: 0b3c8f8e-1111-4222-8333-444455556666\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n    sel:\n        Image|endswith: \\evil.exe\n    condition: sel\n"))
	assert.False(t, sameContent(intel.RuleSigma, sigmaWithID, strings.Replace(sigmaWithID, "evil", "good", 1)))
	assert.True(t, sameContent(intel.RuleYara, "rule a { condition: true }\r\n", "rule a { condition: true }"))
	assert.False(t, sameContent(intel.RuleYara, "rule a { condition: true }", "rule a {condition: true}"))
}

// TestIntelRestartReplayMakesNoRuleWrite: the console re-serialises the YAML, trims the name and
// drops the description (strict hlsim); a restart plus a full replay still writes nothing.
func TestIntelRestartReplayMakesNoRuleWrite(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	c := sigmaChange("S1", "1-0", sigmaWithID)
	c.ValidUntil = &until
	y := intel.Change{Owner: "Y1", Via: intel.ViaPattern, Seq: "1-0", Live: true, Name: " padded ", Rule: &intel.Rule{Kind: intel.RuleYara, Content: "rule R { condition: true }"}}
	mustWrite(t, o, c)
	mustWrite(t, o, y)
	require.Len(t, f.sim.SigmaRules(list), 1)
	assert.NotEqual(t, sigmaWithID, f.sim.SigmaRules(list)[0].Content, "strict hlsim re-serialised it")
	require.NoError(t, o.Close(t.Context()))

	o2 := f.output("")
	w0 := f.sim.WriteCount()
	mustWrite(t, o2, c)
	mustWrite(t, o2, y)
	assert.Equal(t, w0, f.sim.WriteCount(), "restart + replay: no rule write")
}

// TestIntelSigmaExpiresAfterRestartWithNoEvent: the expiry is read back from the rule name.
func TestIntelSigmaExpiresAfterRestartWithNoEvent(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	until := time.Now().Add(1500 * time.Millisecond).UTC()
	c := sigmaChange("S1", "1-0", "title: t\ndetection:\n  condition: a\n")
	c.ValidUntil = &until
	mustWrite(t, o, c)
	require.Len(t, f.sim.SigmaRules(list), 1)
	assert.Empty(t, f.sim.SigmaRules(list)[0].Description, "strict: no description kept")
	require.NoError(t, o.Close(t.Context()))

	f.output("") // restarted, and no event at all
	require.Eventually(t, func() bool { return len(f.sim.SigmaRules(list)) == 0 }, 10*time.Second, 50*time.Millisecond,
		"the expired Sigma rule is removed after a restart")
}

// TestIntelSharedSigmaRule: two indicators carrying the same Sigma id share one entry.
func TestIntelSharedSigmaRule(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	mustWrite(t, o, sigmaChange("A", "1-0", sigmaWithID))
	mustWrite(t, o, sigmaChange("B", "1-0", sigmaWithID))
	rules := f.sim.SigmaRules(list)
	require.Len(t, rules, 1, "one entry per Sigma id")
	assert.Equal(t, "rule of A [A]", rules[0].Name)
	mustWrite(t, o, dead("A", intel.ViaPattern, "2-0"))
	rules = f.sim.SigmaRules(list)
	require.Len(t, rules, 1, "B still wants it")
	assert.Equal(t, "rule of B [B]", rules[0].Name, "named after its remaining owner")
	mustWrite(t, o, dead("B", intel.ViaPattern, "2-0"))
	assert.Empty(t, f.sim.SigmaRules(list))
}

// TestIntelSigmaInForeignListIsReported: never adopted, never retried, reason in the error.
func TestIntelSigmaInForeignListIsReported(t *testing.T) {
	f := newIntelFixture(t)
	f.sim.AddSigmaRule("analysts", hlsim.Rule{Name: "their copy", Content: sigmaWithID, Enabled: true, HLStatus: "stable"})
	o := f.output("")
	w0 := f.sim.WriteCount()
	err := write(t, o, sigmaChange("A", "1-0", sigmaWithID))
	require.Error(t, err)
	var perm *permanentError
	require.ErrorAs(t, err, &perm, "dead-lettered, not retried")
	assert.Contains(t, err.Error(), `list "analysts"`)
	assert.Contains(t, err.Error(), "duplicate_rule")
	assert.Equal(t, w0+1, f.sim.WriteCount(), "one refused upload, nothing else")
	assert.Empty(t, f.sim.SigmaRules(list))
	assert.Len(t, f.sim.SigmaRules("analysts"), 1)
}

// TestIntelSigmaAdoptsOurUnknownCopy: duplicate_rule for a copy in our own list (written by a
// process that lost its answer) adopts it.
func TestIntelSigmaAdoptsOurUnknownCopy(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	f.sim.AddSigmaRule(list, hlsim.Rule{Name: "no owner suffix", Content: sigmaWithID, Enabled: false, HLStatus: "stable"})
	mustWrite(t, o, sigmaChange("A", "1-0", sigmaWithID))
	rules := f.sim.SigmaRules(list)
	require.Len(t, rules, 1)
	assert.Equal(t, "rule of A [A]", rules[0].Name)
	assert.True(t, rules[0].Enabled)
}

// TestIntelSigmaPatchErrorsAreSurfaced: a PATCH answered 200 with `errors` fails for good.
func TestIntelSigmaPatchErrorsAreSurfaced(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	mustWrite(t, o, sigmaChange("A", "1-0", sigmaWithID))
	err := write(t, o, sigmaChange("A", "2-0", "title: no detection\nid: 0b3c8f8e-1111-4222-8333-444455556666\n"))
	var perm *permanentError
	require.ErrorAs(t, err, &perm)
	assert.Contains(t, err.Error(), "detection")
}

// TestIntelDisableSendsGlobalState: the disable PATCH carries global_state beside enabled.
func TestIntelDisableSendsGlobalState(t *testing.T) {
	f := newIntelFixture(t)
	var bodies []string
	f.url = recordingProxy(t, f.sim, &bodies)
	o := f.output("remove_indicator: false")
	mustWrite(t, o, sigmaChange("A", "1-0", sigmaWithID))
	mustWrite(t, o, pattern("B", "1-0", 50, ioc("domain_name", "b.com")))
	mustWrite(t, o, dead("A", intel.ViaPattern, "2-0"))
	mustWrite(t, o, dead("B", intel.ViaPattern, "2-0"))
	var disables int
	for _, b := range bodies {
		if strings.Contains(b, `"enabled":false`) {
			assert.Contains(t, b, `"global_state":"disabled"`)
			disables++
		}
	}
	assert.Equal(t, 2, disables)
}

// TestIntelIOCValueRefusedOthersProceed: a value the console refuses fails the change with its
// reason; the other values are written.
func TestIntelIOCValueRefusedOthersProceed(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	err := write(t, o, pattern("A", "1-0", 50, ioc("ip_both", "999.0.0.1"), ioc("domain_name", "fine.com")))
	var perm *permanentError
	require.ErrorAs(t, err, &perm)
	assert.Contains(t, err.Error(), "999.0.0.1")
	assert.Contains(t, err.Error(), "Enter a valid IPv4 or IPv6 address.")
	assert.Equal(t, map[string]string{"fine.com": "enabled A"}, f.state())
}

// TestIntelTokenRefusedIsNotConnected: 401 stops the flow (ErrNotConnected, never a dead
// letter); Connect fails naming the variable until the token works again; nothing is lost.
func TestIntelTokenRefusedIsNotConnected(t *testing.T) {
	f := newIntelFixture(t)
	o := f.output("")
	f.sim.SetToken("rotated")
	err := write(t, o, pattern("A", "1-0", 50, ioc("domain_name", "a.com")))
	require.ErrorIs(t, err, service.ErrNotConnected)
	err = o.Connect(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), tokenEnvVar)
	assert.NotContains(t, err.Error(), testToken)
	f.sim.SetToken(testToken)
	require.NoError(t, o.Connect(t.Context()))
	mustWrite(t, o, pattern("A", "1-0", 50, ioc("domain_name", "a.com")))
	assert.Equal(t, map[string]string{"a.com": "enabled A"}, f.state())
	assert.False(t, errors.Is(err, service.ErrNotConnected))
}

// recordingProxy serves the simulator and records the body of every PATCH.
func recordingProxy(t *testing.T, sim *hlsim.Server, bodies *[]string) string {
	t.Helper()
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			*bodies = append(*bodies, string(b))
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestIntelRulesOnLenientConsole: the older answer shapes (HTTP 200, integer codes, description
// kept, content verbatim) still work, and a restart plus replay still writes nothing.
func TestIntelRulesOnLenientConsole(t *testing.T) {
	f := newIntelFixture(t)
	f.sim.SetLenient(true)
	o := f.output("")
	mustWrite(t, o, sigmaChange("A", "1-0", sigmaWithID))
	mustWrite(t, o, intel.Change{Owner: "Y", Via: intel.ViaPattern, Seq: "1-0", Live: true, Name: "y", Rule: &intel.Rule{Kind: intel.RuleYara, Content: "rule Y { condition: true }"}})
	err := write(t, o, intel.Change{Owner: "Z", Via: intel.ViaPattern, Seq: "1-0", Live: true, Name: "z", Rule: &intel.Rule{Kind: intel.RuleYara, Content: "not yara"}})
	var perm *permanentError
	require.ErrorAs(t, err, &perm)
	assert.Contains(t, err.Error(), "Invalid YARA file")
	require.Len(t, f.sim.SigmaRules(list), 1)
	assert.Equal(t, sigmaWithID, f.sim.SigmaRules(list)[0].Content)
	require.NoError(t, o.Close(t.Context()))
	o2 := f.output("")
	w0 := f.sim.WriteCount()
	mustWrite(t, o2, sigmaChange("A", "1-0", sigmaWithID))
	assert.Equal(t, w0, f.sim.WriteCount())
	mustWrite(t, o2, dead("A", intel.ViaPattern, "2-0"))
	mustWrite(t, o2, dead("Y", intel.ViaPattern, "2-0"))
	assert.Empty(t, f.sim.SigmaRules(list))
	assert.Empty(t, f.sim.YaraFiles(list))
}
