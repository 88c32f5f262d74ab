package stix

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Extension keys of OpenCTI's STIX 2.1 export (opencti-stream-and-api.md §1.9).
const (
	extOpenCTI = "extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba"
	extMITRE   = "extension-definition--322b8f77-262a-4cb8-a915-1e441e00329b"
)

// event is the part of an OpenCTI stream envelope this processor reads. It is decoded in one
// pass with typed fields: a field of the wrong JSON type is a decoding error, never a panic.
type event struct {
	Data    *stixObject   `json:"data"`
	Context *eventContext `json:"context"`
}

type eventContext struct {
	ReversePatch []patchOp    `json:"reverse_patch"`
	Sources      []stixObject `json:"sources"`
}

// patchOp is one RFC 6902 operation; only string values matter (the previous "/id").
type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// stixObject holds the fields of indicators and relationships that matter here; other object
// types decode into it too and are dropped by type.
type stixObject struct {
	ID               string           `json:"id"`
	Type             string           `json:"type"`
	Name             string           `json:"name"`
	Description      string           `json:"description"`
	Pattern          string           `json:"pattern"`
	PatternType      string           `json:"pattern_type"`
	Revoked          bool             `json:"revoked"`
	ValidUntil       string           `json:"valid_until"`
	CreatedByRef     string           `json:"created_by_ref"`
	RelationshipType string           `json:"relationship_type"`
	SourceRef        string           `json:"source_ref"`
	XOpenCTIScore    *float64         `json:"x_opencti_score"`
	XOpenCTIDetect   *bool            `json:"x_opencti_detection"`
	XMitrePlatforms  []string         `json:"x_mitre_platforms"`
	Extensions       objectExtensions `json:"extensions"`
}

type objectExtensions struct {
	OpenCTI *openCTIExtension `json:"extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba"`
	MITRE   *mitreExtension   `json:"extension-definition--322b8f77-262a-4cb8-a915-1e441e00329b"`
}

type openCTIExtension struct {
	ID          string   `json:"id"`
	StixIDs     []string `json:"stix_ids"`
	Score       *float64 `json:"score"`
	Detection   *bool    `json:"detection"`
	SourceRef   string   `json:"source_ref"`
	SourceType  string   `json:"source_type"`
	SourceValue string   `json:"source_value"`
	TargetType  string   `json:"target_type"`
	TargetValue string   `json:"target_value"`
}

type mitreExtension struct {
	Platforms []string `json:"x_mitre_platforms"`
}

var errNoData = errors.New("event has no data object")

// decodeEvent decodes the fields of the event that matter, with fastDecoder when it can and
// encoding/json otherwise (same result either way).
func decodeEvent(body []byte) (*event, error) {
	ev, ok := decodeEventFast(body)
	if !ok {
		ev = &event{}
		if err := json.Unmarshal(body, ev); err != nil {
			return nil, fmt.Errorf("decoding OpenCTI event: %w", err)
		}
	}
	if ev.Data == nil {
		return nil, errNoData
	}
	return ev, nil
}

// internalID is the OpenCTI internal id, which survives pattern changes.
func (o *stixObject) internalID() string {
	if e := o.Extensions.OpenCTI; e != nil {
		return e.ID
	}
	return ""
}

// owner is the indicator's stable key: its internal id, else its STIX id.
func (o *stixObject) owner() string {
	if id := o.internalID(); id != "" {
		return id
	}
	return o.ID
}

// score reads the extension score, then the older top-level field; missing is 0.
func (o *stixObject) score() int {
	v := o.XOpenCTIScore
	if e := o.Extensions.OpenCTI; e != nil && e.Score != nil {
		v = e.Score
	}
	if v == nil {
		return 0
	}
	switch {
	case *v > 1e9:
		return 1e9
	case *v < -1e9:
		return -1e9
	}
	return int(*v)
}

// detection reads the extension flag, then the older top-level field; missing is true.
func (o *stixObject) detection() bool {
	if e := o.Extensions.OpenCTI; e != nil && e.Detection != nil {
		return *e.Detection
	}
	if o.XOpenCTIDetect != nil {
		return *o.XOpenCTIDetect
	}
	return true
}

func (o *stixObject) platforms() []string {
	if e := o.Extensions.MITRE; e != nil && len(e.Platforms) > 0 {
		return e.Platforms
	}
	return o.XMitrePlatforms
}

// stixIDs lists the object's current STIX id first, then the other ids OpenCTI knows for it and
// the previous ids found in the update's reverse patch, without duplicates.
func (o *stixObject) stixIDs(ctx *eventContext) []string {
	ids := make([]string, 0, 2)
	add := func(id string) {
		if id == "" {
			return
		}
		for _, have := range ids {
			if have == id {
				return
			}
		}
		ids = append(ids, id)
	}
	add(o.ID)
	if e := o.Extensions.OpenCTI; e != nil {
		for _, id := range e.StixIDs {
			add(id)
		}
	}
	if ctx != nil {
		for _, op := range ctx.ReversePatch {
			if op.Path != "/id" || len(op.Value) == 0 || op.Value[0] != '"' {
				continue
			}
			var id string
			if json.Unmarshal(op.Value, &id) == nil {
				add(id)
			}
		}
	}
	return ids
}
