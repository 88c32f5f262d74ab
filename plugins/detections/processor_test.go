package detections

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/stixid"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	sigmaAlert = `{"id":"b4dIf5ABW1rsX4jwR8Nc","status":"new",
 "msg":"Detects the usage of PowerShell to create a new local user.",
 "rule_name":"Local User Created via PowerShell","alert_type":"sigma","level":"low",
 "tags":["attack.persistence","attack.t1136.001"],
 "alert_time":"2024-07-12T08:13:14.430+00:00","last_update":"2024-07-13T00:00:00Z",
 "process":{"current_directory":"C:\\Users\\administrateur\\","process_name":"powershell.exe",
  "username":"vm-windows\\administrateur",
  "hashes":{"md5":"9d8e30daf21108092d5980c931876b7e","sha1":"04c5d2b4da9a0f3fa8a45702d4256cee42d8c48d",
   "sha256":"9f914d42706fe215501044acd85a32d58aaef1419d404fddfa5d3b48f66ccd9f"}},
 "agent":{"agentid":"1553619e-8271-4941-8e10-9153e99cc5dc","hostname":"vm-windows"}}`
	sigmaRule = `{"id":"742a1f89","name":"Local User Created via PowerShell","rule_name":"Local User Created via PowerShell",
 "description":"Detects PowerShell local users.","content":"title: Local User Created via PowerShell\ndetection:\n  condition: selection\n",
 "rule_technique_tags":["attack.t1136.001"],"creation_date":"2023-03-01T10:00:00.000000Z","last_update":"2024-05-02T09:30:00.000000Z"}`
	yaraAlert = `{"id":"c9QpQ4EBW1rsX4jw7A0a","status":"investigating","msg":"Binary was found malicious",
 "rule_name":"Yara detection: mimikatz","alert_type":"yara","level":"high",
 "alert_time":"2021-04-30T13:21:20.704+00:00",
 "process":{"current_directory":"C:\\Users\\valves\\Desktop\\","process_name":"mimikatz.exe","username":"REDACTED\\valves",
  "hashes":{"md5":"68b329da9893e34099c7d8ad5cb9c940","sha1":"adc83b19e793491b1c6ea0fd8b46cd9f32e592fc",
   "sha256":"01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b"}},
 "agent":{"hostname":"DESKTOP-42"}}`
	yaraRule = `{"name":"mimikatz","content":"rule mimikatz { strings: $a = \"sekurlsa\" condition: $a }",
 "rule_technique_tags":["attack.t1003.001","attack.t1558"],"creation_date":"2022-01-10T08:00:00Z"}`
)

func newTestProcessor(t *testing.T, yaml string) *harfangLabToSTIX {
	t.Helper()
	conf, err := harfangLabToSTIXSpec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	p, err := newHarfangLabToSTIX(conf, service.MockResources())
	require.NoError(t, err)
	return p
}

type stixBundle struct {
	Type    string           `json:"type"`
	ID      string           `json:"id"`
	Objects []map[string]any `json:"objects"`
}

func (b stixBundle) ofType(typ string) []map[string]any {
	var out []map[string]any
	for _, o := range b.Objects {
		if o["type"] == typ {
			out = append(out, o)
		}
	}
	return out
}

func (b stixBundle) byID(id string) map[string]any {
	for _, o := range b.Objects {
		if o["id"] == id {
			return o
		}
	}
	return nil
}

func alertDoc(alert, rule, ruleType string, indicatorIDs ...string) string {
	ids, _ := json.Marshal(indicatorIDs)
	if rule == "" {
		rule = "null"
	}
	return `{"kind":"alert","alert":` + alert + `,"rule":` + rule + `,"rule_type":"` + ruleType + `","indicator_ids":` + string(ids) + `}`
}

// convertOK runs the processor and returns the bundle and the warnings.
func convertOK(t *testing.T, p *harfangLabToSTIX, body string) (stixBundle, []string) {
	t.Helper()
	out, warnings, skipped, err := p.convert([]byte(body), "")
	require.NoError(t, err)
	require.Empty(t, skipped)
	var b stixBundle
	require.NoError(t, json.Unmarshal(out, &b))
	checkBundleInvariants(t, b, p.conv)
	return b, warnings
}

// checkBundleInvariants: bundle shape, unique ids, author (but on itself) and marking on every
// object, no x_opencti_negative on incidents, every
// reference resolvable inside the bundle (or an OpenCTI indicator id given by the input).
func checkBundleInvariants(t *testing.T, b stixBundle, c *converter) {
	t.Helper()
	assert.Equal(t, "bundle", b.Type)
	assert.True(t, strings.HasPrefix(b.ID, "bundle--"))
	require.NotEmpty(t, b.Objects)
	ids := map[string]bool{}
	for _, o := range b.Objects {
		id, _ := o["id"].(string)
		assert.False(t, ids[id], "duplicate id %s", id)
		ids[id] = true
		typ, _ := o["type"].(string)
		assert.True(t, strings.HasPrefix(id, typ+"--"), "id %s does not match type %s", id, typ)
	}
	for _, o := range b.Objects {
		if o["type"] == "marking-definition" {
			continue
		}
		if o["type"] == "incident" {
			assert.NotContains(t, o, "x_opencti_negative", "not an Incident attribute: the sighting carries it")
		}
		if o["id"] == c.authorID {
			assert.NotContains(t, o, "created_by_ref", "the author is not its own creator")
		} else {
			assert.Equal(t, c.authorID, o["created_by_ref"], "author on %s", o["id"])
		}
		assert.Equal(t, []any{c.marking.id}, o["object_marking_refs"], "marking on %s", o["id"])
		assert.Equal(t, "2.1", o["spec_version"])
		for k, v := range o {
			switch {
			case (k == "sighting_of_ref" || k == "source_ref") && strings.HasPrefix(v.(string), "indicator--") && !ids[v.(string)]:
				// an OpenCTI indicator (from the rule comment), referenced by its STIX id
			case strings.HasSuffix(k, "_ref"):
				assert.True(t, ids[v.(string)], "%s.%s -> %v missing", o["id"], k, v)
			case strings.HasSuffix(k, "_refs"):
				for _, r := range v.([]any) {
					assert.True(t, ids[r.(string)], "%s.%s -> %v missing", o["id"], k, r)
				}
			}
		}
	}
}

func TestSigmaAlertWithBuiltIndicator(t *testing.T) {
	p := newTestProcessor(t, "marking: TLP:AMBER\nharfanglab_url: https://hl.example.com/\nauthor_name: HarfangLab Incidents\n")
	b, warnings := convertOK(t, p, alertDoc(sigmaAlert, sigmaRule, "sigma"))
	assert.Empty(t, warnings)

	incidents := b.ofType("incident")
	require.Len(t, incidents, 1)
	inc := incidents[0]
	name := "Local User Created via PowerShell on vm-windows"
	assert.Equal(t, name, inc["name"])
	assert.Equal(t, stixid.IncidentID(name, "2024-07-12T08:13:14.430000+00:00"), inc["id"])
	assert.Equal(t, "low", inc["severity"])
	assert.Equal(t, "2024-07-12T08:13:14.430Z", inc["created"])
	assert.Equal(t, "2024-07-13T00:00:00.000Z", inc["modified"])
	assert.Equal(t, "2024-07-12T08:13:14.43Z", inc["first_seen"])
	assert.Equal(t, "2024-07-13T00:00:00Z", inc["last_seen"])
	assert.Equal(t, []any{map[string]any{"source_name": securityEventsSource, "external_id": "b4dIf5ABW1rsX4jwR8Nc",
		"url": "https://hl.example.com/security-event/b4dIf5ABW1rsX4jwR8Nc/summary"}}, inc["external_references"])
	assert.Equal(t, "identity--f2da1bba-f3e1-5ee5-b0f1-86ce66700a91", inc["created_by_ref"])
	assert.Equal(t, []any{"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"}, inc["object_marking_refs"])

	inds := b.ofType("indicator")
	require.Len(t, inds, 1)
	assert.Equal(t, "sigma", inds[0]["pattern_type"])
	assert.Equal(t, stixid.IndicatorID("title: Local User Created via PowerShell\ndetection:\n  condition: selection\n"), inds[0]["id"])
	assert.EqualValues(t, 50, inds[0]["x_opencti_score"])
	assert.Equal(t, "2023-03-01T10:00:00.000Z", inds[0]["created"])

	sightings := b.ofType("sighting")
	require.Len(t, sightings, 1)
	s := sightings[0]
	host := "identity--aace1093-f349-5a09-9a5c-2dd49eef00a5"
	assert.Equal(t, inds[0]["id"], s["sighting_of_ref"])
	assert.Equal(t, []any{host}, s["where_sighted_refs"])
	assert.Equal(t, stixid.SightingID(inds[0]["id"].(string), host, "2024-07-12T08:13:14.430000+00:00", "2024-07-12T08:13:14.430000+00:00"), s["id"])
	assert.EqualValues(t, 1, s["count"])

	for _, id := range []string{"file--a93a7359-1d97-56d1-ae0d-c3a46f2f96d4", "directory--e4bdede9-fb0e-5332-8be8-7870e1eb8403",
		"hostname--bde41c9f-5c7c-5ee2-bfd6-5fdf3278a741", "user-account--497a95d8-249a-5e62-8fc2-8ce8770391f9", host,
		"attack-pattern--" + stixid.AttackPatternID("T1136.001")[len("attack-pattern--"):]} {
		assert.NotNil(t, b.byID(id), id)
		if strings.Contains(id, "--") && !strings.HasPrefix(id, "identity") && !strings.HasPrefix(id, "attack") {
			assert.NotNil(t, b.byID(stixid.RelationshipID("related-to", id, inc["id"].(string))), "related-to from %s", id)
		}
	}
	assert.NotNil(t, b.byID(stixid.RelationshipID("indicates", inds[0]["id"].(string), inc["id"].(string))))
	assert.NotNil(t, b.byID(stixid.RelationshipID("targets", inc["id"].(string), host)))
	assert.NotNil(t, b.byID(stixid.RelationshipID("uses", inc["id"].(string), stixid.AttackPatternID("T1136.001"))))
	require.Len(t, b.ofType("attack-pattern"), 1, "the alert tag and the rule tag name the same technique")
}

func TestSightingOfOpenCTIIndicators(t *testing.T) {
	p := newTestProcessor(t, "")
	stixID := "indicator--813991e2-0c6d-5bde-ae38-3b47198d5cfc"
	internal := "9a0b8f6e-3b7d-4c55-9f0e-2a1b3c4d5e6f"
	b, warnings := convertOK(t, p, alertDoc(sigmaAlert, sigmaRule, "sigma", stixID, internal, "garbage"))
	assert.Len(t, warnings, 1, "the unusable id is reported")
	assert.Empty(t, b.ofType("indicator"), "no indicator is built when OpenCTI's are known")
	sightings := b.ofType("sighting")
	require.Len(t, sightings, 2)
	assert.Equal(t, stixID, sightings[0]["sighting_of_ref"])
	pending := sightings[1]
	assert.Nil(t, pending["sighting_of_ref"])
	assert.Equal(t, internal, pending[stixid.PendingSightingOfProperty])

	require.True(t, stixid.ResolvePendingSighting(pending, stixID))
	assert.Equal(t, stixID, pending["sighting_of_ref"])
	assert.Equal(t, sightings[0]["id"], pending["id"], "a resolved sighting has the id of the same sighting named by STIX id")
	assert.NotContains(t, pending, stixid.PendingSightingOfProperty)
	assert.False(t, stixid.ResolvePendingSighting(pending, stixID), "already resolved")
}

func TestYaraAlert(t *testing.T) {
	p := newTestProcessor(t, "marking: TLP:RED\n")
	b, warnings := convertOK(t, p, alertDoc(yaraAlert, yaraRule, "yara"))
	assert.Empty(t, warnings)
	inds := b.ofType("indicator")
	require.Len(t, inds, 1)
	assert.Equal(t, "yara", inds[0]["pattern_type"])
	assert.Equal(t, "mimikatz", inds[0]["name"])
	assert.Equal(t, "Yara detection: mimikatz on DESKTOP-42", b.ofType("incident")[0]["name"])
	assert.Len(t, b.ofType("attack-pattern"), 2)
	assert.Equal(t, "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", b.ofType("marking-definition")[0]["id"])
}

func TestIOCAlerts(t *testing.T) {
	const sha = "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b"
	cases := []struct {
		name, rule, msg, obsType, pattern, incident string
	}{
		{"hash", `{"type":"hash","value":"` + sha + `"}`, "", "file", "[file:hashes.'SHA-256' = '" + sha + "']", sha + " on WKS-001"},
		{"md5 from msg", "", "hash = 68b329da9893e34099c7d8ad5cb9c941", "file", "[file:hashes.MD5 = '68b329da9893e34099c7d8ad5cb9c941']", "68b329da9893e34099c7d8ad5cb9c941 on WKS-001"},
		{"domain", `{"type":"domain_name","value":"evil.example"}`, "", "domain-name", "[domain-name:value = 'evil.example']", "evil.example on WKS-001"},
		{"ipv4", `{"type":"ip_dst","value":"185.220.101.4"}`, "", "ipv4-addr", "[ipv4-addr:value = '185.220.101.4']", "185.220.101.4 on WKS-001"},
		{"ipv6 cidr", `{"type":"ip_both","value":"2001:db8::/32"}`, "", "ipv6-addr", "[ipv6-addr:value = '2001:db8::/32']", "2001:db8::/32 on WKS-001"},
		{"url from msg", "", "url=http://evil.example/x?a=b", "url", "[url:value = 'http://evil.example/x?a=b']", "http://evil.example/x?a=b on WKS-001"},
		{"filename", `{"type":"filename","value":"o'evil.exe"}`, "", "file", `[file:name = 'o\'evil.exe']`, "o'evil.exe on WKS-001"},
	}
	p := newTestProcessor(t, "default_score: 80\n")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := c.msg
			if msg == "" {
				msg = "IOC match"
			}
			alert := `{"id":"ZxT0","status":"false_positive","msg":` + jsonString(msg) + `,"rule_name":"IOC match","alert_type":"ioc","level":"critical",
 "alert_time":"2024-01-15T08:13:47.621+00:00","agent":{"hostname":"WKS-001"},
 "process":{"process_name":"evil.exe","hashes":{"md5":"68b329da9893e34099c7d8ad5cb9c940","sha256":"` + sha + `"}}}`
			b, warnings := convertOK(t, p, alertDoc(alert, c.rule, "ioc"))
			assert.Empty(t, warnings)
			inds := b.ofType("indicator")
			require.Len(t, inds, 1)
			ind := inds[0]
			assert.Equal(t, c.pattern, ind["pattern"])
			assert.Equal(t, "stix", ind["pattern_type"])
			assert.Equal(t, stixid.IndicatorID(c.pattern), ind["id"])
			assert.EqualValues(t, 80, ind["x_opencti_score"])
			inc := b.ofType("incident")[0]
			assert.Equal(t, c.incident, inc["name"])
			assert.Equal(t, "critical", inc["severity"])
			s := b.ofType("sighting")[0]
			assert.Equal(t, true, s["x_opencti_negative"], "false_positive")
			var based map[string]any
			for _, r := range b.ofType("relationship") {
				if r["relationship_type"] == "based-on" {
					based = r
				}
			}
			require.NotNil(t, based)
			obs := b.byID(based["target_ref"].(string))
			require.NotNil(t, obs)
			assert.Equal(t, c.obsType, obs["type"])
		})
	}
}

func TestHashIOCReusesProcessFile(t *testing.T) {
	const sha = "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b"
	alert := `{"id":"a","alert_type":"ioc","alert_time":"2024-01-15T08:13:47Z","agent":{"hostname":"h"},
 "process":{"process_name":"evil.exe","hashes":{"sha256":"` + sha + `"}}}`
	p := newTestProcessor(t, "")
	b, _ := convertOK(t, p, alertDoc(alert, `{"type":"hash","value":"`+sha+`"}`, "ioc"))
	require.Len(t, b.ofType("file"), 1)
	fileID := b.ofType("file")[0]["id"].(string)
	assert.NotNil(t, b.byID(stixid.RelationshipID("based-on", b.ofType("indicator")[0]["id"].(string), fileID)))
}

func TestPartialAlertStillGivesBundle(t *testing.T) {
	alert := `{"id":"p1","msg":"something","rule_name":"Rule X","alert_type":"sigma","level":"informational",
 "alert_time":"2024-01-15T08:13:47Z","process":{"hashes":{"md5":"nothex"}}}`
	p := newTestProcessor(t, "")
	b, warnings := convertOK(t, p, alertDoc(alert, "", "sigma"))
	joined := strings.Join(warnings, "\n")
	assert.Contains(t, joined, "no agent hostname")
	assert.Contains(t, joined, "not a valid digest")
	assert.Contains(t, joined, "informational")
	assert.Contains(t, joined, "no sigma rule content")
	inc := b.ofType("incident")
	require.Len(t, inc, 1)
	assert.Equal(t, "Rule X", inc[0]["name"])
	assert.Nil(t, inc[0]["severity"])
	assert.Empty(t, b.ofType("sighting"))
	assert.Empty(t, b.ofType("file"))

	noProcess := `{"id":"p2","rule_name":"R","alert_type":"sigma","alert_time":"2024-01-15T08:13:47Z","agent":{"hostname":"h"}}`
	b, warnings = convertOK(t, p, alertDoc(noProcess, sigmaRule, "sigma"))
	assert.Contains(t, strings.Join(warnings, "\n"), "no process")
	assert.Len(t, b.ofType("sighting"), 1)
	assert.Equal(t, []any{stixid.IdentityID("h", "system")}, b.ofType("sighting")[0]["where_sighted_refs"])
}

func TestUnusableInputIsAnError(t *testing.T) {
	p := newTestProcessor(t, "")
	for name, body := range map[string]string{
		"no date":      alertDoc(`{"id":"x","rule_name":"R","agent":{"hostname":"h"}}`, "", "sigma"),
		"bad date":     alertDoc(`{"id":"x","alert_time":"soon"}`, "", "sigma"),
		"no alert":     `{"kind":"alert","alert":null}`,
		"not json":     `{"kind":`,
		"alert string": `{"kind":"alert","alert":"oops"}`,
		"unknown kind": `{"kind":"nope"}`,
		"no threat":    `{"kind":"threat"}`,
	} {
		t.Run(name, func(t *testing.T) {
			msg := service.NewMessage([]byte(body))
			batch, err := p.Process(context.Background(), msg)
			require.Error(t, err)
			assert.Nil(t, batch)
			assert.Contains(t, err.Error(), "harfanglab_to_stix")
		})
	}
}

func TestThreatBecomesCaseIncident(t *testing.T) {
	threat := `{"id":829,"slug":"brave-otter-829","status":"new","level":"high",
 "creation_date":"2024-02-07T15:18:21.799384Z","last_update":"2024-03-13T11:26:29.162934Z",
 "top_agents":[{"agent_id":"1553619e","agent_hostname":"vm-windows"}]}`
	note := `{"title":"brave-otter-829","content":"Analyst note: local account creation from a scripted PowerShell session.",
 "creation_date":"2024-02-08T09:00:00.000000Z","last_update":"2024-02-09T10:30:00.000000Z"}`
	body := `{"kind":"threat","threat":` + threat + `,"alerts":[` + sigmaAlert + `,` + yaraAlert + `],"notes":[` + note + `]}`
	p := newTestProcessor(t, "harfanglab_url: https://hl.example.com\n")
	b, warnings := convertOK(t, p, body)
	assert.Empty(t, warnings)
	cases := b.ofType("case-incident")
	require.Len(t, cases, 1)
	cs := cases[0]
	assert.Equal(t, "case-incident--8d3fa7e4-3797-5acc-8024-d9d926093048", cs["id"], "pycti id of TV-4")
	assert.Equal(t, "brave-otter-829 on vm-windows", cs["name"])
	assert.Equal(t, "P2", cs["priority"])
	assert.Equal(t, "high", cs["severity"])
	assert.Equal(t, "2024-02-07T15:18:21.799384Z", cs["created"])
	refs := cs["object_refs"].([]any)
	for _, inc := range b.ofType("incident") {
		assert.Contains(t, refs, inc["id"])
	}
	assert.Len(t, b.ofType("incident"), 2)
	assert.Contains(t, refs, stixid.IdentityID("vm-windows", "system"))
	assert.Empty(t, b.ofType("sighting"), "sightings come with the alerts' own messages")
	notes := b.ofType("note")
	require.Len(t, notes, 1)
	assert.Equal(t, "note--06e50c10-c5e9-5106-aad3-95f399d67ad6", notes[0]["id"], "ID-12")
	assert.Equal(t, []any{cs["id"]}, notes[0]["object_refs"])
	assert.Equal(t, "https://hl.example.com/threat/829/summary", cs["external_references"].([]any)[0].(map[string]any)["url"])
}

func TestDisabledKindsAreDropped(t *testing.T) {
	p := newTestProcessor(t, "create_incidents: false\ncreate_case_incidents: false\n")
	for _, body := range []string{alertDoc(sigmaAlert, sigmaRule, "sigma"), `{"kind":"threat","threat":{}}`} {
		batch, err := p.Process(context.Background(), service.NewMessage([]byte(body)))
		require.NoError(t, err)
		assert.Empty(t, batch)
	}
}

func TestDeterministicOutputAndMetadataKind(t *testing.T) {
	p := newTestProcessor(t, "")
	body := strings.Replace(alertDoc(sigmaAlert, sigmaRule, "sigma"), `"kind":"alert",`, "", 1)
	run := func() []byte {
		msg := service.NewMessage([]byte(body))
		msg.MetaSetMut("harfanglab_kind", "alert")
		msg.MetaSetMut("harfanglab_id", "b4dIf5ABW1rsX4jwR8Nc")
		batch, err := p.Process(context.Background(), msg)
		require.NoError(t, err)
		require.Len(t, batch, 1)
		id, ok := batch[0].MetaGet("harfanglab_id")
		assert.True(t, ok)
		assert.Equal(t, "b4dIf5ABW1rsX4jwR8Nc", id)
		out, err := batch[0].AsBytes()
		require.NoError(t, err)
		return out
	}
	first, second := run(), run()
	assert.Equal(t, string(first), string(second), "same input, same bytes")
}

func TestConfigValidation(t *testing.T) {
	for yaml, variable := range map[string]string{
		"marking: TLP:PURPLE\n": "HARFANGLAB_DEFAULT_MARKINGS", "default_score: 101\n": "HARFANGLAB_DEFAULT_SCORE",
		"author_name: ' '\n": "CONNECTOR_NAME",
	} {
		conf, err := harfangLabToSTIXSpec().ParseYAML(yaml, nil)
		require.NoError(t, err)
		_, err = newHarfangLabToSTIX(conf, service.MockResources())
		require.Error(t, err, yaml)
		assert.Contains(t, err.Error(), variable)
	}
	p := newTestProcessor(t, "marking: tlp:white\n")
	assert.Equal(t, "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", p.conv.marking.id)
	m, err := lookupMarking("tlp:amber+strict")
	require.NoError(t, err)
	assert.Equal(t, "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37", m.id)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func BenchmarkHarfangLabToSTIXAlert(b *testing.B) {
	conf, err := harfangLabToSTIXSpec().ParseYAML("", nil)
	require.NoError(b, err)
	p, err := newHarfangLabToSTIX(conf, service.MockResources())
	require.NoError(b, err)
	body := []byte(alertDoc(sigmaAlert, sigmaRule, "sigma"))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := p.convert(body, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}

func TestMalformedPartsAreSkipped(t *testing.T) {
	p := newTestProcessor(t, "")
	body := `{"kind":"threat","threat":{"id":1,"slug":"s","creation_date":"2024-01-01T00:00:00Z","top_agents":"x"},
 "alerts":["oops",` + sigmaAlert + `],"notes":[{"content":""},7]}`
	b, warnings := convertOK(t, p, body)
	assert.Len(t, b.ofType("incident"), 1)
	assert.Len(t, warnings, 4, strings.Join(warnings, "\n"))
	b, warnings = convertOK(t, p, `{"kind":"alert","rule":"x","indicator_ids":[1,"indicator--00000000-0000-4000-8000-000000000000"],"alert":`+
		`{"alert_time":"2024-01-01T00:00:00Z","agent":"h","process":[1],"tags":"attack.t1000"}}`)
	assert.Len(t, b.ofType("incident"), 1)
	assert.Len(t, b.ofType("sighting"), 1)
	assert.NotEmpty(t, warnings)
}

func FuzzConvert(f *testing.F) {
	f.Add([]byte(alertDoc(sigmaAlert, sigmaRule, "sigma")))
	f.Add([]byte(alertDoc(yaraAlert, yaraRule, "yara", "indicator--x", "9a0b8f6e-3b7d-4c55-9f0e-2a1b3c4d5e6f")))
	f.Add([]byte(`{"kind":"alert","rule_type":"ioc","alert":{"alert_time":"2024-01-01T00:00:00Z","msg":"ip_src=::1"}}`))
	f.Add([]byte(`{"kind":"threat","threat":{"id":1,"creation_date":"2024-01-01T00:00:00Z"},"alerts":[` + sigmaAlert + `],"notes":[{"content":"n"}]}`))
	conf, err := harfangLabToSTIXSpec().ParseYAML("", nil)
	require.NoError(f, err)
	p, err := newHarfangLabToSTIX(conf, service.MockResources())
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte) {
		out, _, _, err := p.convert(body, "")
		if err == nil && out != nil && !json.Valid(out) {
			t.Fatalf("invalid JSON bundle for %q", body)
		}
	})
}

// TestConcurrentUse: Benthos runs one processor instance on several pipeline threads.
func TestConcurrentUse(t *testing.T) {
	p := newTestProcessor(t, "")
	body := []byte(alertDoc(strings.Replace(sigmaAlert, `"hostname":"vm-windows"`, `"hostname":"HÔTE-İSTANBUL-ΟΔΟΣ"`, 1), sigmaRule, "sigma"))
	want, _, _, err := p.convert(body, "")
	require.NoError(t, err)
	done := make(chan []byte)
	for range 4 {
		go func() {
			var last []byte
			for range 50 {
				last, _, _, _ = p.convert(body, "")
			}
			done <- last
		}()
	}
	for range 4 {
		assert.Equal(t, string(want), string(<-done))
	}
	assert.Contains(t, string(want), stixid.IdentityID("hôte-i̇stanbul-οδος", "system"))
}

func TestErroredMessagesPassThrough(t *testing.T) {
	p := newTestProcessor(t, "")
	body := alertDoc(sigmaAlert, sigmaRule, "sigma")
	msg := service.NewMessage([]byte(body))
	msg.SetError(errors.New("unusable HarfangLab alert x"))
	batch, err := p.Process(context.Background(), msg)
	require.NoError(t, err)
	require.Len(t, batch, 1)
	out, err := batch[0].AsBytes()
	require.NoError(t, err)
	assert.Equal(t, body, string(out), "the original body is kept for the dead letter")
	assert.EqualError(t, batch[0].GetError(), "unusable HarfangLab alert x")
}

func TestThreatWithoutIncidents(t *testing.T) {
	p := newTestProcessor(t, "create_incidents: false\n")
	body := `{"kind":"threat","threat":{"id":3,"slug":"s","creation_date":"2024-01-01T00:00:00Z","top_agents":[{"hostname":"h"}]},"alerts":[` + sigmaAlert + `]}`
	b, _ := convertOK(t, p, body)
	assert.Empty(t, b.ofType("incident"))
	require.Len(t, b.ofType("case-incident"), 1)
	assert.Equal(t, []any{stixid.IdentityID("h", "system"), stixid.ValueObservableID("hostname", "h")}, b.ofType("case-incident")[0]["object_refs"])
}
