package chaos

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/deploy"
)

// intelModel is an OpenCTI indicator population and the lists it must give in HarfangLab.
// Indicator i names 10.20.<i/250>.<i%250> and, when i is even, grp-<i/10>.example, shared by
// the five even indicators of its group of ten; indicators 1000+ are Sigma rules.
type intelModel struct {
	d      *deploy.Deployment
	inds   map[int]*openctisim.Indicator
	values map[int][]string
	last   time.Time
}

func newIntelModel(d *deploy.Deployment) *intelModel {
	return &intelModel{d: d, inds: map[int]*openctisim.Indicator{}, values: map[int][]string{}}
}

// publish sends an event with a strictly increasing updated_at close to the wall clock, as
// OpenCTI's updated_at and stream ids come from the same clock.
func (m *intelModel) publish(event string, i int) {
	t := time.Now().UTC().Truncate(time.Millisecond)
	if !t.After(m.last) {
		t = m.last.Add(time.Millisecond)
	}
	m.last = t
	time.Sleep(time.Millisecond) // events spread in time, as OpenCTI's are (the loss estimate reads the rate)
	ind := m.inds[i]
	ind.Modified = t
	m.d.OCTI.Publish(deploy.StreamID, event, openctisim.IndicatorEvent(event, *ind, nil))
}

func (m *intelModel) create(from, to int) {
	for i := from; i < to; i++ {
		id := fmt.Sprintf("heal-%05d", i)
		if i >= 1000 {
			m.inds[i] = &openctisim.Indicator{InternalID: id, Name: fmt.Sprintf("rule %d", i), PatternType: "sigma", Pattern: fmt.Sprintf(sigmaRule, i, i, i), Score: 60}
			m.publish("create", i)
			continue
		}
		m.setPattern(i, fmt.Sprintf("10.20.%d.%d", i/250, i%250))
		m.publish("create", i)
	}
}

func (m *intelModel) setPattern(i int, ip string) {
	ind := m.inds[i]
	if ind == nil {
		ind = &openctisim.Indicator{InternalID: fmt.Sprintf("heal-%05d", i), Name: fmt.Sprintf("ind %d", i), Score: 50}
		m.inds[i] = ind
	}
	ind.Pattern = fmt.Sprintf("[ipv4-addr:value = '%s']", ip)
	ind.StixID = "" // OpenCTI derives it from the pattern
	m.values[i] = []string{ip}
	if i%2 == 0 {
		grp := fmt.Sprintf("grp-%d.example", i/10)
		ind.Pattern += " OR [domain-name:value = '" + grp + "']"
		m.values[i] = append(m.values[i], grp)
	}
}

func (m *intelModel) remove(from, to int) {
	for i := from; i < to; i++ {
		m.publish("delete", i)
		delete(m.inds, i)
	}
}

func (m *intelModel) revoke(from, to int) {
	for i := from; i < to; i++ {
		m.inds[i].Revoked = true
		m.publish("update", i)
	}
}

func (m *intelModel) changePatterns(from, to int) {
	for i := from; i < to; i++ {
		m.setPattern(i, fmt.Sprintf("10.30.%d.%d", i/250, i%250))
		m.publish("update", i)
	}
}

// want is the IOC list (value → sorted owners) and the Sigma rule names a fresh run gives.
func (m *intelModel) want() (map[string]string, map[string]bool) {
	owners := map[string]map[string]bool{}
	rules := map[string]bool{}
	for i, ind := range m.inds {
		if ind.Revoked {
			continue
		}
		if i >= 1000 {
			rules[fmt.Sprintf("rule %d [%s]", i, ind.InternalID)] = true
			continue
		}
		for _, v := range m.values[i] {
			if owners[v] == nil {
				owners[v] = map[string]bool{}
			}
			owners[v][ind.InternalID] = true
		}
	}
	out := map[string]string{}
	for v, o := range owners {
		out[v] = joinSorted(o)
	}
	return out, rules
}

// orphansMissing compares HarfangLab with the model: orphans are enabled entries (IOC values
// or rules) not wanted or with an owner too many, missing are wanted ones not enabled there.
func (m *intelModel) orphansMissing() (orphans, missing int) {
	want, wantRules := m.want()
	got, _ := gotIOCs(m.d)
	for v, owners := range got {
		if w, ok := want[v]; !strings.HasPrefix(owners, "DISABLED") && (!ok || w != owners) {
			orphans++
		}
	}
	for v, owners := range want {
		if got[v] != owners {
			missing++
		}
	}
	rules, _ := gotRules(m.d)
	for name, enabled := range rules {
		if enabled && !wantRules[name] {
			orphans++
		}
	}
	for name := range wantRules {
		if !rules[name] {
			missing++
		}
	}
	return orphans, missing
}

