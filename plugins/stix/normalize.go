package stix

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// valueKind is what a supported STIX property (or OpenCTI observable type) holds.
type valueKind int

const (
	kindNone valueKind = iota
	kindDomain
	kindIPv4
	kindIPv6
	kindURL
	kindFileName
	kindHash
)

// hashLengths maps a normalised hash algorithm name to its length in hex digits. Other
// algorithms (SSDEEP, TLSH, SHA3-*) have no HarfangLab IOC type and are skipped.
var hashLengths = map[string]int{"MD5": 32, "SHA1": 40, "SHA256": 64, "SHA512": 128}

// hashAlgorithm normalises "SHA-256", "sha256", "'SHA-256'" to "SHA256".
func hashAlgorithm(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", ""))
}

// normalize validates and canonicalises a value for an IOC of the given kind. A blank value is
// skipped (skip true, no error); a value that cannot be what its kind says is an error.
// algorithm is the hash algorithm for kindHash.
func normalize(kind valueKind, algorithm, raw string) (ioc intel.IOC, skip bool, err error) {
	if kind == kindDomain && canonicalDomain(raw) {
		return intel.IOC{Type: intel.TypeDomainName, Value: raw}, false, nil
	}
	v := strings.TrimSpace(raw)
	if v == "" {
		return ioc, true, nil
	}
	// JSON decoding turns invalid UTF-8 into U+FFFD: a value carrying it came from broken
	// input and would match nothing real (or the wrong thing) in HarfangLab.
	if strings.ContainsRune(v, utf8.RuneError) {
		return ioc, false, fmt.Errorf("%q is not valid UTF-8", clip(raw))
	}
	switch kind {
	case kindHash:
		want := hashLengths[algorithm]
		v = strings.ToLower(v)
		if len(v) != want || !isHex(v) {
			return ioc, false, fmt.Errorf("%q is not a valid %s hash (want %d hex digits)", clip(raw), algorithm, want)
		}
		return intel.IOC{Type: intel.TypeHash, Value: v}, false, nil
	case kindIPv4, kindIPv6:
		v, err = normalizeIP(kind, v)
		if err != nil {
			return ioc, false, err
		}
		return intel.IOC{Type: intel.TypeIPBoth, Value: v}, false, nil
	case kindDomain:
		v, err = normalizeDomain(v)
		if err != nil {
			return ioc, false, err
		}
		return intel.IOC{Type: intel.TypeDomainName, Value: v}, false, nil
	case kindURL:
		if hasControl(v) || strings.ContainsAny(v, " \t") {
			return ioc, false, fmt.Errorf("%q is not a valid URL (white space or control character)", clip(raw))
		}
		return intel.IOC{Type: intel.TypeURL, Value: v}, false, nil
	case kindFileName:
		if hasControl(v) {
			return ioc, false, fmt.Errorf("%q is not a valid file name (control character)", clip(raw))
		}
		return intel.IOC{Type: intel.TypeFilename, Value: v}, false, nil
	}
	return ioc, true, nil
}

// normalizeIP accepts an address or a CIDR prefix of the right family and prints it in
// canonical form (IPv6 compressed and lower-cased).
func normalizeIP(kind valueKind, v string) (string, error) {
	family := "IPv4"
	if kind == kindIPv6 {
		family = "IPv6"
	}
	var addr netip.Addr
	var out string
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return "", fmt.Errorf("%q is not a valid %s address or CIDR", clip(v), family)
		}
		addr, out = p.Addr(), p.String()
	} else {
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return "", fmt.Errorf("%q is not a valid %s address or CIDR", clip(v), family)
		}
		addr, out = a, a.String()
	}
	if kind == kindIPv4 && !addr.Is4() || kind == kindIPv6 && !addr.Is6() {
		return "", fmt.Errorf("%q is not an %s address", clip(v), family)
	}
	return out, nil
}

// normalizeDomain lower-cases, strips the trailing dot of a fully qualified name and checks the
// DNS shape: labels of 1-63 bytes of letters, digits, '-' and '_' (or non-ASCII letters of an
// internationalised name), 253 bytes at most.
func normalizeDomain(v string) (string, error) {
	v = strings.ToLower(strings.TrimSuffix(v, "."))
	bad := func(why string) error { return fmt.Errorf("%q is not a valid domain name (%s)", clip(v), why) }
	if v == "" || len(v) > 253 {
		return "", bad("length")
	}
	if !utf8.ValidString(v) {
		return "", bad("invalid UTF-8")
	}
	label := 0 // bytes in the current label
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '.':
			if label == 0 {
				return "", bad("empty label")
			}
			label = 0
			continue
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= utf8.RuneSelf:
			// non-ASCII bytes belong to letters of an internationalised name (UTF-8 checked above)
		default:
			return "", bad("character " + strconv.QuoteRune(rune(c)))
		}
		if label++; label > 63 {
			return "", bad("label longer than 63 bytes")
		}
	}
	if label == 0 {
		return "", bad("empty label")
	}
	return v, nil
}

// canonicalDomain tells, in one pass, that normalizeDomain would return v as it is: lower-case
// ASCII letters, digits, '-' and '_' in labels of 1-63 bytes, 253 bytes at most, no trailing
// dot. Nearly every domain of a large IN list is so; the others take the full path.
func canonicalDomain(v string) bool {
	if len(v) == 0 || len(v) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_':
			if label++; label > 63 {
				return false
			}
		default:
			return false
		}
	}
	return label > 0
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// clip keeps error strings short whatever the input size.
func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	cut := 77
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
