package stix

import (
	"strconv"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/jsonscan"
)

// fastDecoder reads an OpenCTI event in one pass over its bytes, building only the fields of
// event and skipping (while validating) everything else. encoding/json scans every event twice
// (a validity pass, then the decoding pass) through a state machine called once per byte, and
// reflects on every field: on a large IN list or a long description the translation spent half
// its time there.
//
// It must give exactly what json.Unmarshal gives. It therefore handles only the plain case and
// reports ok=false for anything else, and decodeEvent then lets encoding/json decide (same
// result, same error): a key that matches a field only case-insensitively, a key with escapes
// or non-ASCII bytes, a key seen twice in one object, a value of an unexpected JSON type, a
// number out of range, nesting deeper than maxFastDepth, and of course invalid JSON.
// FuzzDecodeEvent holds it to json.Unmarshal.
//
// The lexical layer (whitespace, strings, numbers, skipping, nesting) is jsonscan's, embedded by
// value so that its small methods are inlined on this hot path; this file keeps the mapping of
// the fields.
type fastDecoder struct {
	jsonscan.Scanner
}

const maxFastDepth = 512

// Field names of the decoded objects, in the order of their struct fields (field index = bit
// in the duplicate mask). TestFastDecoderFieldNames checks them against the json tags.
var (
	eventFields   = []string{"data", "context"}
	contextFields = []string{"reverse_patch", "sources"}
	patchFields   = []string{"op", "path", "value"}
	objectFields  = []string{"id", "type", "name", "description", "pattern", "pattern_type", "revoked",
		"valid_until", "created_by_ref", "relationship_type", "source_ref", "x_opencti_score",
		"x_opencti_detection", "x_mitre_platforms", "extensions"}
	extensionsFields = []string{extOpenCTI, extMITRE}
	openCTIFields    = []string{"id", "stix_ids", "score", "detection", "source_ref", "source_type",
		"source_value", "target_type", "target_value"}
	mitreFields = []string{"x_mitre_platforms"}
)

// decodeEventFast decodes body, or reports ok=false when encoding/json must decide.
func decodeEventFast(body []byte) (*event, bool) {
	d := fastDecoder{jsonscan.New(body, maxFastDepth)}
	var ev event
	d.WS()
	if !d.Fields(eventFields, func(f int) bool {
		if f == 0 {
			return d.objectPtr(&ev.Data)
		}
		return d.contextPtr(&ev.Context)
	}) {
		return nil, false
	}
	d.WS()
	return &ev, d.AtEnd()
}

func (d *fastDecoder) boolPtr(dst **bool) bool {
	if d.Null() {
		return true
	}
	v, ok := d.Boolean()
	*dst = &v
	return ok
}

func (d *fastDecoder) floatPtr(dst **float64) bool {
	if d.Null() {
		return true
	}
	num, ok := d.Number()
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil {
		return false
	}
	*dst = &f
	return true
}

// The fields of event, in the order of eventFields, objectFields, etc.

func (d *fastDecoder) objectPtr(dst **stixObject) bool {
	if d.Null() {
		return true
	}
	o := new(stixObject)
	*dst = o
	return d.stixObject(o)
}

func (d *fastDecoder) stixObject(o *stixObject) bool {
	strs := [...]*string{0: &o.ID, 1: &o.Type, 2: &o.Name, 3: &o.Description, 4: &o.Pattern,
		5: &o.PatternType, 7: &o.ValidUntil, 8: &o.CreatedByRef, 9: &o.RelationshipType, 10: &o.SourceRef}
	return d.Fields(objectFields, func(f int) bool {
		switch f {
		case 6:
			return d.ReadBool(&o.Revoked)
		case 11:
			return d.floatPtr(&o.XOpenCTIScore)
		case 12:
			return d.boolPtr(&o.XOpenCTIDetect)
		case 13:
			return d.ReadStrings(&o.XMitrePlatforms)
		case 14:
			return d.extensions(&o.Extensions)
		}
		return d.ReadString(strs[f])
	})
}

func (d *fastDecoder) extensions(e *objectExtensions) bool {
	if d.Null() {
		return true
	}
	return d.Fields(extensionsFields, func(f int) bool {
		if d.Null() {
			return true
		}
		if f == 1 {
			e.MITRE = new(mitreExtension)
			return d.Fields(mitreFields, func(int) bool { return d.ReadStrings(&e.MITRE.Platforms) })
		}
		x := new(openCTIExtension)
		e.OpenCTI = x
		strs := [...]*string{0: &x.ID, 4: &x.SourceRef, 5: &x.SourceType, 6: &x.SourceValue, 7: &x.TargetType, 8: &x.TargetValue}
		return d.Fields(openCTIFields, func(f int) bool {
			switch f {
			case 1:
				return d.ReadStrings(&x.StixIDs)
			case 2:
				return d.floatPtr(&x.Score)
			case 3:
				return d.boolPtr(&x.Detection)
			}
			return d.ReadString(strs[f])
		})
	})
}

func (d *fastDecoder) contextPtr(dst **eventContext) bool {
	if d.Null() {
		return true
	}
	c := new(eventContext)
	*dst = c
	return d.Fields(contextFields, func(f int) bool {
		if d.Null() {
			return true
		}
		if f == 1 {
			c.Sources = []stixObject{}
			return d.Array(func() bool {
				c.Sources = append(c.Sources, stixObject{})
				return d.stixObject(&c.Sources[len(c.Sources)-1])
			})
		}
		c.ReversePatch = []patchOp{}
		return d.Array(func() bool {
			c.ReversePatch = append(c.ReversePatch, patchOp{})
			op := &c.ReversePatch[len(c.ReversePatch)-1]
			return d.Fields(patchFields, func(f int) bool {
				switch f {
				case 0:
					return d.ReadString(&op.Op)
				case 1:
					return d.ReadString(&op.Path)
				}
				raw, ok := d.Raw() // shares the body's memory, which outlives the event
				op.Value = raw
				return ok
			})
		})
	})
}
