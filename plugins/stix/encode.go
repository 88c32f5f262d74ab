package stix

import (
	"strconv"
	"time"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/jsonscan"
)

// encodeChange writes c exactly as json.Marshal(c) (intel.Change.Encode) does — byte for byte,
// which TestEncodeChangeMatchesEncodingJSON and FuzzEncodeChange hold it to — but without
// reflection and into a buffer allocated once at the right size. A change can carry a
// description of megabytes or a hundred thousand IOCs, where encoding/json's buffer regrowth
// and final copy cost more than the translation itself.
func encodeChange(c *intel.Change) []byte {
	b := make([]byte, 0, encodedSizeHint(c))
	b = append(b, `{"owner":`...)
	b = jsonscan.AppendString(b, c.Owner)
	if len(c.StixIDs) > 0 {
		b = append(b, `,"stix_ids":`...)
		b = appendStrings(b, c.StixIDs)
	}
	b = append(b, `,"via":`...)
	b = jsonscan.AppendString(b, c.Via)
	if c.Seq != "" {
		b = append(b, `,"seq":`...)
		b = jsonscan.AppendString(b, c.Seq)
	}
	b = append(b, `,"live":`...)
	b = strconv.AppendBool(b, c.Live)
	if c.ValidUntil != nil {
		b = append(b, `,"valid_until":"`...)
		b = c.ValidUntil.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	if c.Name != "" {
		b = append(b, `,"name":`...)
		b = jsonscan.AppendString(b, c.Name)
	}
	if c.Description != "" {
		b = append(b, `,"description":`...)
		b = jsonscan.AppendString(b, c.Description)
	}
	b = append(b, `,"score":`...)
	b = strconv.AppendInt(b, int64(c.Score), 10)
	if len(c.Platforms) > 0 {
		b = append(b, `,"platforms":`...)
		b = appendStrings(b, c.Platforms)
	}
	if c.Maturity != "" {
		b = append(b, `,"maturity":`...)
		b = jsonscan.AppendString(b, c.Maturity)
	}
	if len(c.IOCs) > 0 {
		b = append(b, `,"iocs":[`...)
		for i, ioc := range c.IOCs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":`...)
			b = jsonscan.AppendString(b, ioc.Type)
			b = append(b, `,"value":`...)
			b = jsonscan.AppendString(b, ioc.Value)
			if ioc.Block {
				b = append(b, `,"block":true`...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if c.Rule != nil {
		b = append(b, `,"rule":{"kind":`...)
		b = jsonscan.AppendString(b, c.Rule.Kind)
		b = append(b, `,"name":`...)
		b = jsonscan.AppendString(b, c.Rule.Name)
		b = append(b, `,"content":`...)
		b = jsonscan.AppendString(b, c.Rule.Content)
		b = append(b, '}')
	}
	for _, f := range [...]struct{ key, value string }{{`,"control":`, c.Control}, {`,"generation":`, c.Generation}, {`,"reason":`, c.Reason}} {
		if f.value != "" {
			b = append(b, f.key...)
			b = jsonscan.AppendString(b, f.value)
		}
	}
	return append(b, '}')
}

// encodedSizeHint is the encoded size when nothing needs escaping (a little more is fine).
func encodedSizeHint(c *intel.Change) int {
	n := 160 + len(c.Owner) + len(c.Via) + len(c.Seq) + len(c.Name) + len(c.Description) + len(c.Maturity)
	for _, s := range c.StixIDs {
		n += len(s) + 3
	}
	for _, s := range c.Platforms {
		n += len(s) + 3
	}
	for _, i := range c.IOCs {
		n += len(i.Type) + len(i.Value) + 36
	}
	if c.Rule != nil {
		n += 40 + len(c.Rule.Kind) + len(c.Rule.Name) + len(c.Rule.Content)
	}
	return n + n/64
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonscan.AppendString(b, s)
	}
	return append(b, ']')
}
