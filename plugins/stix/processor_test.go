package stix

import (
	"context"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

func TestIndicatorCreate(t *testing.T) {
	p := newTestProcessor(t, ``)
	changes, batch, err := process(t, p, "create", indicatorObject(`[ipv4-addr:value = '172.86.102.98']`), nil)
	require.NoError(t, err)
	require.Len(t, changes, 1)
	assert.Equal(t, &intel.Change{
		Owner: testInternalID, StixIDs: []string{testStixID}, Via: intel.ViaPattern,
		Seq: "1718445600123-0", Live: true, Name: "evil indicator", Description: "desc", Score: 50,
		Platforms: []string{"windows"}, Maturity: "stable",
		IOCs: []intel.IOC{{Type: intel.TypeIPBoth, Value: "172.86.102.98"}},
	}, changes[0])
	owner, _ := batch[0].MetaGet(metaOwner)
	assert.Equal(t, testInternalID, owner)
	event, _ := batch[0].MetaGet(metaEvent)
	assert.Equal(t, "create", event, "input metadata is kept")
	id, _ := batch[0].MetaGet(metaEventID)
	assert.Equal(t, "1718445600123-0", id)
}

func TestOwnerFallsBackToStixID(t *testing.T) {
	p := newTestProcessor(t, ``)
	obj := indicatorObject(`[domain-name:value = 'evil.com']`)
	delete(obj, "extensions")
	c := one(t, p, "create", obj)
	assert.Equal(t, testStixID, c.Owner)
	assert.True(t, c.Live, "detection missing means true")
	assert.Equal(t, 0, c.Score, "score missing means 0")
}

func TestStixIDsAfterPatternChange(t *testing.T) {
	p := newTestProcessor(t, ``)
	obj := indicatorObject(`[ipv4-addr:value = '7.7.7.8']`)
	obj["id"] = "indicator--new"
	octiExt(obj)["stix_ids"] = []string{"indicator--older", "indicator--new"}
	ctx := map[string]any{
		"patch": []any{map[string]any{"op": "replace", "path": "/pattern", "value": "[ipv4-addr:value = '7.7.7.8']"}},
		"reverse_patch": []any{
			map[string]any{"op": "replace", "path": "/pattern", "value": "[ipv4-addr:value = '7.7.7.7']"},
			map[string]any{"op": "replace", "path": "/name", "value": "old"},
			map[string]any{"op": "replace", "path": "/id", "value": "indicator--old"},
			map[string]any{"op": "replace", "path": "/id", "value": 12},
		},
	}
	changes, _, err := process(t, p, "update", obj, ctx)
	require.NoError(t, err)
	require.Len(t, changes, 1)
	assert.Equal(t, []string{"indicator--new", "indicator--older", "indicator--old"}, changes[0].StixIDs)
	assert.Equal(t, testInternalID, changes[0].Owner, "the owner survives the pattern change")
	assert.Equal(t, []intel.IOC{{Type: intel.TypeIPBoth, Value: "7.7.7.8"}}, changes[0].IOCs)
}

func TestLiveness(t *testing.T) {
	tests := []struct {
		name   string
		config string
		edit   func(map[string]any)
		live   bool
	}{
		{"default", ``, func(map[string]any) {}, true},
		{"revoked", ``, func(o map[string]any) { o["revoked"] = true }, false},
		{"detection off", ``, func(o map[string]any) { octiExt(o)["detection"] = false }, false},
		{"detection off top-level fallback", ``, func(o map[string]any) {
			delete(octiExt(o), "detection")
			o["x_opencti_detection"] = false
		}, false},
		{"extension detection wins over top-level", ``, func(o map[string]any) { o["x_opencti_detection"] = false }, true},
		{"detection missing", ``, func(o map[string]any) { delete(octiExt(o), "detection") }, true},
		{"valid_until past", ``, func(o map[string]any) { o["valid_until"] = "2025-06-15T09:59:59.000Z" }, false},
		{"valid_until now", ``, func(o map[string]any) { o["valid_until"] = "2025-06-15T10:00:00.000Z" }, false},
		{"valid_until future", ``, func(o map[string]any) { o["valid_until"] = "2025-06-15T10:00:01.000Z" }, true},
		{"valid_until open bound", ``, func(o map[string]any) { o["valid_until"] = "5138-11-16T09:46:40.000Z" }, true},
		{"score below min_score", `min_score: 51`, func(map[string]any) {}, false},
		{"score at min_score", `min_score: 50`, func(map[string]any) {}, true},
		{"score fallback x_opencti_score", `min_score: 60`, func(o map[string]any) {
			delete(octiExt(o), "score")
			o["x_opencti_score"] = 70
		}, true},
		{"score missing is 0", `min_score: 1`, func(o map[string]any) { delete(octiExt(o), "score") }, false},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			p := newTestProcessor(t, test.config)
			obj := indicatorObject(`[domain-name:value = 'evil.com']`)
			test.edit(obj)
			c := one(t, p, "update", obj)
			assert.Equal(t, test.live, c.Live)
			assert.Equal(t, testInternalID, c.Owner)
			if test.live {
				assert.Equal(t, []intel.IOC{{Type: intel.TypeDomainName, Value: "evil.com"}}, c.IOCs)
			} else {
				assert.Empty(t, c.IOCs, "a claim that is not live wants nothing")
			}
		})
	}
}

