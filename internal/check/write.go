package check

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/harfanglab"
)

// ListPrefix starts the name of the temporary lists --write creates (and deletes).
const ListPrefix = "opencti-harfanglab-check-"

// cleanupTimeout bounds the deletions at the end, which run even when the caller's context ended.
const cleanupTimeout = time.Minute

// kind is one kind of HarfangLab threat-intelligence entry.
type kind struct {
	label      string // IOC, Sigma, YARA
	probe      string // prefix of the report lines
	sourcePath string
	itemPath   string
}

var (
	kindIOC   = kind{"IOC", "write.ioc", harfanglab.PathIOCSource, harfanglab.PathIOCRule}
	kindSigma = kind{"Sigma", "write.sigma", harfanglab.PathSigmaSource, harfanglab.PathSigmaRule}
	kindYARA  = kind{"YARA", "write.yara", harfanglab.PathYaraSource, harfanglab.PathYaraFile}
)

// created is an entry --write made and must remove.
type created struct{ path, id string }

// writer runs the --write probes inside temporary lists.
type writer struct {
	h       hl
	rep     *Report
	tag     string            // random, in every name and value written
	sources map[string]string // kind label → temporary list id
	items   []created         // entries not deleted yet (deleted at cleanup)
}

// probeWrite creates the temporary lists, runs the IOC, Sigma and YARA sequences in them, and
// always removes what it made, even when a step failed or ctx ended.
func probeWrite(ctx context.Context, rep *Report, h hl) {
	w := &writer{h: h, rep: rep, tag: randomTag(), sources: map[string]string{}}
	defer w.cleanup(ctx)
	if !w.createLists(ctx) {
		return
	}
	for _, step := range []func(){
		func() { w.iocSequence(ctx) },
		func() {
			w.ruleSequence(ctx, kindSigma, w.sigmaContent("detection rule"), w.sigmaContent("detection rule, changed"))
		},
		func() { w.ruleSequence(ctx, kindYARA, w.yaraContent("a"), w.yaraContent("b")) },
	} {
		if ctx.Err() != nil {
			w.rep.add("write.interrupted", true, CannotTell, "the remaining write probes did not run: %v", context.Cause(ctx))
			return
		}
		step()
	}
}

func randomTag() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (w *writer) listName() string { return ListPrefix + w.tag }

func (w *writer) createLists(ctx context.Context) bool {
	var shapes []string
	for _, k := range []kind{kindIOC, kindSigma, kindYARA} {
		a := w.h.do(ctx, http.MethodPost, k.sourcePath, nil, map[string]any{
			"name": w.listName(), "enabled": true,
			"description": "Temporary list of `opencti-harfanglab check --write`, deleted when it ends.",
		})
		id := idOf(a.body)
		if !a.ok() || id == "" {
			w.rep.add("write.lists", true, Differs, "creating %s list %q answered %s", k.label, w.listName(), a)
			return false
		}
		w.sources[k.label] = id
		shapes = append(shapes, fmt.Sprintf("%s %d %s", k.label, a.status, shape(a.body)))
	}
	w.rep.add("write.lists", true, OK, "temporary lists %q created: %s", w.listName(), strings.Join(shapes, "; "))
	return true
}

// idOf reads the `id` of an object answer, whatever its JSON type.
func idOf(b []byte) string {
	var v map[string]any
	if json.Unmarshal(b, &v) != nil || v["id"] == nil {
		return ""
	}
	return fmt.Sprint(v["id"])
}

func (w *writer) forget(id string) {
	for i, c := range w.items {
		if c.id == id {
			w.items = append(w.items[:i], w.items[i+1:]...)
			return
		}
	}
}

