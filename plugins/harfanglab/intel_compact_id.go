package harfanglab

import (
	"encoding/hex"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// compactID is the HarfangLab id of an IOC entry as the index keeps it. HarfangLab answers
// UUIDs: in canonical form (36 characters, a 48-byte allocation) the index would spend more on
// the id than on the value; kept as its 16 bytes behind a marker (a 24-byte allocation) it
// costs half. Any other id is kept as written (behind a marker if it could be mistaken for a
// compact one), so an id not in UUID form works as before.
type compactID string

const (
	compactUUID    = '\x00'
	compactLiteral = '\x01'
)

func compactOf(s string) compactID {
	if b, ok := uuidBytes(s); ok {
		return compactID(string(compactUUID) + string(b[:]))
	}
	if s != "" && (s[0] == compactUUID || s[0] == compactLiteral) {
		return compactID(string(compactLiteral) + s)
	}
	return compactID(s)
}

// String is the id as HarfangLab wrote it.
func (c compactID) String() string {
	switch {
	case len(c) == 17 && c[0] == compactUUID:
		return formatUUID(string(c[1:]))
	case len(c) > 0 && c[0] == compactLiteral:
		return string(c[1:])
	}
	return string(c)
}

// formatUUID writes 16 bytes as a canonical lower-case UUID.
func formatUUID(b string) string {
	var out [36]byte
	hex.Encode(out[0:8], []byte(b[0:4]))
	out[8] = '-'
	hex.Encode(out[9:13], []byte(b[4:6]))
	out[13] = '-'
	hex.Encode(out[14:18], []byte(b[6:8]))
	out[18] = '-'
	hex.Encode(out[19:23], []byte(b[8:10]))
	out[23] = '-'
	hex.Encode(out[24:36], []byte(b[10:16]))
	return string(out[:])
}

// uuidBytes decodes a canonical lower-case UUID (the only form re-encoded identically).
func uuidBytes(s string) (b [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return b, false
	}
	j := 0
	for i := 0; i < 36; i += 2 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i--
			continue
		}
		hi, ok1 := lowerHex(s[i])
		lo, ok2 := lowerHex(s[i+1])
		if !ok1 || !ok2 {
			return b, false
		}
		b[j] = hi<<4 | lo
		j++
	}
	return b, true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// statusCode is an hl_status (or a rule maturity) as the index keeps it: one byte naming an
// entry of a process-wide table, instead of a 16-byte string header in every entry and record.
// HarfangLab's statuses are an enum of three words; past 255 distinct ones (a server answering
// garbage) a new one reads back as "" and is rewritten to the default like a missing one.
type statusCode uint8

var statuses = struct {
	sync.RWMutex
	names []string
	codes map[string]statusCode
}{
	names: []string{"", "stable", "testing", "experimental"},
	codes: map[string]statusCode{"": 0, "stable": 1, "testing": 2, "experimental": 3},
}

func statusOf(s string) statusCode {
	statuses.RLock()
	c, ok := statuses.codes[s]
	statuses.RUnlock()
	if ok {
		return c
	}
	statuses.Lock()
	defer statuses.Unlock()
	if c, ok := statuses.codes[s]; ok {
		return c
	}
	if len(statuses.names) > 255 {
		return 0
	}
	c = statusCode(len(statuses.names))
	statuses.names = append(statuses.names, strings.Clone(s))
	statuses.codes[statuses.names[c]] = c
	return c
}

func (c statusCode) String() string {
	statuses.RLock()
	defer statuses.RUnlock()
	return statuses.names[c]
}

// ownerID is an owner indicator's id as the index keeps it (in its owner, and in the owners
// of every value it holds). OpenCTI ids are UUIDs, internal ones bare and STIX ones after
// "indicator--": kept as their 16 bytes (a 16-byte allocation instead of 48) or behind a marker
// (24 instead of 48). Any other id is kept as written, behind a marker when it could be
// mistaken for a compact one.
type ownerID string

const (
	ownerMarkSTIX    = '\x01'
	ownerMarkLiteral = '\x02'
	stixIndicator    = "indicator--"
)

func ownerIDOf(s string) ownerID {
	if b, ok := uuidBytes(s); ok {
		return ownerID(b[:])
	}
	if rest, ok := strings.CutPrefix(s, stixIndicator); ok {
		if b, ok := uuidBytes(rest); ok {
			return ownerID(string(ownerMarkSTIX) + string(b[:]))
		}
	}
	if len(s) == 16 || len(s) > 0 && (s[0] == ownerMarkSTIX || s[0] == ownerMarkLiteral) {
		return ownerID(string(ownerMarkLiteral) + s)
	}
	return ownerID(s)
}

// kind tells how the id is kept: 'u' a bare UUID, 's' a STIX indicator id, 'l' as written.
func (id ownerID) kind() byte {
	switch {
	case len(id) == 16:
		return 'u'
	case len(id) == 17 && id[0] == ownerMarkSTIX:
		return 's'
	}
	return 'l'
}

// String is the id as OpenCTI wrote it.
func (id ownerID) String() string {
	switch id.kind() {
	case 'u':
		return formatUUID(string(id))
	case 's':
		return stixIndicator + formatUUID(string(id[1:]))
	}
	if len(id) > 0 && id[0] == ownerMarkLiteral {
		return string(id[1:])
	}
	return string(id)
}

// compare orders ids as their text does (the comment lists owners in that order). Two ids
// kept the same way compare as kept: UUID bytes sort like their lower-case hex form.
func (id ownerID) compare(other ownerID) int {
	if k := id.kind(); k != 'l' && k == other.kind() {
		return strings.Compare(string(id), string(other))
	}
	return strings.Compare(id.String(), other.String())
}

// iocType is an IOC type as the index keeps it: two bytes naming an entry of a process-wide
// table, instead of a 16-byte string header in every entry. HarfangLab's IOC types are an enum
// of a few words (the known ones have fixed codes). The names are read with no lock (the key
// of every entry is rebuilt from them on each lookup): a new type publishes a new table.
type iocType uint16

var iocTypes = struct {
	sync.Mutex
	names atomic.Pointer[[]string]
	codes map[string]iocType
}{codes: map[string]iocType{}}

// knownIOCTypes get the first codes, in this order: they are found without the lock.
var knownIOCTypes = [...]string{"", intel.TypeDomainName, intel.TypeIPBoth, intel.TypeURL, intel.TypeHash, intel.TypeFilename}

func init() {
	names := slices.Clone(knownIOCTypes[:])
	iocTypes.names.Store(&names)
	for c, t := range names {
		iocTypes.codes[t] = iocType(c)
	}
}

// iocTypeOf returns the code of t, registering it if new. Past 65 535 distinct types (no
// HarfangLab has more than a handful; it refuses any other) every new one shares the last code.
func iocTypeOf(t string) iocType {
	for c, name := range knownIOCTypes {
		if name == t {
			return iocType(c)
		}
	}
	iocTypes.Lock()
	defer iocTypes.Unlock()
	if c, ok := iocTypes.codes[t]; ok {
		return c
	}
	names := *iocTypes.names.Load()
	if len(names) > math.MaxUint16 {
		return math.MaxUint16
	}
	c := iocType(len(names))
	names = append(slices.Clip(names), strings.Clone(t))
	iocTypes.names.Store(&names)
	iocTypes.codes[names[c]] = c
	return c
}

func (c iocType) String() string { return (*iocTypes.names.Load())[c] }
