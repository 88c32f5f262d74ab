package harfanglab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// maxRuleNameLen is HarfangLab's limit on Sigma and YARA names.
const maxRuleNameLen = 100

func rulePath(kind string) string {
	if kind == intel.RuleSigma {
		return PathSigmaRule
	}
	return PathYaraFile
}

func (ix *index) ruleSource(kind string) string {
	if kind == intel.RuleSigma {
		return ix.sigmaSource
	}
	return ix.yaraSource
}

// sigmaKeyPrefix starts the key of a Sigma rule identified by its Sigma id.
const sigmaKeyPrefix = "sigma-id:"

// ruleKey is how HarfangLab tells entries apart: a Sigma rule by its Sigma id, unique across
// every list (W, D), so two indicators carrying the same rule share one entry; a YARA file (or a
// Sigma rule without an id) is one entry per owner.
func ruleKey(kind, owner, content string) string {
	if kind == intel.RuleSigma {
		if id := sigmaRuleID(content); id != "" {
			return sigmaKeyPrefix + id
		}
	}
	return kind + ":owner:" + owner
}

// ruleName is "<base>[ (until <expiry>)] [<owner>]", at most 100 characters: the owner and its
// expiry are what a restart needs, and the name is the one field HarfangLab is known to keep.
func ruleName(h ruleHolder, kind string) (string, error) {
	suffix := " [" + h.owner + "]"
	if h.validUntil != nil {
		// Rounded up to the second: a restart may expire it a little late, never early.
		until := h.validUntil.UTC()
		if t := until.Truncate(time.Second); !t.Equal(until) {
			until = t.Add(time.Second)
		}
		suffix = " (until " + until.Format(ruleUntilLayout) + ")" + suffix
	}
	room := maxRuleNameLen - len([]rune(suffix))
	if room < 1 {
		return "", fmt.Errorf("owner id %q is too long for a HarfangLab rule name", h.owner)
	}
	base := h.base
	if r := []rune(base); len(r) > room {
		base = strings.TrimSpace(string(r[:room]))
	}
	if base == "" {
		base = kind
	}
	return base + suffix, nil
}

func holderOf(owner string, c *intel.Change) ruleHolder {
	base := strings.TrimSpace(c.Name)
	if base == "" {
		base = strings.TrimSpace(c.Rule.Name)
	}
	return ruleHolder{owner: owner, base: base, validUntil: c.ValidUntil}
}

// ruleWant is the state an entry should have in HarfangLab.
type ruleWant struct{ name, content, hlStatus string }

// applyRules makes the owner's Sigma/YARA entries match c (nil: the owner wants none).
// Called with the owner's lock held.
func (o *intelOutput) applyRules(ctx context.Context, ix *index, s *ownerState, c *intel.Change) error {
	var errs []error
	for _, kind := range []string{intel.RuleSigma, intel.RuleYara} {
		cur := s.rules()[kind]
		// Scale-out: rules are sharded by their key, so one writer handles a shared Sigma rule.
		wanted := c != nil && c.Rule.Kind == kind && o.shard.owns(ruleKey(kind, s.id.String(), c.Rule.Content))
		var err error
		switch {
		case wanted:
			err = o.upsertRule(ctx, ix, s, kind, c)
		case cur != nil:
			err = o.releaseRule(ctx, ix, s, cur)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s rule of %s: %w", kind, s.id, err))
		}
	}
	return errors.Join(errs...)
}

func (o *intelOutput) upsertRule(ctx context.Context, ix *index, s *ownerState, kind string, c *intel.Change) error {
	key := ruleKey(kind, s.id.String(), c.Rule.Content)
	if cur := s.rules()[kind]; cur != nil && cur.key != key { // another rule now (new Sigma id)
		if err := o.releaseRule(ctx, ix, s, cur); err != nil {
			return err
		}
	}
	e := ix.ruleEntry(kind, key)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hold(holderOf(s.id.String(), c))
	s.setRule(kind, e)
	name, err := ruleName(e.holders[0], kind)
	if err != nil {
		return &permanentError{err}
	}
	want := ruleWant{name: name, content: c.Rule.Content, hlStatus: c.Maturity}
	if want.hlStatus == "" {
		want.hlStatus = "stable"
	}
	if e.id == "" {
		err = o.createRule(ctx, ix, e, want)
	} else {
		err = o.updateRule(ctx, ix, e, want)
	}
	if err != nil && e.id == "" && !IsAuthFailure(err) && !IsTransient(err) {
		// Refused for good: the owner does not hold it (its next change tries again).
		e.release(s.id.String())
		delete(s.rules(), kind)
	}
	return err
}

