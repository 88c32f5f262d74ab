package harfanglab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
)

// got is one message as the pipeline saw it.
type got struct {
	Body map[string]any
	Meta map[string]string
	Err  error
}

type collector struct {
	mu   sync.Mutex
	msgs []got
	// reject, when set, nacks the messages it returns an error for.
	reject func(got) error
}

func (c *collector) consume(_ context.Context, m *service.Message) error {
	b, err := m.AsBytes()
	if err != nil {
		return err
	}
	g := got{Meta: map[string]string{}, Err: m.GetError()}
	if err := json.Unmarshal(b, &g.Body); err != nil {
		return fmt.Errorf("message body is not JSON: %w", err)
	}
	_ = m.MetaWalk(func(k, v string) error { g.Meta[k] = v; return nil })
	if c.reject != nil {
		if err := c.reject(g); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.msgs = append(c.msgs, g)
	c.mu.Unlock()
	return nil
}

func (c *collector) all() []got {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]got(nil), c.msgs...)
}

func (c *collector) ids(kind string) []string {
	var out []string
	for _, g := range c.all() {
		if g.Meta[metaKind] == kind {
			out = append(out, g.Meta[metaID])
		}
	}
	return out
}

// runStream runs the input with extra YAML fields against url until the test ends or stop is
// called; the cursor lives in a file cache under dir.
func runStream(t *testing.T, url, dir, extra string, c *collector) (stop func()) {
	t.Helper()
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML("level: warn"))
	require.NoError(t, b.AddInputYAML(fmt.Sprintf(`
harfanglab_alerts:
  url: %s
  token: %s
  poll_interval: 50ms
  checkpoint_cache: cursor
%s`, url, testToken, indent(withDefaults(extra)))))
	require.NoError(t, b.AddCacheYAML(fmt.Sprintf(`
label: cursor
file:
  directory: %s
`, dir)))
	require.NoError(t, b.AddConsumerFunc(c.consume))
	s, err := b.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("stream: %v", err)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = s.StopWithin(5 * time.Second)
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return stop
}

// withDefaults makes tests see alerts at once unless they test the settle delay, and start
// in 2020 unless they set start_date.
func withDefaults(extra string) string {
	if !strings.Contains(extra, "settle_delay") {
		extra += "\nsettle_delay: 0s"
	}
	if !strings.Contains(extra, "start_date") {
		extra += "\nstart_date: \"2020-01-01T00:00:00Z\""
	}
	return extra
}

func indent(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

func newSim(t *testing.T) (*hlsim.Server, string) {
	t.Helper()
	sim := hlsim.New(testToken)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

func eventually(t *testing.T, cond func() bool, msg string, args ...any) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 20*time.Millisecond, fmt.Sprintf(msg, args...))
}

func TestEveryAlertTypeWithItsRuleAndIndicators(t *testing.T) {
	sim, url := newSim(t)
	want := map[string]string{} // alert id → sample kind
	for i, kind := range hlsim.SampleKinds {
		a := sim.SampleAlert(kind, i)
		ruleKind, rule := hlsim.SampleRuleFor(a, fmt.Sprintf("indicator--00000000-0000-4000-8000-00000000000%d", i), "5b1c1c1e-0000-4000-8000-0000000000aa")
		if kind == hlsim.SampleSigma || kind == hlsim.SampleYara {
			delete(rule, "comment") // rules of those kinds carry no comment in HarfangLab
		}
		sim.AddRule(ruleKind, rule)
		want[sim.AddAlert(a)] = kind
	}
	// An IOC rule with the same value in another list must not be preferred, nor its comment read.
	other := sim.SampleAlert(hlsim.SampleIOCDomain, 1)
	_, foreign := hlsim.SampleRuleFor(other, "indicator--ffffffff-0000-4000-8000-000000000000")
	foreign["source_name"] = "vendor feed"
	sim.AddRule("ioc", foreign)

	c := &collector{}
	runStream(t, url, t.TempDir(), "threats: false", c)
	eventually(t, func() bool { return len(c.all()) >= len(want) }, "want %d alerts", len(want))
	time.Sleep(200 * time.Millisecond) // a few more polls: nothing new must come
	msgs := c.all()
	require.Len(t, msgs, len(want))
	for _, m := range msgs {
		id := m.Meta[metaID]
		kind := want[id]
		require.NotEmpty(t, kind, "unexpected alert %s", id)
		require.NoError(t, m.Err, kind)
		assert.Equal(t, "alert", m.Body["kind"])
		assert.Equal(t, "alert", m.Meta[metaKind])
		assert.Equal(t, id, m.Body["alert"].(map[string]any)["id"])
		rule, _ := m.Body["rule"].(map[string]any)
		require.NotNil(t, rule, "%s: rule resolved", kind)
		ids := m.Body["indicator_ids"].([]any)
		switch kind {
		case hlsim.SampleSigma:
			assert.Equal(t, "sigma", m.Body["rule_type"])
			assert.Equal(t, m.Body["alert"].(map[string]any)["rule_name"], rule["rule_name"])
			assert.Empty(t, ids)
		case hlsim.SampleYara:
			assert.Equal(t, "yara", m.Body["rule_type"])
			assert.Contains(t, m.Body["alert"].(map[string]any)["rule_name"], rule["name"])
			assert.Empty(t, ids)
		default:
			assert.Equal(t, "ioc", m.Body["rule_type"])
			assert.Contains(t, m.Body["alert"].(map[string]any)["msg"], rule["value"])
			assert.Len(t, ids, 2, kind)
			assert.NotContains(t, ids, "indicator--ffffffff-0000-4000-8000-000000000000")
		}
	}
}

