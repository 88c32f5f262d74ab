// Package detections holds the end-to-end tests of the detections pull (HarfangLab →
// OpenCTI): the real binary runs pipelines/harfanglab-to-opencti.yaml against the HarfangLab
// and OpenCTI simulators.
package detections

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/faults"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/deploy"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/harness"
)

const (
	hlToken    = deploy.HLToken
	octiToken  = deploy.OCTIToken
	waitLong   = 60 * time.Second
	pollPeriod = "300ms"
)

// env is one deployment: both simulators, a state directory and the binary's environment.
type env struct {
	t     *testing.T
	hl    *hlsim.Server
	octi  *openctisim.Server
	state string
	vars  map[string]string
	addr  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	d := deploy.New(t)
	d.Vars["CONNECTOR_NAME"] = "HarfangLab"
	d.Vars["HARFANGLAB_POLL_INTERVAL"] = pollPeriod
	return &env{t: t, hl: d.HL, octi: d.OCTI, state: d.State, vars: d.Vars}
}

// start runs the binary on the detections pipeline and waits until it is ready.
func (e *env) start() *harness.Proc {
	e.t.Helper()
	e.addr = harness.FreeAddr(e.t)
	e.vars["HTTP_ADDRESS"] = e.addr
	p := harness.Start(e.t, e.vars, "streams", "--no-api",
		"-o", harness.Pipeline("observability.yaml"),
		"-r", harness.Pipeline("resources.yaml"),
		harness.Pipeline("harfanglab-to-opencti.yaml"))
	require.NoError(e.t, p.WaitReady(e.addr, waitLong))
	return p
}

// seed adds one alert of kind i with its rule; IOC rules carry an OpenCTI indicator id.
func (e *env) seed(kind string, i int) (alertID, indicatorID string) {
	a := e.hl.SampleAlert(kind, i)
	indicatorID = fmt.Sprintf("indicator--%s", uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprint(kind, i))))
	ruleKind, rule := hlsim.SampleRuleFor(a, indicatorID)
	e.hl.AddRule(ruleKind, rule)
	return e.hl.AddAlert(a), indicatorID
}

// incidentFor finds the pushed incident whose external references name the alert.
func (e *env) incidentFor(alertID string) map[string]any {
	for _, inc := range e.octi.ObjectsOfType("incident") {
		b, _ := json.Marshal(inc["external_references"])
		if strings.Contains(string(b), alertID) {
			return inc
		}
	}
	return nil
}

func (e *env) allIncidentsFor(ids []string) func() bool {
	return func() bool {
		for _, id := range ids {
			if e.incidentFor(id) == nil {
				return false
			}
		}
		return true
	}
}

