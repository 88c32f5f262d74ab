package openctisim

// Builders of OpenCTI live-stream event envelopes (opencti-stream-and-api.md §1.9-§1.10), for
// tests, benchmarks and the demo: what the platform would put in `data:` for an indicator or a
// based-on relationship.

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Extension keys of OpenCTI's STIX export.
const (
	ExtOpenCTI = "extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba"
	ExtMITRE   = "extension-definition--322b8f77-262a-4cb8-a915-1e441e00329b"
)

var stixNamespace = uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7")

// Indicator describes one OpenCTI indicator.
type Indicator struct {
	InternalID   string // OpenCTI internal id (UUID); required
	StixID       string // default: derived from the pattern as OpenCTI does
	Name         string
	Description  string
	Pattern      string
	PatternType  string // default "stix"
	Score        int
	Detection    *bool // default true
	Revoked      bool
	ValidUntil   *time.Time
	Modified     time.Time // default: now
	CreatedByRef string
	Platforms    []string
}

// IndicatorStixID is the STIX id OpenCTI gives an indicator with this pattern.
func IndicatorStixID(pattern string) string {
	b, _ := json.Marshal(map[string]string{"pattern": pattern})
	return "indicator--" + uuid.NewSHA1(stixNamespace, b).String()
}

// STIX returns the indicator as OpenCTI exports it on the stream.
func (i Indicator) STIX() map[string]any {
	if i.PatternType == "" {
		i.PatternType = "stix"
	}
	if i.StixID == "" {
		i.StixID = IndicatorStixID(i.Pattern)
	}
	if i.Modified.IsZero() {
		i.Modified = time.Now().UTC()
	}
	detection := i.Detection == nil || *i.Detection
	ts := i.Modified.UTC().Format("2006-01-02T15:04:05.000Z")
	obj := map[string]any{
		"id": i.StixID, "spec_version": "2.1", "type": "indicator",
		"created": ts, "modified": ts, "revoked": i.Revoked, "confidence": 80, "lang": "en",
		"labels": []string{}, "object_marking_refs": []string{}, "external_references": []any{},
		"name": i.Name, "description": i.Description, "indicator_types": []string{"malicious-activity"},
		"pattern": i.Pattern, "pattern_type": i.PatternType, "pattern_version": "2.1",
		"valid_from": ts, "kill_chain_phases": []any{},
		"extensions": map[string]any{
			ExtOpenCTI: map[string]any{
				"extension_type": "property-extension", "id": i.InternalID, "type": "Indicator",
				"created_at": ts, "updated_at": ts, "is_inferred": false,
				"detection": detection, "score": i.Score,
			},
			ExtMITRE: map[string]any{"extension_type": "property-extension", "x_mitre_platforms": i.Platforms},
		},
	}
	if i.ValidUntil != nil {
		obj["valid_until"] = i.ValidUntil.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	if i.CreatedByRef != "" {
		obj["created_by_ref"] = i.CreatedByRef
	}
	return obj
}

// IndicatorEvent is the envelope of a create, update or delete event of the indicator. context
// (patch, reverse_patch, sources) may be nil.
func IndicatorEvent(eventType string, i Indicator, context map[string]any) []byte {
	return envelope(eventType, "Indicator `"+i.Name+"`", i.STIX(), context)
}

// BasedOn describes a based-on relationship from an indicator to an observable.
type BasedOn struct {
	InternalID  string // the relationship's OpenCTI internal id; required
	Indicator   Indicator
	TargetType  string // OpenCTI entity type: Domain-Name, IPv4-Addr, Url, StixFile, ...
	TargetValue string
	// TargetStixID is the observable's STIX id (default: a placeholder derived from the value,
	// which names no element of the stream).
	TargetStixID string
	Revoked      bool
}

// BasedOnEvent is the envelope of a create, update or delete event of the relationship.
func BasedOnEvent(eventType string, r BasedOn) []byte {
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	src := r.Indicator.StixID
	if src == "" {
		src = IndicatorStixID(r.Indicator.Pattern)
	}
	target := r.TargetStixID
	if target == "" {
		target = "x-observable--" + uuid.NewSHA1(stixNamespace, []byte(r.TargetValue)).String()
	}
	obj := map[string]any{
		"id": "relationship--" + uuid.NewSHA1(stixNamespace, []byte(r.InternalID)).String(), "spec_version": "2.1",
		"type": "relationship", "relationship_type": "based-on", "source_ref": src,
		"target_ref": target,
		"created":    ts, "modified": ts, "revoked": r.Revoked, "confidence": 80, "lang": "en",
		"extensions": map[string]any{ExtOpenCTI: map[string]any{
			"extension_type": "property-extension", "id": r.InternalID, "type": "based-on",
			"created_at": ts, "updated_at": ts, "is_inferred": false,
			"source_ref": r.Indicator.InternalID, "source_type": "Indicator", "source_value": r.Indicator.Name,
			"target_ref":  uuid.NewSHA1(stixNamespace, []byte("target"+r.TargetValue)).String(),
			"target_type": r.TargetType, "target_value": r.TargetValue,
		}},
	}
	return envelope(eventType, "the relation based-on from `"+r.Indicator.Name+"` to `"+r.TargetValue+"`", obj, nil)
}

// ObservableEvent is the envelope of a create, update or delete event of a cyber observable
// with a `value` (domain-name, ipv4-addr, url, ...); entityType is OpenCTI's (Domain-Name, ...).
func ObservableEvent(eventType, internalID, stixType, stixID, entityType, value string) []byte {
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	obj := map[string]any{
		"id": stixID, "spec_version": "2.1", "type": stixType, "value": value,
		"extensions": map[string]any{ExtOpenCTI: map[string]any{
			"extension_type": "property-extension", "id": internalID, "type": entityType,
			"created_at": ts, "updated_at": ts, "is_inferred": false,
		}},
	}
	return envelope(eventType, "a "+entityType+" `"+value+"`", obj, nil)
}

func envelope(eventType, what string, obj, context map[string]any) []byte {
	verb := map[string]string{"create": "creates", "update": "updates", "delete": "deletes", "merge": "merges"}[eventType]
	env := map[string]any{
		"version": "4", "type": eventType, "scope": "external",
		"message": verb + " " + what,
		"origin":  map[string]any{"socket": "query", "user_id": "88ec0c6a-13ce-5e39-b486-354fe4a7084f"},
		"data":    obj,
	}
	if context != nil {
		env["context"] = context
	}
	b, err := json.Marshal(env)
	if err != nil {
		panic("openctisim: building an event: " + err.Error())
	}
	return b
}