func TestFiltersAreSentAndApplied(t *testing.T) {
	sim, url := newSim(t)
	keep := map[string]bool{}
	for i := range 12 {
		a := sim.SampleAlert(hlsim.SampleKinds[i%len(hlsim.SampleKinds)], i)
		switch i % 3 {
		case 1:
			a["status"] = "closed"
		case 2:
			a["status"] = "investigating"
		}
		if i == 4 {
			a["maturity"] = "testing" // a rule under evaluation: not imported by default
		}
		id := sim.AddAlert(a)
		if a["status"] != "closed" && a["alert_type"] != "yara" && a["maturity"] == "stable" {
			keep[id] = true
		}
	}
	c := &collector{}
	runStream(t, url, t.TempDir(), `
statuses: [ "new,investigating" ]
alert_types: [ sigma, ioc ]
threats: false`, c)
	eventually(t, func() bool { return len(c.all()) >= len(keep) }, "want %d alerts", len(keep))
	time.Sleep(150 * time.Millisecond)
	assert.ElementsMatch(t, keys(keep), c.ids("alert"))
	sawPass := map[string]bool{}
	for _, q := range sim.AlertQueries() {
		for _, field := range []string{"alert_time", "last_update"} {
			if strings.HasPrefix(q, "Alert/?") && strings.Contains(q, field+"__gte=") {
				sawPass[field] = true
				assert.Contains(t, q, "status=new%2Cinvestigating")
				assert.Contains(t, q, "alert_type=sigma%2Cioc")
				assert.Contains(t, q, "maturity=stable")
				assert.Contains(t, q, "ordering="+field+"&")
				assert.Regexp(t, field+`__gte=\d{4}-\d\d-\d\dT\d\d%3A\d\d%3A\d\dZ&`, q, "whole seconds")
			}
		}
	}
	assert.True(t, sawPass["alert_time"], "new alerts by alert_time")
	assert.True(t, sawPass["last_update"], "changes by last_update")
}

