package harfanglab

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// seqPos is a stream position "<ms>-<n>" as two integers: the text would keep a string of the
// decoded change alive per claim. The zero value stands for no position (an empty or
// malformed seq): nothing sorts before 0-0, so like those it never holds a change back.
type seqPos struct{ ms, n uint64 }

func seqOf(seq string) seqPos {
	ms, n, ok := intel.ParseSeq(seq)
	if !ok {
		return seqPos{}
	}
	return seqPos{ms, n}
}

// holdsBack tells whether a change at seq is older than p (see intel.CompareSeq).
func (p seqPos) holdsBack(seq string) bool {
	ms, n, ok := intel.ParseSeq(seq)
	return ok && (ms < p.ms || ms == p.ms && n < p.n)
}

func (p seqPos) String() string { return fmt.Sprintf("%d-%d", p.ms, p.n) }

// claimState is what one relationship claim (owner, via) holds, as known to this process.
type claimState struct {
	via    string
	seq    seqPos
	values keySet
	last   *intel.Change // last live change applied (to restore the claim)
}

// ownerState is everything known about one owner indicator. mu serialises its changes.
// The index holds one per indicator, so the common case (a pattern claim holding one value)
// fits this one 80-byte struct: the pattern claim is inline (its stream position and first
// value), and what few owners have (relationship claims, further values, dormant claims,
// rules) hangs from one pointer.
type ownerState struct {
	mu          sync.Mutex
	id          ownerID
	validUntil  *time.Time   // expiry instant (from changes or comments)
	info        *ownerRecord // owner-level fields of its latest live pattern change
	extra       *ownerExtra  // nil until the owner needs one of its fields
	patternSeq  seqPos
	patternOne  *iocEntry // first value of the pattern claim (nil: none)
	expiring    atomic.Bool
	dead        bool // its pattern claim went not-live in this process
	patternSeen bool // a pattern change of it was applied in this process
	// snapshotMark is the number of the last snapshot that named this owner (sweeper.mark):
	// one byte in the struct's padding instead of an entry per indicator in a set (issue 12:
	// a first-run snapshot names every indicator). Guarded by mu.
	snapshotMark uint8
}

// ownerExtra is what few owners have.
type ownerExtra struct {
	claims      []*claimState            // relationship claims
	patternRest *keySetRest              // pattern values beyond patternOne
	dormant     map[string]*intel.Change // relationship claims suspended while the owner is dead
	rules       map[string]*ruleEntry    // by rule kind
}

// newOwnerState builds an empty owner: everything but the pattern claim is made on first use
// (the index holds one owner per indicator).
func newOwnerState(id ownerID) *ownerState {
	return &ownerState{id: id}
}

func (s *ownerState) more() *ownerExtra {
	if s.extra == nil {
		s.extra = &ownerExtra{}
	}
	return s.extra
}

// dormant and rules return the owner's maps, nil (read-only empty) when it has none.
func (s *ownerState) dormant() map[string]*intel.Change {
	if s.extra == nil {
		return nil
	}
	return s.extra.dormant
}

func (s *ownerState) rules() map[string]*ruleEntry {
	if s.extra == nil {
		return nil
	}
	return s.extra.rules
}

// relClaims are the owner's relationship claims, in the order they were made.
func (s *ownerState) relClaims() []*claimState {
	if s.extra == nil {
		return nil
	}
	return s.extra.claims
}

func (s *ownerState) setDormant(via string, c *intel.Change) {
	x := s.more()
	if x.dormant == nil {
		x.dormant = map[string]*intel.Change{}
	}
	x.dormant[via] = c
}

func (s *ownerState) setRule(kind string, r *ruleEntry) {
	x := s.more()
	if x.rules == nil {
		x.rules = map[string]*ruleEntry{}
	}
	x.rules[kind] = r
}

// relClaim returns the relationship claim via, made if absent.
func (s *ownerState) relClaim(via string) *claimState {
	for _, c := range s.relClaims() {
		if c.via == via {
			return c
		}
	}
	c := &claimState{via: via}
	x := s.more()
	x.claims = append(x.claims, c)
	return c
}

// seqOf is the stream position of the claim via (zero when it has none).
func (s *ownerState) seqOf(via string) seqPos {
	if via == intel.ViaPattern {
		return s.patternSeq
	}
	for _, c := range s.relClaims() {
		if c.via == via {
			return c.seq
		}
	}
	return seqPos{}
}

// setSeq records the position of the claim via (making the claim if absent).
func (s *ownerState) setSeq(via string, p seqPos) {
	if via == intel.ViaPattern {
		s.patternSeq = p
		return
	}
	s.relClaim(via).seq = p
}

// values returns the values the claim via holds (empty when it has none). The set is a
// copy: changes are stored back with setValues.
func (s *ownerState) values(via string) keySet {
	if via == intel.ViaPattern {
		ks := keySet{one: s.patternOne}
		if s.extra != nil {
			ks.rest = s.extra.patternRest
		}
		return ks
	}
	for _, c := range s.relClaims() {
		if c.via == via {
			return c.values
		}
	}
	return keySet{}
}

// setValues stores the values of the claim via (making the claim if absent).
func (s *ownerState) setValues(via string, ks keySet) {
	if via != intel.ViaPattern {
		s.relClaim(via).values = ks
		return
	}
	s.patternOne = ks.one
	if ks.rest != nil || s.extra != nil {
		s.more().patternRest = ks.rest
	}
}

// addValue records that the claim via holds e.
func (s *ownerState) addValue(via string, e *iocEntry) {
	ks := s.values(via)
	ks.add(e)
	s.setValues(via, ks)
}

// dropClaim forgets the claim via.
func (s *ownerState) dropClaim(via string) {
	if via == intel.ViaPattern {
		s.patternSeq = seqPos{}
		s.setValues(via, keySet{})
		return
	}
	if s.extra != nil {
		s.extra.claims = slices.DeleteFunc(s.extra.claims, func(c *claimState) bool { return c.via == via })
	}
}

// heldValues counts the IOC values the owner's claims hold.
func (s *ownerState) heldValues() int {
	ks := s.values(intel.ViaPattern)
	n := ks.len()
	for _, c := range s.relClaims() {
		n += c.values.len()
	}
	return n
}

// holdsAnything reports whether the owner has anything in HarfangLab.
func (s *ownerState) holdsAnything() bool {
	if s.heldValues() > 0 {
		return true
	}
	for _, r := range s.rules() {
		if r.live() {
			return true
		}
	}
	return false
}

// noteValidUntil keeps the latest known expiry of an owner (called while loading).
func (s *ownerState) noteValidUntil(t *time.Time) {
	if t != nil && (s.validUntil == nil || t.After(*s.validUntil)) {
		v := *t
		s.validUntil = &v
	}
}