// cleanup deletes the entries left and then the temporary lists, with a context of its own so
// that it also runs after an interrupt or a timeout of the caller's. Deleting a list is not
// evidenced by any public client; the path follows the DRF pattern of every other resource.
func (w *writer) cleanup(parent context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), cleanupTimeout)
	defer cancel()
	var failed []string
	for _, c := range w.items {
		if a := w.h.do(ctx, http.MethodDelete, c.path+c.id, nil, nil); !a.ok() && a.status != http.StatusNotFound {
			failed = append(failed, fmt.Sprintf("%s%s (%s)", c.path, c.id, a))
		}
	}
	var deleted []string
	for _, k := range []kind{kindIOC, kindSigma, kindYARA} {
		id, ok := w.sources[k.label]
		if !ok {
			continue
		}
		a := w.h.do(ctx, http.MethodDelete, k.sourcePath+id, nil, nil)
		if a.ok() || a.status == http.StatusNotFound {
			deleted = append(deleted, fmt.Sprintf("%s %d", k.label, a.status))
		} else {
			failed = append(failed, fmt.Sprintf("%s list %s (%s)", k.label, id, a))
		}
	}
	switch {
	case len(failed) > 0:
		w.rep.add("write.cleanup", true, Differs, "could not delete %s: delete the lists named %q by hand in the console", strings.Join(failed, ", "), w.listName())
	case len(deleted) > 0:
		w.rep.add("write.cleanup", true, OK, "temporary lists deleted (%s)", strings.Join(deleted, ", "))
	}
}

// readBack GETs one entry.
func (w *writer) readBack(ctx context.Context, k kind, id string) (map[string]any, answer) {
	a := w.h.get(ctx, k.itemPath+id, nil)
	var v map[string]any
	if a.ok() {
		_ = json.Unmarshal(a.body, &v)
	}
	return v, a
}

// disable sends what the intel output sends to disable an entry (global_state beside enabled:
// newer consoles need the first, older ones ignore it) and reads the entry back. Unknown: whether
// a recent console derives global_state from enabled (or the reverse) on IOC rules; the
// read-back shows what this one did.
func (w *writer) disable(ctx context.Context, k kind, id string) {
	a := w.h.do(ctx, http.MethodPatch, k.itemPath+id, nil, map[string]any{"enabled": false, "global_state": "disabled"})
	if !a.ok() {
		w.rep.add(k.probe+".disable", true, Differs, "PATCH {enabled: false, global_state: disabled} answered %s", a)
		return
	}
	v, rb := w.readBack(ctx, k, id)
	if v == nil {
		w.rep.add(k.probe+".disable", true, CannotTell, "PATCH answered %d, reading it back answered %s", a.status, rb)
		return
	}
	state := "no global_state"
	if gs, ok := v["global_state"]; ok {
		state = fmt.Sprintf("global_state %v", gs)
	}
	if v["enabled"] != false {
		w.rep.add(k.probe+".disable", true, Differs, "PATCH answered %d but the entry reads back enabled %v, %s", a.status, v["enabled"], state)
		return
	}
	w.rep.add(k.probe+".disable", true, OK, "PATCH %d %s; reads back enabled false, %s", a.status, shape(a.body), state)
}

// remove deletes an entry and checks that it is gone.
func (w *writer) remove(ctx context.Context, k kind, id string) {
	a := w.h.do(ctx, http.MethodDelete, k.itemPath+id, nil, nil)
	if !a.ok() {
		w.rep.add(k.probe+".delete", true, Differs, "DELETE answered %s", a)
		return
	}
	_, rb := w.readBack(ctx, k, id)
	if rb.status != http.StatusNotFound {
		w.rep.add(k.probe+".delete", true, Differs, "DELETE answered %d but reading it back answered %s", a.status, rb)
		return
	}
	w.forget(id)
	w.rep.add(k.probe+".delete", true, OK, "DELETE %d %s; reads back 404", a.status, shape(a.body))
}

func (w *writer) sigmaContent(description string) string {
	return fmt.Sprintf(`title: opencti-harfanglab check %s
id: %s
status: experimental
description: %s written by opencti-harfanglab check, deleted right after
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        CommandLine|contains: '%s%s'
    condition: selection
level: low
`, w.tag, uuid.NewSHA1(uuid.NameSpaceURL, []byte(ListPrefix+w.tag)), description, ListPrefix, w.tag)
}

func (w *writer) yaraContent(variant string) string {
	return fmt.Sprintf(`rule opencti_harfanglab_check_%s_%s
{
    meta:
        description = "written by opencti-harfanglab check, deleted right after"
    strings:
        $a = "%s%s"
    condition:
        $a
}
`, w.tag, variant, ListPrefix, w.tag)
}
