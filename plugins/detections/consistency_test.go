package detections

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/stixid"
)

// withAlertTime returns the sigma alert with another alert_time and last_update.
func withAlertTime(alertTime, lastUpdate string) string {
	a := strings.Replace(sigmaAlert, "2024-07-12T08:13:14.430+00:00", alertTime, 1)
	return strings.Replace(a, "2024-07-13T00:00:00Z", lastUpdate, 1)
}

// TestSharedObjectsNeverGoBackInTime: a newer alert pushed before an older one must not make
// OpenCTI receive the author, the System identity or an attack pattern with an older
// `modified` than before. They carry one fixed version, byte-identical in every bundle.
func TestSharedObjectsNeverGoBackInTime(t *testing.T) {
	p := newTestProcessor(t, "")
	newer, _ := convertOK(t, p, alertDoc(withAlertTime("2025-06-01T00:00:00Z", "2025-06-02T00:00:00Z"), sigmaRule, "sigma"))
	older, _ := convertOK(t, p, alertDoc(withAlertTime("2023-01-01T00:00:00Z", "2023-01-02T00:00:00Z"), sigmaRule, "sigma"))
	shared := []string{p.conv.authorID, stixid.IdentityID("vm-windows", "system"), stixid.AttackPatternID("T1136.001")}
	for _, id := range shared {
		n, o := newer.byID(id), older.byID(id)
		require.NotNil(t, n, id)
		assert.Equal(t, n, o, "%s: same object whatever the alert time", id)
		assert.Equal(t, markingEpoch, o["modified"], id)
		assert.Equal(t, markingEpoch, o["created"], id)
	}
	assert.NotEqual(t, newer.ofType("incident")[0]["modified"], older.ofType("incident")[0]["modified"],
		"per-alert objects keep the alert's own time")

	threat := `{"kind":"threat","threat":{"id":1,"slug":"s","creation_date":"2022-01-01T00:00:00Z",
 "top_agents":[{"hostname":"vm-windows"}]},"alerts":[` + sigmaAlert + `]}`
	tb, _ := convertOK(t, p, threat)
	for _, id := range shared {
		assert.Equal(t, newer.byID(id), tb.byID(id), "%s: a threat bundle carries the same version", id)
	}
}

// TestRuleIndicatorSharedRelationshipDatedLikeIndicator: the based-on relationship of an
// indicator built from a rule is the same object for every alert of that rule.
func TestRuleIndicatorSharedRelationshipDatedLikeIndicator(t *testing.T) {
	p := newTestProcessor(t, "")
	rule := `{"type":"domain_name","value":"evil.example","creation_date":"2022-05-01T00:00:00Z"}`
	alert := func(at string) string {
		return `{"id":"i1","alert_type":"ioc","msg":"IOC","alert_time":"` + at + `","agent":{"hostname":"h"}}`
	}
	basedOn := func(b stixBundle) map[string]any {
		for _, r := range b.ofType("relationship") {
			if r["relationship_type"] == "based-on" {
				return r
			}
		}
		return nil
	}
	b1, _ := convertOK(t, p, alertDoc(alert("2025-01-01T00:00:00Z"), rule, "ioc"))
	b2, _ := convertOK(t, p, alertDoc(alert("2024-01-01T00:00:00Z"), rule, "ioc"))
	r1 := basedOn(b1)
	require.NotNil(t, r1)
	assert.Equal(t, r1, basedOn(b2))
	assert.Equal(t, b1.ofType("indicator")[0]["modified"], r1["modified"])
}

func TestAuthorIsNotItsOwnCreator(t *testing.T) {
	p := newTestProcessor(t, "author_name: ACME SOC\n")
	b, _ := convertOK(t, p, alertDoc(sigmaAlert, sigmaRule, "sigma"))
	author := b.byID(stixid.IdentityID("ACME SOC", "organization"))
	require.NotNil(t, author)
	assert.NotContains(t, author, "created_by_ref")
	assert.Equal(t, []any{p.conv.marking.id}, author["object_marking_refs"], "still marked")
	for _, o := range b.Objects {
		if o["type"] != "marking-definition" && o["id"] != author["id"] {
			assert.Equal(t, author["id"], o["created_by_ref"], o["id"])
		}
	}
}

