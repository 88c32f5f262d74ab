package intelpush

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/harness"
)

// The tests of this file run the binary against hlsim's strict (default) mode: the evidenced
// behaviour of real consoles (issue 10, items 6-12).

// TestSigmaRulesOnARealConsole (items 6, 8, 9): 201 + string codes record the rule (so it is
// renamed and deleted later); two indicators with one Sigma id share one rule; a rule already
// in another list is reported (dead letter naming the list, metric, log) and not retried; a
// YARA file the console refuses carries its real reason to the dead letter.
func TestSigmaRulesOnARealConsole(t *testing.T) {
	e := newEnv(t)
	e.hl.AddSigmaRule("analysts", hlsim.Rule{Name: "their rule", Content: sigmaWithID("aaaaaaaa-0000-4000-8000-000000000009"), Enabled: true, HLStatus: "stable"})
	e.start()

	a := newIndicator("First", "sigma", sigmaRule)
	a.internal = "ind-A"
	b := newIndicator("Second", "sigma", sigmaRule)
	b.internal = "ind-B"
	e.publish("create", a.data(), nil)
	e.publish("create", b.data(), nil)
	e.eventuallyRules(map[string]string{"First [ind-A]": "enabled"}, "one rule for one Sigma id")

	foreign := newIndicator("Theirs", "sigma", sigmaWithID("aaaaaaaa-0000-4000-8000-000000000009"))
	foreign.internal = "ind-F"
	e.publish("create", foreign.data(), nil)
	refused := newIndicator("refused", "yara", "this is not yara")
	refused.internal = "ind-R"
	e.publish("create", refused.data(), nil)
	e.proc.Eventually(waitLong, func() bool { return len(e.deadLetters()) == 2 }, "dead letters: %v", e.deadLetters())
	dl := strings.Join(e.deadLetters(), "\n")
	assert.Contains(t, dl, `list \"analysts\"`, "the foreign list is named")
	assert.Contains(t, dl, "duplicate_rule")
	assert.Contains(t, dl, "invalid_rule: Invalid YARA file", "HarfangLab's own reason")
	assert.Contains(t, e.proc.Logs(), `already exists in HarfangLab list \"analysts\"`)
	assert.GreaterOrEqual(t, metricSum(e.addr, "harfanglab_intel_conflicts_total"), 1.0)
	writes := e.hl.WriteCount()
	time.Sleep(2 * time.Second)
	assert.Equal(t, writes, e.hl.WriteCount(), "nothing is retried")

	// The first owner goes: the rule stays for the second, renamed after it (its id was recorded).
	id := e.hl.SigmaRules(listName)[0].ID
	e.publish("delete", a.data(), nil)
	e.eventuallyRules(map[string]string{"Second [ind-B]": "enabled"}, "shared rule kept for its other owner")
	assert.Equal(t, id, e.hl.SigmaRules(listName)[0].ID)
	e.publish("delete", b.data(), nil)
	e.eventuallyRules(map[string]string{}, "last owner gone")
	assert.Len(t, e.hl.SigmaRules("analysts"), 1, "the foreign rule is untouched")
}

// TestSigmaExpiresAfterRestartWithNoEvent (item 7): the console drops `description`; the expiry
// lives in the rule name, so a restarted process removes the rule with no new event.
func TestSigmaExpiresAfterRestartWithNoEvent(t *testing.T) {
	e := newEnv(t)
	e.start()
	s := newIndicator("Expiring", "sigma", sigmaRule)
	s.internal = "ind-S"
	soon := time.Now().Add(8 * time.Second)
	s.validUntil = &soon
	e.publish("create", s.data(), nil)
	e.proc.Eventually(waitLong, func() bool { return len(e.hl.SigmaRules(listName)) == 1 }, "rule not created")
	assert.Empty(t, e.hl.SigmaRules(listName)[0].Description, "strict console: no description")
	e.proc.Stop()
	time.Sleep(time.Until(soon) + time.Second)
	require.Len(t, e.hl.SigmaRules(listName), 1, "nobody removed it while stopped")
	e.start() // same cursor: no event is replayed
	e.eventuallyRules(map[string]string{}, "expired after the restart")
	assert.Empty(t, e.deadLetters())
}

// TestDisableSendsGlobalState (item 10): disabling sets global_state beside enabled.
func TestDisableSendsGlobalState(t *testing.T) {
	e := newEnv(t)
	e.vars["HARFANGLAB_REMOVE_INDICATOR"] = "false"
	e.start()
	a := newIndicator("A", "stix", "[ipv4-addr:value = '6.6.6.7']")
	a.internal = "ind-A"
	s := newIndicator("S", "sigma", sigmaRule)
	s.internal = "ind-S"
	e.publish("create", a.data(), nil)
	e.publish("create", s.data(), nil)
	e.eventuallyRules(map[string]string{"S [ind-S]": "enabled"}, "create")
	e.eventuallyIOCs(map[string]string{"6.6.6.7": "enabled ind-A"}, "create")
	e.publish("delete", a.data(), nil)
	e.publish("delete", s.data(), nil)
	e.eventuallyRules(map[string]string{"S [ind-S]": "disabled"}, "disabled")
	e.eventuallyIOCs(map[string]string{"6.6.6.7": "disabled"}, "disabled")
	assert.Equal(t, "disabled", e.hl.SigmaRules(listName)[0].GlobalState)
	assert.Equal(t, "disabled", e.hl.IOCs(listName)[0].GlobalState)
}

