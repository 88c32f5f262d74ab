package intelpush

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sigmaRule = "title: Suspicious file\nid: f84e3c51-6f12-48e4-97d1-b15b76ecf236\nstatus: stable\nlogsource:\n  category: file_event\ndetection:\n  sel:\n    TargetFilename|endswith: '.weaxor'\n  condition: sel\n"

// sigmaWithID is sigmaRule with another Sigma id.
func sigmaWithID(id string) string {
	return strings.Replace(sigmaRule, "f84e3c51-6f12-48e4-97d1-b15b76ecf236", id, 1)
}

// TestLifecycle walks every lifecycle case of DESIGN.md through the binary, in one stream.
func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	e.start()

	a := newIndicator("A", "stix", "[ipv4-addr:value = '7.7.7.7'] OR [domain-name:value = 'seven.com']")
	a.internal = "ind-A"
	e.publish("create", a.data(), nil)
	e.eventuallyIOCs(map[string]string{"7.7.7.7": "enabled ind-A", "seven.com": "enabled ind-A"}, "create")

	// Pattern change: OpenCTI derives a new STIX id; the internal id stays.
	oldID, oldPattern := a.stixID, a.pattern
	a.stixID = "indicator--" + strings.Repeat("b", 8) + "-0000-4000-8000-000000000001"
	a.pattern = "[ipv4-addr:value = '7.7.7.8'] OR [domain-name:value = 'seven.com']"
	e.publish("update", a.data(), map[string]any{
		"patch":         []any{map[string]any{"op": "replace", "path": "/pattern", "value": a.pattern}},
		"reverse_patch": []any{map[string]any{"op": "replace", "path": "/pattern", "value": oldPattern}, map[string]any{"op": "replace", "path": "/id", "value": oldID}},
	})
	e.eventuallyIOCs(map[string]string{"7.7.7.8": "enabled ind-A", "seven.com": "enabled ind-A"}, "pattern change")

	// A shared value stays until its last owner goes.
	b := newIndicator("B", "stix", "[domain-name:value = 'seven.com']")
	b.internal = "ind-B"
	e.publish("create", b.data(), nil)
	e.eventuallyIOCs(map[string]string{"7.7.7.8": "enabled ind-A", "seven.com": "enabled ind-A,ind-B"}, "shared value")

	// Based-on: the observable becomes one more value of A.
	rel := basedOn("rel-1", a, "Domain-Name", "four.com")
	e.publish("create", rel, nil)
	e.eventuallyIOCs(map[string]string{"7.7.7.8": "enabled ind-A", "seven.com": "enabled ind-A,ind-B", "four.com": "enabled ind-A"}, "based-on add")

	// Revoke: everything A holds goes (its based-on value too); un-revoke: it all comes back.
	a.revoked = true
	e.publish("update", a.data(), nil)
	e.eventuallyIOCs(map[string]string{"seven.com": "enabled ind-B"}, "revoke")
	a.revoked = false
	e.publish("update", a.data(), nil)
	e.eventuallyIOCs(map[string]string{"7.7.7.8": "enabled ind-A", "seven.com": "enabled ind-A,ind-B", "four.com": "enabled ind-A"}, "un-revoke")

	// Based-on removed: only the value it alone brought goes.
	e.publish("delete", rel, nil)
	e.eventuallyIOCs(map[string]string{"7.7.7.8": "enabled ind-A", "seven.com": "enabled ind-A,ind-B"}, "based-on remove")

	// Detection off, then on again.
	b.detection = false
	e.publish("update", b.data(), nil)
	e.eventuallyIOCs(map[string]string{"7.7.7.8": "enabled ind-A", "seven.com": "enabled ind-A"}, "detection off")
	b.detection = true
	e.publish("update", b.data(), nil)
	e.eventuallyIOCs(map[string]string{"7.7.7.8": "enabled ind-A", "seven.com": "enabled ind-A,ind-B"}, "detection on")

	// Expiry with no event.
	c := newIndicator("C", "stix", "[url:value = 'http://expiring.example/x?a=1&b=2']")
	c.internal = "ind-C"
	soon := time.Now().Add(3 * time.Second)
	c.validUntil = &soon
	e.publish("create", c.data(), nil)
	e.proc.Eventually(waitLong, func() bool { return e.iocs()["http://expiring.example/x?a=1&b=2"] == "enabled ind-C" }, "expiring IOC not created: %v", lazy(e.iocs))
	e.eventuallyIOCs(map[string]string{"7.7.7.8": "enabled ind-A", "seven.com": "enabled ind-A,ind-B"}, "expiry")
	assert.Less(t, time.Since(soon), 60*time.Second)
	assert.GreaterOrEqual(t, metricSum(e.addr, "harfanglab_intel_expired_total"), 1.0, "expiry is counted")

	// Sigma: rename and content change update the one rule in place.
	s := newIndicator("Suspicious file", "sigma", sigmaRule)
	s.internal = "ind-S"
	e.publish("create", s.data(), nil)
	e.eventuallyRules(map[string]string{"Suspicious file [ind-S]": "enabled"}, "sigma create")
	sigmaID := e.hl.SigmaRules(listName)[0].ID
	s.name = "Suspicious file renamed"
	s.pattern = strings.Replace(sigmaRule, ".weaxor", ".weaxor2", 1)
	e.publish("update", s.data(), map[string]any{"reverse_patch": []any{map[string]any{"op": "replace", "path": "/name", "value": "Suspicious file"}}})
	e.eventuallyRules(map[string]string{"Suspicious file renamed [ind-S]": "enabled"}, "sigma rename")
	require.Len(t, e.hl.SigmaRules(listName), 1)
	assert.Equal(t, sigmaID, e.hl.SigmaRules(listName)[0].ID, "updated in place")
	assert.Contains(t, e.hl.SigmaRules(listName)[0].Content, ".weaxor2")

	// YARA create, then delete.
	y := newIndicator("MAL_Y", "yara", "rule MAL_Y { strings: $a = \"weaxor\" condition: $a }")
	y.internal = "ind-Y"
	e.publish("create", y.data(), nil)
	e.eventuallyRules(map[string]string{"Suspicious file renamed [ind-S]": "enabled", "MAL_Y [ind-Y]": "enabled"}, "yara create")
	e.publish("delete", y.data(), nil)
	e.eventuallyRules(map[string]string{"Suspicious file renamed [ind-S]": "enabled"}, "yara delete")

	// A pattern that does not parse is dead-lettered with its reason; the stream goes on.
	bad := newIndicator("bad", "stix", "[ipv4-addr:value = ")
	e.publish("create", bad.data(), nil)
	// So is a change HarfangLab refuses for good (a YARA file it cannot compile).
	refused := newIndicator("refused", "yara", "this is not yara")
	refused.internal = "ind-R"
	e.publish("create", refused.data(), nil)

	// Deletes.
	e.publish("delete", a.data(), nil)
	e.publish("delete", b.data(), nil)
	e.publish("delete", s.data(), nil)
	e.eventuallyIOCs(map[string]string{}, "deletes")
	e.eventuallyRules(map[string]string{}, "sigma delete")
	e.proc.Eventually(waitLong, func() bool { return len(e.deadLetters()) == 2 }, "dead letters: %v", e.deadLetters())
	dl := strings.Join(e.deadLetters(), "\n")
	assert.Contains(t, dl, `"stage":"stix_to_harfanglab"`, "the unparsable pattern")
	assert.Contains(t, dl, `"stage":"harfanglab_intel"`, "the refused YARA file")
	assert.Contains(t, dl, "refused yara rule", "HarfangLab's reason is kept")
	assert.NotContains(t, dl, hlToken)
	assert.NotContains(t, e.proc.Logs(), hlToken)
	assert.Positive(t, metricSum(e.addr, "harfanglab_intel_writes_total"))
	assert.Zero(t, metricSum(e.addr, "harfanglab_intel_index_entries"), "nothing left in the lists")
}