func TestManyPagesSharedTimestampsRestartAndStatusChange(t *testing.T) {
	sim, url := newSim(t)
	dir := t.TempDir()
	var ids []string
	base := time.Now().UTC().Add(-time.Hour)
	for i := range 120 {
		a := sim.SampleAlert(hlsim.SampleSigma, i)
		// Blocks of 17 alerts share one alert_time (no last_update: never touched): they
		// straddle pages of 7.
		a["alert_time"] = base.Add(time.Duration(i/17) * time.Second).Format("2006-01-02T15:04:05.000000+00:00")
		ids = append(ids, sim.AddAlert(a))
	}
	c := &collector{}
	stop := runStream(t, url, dir, "page_size: 7\nthreats: false", c)
	eventually(t, func() bool { return len(c.all()) >= 120 }, "120 alerts")
	time.Sleep(200 * time.Millisecond)
	assert.ElementsMatch(t, ids, c.ids("alert"), "each alert exactly once")
	stop()
	cursorFile, err := os.ReadFile(filepath.Join(dir, "harfanglab_alerts"))
	require.NoError(t, err)
	assert.Contains(t, string(cursorFile), `"since"`)

	// Restart on the same cursor: nothing comes again; a new alert and a status change do.
	newID := sim.AddAlert(sim.SampleAlert(hlsim.SampleIOCHash, 500))
	sim.SetAlertStatus(ids[3], "investigating")
	c2 := &collector{}
	runStream(t, url, dir, "page_size: 7\nthreats: false", c2)
	eventually(t, func() bool { return len(c2.all()) >= 2 }, "new alert and status change")
	time.Sleep(200 * time.Millisecond)
	assert.ElementsMatch(t, []string{newID, ids[3]}, c2.ids("alert"))
	for _, m := range c2.all() {
		if m.Meta[metaID] == ids[3] {
			assert.Equal(t, "investigating", m.Meta[metaStatus])
		}
	}
}

func TestNackKeepsTheCursorBack(t *testing.T) {
	sim, url := newSim(t)
	dir := t.TempDir()
	var ids []string
	for i := range 6 {
		ids = append(ids, sim.AddAlert(sim.SampleAlert(hlsim.SampleSigma, i)))
	}
	poison := ids[2]
	c := &collector{reject: func(g got) error {
		if g.Meta[metaID] == poison {
			return errors.New("downstream refused")
		}
		return nil
	}}
	stop := runStream(t, url, dir, "page_size: 2\nthreats: false\nauto_replay_nacks: false", c)
	eventually(t, func() bool { return len(c.all()) >= 5 }, "the 5 accepted alerts")
	stop()

	// The rejected alert's page was never committed: a restart reads from before it again.
	c2 := &collector{}
	runStream(t, url, dir, "page_size: 2\nthreats: false", c2)
	eventually(t, func() bool { return len(c2.ids("alert")) >= 1 }, "replay after restart")
	time.Sleep(200 * time.Millisecond)
	assert.Contains(t, c2.ids("alert"), poison)
	assert.NotContains(t, c2.ids("alert"), ids[0], "pages acknowledged before the nack stay committed")
}

func TestMalformedAndPartialAlerts(t *testing.T) {
	sim, url := newSim(t)
	partial := sim.SampleAlert(hlsim.SampleIOCIP, 1)
	delete(partial, "agent")
	delete(partial, "process")
	partialID := sim.AddAlert(partial)
	badType := sim.SampleAlert(hlsim.SampleSigma, 2)
	badType["rule_name"] = 42 // not a string: the alert cannot be decoded
	badID := sim.AddAlert(badType)
	goodID := sim.AddAlert(sim.SampleAlert(hlsim.SampleSigma, 3))

	c := &collector{}
	runStream(t, url, t.TempDir(), "threats: false", c)
	eventually(t, func() bool { return len(c.all()) >= 3 }, "3 alerts")
	time.Sleep(200 * time.Millisecond)
	require.Len(t, c.all(), 3, "a malformed alert is reported once")
	for _, m := range c.all() {
		switch m.Meta[metaID] {
		case badID:
			require.Error(t, m.Err)
			assert.Contains(t, m.Err.Error(), badID)
		case partialID, goodID:
			assert.NoError(t, m.Err)
		default:
			t.Errorf("unexpected message %v", m.Meta)
		}
	}
}

func TestRuleLookupFailureStillSendsTheAlert(t *testing.T) {
	sim := hlsim.New(testToken)
	var intelCalls sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/threat_intelligence/") {
			intelCalls.Store(r.URL.Path, true)
			http.Error(w, "boom", http.StatusBadGateway)
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	id := sim.AddAlert(sim.SampleAlert(hlsim.SampleIOCHash, 1))
	c := &collector{}
	runStream(t, srv.URL, t.TempDir(), "threats: false", c)
	// The client retries 5 times with back-off before giving up on the lookup.
	require.Eventually(t, func() bool { return len(c.all()) >= 1 }, 30*time.Second, 50*time.Millisecond)
	m := c.all()[0]
	assert.Equal(t, id, m.Meta[metaID])
	assert.NoError(t, m.Err)
	assert.Nil(t, m.Body["rule"])
	assert.Equal(t, "ioc", m.Body["rule_type"])
	assert.Equal(t, []any{}, m.Body["indicator_ids"])
}