// TestRefusedIOCValue (item 12): a value the console refuses goes to the dead letter with
// HarfangLab's reason; the other values of the change, and later changes, are written.
func TestRefusedIOCValue(t *testing.T) {
	e := newEnv(t)
	e.start()
	a := newIndicator("A", "stix", "[url:value = 'bad.example/no-scheme'] OR [domain-name:value = 'good.example']")
	a.internal = "ind-A"
	e.publish("create", a.data(), nil)
	b := newIndicator("B", "stix", "[domain-name:value = 'next.example']")
	b.internal = "ind-B"
	e.publish("create", b.data(), nil)
	e.eventuallyIOCs(map[string]string{"good.example": "enabled ind-A", "next.example": "enabled ind-B"}, "the rest proceeds")
	e.proc.Eventually(waitLong, func() bool { return len(e.deadLetters()) == 1 }, "dead letters: %v", e.deadLetters())
	assert.Contains(t, e.deadLetters()[0], "Enter a valid URL.", "HarfangLab's reason")
	assert.Contains(t, e.deadLetters()[0], "bad.example/no-scheme")
	assert.Contains(t, e.deadLetters()[0], `"stage":"harfanglab_intel"`)
}

// TestTokenRotationStopsAndResumes (item 11): a rotated token is a configuration error, not a
// bad message: nothing is dead-lettered, /ready turns false, one clear line names the
// variable, and every change goes through once the token works again.
func TestTokenRotationStopsAndResumes(t *testing.T) {
	e := newEnv(t)
	e.start()
	a := newIndicator("A", "stix", "[domain-name:value = 'before.example']")
	a.internal = "ind-A"
	e.publish("create", a.data(), nil)
	e.eventuallyIOCs(map[string]string{"before.example": "enabled ind-A"}, "before rotation")

	e.hl.SetToken("rotated-by-an-admin")
	var inds []*indicator
	want := map[string]string{"before.example": "enabled ind-A"}
	for _, v := range []string{"one", "two", "three"} {
		ind := newIndicator(v, "stix", "[domain-name:value = '"+v+".example']")
		ind.internal = "ind-" + v
		inds = append(inds, ind)
		e.publish("create", ind.data(), nil)
		want[v+".example"] = "enabled ind-" + v
	}
	e.proc.Eventually(waitLong, func() bool { return !ready(e.addr) }, "/ready stays true with a refused token")
	e.proc.Eventually(waitLong, func() bool { return strings.Contains(e.proc.Logs(), "HARFANGLAB_TOKEN") }, "no line names the variable")
	time.Sleep(2 * time.Second)
	assert.Empty(t, e.deadLetters(), "nothing is dead-lettered because of the token")
	assert.Len(t, e.iocs(), 1)

	e.hl.SetToken(hlToken)
	e.eventuallyIOCs(want, "after the token works again")
	e.proc.Eventually(waitLong, func() bool { return ready(e.addr) }, "/ready back to true")
	assert.Empty(t, e.deadLetters())
	assert.NotContains(t, e.proc.Logs(), hlToken)
	assert.Len(t, inds, 3)
}

func ready(addr string) bool {
	resp, err := http.Get("http://" + addr + "/ready")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestStartWithRefusedToken (item 11): started with a token HarfangLab refuses, the process stays
// up and not ready, says which variable to fix, and starts working once the token is accepted.
func TestStartWithRefusedToken(t *testing.T) {
	e := newEnv(t)
	e.hl.SetToken("the-console-wants-another-one")
	e.addr = harness.FreeAddr(t)
	e.vars["HTTP_ADDRESS"] = e.addr
	e.proc = harness.Start(t, e.vars, "streams", "--no-api",
		"-o", harness.Pipeline("observability.yaml"),
		"-r", harness.Pipeline("resources.yaml"),
		harness.Pipeline("opencti-to-harfanglab.yaml"))
	a := newIndicator("A", "stix", "[domain-name:value = 'waiting.example']")
	a.internal = "ind-A"
	e.publish("create", a.data(), nil)
	e.proc.Eventually(waitLong, func() bool { return strings.Contains(e.proc.Logs(), "HARFANGLAB_TOKEN") }, "no line names the variable")
	assert.False(t, ready(e.addr))
	assert.False(t, e.proc.Exited(), "a refused token is waited out, not fatal")
	e.hl.SetToken(hlToken)
	e.eventuallyIOCs(map[string]string{"waiting.example": "enabled ind-A"}, "after the token is accepted")
	require.NoError(t, e.proc.WaitReady(e.addr, waitLong))
	assert.Empty(t, e.deadLetters())
	assert.NotContains(t, e.proc.Logs(), hlToken)
}
