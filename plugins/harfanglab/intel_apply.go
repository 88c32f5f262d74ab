package harfanglab

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// claimUpdate is the new desired content of one claim.
type claimUpdate struct {
	via    string
	iocs   []intel.IOC // empty: the claim holds nothing
	change *intel.Change
}

// changePlan is what one change asks of its owner: claim updates, and whether (and how) its
// Sigma/YARA entries are reconciled.
type changePlan struct {
	updates    []claimUpdate
	ruleChange *intel.Change // desired rule state of the owner (nil: none)
	touchRules bool
}

// apply applies one change under the lock of s, its owner. expired marks a change made up by
// the expiry loop (it carries no sequence and must not move the claim's one).
func (o *intelOutput) apply(ctx context.Context, ix *index, s *ownerState, c *intel.Change, expired bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	if prev := s.seqOf(c.Via); prev.holdsBack(c.Seq) {
		o.log.Debugf("ignoring change of %s via %s: seq %s is older than %s", c.Owner, c.Via, c.Seq, prev)
		return nil
	}
	live := c.Live && !c.ExpiredAt(o.now())
	var plan changePlan
	if c.Via == intel.ViaPattern {
		plan = s.planPattern(c, live)
	} else if !s.planRelationship(c, live, expired, &plan) {
		return nil
	}
	errs := o.runPlan(ctx, ix, s, c, plan)
	if !expired {
		s.setSeq(c.Via, seqOf(c.Seq))
	}
	o.m.entries.Set(ix.live.Load())
	return errors.Join(errs...)
}

// planPattern plans the owner's own change: its pattern claim, its rules, and its relationship
// claims (suspended while it is dead, restored when it comes back).
func (s *ownerState) planPattern(c *intel.Change, live bool) changePlan {
	plan := changePlan{touchRules: true}
	s.patternSeen = true
	s.validUntil = c.ValidUntil
	if !live {
		s.dead = true
		plan.updates = append(plan.updates, claimUpdate{via: intel.ViaPattern, change: c})
		for _, cl := range s.relClaims() {
			if cl.last != nil {
				s.setDormant(cl.via, cl.last)
			}
			plan.updates = append(plan.updates, claimUpdate{via: cl.via, change: c})
		}
		return plan
	}
	s.dead = false
	info := infoFrom(c)
	for _, ioc := range c.IOCs {
		info.Block = info.Block || ioc.Block
	}
	// Its Via is that of the pattern claim's values, which then point at it when they say the
	// same (see applyValues). Records are immutable: a later change builds a new one.
	info.Via = viaPatternOnly
	s.info = &info
	plan.updates = append(plan.updates, claimUpdate{via: intel.ViaPattern, iocs: c.IOCs, change: c})
	if c.Rule != nil {
		plan.ruleChange = c
	}
	// Relationship claims suspended while the owner was dead come back.
	for via, rc := range s.dormant() {
		plan.updates = append(plan.updates, claimUpdate{via: via, iocs: rc.IOCs, change: rc})
		delete(s.dormant(), via)
	}
	return plan
}

// planRelationship plans a based-on change; false when it only has to wait for its owner.
func (s *ownerState) planRelationship(c *intel.Change, live, expired bool, plan *changePlan) bool {
	if c.ValidUntil != nil && s.validUntil == nil {
		s.validUntil = c.ValidUntil
	}
	// A relationship only counts while its owner is live. An owner that holds nothing and
	// whose own change has not been seen in this process may be dead (or not yet
	// created): its relationships wait for its pattern change.
	if s.dead || (!s.patternSeen && !s.holdsAnything()) {
		if live {
			s.setDormant(c.Via, c)
		} else {
			delete(s.dormant(), c.Via)
		}
		if !expired {
			s.setSeq(c.Via, seqOf(c.Seq))
		}
		return false
	}
	up := claimUpdate{via: c.Via, change: c}
	if live {
		up.iocs = c.IOCs
	}
	plan.updates = append(plan.updates, up)
	return true
}

