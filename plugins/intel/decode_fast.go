package intel

import (
	"time"
)

// decodeFast decodes what the stix_to_harfanglab processor writes, in one pass and without
// reflection: the intel push decodes one Change per IOC written (issue 12). It must give
// exactly what json.Unmarshal gives, so it takes only the plain case and reports ok=false for
// anything else, and Decode then lets encoding/json decide: a string with an escape, a control
// or a non-ASCII byte, an unknown or repeated key, null, a number that is not a plain int,
// whitespace, invalid JSON. TestDecodeFastMatchesEncodingJSON holds it to json.Unmarshal.
func decodeFast(b []byte) (*Change, bool) {
	d := fastReader{b: b}
	var c Change
	var seen uint32
	ok := d.object(func(key string) bool {
		bit := uint32(1) << changeField(key)
		if bit == 1<<31 || seen&bit != 0 {
			return false
		}
		seen |= bit
		return d.changeField(&c, key)
	})
	if !ok || d.i != len(b) {
		return nil, false
	}
	return &c, true
}

// changeField is the index of a Change key (31: unknown).
func changeField(key string) int {
	for i, k := range changeKeys {
		if k == key {
			return i
		}
	}
	return 31
}

var changeKeys = [...]string{"owner", "stix_ids", "via", "seq", "live", "valid_until", "name",
	"description", "score", "platforms", "maturity", "iocs", "rule", "control", "generation", "reason"}

func (d *fastReader) changeField(c *Change, key string) bool {
	var ok bool
	switch key {
	case "owner":
		c.Owner, ok = d.str()
	case "stix_ids":
		c.StixIDs, ok = d.strs()
	case "via":
		c.Via, ok = d.str()
	case "seq":
		c.Seq, ok = d.str()
	case "live":
		c.Live, ok = d.boolean()
	case "valid_until":
		var t time.Time
		start := d.i
		if _, ok = d.str(); ok && t.UnmarshalJSON(d.b[start:d.i]) == nil {
			c.ValidUntil = &t
		} else {
			ok = false
		}
	case "name":
		c.Name, ok = d.str()
	case "description":
		c.Description, ok = d.str()
	case "score":
		c.Score, ok = d.integer()
	case "platforms":
		c.Platforms, ok = d.strs()
	case "maturity":
		c.Maturity, ok = d.str()
	case "iocs":
		c.IOCs, ok = d.iocs()
	case "rule":
		c.Rule = &Rule{}
		ok = d.rule(c.Rule)
	case "control":
		c.Control, ok = d.str()
	case "generation":
		c.Generation, ok = d.str()
	case "reason":
		c.Reason, ok = d.str()
	}
	return ok
}

func (d *fastReader) iocs() ([]IOC, bool) {
	var out []IOC
	ok := d.array(func() bool {
		var ioc IOC
		var seen uint8
		if !d.object(func(key string) bool {
			var ok bool
			var bit uint8
			switch key {
			case "type":
				bit = 1
				ioc.Type, ok = d.str()
			case "value":
				bit = 2
				ioc.Value, ok = d.str()
			case "block":
				bit = 4
				ioc.Block, ok = d.boolean()
			}
			if bit == 0 || seen&bit != 0 {
				return false
			}
			seen |= bit
			return ok
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
	var seen uint8
	return d.object(func(key string) bool {
		var ok bool
		var bit uint8
		switch key {
		case "kind":
			bit = 1
			r.Kind, ok = d.str()
		case "name":
			bit = 2
			r.Name, ok = d.str()
		case "content":
			bit = 4
			r.Content, ok = d.str()
		}
		if bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		return ok
	})
}

// fastReader reads compact JSON (no whitespace) of plain values.
type fastReader struct {
	b []byte
	i int
}

func (d *fastReader) next(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// object reads {"key":value,...}, each value by field(key).
func (d *fastReader) object(field func(key string) bool) bool {
	if !d.next('{') {
		return false
	}
	if d.next('}') {
		return true
	}
	for {
		key, ok := d.str()
		if !ok || !d.next(':') || !field(key) {
			return false
		}
		if d.next('}') {
			return true
		}
		if !d.next(',') {
			return false
		}
	}
}

// array reads [elem,...], each element by elem.
func (d *fastReader) array(elem func() bool) bool {
	if !d.next('[') {
		return false
	}
	if d.next(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if d.next(']') {
			return true
		}
		if !d.next(',') {
			return false
		}
	}
}

// str reads a string of printable ASCII without escapes.
func (d *fastReader) str() (string, bool) {
	if !d.next('"') {
		return "", false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := string(d.b[start:d.i])
			d.i++
			return s, true
		case c < 0x20 || c >= 0x80 || c == '\\':
			return "", false
		}
		d.i++
	}
	return "", false
}

func (d *fastReader) strs() ([]string, bool) {
	out := []string{} // [] decodes to an empty, non-nil slice
	ok := d.array(func() bool {
		s, ok := d.str()
		out = append(out, s)
		return ok
	})
	return out, ok
}

func (d *fastReader) boolean() (bool, bool) {
	rest := d.b[d.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		d.i += 4
		return true, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		d.i += 5
		return false, true
	}
	return false, false
}

// integer reads -?[1-9][0-9]* or 0, up to 9 digits (always within an int).
func (d *fastReader) integer() (int, bool) {
	neg := d.next('-')
	start, n := d.i, 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		n = n*10 + int(d.b[d.i]-'0')
		d.i++
	}
	digits := d.i - start
	if digits == 0 || digits > 9 || (digits > 1 && d.b[start] == '0') {
		return 0, false
	}
	if d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}
