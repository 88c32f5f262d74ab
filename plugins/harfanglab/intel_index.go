package harfanglab

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// sourceDescription is the description of the lists the connector creates (the one the older
// connectors used, so an existing deployment looks the same).
const sourceDescription = "Cyber Threat Intelligence knowledge imported from OpenCTI, and any changes must be made only to it."

type iocKey struct{ typ, value string }

// commentSum is a 64-bit FNV-1a hash of a comment: enough to tell whether HarfangLab's copy
// differs from the one we would write, at 8 bytes instead of the text per entry.
func commentSum(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

func (k iocKey) String() string { return k.typ + ":" + k.value }

// iocEntry is one IOCRule value: HarfangLab's state as last read or written, and its owners.
// mu serialises every write to the value.
//
// The index holds one per owned value: the status is a byte and sits with the booleans so the
// struct fits the 112-byte allocation class instead of 128.
type iocEntry struct {
	mu  sync.Mutex
	key iocKey

	id          compactID // "" when the value is not (or no longer) in HarfangLab
	description string
	commentSum  uint64 // hash of the comment HarfangLab holds (the text itself is rebuilt from owners)
	owners      owners
	hlStatus    statusCode
	enabled     bool
	block       bool
	foreign     bool // the comment is not ours: never modify or delete
	// conflictLogged records that a change wanting this foreign entry was reported.
	conflictLogged bool
}

// internType returns the constant of a known IOC type: decoded from JSON, every entry would
// otherwise hold its own copy of the same few words (statuses are a statusCode).
func internType(t string) string {
	switch t {
	case intel.TypeDomainName:
		return intel.TypeDomainName
	case intel.TypeIPBoth:
		return intel.TypeIPBoth
	case intel.TypeURL:
		return intel.TypeURL
	case intel.TypeHash:
		return intel.TypeHash
	case intel.TypeFilename:
		return intel.TypeFilename
	}
	return t
}

// iocRule is the IOCRule object as HarfangLab serialises it (fields the output uses).
type iocRule struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Value        string `json:"value"`
	Enabled      bool   `json:"enabled"`
	BlockOnAgent bool   `json:"block_on_agent"`
	Description  string `json:"description"`
	Comment      string `json:"comment"`
	HLStatus     string `json:"hl_status"`
}

// reset forgets HarfangLab's copy: the value is not in the list (the lock is kept).
func (e *iocEntry) reset() {
	e.id, e.enabled, e.block, e.description, e.hlStatus, e.commentSum, e.foreign = "", false, false, "", 0, 0, false
	e.owners = owners{}
}

func (e *iocEntry) load(r iocRule) {
	e.id, e.enabled, e.block = compactOf(r.ID), r.Enabled, r.BlockOnAgent
	e.description, e.hlStatus, e.commentSum = r.Description, statusOf(r.HLStatus), commentSum(r.Comment)
	o, ours := parseComment(r.Comment)
	e.foreign = !ours
	if o == nil {
		o = owners{}
	}
	e.owners = o
}

// ruleHolder is one owner of a rule entry and what its part of the name says.
type ruleHolder struct {
	owner      string
	base       string     // the indicator's name (first part of the rule name)
	validUntil *time.Time // written into the name so a restart still expires it
}

// ruleEntry is one Sigma rule or YARA file of our lists. A Sigma rule is one entry per Sigma id
// (HarfangLab refuses a second copy, W/D), shared by every owner carrying it; a YARA file is one
// entry per owner. mu serialises its writes; it is taken with an owner's lock held, never the
// other way round.
type ruleEntry struct {
	mu       sync.Mutex
	kind     string // intel.RuleSigma or intel.RuleYara
	key      string // ruleKey
	id       string // "" when not (or no longer) in HarfangLab
	name     string
	content  string
	enabled  bool
	hlStatus string
	// holders are the owners wanting it; the first is the one the HarfangLab name carries (the
	// only one a restart reads back: the others come back with their next change or a replay).
	holders []ruleHolder
	dups    []string // further copies found at start: removed on the next write
}

func (e *ruleEntry) hold(h ruleHolder) {
	for i := range e.holders {
		if e.holders[i].owner == h.owner {
			e.holders[i] = h
			return
		}
	}
	e.holders = append(e.holders, h)
}

func (e *ruleEntry) release(owner string) {
	e.holders = slices.DeleteFunc(e.holders, func(h ruleHolder) bool { return h.owner == owner })
}