func (m *intelModel) waitExact(wait time.Duration, what string) {
	want, wantRules := m.want()
	m.d.Eventually(wait, func() bool {
		got, dup := gotIOCs(m.d)
		rules, rdup := gotRules(m.d)
		enabled := map[string]bool{}
		for k, v := range rules {
			if v {
				enabled[k] = true
			}
		}
		return dup == 0 && rdup == 0 && equal(got, want) && equal(boolMap(enabled), boolMap(wantRules))
	}, what, func() string {
		got, _ := gotIOCs(m.d)
		o, mi := m.orphansMissing()
		return fmt.Sprintf("%d orphans, %d missing\n%s", o, mi, diff(want, got, 20))
	})
}

func boolMap(m map[string]bool) map[string]string {
	out := map[string]string{}
	for k := range m {
		out[k] = "x"
	}
	return out
}

func metrics(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

var sweptRe = regexp.MustCompile(`sweep after snapshot \S+ \((\w+)\): (\d+) indicators absent from the snapshot lost their claims on (\d+) entries \((\d+) entries removed`)

// sweepLine returns the figures of the last sweep log line of the current process.
func sweepLine(t *testing.T, logs string) (reason string, indicators, entries, removed int) {
	t.Helper()
	all := sweptRe.FindAllStringSubmatch(logs, -1)
	require.NotEmpty(t, all, "a sweep log line")
	m := all[len(all)-1]
	indicators, _ = strconv.Atoi(m[2])
	entries, _ = strconv.Atoi(m[3])
	removed, _ = strconv.Atoi(m[4])
	return m[1], indicators, entries, removed
}

// syncedModel starts the intel push on n indicators (and 5 Sigma rules) and waits for the
// exact lists.
func syncedModel(t *testing.T, n int) (*deploy.Deployment, *intelModel) {
	d := deploy.New(t)
	d.OCTI.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: 500 * time.Millisecond})
	m := newIntelModel(d)
	m.create(0, n)
	m.create(1000, 1005)
	p := d.Start(60*time.Second, deploy.IntelPush)
	m.waitExact(90*time.Second, "the first-run lists")
	d.Eventually(30*time.Second, func() bool { return sweptRe.MatchString(p.Logs()) }, "the first run's sweep", nil)
	return d, m
}

// Issue 12.4 / 11.3: 300 synced indicators; while the product is down OpenCTI deletes 40,
// revokes 20, changes 20 patterns and creates 30 (and deletes 2 of 5 Sigma rules), then the
// stream is trimmed past the cursor. After the restart the lists are exactly those of a fresh
// run: the trimmed resume re-snapshots and sweeps by itself.
func TestTrimmedResumeSelfHeals(t *testing.T) {
	d, m := syncedModel(t, 300)
	d.Stop()

	m.remove(0, 40)
	m.revoke(40, 60)
	m.changePatterns(60, 80)
	m.create(300, 330)
	m.remove(1000, 1002)
	lostEvents := 40 + 20 + 20 + 30 + 2 // published while down; the last 10 stay retained
	first := d.OCTI.TrimTo(deploy.StreamID, 10)
	orphansBefore, missingBefore := m.orphansMissing()
	writesBefore := d.HL.WriteCount()

	p := d.Start(60*time.Second, deploy.IntelPush)
	m.waitExact(90*time.Second, "the lists of a fresh run after a trimmed resume")
	orphans, missing := m.orphansMissing()
	assert.Zero(t, orphans)
	assert.Zero(t, missing)
	d.Eventually(10*time.Second, func() bool { return sweptRe.MatchString(p.Logs()) }, "the sweep log line", nil)
	logs := p.Logs()
	assert.Contains(t, logs, "were trimmed unread and are lost", "the first retained id is %s", first)
	lostRe := regexp.MustCompile(`about (\d+) events were trimmed unread and are lost \(estimated`)
	require.Regexp(t, lostRe, logs)
	estimate := lostRe.FindStringSubmatch(logs)[1]
	reason, indicators, entries, removed := sweepLine(t, logs)
	assert.Equal(t, "trimmed", reason)
	assert.Equal(t, 42, indicators, "the 40 deleted indicators and the 2 deleted rules")
	assert.Regexp(t, `opencti_stream_resnapshots_total\{[^}]*reason="trimmed"[^}]*\} [1-9]`, metrics(t, d.Addr))
	assert.Regexp(t, `harfanglab_intel_swept_entries_total\{[^}]*\} [1-9]`, metrics(t, d.Addr))
	assert.Empty(t, d.DeadLetters("opencti-to-harfanglab"))
	t.Logf("before the restart: %d orphans, %d missing; after: %d orphans, %d missing; %d HarfangLab writes in all, the sweep: %d indicators, %d entries lost a claim, %d removed; events lost: %d, estimated %s",
		orphansBefore, missingBefore, orphans, missing, d.HL.WriteCount()-writesBefore, indicators, entries, removed, lostEvents-10, estimate)
	assert.Positive(t, orphansBefore)
	assert.Positive(t, missingBefore)
}