func TestThreatsWithTheirAlertsAndNote(t *testing.T) {
	sim, url := newSim(t)
	a1 := sim.AddAlert(sim.SampleAlert(hlsim.SampleSigma, 1))
	a2 := sim.AddAlert(sim.SampleAlert(hlsim.SampleYara, 2))
	closed := sim.SampleAlert(hlsim.SampleSigma, 3)
	closed["status"] = "closed"
	a3 := sim.AddAlert(closed)
	tid := sim.AddThreat(nil, []string{a1, a2, a3}, []map[string]any{{"content": "Analyst note: scripted account creation."}})
	bare := sim.AddThreat(map[string]any{"level": "low"}, nil, nil)

	c := &collector{}
	runStream(t, url, t.TempDir(), "", c)
	eventually(t, func() bool { return len(c.ids("threat")) >= 2 && len(c.ids("alert")) >= 2 }, "2 threats and 2 alerts")
	time.Sleep(200 * time.Millisecond)
	assert.ElementsMatch(t, []string{tid, bare}, c.ids("threat"))
	for _, m := range c.all() {
		if m.Meta[metaKind] != "threat" {
			continue
		}
		require.NoError(t, m.Err)
		assert.Equal(t, "threat", m.Body["kind"])
		alerts := m.Body["alerts"].([]any)
		notes := m.Body["notes"].([]any)
		if m.Meta[metaID] == tid {
			var got []string
			for _, a := range alerts {
				got = append(got, a.(map[string]any)["id"].(string))
			}
			assert.ElementsMatch(t, []string{a1, a2}, got, "the threat's alerts, with the status filter")
			require.Len(t, notes, 1)
			assert.Equal(t, "Analyst note: scripted account creation.", notes[0].(map[string]any)["content"])
		} else {
			assert.Empty(t, alerts)
			assert.Empty(t, notes)
		}
	}
	// A threat status change brings the threat out again.
	sim.SetThreatStatus(bare, "closed")
	eventually(t, func() bool { return len(c.ids("threat")) >= 3 }, "threat update")
}

func TestBadTokenIsReportedWithoutLeakingIt(t *testing.T) {
	sim, url := newSim(t)
	sim.AddAlert(sim.SampleAlert(hlsim.SampleSigma, 1))
	conf, err := inputSpec().ParseYAML(fmt.Sprintf(`
url: %s
token: not-the-token
checkpoint_cache: cursor
`, url), nil)
	require.NoError(t, err)
	in, err := newAlertsInput(conf, service.MockResources(service.MockResourcesOptAddCache("cursor")))
	require.NoError(t, err)
	err = in.Connect(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "401")
	assert.NotContains(t, err.Error(), "not-the-token")
	require.NoError(t, in.Close(t.Context()))
	require.NoError(t, in.Close(t.Context()), "Close is idempotent")
}

