// Package connector holds the end-to-end tests of the product as OpenCTI sees it: both
// directions registered as connectors (the intel push as a STREAM connector with its position in
// connector_state), a reset from the UI, the stream's 401, the real transient error codes and
// the OpenCTI 6.5 schema, all through the real binary against the simulators.
package connector

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/deploy"
)

const waitLong = 90 * time.Second

// streamConnectorID is what README documents: UUIDv5(namespace CONNECTOR_ID, "opencti-to-harfanglab").
func streamConnectorID(connectorID string) string {
	return uuid.NewSHA1(uuid.MustParse(connectorID), []byte("opencti-to-harfanglab")).String()
}

func connector(d *deploy.Deployment, id string) (openctisim.Connector, bool) {
	for _, c := range d.OCTI.Connectors() {
		if c.ID == id {
			return c, true
		}
	}
	return openctisim.Connector{}, false
}

func publishIndicator(d *deploy.Deployment, i int) string {
	ind := openctisim.Indicator{
		InternalID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: fmt.Sprintf("conn %d", i),
		Pattern: fmt.Sprintf("[domain-name:value = 'conn-%d.example.com']", i), Score: 60,
	}
	return d.OCTI.Publish(deploy.StreamID, "create", openctisim.IndicatorEvent("create", ind, nil))
}

type pyctiState struct {
	StartFrom    string `json:"start_from"`
	RecoverUntil string `json:"recover_until"`
}

func stateOf(c openctisim.Connector) (pyctiState, bool) {
	var s pyctiState
	return s, json.Unmarshal([]byte(c.State), &s) == nil && s.StartFrom != ""
}

// idAtLeast compares stream ids <ms>-<seq>.
func idAtLeast(a, b string) bool {
	var am, as, bm, bs uint64
	if _, err := fmt.Sscanf(a, "%d-%d", &am, &as); err != nil {
		return false
	}
	if _, err := fmt.Sscanf(b, "%d-%d", &bm, &bs); err != nil {
		return false
	}
	return am > bm || (am == bm && as >= bs)
}

// sumMetric adds the samples of every series whose line starts with prefix.
func sumMetric(t *testing.T, addr, prefix string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	total := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, prefix) {
			var v float64
			if _, err := fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v); err == nil {
				total += v
			}
		}
	}
	return total
}

func record(t *testing.T, what string, c openctisim.Connector) {
	reg, _ := json.Marshal(c.LastRegistration)
	t.Logf("%s as OpenCTI records it:\n  registration: %s\n  connector_state: %s\n  registrations: %d, pings: %d, states pinged: %q",
		what, reg, c.State, c.Registrations, c.Pings, c.PingStates)
}

