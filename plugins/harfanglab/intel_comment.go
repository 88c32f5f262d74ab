package harfanglab

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// ownerRecord is what one owner indicator holds on one HarfangLab entry. It is stored under
// "claims" in the entry's comment so that a restart rebuilds ownership, scores and expiry
// timers from HarfangLab alone.
//
// Values share their owner's record when it says the same, so there is about one per owner:
// the platforms, which most owners lack, hang from a pointer so that the record fits the
// 80-byte allocation class instead of 96.
type ownerRecord struct {
	Via        []string   `json:"via"`
	Score      *int       `json:"score,omitempty"`
	Platforms  *platforms `json:"platforms,omitempty"` // nil when none (never an empty list)
	Block      bool       `json:"block,omitempty"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`

	// Known in this process only (not in the comment): the owner's description and rule
	// maturity, taken from its latest Change.
	description string
	maturity    statusCode
	known       bool
	// keep asks to keep the owner-level fields a value already records (a relationship
	// change applied before the owner's pattern change was seen).
	keep bool
}

// platforms are the platforms an owner's record names.
type platforms []string

// platformsOf keeps a list of platforms, nil when it is empty (omitted from the comment, as an
// empty list always was).
func platformsOf(list []string) *platforms {
	if len(list) == 0 {
		return nil
	}
	p := platforms(slices.Clone(list))
	return &p
}

// platforms returns the record's platforms (nil when none).
func (r *ownerRecord) platforms() []string {
	if r.Platforms == nil {
		return nil
	}
	return *r.Platforms
}

// viaPatternOnly is the Via of most records, shared by them all (never modified in place).
var viaPatternOnly = []string{intel.ViaPattern}

func (r *ownerRecord) hasVia(via string) bool { return slices.Contains(r.Via, via) }

func (r *ownerRecord) addVia(via string) {
	if !r.hasVia(via) {
		if len(r.Via) == 0 && via == intel.ViaPattern {
			r.Via = viaPatternOnly
			return
		}
		r.Via = append(slices.Clip(r.Via), via) // a new array: the old one may be shared
		sort.Strings(r.Via)
	}
}

func (r *ownerRecord) dropVia(via string) {
	if r.hasVia(via) {
		r.Via = slices.DeleteFunc(slices.Clone(r.Via), func(v string) bool { return v == via })
	}
}

// sameRecord tells whether two records say the same: a value then points at the shared one
// instead of holding a copy.
func sameRecord(a, b *ownerRecord) bool {
	return a.Block == b.Block && a.known == b.known && a.keep == b.keep &&
		a.description == b.description && a.maturity == b.maturity &&
		slices.Equal(a.Via, b.Via) && slices.Equal(a.platforms(), b.platforms()) &&
		(a.Score == b.Score || a.Score != nil && b.Score != nil && *a.Score == *b.Score) &&
		(a.ValidUntil == b.ValidUntil || a.ValidUntil != nil && b.ValidUntil != nil && a.ValidUntil.Equal(*b.ValidUntil))
}

// ownerClaim is one owner of a value and its record.
type ownerClaim struct {
	id  ownerID
	rec *ownerRecord
}

// owners are the owners of one value, sorted by id. An entry holds one per value: a slice of
// (usually) one element costs a fraction of a map. Both the slice and the records it points at
// are immutable once stored: records are shared between the values of an owner (and with the
// owner's own info), so a change builds new ones instead of editing them.
type owners []ownerClaim

// get returns the record of id, or nil.
func (o owners) get(id ownerID) *ownerRecord {
	if i, ok := o.find(id); ok {
		return o[i].rec
	}
	return nil
}

func (o owners) find(id ownerID) (int, bool) {
	return slices.BinarySearchFunc(o, id, func(c ownerClaim, id ownerID) int { return c.id.compare(id) })
}

// with returns a copy of o where id holds rec.
func (o owners) with(id ownerID, rec *ownerRecord) owners {
	i, ok := o.find(id)
	if ok {
		next := slices.Clone(o)
		next[i].rec = rec
		return next
	}
	next := make(owners, 0, len(o)+1)
	next = append(next, o[:i]...)
	next = append(next, ownerClaim{id, rec})
	return append(next, o[i:]...)
}

// without returns o without the owners drop says to drop (o itself when none goes).
func (o owners) without(drop func(id ownerID) bool) owners {
	n := 0
	for _, c := range o {
		if !drop(c.id) {
			n++
		}
	}
	if n == len(o) {
		return o
	}
	next := make(owners, 0, n)
	for _, c := range o {
		if !drop(c.id) {
			next = append(next, c)
		}
	}
	return next
}

// ownersOf builds the sorted owners of a map (by the ids' text).
func ownersOf(m map[string]*ownerRecord) owners {
	o := make(owners, 0, len(m))
	for id, r := range m {
		o = append(o, ownerClaim{ownerIDOf(id), r})
	}
	slices.SortFunc(o, func(a, b ownerClaim) int { return a.id.compare(b.id) })
	return o
}

// sortedIDs orders owners so the comment, hence the end state, does not depend on the order in
// which concurrent changes were applied.
func (o owners) sortedIDs() []string {
	ids := make([]string, len(o))
	for i, c := range o {
		ids[i] = c.id.String()
	}
	return ids
}

