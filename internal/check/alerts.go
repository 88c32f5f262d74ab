package check

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/harfanglab"
)

// Time filter formats: whole seconds with Z is what HarfangLab's own XSOAR integration and SDK
// send (evidenced); microseconds are what no public client sends (unconfirmed).
const (
	wholeSeconds = "2006-01-02T15:04:05Z"
	microseconds = "2006-01-02T15:04:05.000000Z"
	// resultWindow is Elasticsearch's default index.max_result_window: the HarfangLab SDK
	// bisects its time window when `count` reaches it.
	resultWindow = 10000
	// recentAlerts is how many recent security events the last_update probe looks at.
	recentAlerts = 100
)

// future is a date no security event has: a filter on it must leave nothing, unless ignored.
var future = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// probeAlerts runs the security-event probes of the detections pull.
func probeAlerts(ctx context.Context, rep *Report, h hl) {
	a := h.get(ctx, harfanglab.PathAlerts, h.alertQuery("limit", "1"))
	if !a.ok() {
		if p := authProblem(a); p != "" {
			rep.add("harfanglab.alerts", true, Differs, "%s", p)
		} else {
			rep.add("harfanglab.alerts", true, Differs, "listing security events answered %s", a)
		}
		return
	}
	matching, err := a.page()
	if err != nil {
		rep.add("harfanglab.alerts", true, Differs, "%v", err)
		return
	}
	rep.add("harfanglab.alerts", true, OK, "readable: %d security events with status %s, type %s, maturity %s",
		matching.Count, strings.Join(h.cfg.Statuses, ","), strings.Join(h.cfg.AlertTypes, ","), strings.Join(h.cfg.AlertMaturities, ","))
	if h.cfg.Threats {
		probeThreats(ctx, rep, h)
	}
	total := -1
	if all := h.get(ctx, harfanglab.PathAlerts, url.Values{"limit": {"1"}}); all.ok() {
		if p, err := all.page(); err == nil {
			total = p.Count
		}
	}
	probePullQueries(ctx, rep, h)
	probeLastUpdate(ctx, rep, h)
	probeOrdering(ctx, rep, h)
	probeTimeFilters(ctx, rep, h, total)
	probeResultWindow(ctx, rep, h)
	probeMaturity(ctx, rep, h)
}

// probeLastUpdate counts recent security events without `last_update`: real exports have none
// until someone touches the alert, and such alerts must still be imported (by alert_time).
func probeLastUpdate(ctx context.Context, rep *Report, h hl) {
	a := h.get(ctx, harfanglab.PathAlerts, url.Values{"ordering": {"-alert_time"}, "limit": {strconv.Itoa(recentAlerts)}})
	if !a.ok() {
		a = h.get(ctx, harfanglab.PathAlerts, url.Values{"limit": {strconv.Itoa(recentAlerts)}})
	}
	p, err := a.page()
	if !a.ok() || err != nil {
		rep.add("harfanglab.alerts_last_update", false, CannotTell, "listing security events answered %s", a)
		return
	}
	if len(p.Results) == 0 {
		rep.add("harfanglab.alerts_last_update", false, CannotTell, "no security event on the console yet")
		return
	}
	without := 0
	for _, r := range p.Results {
		if v, ok := r["last_update"]; !ok || v == nil || v == "" {
			without++
		}
	}
	rep.add("harfanglab.alerts_last_update", false, OK, "%d of the %d most recent security events have no last_update (such events are imported by alert_time)", without, len(p.Results))
}

// probeOrdering checks the evidenced `ordering=alert_time` (required: the pull pages new events
// in that order) and the unconfirmed `ordering=last_update,id`.
func probeOrdering(ctx context.Context, rep *Report, h hl) {
	a := h.get(ctx, harfanglab.PathAlerts, url.Values{"ordering": {"alert_time"}, "limit": {"50"}})
	p, err := a.page()
	switch {
	case !a.ok() || err != nil:
		rep.add("harfanglab.ordering_alert_time", true, Differs, "ordering=alert_time answered %s", a)
	case !ascending(p.Results, "alert_time"):
		rep.add("harfanglab.ordering_alert_time", true, Differs, "ordering=alert_time accepted but the answer is not in alert_time order")
	default:
		rep.add("harfanglab.ordering_alert_time", true, OK, "accepted and honoured (%d events compared)", len(p.Results))
	}
	b := h.get(ctx, harfanglab.PathAlerts, url.Values{"ordering": {"last_update,id"}, "limit": {"1"}})
	switch {
	case b.err != nil:
		rep.add("harfanglab.ordering_last_update_id", false, CannotTell, "%s", b)
	case b.status == http.StatusBadRequest:
		rep.add("harfanglab.ordering_last_update_id", false, OK, "refused (%s); the pull does not depend on it", b)
	case b.ok():
		rep.add("harfanglab.ordering_last_update_id", false, OK, "accepted")
	default:
		rep.add("harfanglab.ordering_last_update_id", false, Differs, "answered %s", b)
	}
}

// ascending tells whether results are ordered by the time field (missing values skipped).
func ascending(results []map[string]any, field string) bool {
	var prev time.Time
	for _, r := range results {
		s, _ := r[field].(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			continue
		}
		if t.Before(prev) {
			return false
		}
		prev = t
	}
	return true
}

