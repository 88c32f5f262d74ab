package detections

// End-to-end tests of the detections pull against the evidenced HarfangLab behaviours (issue
// 10, items 1–5 and 11): alerts without last_update, the 10 000 result window, evidenced
// ordering and time format, settle delay, maturity, and a token refused mid-run.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
)

// evidencedQuery is a list query in the forms HarfangLab's own clients send: one ordering
// field, whole-second UTC times.
var (
	evidencedOrdering = regexp.MustCompile(`(^|&)ordering=(-?alert_time|last_update)(&|$)`)
	timeFilter        = regexp.MustCompile(`(alert_time|last_update)__(gte|lte)=([^&]*)`)
	wholeSecond       = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d%3A\d\d%3A\d\dZ$`)
)

func assertEvidencedQueries(t *testing.T, hl *hlsim.Server) {
	t.Helper()
	n := 0
	for _, q := range hl.AlertQueries() {
		_, raw, _ := strings.Cut(q, "?")
		if strings.Contains(raw, "ordering=") {
			assert.Regexp(t, evidencedOrdering, raw)
		}
		for _, m := range timeFilter.FindAllStringSubmatch(raw, -1) {
			n++
			assert.Regexp(t, wholeSecond, m[3], "whole-second time in %s", q)
		}
	}
	assert.Positive(t, n, "time-filtered queries were sent")
}

// Item 1 and 3 (lenient path): a console that sets last_update at creation and accepts any
// form gets each alert once, not once per pass, and a later change once more.
func TestLenientConsoleGetsEachAlertOnce(t *testing.T) {
	e := newEnv(t)
	e.hl.SetLenient(true)
	var ids []string
	for i, kind := range hlsim.SampleKinds {
		id, _ := e.seed(kind, i)
		require.Contains(t, e.hl.Alert(id), "last_update")
		ids = append(ids, id)
	}
	p := e.start()
	p.Eventually(waitLong, e.allIncidentsFor(ids), "an incident per alert")
	time.Sleep(2 * time.Second) // several polls of every pass
	assert.Equal(t, float64(len(ids)), metricSum(t, e.addr, "harfanglab_alerts_total"), "each alert read once")
	e.hl.SetAlertStatus(ids[2], "investigating")
	p.Eventually(waitLong, func() bool { return metricSum(t, e.addr, "harfanglab_alerts_total") == float64(len(ids)+1) }, "the change read once")
	assertEvidencedQueries(t, e.hl)
}

// Item 3 (strict path): the strict simulator answers 400 to `last_update,id` and to
// microseconds; the pull only sends the evidenced forms, so it never meets one.
func TestStrictConsoleOnlyEvidencedOrderingAndTimeFormat(t *testing.T) {
	e := newEnv(t)
	id, _ := e.seed(hlsim.SampleSigma, 1)
	p := e.start()
	p.Eventually(waitLong, e.allIncidentsFor([]string{id}), "the incident")
	e.hl.SetAlertStatus(id, "investigating")
	p.Eventually(waitLong, func() bool { return metricSum(t, e.addr, "harfanglab_alerts_total") == 2 }, "the change")
	assertEvidencedQueries(t, e.hl)
	assert.Zero(t, metricSum(t, e.addr, "harfanglab_alerts_poll_errors_total"), "no query refused")
	assert.NotContains(t, p.Logs(), "400")
}

// Item 2: 12 000 alerts created within about a second, then one bulk status change giving them
// all one last_update: both passes walk past the 10 000 result window, nothing lost or stalled.
func TestBulkStatusChangeBeyondTheResultWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("12 000 alerts through the binary")
	}
	e := newEnv(t)
	e.vars["HARFANGLAB_IMPORT_SECURITY_EVENTS_FILTERS_BY_STATUS"] = "new,false_positive"
	e.vars["HARFANGLAB_IMPORT_THREATS_AS_CASE_INCIDENTS"] = "false"
	const n = 12000
	stamp := time.Now().UTC().Add(-10 * time.Minute)
	var ids []string
	for i := range n {
		a := e.hl.SampleAlert(hlsim.SampleKinds[i%len(hlsim.SampleKinds)], i)
		a["alert_time"] = stamp.Add(time.Duration(i) * time.Microsecond).Format("2006-01-02T15:04:05.000000+00:00")
		ids = append(ids, e.hl.AddAlert(a))
	}
	p := e.start()
	last := time.Now()
	p.Eventually(5*waitLong, func() bool {
		got := len(e.octi.ObjectsOfType("incident"))
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			t.Logf("%d incidents, %v alerts read", got, metricSum(t, e.addr, "harfanglab_alerts_total"))
		}
		return got >= n
	}, "%d incidents", n)
	p.Eventually(waitLong, func() bool { return metricSum(t, e.addr, "harfanglab_alerts_total") == n }, "every alert read once")

	start := time.Now()
	e.hl.SetAlertsStatus(ids, "false_positive")
	p.Eventually(5*waitLong, func() bool { return metricSum(t, e.addr, "harfanglab_alerts_total") >= 2*n }, "every alert read again after the bulk change")
	t.Logf("bulk change of %d alerts read back in %s", n, time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second)
	assert.Equal(t, float64(2*n), metricSum(t, e.addr, "harfanglab_alerts_total"), "each alert once per change")
	assert.Zero(t, metricSum(t, e.addr, "harfanglab_alerts_window_truncated_total"))
	assert.Zero(t, metricSum(t, e.addr, "harfanglab_alerts_poll_errors_total"), "no query past the window")
	assert.Len(t, e.octi.ObjectsOfType("incident"), n, "no duplicate incident")
	p.Eventually(waitLong, func() bool {
		negative := 0
		for _, inc := range e.octi.ObjectsOfType("incident") {
			if inc["x_opencti_negative"] == true {
				negative++
			}
		}
		return negative == n
	}, "every incident marked false positive in OpenCTI")
}

// Item 2: a threat grouping 40 000 security events is listed within the window (its newest
// 1000 alerts are embedded).
func TestThreatWithFortyThousandEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("40 000 alerts in the simulator")
	}
	e := newEnv(t)
	old := time.Now().UTC().Add(-72 * time.Hour)
	var ids []string
	for i := range 40000 {
		a := e.hl.SampleAlert(hlsim.SampleSigma, i)
		a["alert_time"] = old.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000000+00:00")
		ids = append(ids, e.hl.AddAlert(a))
	}
	e.hl.AddThreat(map[string]any{"level": "critical", "total_security_event_count": 40000}, ids, nil)
	e.vars["HARFANGLAB_IMPORT_START_DATE"] = time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	p := e.start()
	p.Eventually(2*waitLong, func() bool { return len(e.octi.ObjectsOfType("case-incident")) == 1 }, "the threat's case incident")
	assert.Zero(t, metricSum(t, e.addr, "harfanglab_alerts_poll_errors_total"))
	assert.Empty(t, e.deadLetters())
}

// Item 4: by default an alert waits 2 minutes before it is read; the setting changes it.
func TestSettleDelayDefaultsToTwoMinutes(t *testing.T) {
	e := newEnv(t)
	delete(e.vars, "HARFANGLAB_SETTLE_DELAY")
	fresh, _ := e.seed(hlsim.SampleSigma, 1)
	a := e.hl.SampleAlert(hlsim.SampleIOCHash, 2)
	a["alert_time"] = time.Now().UTC().Add(-3 * time.Minute).Format("2006-01-02T15:04:05.000000+00:00")
	settled := e.hl.AddAlert(a)
	p := e.start()
	p.Eventually(waitLong, e.allIncidentsFor([]string{settled}), "the alert older than 2 minutes")
	time.Sleep(1500 * time.Millisecond) // several polls
	assert.Nil(t, e.incidentFor(fresh), "an alert younger than 2 minutes waits")
	var bound time.Time
	for _, q := range e.hl.AlertQueries() {
		if m := regexp.MustCompile(`alert_time__lte=([^&]*)`).FindStringSubmatch(q); m != nil {
			bound, _ = time.Parse("2006-01-02T15:04:05Z", strings.ReplaceAll(m[1], "%3A", ":"))
		}
	}
	assert.WithinDuration(t, time.Now().Add(-2*time.Minute), bound, 5*time.Second, "upper bound now − 2 min")
	p.Stop()

	e.vars["HARFANGLAB_SETTLE_DELAY"] = "1s"
	p = e.start()
	p.Eventually(waitLong, e.allIncidentsFor([]string{fresh}), "the fresh alert with a 1 s delay")
}

// Item 5: alerts of rules under evaluation are left out unless their maturity is listed.
func TestMaturityFilter(t *testing.T) {
	e := newEnv(t)
	stable, _ := e.seed(hlsim.SampleSigma, 1)
	a := e.hl.SampleAlert(hlsim.SampleSigma, 2)
	a["maturity"] = "testing"
	testingID := e.hl.AddAlert(a)
	p := e.start()
	p.Eventually(waitLong, e.allIncidentsFor([]string{stable}), "the stable alert")
	time.Sleep(1500 * time.Millisecond)
	assert.Nil(t, e.incidentFor(testingID), "maturity testing is not imported by default")
	for _, q := range e.hl.AlertQueries() {
		if strings.HasPrefix(q, "Alert/?") && strings.Contains(q, "__gte=") {
			assert.Contains(t, q, "maturity=stable")
		}
	}
	p.Stop()

	// A fresh deployment listing both maturities imports it.
	e2 := newEnv(t)
	e2.vars["HARFANGLAB_IMPORT_FILTERS_BY_MATURITY"] = "stable,testing"
	a = e2.hl.SampleAlert(hlsim.SampleSigma, 2)
	a["maturity"] = "testing"
	id := e2.hl.AddAlert(a)
	e2.start().Eventually(waitLong, e2.allIncidentsFor([]string{id}), "the testing alert when listed")
}

// Item 11: the token is revoked mid-run. Nothing is dead-lettered, /ready turns false, the log
// names HARFANGLAB_TOKEN, and once the token works again every alert arrives, once.
func TestTokenRevokedMidRunLosesNothing(t *testing.T) {
	e := newEnv(t)
	e.vars["HARFANGLAB_IMPORT_THREATS_AS_CASE_INCIDENTS"] = "false"
	first, _ := e.seed(hlsim.SampleSigma, 1)
	p := e.start()
	p.Eventually(waitLong, e.allIncidentsFor([]string{first}), "the first alert")

	e.hl.SetToken("rotated-" + hlToken[:4])
	var later []string
	for i := range 6 {
		id, _ := e.seed(hlsim.SampleKinds[i%len(hlsim.SampleKinds)], 10+i)
		later = append(later, id)
	}
	p.Eventually(waitLong, func() bool { return !ready(e.addr) }, "/ready turns false")
	p.Eventually(waitLong, func() bool { return strings.Contains(p.Logs(), "HARFANGLAB_TOKEN") }, "a log line naming HARFANGLAB_TOKEN")
	time.Sleep(time.Second)
	assert.Len(t, e.octi.ObjectsOfType("incident"), 1, "nothing read while refused")
	assert.Empty(t, e.deadLetters(), "a refused token is not a bad alert")

	e.hl.SetToken(hlToken)
	p.Eventually(2*waitLong, e.allIncidentsFor(later), "every alert added meanwhile")
	p.Eventually(waitLong, func() bool { return ready(e.addr) }, "/ready again")
	time.Sleep(time.Second)
	assert.Equal(t, float64(1+len(later)), metricSum(t, e.addr, "harfanglab_alerts_total"), "each alert once")
	assert.Len(t, e.octi.ObjectsOfType("incident"), 1+len(later))
	assert.Empty(t, e.deadLetters())
	assert.NotContains(t, p.Logs(), hlToken)
	var lines []string
	for _, l := range strings.Split(p.Logs(), "\n") {
		if strings.Contains(l, "HARFANGLAB_TOKEN") {
			lines = append(lines, l)
		}
	}
	t.Logf("%d log lines name HARFANGLAB_TOKEN during the outage, the first: %s", len(lines), lines[0])
}

func ready(addr string) bool {
	resp, err := http.Get(fmt.Sprintf("http://%s/ready", addr))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Item 1, upgrade: a cursor written by the previous version (one last_update cursor) is taken
// over: alerts before it are not imported again, alerts after it are, and the restart after
// that pushes nothing.
func TestCursorOfThePreviousVersionIsTakenOver(t *testing.T) {
	e := newEnv(t)
	e.vars["HARFANGLAB_IMPORT_THREATS_AS_CASE_INCIDENTS"] = "false"
	at := func(d time.Duration) string {
		return time.Now().UTC().Add(-d).Format("2006-01-02T15:04:05.000000+00:00")
	}
	var before, after []string
	for i := range 4 {
		a := e.hl.SampleAlert(hlsim.SampleKinds[i], i)
		a["alert_time"] = at(2 * time.Hour)
		before = append(before, e.hl.AddAlert(a))
		b := e.hl.SampleAlert(hlsim.SampleKinds[i], 10+i)
		b["alert_time"] = at(10 * time.Minute)
		after = append(after, e.hl.AddAlert(b))
	}
	v1 := fmt.Sprintf(`{"version":1,"alerts":{"since":%q,"seen":{"gone":"x"}},"threats":{"since":%q}}`,
		time.Now().UTC().Add(-time.Hour).Format(time.RFC3339Nano), time.Now().UTC().Add(-time.Hour).Format(time.RFC3339Nano))
	require.NoError(t, os.WriteFile(filepath.Join(e.state, "harfanglab_alerts"), []byte(v1), 0o600))

	p := e.start()
	p.Eventually(waitLong, e.allIncidentsFor(after), "the alerts after the old cursor")
	time.Sleep(1500 * time.Millisecond)
	for _, id := range before {
		assert.Nil(t, e.incidentFor(id), "an alert before the old cursor is not imported again")
	}
	assert.Equal(t, float64(len(after)), metricSum(t, e.addr, "harfanglab_alerts_total"))
	p.Stop()
	b, err := os.ReadFile(filepath.Join(e.state, "harfanglab_alerts"))
	require.NoError(t, err)
	assert.Contains(t, string(b), `"version":2`)
	bundles := e.octi.BundlesPushed()
	p = e.start()
	time.Sleep(1500 * time.Millisecond)
	assert.Equal(t, bundles, e.octi.BundlesPushed(), "a restart on the new cursor pushes nothing")
}
