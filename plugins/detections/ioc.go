package detections

import (
	"encoding/hex"
	"fmt"
	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/stixid"
	"net/netip"
	"strings"
)

// iocObservable is what one HarfangLab IOC (type, value) becomes: a cyber observable and the
// STIX pattern of an indicator that detects it.
type iocObservable struct {
	object       obj    // the SCO (without author/marking)
	pattern      string // STIX 2.1 pattern
	mainType     string // x_opencti_main_observable_type
	hashAlg      string // for a hash IOC: the STIX hash algorithm
	hashValue    string
	displayValue string
}

// hashAlgByLength maps a hex digest length to its STIX hash algorithm name.
var hashAlgByLength = map[int]string{32: "MD5", 40: "SHA-1", 64: "SHA-256", 128: "SHA-512"}

// hashAlgorithm returns the STIX algorithm of a hex digest, or "" when v is not one.
func hashAlgorithm(v string) string {
	alg, ok := hashAlgByLength[len(v)]
	if !ok {
		return ""
	}
	if _, err := hex.DecodeString(v); err != nil {
		return ""
	}
	return alg
}

// stixString quotes a value as a STIX pattern string literal.
func stixString(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// hashPath is the object path of a hash in a pattern (quoted when the name has a dash).
func hashPath(alg string) string {
	if strings.Contains(alg, "-") {
		return "file:hashes." + stixString(alg)
	}
	return "file:hashes." + alg
}

// convertIOC maps a HarfangLab IOC rule type and value to an observable and a pattern.
func convertIOC(iocType, value string) (iocObservable, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return iocObservable{}, fmt.Errorf("IOC of type %q has an empty value", iocType)
	}
	switch strings.ToLower(iocType) {
	case "hash":
		alg := hashAlgorithm(value)
		if alg == "" {
			return iocObservable{}, fmt.Errorf("IOC hash %q is not an MD5, SHA-1, SHA-256 or SHA-512 hex digest", value)
		}
		o := obj{"type": "file", "id": stixid.FileID("", map[string]string{alg: value}), "hashes": map[string]any{alg: value}}
		return iocObservable{object: o, pattern: "[" + hashPath(alg) + " = " + stixString(value) + "]",
			mainType: "StixFile", hashAlg: alg, hashValue: value, displayValue: value}, nil
	case "filename", "filepath":
		o := obj{"type": "file", "id": stixid.FileID(value, nil), "name": value}
		return iocObservable{object: o, pattern: "[file:name = " + stixString(value) + "]", mainType: "StixFile", displayValue: value}, nil
	case "ip_src", "ip_dst", "ip_both", "ip":
		typ, err := ipType(value)
		if err != nil {
			return iocObservable{}, err
		}
		o := obj{"type": typ, "id": stixid.ValueObservableID(typ, value), "value": value}
		main := map[string]string{"ipv4-addr": "IPv4-Addr", "ipv6-addr": "IPv6-Addr"}[typ]
		return iocObservable{object: o, pattern: "[" + typ + ":value = " + stixString(value) + "]", mainType: main, displayValue: value}, nil
	case "domain_name", "domain", "hostname":
		o := obj{"type": "domain-name", "id": stixid.ValueObservableID("domain-name", value), "value": value}
		return iocObservable{object: o, pattern: "[domain-name:value = " + stixString(value) + "]", mainType: "Domain-Name", displayValue: value}, nil
	case "url":
		o := obj{"type": "url", "id": stixid.ValueObservableID("url", value), "value": value}
		return iocObservable{object: o, pattern: "[url:value = " + stixString(value) + "]", mainType: "Url", displayValue: value}, nil
	default:
		return iocObservable{}, fmt.Errorf("IOC type %q is not supported", iocType)
	}
}

// ipType tells ipv4-addr from ipv6-addr; CIDR blocks are accepted as STIX allows them.
func ipType(v string) (string, error) {
	var addr netip.Addr
	if p, err := netip.ParsePrefix(v); err == nil {
		addr = p.Addr()
	} else if a, err := netip.ParseAddr(v); err == nil {
		addr = a
	} else {
		return "", fmt.Errorf("IOC IP %q is neither an IPv4 nor an IPv6 address", v)
	}
	if addr.Is4() || addr.Is4In6() {
		return "ipv4-addr", nil
	}
	return "ipv6-addr", nil
}

// iocFromMessage reads "<type>=<value>" (or "<type>: <value>") from an IOC alert's msg, the
// format the HarfangLab connectors expect when the matched rule is not available.
func iocFromMessage(msg string) (typ, value string, ok bool) {
	typ, value, ok = strings.Cut(msg, "=")
	if !ok {
		typ, value, ok = strings.Cut(msg, ":")
	}
	typ, value = strings.TrimSpace(typ), strings.TrimSpace(value)
	return typ, value, ok && typ != "" && value != "" && !strings.ContainsAny(typ, " \t")
}