// runPlan writes a plan: every claim, then the rules (when this writer owns the owner).
func (o *intelOutput) runPlan(ctx context.Context, ix *index, s *ownerState, c *intel.Change, plan changePlan) []error {
	aliases := o.aliases(ix, c)
	var errs []error
	for _, up := range plan.updates {
		var upAliases []ownerID
		if up.via == intel.ViaPattern {
			upAliases = aliases
		}
		up.iocs = o.shard.iocs(up.iocs)
		if err := o.applyClaim(ctx, ix, s, up, upAliases); err != nil {
			errs = append(errs, err)
		}
	}
	if plan.touchRules {
		if err := o.applyRules(ctx, ix, s, plan.ruleChange); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// aliases are other owner keys naming the same indicator: its STIX ids, under which the older
// connectors recorded ownership. Their claims are taken over by the change's owner.
func (o *intelOutput) aliases(ix *index, c *intel.Change) []ownerID {
	if c.Via != intel.ViaPattern {
		return nil
	}
	var out []ownerID
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, id := range c.StixIDs {
		if id != "" && id != c.Owner {
			if s := ix.owners.get(ownerIDOf(id)); s != nil {
				out = append(out, s.id)
			}
		}
	}
	return out
}

// applyClaim reconciles one claim: values it no longer wants lose it, new ones gain it.
// Called with the owner's lock held.
func (o *intelOutput) applyClaim(ctx context.Context, ix *index, s *ownerState, up claimUpdate, aliases []ownerID) error {
	values := s.values(up.via)
	var cv claimValues
	cv.want(up.iocs)
	values.each(func(e *iocEntry) { cv.add(e.key()) })
	unlock := lockAliases(ix, s, aliases, &cv)
	defer unlock()
	rec := claimRecord(s, up)
	results := o.applyValues(ctx, ix, s, up.via, &cv, rec, aliases)
	var errs valueErrors
	for _, r := range results {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.e.key(), r.err))
			continue
		}
		if r.held {
			values.add(r.e)
		} else {
			values.remove(r.e)
		}
	}
	s.setValues(up.via, values)
	// Remember what a relationship claim wants, to restore it if its owner dies and comes back.
	if up.via != intel.ViaPattern && up.change != nil && up.change.Via == up.via {
		if up.change.Live {
			s.relClaim(up.via).last = up.change
		} else {
			s.relClaim(up.via).last = nil
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	err := fmt.Errorf("applying %s via %s: %w", s.id, up.via, errs)
	if ctx.Err() != nil {
		return errors.Join(err, ctx.Err())
	}
	if IsAuthFailure(err) || IsTransient(err) {
		return err
	}
	return &permanentError{err}
}

// valueErrors are the failures of one claim's values, one per value; the chains are kept so
// callers can tell an expired token from a refused value.
type valueErrors []error

func (v valueErrors) Error() string {
	msgs := make([]string, len(v))
	for i, e := range v {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

func (v valueErrors) Unwrap() []error { return v }

// claimValues are the values a claim update touches, each once: those the claim wants (its
// IOCs) and those it holds or its aliases held. Slices, indexed by a map only past a handful
// of values: a claim is usually one value, applied once per indicator (issue 12).
type claimValues struct {
	keys   []iocKey
	wanted []bool // wanted[i]: keys[i] is one of the claim's IOCs
	block  []bool // block[i]: one of its IOCs with that key blocks
	index  map[iocKey]int
}

// claimValuesIndexed is the count of values past which claimValues looks keys up in a map.
const claimValuesIndexed = 8

// add adds k (once) and returns its position.
func (c *claimValues) add(k iocKey) int {
	if c.index != nil {
		if i, ok := c.index[k]; ok {
			return i
		}
	} else {
		for i, have := range c.keys {
			if have == k {
				return i
			}
		}
	}
	c.keys, c.wanted, c.block = append(c.keys, k), append(c.wanted, false), append(c.block, false)
	i := len(c.keys) - 1
	if c.index != nil {
		c.index[k] = i
	} else if len(c.keys) > claimValuesIndexed {
		c.index = make(map[iocKey]int, 2*len(c.keys))
		for j, have := range c.keys {
			c.index[have] = j
		}
	}
	return i
}

// want adds a claim's IOCs (a value listed twice blocks if either does).
func (c *claimValues) want(iocs []intel.IOC) {
	for _, ioc := range iocs {
		if ioc.Type == "" || ioc.Value == "" {
			continue
		}
		i := c.add(iocKey{ioc.Type, ioc.Value})
		c.wanted[i] = true
		c.block[i] = c.block[i] || ioc.Block
	}
}

// lockAliases locks the alias owners and adds their pattern values to keys. Alias owners are
// leftovers of older connectors that no change names; one busy with a change of its own is
// skipped rather than waited for (two owners must never wait on each other). The returned
// function drops their claims and unlocks them.
func lockAliases(ix *index, s *ownerState, aliases []ownerID, cv *claimValues) func() {
	var locked []*ownerState
	for _, a := range aliases {
		as := ix.owner(a)
		if as == s || !as.mu.TryLock() {
			continue
		}
		locked = append(locked, as)
		prev := as.values(intel.ViaPattern)
		prev.each(func(e *iocEntry) { cv.add(e.key()) })
	}
	return func() {
		for _, as := range locked {
			as.dropClaim(intel.ViaPattern)
			as.mu.Unlock()
		}
	}
}

// claimRecord is what the claim records on its values. The owner's score, platforms, expiry,
// description and block mode come from its own pattern change; a relationship change carries
// none of them, so when the pattern change has not been seen in this process the value keeps
// what its comment says.
func claimRecord(s *ownerState, up claimUpdate) ownerRecord {
	var rec ownerRecord
	switch ch := up.change; {
	case s.info != nil:
		rec = *s.info // records are immutable: sharing its slices and pointers is safe
	case ch != nil && ch.Live && ch.Via == intel.ViaPattern:
		rec = infoFrom(ch)
	case ch != nil && ch.Live:
		rec = infoFrom(ch)
		rec.keep = true
	}
	if up.via == intel.ViaPattern {
		rec.Block = false // the pattern change says it per IOC
	}
	return rec
}

type valueResult struct {
	e    *iocEntry
	held bool
	err  error
}

// applyValues writes every value of a claim concurrently (each value serialises its own writes).
// The values the claim gains share one record per block mode (the owner's own info when it
// says the same) instead of a copy each.
func (o *intelOutput) applyValues(ctx context.Context, ix *index, s *ownerState, via string, cv *claimValues, rec ownerRecord, aliases []ownerID) []valueResult {
	out := make([]valueResult, len(cv.keys))
	if len(cv.keys) == 1 { // the usual one-value indicator: no goroutine (and no stack to grow)
		o.applyOne(ctx, ix, s, via, cv, 0, rec, sharedRecord(s, rec, via, rec.Block || cv.block[0]), aliases, &out[0])
		return out
	}
	shared := [2]*ownerRecord{sharedRecord(s, rec, via, rec.Block), sharedRecord(s, rec, via, true)}
	var wg sync.WaitGroup
	for i := range cv.keys {
		sh := shared[0]
		if rec.Block || cv.block[i] {
			sh = shared[1]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.applyOne(ctx, ix, s, via, cv, i, rec, sh, aliases, &out[i])
		}()
	}
	wg.Wait()
	return out
}

// applyOne applies the claim to its value number i, into res.
func (o *intelOutput) applyOne(ctx context.Context, ix *index, s *ownerState, via string, cv *claimValues, i int, rec ownerRecord, shared *ownerRecord, aliases []ownerID, res *valueResult) {
	r := rec
	r.Block = r.Block || cv.block[i]
	e := ix.entry(cv.keys[i])
	held, err := o.applyValue(ctx, ix, e, s.id, via, cv.wanted[i], valueRecord{&r, shared}, aliases)
	*res = valueResult{e, held, err}
}

// sharedRecord is the record the values a claim gains with that block mode point at when
// theirs says the same: the owner's own info when it says the same, else a new one.
func sharedRecord(s *ownerState, rec ownerRecord, via string, block bool) *ownerRecord {
	r := rec
	r.Block, r.Via, r.keep = block, nil, false
	r.addVia(via)
	if s.info != nil && sameRecord(&r, s.info) {
		return s.info
	}
	return &r
}

// valueRecord is what a claim records on one value: want, and shared, the record values point
// at when theirs says the same.
type valueRecord struct {
	want, shared *ownerRecord
}

// next is the owner's record on a value that had old (nil: none) once the claim via holds it.
func (v valueRecord) next(old *ownerRecord, via string) *ownerRecord {
	var r ownerRecord
	switch {
	case old == nil:
		r = *v.want
		r.Via = nil
	case v.want.keep:
		r = *old
		r.Block = old.Block || v.want.Block
	default:
		r = *v.want
		r.Via = old.Via
	}
	r.keep = false
	r.addVia(via)
	if sameRecord(&r, v.shared) {
		return v.shared
	}
	return &r
}

// scores are the usual scores, pointed at by every record holding one (records are immutable)
// rather than allocated per owner.
var scores = func() (s [101]int) {
	for i := range s {
		s[i] = i
	}
	return s
}()

func scoreRef(v int) *int {
	if v >= 0 && v < len(scores) {
		return &scores[v]
	}
	return &v
}

// infoFrom is the owner-level part of a change, as recorded on each value it holds.
func infoFrom(c *intel.Change) ownerRecord {
	return ownerRecord{
		Score: scoreRef(c.Score), Platforms: platformsOf(c.Platforms), ValidUntil: c.ValidUntil,
		description: c.Description, maturity: statusOf(c.Maturity), known: true,
	}
}

// applyValue sets (wanted) or removes the claim (owner, via) on one value and writes what that
// changes. held tells whether the claim now holds the value.
func (o *intelOutput) applyValue(ctx context.Context, ix *index, e *iocEntry, owner ownerID, via string, wanted bool, rec valueRecord, aliases []ownerID) (held bool, err error) {
	k := e.key()
	e.mu.Lock()
	defer e.mu.Unlock()
	mutate := func(cur owners) owners {
		next := cur.without(func(id ownerID) bool { return slices.Contains(aliases, id) })
		old := next.get(owner)
		switch {
		case wanted:
			return next.with(owner, rec.next(old, via))
		case old == nil:
			return next
		}
		r := *old
		r.dropVia(via)
		if len(r.Via) == 0 {
			return next.without(func(id ownerID) bool { return id == owner })
		}
		return next.with(owner, &r)
	}
	for range 4 {
		if e.foreign {
			if wanted && !e.conflictLogged {
				e.conflictLogged = true // once per entry and process: replays must not flood the log
				o.m.conflicts.Incr(1)
				o.log.Warnf("HarfangLab already holds %s in list %q with a comment that is not ours: left untouched (owner %s)", k, o.sourceListName, owner)
			}
			return false, nil
		}
		err := o.writeIOC(ctx, ix, e, mutate(e.owners))
		if errors.Is(err, errReread) {
			if err := o.reread(ctx, ix, e); err != nil {
				return false, err
			}
			continue
		}
		if err != nil {
			return false, err
		}
		return wanted, nil
	}
	return false, fmt.Errorf("%s keeps changing in HarfangLab", k)
}

// reread refreshes an entry from HarfangLab (after a duplicate or a 404).
func (o *intelOutput) reread(ctx context.Context, ix *index, e *iocEntry) error {
	var p struct {
		Results []iocRule `json:"results"`
	}
	k := e.key()
	q := url.Values{"source_id": {ix.iocSource}, "type": {k.typ}, "value__exact": {k.value}, "limit": {"10"}}
	if err := o.withSlot(ctx, func() error { return o.client.Get(ctx, PathIOCRule, q, &p) }); err != nil {
		return fmt.Errorf("re-reading %s: %w", k, err)
	}
	had := e.id != ""
	for _, r := range p.Results {
		if r.Type == k.typ && r.Value == k.value {
			e.load(r)
			if !had {
				ix.live.Add(1)
			}
			return nil
		}
	}
	e.reset()
	if had {
		ix.live.Add(-1)
	}
	return nil
}

func (o *intelOutput) withSlot(ctx context.Context, fn func() error) error {
	if err := o.acquire(ctx); err != nil {
		return err
	}
	defer o.release()
	return fn()
}

// desired is the HarfangLab state an entry should have for its owners.
type desired struct {
	live        bool
	block       bool
	comment     string
	description string
	hlStatus    string
}

func (o *intelOutput) desiredFor(e *iocEntry, next owners) desired {
	d := desired{live: len(next) > 0, comment: buildComment(next), description: e.description, hlStatus: e.hlStatus.String()}
	if d.hlStatus == "" {
		d.hlStatus = "stable"
	}
	if !d.live {
		d.block = e.block
		return d
	}
	for _, c := range next {
		d.block = d.block || c.rec.Block
	}
	if first := next[0].rec; first.known {
		d.description = first.description
		if first.maturity != 0 {
			d.hlStatus = first.maturity.String()
		}
	}
	return d
}

// writeIOC brings an entry to the state its next owners call for, with the fewest requests:
// none when nothing changes. It returns errReread when HarfangLab's copy differs from ours.
func (o *intelOutput) writeIOC(ctx context.Context, ix *index, e *iocEntry, next owners) error {
	d := o.desiredFor(e, next)
	switch {
	case e.id == "" && !d.live:
		e.owners = next
		return nil
	case e.id == "":
		return o.createIOC(ctx, ix, e, d, next)
	case !d.live && o.removeIndicator:
		err := o.do(ctx, "delete", e.key().String(), func() error { return o.client.Delete(ctx, PathIOCRule+e.id.String()) })
		if err != nil && !IsNotFound(err) {
			return o.classify(err)
		}
		e.reset()
		ix.live.Add(-1)
		return nil
	}
	return o.patchIOC(ctx, e, d, next)
}

// createIOC posts a new IOC rule. A value HarfangLab refuses (400 on its format) fails with
// HarfangLab's reason; the other values of the change are written anyway.
func (o *intelOutput) createIOC(ctx context.Context, ix *index, e *iocEntry, d desired, next owners) error {
	body := newIOCBody{
		SourceID: ix.iocSource, Type: e.typ.String(), Value: e.value,
		Description: d.description, Comment: d.comment, HLStatus: d.hlStatus,
		Enabled: true, BlockOnAgent: d.block,
	}
	if d.hlStatus == "testing" {
		body.LocalTestingStatus = "in_progress"
	}
	var created createdID
	err := o.do(ctx, "create", e.key().String(), func() error { return o.client.Post(ctx, PathIOCRule, body, &created) })
	if IsDuplicate(err) {
		return errReread
	}
	if err != nil {
		return o.classify(err)
	}
	if created.ID == "" && !o.dryRun {
		return &permanentError{fmt.Errorf("HarfangLab created %s without answering its id", e.key())}
	}
	if created.ID == "" {
		created.ID = o.dryID()
	}
	e.id, e.enabled, e.block, e.commentSum, e.description, e.hlStatus, e.owners = compactOf(created.ID), true, d.block, commentSum(d.comment), d.description, statusOf(d.hlStatus), next
	ix.live.Add(1)
	return nil
}

// newIOCBody is the POST body of a new IOC rule (a struct: encoded without a map's sorting).
type newIOCBody struct {
	SourceID           string `json:"source_id"`
	Type               string `json:"type"`
	Value              string `json:"value"`
	Description        string `json:"description"`
	Comment            string `json:"comment"`
	HLStatus           string `json:"hl_status"`
	Enabled            bool   `json:"enabled"`
	BlockOnAgent       bool   `json:"block_on_agent"`
	LocalTestingStatus string `json:"hl_local_testing_status,omitempty"`
}

// patchIOC sends the fields that differ, if any. Disabling (and enabling again) also sets
// `global_state`, which newer consoles derive the rule's effect from (K, W, D; ignored by older
// ones).
func (o *intelOutput) patchIOC(ctx context.Context, e *iocEntry, d desired, next owners) error {
	patch := map[string]any{}
	if e.enabled != d.live {
		patch["enabled"], patch["global_state"] = d.live, iocGlobalState(d)
	}
	if e.commentSum != commentSum(d.comment) {
		patch["comment"] = d.comment
	}
	if d.live {
		if e.block != d.block {
			patch["block_on_agent"] = d.block
		}
		if e.description != d.description {
			patch["description"] = d.description
		}
		if e.hlStatus.String() != d.hlStatus {
			patch["hl_status"] = d.hlStatus
		}
	}
	if len(patch) == 0 {
		e.owners = next
		return nil
	}
	op := "update"
	if !d.live {
		op = "disable"
	}
	err := o.do(ctx, op, e.key().String(), func() error { return o.client.Patch(ctx, PathIOCRule+e.id.String(), patch, nil) })
	if IsNotFound(err) {
		return errReread
	}
	if err != nil {
		return o.classify(err)
	}
	e.enabled, e.commentSum, e.owners = d.live, commentSum(d.comment), next
	if d.live {
		e.block, e.description, e.hlStatus = d.block, d.description, statusOf(d.hlStatus)
	}
	return nil
}

func iocGlobalState(d desired) string {
	switch {
	case !d.live:
		return globalStateDisabled
	case d.block:
		return globalStateBlock
	}
	return globalStateAlert
}

// do runs one write (or logs it in a dry run) within a request slot and counts it.
func (o *intelOutput) do(ctx context.Context, op, what string, fn func() error) error {
	if o.dryRun {
		o.log.Infof("dry run: would %s %s", op, what)
		o.m.writes.Incr(1, op)
		return nil
	}
	if err := o.withSlot(ctx, fn); err != nil {
		return err
	}
	o.m.writes.Incr(1, op)
	return nil
}

// classify wraps what HarfangLab refused for good; transient failures only come back once the
// context has ended (the client retries them until then).
func (o *intelOutput) classify(err error) error {
	if IsTransient(err) || IsAuthFailure(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &permanentError{err}
}