// TestDisableInsteadOfDelete runs with HARFANGLAB_REMOVE_INDICATOR=false.
func TestDisableInsteadOfDelete(t *testing.T) {
	e := newEnv(t)
	e.vars["HARFANGLAB_REMOVE_INDICATOR"] = "false"
	e.start()
	a := newIndicator("A", "stix", "[ipv4-addr:value = '6.6.6.6']")
	a.internal = "ind-A"
	s := newIndicator("S", "sigma", sigmaRule)
	s.internal = "ind-S"
	e.publish("create", a.data(), nil)
	e.publish("create", s.data(), nil)
	e.eventuallyIOCs(map[string]string{"6.6.6.6": "enabled ind-A"}, "create")
	e.eventuallyRules(map[string]string{"S [ind-S]": "enabled"}, "create")

	e.publish("delete", a.data(), nil)
	e.publish("delete", s.data(), nil)
	e.eventuallyIOCs(map[string]string{"6.6.6.6": "disabled"}, "delete disables")
	e.eventuallyRules(map[string]string{"S [ind-S]": "disabled"}, "delete disables")

	e.publish("create", a.data(), nil)
	e.publish("create", s.data(), nil)
	e.eventuallyIOCs(map[string]string{"6.6.6.6": "enabled ind-A"}, "re-create enables")
	e.eventuallyRules(map[string]string{"S [ind-S]": "enabled"}, "re-create enables")
	assert.Len(t, e.hl.IOCs(listName), 1, "never a duplicate")
	assert.Len(t, e.hl.SigmaRules(listName), 1, "never a duplicate")
}