// A reset (the cursor forgotten, as OpenCTI's "reset state" does) takes the snapshot again;
// indicators deleted meanwhile are swept, the rest is not rewritten.
func TestResetSnapshotSweepsDeletedIndicators(t *testing.T) {
	d, m := syncedModel(t, 100)
	d.Stop()
	m.remove(10, 20)
	require.NoError(t, os.Remove(filepath.Join(d.State, "opencti_stream_"+deploy.StreamID)))
	writesBefore := d.HL.WriteCount()
	p := d.Start(60*time.Second, deploy.IntelPush)
	m.waitExact(60*time.Second, "the lists after a reset")
	d.Eventually(10*time.Second, func() bool { return sweptRe.MatchString(p.Logs()) }, "the sweep log line", nil)
	reason, indicators, _, removed := sweepLine(t, p.Logs())
	assert.Equal(t, "first_run", reason)
	assert.Equal(t, 10, indicators)
	// 10 own IPs deleted, grp-1 (indicators 10-19) gone: 11 deletes, nothing else rewritten.
	assert.Equal(t, 11, removed)
	assert.EqualValues(t, 11, d.HL.WriteCount()-writesBefore, "writes are the changed entries only: %s",
		regexp.MustCompile(`harfanglab_intel_writes_total\{[^\n]*`).FindAllString(metrics(t, d.Addr), -1))
}

// The safety valve: a sweep that would remove more than half of the list does nothing and
// says which flag to set; with the flag and a new snapshot it goes through.
func TestSweepSafetyValve(t *testing.T) {
	d, m := syncedModel(t, 100)
	d.Stop()
	m.remove(0, 60)
	d.OCTI.TrimTo(deploy.StreamID, 5)
	synced, _ := gotIOCs(d)

	p := d.Start(60*time.Second, deploy.IntelPush)
	d.Eventually(60*time.Second, func() bool { return strings.Contains(p.Logs(), "refused: it would remove") },
		"the refused sweep", func() string { return p.Logs()[max(0, len(p.Logs())-3000):] })
	time.Sleep(time.Second)
	got, _ := gotIOCs(d)
	assert.Equal(t, synced, got, "nothing removed")
	dl := d.DeadLetters("opencti-to-harfanglab")
	require.Len(t, dl, 1)
	assert.Contains(t, dl[0]["reason"], "sweep_allow_large")
	orphans, _ := m.orphansMissing()
	d.Stop()

	d.Vars["HARFANGLAB_SWEEP_ALLOW_LARGE"] = "true"
	require.NoError(t, os.Remove(filepath.Join(d.State, "opencti_stream_"+deploy.StreamID)))
	d.Start(60*time.Second, deploy.IntelPush)
	m.waitExact(60*time.Second, "the lists once the large sweep is allowed")
	t.Logf("valve: refused sweep left %d orphans; allowed, 0", orphans)
}

// Issue 11.3 through the binary: a snapshot resumed (cursor still before its recover date, as
// an older version or a dated recover_from leaves it) after the server trimmed the events that
// follow that date. They are lost: the input compares `<recover ms>-0` with firstEventId and
// takes the snapshot again instead of tailing from a hole.
func TestTrimmedResumeDuringSnapshot(t *testing.T) {
	d := deploy.New(t)
	d.OCTI.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: 500 * time.Millisecond})
	m := newIntelModel(d)
	m.create(0, 50)
	d.OCTI.TrimTo(deploy.StreamID, 5)
	recoverUntil := time.Now().Add(-2 * time.Hour).UTC()
	cursor := fmt.Sprintf(`{"start_from":"%d-0","recover_until":%q}`, recoverUntil.Add(-time.Hour).UnixMilli(), recoverUntil.Format(time.RFC3339Nano))
	require.NoError(t, os.WriteFile(filepath.Join(d.State, "opencti_stream_"+deploy.StreamID), []byte(cursor), 0o600))

	p := d.Start(60*time.Second, deploy.IntelPush)
	m.waitExact(60*time.Second, "every indicator, the trimmed ones included")
	assert.Contains(t, p.Logs(), "were trimmed unread and are lost")
}

// Issue 11.4 through the binary: with recover_from now, an indicator published after the
// server sent `connected` and before it starts reading at `$` still reaches HarfangLab.
func TestRecoverFromNowLosesNothingBeforeTheFirstRead(t *testing.T) {
	d := deploy.New(t)
	d.OCTI.SetStreamFaults(openctisim.StreamFaults{HeartbeatPeriod: 500 * time.Millisecond, LiveTailDelay: 3 * time.Second})
	m := newIntelModel(d)
	m.create(0, 3) // before the start: not wanted with `now`
	for i := range 3 {
		delete(m.inds, i)
	}
	d.Vars["CONNECTOR_LIVE_STREAM_RECOVER_FROM"] = "now"
	d.Start(0, deploy.IntelPush)
	d.Eventually(30*time.Second, func() bool { return d.OCTI.StreamConnections() >= 1 }, "the stream connection", nil)
	m.create(3, 5) // while the server is between `connected` and its first read
	m.waitExact(30*time.Second, "the indicators published in the gap")
	got, _ := gotIOCs(d)
	assert.Len(t, got, 3, "two values and their shared one; nothing from before the start")
}
