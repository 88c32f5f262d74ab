package harfanglab

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// Rule states sent beside `enabled`: newer consoles expose `global_state` (K, W, D) and O disables
// with {"global_state":"disabled","enabled":false}; older ones ignore the unknown field. "alert"
// (detect, no agent action) on re-enabling is the evidenced enum value matching a rule without
// block_on_agent; how a console derives it from the agent flags is not verified.
const (
	globalStateDisabled = "disabled"
	globalStateAlert    = "alert"
	globalStateBlock    = "block"
)

// updateRule brings an existing entry to want with one PATCH, or none when HarfangLab's copy
// already matches (content compared parsed, names trimmed). Called with e.mu held.
func (o *intelOutput) updateRule(ctx context.Context, ix *index, e *ruleEntry, want ruleWant) error {
	patch := map[string]any{}
	if !sameName(e.name, want.name) {
		patch["name"] = want.name
	}
	if !sameContent(e.kind, e.content, want.content) {
		patch["content"] = want.content
	}
	if !e.enabled {
		patch["enabled"], patch["global_state"] = true, globalStateAlert
	}
	if e.hlStatus != want.hlStatus {
		patch["hl_status"] = want.hlStatus
	}
	if len(patch) > 0 {
		err := o.patchRule(ctx, e, "update", want.name, patch)
		if IsNotFound(err) { // removed behind our back: create it again
			e.id = ""
			ix.live.Add(-1)
			return o.createRule(ctx, ix, e, want)
		}
		if err != nil {
			return err
		}
		e.name, e.content, e.enabled, e.hlStatus = want.name, want.content, true, want.hlStatus
	}
	return o.removeDups(ctx, e)
}

// patchRule sends one PATCH and surfaces what its answer says: `warnings` are logged, `errors`
// (a content the Sigma engine cannot use, a changed Sigma id) fail the change for good.
func (o *intelOutput) patchRule(ctx context.Context, e *ruleEntry, op, name string, patch map[string]any) error {
	var raw json.RawMessage
	err := o.do(ctx, op, e.kind+" "+name, func() error { return o.client.Patch(ctx, rulePath(e.kind)+e.id, patch, &raw) })
	if err != nil {
		if IsNotFound(err) {
			return err
		}
		return o.classify(err)
	}
	errs, warnings := patchFindings(raw)
	if len(warnings) > 0 {
		o.log.Warnf("HarfangLab warns about %s rule %q: %s", e.kind, name, strings.Join(warnings, "; "))
	}
	if len(errs) > 0 {
		msg := fmt.Sprintf("HarfangLab refused the %s of %s rule %q: %s", op, e.kind, name, strings.Join(errs, "; "))
		o.log.Errorf("%s", msg)
		return &permanentError{fmt.Errorf("%s", msg)}
	}
	return nil
}

// releaseRule removes the owner from its entry. The entry stays while another owner holds it
// (renamed after its new first owner); otherwise it is deleted or disabled.
// Called with the owner's lock held.
func (o *intelOutput) releaseRule(ctx context.Context, ix *index, s *ownerState, e *ruleEntry) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := o.removeDups(ctx, e); err != nil {
		return err
	}
	e.release(s.id.String())
	delete(s.rules(), e.kind)
	switch {
	case e.id == "":
		return nil
	case len(e.holders) > 0:
		return o.renameAfter(ctx, ix, e)
	case o.removeIndicator:
		err := o.do(ctx, "delete", e.kind+" "+e.name, func() error { return o.client.Delete(ctx, rulePath(e.kind)+e.id) })
		if err != nil && !IsNotFound(err) {
			return o.classify(err)
		}
		e.forget()
		ix.live.Add(-1)
		return nil
	case !e.enabled:
		return nil
	}
	err := o.patchRule(ctx, e, "disable", e.name, map[string]any{"enabled": false, "global_state": globalStateDisabled})
	if IsNotFound(err) {
		e.forget()
		ix.live.Add(-1)
		return nil
	}
	if err != nil {
		return err
	}
	e.enabled = false
	return nil
}

// renameAfter names a shared entry after its (new) first owner. Called with e.mu held.
func (o *intelOutput) renameAfter(ctx context.Context, ix *index, e *ruleEntry) error {
	name, err := ruleName(e.holders[0], e.kind)
	if err != nil || sameName(name, e.name) {
		return nil
	}
	err = o.patchRule(ctx, e, "update", name, map[string]any{"name": name})
	if IsNotFound(err) {
		e.forget()
		ix.live.Add(-1)
		return nil
	}
	if err == nil {
		e.name = name
	}
	return err
}

// removeDups deletes further copies of an entry found at start (a retried upload, a lenient
// console). Called with e.mu held.
func (o *intelOutput) removeDups(ctx context.Context, e *ruleEntry) error {
	for len(e.dups) > 0 {
		id := e.dups[0]
		if id != e.id {
			err := o.do(ctx, "delete", e.kind+" duplicate "+id, func() error { return o.client.Delete(ctx, rulePath(e.kind)+id) })
			if err != nil && !IsNotFound(err) {
				return o.classify(err)
			}
		}
		e.dups = e.dups[1:]
	}
	e.dups = nil
	return nil
}
