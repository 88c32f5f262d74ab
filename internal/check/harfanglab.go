package check

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/harfanglab"
)

// answer is one HarfangLab answer as the console gave it.
type answer struct {
	status int
	body   []byte
	err    error // no answer at all
}

func (a answer) ok() bool { return a.err == nil && a.status >= 200 && a.status <= 299 }

// String is the answer as a report shows it: `400 {"detail": …}` or the network error.
func (a answer) String() string {
	if a.err != nil {
		return "no answer: " + a.err.Error()
	}
	return fmt.Sprintf("%d %s", a.status, quoteBody(a.body))
}

// maxQuotedBody bounds the part of an answer quoted in a report line.
const maxQuotedBody = 160

func quoteBody(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if s == "" {
		return "(empty body)"
	}
	if len(s) > maxQuotedBody {
		s = s[:maxQuotedBody] + "…"
	}
	return s
}

// page is a DRF list answer.
type page struct {
	Count   int              `json:"count"`
	Results []map[string]any `json:"results"`
}

func (a answer) page() (page, error) {
	var p page
	if err := json.Unmarshal(a.body, &p); err != nil {
		return p, fmt.Errorf("answer is not a list page: %w", err)
	}
	return p, nil
}

// hl wraps the HarfangLab client for the probes.
type hl struct {
	c   *harfanglab.Client
	cfg Config
}

func (h hl) do(ctx context.Context, method, path string, q url.Values, body any) answer {
	st, b, err := h.c.Raw(ctx, method, path, q, body)
	return answer{status: st, body: b, err: err}
}

func (h hl) get(ctx context.Context, path string, q url.Values) answer {
	return h.do(ctx, http.MethodGet, path, q, nil)
}

// alertQuery is the alert filter the harfanglab_alerts input sends (status, alert_type,
// maturity), plus extra parameters.
func (h hl) alertQuery(kv ...string) url.Values {
	q := url.Values{}
	if len(h.cfg.Statuses) > 0 {
		q.Set("status", strings.Join(h.cfg.Statuses, ","))
	}
	if len(h.cfg.AlertTypes) > 0 {
		q.Set("alert_type", strings.Join(h.cfg.AlertTypes, ","))
	}
	if len(h.cfg.AlertMaturities) > 0 {
		q.Set("maturity", strings.Join(h.cfg.AlertMaturities, ","))
	}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q
}

// authProblem turns a 401/403 into the line users need; "" for other answers.
func authProblem(a answer) string {
	switch {
	case a.err != nil:
		return ""
	case a.status == http.StatusUnauthorized:
		return fmt.Sprintf("%s: HarfangLab refused HARFANGLAB_TOKEN", a)
	case a.status == http.StatusForbidden:
		return fmt.Sprintf("%s: the user of HARFANGLAB_TOKEN lacks the rights for this endpoint", a)
	}
	return ""
}

// probeHarfangLab runs the read-only HarfangLab probes; it returns the client for --write (nil
// when the token does not work).
func probeHarfangLab(ctx context.Context, rep *Report, h hl) bool {
	tok := h.get(ctx, harfanglab.PathIOCSource, url.Values{"limit": {"1"}})
	switch {
	case tok.err != nil:
		rep.add("harfanglab.token", true, CannotTell, "%s", tok)
		return false
	case authProblem(tok) != "":
		rep.add("harfanglab.token", true, Differs, "%s", authProblem(tok))
		return false
	case !tok.ok():
		rep.add("harfanglab.token", true, Differs, "%s on %s", tok, harfanglab.PathIOCSource)
		return false
	}
	rep.add("harfanglab.token", true, OK, "accepted")
	probeHLVersion(ctx, rep, h)
	probeSources(ctx, rep, h)
	probeRuleLists(ctx, rep, h)
	probeAlerts(ctx, rep, h)
	return true
}

