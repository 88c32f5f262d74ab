package stix

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// testNow is the processor's clock in tests.
var testNow = time.Date(2025, 6, 15, 10, 0, 0, 0, time.UTC)

const (
	testInternalID = "3c8d4f2e-1b2a-4c5d-8e9f-0a1b2c3d4e5f"
	testStixID     = "indicator--0b6f0c2c-7f3e-5b4e-9a41-6f0c1d2e3a4b"
)

func newTestProcessor(t testing.TB, yaml string) *stixToHarfangLab {
	t.Helper()
	conf, err := stixToHarfangLabSpec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	p, err := newStixToHarfangLab(conf, service.MockResources())
	require.NoError(t, err)
	p.now = func() time.Time { return testNow }
	return p
}

// indicatorObject is the default stream indicator of harfanglab-intel-api.md §6.1, as OpenCTI
// exports it (opencti-stream-and-api.md §1.10 (c)).
func indicatorObject(pattern string) map[string]any {
	return map[string]any{
		"id": testStixID, "spec_version": "2.1", "type": "indicator",
		"created": "2024-06-15T10:00:00.000Z", "modified": "2024-06-15T10:00:00.123Z",
		"revoked": false, "confidence": 80, "lang": "en", "labels": []string{"detection"},
		"name": "evil indicator", "description": "desc", "indicator_types": []string{"malicious-activity"},
		"pattern": pattern, "pattern_type": "stix", "pattern_version": "2.1",
		"valid_from": "2024-06-15T10:00:00.000Z",
		"extensions": map[string]any{
			extOpenCTI: map[string]any{
				"extension_type": "property-extension", "id": testInternalID, "type": "Indicator",
				"created_at": "2024-06-15T10:00:00.123Z", "updated_at": "2024-06-15T10:00:00.123Z",
				"is_inferred": false, "detection": true, "score": 50,
				"main_observable_type": "IPv4-Addr",
			},
			extMITRE: map[string]any{"extension_type": "property-extension", "x_mitre_platforms": []string{"windows"}},
		},
	}
}

func octiExt(obj map[string]any) map[string]any {
	return obj["extensions"].(map[string]any)[extOpenCTI].(map[string]any)
}

// basedOnObject is a based-on relationship from the default indicator to an observable.
func basedOnObject(targetType, targetValue string) map[string]any {
	return map[string]any{
		"id": "relationship--9d8c0000-0000-4000-8000-000000000001", "spec_version": "2.1",
		"type": "relationship", "relationship_type": "based-on",
		"source_ref": testStixID, "target_ref": "domain-name--5a3e0000-0000-4000-8000-000000000001",
		"created": "2024-06-15T10:00:00.456Z", "modified": "2024-06-15T10:00:00.456Z",
		"revoked": false, "confidence": 80,
		"extensions": map[string]any{extOpenCTI: map[string]any{
			"extension_type": "property-extension", "id": "77aa0000-0000-4000-8000-000000000001",
			"type": "based-on", "source_ref": testInternalID, "source_type": "Indicator",
			"source_value": "evil indicator", "target_ref": "41bb0000-0000-4000-8000-000000000001",
			"target_type": targetType, "target_value": targetValue,
		}},
	}
}

func envelopeJSON(t testing.TB, eventType string, obj, context map[string]any) []byte {
	t.Helper()
	env := map[string]any{
		"version": "4", "type": eventType, "scope": "external", "message": "test",
		"origin": map[string]any{"socket": "query", "user_id": "88ec0c6a-13ce-5e39-b486-354fe4a7084f"},
		"data":   obj,
	}
	if context != nil {
		env["context"] = context
	}
	b, err := json.Marshal(env)
	require.NoError(t, err)
	return b
}

func streamMessage(eventType, eventID string, body []byte) *service.Message {
	m := service.NewMessage(body)
	m.MetaSet(metaEvent, eventType)
	m.MetaSet(metaEventID, eventID)
	return m
}

// process runs one event through the processor and decodes the output changes.
func process(t testing.TB, p *stixToHarfangLab, eventType string, obj, context map[string]any) ([]*intel.Change, service.MessageBatch, error) {
	t.Helper()
	msg := streamMessage(eventType, "1718445600123-0", envelopeJSON(t, eventType, obj, context))
	batch, err := p.Process(t.Context(), msg)
	if err != nil {
		return nil, nil, err
	}
	changes := make([]*intel.Change, 0, len(batch))
	for _, m := range batch {
		b, err := m.AsBytes()
		require.NoError(t, err)
		c, err := intel.Decode(b)
		require.NoError(t, err)
		changes = append(changes, c)
	}
	return changes, batch, nil
}

// one runs an event that must give exactly one change.
func one(t testing.TB, p *stixToHarfangLab, eventType string, obj map[string]any) *intel.Change {
	t.Helper()
	changes, _, err := process(t, p, eventType, obj, nil)
	require.NoError(t, err)
	require.Len(t, changes, 1)
	return changes[0]
}
