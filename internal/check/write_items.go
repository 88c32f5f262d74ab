package check

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// iocSequence: create, duplicate, patch, disable, delete one IOC rule, with the body the intel
// output sends.
func (w *writer) iocSequence(ctx context.Context) {
	k := kindIOC
	body := map[string]any{
		"source_id": w.sources[k.label], "type": "domain_name", "value": "check-" + w.tag + ".opencti-harfanglab.invalid",
		"description": "opencti-harfanglab check", "comment": `{"indicator_ids":["check"]}`,
		"hl_status": w.h.cfg.Maturity, "enabled": true, "block_on_agent": false,
	}
	a := w.h.do(ctx, http.MethodPost, k.itemPath, nil, body)
	id := idOf(a.body)
	switch {
	case a.err != nil:
		w.rep.add(k.probe+".create", true, CannotTell, "POST: %s", a)
		return
	case !a.ok() || id == "":
		w.rep.add(k.probe+".create", true, Differs, "POST answered %s", a)
		return
	}
	w.items = append(w.items, created{k.itemPath, id})
	w.rep.add(k.probe+".create", true, OK, "POST %d %s", a.status, shape(a.body))

	dup := w.h.do(ctx, http.MethodPost, k.itemPath, nil, body)
	switch {
	case dup.status == http.StatusBadRequest && strings.Contains(strings.ToLower(string(dup.body)), "already exists"):
		w.rep.add(k.probe+".duplicate", false, OK, "second POST refused as the product expects: %s", dup)
	case dup.ok():
		if id2 := idOf(dup.body); id2 != "" && id2 != id {
			w.items = append(w.items, created{k.itemPath, id2})
		}
		w.rep.add(k.probe+".duplicate", false, Differs, "second POST of the same type and value accepted (%d %s)", dup.status, shape(dup.body))
	default:
		w.rep.add(k.probe+".duplicate", false, Differs, "second POST answered %s (the product looks for \"already exists\" in a 400)", dup)
	}

	// A partial PATCH of an IOC rule is not evidenced by any public client (they send the full
	// body or PUT); the intel output sends only the changed fields, so that is what is tried.
	comment := `{"indicator_ids":["check","check-2"]}`
	p := w.h.do(ctx, http.MethodPatch, k.itemPath+id, nil, map[string]any{"comment": comment})
	if v, rb := w.readBack(ctx, k, id); !p.ok() {
		w.rep.add(k.probe+".patch", true, Differs, "PATCH {comment} answered %s", p)
	} else if v == nil || v["comment"] != comment {
		w.rep.add(k.probe+".patch", true, Differs, "PATCH %d, but the comment does not read back (%s)", p.status, rb)
	} else {
		w.rep.add(k.probe+".patch", true, OK, "PATCH %d %s; comment reads back", p.status, shape(p.body))
	}
	w.disable(ctx, k, id)
	w.remove(ctx, k, id)
}

// upload is what a Sigma/YARA upload answer says. Evidenced (droid): HTTP 201 whatever the
// outcome, which is the `status` list; `code` is a string such as `duplicate_rule`; a missing
// `status` means failure. An answer that is a plain object with an `id` is also taken as created.
type upload struct {
	created bool
	id      string
	code    string // the first status entry's code, as JSON text
	reason  string // its content when refused
}

func parseUpload(b []byte) upload {
	var v map[string]any
	if json.Unmarshal(b, &v) != nil {
		return upload{}
	}
	list, ok := v["status"].([]any)
	if !ok {
		if id, ok := v["id"].(string); ok && id != "" {
			return upload{created: true, id: id}
		}
		return upload{}
	}
	if len(list) == 0 {
		return upload{}
	}
	first, _ := list[0].(map[string]any)
	code, _ := json.Marshal(first["code"])
	u := upload{code: string(code)}
	if id, ok := first["id"].(string); ok && id != "" && first["status"] != false {
		u.created, u.id = true, id
	}
	if !u.created {
		u.reason = fmt.Sprint(first["content"])
	}
	return u
}