// probeHLVersion reads /api/version/. Its answer shape beyond a `version` key is unknown
// (HarfangLab's XSOAR integration only checks that the key is there).
func probeHLVersion(ctx context.Context, rep *Report, h hl) {
	st, b, err := h.c.APIVersion(ctx)
	a := answer{status: st, body: b, err: err}
	if !a.ok() {
		rep.add("harfanglab.version", false, CannotTell, "/api/version/ answered %s", a)
		return
	}
	var v map[string]any
	if json.Unmarshal(b, &v) != nil || v["version"] == nil {
		rep.add("harfanglab.version", false, CannotTell, "/api/version/ answered %s", a)
		return
	}
	rep.add("harfanglab.version", false, OK, "HarfangLab %v", v["version"])
}

// probeSources looks for the list named HARFANGLAB_SOURCE_LIST_NAME of each kind, as the intel
// output does at start (it creates the missing ones).
func probeSources(ctx context.Context, rep *Report, h hl) {
	var found, absent []string
	for _, k := range []struct{ label, path string }{
		{"IOC", harfanglab.PathIOCSource}, {"Sigma", harfanglab.PathSigmaSource}, {"YARA", harfanglab.PathYaraSource},
	} {
		a := h.get(ctx, k.path, url.Values{"name__exact": {h.cfg.SourceList}, "limit": {"20"}})
		if !a.ok() {
			rep.add("harfanglab.sources", true, Differs, "listing %s answered %s", k.path, a)
			return
		}
		p, err := a.page()
		if err != nil {
			rep.add("harfanglab.sources", true, Differs, "%s: %v", k.path, err)
			return
		}
		exists := false
		for _, r := range p.Results {
			exists = exists || r["name"] == h.cfg.SourceList
		}
		if exists {
			found = append(found, k.label)
		} else {
			absent = append(absent, k.label)
		}
	}
	detail := fmt.Sprintf("IOC, Sigma and YARA lists readable; %q", h.cfg.SourceList)
	if len(found) > 0 {
		detail += " exists as " + strings.Join(found, ", ")
	}
	if len(absent) > 0 {
		if len(found) > 0 {
			detail += ";"
		}
		detail += " is created at first start as " + strings.Join(absent, ", ")
	}
	rep.add("harfanglab.sources", true, OK, "%s", detail)
}

// probeRuleLists reads one entry of each rule list; the entries also tell whether this console
// has `global_state` (newer consoles; disabling sends it beside `enabled`, older consoles ignore
// the unknown field).
func probeRuleLists(ctx context.Context, rep *Report, h hl) {
	var counts []string
	seen, withState := 0, []string{}
	for _, k := range []struct{ label, path string }{
		{"IOC rules", harfanglab.PathIOCRule}, {"Sigma rules", harfanglab.PathSigmaRule}, {"YARA files", harfanglab.PathYaraFile},
	} {
		a := h.get(ctx, k.path, url.Values{"limit": {"1"}})
		if !a.ok() {
			rep.add("harfanglab.rules", true, Differs, "listing %s answered %s", k.path, a)
			return
		}
		p, err := a.page()
		if err != nil {
			rep.add("harfanglab.rules", true, Differs, "%s: %v", k.path, err)
			return
		}
		counts = append(counts, fmt.Sprintf("%d %s", p.Count, k.label))
		for _, r := range p.Results {
			seen++
			if v, ok := r["global_state"]; ok {
				withState = append(withState, fmt.Sprintf("%s (%v)", k.label, v))
			}
		}
	}
	rep.add("harfanglab.rules", true, OK, "readable: %s", strings.Join(counts, ", "))
	switch {
	case len(withState) > 0:
		rep.add("harfanglab.global_state", false, OK, "present on %s: disabling sends global_state \"disabled\" with enabled false", strings.Join(withState, ", "))
	case seen == 0:
		rep.add("harfanglab.global_state", false, CannotTell, "no rule on the console to look at (--write creates some)")
	default:
		rep.add("harfanglab.global_state", false, OK, "absent (older console): disabling relies on enabled false; the global_state sent beside it is ignored")
	}
}
