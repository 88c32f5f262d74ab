// Package detection holds the contract between the harfanglab_alerts input and the
// harfanglab_to_stix processor: the JSON body of every message that flows between them, as
// plugins/intel does for the intel push.
//
// A message is one HarfangLab detection: an Alert (a security event, with the rule that fired
// and the OpenCTI indicators that rule came from) or a Threat (with its alerts and its note).
// The objects are HarfangLab's own JSON, passed through untouched so nothing is lost on the
// way; the reader decodes them loosely, so one malformed part is reported, not fatal.
package detection

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Kinds of message (the `kind` field, also in the harfanglab_kind metadata).
const (
	KindAlert  = "alert"
	KindThreat = "threat"
)

// MetaKind is the metadata key that repeats the kind, for routing in YAML.
const MetaKind = "harfanglab_kind"

// Alert is the body of an alert message.
type Alert struct {
	Kind  string          `json:"kind"`
	Alert json.RawMessage `json:"alert"`
	// Rule is the IOC, Sigma or YARA rule that fired, when the input could read it (else null).
	Rule     json.RawMessage `json:"rule"`
	RuleType string          `json:"rule_type"`
	// IndicatorIDs are the OpenCTI indicators the rule was pushed for (from its ownership comment).
	IndicatorIDs []string `json:"indicator_ids"`
}

// Threat is the body of a threat message.
type Threat struct {
	Kind   string            `json:"kind"`
	Threat json.RawMessage   `json:"threat"`
	Alerts []json.RawMessage `json:"alerts"`
	Notes  []json.RawMessage `json:"notes"`
}

// Document is a message body as the reader sees it: either kind's fields, decoded loosely.
type Document struct {
	Kind         string
	Alert        map[string]any
	Rule         map[string]any
	RuleType     string
	IndicatorIDs []string
	Threat       map[string]any
	Alerts       []map[string]any
	Notes        []map[string]any
}

// Decode reads a message body. Only a body that is not a JSON object is an error; a part of the
// wrong shape (a rule that is not an object, a threat alert that is a string) is reported
// through warn and left out.
func Decode(raw []byte, warn func(string)) (Document, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return Document{}, fmt.Errorf("the body is not a harfanglab_alerts JSON document: %w", err)
	}
	d := Document{Kind: text(m["kind"]), RuleType: text(m["rule_type"])}
	d.Alert, _ = m["alert"].(map[string]any)
	d.Threat, _ = m["threat"].(map[string]any)
	if r, ok := m["rule"].(map[string]any); ok {
		d.Rule = r
	} else if m["rule"] != nil {
		warn("the rule is not a JSON object: ignored")
	}
	ids, _ := m["indicator_ids"].([]any)
	d.IndicatorIDs = make([]string, 0, len(ids))
	for _, e := range ids {
		if s, ok := e.(string); ok {
			d.IndicatorIDs = append(d.IndicatorIDs, s)
		}
	}
	d.Alerts, d.Notes = objects(m, "alerts", warn), objects(m, "notes", warn)
	return d, nil
}

func text(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(s)
}

// objects returns the JSON objects of the list m[key], reporting and skipping anything else.
func objects(m map[string]any, key string, warn func(string)) []map[string]any {
	l, _ := m[key].([]any)
	out := make([]map[string]any, 0, len(l))
	for i, e := range l {
		if o, ok := e.(map[string]any); ok {
			out = append(out, o)
		} else {
			warn(fmt.Sprintf("%s[%d] is not a JSON object: ignored", key, i))
		}
	}
	return out
}