func TestValidUntilIsCarried(t *testing.T) {
	p := newTestProcessor(t, ``)
	obj := indicatorObject(`[domain-name:value = 'evil.com']`)
	obj["valid_until"] = "2025-09-13T10:00:00.000Z"
	c := one(t, p, "create", obj)
	require.NotNil(t, c.ValidUntil)
	assert.True(t, c.ValidUntil.Equal(time.Date(2025, 9, 13, 10, 0, 0, 0, time.UTC)))
	assert.False(t, c.ExpiredAt(testNow))
}

func TestBlockMinScore(t *testing.T) {
	pattern := `[domain-name:value = 'evil.com' OR ipv4-addr:value = '1.2.3.4']`
	never := newTestProcessor(t, ``)
	obj := indicatorObject(pattern)
	octiExt(obj)["score"] = 100
	for _, i := range one(t, never, "create", obj).IOCs {
		assert.False(t, i.Block, "block_min_score unset: never block")
	}

	p := newTestProcessor(t, `block_min_score: 80`)
	octiExt(obj)["score"] = 80
	c := one(t, p, "create", obj)
	require.Len(t, c.IOCs, 2)
	for _, i := range c.IOCs {
		assert.True(t, i.Block)
	}
	octiExt(obj)["score"] = 79
	for _, i := range one(t, p, "create", obj).IOCs {
		assert.False(t, i.Block)
	}
}

func TestRuleMaturity(t *testing.T) {
	p := newTestProcessor(t, `rule_maturity: testing`)
	assert.Equal(t, "testing", one(t, p, "create", indicatorObject(`[domain-name:value = 'a.com']`)).Maturity)
	// the enum is only linted: the constructor must refuse other values
	conf, err := stixToHarfangLabSpec().ParseYAML(`rule_maturity: beta`, nil)
	require.NoError(t, err)
	_, err = newStixToHarfangLab(conf, service.MockResources())
	require.ErrorContains(t, err, `rule_maturity must be stable or testing, not "beta"`)
}

// TV-33 and its YARA counterpart: one rule keyed by the indicator, named after it.
func TestSigmaAndYara(t *testing.T) {
	sigma := "title: WEAXOR Ransomware File Create\nid: f84e3c51-6f12-48e4-97d1-b15b76ecf236\nstatus: stable\n"
	yara := "rule MAL_WEAXOR_Ransomware { condition: true }"
	for kind, content := range map[string]string{intel.RuleSigma: sigma, intel.RuleYara: yara} {
		t.Run(kind, func(t *testing.T) {
			p := newTestProcessor(t, ``)
			obj := indicatorObject(content)
			obj["pattern_type"] = kind
			obj["name"] = "WEAXOR Ransomware File Create"
			c := one(t, p, "create", obj)
			assert.True(t, c.Live)
			assert.Empty(t, c.IOCs)
			assert.Equal(t, &intel.Rule{Kind: kind, Name: "WEAXOR Ransomware File Create", Content: content}, c.Rule)
			assert.Equal(t, intel.ViaPattern, c.Via)

			obj["revoked"] = true
			c = one(t, p, "update", obj)
			assert.False(t, c.Live)
			assert.Nil(t, c.Rule)
		})
	}
}