// createRule uploads one rule. A POST is never blindly retried (no unique key: a lost answer
// would leave a copy), so after a transient failure the list is searched for it first.
// Called with e.mu held.
func (o *intelOutput) createRule(ctx context.Context, ix *index, e *ruleEntry, want ruleWant) error {
	body := map[string]any{
		"source_id": ix.ruleSource(e.kind), "name": want.name, "content": want.content,
		"hl_status": want.hlStatus, "enabled": true,
	}
	if want.hlStatus == "testing" {
		body["hl_local_testing_status"] = "in_progress"
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if r, err := o.findRule(ctx, ix, e); err != nil || r != nil {
				if err != nil {
					return err
				}
				e.load(*r)
				ix.live.Add(1)
				return o.updateRule(ctx, ix, e, want)
			}
		}
		var raw json.RawMessage
		err := o.do(ctx, "create", e.kind+" "+want.name, func() error { return o.client.PostOnce(ctx, rulePath(e.kind), body, &raw) })
		if err == nil {
			return o.created(ctx, ix, e, want, raw)
		}
		if !IsTransient(err) {
			return o.classify(err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("creating %s rule %q: %w", e.kind, want.name, errors.Join(ctx.Err(), err))
		case <-time.After(o.client.Backoff(min(attempt, 10))):
		}
	}
}

// created records the outcome of an upload. Called with e.mu held.
func (o *intelOutput) created(ctx context.Context, ix *index, e *ruleEntry, want ruleWant, raw []byte) error {
	var out uploadOutcome
	if o.dryRun {
		out = uploadOutcome{ok: true, id: o.dryID()}
	} else {
		out = parseUploadAnswer(raw)
	}
	if !out.ok {
		if out.duplicate() && e.kind == intel.RuleSigma && strings.HasPrefix(e.key, sigmaKeyPrefix) {
			return o.adoptDuplicate(ctx, ix, e, want, out)
		}
		o.log.Errorf("HarfangLab refused %s rule %q: %s", e.kind, want.name, out)
		return &permanentError{fmt.Errorf("HarfangLab refused %s rule %q: %s", e.kind, want.name, out)}
	}
	e.id, e.name, e.content, e.enabled, e.hlStatus = out.id, want.name, want.content, true, want.hlStatus
	ix.live.Add(1)
	return o.removeDups(ctx, e)
}

// adoptDuplicate handles `duplicate_rule`: a rule with the same Sigma id exists. In our list it
// is ours (another owner's upload, or one this process did not know of): it is adopted. In any
// other list it belongs to someone else: reported (metric, log naming the list, dead letter)
// and left untouched; never retried. Called with e.mu held.
func (o *intelOutput) adoptDuplicate(ctx context.Context, ix *index, e *ruleEntry, want ruleWant, refusal uploadOutcome) error {
	sid := strings.TrimPrefix(e.key, sigmaKeyPrefix)
	holder, err := o.findSigmaID(ctx, sid)
	if err != nil {
		return err
	}
	switch {
	case holder == nil:
		return &permanentError{fmt.Errorf("HarfangLab refused Sigma rule %q (%s) but no rule with id %s is visible", want.name, refusal, sid)}
	case holder.SourceID == ix.sigmaSource:
		e.load(*holder)
		ix.live.Add(1)
		return o.updateRule(ctx, ix, e, want)
	}
	list := o.sourceName(ctx, PathSigmaSource, holder.SourceID)
	o.m.conflicts.Incr(1)
	o.log.Warnf("Sigma rule %s (%q) already exists in HarfangLab list %q as %q: HarfangLab refuses a second copy (%s); left untouched", sid, want.name, list, holder.Name, refusal)
	return &permanentError{fmt.Errorf("the Sigma rule id %s already exists in HarfangLab list %q (rule %q, not ours): %s", sid, list, holder.Name, refusal)}
}

// findSigmaID looks for the rule holding a Sigma id in every list.
func (o *intelOutput) findSigmaID(ctx context.Context, sid string) (*ruleObject, error) {
	var found *ruleObject
	err := o.withSlot(ctx, func() error {
		return ListOf(ctx, o.client, PathSigmaRule, url.Values{"search": {sid}}, func(r ruleObject) error {
			if found == nil && sigmaRuleID(r.Content) == sid {
				found = &r
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("looking for Sigma rule id %s: %w", sid, err)
	}
	return found, nil
}

// sourceName names a list for a log line (its id when it cannot be read).
func (o *intelOutput) sourceName(ctx context.Context, path, id string) string {
	name := id
	_ = o.withSlot(ctx, func() error {
		return ListOf(ctx, o.client, path, url.Values{"limit": {"100"}}, func(s struct{ ID, Name string }) error {
			if s.ID == id {
				name = s.Name
			}
			return nil
		})
	})
	return name
}

// findRule looks for an entry in our list after a failed upload (by Sigma id or owner).
func (o *intelOutput) findRule(ctx context.Context, ix *index, e *ruleEntry) (*ruleObject, error) {
	term := strings.TrimPrefix(e.key, sigmaKeyPrefix)
	if len(e.holders) > 0 && !strings.HasPrefix(e.key, sigmaKeyPrefix) {
		term = e.holders[0].owner
	}
	var found *ruleObject
	q := url.Values{"source_id": {ix.ruleSource(e.kind)}, "search": {term}}
	err := o.withSlot(ctx, func() error {
		return ListOf(ctx, o.client, rulePath(e.kind), q, func(r ruleObject) error {
			owner, _ := parseRuleName(r.Name)
			if found == nil && ruleKey(e.kind, owner, r.Content) == e.key {
				found = &r
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("looking for %s rule %s: %w", e.kind, term, err)
	}
	return found, nil
}