// Both directions in one process, against a simulator validating OpenCTI 6.5's schema: the
// import direction is an EXTERNAL_IMPORT connector under CONNECTOR_ID, the intel push a STREAM
// connector under its derived id; both are registered and pinged, and the intel push's position
// follows the stream into connector_state, in pycti's shape.
func TestBothDirectionsAsOpenCTIRecordsThem(t *testing.T) {
	d := deploy.New(t)
	d.Vars["CONNECTOR_PING_INTERVAL"] = "3s" // pycti's 40 s, shortened so the test waits less
	d.OCTI.SetSchema(openctisim.Schema65)
	d.OCTI.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: time.Second})
	d.HL.AddAlert(d.HL.SampleAlert(hlsim.SampleKinds[0], 1))
	first := publishIndicator(d, 1)
	d.Start(waitLong, deploy.IntelPush, deploy.DetectionsPull)

	importID, streamID := d.Vars["CONNECTOR_ID"], streamConnectorID(d.Vars["CONNECTOR_ID"])
	d.Eventually(waitLong, func() bool { return len(d.IOCValues()) == 1 }, "the indicator in HarfangLab", nil)
	last := publishIndicator(d, 2)
	d.Eventually(waitLong, func() bool { return len(d.IOCValues()) == 2 }, "the second indicator in HarfangLab", nil)

	// Both directions ping every 40 s, as pycti does: the second ping of the intel push carries
	// a position past the last event; the first ping of the import direction arrives.
	d.Eventually(waitLong, func() bool {
		s, ok := connector(d, streamID)
		st, okState := stateOf(s)
		i, okImport := connector(d, importID)
		return ok && okState && idAtLeast(st.StartFrom, last) && okImport && i.Pings >= 1
	}, "both connectors pinged, the intel push positioned past "+last, func() string {
		return fmt.Sprintf("%+v", d.OCTI.Connectors())
	})

	s, _ := connector(d, streamID)
	record(t, "opencti-to-harfanglab (intel push)", s)
	assert.Equal(t, "STREAM", s.Type)
	assert.Equal(t, "HarfangLab intel push", s.Name)
	assert.Equal(t, []string{"harfanglab"}, s.Scope)
	assert.Equal(t, 1, s.Registrations)
	assert.GreaterOrEqual(t, s.Pings, 2)
	st, _ := stateOf(s)
	_, err := time.Parse(time.RFC3339Nano, st.RecoverUntil)
	assert.NoError(t, err, "recover_until is the first-run snapshot end, a date")
	assert.True(t, idAtLeast(st.StartFrom, first))
	var keys map[string]any
	require.NoError(t, json.Unmarshal([]byte(s.State), &keys))
	assert.Len(t, keys, 2, "pycti's shape: start_from and recover_until only")
	assert.Equal(t, `{"start_from":"0-0","recover_until":"`+st.RecoverUntil+`"}`, s.PingStates[0], "the first ping carries the first-run cursor")

	i, _ := connector(d, importID)
	record(t, "harfanglab-to-opencti (detections)", i)
	assert.Equal(t, "EXTERNAL_IMPORT", i.Type)
	assert.Equal(t, "HarfangLab", i.Name)
	assert.GreaterOrEqual(t, i.Registrations, 1)
	for _, c := range []openctisim.Connector{s, i} {
		for _, f := range []string{"auto_update", "enrichment_resolution", "listen_callback_uri"} {
			assert.NotContains(t, c.LastRegistration, f, "only sent when set (OpenCTI 6.5.7 rejects it)")
		}
		assert.WithinDuration(t, time.Now(), c.LastPing, 60*time.Second, "seen in the last 5 minutes: active")
	}
	d.Eventually(waitLong, func() bool { return len(d.OCTI.ObjectsOfType("incident")) > 0 }, "the import direction pushed against the 6.5 schema", nil)
	assert.NotContains(t, d.Proc.Logs(), "is not defined by type")
}

// A reset from the OpenCTI UI while the process is down: the first ping after the restart
// answers the cleared state, and the intel push starts its snapshot again.
func TestUIResetWhileDownIsDetected(t *testing.T) {
	d := deploy.New(t)
	publishIndicator(d, 1)
	d.Start(waitLong, deploy.IntelPush)
	streamID := streamConnectorID(d.Vars["CONNECTOR_ID"])
	d.Eventually(waitLong, func() bool { return len(d.IOCValues()) == 1 }, "the indicator in HarfangLab", nil)
	d.Eventually(waitLong, func() bool { c, _ := connector(d, streamID); _, ok := stateOf(c); return ok }, "a state", nil)
	d.Stop()

	// While it was down, the list gained an entry of ours whose indicator OpenCTI no longer has
	// (as after events lost): only a new snapshot can tell it is an orphan.
	d.HL.AddIOC(deploy.ListName, hlsim.IOCRule{Type: "domain_name", Value: "orphan.example.com", Enabled: true,
		Comment: `{"indicator_id":"ghost","indicator_ids":["ghost"],"indicator_score":50,"indicator_platforms":[]}`})
	require.NoError(t, d.OCTI.ResetConnectorState(streamID))
	c, _ := connector(d, streamID)
	assert.Empty(t, c.State, "the UI cleared it")
	p := d.Start(waitLong, deploy.IntelPush)
	p.Eventually(waitLong, func() bool { return strings.Contains(p.Logs(), "was reset in OpenCTI") },
		"the reset is detected at the first ping")
	// The reset takes the snapshot again, and the output sweeps at its end: the orphan goes,
	// the indicator OpenCTI still has stays.
	p.Eventually(waitLong, func() bool { return strings.Contains(p.Logs(), "(reset): 1 indicators absent from the snapshot") },
		"the re-snapshot of the reset ends with its sweep")
	assert.Equal(t, map[string]bool{"conn-1.example.com": true}, d.IOCValues(), "converged: the orphan removed, nothing else touched")
	c, _ = connector(d, streamID)
	record(t, "opencti-to-harfanglab after a reset", c)
	assert.False(t, c.StateReset, "the ping consumed the reset")
}