func TestConfigValidation(t *testing.T) {
	for _, test := range []struct {
		name, yaml, errContains string
	}{
		{"defaults", ``, ""},
		{"comma lists", "statuses: [ \"new, investigating\" ]\nalert_types: [ \"sigma,ioc\" ]", ""},
		{"unknown status", "statuses: [ opened ]", "unknown status"},
		{"bad alert type", "alert_types: [ \"Sigma Rules\" ]", "alert type"},
		{"bad start date", "start_date: yesterday", "start_date"},
		{"page size", "page_size: 0", "page_size"},
		{"poll interval", "poll_interval: 0s", "poll_interval"},
		{"no cache resource", "checkpoint_cache: nope", "does not exist"},
	} {
		t.Run(test.name, func(t *testing.T) {
			y := "url: http://127.0.0.1:1\ntoken: x\n"
			if !strings.Contains(test.yaml, "checkpoint_cache:") {
				y += "checkpoint_cache: cursor\n"
			}
			conf, err := inputSpec().ParseYAML(y+test.yaml, nil)
			require.NoError(t, err)
			_, err = newAlertsInput(conf, service.MockResources(service.MockResourcesOptAddCache("cursor")))
			if test.errContains == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, test.errContains)
		})
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRuleLookupsAreCachedAndShared(t *testing.T) {
	sim := hlsim.New(testToken)
	var ruleRequests, sourceRequests, alertRequests sync.Map
	count := func(m *sync.Map, k string) {
		v, _ := m.LoadOrStore(k, new(int64))
		*(v.(*int64))++
	}
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		switch {
		case strings.Contains(r.URL.Path, "Source/"):
			count(&sourceRequests, r.URL.Path)
		case strings.Contains(r.URL.Path, "/threat_intelligence/"):
			count(&ruleRequests, r.URL.Path)
		default:
			count(&alertRequests, r.URL.Path)
		}
		mu.Unlock()
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	// 60 alerts fired by 3 IOC rules and 1 Sigma rule.
	for j := range 4 {
		kind := []string{hlsim.SampleIOCHash, hlsim.SampleIOCDomain, hlsim.SampleIOCURL, hlsim.SampleSigma}[j]
		a := sim.SampleAlert(kind, j)
		rk, rule := hlsim.SampleRuleFor(a, "indicator--0d7ad8a8-7a43-4a3c-9a1b-3b4c5d6e7f80")
		sim.AddRule(rk, rule)
		for range 15 {
			sim.AddAlert(sim.SampleAlert(kind, j))
		}
	}
	c := &collector{}
	runStream(t, srv.URL, t.TempDir(), "threats: false\npage_size: 25", c)
	eventually(t, func() bool { return len(c.all()) >= 60 }, "60 alerts")
	for _, m := range c.all() {
		require.NotNil(t, m.Body["rule"], "every alert has its rule")
	}
	mu.Lock()
	defer mu.Unlock()
	total := func(m *sync.Map) (n int64) {
		m.Range(func(_, v any) bool { n += *(v.(*int64)); return true })
		return n
	}
	assert.LessOrEqual(t, total(&ruleRequests), int64(4), "one lookup per rule")
	assert.LessOrEqual(t, total(&sourceRequests), int64(2), "the IOC and Sigma lists are looked up once each")
}

func TestCursorFirstStartAndCorruptCursor(t *testing.T) {
	_, url := newSim(t)
	mgr := service.MockResources(service.MockResourcesOptAddCache("cursor"))
	conf, err := inputSpec().ParseYAML(fmt.Sprintf("url: %s\ntoken: %s\ncheckpoint_cache: cursor\n", url, testToken), nil)
	require.NoError(t, err)

	// First start: the start (24 h ago) is persisted at once, so a restart keeps it.
	in, err := newAlertsInput(conf, mgr)
	require.NoError(t, err)
	require.NoError(t, in.Connect(t.Context()))
	var raw []byte
	require.NoError(t, mgr.AccessCache(t.Context(), "cursor", func(c service.Cache) {
		raw, err = c.Get(t.Context(), "harfanglab_alerts")
	}))
	require.NoError(t, err)
	st, err := decodeCursor(raw)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(-24*time.Hour), st.Created.Since, time.Minute)
	assert.Equal(t, st.Created.Since, st.Updated.Since)
	require.NoError(t, in.Close(t.Context()))

	// A cursor that is not ours stops Connect with an error naming the key.
	require.NoError(t, mgr.AccessCache(t.Context(), "cursor", func(c service.Cache) {
		err = c.Set(t.Context(), "harfanglab_alerts", []byte("garbage"), nil)
	}))
	require.NoError(t, err)
	in2, err := newAlertsInput(conf, mgr)
	require.NoError(t, err)
	err = in2.Connect(t.Context())
	require.ErrorContains(t, err, `cursor "harfanglab_alerts"`)
	_, _, err = in2.Read(t.Context())
	assert.ErrorIs(t, err, service.ErrNotConnected)
}

func TestSettleDelayLeavesFreshAlertsForTheNextPoll(t *testing.T) {
	sim, url := newSim(t)
	c := &collector{}
	runStream(t, url, t.TempDir(), "threats: false\nsettle_delay: 700ms", c)
	time.Sleep(100 * time.Millisecond)
	added := time.Now()
	id := sim.AddAlert(sim.SampleAlert(hlsim.SampleSigma, 1))
	eventually(t, func() bool { return len(c.all()) == 1 }, "the alert after the settle delay")
	assert.GreaterOrEqual(t, time.Since(added), 700*time.Millisecond, "not before the delay")
	assert.Equal(t, []string{id}, c.ids("alert"))
	var bounded bool
	for _, q := range sim.AlertQueries() {
		bounded = bounded || strings.Contains(q, "alert_time__lte=")
	}
	assert.True(t, bounded, "queries carry the upper bound")
}