// forget records that HarfangLab no longer holds the entry.
func (e *ruleEntry) forget() { e.id, e.name, e.content, e.enabled, e.hlStatus = "", "", "", false, "" }

func (e *ruleEntry) load(r ruleObject) {
	e.id, e.name, e.content, e.enabled, e.hlStatus = r.ID, r.Name, r.Content, r.Enabled, r.HLStatus
}

// live tells whether the entry is in HarfangLab and active (or has copies left to remove).
func (e *ruleEntry) live() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.id != "" && (e.enabled || len(e.dups) > 0)
}

// ruleObject is a SigmaRule / YaraFile as HarfangLab serialises it (fields the output uses).
type ruleObject struct {
	ID       string `json:"id"`
	SourceID string `json:"source_id"`
	Name     string `json:"name"`
	Content  string `json:"content"`
	Enabled  bool   `json:"enabled"`
	HLStatus string `json:"hl_status"`
}

// claimState is what one claim (owner, via) holds, as known to this process.
type claimState struct {
	via    string
	seq    string
	values keySet
	last   *intel.Change // last live change applied (to restore relationship claims)
}

// ownerState is everything known about one owner indicator. mu serialises its changes.
// The index holds one per indicator: the booleans sit together and the rarely used maps hang
// from one pointer so the struct fits the 80-byte allocation class instead of 96.
type ownerState struct {
	mu          sync.Mutex
	id          string
	validUntil  *time.Time    // expiry instant (from changes or comments)
	info        *ownerRecord  // owner-level fields of its latest live pattern change
	claims      []*claimState // usually one (the pattern): a slice costs far less than a map
	extra       *ownerExtra   // nil until the owner has a dormant claim or a rule
	expiring    atomic.Bool
	dead        bool // its pattern claim went not-live in this process
	patternSeen bool // a pattern change of it was applied in this process
}

// ownerExtra is what few owners have.
type ownerExtra struct {
	dormant map[string]*intel.Change // relationship claims suspended while the owner is dead
	rules   map[string]*ruleEntry    // by rule kind
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

// newOwnerState builds an empty owner: dormant claims and rules are rare, and their maps are
// made on first use (the index holds one owner per indicator).
func newOwnerState(id string) *ownerState {
	return &ownerState{id: id}
}

// claimOf returns the claim via holds, or nil.
func (s *ownerState) claimOf(via string) *claimState {
	for _, c := range s.claims {
		if c.via == via {
			return c
		}
	}
	return nil
}

// dropClaim forgets the claim via.
func (s *ownerState) dropClaim(via string) {
	s.claims = slices.DeleteFunc(s.claims, func(c *claimState) bool { return c.via == via })
}

func (s *ownerState) setDormant(via string, c *intel.Change) {
	if s.extra == nil {
		s.extra = &ownerExtra{}
	}
	if s.extra.dormant == nil {
		s.extra.dormant = map[string]*intel.Change{}
	}
	s.extra.dormant[via] = c
}

func (s *ownerState) setRule(kind string, r *ruleEntry) {
	if s.extra == nil {
		s.extra = &ownerExtra{}
	}
	if s.extra.rules == nil {
		s.extra.rules = map[string]*ruleEntry{}
	}
	s.extra.rules[kind] = r
}

func (s *ownerState) claim(via string) *claimState {
	c := s.claimOf(via)
	if c == nil {
		if via == intel.ViaPattern {
			via = intel.ViaPattern // one string for every owner, not a decoded copy each
		}
		c = &claimState{via: via}
		s.claims = append(s.claims, c)
	}
	return c
}

// holdsAnything reports whether the owner has anything in HarfangLab.
func (s *ownerState) holdsAnything() bool {
	for _, c := range s.claims {
		if c.values.len() > 0 {
			return true
		}
	}
	for _, r := range s.rules() {
		if r.live() {
			return true
		}
	}
	return false
}

// index is the in-memory mirror of the connector's three lists.
type index struct {
	iocSource, sigmaSource, yaraSource string
	shard                              shard // entries of other writers are not loaded

	mu      sync.Mutex
	entries map[iocKey]*iocEntry
	owners  map[string]*ownerState
	rules   map[string]*ruleEntry // by ruleKey
	live    atomic.Int64          // entries present in HarfangLab
}

func newIndex() *index {
	return &index{entries: map[iocKey]*iocEntry{}, owners: map[string]*ownerState{}, rules: map[string]*ruleEntry{}}
}

func (ix *index) ruleEntry(kind, key string) *ruleEntry {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e := ix.rules[key]
	if e == nil {
		e = &ruleEntry{kind: kind, key: key}
		ix.rules[key] = e
	}
	return e
}

func (ix *index) entry(k iocKey) *iocEntry {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e := ix.entries[k]
	if e == nil {
		k.typ = internType(k.typ)
		e = &iocEntry{key: k, owners: owners{}}
		ix.entries[k] = e
	}
	return e
}

func (ix *index) owner(id string) *ownerState {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	s := ix.owners[id]
	if s == nil {
		s = newOwnerState(id)
		ix.owners[id] = s
	}
	return s
}

func (ix *index) ownerList() []*ownerState {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	out := make([]*ownerState, 0, len(ix.owners))
	for _, s := range ix.owners {
		out = append(out, s)
	}
	return out
}

// noteValidUntil keeps the latest known expiry of an owner (called while loading).
func (s *ownerState) noteValidUntil(t *time.Time) {
	if t != nil && (s.validUntil == nil || t.After(*s.validUntil)) {
		v := *t
		s.validUntil = &v
	}
}

// findSource returns the id of the list named name, or "" when it does not exist. Only an
// exact name match is accepted: another list is never adopted.
func findSource(ctx context.Context, c *Client, path, name string) (string, error) {
	var id string
	err := c.List(ctx, path, url.Values{"name__exact": {name}, "limit": {"100"}}, func(raw json.RawMessage) error {
		var s struct{ ID, Name string }
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("decoding source list: %w", err)
		}
		if s.Name == name && id == "" {
			id = s.ID
		}
		return nil
	})
	return id, err
}