// TV-48: pattern types HarfangLab cannot hold give a Live=false change (removes anything held).
func TestOtherPatternTypes(t *testing.T) {
	p := newTestProcessor(t, ``)
	for _, kind := range []string{"pcre", "snort", "suricata", "spl", "eql", "shodan", "tanium-signal"} {
		obj := indicatorObject(`alert tcp any any -> any any (msg:"x";)`)
		obj["pattern_type"] = kind
		c := one(t, p, "create", obj)
		assert.False(t, c.Live, kind)
		assert.Equal(t, testInternalID, c.Owner)
		assert.Empty(t, c.IOCs)
		assert.Nil(t, c.Rule)
	}
}

func TestInvalidPatternIsAnError(t *testing.T) {
	p := newTestProcessor(t, ``)
	_, _, err := process(t, p, "create", indicatorObject(`[ipv4-addr:value = '1.2.3.4'`), nil)
	require.Error(t, err)
	assert.Equal(t, `event 1718445600123-0: indicator `+testInternalID+` ("evil indicator"): invalid STIX pattern: line 1:29: expected ']', found end of pattern`, err.Error())
}

func TestInvalidValueIsAnError(t *testing.T) {
	p := newTestProcessor(t, ``)
	tests := map[string]string{
		`[file:hashes.'SHA-256' = 'e21cbdbf64']`:                 `line 1:26: file:hashes.'SHA-256': "e21cbdbf64" is not a valid SHA256 hash (want 64 hex digits)`,
		`[file:hashes.MD5 = 'zz1d8cd98f00b204e9800998ecf8427e']`: `"zz1d8cd98f00b204e9800998ecf8427e" is not a valid MD5 hash`,
		`[ipv4-addr:value = '1.2.3']`:                            `"1.2.3" is not a valid IPv4 address or CIDR`,
		`[ipv4-addr:value = '2001:db8::1']`:                      `"2001:db8::1" is not an IPv4 address`,
		`[ipv6-addr:value = '1.2.3.4']`:                          `"1.2.3.4" is not an IPv6 address`,
		`[domain-name:value = 'evil com']`:                       `"evil com" is not a valid domain name`,
		`[domain-name:value = 'a..b']`:                           `"a..b" is not a valid domain name`,
		`[url:value = 'http://x/a b']`:                           `"http://x/a b" is not a valid URL`,
		"[domain-name:value = 'ev\uFFFDl.com']":                  `is not valid UTF-8`,
		"[file:name = 'a\uFFFD.exe']":                            `is not valid UTF-8`,
		`[ipv4-addr:value = 16909060]`:                           `line 1:20: ipv4-addr:value takes a string, got integer 16909060`,
		`[domain-name:value IN ('a.com', true)]`:                 `domain-name:value takes a string, got boolean true`,
	}
	for in, want := range tests {
		_, _, err := process(t, p, "create", indicatorObject(in), nil)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), "indicator "+testInternalID, in)
		assert.Contains(t, err.Error(), want, in)
	}
}

func TestPatternWithoutIOCIsNotLive(t *testing.T) {
	p := newTestProcessor(t, ``)
	c := one(t, p, "create", indicatorObject(`[ipv4-addr:value != '8.8.8.8']`))
	assert.False(t, c.Live)
	assert.Empty(t, c.IOCs)
	assert.Equal(t, testInternalID, c.Owner)
}

func TestDeleteEvent(t *testing.T) {
	p := newTestProcessor(t, ``)
	obj := indicatorObject(`[ipv4-addr:value = '9.9.9.9']`)
	octiExt(obj)["stix_ids"] = []string{"indicator--previous"}
	c := one(t, p, "delete", obj)
	assert.Equal(t, &intel.Change{
		Owner: testInternalID, StixIDs: []string{testStixID, "indicator--previous"}, Via: intel.ViaPattern,
		Seq: "1718445600123-0", Live: false, Name: "evil indicator", Score: 50, Maturity: "stable",
	}, c)
	// even an unparsable pattern deletes cleanly
	c = one(t, p, "delete", indicatorObject(`not a pattern`))
	assert.False(t, c.Live)
}