// ruleSequence: create, read back, duplicate (Sigma), patch, disable, delete one Sigma rule or
// YARA file.
func (w *writer) ruleSequence(ctx context.Context, k kind, content, changed string) {
	name := "opencti-harfanglab check " + w.tag
	body := map[string]any{
		"source_id": w.sources[k.label], "name": name, "content": content,
		"hl_status": w.h.cfg.Maturity, "enabled": true, "description": `{"indicator_id":"check"}`,
	}
	a := w.h.do(ctx, http.MethodPost, k.itemPath, nil, body)
	up := parseUpload(a.body)
	switch {
	case a.err != nil:
		w.rep.add(k.probe+".create", true, CannotTell, "POST: %s", a)
		return
	case !a.ok() || !up.created:
		w.rep.add(k.probe+".create", true, Differs, "POST answered %d %s, taken as not created: %s", a.status, shape(a.body), quoteBody(a.body))
		return
	}
	w.items = append(w.items, created{k.itemPath, up.id})
	w.rep.add(k.probe+".create", true, OK, "POST %d %s", a.status, shape(a.body))
	w.ruleReadBack(ctx, k, up.id, name, content)
	if k == kindSigma {
		w.sigmaDuplicate(ctx, k, body)
	}
	w.rulePatch(ctx, k, up.id, changed)
	w.disable(ctx, k, up.id)
	w.remove(ctx, k, up.id)
}

// ruleReadBack reports what the console kept of what was written: re-serialised content, a
// dropped description, a trimmed name (all evidenced on some consoles; none breaks the product).
// Unknown: whether a PATCH can write `description` where a POST cannot; not probed.
func (w *writer) ruleReadBack(ctx context.Context, k kind, id, name, content string) {
	v, a := w.readBack(ctx, k, id)
	if v == nil {
		w.rep.add(k.probe+".read_back", false, CannotTell, "GET answered %s", a)
		return
	}
	var facts []string
	if v["content"] == content {
		facts = append(facts, "content stored as sent")
	} else {
		facts = append(facts, "content re-serialised")
	}
	if d, _ := v["description"].(string); d == "" {
		facts = append(facts, "description not stored")
	} else {
		facts = append(facts, "description stored")
	}
	if v["name"] != name {
		facts = append(facts, fmt.Sprintf("name stored as %q", v["name"]))
	}
	if gs, ok := v["global_state"]; ok {
		facts = append(facts, fmt.Sprintf("global_state %v", gs))
	} else {
		facts = append(facts, "no global_state")
	}
	w.rep.add(k.probe+".read_back", false, OK, "%s", strings.Join(facts, ", "))
}

// sigmaDuplicate uploads the same Sigma id again under another name: real consoles refuse it
// (`duplicate_rule`), in any list.
func (w *writer) sigmaDuplicate(ctx context.Context, k kind, body map[string]any) {
	again := map[string]any{}
	for key, v := range body {
		again[key] = v
	}
	again["name"] = fmt.Sprint(body["name"]) + " (duplicate)"
	a := w.h.do(ctx, http.MethodPost, k.itemPath, nil, again)
	up := parseUpload(a.body)
	switch {
	case a.ok() && up.created:
		w.items = append(w.items, created{k.itemPath, up.id})
		w.rep.add(k.probe+".duplicate", false, Differs, "a second rule with the same Sigma id was accepted (%d %s)", a.status, shape(a.body))
	case a.ok():
		w.rep.add(k.probe+".duplicate", false, OK, "same Sigma id refused: %d %s, code %s", a.status, shape(a.body), up.code)
	default:
		w.rep.add(k.probe+".duplicate", false, OK, "same Sigma id refused: %s", a)
	}
}

// rulePatch changes the content; Sigma PATCH answers may carry `errors`/`warnings` (droid).
func (w *writer) rulePatch(ctx context.Context, k kind, id, changed string) {
	a := w.h.do(ctx, http.MethodPatch, k.itemPath+id, nil, map[string]any{"content": changed})
	if !a.ok() {
		w.rep.add(k.probe+".patch", true, Differs, "PATCH {content} answered %s", a)
		return
	}
	var v map[string]any
	_ = json.Unmarshal(a.body, &v)
	if errs, ok := v["errors"].([]any); ok && len(errs) > 0 {
		w.rep.add(k.probe+".patch", true, Differs, "PATCH %d with errors: %s", a.status, a)
		return
	}
	w.rep.add(k.probe+".patch", true, OK, "PATCH %d %s", a.status, shape(a.body))
}
