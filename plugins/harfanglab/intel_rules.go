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
		return pathSigmaRule
	}
	return pathYaraFile
}

func (ix *index) ruleSource(kind string) string {
	if kind == intel.RuleSigma {
		return ix.sigmaSource
	}
	return ix.yaraSource
}

// ruleName is "<indicator name truncated> [<owner>]", at most 100 characters: the owner suffix
// lets the index find the entry again at start, whatever the indicator is renamed to.
func ruleName(owner string, c *intel.Change) (string, error) {
	base := strings.TrimSpace(c.Name)
	if base == "" {
		base = strings.TrimSpace(c.Rule.Name)
	}
	suffix := " [" + owner + "]"
	room := maxRuleNameLen - len([]rune(suffix))
	if room < 1 {
		return "", fmt.Errorf("owner id %q is too long for a HarfangLab rule name", owner)
	}
	if r := []rune(base); len(r) > room {
		base = strings.TrimSpace(string(r[:room]))
	}
	if base == "" {
		base = c.Rule.Kind
	}
	return base + suffix, nil
}

// ruleDescription carries the owner's bookkeeping (score, expiry) in the rule's description,
// in the same JSON form as IOC comments, so a restart re-arms the expiry timer.
func ruleDescription(owner string, c *intel.Change) string {
	score := c.Score
	return buildComment(owners{owner: {Via: []string{intel.ViaPattern}, Score: &score, Platforms: c.Platforms, ValidUntil: c.ValidUntil}})
}

// applyRules makes the owner's Sigma/YARA entries match c (nil: the owner wants none).
// Called with the owner's lock held.
func (o *intelOutput) applyRules(ctx context.Context, ix *index, s *ownerState, c *intel.Change) error {
	var errs []error
	for _, kind := range []string{intel.RuleSigma, intel.RuleYara} {
		cur := s.rules[kind]
		var err error
		switch {
		case c != nil && c.Rule.Kind == kind:
			err = o.upsertRule(ctx, ix, s, kind, c)
		case cur != nil:
			err = o.removeRule(ctx, ix, s, cur)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s rule of %s: %w", kind, s.id, err))
		}
	}
	return errors.Join(errs...)
}

func (o *intelOutput) upsertRule(ctx context.Context, ix *index, s *ownerState, kind string, c *intel.Change) error {
	name, err := ruleName(s.id, c)
	if err != nil {
		return &permanentError{err}
	}
	hl := c.Maturity
	if hl == "" {
		hl = "stable"
	}
	desc := ruleDescription(s.id, c)
	cur := s.rules[kind]
	if cur == nil || cur.id == "" {
		body := map[string]any{
			"source_id": ix.ruleSource(kind), "name": name, "content": c.Rule.Content,
			"hl_status": hl, "enabled": true, "description": desc,
		}
		if hl == "testing" {
			body["hl_local_testing_status"] = "in_progress"
		}
		id, err := o.createRule(ctx, ix, kind, s.id, body)
		if err != nil {
			return err
		}
		s.setRule(kind, &ruleEntry{kind: kind, id: id, name: name, content: c.Rule.Content, enabled: true, hlStatus: hl, description: desc})
		ix.live.Add(1)
		return o.removeDups(ctx, s.rules[kind], cur)
	}
	patch := map[string]any{}
	if cur.name != name {
		patch["name"] = name
	}
	if cur.content != c.Rule.Content {
		patch["content"] = c.Rule.Content
	}
	if !cur.enabled {
		patch["enabled"] = true
	}
	if cur.hlStatus != hl {
		patch["hl_status"] = hl
	}
	if cur.description != desc {
		patch["description"] = desc
	}
	if len(patch) > 0 {
		err := o.do(ctx, "update", kind+" "+name, func() error { return o.client.Patch(ctx, rulePath(kind)+cur.id, patch, nil) })
		if IsNotFound(err) { // removed behind our back: create it again
			cur.id = ""
			ix.live.Add(-1)
			return o.upsertRule(ctx, ix, s, kind, c)
		}
		if err != nil {
			return o.classify(err)
		}
		cur.name, cur.content, cur.enabled, cur.hlStatus, cur.description = name, c.Rule.Content, true, hl, desc
	}
	return o.removeDups(ctx, cur, nil)
}

// statusAnswer is HarfangLab's bulk-upload style answer to a Sigma/YARA POST.
type statusAnswer struct {
	Status []struct {
		Status   bool            `json:"status"`
		Code     int             `json:"code"`
		Content  json.RawMessage `json:"content"`
		ID       *string         `json:"id"`
		Filename string          `json:"filename"`
	} `json:"status"`
	ID string `json:"id"` // a plain object answer, should HarfangLab send one
}