func TestMergeEvent(t *testing.T) {
	p := newTestProcessor(t, ``)
	target := indicatorObject(`[domain-name:value = 'target.com']`)
	absorbed := indicatorObject(`[domain-name:value = 'absorbed.com']`)
	absorbed["id"] = "indicator--absorbed"
	octiExt(absorbed)["id"] = "absorbed-internal-id"
	noExt := indicatorObject(`[domain-name:value = 'other.com']`)
	noExt["id"] = "indicator--no-ext"
	delete(noExt, "extensions")
	ctx := map[string]any{
		"patch": []any{}, "reverse_patch": []any{},
		"sources": []any{absorbed, noExt, map[string]any{"id": "malware--x", "type": "malware", "name": "x"}},
	}
	changes, batch, err := process(t, p, "merge", target, ctx)
	require.NoError(t, err)
	require.Len(t, changes, 3)
	assert.True(t, changes[0].Live)
	assert.Equal(t, testInternalID, changes[0].Owner)
	assert.Equal(t, []intel.IOC{{Type: intel.TypeDomainName, Value: "target.com"}}, changes[0].IOCs)

	assert.False(t, changes[1].Live)
	assert.Equal(t, "absorbed-internal-id", changes[1].Owner)
	assert.Equal(t, []string{"indicator--absorbed"}, changes[1].StixIDs)
	assert.Equal(t, intel.ViaPattern, changes[1].Via)
	owner, _ := batch[1].MetaGet(metaOwner)
	assert.Equal(t, "absorbed-internal-id", owner)

	assert.False(t, changes[2].Live)
	assert.Equal(t, "indicator--no-ext", changes[2].Owner)

	// a merge of malware concerns nothing here
	changes, _, err = process(t, p, "merge", map[string]any{"id": "malware--a", "type": "malware"},
		map[string]any{"sources": []any{map[string]any{"id": "malware--b", "type": "malware"}}})
	require.NoError(t, err)
	assert.Empty(t, changes)
}