// probeTimeFilters sends a time filter in the future: honoured, it leaves no event; ignored, it
// leaves them all (a cursor would then never move past anything).
func probeTimeFilters(ctx context.Context, rep *Report, h hl, total int) {
	var notes []string
	status := OK
	for _, f := range []string{"alert_time__gte", "last_update__gte"} {
		verdict, st := filterVerdict(ctx, h, f, future.Format(wholeSeconds), total)
		notes = append(notes, f+" "+verdict)
		if st != OK {
			status = st
		}
	}
	rep.add("harfanglab.time_filter_seconds", true, status, "whole seconds (%s): %s", future.Format(wholeSeconds), strings.Join(notes, "; "))
	verdict, st := filterVerdict(ctx, h, "alert_time__gte", future.Format(microseconds), total)
	if st == Differs && strings.HasPrefix(verdict, "refused") {
		st = OK // unconfirmed format: a 400 is what the evidence expects, the pull sends whole seconds
	}
	rep.add("harfanglab.time_filter_microseconds", false, st, "microseconds (%s): alert_time__gte %s", future.Format(microseconds), verdict)
}

func filterVerdict(ctx context.Context, h hl, field, value string, total int) (string, Status) {
	a := h.get(ctx, harfanglab.PathAlerts, url.Values{field: {value}, "limit": {"1"}})
	if a.err != nil {
		return a.String(), CannotTell
	}
	if a.status == http.StatusBadRequest {
		return fmt.Sprintf("refused (%s)", a), Differs
	}
	p, err := a.page()
	switch {
	case !a.ok() || err != nil:
		return fmt.Sprintf("answered %s", a), Differs
	case p.Count == 0 && total > 0:
		return "accepted and honoured", OK
	case p.Count == 0:
		return "accepted (no security event yet to show that it filters)", OK
	case p.Count == total:
		return fmt.Sprintf("ignored (a date in %d still leaves all %d events)", future.Year(), total), Differs
	default:
		return fmt.Sprintf("accepted, but %d events are dated after %d", p.Count, future.Year()), Differs
	}
}

// probeResultWindow asks for the result just past Elasticsearch's window: real consoles refuse
// it with a 400 (the SDK bisects its time window instead), so the pull must never page that far.
func probeResultWindow(ctx context.Context, rep *Report, h hl) {
	a := h.get(ctx, harfanglab.PathAlerts, url.Values{"offset": {strconv.Itoa(resultWindow)}, "limit": {"1"}})
	switch {
	case a.err != nil:
		rep.add("harfanglab.result_window", false, CannotTell, "%s", a)
	case a.status == http.StatusBadRequest:
		rep.add("harfanglab.result_window", false, OK, "offset %d refused (%s): listings stop at %d results", resultWindow, a, resultWindow)
	case a.ok():
		rep.add("harfanglab.result_window", false, OK, "offset %d accepted: no %d-result window on this console", resultWindow, resultWindow)
	default:
		rep.add("harfanglab.result_window", false, Differs, "offset %d answered %s", resultWindow, a)
	}
}

// probePullQueries sends the first page of each alert pass of harfanglab_alerts as it builds it:
// new events by alert_time, changed ones by last_update, each with whole-second bounds (the
// upper one a settle delay in the past) and the user's filters.
func probePullQueries(ctx context.Context, rep *Report, h hl) {
	now := time.Now().UTC()
	since, until := now.Add(-24*time.Hour).Format(wholeSeconds), now.Add(-2*time.Minute).Format(wholeSeconds)
	var answers []string
	for _, field := range []string{"alert_time", "last_update"} {
		a := h.get(ctx, harfanglab.PathAlerts, h.alertQuery(field+"__gte", since, field+"__lte", until,
			"ordering", field, "limit", "100", "offset", "0"))
		if !a.ok() {
			rep.add("harfanglab.pull_queries", true, Differs, "the %s pass's query answered %s", field, a)
			return
		}
		answers = append(answers, field+" "+strconv.Itoa(a.status))
	}
	rep.add("harfanglab.pull_queries", true, OK, "both passes' queries accepted (%s)", strings.Join(answers, ", "))
}

// probeThreats lists threats as the pull does: by last_update, whole-second bounds.
func probeThreats(ctx context.Context, rep *Report, h hl) {
	since := time.Now().UTC().Add(-24 * time.Hour).Format(wholeSeconds)
	t := h.get(ctx, harfanglab.PathThreats, url.Values{"last_update__gte": {since}, "ordering": {"last_update"}, "limit": {"1"}})
	if t.ok() {
		rep.add("harfanglab.threats", true, OK, "readable by last_update (ordering and whole-second filter accepted)")
		return
	}
	if p := authProblem(t); p != "" {
		rep.add("harfanglab.threats", true, Differs, "%s (or set HARFANGLAB_IMPORT_THREATS_AS_CASE_INCIDENTS=false)", p)
		return
	}
	rep.add("harfanglab.threats", true, Differs, "listing threats by last_update answered %s (or set HARFANGLAB_IMPORT_THREATS_AS_CASE_INCIDENTS=false)", t)
}

// probeMaturity checks the `maturity` filter both Python connectors send.
func probeMaturity(ctx context.Context, rep *Report, h hl) {
	a := h.get(ctx, harfanglab.PathAlerts, url.Values{"maturity": {"stable"}, "limit": {"1"}})
	if a.ok() {
		rep.add("harfanglab.maturity_filter", false, OK, "maturity=stable accepted")
		return
	}
	rep.add("harfanglab.maturity_filter", false, Differs, "maturity=stable answered %s", a)
}