// createRule uploads one rule. A POST is never blindly retried (no unique key: a lost answer
// would leave a copy), so after a transient failure the list is searched for the owner first.
func (o *intelOutput) createRule(ctx context.Context, ix *index, kind, owner string, body map[string]any) (string, error) {
	name, _ := body["name"].(string)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if id, err := o.findRule(ctx, ix, kind, owner); err != nil || id != "" {
				return id, err
			}
		}
		var ans statusAnswer
		err := o.do(ctx, "create", kind+" "+name, func() error { return o.client.PostOnce(ctx, rulePath(kind), body, &ans) })
		if err == nil {
			if o.dryRun {
				return o.dryID(), nil
			}
			return parseStatusAnswer(kind, name, ans)
		}
		if !IsTransient(err) {
			return "", o.classify(err)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("creating %s rule %q: %w (last error: %v)", kind, name, ctx.Err(), err)
		case <-time.After(o.client.Backoff(min(attempt, 10))):
		}
	}
}

func parseStatusAnswer(kind, name string, ans statusAnswer) (string, error) {
	if len(ans.Status) == 0 {
		if ans.ID != "" {
			return ans.ID, nil
		}
		return "", &permanentError{fmt.Errorf("HarfangLab answered an empty status to the upload of %s rule %q", kind, name)}
	}
	st := ans.Status[0]
	if !st.Status || st.ID == nil || *st.ID == "" {
		reason := strings.Trim(string(st.Content), `"`)
		return "", &permanentError{fmt.Errorf("HarfangLab refused %s rule %q (code %d): %s", kind, name, st.Code, reason)}
	}
	return *st.ID, nil
}

// findRule looks for the owner's entry in the list (by its name suffix).
func (o *intelOutput) findRule(ctx context.Context, ix *index, kind, owner string) (string, error) {
	var id string
	q := url.Values{"source_id": {ix.ruleSource(kind)}, "search": {owner}}
	err := o.withSlot(ctx, func() error {
		return o.client.List(ctx, rulePath(kind), q, func(raw json.RawMessage) error {
			var r ruleObject
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("decoding %s rule: %w", kind, err)
			}
			if m := ruleOwnerRe.FindStringSubmatch(r.Name); m != nil && m[1] == owner && id == "" {
				id = r.ID
			}
			return nil
		})
	})
	if err != nil {
		return "", fmt.Errorf("looking for the %s rule of %s: %w", kind, owner, err)
	}
	return id, nil
}

// removeRule deletes or disables the owner's entry of one kind.
func (o *intelOutput) removeRule(ctx context.Context, ix *index, s *ownerState, cur *ruleEntry) error {
	if err := o.removeDups(ctx, cur, nil); err != nil {
		return err
	}
	if cur.id == "" {
		delete(s.rules, cur.kind)
		return nil
	}
	if o.removeIndicator {
		err := o.do(ctx, "delete", cur.kind+" "+cur.name, func() error { return o.client.Delete(ctx, rulePath(cur.kind)+cur.id) })
		if err != nil && !IsNotFound(err) {
			return o.classify(err)
		}
		delete(s.rules, cur.kind)
		ix.live.Add(-1)
		return nil
	}
	if !cur.enabled {
		return nil
	}
	err := o.do(ctx, "disable", cur.kind+" "+cur.name, func() error {
		return o.client.Patch(ctx, rulePath(cur.kind)+cur.id, map[string]any{"enabled": false}, nil)
	})
	if IsNotFound(err) {
		delete(s.rules, cur.kind)
		ix.live.Add(-1)
		return nil
	}
	if err != nil {
		return o.classify(err)
	}
	cur.enabled = false
	return nil
}

// removeDups deletes extra entries of an owner (found at start) and, after a re-creation, the
// previous entry when it was a different one.
func (o *intelOutput) removeDups(ctx context.Context, keep, prev *ruleEntry) error {
	ids := keep.dups
	if prev != nil {
		ids = append(ids, prev.dups...)
	}
	for len(ids) > 0 {
		id := ids[0]
		if id != keep.id {
			err := o.do(ctx, "delete", keep.kind+" duplicate "+id, func() error { return o.client.Delete(ctx, rulePath(keep.kind)+id) })
			if err != nil && !IsNotFound(err) {
				keep.dups = ids
				return o.classify(err)
			}
		}
		ids = ids[1:]
	}
	keep.dups = nil
	return nil
}