func TestBasedOnRelationship(t *testing.T) {
	p := newTestProcessor(t, ``)
	tests := []struct {
		targetType, value string
		want              []intel.IOC
	}{
		{"Domain-Name", "Four.COM.", []intel.IOC{{Type: intel.TypeDomainName, Value: "four.com"}}},
		{"Hostname", "host.evil.com", []intel.IOC{{Type: intel.TypeDomainName, Value: "host.evil.com"}}},
		{"IPv4-Addr", "4.4.4.4", []intel.IOC{{Type: intel.TypeIPBoth, Value: "4.4.4.4"}}},
		{"IPv6-Addr", "2001:DB8::1", []intel.IOC{{Type: intel.TypeIPBoth, Value: "2001:db8::1"}}},
		{"Url", "http://nine.com/", []intel.IOC{{Type: intel.TypeURL, Value: "http://nine.com/"}}},
		{"StixFile", "D41D8CD98F00B204E9800998ECF8427E", []intel.IOC{{Type: intel.TypeHash, Value: "d41d8cd98f00b204e9800998ecf8427e"}}},
		{"Artifact", "e21cbdbf6414ffc0ef4175295c7e188800a66b7b83302bd35b7e3fd6fabfccde", []intel.IOC{{Type: intel.TypeHash, Value: "e21cbdbf6414ffc0ef4175295c7e188800a66b7b83302bd35b7e3fd6fabfccde"}}},
		{"StixFile", "evil.exe", []intel.IOC{{Type: intel.TypeFilename, Value: "evil.exe"}}},
		{"StixFile", "deadbeef", []intel.IOC{{Type: intel.TypeFilename, Value: "deadbeef"}}},
		{"Email-Addr", "x@evil.com", nil},
		{"Domain-Name", "  ", nil},
	}
	for _, test := range tests {
		t.Run(test.targetType+" "+test.value, func(t *testing.T) {
			c := one(t, p, "create", basedOnObject(test.targetType, test.value))
			assert.Equal(t, testInternalID, c.Owner, "owned by the indicator's internal id")
			assert.Equal(t, "77aa0000-0000-4000-8000-000000000001", c.Via, "claimed via the relationship")
			assert.Equal(t, []string{testStixID}, c.StixIDs)
			assert.Equal(t, "1718445600123-0", c.Seq)
			assert.Equal(t, test.want != nil, c.Live)
			assert.Equal(t, test.want, c.IOCs)
		})
	}

	c := one(t, p, "delete", basedOnObject("Domain-Name", "four.com"))
	assert.False(t, c.Live)
	assert.Empty(t, c.IOCs)
	assert.Equal(t, "77aa0000-0000-4000-8000-000000000001", c.Via)

	rel := basedOnObject("Domain-Name", "four.com")
	rel["revoked"] = true
	assert.False(t, one(t, p, "update", rel).Live)

	rel = basedOnObject("Domain-Name", "four.com")
	delete(octiExt(rel), "id")
	assert.Equal(t, "relationship--9d8c0000-0000-4000-8000-000000000001", one(t, p, "create", rel).Via)

	_, _, err := process(t, p, "create", basedOnObject("IPv4-Addr", "999.1.1.1"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"999.1.1.1" is not a valid IPv4 address`)
}

func TestDropped(t *testing.T) {
	p := newTestProcessor(t, ``)
	own := indicatorObject(`[domain-name:value = 'ours.com']`)
	own["created_by_ref"] = organizationID("HarfangLab")
	ownRel := basedOnObject("Domain-Name", "ours.com")
	ownRel["created_by_ref"] = organizationID("HarfangLab")
	indicates := basedOnObject("Malware", "x")
	indicates["relationship_type"] = "indicates"
	fromObservable := basedOnObject("Domain-Name", "x.com")
	octiExt(fromObservable)["source_type"] = "Domain-Name"
	tests := []struct {
		name, event string
		obj         map[string]any
		reason      string
	}{
		{"identity dependency", "create", map[string]any{"id": "identity--f2b3", "type": "identity", "name": "ACME CERT", "identity_class": "organization"}, dropObjectType},
		{"malware", "update", map[string]any{"id": "malware--a", "type": "malware", "name": "Emotet"}, dropObjectType},
		{"marking", "create", map[string]any{"id": "marking-definition--x", "type": "marking-definition", "name": "TLP:GREEN"}, dropObjectType},
		{"sighting", "create", map[string]any{"id": "sighting--x", "type": "sighting", "count": 3}, dropObjectType},
		{"indicates relationship", "create", indicates, dropRelationshipType},
		{"based-on from an observable", "create", fromObservable, dropObjectType},
		{"own indicator", "create", own, dropOwnAuthor},
		{"own indicator delete", "delete", own, dropOwnAuthor},
		{"own relationship", "create", ownRel, dropOwnAuthor},
		{"heartbeat", "heartbeat", indicatorObject(`[domain-name:value = 'x.com']`), dropEventType},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			msg := streamMessage(test.event, "1-0", envelopeJSON(t, test.event, test.obj, nil))
			changes, reason, err := p.translateMessage(msg)
			require.NoError(t, err)
			assert.Empty(t, changes)
			assert.Equal(t, test.reason, reason)
			batch, err := p.Process(t.Context(), msg)
			require.NoError(t, err)
			assert.Empty(t, batch)
		})
	}
}

func TestIgnoreAuthorNames(t *testing.T) {
	// reference values computed with pycti's algorithm (uuid5 of the canonical JSON)
	assert.Equal(t, "identity--180e5f5a-f256-57de-b783-3292e8f3b232", organizationID("HarfangLab"))
	assert.Equal(t, "identity--180e5f5a-f256-57de-b783-3292e8f3b232", organizationID("  harfanglab "))
	assert.Equal(t, "identity--f1252f7b-d79f-5fa0-a0a8-f257c6d774c0", organizationID("ACME CERT"))

	p := newTestProcessor(t, `ignore_author_names: ["ACME CERT"]`)
	obj := indicatorObject(`[domain-name:value = 'acme.com']`)
	obj["created_by_ref"] = organizationID("ACME CERT")
	changes, _, err := process(t, p, "create", obj, nil)
	require.NoError(t, err)
	assert.Empty(t, changes)
	obj["created_by_ref"] = organizationID("HarfangLab")
	assert.True(t, one(t, p, "create", obj).Live, "HarfangLab is no longer ignored once the list is replaced")
}

func TestBadInput(t *testing.T) {
	p := newTestProcessor(t, ``)
	tests := []struct {
		name, body, want string
	}{
		{"not JSON", `event: create`, "decoding OpenCTI event"},
		{"truncated JSON", `{"data": {"type": "indicator"`, "decoding OpenCTI event"},
		{"JSON array", `[1, 2]`, "decoding OpenCTI event"},
		{"no data", `{"version": "4", "type": "create"}`, "event has no data object"},
		{"null data", `{"data": null}`, "event has no data object"},
		{"data is a string", `{"data": "2023-05-31T09:04:17.951Z"}`, "decoding OpenCTI event"},
		{"revoked is a string", `{"data": {"type": "indicator", "id": "indicator--x", "revoked": "yes"}}`, "decoding OpenCTI event"},
		{"score is a string", `{"data": {"type": "indicator", "id": "indicator--x", "extensions": {"` + extOpenCTI + `": {"score": "high"}}}}`, "decoding OpenCTI event"},
		{"pattern is a number", `{"data": {"type": "indicator", "id": "indicator--x", "pattern": 5}}`, "decoding OpenCTI event"},
		{"extensions is a list", `{"data": {"type": "indicator", "id": "indicator--x", "extensions": []}}`, "decoding OpenCTI event"},
		{"sources is an object", `{"data": {"type": "indicator", "id": "indicator--x"}, "context": {"sources": {}}}`, "decoding OpenCTI event"},
		{"bad valid_until", `{"data": {"type": "indicator", "id": "indicator--x", "pattern_type": "stix", "pattern": "[a:b = 1]", "valid_until": "next week"}}`, `invalid valid_until "next week"`},
		{"indicator without id", `{"data": {"type": "indicator", "pattern_type": "stix", "pattern": "[domain-name:value = 'a.com']"}}`, "indicator has no id"},
		{"based-on without source", `{"data": {"type": "relationship", "relationship_type": "based-on", "extensions": {"` + extOpenCTI + `": {"source_type": "Indicator"}}}}`, "has no id or no source"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			batch, err := p.Process(t.Context(), streamMessage("create", "5-0", []byte(test.body)))
			require.Error(t, err)
			assert.Empty(t, batch)
			assert.Contains(t, err.Error(), test.want)
			assert.Contains(t, err.Error(), "event 5-0: ")
		})
	}

	msg := streamMessage("create", "5-0", envelopeJSON(t, "create", indicatorObject(`[a:b = 1]`), nil))
	msg.MetaDelete(metaEvent)
	_, err := p.Process(t.Context(), msg)
	require.ErrorContains(t, err, "no opencti_event metadata")
}

// Snapshot markers of the input reach harfanglab_intel as control changes.
func TestSnapshotMarkersPassThrough(t *testing.T) {
	p := newTestProcessor(t, ``)
	for _, kind := range []string{intel.ControlSnapshotStart, intel.ControlSnapshotEnd} {
		msg := service.NewMessage([]byte(`{"generation":"2026-12-02T10:00:00Z","reason":"trimmed"}`))
		msg.MetaSetMut(metaEvent, kind)
		batch, err := p.Process(context.Background(), msg)
		require.NoError(t, err)
		require.Len(t, batch, 1)
		b, _ := batch[0].AsBytes()
		c, err := intel.Decode(b)
		require.NoError(t, err)
		assert.Equal(t, &intel.Change{Control: kind, Generation: "2026-12-02T10:00:00Z", Reason: "trimmed"}, c)
	}
}