// TestRuleIndicatorsCarryMainObservableType: the value OpenCTI's addIndicator would record.
func TestRuleIndicatorsCarryMainObservableType(t *testing.T) {
	p := newTestProcessor(t, "")
	cases := []struct{ doc, want string }{
		{alertDoc(sigmaAlert, sigmaRule, "sigma"), "Unknown"},
		{alertDoc(yaraAlert, yaraRule, "yara"), "StixFile"},
		{alertDoc(`{"id":"x","alert_type":"ioc","alert_time":"2024-01-01T00:00:00Z"}`, `{"type":"ip_dst","value":"10.0.0.1"}`, "ioc"), "IPv4-Addr"},
		{alertDoc(`{"id":"x","alert_type":"ioc","alert_time":"2024-01-01T00:00:00Z"}`, `{"type":"filename","value":"a.exe"}`, "ioc"), "StixFile"},
	}
	for _, c := range cases {
		b, _ := convertOK(t, p, c.doc)
		inds := b.ofType("indicator")
		require.Len(t, inds, 1)
		assert.Equal(t, c.want, inds[0]["x_opencti_main_observable_type"], inds[0]["pattern_type"])
	}
}

// TestVerdictOnSightingOnly: x_opencti_negative is a Sighting attribute in OpenCTI, not an
// Incident one.
func TestVerdictOnSightingOnly(t *testing.T) {
	p := newTestProcessor(t, "")
	for status, negative := range map[string]bool{"false_positive": true, "probable_false_positive": true, "new": false, "closed": false} {
		alert := strings.Replace(sigmaAlert, `"status":"new"`, `"status":"`+status+`"`, 1)
		b, _ := convertOK(t, p, alertDoc(alert, sigmaRule, "sigma"))
		assert.NotContains(t, b.ofType("incident")[0], "x_opencti_negative", status)
		assert.Equal(t, negative, b.ofType("sighting")[0]["x_opencti_negative"], status)
	}
}

// TestIDsHashTheInstantInUTC: the same instant written with another offset gives the same
// ids, and they are the legacy connector's ids (hashed from the UTC isoformat).
func TestIDsHashTheInstantInUTC(t *testing.T) {
	p := newTestProcessor(t, "")
	utc, _ := convertOK(t, p, alertDoc(sigmaAlert, sigmaRule, "sigma"))
	shifted, _ := convertOK(t, p, alertDoc(withAlertTime("2024-07-12T10:13:14.430+02:00", "2024-07-13T02:00:00+02:00"), sigmaRule, "sigma"))
	mapped, _ := json.Marshal(shifted.Objects)
	same, _ := json.Marshal(utc.Objects)
	assert.JSONEq(t, string(same), string(mapped), "the offset changes nothing")
	legacy := stixid.IncidentID("Local User Created via PowerShell on vm-windows", "2024-07-12T08:13:14.430000+00:00")
	assert.Equal(t, legacy, shifted.ofType("incident")[0]["id"])
	indID := shifted.ofType("indicator")[0]["id"].(string)
	host := stixid.IdentityID("vm-windows", "system")
	assert.Equal(t, stixid.SightingID(indID, host, "2024-07-12T08:13:14.430000+00:00", "2024-07-12T08:13:14.430000+00:00"),
		shifted.ofType("sighting")[0]["id"])

	// Pending sightings carry the normalised time for the output to hash after resolution.
	pending, _ := convertOK(t, p, alertDoc(withAlertTime("2024-07-12T10:13:14.430+02:00", "2024-07-13T00:00:00Z"), sigmaRule, "sigma",
		"9a0b8f6e-3b7d-4c55-9f0e-2a1b3c4d5e6f"))
	assert.Equal(t, "2024-07-12T08:13:14.430000+00:00", pending.ofType("sighting")[0][stixid.PendingSightingSeenProperty])

	// Threats and notes too.
	threat := func(created, noteCreated string) stixBundle {
		b, _ := convertOK(t, p, `{"kind":"threat","threat":{"id":7,"slug":"s","creation_date":"`+created+`"},
 "notes":[{"content":"n","creation_date":"`+noteCreated+`"}]}`)
		return b
	}
	a, z := threat("2024-02-07T09:18:21.799384-06:00", "2024-02-08T10:00:00+01:00"), threat("2024-02-07T15:18:21.799384Z", "2024-02-08T09:00:00Z")
	assert.Equal(t, z.ofType("case-incident")[0]["id"], a.ofType("case-incident")[0]["id"])
	assert.Equal(t, z.ofType("note")[0]["id"], a.ofType("note")[0]["id"])
	assert.Equal(t, stixid.CaseIncidentID("s", "2024-02-07T15:18:21.799384+00:00"), a.ofType("case-incident")[0]["id"])
}