// loadIOCs fills the index with every IOC rule of the IOC list (its pages read several at once).
func (ix *index) loadIOCs(ctx context.Context, c *Client) (foreign int, err error) {
	err = ListOfParallel(ctx, c, PathIOCRule, url.Values{"source_id": {ix.iocSource}}, ListPagesAtOnce, func(r iocRule) error {
		k := iocKey{internType(r.Type), r.Value}
		if !ix.shard.owns(k.String()) {
			return nil
		}
		e := &iocEntry{key: k}
		e.load(r)
		if e.foreign {
			foreign++
		}
		ix.entries[k] = e
		ix.live.Add(1)
		for _, c := range e.owners {
			rec := c.rec
			s := ix.ownerNoLock(c.id)
			for _, via := range rec.Via {
				s.claim(via).values.add(k)
			}
			s.noteValidUntil(rec.ValidUntil)
		}
		return nil
	})
	return foreign, err
}

func (ix *index) ownerNoLock(id string) *ownerState {
	s := ix.owners[id]
	if s == nil {
		s = newOwnerState(id)
		ix.owners[id] = s
	}
	return s
}

// loadRules fills the index with the Sigma rules or YARA files of one list; entries whose name
// carries no owner suffix are someone else's and are ignored. The owner and its expiry are read
// from the name (see intel_rule_content.go for why not the description).
func (ix *index) loadRules(ctx context.Context, c *Client, kind, path, sourceID string) (foreign int, err error) {
	err = ListOf(ctx, c, path, url.Values{"source_id": {sourceID}}, func(r ruleObject) error {
		owner, until := parseRuleName(r.Name)
		if owner == "" {
			foreign++
			return nil
		}
		key := ruleKey(kind, owner, r.Content)
		if !ix.shard.owns(key) {
			return nil
		}
		if cur := ix.rules[key]; cur != nil {
			cur.dups = append(cur.dups, r.ID)
			return nil
		}
		e := &ruleEntry{kind: kind, key: key}
		e.load(r)
		base := strings.TrimSpace(ruleNameRe.FindStringSubmatch(strings.TrimSpace(r.Name))[1])
		e.holders = []ruleHolder{{owner: owner, base: base, validUntil: until}}
		ix.rules[key] = e
		s := ix.ownerNoLock(owner)
		if prev := s.rules()[kind]; prev != nil { // the owner's older entry (another Sigma id)
			prev.dups = append(prev.dups, r.ID)
			delete(ix.rules, key)
			return nil
		}
		s.setRule(kind, e)
		s.noteValidUntil(until)
		ix.live.Add(1)
		return nil
	})
	return foreign, err
}