// commentDoc is the comment JSON. Field order follows what the older connectors wrote
// (indicator_id, indicator_score, indicator_platforms) plus the owner list and claims.
type commentDoc struct {
	IndicatorID        *string                 `json:"indicator_id"`
	IndicatorIDs       []string                `json:"indicator_ids"`
	IndicatorScore     int                     `json:"indicator_score"`
	IndicatorPlatforms []string                `json:"indicator_platforms"`
	Claims             map[string]*ownerRecord `json:"claims,omitempty"`
}

// buildComment renders the ownership of an entry. An entry with no owner left (a disabled
// one) keeps an empty owner list, which still marks it as ours.
func buildComment(o owners) string {
	if b, ok := appendComment(make([]byte, 0, 256), o); ok {
		return string(b)
	}
	return buildCommentJSON(o)
}

// buildCommentJSON is buildComment through encoding/json: the reference appendComment is
// tested against, and its fallback.
func buildCommentJSON(o owners) string {
	doc := commentDoc{IndicatorIDs: o.sortedIDs(), IndicatorPlatforms: []string{}}
	if len(doc.IndicatorIDs) > 0 {
		first := doc.IndicatorIDs[0]
		doc.IndicatorID = &first
		doc.Claims = make(map[string]*ownerRecord, len(o))
		for i, c := range o {
			doc.Claims[doc.IndicatorIDs[i]] = c.rec
		}
	}
	plat := map[string]bool{}
	for _, c := range o {
		r := c.rec
		if r.Score != nil && *r.Score > doc.IndicatorScore {
			doc.IndicatorScore = *r.Score
		}
		for _, p := range r.platforms() {
			plat[p] = true
		}
	}
	for p := range plat {
		doc.IndicatorPlatforms = append(doc.IndicatorPlatforms, p)
	}
	sort.Strings(doc.IndicatorPlatforms)
	b, _ := json.Marshal(doc)
	return string(b)
}

// parseComment reads the owners of an entry from its comment, leniently: the current format,
// the older connectors' single `indicator_id`, and JSON double-encoded into a string. ours is
// false for anything else (empty, free text, JSON without owner ids): such an entry belongs to
// someone else and is never modified.
func parseComment(s string) (o owners, ours bool) {
	raw := []byte(strings.TrimSpace(s))
	for range 3 {
		var inner string
		if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &inner) != nil {
			break
		}
		raw = []byte(strings.TrimSpace(inner))
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	// Fast path: the format this connector writes decodes in one typed pass.
	var typed struct {
		IndicatorIDs       []string                `json:"indicator_ids"`
		IndicatorScore     *float64                `json:"indicator_score"`
		IndicatorPlatforms []string                `json:"indicator_platforms"`
		Claims             map[string]*ownerRecord `json:"claims"`
	}
	if json.Unmarshal(raw, &typed) == nil && typed.IndicatorIDs != nil {
		m := make(map[string]*ownerRecord, len(typed.IndicatorIDs))
		for _, id := range typed.IndicatorIDs {
			if id != "" {
				m[id] = normalizeRecord(typed.Claims[id], typed.IndicatorScore, typed.IndicatorPlatforms)
			}
		}
		return ownersOf(m), true
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(raw, &doc) != nil {
		return nil, false
	}
	var ids []string
	if rawIDs, ok := doc["indicator_ids"]; ok {
		var list []any
		if json.Unmarshal(rawIDs, &list) != nil {
			return nil, false
		}
		for _, v := range list {
			if id, ok := v.(string); ok && id != "" {
				ids = append(ids, id)
			}
		}
	} else {
		var id string
		if json.Unmarshal(doc["indicator_id"], &id) != nil || id == "" {
			return nil, false
		}
		ids = []string{id}
	}
	var claims map[string]json.RawMessage
	_ = json.Unmarshal(doc["claims"], &claims)
	var score *float64
	var s64 float64
	if json.Unmarshal(doc["indicator_score"], &s64) == nil {
		score = &s64
	}
	var platforms []string
	_ = json.Unmarshal(doc["indicator_platforms"], &platforms)

	m := map[string]*ownerRecord{}
	for _, id := range ids {
		rec := &ownerRecord{}
		if rawRec, ok := claims[id]; !ok || json.Unmarshal(rawRec, rec) != nil {
			rec = nil
		}
		m[id] = normalizeRecord(rec, score, platforms)
	}
	return ownersOf(m), true
}

// normalizeRecord completes an owner record. An owner without one (a comment of the older
// connectors) takes the comment's top-level score and platforms; a recorded one is kept as is,
// so reading and writing back a comment of ours changes nothing.
func normalizeRecord(rec *ownerRecord, score *float64, topPlatforms []string) *ownerRecord {
	if rec == nil {
		rec = &ownerRecord{Platforms: platformsOf(topPlatforms)}
		if score != nil {
			v := int(*score)
			rec.Score = &v
		}
	}
	if len(rec.platforms()) == 0 {
		rec.Platforms = nil // a decoded empty list is none
	}
	rec.Via = slices.DeleteFunc(rec.Via, func(v string) bool { return v == "" })
	if len(rec.Via) == 0 {
		// Older connectors only knew the indicator's own pattern.
		rec.Via = []string{intel.ViaPattern}
	}
	sort.Strings(rec.Via)
	rec.Via = slices.Compact(rec.Via)
	return rec
}
