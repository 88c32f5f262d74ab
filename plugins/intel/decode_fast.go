package intel

import (
	"time"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/jsonscan"
)

// decodeFast decodes what the stix_to_harfanglab processor writes, in one pass and without
// reflection: the intel push decodes one Change per IOC written (issue 12). It must give
// exactly what json.Unmarshal gives, so it takes only the plain case and reports ok=false for
// anything else, and Decode then lets encoding/json decide: an unknown or repeated key, a key
// with an escape or a non-ASCII byte, null (but for a list), a number that is not an int,
// invalid JSON. TestDecodeFastMatchesEncodingJSON holds it to json.Unmarshal.
func decodeFast(b []byte) (*Change, bool) {
	d := fastReader{jsonscan.New(b, maxChangeDepth)}
	var c Change
	var seen uint32
	ok := d.Object(func(key []byte) bool {
		bit := uint32(1) << changeField(key)
		if bit == 1<<31 || seen&bit != 0 {
			return false
		}
		seen |= bit
		return d.changeField(&c, key)
	})
	if !ok || !d.AtEnd() {
		return nil, false
	}
	return &c, true
}

// changeField is the index of a Change key (31: unknown).
func changeField(key []byte) int {
	for i, k := range changeKeys {
		if k == string(key) {
			return i
		}
	}
	return 31
}

var changeKeys = [...]string{"owner", "stix_ids", "via", "seq", "live", "valid_until", "name",
	"description", "score", "platforms", "maturity", "iocs", "rule", "control", "generation", "reason"}

func (d *fastReader) changeField(c *Change, key []byte) bool {
	var ok bool
	switch string(key) {
	case "owner":
		c.Owner, ok = d.Str()
	case "stix_ids":
		ok = d.ReadStrings(&c.StixIDs)
	case "via":
		c.Via, ok = d.Str()
	case "seq":
		c.Seq, ok = d.Str()
	case "live":
		c.Live, ok = d.Boolean()
	case "valid_until":
		var t time.Time
		start := d.Pos()
		if _, ok = d.Str(); ok && t.UnmarshalJSON(d.Since(start)) == nil {
			c.ValidUntil = &t
		} else {
			ok = false
		}
	case "name":
		c.Name, ok = d.Str()
	case "description":
		c.Description, ok = d.Str()
	case "score":
		c.Score, ok = d.Int()
	case "platforms":
		ok = d.ReadStrings(&c.Platforms)
	case "maturity":
		c.Maturity, ok = d.Str()
	case "iocs":
		c.IOCs, ok = d.iocs()
	case "rule":
		c.Rule = &Rule{}
		ok = d.rule(c.Rule)
	case "control":
		c.Control, ok = d.Str()
	case "generation":
		c.Generation, ok = d.Str()
	case "reason":
		c.Reason, ok = d.Str()
	}
	return ok
}

// Keys of an IOC and of a Rule (jsonscan.Fields refuses a repeated key, as decodeFast does).
var (
	iocKeys  = []string{"type", "value", "block"}
	ruleKeys = []string{"kind", "name", "content"}
)

func (d *fastReader) iocs() ([]IOC, bool) {
	var out []IOC
	ok := d.Array(func() bool {
		var ioc IOC
		fields := [...]*string{&ioc.Type, &ioc.Value}
		if !d.Fields(iocKeys, func(f int) bool {
			if f == 2 {
				return d.ReadBool(&ioc.Block)
			}
			return d.ReadString(fields[f])
		}) {
			return false
		}
		out = append(out, ioc)
		return true
	})
	if out == nil {
		out = []IOC{} // [] decodes to an empty, non-nil slice
	}
	return out, ok
}

func (d *fastReader) rule(r *Rule) bool {
	fields := [...]*string{&r.Kind, &r.Name, &r.Content}
	return d.Fields(ruleKeys, func(f int) bool { return d.ReadString(fields[f]) })
}

// fastReader reads a Change with jsonscan's lexical layer (a Change nests 3 levels deep).
type fastReader struct {
	jsonscan.Scanner
}

const maxChangeDepth = 8