// deadLetters reads the dead-letter file of the pipeline.
func (e *env) deadLetters() []map[string]any {
	f, err := os.Open(filepath.Join(e.state, "dead-letter", "harfanglab-to-opencti.jsonl"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func TestEveryAlertTypeBecomesAnIncidentWithASighting(t *testing.T) {
	e := newEnv(t)
	var ids []string
	indicators := map[string]string{}
	for i, kind := range hlsim.SampleKinds {
		id, ind := e.seed(kind, i)
		ids = append(ids, id)
		indicators[id] = ind
	}
	// Filtered out: a closed alert and an alert type that is not imported.
	closed := e.hl.SampleAlert(hlsim.SampleSigma, 40)
	closed["status"] = "closed"
	closedID := e.hl.AddAlert(closed)
	av := e.hl.SampleAlert(hlsim.SampleSigma, 41)
	av["alert_type"] = "hurukaiav"
	avID := e.hl.AddAlert(av)

	p := e.start()
	p.Eventually(waitLong, e.allIncidentsFor(ids), "an incident for each of the %d alerts", len(ids))
	time.Sleep(time.Second) // a few more polls
	assert.Nil(t, e.incidentFor(closedID), "closed alerts are filtered out")
	assert.Nil(t, e.incidentFor(avID), "alert types not listed are filtered out")

	sightings := e.octi.ObjectsOfType("sighting")
	sighted := map[string]bool{}
	for _, s := range sightings {
		if ref, ok := s["sighting_of_ref"].(string); ok {
			sighted[ref] = true
		}
	}
	for _, id := range ids {
		a := e.hl.Alert(id)
		if a["alert_type"] == "ioc" {
			assert.True(t, sighted[indicators[id]], "IOC alert %s sights the OpenCTI indicator of its rule", a["msg"])
		}
	}
	assert.GreaterOrEqual(t, len(sightings), len(ids), "one sighting per alert")
	for _, metric := range []string{"harfanglab_alerts_total", "harfanglab_alerts_polls_total", "harfanglab_alerts_rule_lookups_total"} {
		assert.Positive(t, metricSum(t, e.addr, metric), "metric %s exported and counting", metric)
	}
	assert.Equal(t, float64(len(ids)), metricSum(t, e.addr, "harfanglab_alerts_total"))
	assert.NotContains(t, p.Logs(), hlToken)
	assert.NotContains(t, p.Logs(), octiToken)
}

func TestThreatBecomesACaseIncident(t *testing.T) {
	e := newEnv(t)
	a1, _ := e.seed(hlsim.SampleSigma, 1)
	a2, _ := e.seed(hlsim.SampleIOCHash, 2)
	e.hl.AddThreat(map[string]any{"level": "critical"}, []string{a1, a2},
		[]map[string]any{{"content": "Analyst note: lateral movement from wks-001."}})

	p := e.start()
	p.Eventually(waitLong, func() bool { return len(e.octi.ObjectsOfType("case-incident")) == 1 }, "one case incident")
	p.Eventually(waitLong, e.allIncidentsFor([]string{a1, a2}), "the threat's incidents")
	c := e.octi.ObjectsOfType("case-incident")[0]
	refs, _ := json.Marshal(c["object_refs"])
	for _, id := range []string{a1, a2} {
		assert.Contains(t, string(refs), e.incidentFor(id)["id"], "the case gathers the incident of alert %s", id)
	}
	p.Eventually(waitLong, func() bool { return len(e.octi.ObjectsOfType("note")) >= 1 }, "the threat's note")
}

func TestManyPagesRestartsAndStatusChange(t *testing.T) {
	e := newEnv(t)
	e.vars["HARFANGLAB_IMPORT_SECURITY_EVENTS_FILTERS_BY_STATUS"] = "new,investigating,false_positive"
	e.vars["HARFANGLAB_IMPORT_THREATS_AS_CASE_INCIDENTS"] = "false"
	const n = 260 // three pages of 100
	var ids []string
	same := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04:05.000000+00:00")
	for i := range n {
		a := e.hl.SampleAlert(hlsim.SampleKinds[i%len(hlsim.SampleKinds)], i)
		if i >= 90 && i < 130 {
			a["alert_time"] = same // a block sharing one timestamp across a page boundary
		}
		ids = append(ids, e.hl.AddAlert(a))
		require.NotContains(t, e.hl.Alert(ids[i]), "last_update", "strict: new alerts carry no last_update")
	}
	p := e.start()
	p.Eventually(waitLong, func() bool { return len(e.octi.ObjectsOfType("incident")) >= n }, "%d incidents", n)
	p.Stop()
	bundles := e.octi.BundlesPushed()
	assert.Equal(t, n, len(e.octi.ObjectsOfType("incident")), "no duplicate incident")

	// Restart on the cursor: nothing is pushed again.
	p = e.start()
	time.Sleep(2 * time.Second)
	assert.Equal(t, bundles, e.octi.BundlesPushed(), "a restart with the cursor pushes nothing")

	// A status change reaches OpenCTI: the alert's sighting becomes negative.
	e.hl.SetAlertStatus(ids[5], "false_positive")
	p.Eventually(waitLong, func() bool { return e.octi.BundlesPushed() > bundles }, "the status change is pushed")
	p.Eventually(waitLong, func() bool {
		for _, s := range e.octi.ObjectsOfType("sighting") {
			b, _ := json.Marshal(s)
			if s["x_opencti_negative"] == true && strings.Contains(string(b), ids[5]) {
				return true
			}
		}
		inc := e.incidentFor(ids[5])
		b, _ := json.Marshal(inc)
		return strings.Contains(string(b), "false_positive")
	}, "the false positive is visible in OpenCTI")
	p.Stop()
	objects := len(e.octi.Objects())

	// Restart without the cursor: everything is pushed again under the same ids.
	require.NoError(t, os.RemoveAll(filepath.Join(e.state, "harfanglab_alerts")))
	bundles = e.octi.BundlesPushed()
	p = e.start()
	p.Eventually(waitLong, func() bool { return e.octi.BundlesPushed() >= bundles+n }, "the re-import")
	assert.Equal(t, n, len(e.octi.ObjectsOfType("incident")), "same ids: no duplicate incident")
	assert.Equal(t, objects, len(e.octi.Objects()), "same ids: no new object")
}

func TestMalformedAndPartialAlerts(t *testing.T) {
	e := newEnv(t)
	partial := e.hl.SampleAlert(hlsim.SampleIOCDomain, 1)
	delete(partial, "process")
	delete(partial, "agent")
	partialID := e.hl.AddAlert(partial)
	bad := e.hl.SampleAlert(hlsim.SampleSigma, 2)
	bad["rule_name"] = map[string]any{"not": "a string"}
	badID := e.hl.AddAlert(bad)
	goodID, _ := e.seed(hlsim.SampleSigma, 3)

	p := e.start()
	p.Eventually(waitLong, e.allIncidentsFor([]string{goodID, partialID}), "the good and the partial alert")
	p.Eventually(waitLong, func() bool {
		for _, d := range e.deadLetters() {
			if d["id"] == badID {
				return true
			}
		}
		return false
	}, "the malformed alert in the dead-letter file")
	for _, d := range e.deadLetters() {
		if d["id"] == badID {
			assert.NotEmpty(t, d["reason"])
			assert.Equal(t, "alert", d["kind"])
		}
	}
	assert.Nil(t, e.incidentFor(badID))
	assert.False(t, p.Exited(), "one bad alert never stops the pipeline")
}

func TestOpenCTIErrors(t *testing.T) {
	t.Run("5xx is retried", func(t *testing.T) {
		e := newEnv(t)
		id, _ := e.seed(hlsim.SampleIOCURL, 1)
		e.octi.SetGraphQLFaults(openctisim.GraphQLFaults{Status5xxNext: 4})
		p := e.start()
		p.Eventually(waitLong, e.allIncidentsFor([]string{id}), "the incident despite 503s")
		assert.Empty(t, e.deadLetters())
	})
	t.Run("bad token", func(t *testing.T) {
		e := newEnv(t)
		id, _ := e.seed(hlsim.SampleSigma, 1)
		e.vars["OPENCTI_TOKEN"] = "wrong-token-7b"
		p := harness.Start(t, e.vars, "streams", "--no-api",
			"-o", harness.Pipeline("observability.yaml"),
			"-r", harness.Pipeline("resources.yaml"),
			harness.Pipeline("harfanglab-to-opencti.yaml"))
		p.Eventually(waitLong, func() bool { return strings.Contains(p.Logs(), "OPENCTI_TOKEN") || p.Exited() },
			"an error naming OPENCTI_TOKEN")
		assert.Contains(t, p.Logs(), "OPENCTI_TOKEN")
		assert.NotContains(t, p.Logs(), "wrong-token-7b")
		assert.Nil(t, e.incidentFor(id))
		assert.Zero(t, e.octi.BundlesPushed())
	})
}

func TestHarfangLabFaultsAndKillsLoseNothing(t *testing.T) {
	e := newEnv(t)
	e.vars["HARFANGLAB_IMPORT_THREATS_AS_CASE_INCIDENTS"] = "false"
	const n = 400
	var ids []string
	for i := range n {
		id, _ := e.seed(hlsim.SampleKinds[i%len(hlsim.SampleKinds)], i)
		ids = append(ids, id)
	}
	e.hl.Faults().Set(faults.Config{Rate429: 0.05, Rate5xx: 0.05, RateDrop: 0.03, Latency: 5 * time.Millisecond})
	// Two SIGKILLs in the middle of the import, then a run to the end.
	for range 2 {
		p := e.start()
		before := len(e.octi.ObjectsOfType("incident"))
		p.Eventually(waitLong, func() bool { return len(e.octi.ObjectsOfType("incident")) > before }, "progress")
		p.Kill()
	}
	p := e.start()
	p.Eventually(3*waitLong, e.allIncidentsFor(ids), "every alert despite faults and kills")
	assert.Len(t, e.octi.ObjectsOfType("incident"), n, "nothing duplicated")
	assert.Positive(t, e.hl.Faults().Faulted(), "faults were injected")
}

// metricSum adds up every sample of one metric (all label sets) on /metrics.
func metricSum(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		var v float64
		if _, err := fmt.Sscanf(line[strings.LastIndex(line, " ")+1:], "%g", &v); err == nil {
			sum += v
		}
	}
	return sum
}
