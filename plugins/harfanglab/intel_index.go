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
// The index holds one per owned value: its type and status are small codes and sit with the
// booleans so the struct fits the 96-byte allocation class instead of 112.
type iocEntry struct {
	mu    sync.Mutex
	value string

	id          compactID // "" when the value is not (or no longer) in HarfangLab
	description string
	commentSum  uint64 // hash of the comment HarfangLab holds (the text itself is rebuilt from owners)
	owners      owners
	typ         iocType
	hlStatus    statusCode
	enabled     bool
	block       bool
	foreign     bool // the comment is not ours: never modify or delete
	// conflictLogged records that a change wanting this foreign entry was reported.
	conflictLogged bool
}

func newEntry(k iocKey) *iocEntry { return &iocEntry{value: k.value, typ: iocTypeOf(k.typ)} }

// key is the entry's IOC type and value.
func (e *iocEntry) key() iocKey { return iocKey{e.typ.String(), e.value} }

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

// index is the in-memory mirror of the connector's three lists.
type index struct {
	iocSource, sigmaSource, yaraSource string
	shard                              shard // entries of other writers are not loaded

	mu      sync.Mutex
	entries table[iocKey, iocEntry]
	owners  table[ownerID, ownerState]
	rules   map[string]*ruleEntry // by ruleKey
	live    atomic.Int64          // entries present in HarfangLab
}

func newIndex() *index {
	return &index{
		entries: newTable((*iocEntry).key),
		owners:  newTable(func(s *ownerState) ownerID { return s.id }),
		rules:   map[string]*ruleEntry{},
	}
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
	e := ix.entries.get(k)
	if e == nil {
		e = newEntry(k)
		e.owners = owners{}
		ix.entries.put(e)
	}
	return e
}

func (ix *index) owner(id ownerID) *ownerState {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.ownerNoLock(id)
}

func (ix *index) ownerList() []*ownerState {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.owners.all()
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
		k := iocKey{r.Type, r.Value}
		if !ix.shard.owns(k.String()) {
			return nil
		}
		e := newEntry(k)
		e.load(r)
		if e.foreign {
			foreign++
		}
		ix.entries.put(e)
		ix.live.Add(1)
		for i, c := range e.owners {
			rec := c.rec
			s := ix.ownerNoLock(c.id)
			e.owners[i].id = s.id // one copy of the id per owner, not one per value
			for _, via := range rec.Via {
				s.addValue(via, e)
			}
			s.noteValidUntil(rec.ValidUntil)
		}
		return nil
	})
	return foreign, err
}

func (ix *index) ownerNoLock(id ownerID) *ownerState {
	s := ix.owners.get(id)
	if s == nil {
		s = newOwnerState(id)
		ix.owners.put(s)
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
		s := ix.ownerNoLock(ownerIDOf(owner))
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
