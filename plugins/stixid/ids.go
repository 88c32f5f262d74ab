// Package stixid computes the deterministic STIX ids OpenCTI and pycti compute for the same
// objects (UUIDv5 over canonical JSON of each type's contributing properties), so an object we
// push merges with the one already there instead of duplicating it. It is a leaf: the
// detections processor, the OpenCTI output and the STIX translator all import it.
package stixid

import (
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

// stixNamespace is the UUIDv5 namespace shared by pycti, the stix2 library (SCO ids) and
// the OpenCTI platform.
var stixNamespace = uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7")

// lowerCasers reproduce Python's str.lower(): full Unicode case mapping ("İ" → "i̇", final
// sigma), which strings.ToLower does not do. A Caser is stateful, hence one per goroutine.
var lowerCasers = sync.Pool{New: func() any { c := cases.Lower(language.Und); return &c }}

// pyLower is Python's str.lower().
func pyLower(s string) string {
	if isLowerASCII(s) {
		return s
	}
	c := lowerCasers.Get().(*cases.Caser)
	defer lowerCasers.Put(c)
	return c.String(s)
}

// isLowerASCII reports whether lower-casing cannot change s (the common case for ids).
func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b >= utf8.RuneSelf || (b >= 'A' && b <= 'Z') {
			return false
		}
	}
	return true
}

// pyStrip is Python's str.strip(): unicode.IsSpace plus U+001C..U+001F, which Python treats as
// whitespace too.
func pyStrip(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
	})
}

// canonicalJSON is the RFC 8785 (JCS) form of v as stix2's canonicalizer writes it for the
// id-contributing maps: sorted keys, no spaces, only `"`, `\` and U+0000..U+001F escaped
// (short forms for \b \f \n \r \t, else \u00xx lower-case), everything else raw UTF-8 (no HTML
// escaping, U+2028/U+2029 raw). v holds strings, ints, []string, []any and map[string]any only.
func canonicalJSON(v any) string {
	var b strings.Builder
	writeCanonical(&b, v)
	return b.String()
}

func writeCanonical(b *strings.Builder, v any) {
	switch x := v.(type) {
	case string:
		writeCanonicalString(b, x)
	case int:
		b.WriteString(strconv.Itoa(x))
	case []string:
		b.WriteByte('[')
		for i, s := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonicalString(b, s)
		}
		b.WriteByte(']')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, e)
		}
		b.WriteByte(']')
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		writeCanonical(b, m)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sortUTF16(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonicalString(b, k)
			b.WriteByte(':')
			writeCanonical(b, x[k])
		}
		b.WriteByte('}')
	default:
		panic("canonicalJSON: unsupported type") // programming error: only fixed shapes are hashed
	}
}

// sortUTF16 sorts keys by UTF-16 code units as JCS requires (identical to byte order for the
// ASCII keys used here, kept exact anyway).
func sortUTF16(keys []string) {
	less := func(a, b string) bool {
		ua, ub := utf16Units(a), utf16Units(b)
		for i := 0; i < len(ua) && i < len(ub); i++ {
			if ua[i] != ub[i] {
				return ua[i] < ub[i]
			}
		}
		return len(ua) < len(ub)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && less(keys[j], keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}

func utf16Units(s string) []uint16 {
	out := make([]uint16, 0, len(s))
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, uint16(0xd800+(r>>10)), uint16(0xdc00+(r&0x3ff)))
			continue
		}
		out = append(out, uint16(r))
	}
	return out
}

func writeCanonicalString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// stixID is "<type>--" + uuid5(namespace, JCS(contrib)), the recipe of pycti and stix2.
func stixID(typ string, contrib map[string]any) string {
	return typ + "--" + uuid.NewSHA1(stixNamespace, []byte(canonicalJSON(contrib))).String()
}

// BundleID is a bundle id derived from seed, so the same input gives the same bytes.
func BundleID(seed string) string {
	return "bundle--" + uuid.NewSHA1(stixNamespace, []byte(seed)).String()
}

// IdentityID is pycti Identity.generate_id(name, identity_class).
func IdentityID(name, identityClass string) string {
	return stixID("identity", map[string]any{"name": pyStrip(pyLower(name)), "identity_class": pyLower(identityClass)})
}

// IncidentID is pycti Incident.generate_id(name, created); created is the Python isoformat()
// string of the creation time (see PyISOFormat).
func IncidentID(name, created string) string {
	return stixID("incident", map[string]any{"name": pyStrip(pyLower(name)), "created": created})
}

// CaseIncidentID is pycti CaseIncident.generate_id(name, created).
func CaseIncidentID(name, created string) string {
	return stixID("case-incident", map[string]any{"name": pyStrip(pyLower(name)), "created": created})
}

// IndicatorID is pycti Indicator.generate_id(pattern).
func IndicatorID(pattern string) string {
	return stixID("indicator", map[string]any{"pattern": pyStrip(pattern)})
}

// AttackPatternID is pycti AttackPattern.generate_id(name, x_mitre_id) with an x_mitre_id.
func AttackPatternID(mitreID string) string {
	return stixID("attack-pattern", map[string]any{"x_mitre_id": pyStrip(mitreID)})
}

// NoteID is pycti Note.generate_id(created, content) in its documented argument order (the
// NC connector swaps them; see the package documentation). created may be "" (no date).
func NoteID(content, created string) string {
	m := map[string]any{"content": pyStrip(content)}
	if created != "" {
		m["created"] = created
	}
	return stixID("note", m)
}

// RelationshipID is pycti StixCoreRelationship.generate_id(type, source, target).
func RelationshipID(relType, sourceRef, targetRef string) string {
	return stixID("relationship", map[string]any{
		"relationship_type": relType, "source_ref": sourceRef, "target_ref": targetRef,
	})
}

// SightingID is pycti StixSightingRelationship.generate_id(sighting_of_ref, where_sighted_refs,
// first_seen, last_seen) called, as the connectors do, with a single where-sighted id string.
// firstSeen/lastSeen are isoformat() strings ("" leaves them out).
func SightingID(sightingOfRef, whereSightedRef, firstSeen, lastSeen string) string {
	m := map[string]any{"type": "sighting", "sighting_of_ref": sightingOfRef, "where_sighted_refs": whereSightedRef}
	if firstSeen != "" {
		m["first_seen"] = firstSeen
	}
	if lastSeen != "" {
		m["last_seen"] = lastSeen
	}
	return stixID("sighting", m)
}

// hashPreference is stix2's _choose_one_hash order: the one hash that feeds a File id.
var hashPreference = []string{"MD5", "SHA-1", "SHA-256", "SHA-512"}

// FileID is the stix2 deterministic id of a File with these name and hashes (either may be empty).
func FileID(name string, hashes map[string]string) string {
	m := map[string]any{}
	for _, alg := range hashPreference {
		if v, ok := hashes[alg]; ok {
			m["hashes"] = map[string]any{alg: v}
			break
		}
	}
	if name != "" {
		m["name"] = name
	}
	return stixID("file", m)
}

// ValueObservableID is the id of an SCO identified by its value (hostname, domain-name,
// ipv4-addr, ipv6-addr, url).
func ValueObservableID(typ, value string) string {
	return stixID(typ, map[string]any{"value": value})
}

// DirectoryID is the stix2 id of a Directory.
func DirectoryID(path string) string { return stixID("directory", map[string]any{"path": path}) }

// UserAccountID is the stix2 id of a User-Account known by its login.
func UserAccountID(login string) string {
	return stixID("user-account", map[string]any{"account_login": login})
}