func TestLenientConsoleWithLastUpdateAtCreationImportsOnce(t *testing.T) {
	sim, url := newSim(t)
	sim.SetLenient(true) // last_update set at creation, as our first simulator assumed
	var ids []string
	for i := range 9 {
		ids = append(ids, sim.AddAlert(sim.SampleAlert(hlsim.SampleKinds[i%len(hlsim.SampleKinds)], i)))
	}
	c := &collector{}
	runStream(t, url, t.TempDir(), "threats: false", c)
	eventually(t, func() bool { return len(c.all()) >= 9 }, "9 alerts")
	time.Sleep(1500 * time.Millisecond) // several polls of both passes
	assert.ElementsMatch(t, ids, c.ids("alert"), "each alert once, not once per pass")
	sim.SetAlertStatus(ids[4], "investigating")
	eventually(t, func() bool { return len(c.all()) == 10 }, "the status change")
	assert.Equal(t, ids[4], c.all()[9].Meta[metaID])
}

func TestRefusedTokenDisconnectsAndResumesLosingNothing(t *testing.T) {
	sim, url := newSim(t)
	first := sim.AddAlert(sim.SampleAlert(hlsim.SampleSigma, 1))
	c := &collector{}
	runStream(t, url, t.TempDir(), "threats: false", c)
	eventually(t, func() bool { return len(c.all()) == 1 }, "the first alert")

	// The token is revoked: alerts keep coming but none is read, and none is flagged as bad.
	sim.SetToken("rotated-token")
	var later []string
	for i := range 5 {
		later = append(later, sim.AddAlert(sim.SampleAlert(hlsim.SampleIOCHash, 10+i)))
	}
	time.Sleep(2 * time.Second)
	assert.Len(t, c.all(), 1, "nothing read while the token is refused")

	// The token works again: everything comes, once, and no message carries an error.
	sim.SetToken(testToken)
	require.Eventually(t, func() bool { return len(c.all()) == 6 }, 30*time.Second, 50*time.Millisecond, "the alerts added meanwhile")
	time.Sleep(500 * time.Millisecond)
	assert.ElementsMatch(t, append([]string{first}, later...), c.ids("alert"))
	for _, m := range c.all() {
		assert.NoError(t, m.Err)
	}
}

func TestConnectNamesTheTokenVariable(t *testing.T) {
	_, url := newSim(t)
	conf, err := inputSpec().ParseYAML(fmt.Sprintf("url: %s\ntoken: wrong-one\ncheckpoint_cache: cursor\n", url), nil)
	require.NoError(t, err)
	in, err := newAlertsInput(conf, service.MockResources(service.MockResourcesOptAddCache("cursor")))
	require.NoError(t, err)
	err = in.Connect(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HARFANGLAB_TOKEN")
	assert.Contains(t, err.Error(), "401")
	assert.NotContains(t, err.Error(), "wrong-one")
}

func TestThreatWithFortyThousandEventsStaysInTheWindow(t *testing.T) {
	sim, url := newSim(t)
	old := time.Now().UTC().Add(-48 * time.Hour)
	var ids []string
	for i := range 40000 {
		a := sim.SampleAlert(hlsim.SampleSigma, i)
		// Before start_date: only the threat brings them.
		a["alert_time"] = old.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000000+00:00")
		ids = append(ids, sim.AddAlert(a))
	}
	tid := sim.AddThreat(nil, ids, nil)
	c := &collector{}
	runStream(t, url, t.TempDir(), fmt.Sprintf("start_date: %q\npage_size: 500", time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)), c)
	eventually(t, func() bool { return len(c.ids("threat")) == 1 }, "the threat")
	m := c.all()[0]
	require.NoError(t, m.Err)
	assert.Equal(t, tid, m.Meta[metaID])
	assert.Len(t, m.Body["alerts"], maxThreatAlerts, "the newest 1000 of its 40 000 alerts")
	assert.Empty(t, c.ids("alert"))
}
