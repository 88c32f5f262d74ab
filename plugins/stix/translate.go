package stix

import (
	"fmt"
	"hash/maphash"
	"strings"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/stix/pattern"
)

// patternIOCs translates a STIX pattern into the IOCs HarfangLab can match:
//   - only non-negated = and IN on a supported path produce values (IN: one per element);
//     !=, <, <=, >, >=, LIKE, MATCHES, ISSUBSET, ISSUPERSET, EXISTS and NOT produce nothing;
//   - OR is a union; within one observation an AND that holds a hash drops the file names
//     ANDed with it (the name alone would match far more than the hash);
//   - every observation contributes, whatever joins the observations and whatever qualifiers
//     follow (HarfangLab has no notion of sequences or time windows);
//   - values are trimmed, validated and canonicalised (normalize), blank ones skipped, and the
//     result deduplicated by (type, value) in source order.
//
// A pattern that does not parse, a non-string value on a supported path or a value that fails
// validation is an error. When the pattern yields no IOC, noIOC says why (which comparisons
// name no value HarfangLab can match, and the reason for each), for the processor's log.
func patternIOCs(src string) (iocs []intel.IOC, noIOC string, err error) {
	p, err := pattern.Parse(src)
	if err != nil {
		return nil, "", fmt.Errorf("invalid STIX pattern: %w", err)
	}
	var out []intel.IOC
	var firstErr error
	p.Observations(func(o *pattern.Observation) {
		if firstErr == nil {
			out, firstErr = appendIOCs(out, o.Expr)
		}
	})
	if firstErr != nil {
		return nil, "", firstErr
	}
	if len(out) == 0 {
		return nil, noIOCReason(p), nil
	}
	return dedupe(out), "", nil
}

// noIOCReason lists the comparisons of a pattern that name no value, with the reason of each
// (at most three, then a count); every value blank when none is listed.
func noIOCReason(p *pattern.Pattern) string {
	var reasons []string
	var walk func(e pattern.ComparisonExpr)
	walk = func(e pattern.ComparisonExpr) {
		switch n := e.(type) {
		case *pattern.Comparison:
			if r := skipReason(n); r != "" {
				reasons = append(reasons, clip(n.String())+": "+r)
			}
		case *pattern.ComparisonGroup:
			walk(n.Expr)
		case *pattern.ComparisonList:
			for _, t := range n.Terms {
				walk(t)
			}
		}
	}
	p.Observations(func(o *pattern.Observation) { walk(o.Expr) })
	if len(reasons) == 0 {
		return "every value is blank"
	}
	if len(reasons) > 3 {
		reasons = append(reasons[:3], fmt.Sprintf("and %d more", len(reasons)-3))
	}
	return strings.Join(reasons, "; ")
}

// skipReason says why a comparison yields no IOC, or "" when it names values.
func skipReason(c *pattern.Comparison) string {
	switch {
	case c.Op == pattern.Exists && c.Negated:
		return "NOT EXISTS tests that a property is absent, there is no value to match"
	case c.Op == pattern.Exists:
		return "EXISTS tests that a property is present, it names no value"
	case c.Negated:
		return "a negation names no value to match"
	case c.Op != pattern.Equal && c.Op != pattern.In:
		return "operator " + c.Op.String() + " names no exact value"
	}
	if kind, _ := pathKind(c.Path); kind == kindNone {
		return "HarfangLab matches no value on this path"
	}
	if c.Op == pattern.In && len(c.Set) == 0 {
		return "empty IN set"
	}
	return ""
}

// appendIOCs appends the IOCs of a comparison expression to out.
func appendIOCs(out []intel.IOC, e pattern.ComparisonExpr) ([]intel.IOC, error) {
	var err error
	switch n := e.(type) {
	case *pattern.Comparison:
		return appendLeafIOCs(out, n)
	case *pattern.ComparisonGroup:
		return appendIOCs(out, n.Expr)
	case *pattern.ComparisonList:
		start := len(out)
		for _, t := range n.Terms {
			if out, err = appendIOCs(out, t); err != nil {
				return nil, err
			}
		}
		if n.Op == pattern.And {
			out = append(out[:start], hashOverName(out[start:])...)
		}
	}
	return out, nil
}

// hashOverName drops file names when a hash is in the same AND (in place).
func hashOverName(iocs []intel.IOC) []intel.IOC {
	hasHash := false
	for _, i := range iocs {
		if i.Type == intel.TypeHash {
			hasHash = true
			break
		}
	}
	if !hasHash {
		return iocs
	}
	kept := iocs[:0]
	for _, i := range iocs {
		if i.Type != intel.TypeFilename {
			kept = append(kept, i)
		}
	}
	return kept
}