// A reset from the OpenCTI UI while the intel push runs: the next ping (within 40 s) answers the
// cleared state, and the intel push starts its snapshot again.
func TestUIResetWhileRunningIsDetected(t *testing.T) {
	d := deploy.New(t)
	d.Vars["CONNECTOR_PING_INTERVAL"] = "3s" // pycti's 40 s, shortened so the test waits less
	publishIndicator(d, 1)
	p := d.Start(waitLong, deploy.IntelPush)
	streamID := streamConnectorID(d.Vars["CONNECTOR_ID"])
	d.Eventually(waitLong, func() bool { c, _ := connector(d, streamID); _, ok := stateOf(c); return ok }, "a state", nil)
	require.NoError(t, d.OCTI.ResetConnectorState(streamID))
	p.Eventually(waitLong, func() bool { return strings.Contains(p.Logs(), "was reset in OpenCTI") },
		"the reset is detected at the next ping")
	// The running intel push takes the snapshot again; the output sweeps at its end and the
	// list is what it was (the reset lost nothing).
	p.Eventually(waitLong, func() bool { return strings.Contains(p.Logs(), "(reset): 0 indicators absent from the snapshot") },
		"the re-snapshot of the reset ends with its sweep")
	assert.Len(t, d.IOCValues(), 1)
	c, _ := connector(d, streamID)
	record(t, "opencti-to-harfanglab after a reset while running", c)
	assert.Equal(t, 1, c.Registrations, "detected by the ping, no restart")
	assert.Equal(t, 1, strings.Count(p.Logs(), "was reset in OpenCTI"), "one reset, one re-snapshot")
}

// An unknown stream id is a 401 (never 404); the error names the token, the capability and the
// stream id with their settings, and the process keeps trying without exiting.
func TestUnknownStreamIs401WithTheThreeCauses(t *testing.T) {
	d := deploy.New(t)
	d.Vars["CONNECTOR_LIVE_STREAM_ID"] = "6e5dba18-5c6e-4a4e-8f0e-000000000000"
	p := d.Start(0, deploy.IntelPush)
	p.Eventually(waitLong, func() bool { return strings.Contains(p.Logs(), "three causes") }, "the 401 explained")
	logs := p.Logs()
	for _, want := range []string{"401 You are not authorized", "OPENCTI_TOKEN", "TAXIIAPI", "CONNECTOR_LIVE_STREAM_ID", "6e5dba18-5c6e-4a4e-8f0e-000000000000"} {
		assert.Contains(t, logs, want)
	}
	// As a status ("answered \"404 ..."), not as digits: ports and timestamps may hold "404".
	assert.NotContains(t, logs, `answered \"404`)
	assert.NotContains(t, logs, "Not Found")
	assert.NotContains(t, logs, deploy.OCTIToken)
	assert.False(t, p.Exited(), "a 401 is reported and retried with back-off, not fatal to the process")
}

// `live` without the BYPASS capability is the same 401, and the message points at BYPASS.
func TestLiveWithoutBypassNamesBypass(t *testing.T) {
	d := deploy.New(t)
	d.OCTI.SetBypass(false)
	p := d.Start(0, deploy.IntelPush)
	p.Eventually(waitLong, func() bool { return strings.Contains(p.Logs(), "three causes") }, "the 401 explained")
	assert.Contains(t, p.Logs(), "BYPASS")
}

// The transient errors OpenCTI really sends (rate limiting, lock timeouts, database errors)
// are retried: every alert reaches OpenCTI, nothing is dead-lettered, retries are counted.
func TestRealTransientErrorsAreRetried(t *testing.T) {
	for _, e := range []openctisim.GraphQLError{openctisim.ErrTooManyRequests, openctisim.ErrLock, openctisim.ErrDatabase} {
		t.Run(e.Code, func(t *testing.T) {
			d := deploy.New(t)
			d.OCTI.SetGraphQLFaults(openctisim.GraphQLFaults{ErrorEvery: 2, Error: e})
			for i := range 6 {
				d.HL.AddAlert(d.HL.SampleAlert(hlsim.SampleKinds[i%len(hlsim.SampleKinds)], i))
			}
			d.Start(waitLong, deploy.DetectionsPull)
			d.Eventually(waitLong, func() bool { return len(d.OCTI.ObjectsOfType("incident")) == 6 }, "every alert in OpenCTI",
				func() string { return fmt.Sprintf("%d incidents", len(d.OCTI.ObjectsOfType("incident"))) })
			assert.Empty(t, d.DeadLetters("harfanglab-to-opencti"))
			assert.Positive(t, sumMetric(t, d.Addr, "opencti_graphql_retries_total{"), "retries counted")
		})
	}
}
