package stix

import (
	"strconv"
	"time"
	"unicode/utf8"

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
	b = appendString(b, c.Owner)
	if len(c.StixIDs) > 0 {
		b = append(b, `,"stix_ids":`...)
		b = appendStrings(b, c.StixIDs)
	}
	b = append(b, `,"via":`...)
	b = appendString(b, c.Via)
	if c.Seq != "" {
		b = append(b, `,"seq":`...)
		b = appendString(b, c.Seq)
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
		b = appendString(b, c.Name)
	}
	if c.Description != "" {
		b = append(b, `,"description":`...)
		b = appendString(b, c.Description)
	}
	b = append(b, `,"score":`...)
	b = strconv.AppendInt(b, int64(c.Score), 10)
	if len(c.Platforms) > 0 {
		b = append(b, `,"platforms":`...)
		b = appendStrings(b, c.Platforms)
	}
	if c.Maturity != "" {
		b = append(b, `,"maturity":`...)
		b = appendString(b, c.Maturity)
	}
	if len(c.IOCs) > 0 {
		b = append(b, `,"iocs":[`...)
		for i, ioc := range c.IOCs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":`...)
			b = appendString(b, ioc.Type)
			b = append(b, `,"value":`...)
			b = appendString(b, ioc.Value)
			if ioc.Block {
				b = append(b, `,"block":true`...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if c.Rule != nil {
		b = append(b, `,"rule":{"kind":`...)
		b = appendString(b, c.Rule.Kind)
		b = append(b, `,"name":`...)
		b = appendString(b, c.Rule.Name)
		b = append(b, `,"content":`...)
		b = appendString(b, c.Rule.Content)
		b = append(b, '}')
	}
	for _, f := range [...]struct{ key, value string }{{`,"control":`, c.Control}, {`,"generation":`, c.Generation}, {`,"reason":`, c.Reason}} {
		if f.value != "" {
			b = append(b, f.key...)
			b = appendString(b, f.value)
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
		b = appendString(b, s)
	}
	return append(b, ']')
}

// jsonSafe marks the ASCII bytes encoding/json writes as they are (it escapes control
// characters, quote, backslash and, by default, the HTML characters <, > and &).
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// wordNeedsEscape tells whether the first 8 bytes of s hold a byte that is not jsonSafe
// (a control character, ", \\, <, >, & or a byte of a non-ASCII character).
func wordNeedsEscape(s string) bool {
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	return (x|jsonscan.HasByte(x, '"')|jsonscan.HasByte(x, '\\')|jsonscan.HasByte(x, '<')|
		jsonscan.HasByte(x, '>')|jsonscan.HasByte(x, '&')|(x-jsonscan.LSB*0x20)&^x)&jsonscan.MSB != 0
}

// appendString quotes s the way encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip 8 safe ASCII bytes at a time (long descriptions are mostly plain text).
		for i+8 <= len(s) && !wordNeedsEscape(s[i:]) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