func appendLeafIOCs(out []intel.IOC, c *pattern.Comparison) ([]intel.IOC, error) {
	if c.Negated || c.Op != pattern.Equal && c.Op != pattern.In {
		return out, nil
	}
	kind, algorithm := pathKind(c.Path)
	if kind == kindNone {
		return out, nil
	}
	values := c.Set
	if c.Op == pattern.Equal {
		values = []pattern.Literal{c.Value}
	}
	if len(out) == 0 {
		out = make([]intel.IOC, 0, len(values))
	}
	for _, v := range values {
		if v.Kind != pattern.StringLit {
			return nil, fmt.Errorf("%s: %s takes a string, got %s %s", v.At, c.Path, v.Kind, clip(v.String()))
		}
		ioc, skip, err := normalize(kind, algorithm, v.Str)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", v.At, c.Path, err)
		}
		if !skip {
			out = append(out, ioc)
		}
	}
	return out, nil
}

// pathKind maps a supported object path to its value kind (case-insensitive, hash algorithm
// quoted or not, with or without hyphen).
func pathKind(p pattern.ObjectPath) (valueKind, string) {
	if len(p.Steps) == 0 || p.Steps[0].Kind != pattern.KeyStep {
		return kindNone, ""
	}
	objectType := strings.ToLower(p.ObjectType)
	prop := strings.ToLower(p.Steps[0].Key)
	if len(p.Steps) == 1 {
		switch {
		case prop == "value" && (objectType == "domain-name" || objectType == "hostname"):
			return kindDomain, ""
		case prop == "value" && objectType == "ipv4-addr":
			return kindIPv4, ""
		case prop == "value" && objectType == "ipv6-addr":
			return kindIPv6, ""
		case prop == "value" && objectType == "url":
			return kindURL, ""
		case prop == "name" && objectType == "file":
			return kindFileName, ""
		}
		return kindNone, ""
	}
	if len(p.Steps) == 2 && prop == "hashes" && p.Steps[1].Kind == pattern.KeyStep &&
		(objectType == "file" || objectType == "artifact") {
		alg := hashAlgorithm(p.Steps[1].Key)
		if _, ok := hashLengths[alg]; ok {
			return kindHash, alg
		}
	}
	return kindNone, ""
}

// dedupe keeps the first of each (type, value) pair, in order (Block is not set yet).
func dedupe(iocs []intel.IOC) []intel.IOC {
	if len(iocs) <= 16 {
		return dedupeSmall(iocs)
	}
	// An open-addressing table of (32 hash bits, position in kept) at load factor <= 1/2:
	// a third of the cost of a Go map on IN lists of tens of thousands of values, where
	// deduplication was the largest part of the translation.
	size := 1
	for size < 2*len(iocs) {
		size <<= 1
	}
	slots := make([]uint64, size)
	kept := iocs[:0]
	for _, ioc := range iocs {
		h := maphash.String(dedupeSeed, ioc.Value)
		tag := h >> 32
		for i := h & uint64(size-1); ; i = (i + 1) & uint64(size-1) {
			slot := slots[i]
			if slot == 0 {
				kept = append(kept, ioc)
				slots[i] = tag<<32 | uint64(len(kept))
				break
			}
			if slot>>32 == tag {
				if k := kept[uint32(slot)-1]; k.Value == ioc.Value && k.Type == ioc.Type {
					break // a duplicate
				}
			}
		}
	}
	return kept
}

var dedupeSeed = maphash.MakeSeed()

func dedupeSmall(iocs []intel.IOC) []intel.IOC {
	kept := iocs[:0]
next:
	for _, ioc := range iocs {
		for _, k := range kept {
			if k.Value == ioc.Value && k.Type == ioc.Type {
				continue next
			}
		}
		kept = append(kept, ioc)
	}
	return kept
}

// observableKinds maps OpenCTI observable entity types (a based-on relationship's target_type)
// to value kinds. StixFile and Artifact are decided by the value (hash or file name).
var observableKinds = map[string]valueKind{
	"Domain-Name": kindDomain,
	"Hostname":    kindDomain,
	"IPv4-Addr":   kindIPv4,
	"IPv6-Addr":   kindIPv6,
	"Url":         kindURL,
}

// observableIOC translates the target of a based-on relationship. ok is false for types
// HarfangLab cannot match and for blank values.
func observableIOC(entityType, value string) (ioc intel.IOC, ok bool, err error) {
	kind, algorithm := observableKinds[entityType], ""
	if entityType == "StixFile" || entityType == "Artifact" {
		kind = kindFileName
		v := strings.TrimSpace(value)
		for alg, n := range hashLengths {
			if len(v) == n && isHex(strings.ToLower(v)) {
				kind, algorithm = kindHash, alg
				break
			}
		}
	}
	if kind == kindNone {
		return ioc, false, nil
	}
	ioc, skip, err := normalize(kind, algorithm, value)
	if err != nil {
		return ioc, false, fmt.Errorf("%s observable: %w", entityType, err)
	}
	return ioc, !skip, nil
}
