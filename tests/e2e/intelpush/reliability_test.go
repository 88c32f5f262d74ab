package intelpush

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/faults"
)

// world publishes a mixed history (creates, pattern changes, shared values, based-on,
// revokes, deletes, Sigma) and keeps the IOC and rule lists it must end in.
type world struct {
	e     *env
	inds  []*indicator
	iocs  map[string]string
	rules map[string]string
	n     int // events published
}

func newWorld(e *env) *world {
	return &world{e: e, iocs: map[string]string{}, rules: map[string]string{}}
}

func (w *world) publish(event string, obj map[string]any) {
	w.e.publish(event, obj, nil)
	w.n++
}

// round publishes the history of indicators [from, to): per i, a create; every 3rd gets its
// pattern changed, every 4th shares "shared.example", every 5th gets a based-on observable,
// every 7th is revoked, every 11th deleted, every 13th is a Sigma rule.
func (w *world) round(from, to int) {
	shared := []string{}
	for i := from; i < to; i++ {
		id := fmt.Sprintf("ind-%03d", i)
		if i%13 == 0 {
			// Each rule its own Sigma id: HarfangLab keeps one rule per id (see TestSigmaRulesOnARealConsole, console_test.go).
			s := newIndicator(fmt.Sprintf("rule %d", i), "sigma", sigmaWithID(fmt.Sprintf("f84e3c51-6f12-48e4-97d1-%012d", i)))
			s.internal = id
			w.publish("create", s.data())
			w.rules[fmt.Sprintf("rule %d [%s]", i, id)] = "enabled"
			continue
		}
		ip := fmt.Sprintf("10.1.%d.%d", i/250, i%250)
		pattern := fmt.Sprintf("[ipv4-addr:value = '%s']", ip)
		if i%4 == 0 {
			pattern += " OR [domain-name:value = 'shared.example']"
		}
		ind := newIndicator("ind "+id, "stix", pattern)
		ind.internal = id
		w.inds = append(w.inds, ind)
		w.publish("create", ind.data())
		values := []string{ip}
		if i%3 == 0 {
			ip2 := fmt.Sprintf("10.2.%d.%d", i/250, i%250)
			ind.pattern = strings.Replace(ind.pattern, ip, ip2, 1)
			ind.stixID = fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i)
			w.publish("update", ind.data())
			values = []string{ip2}
		}
		if i%5 == 0 {
			obs := fmt.Sprintf("obs-%d.example", i)
			w.publish("create", basedOn(fmt.Sprintf("rel-%03d", i), ind, "Domain-Name", obs))
			values = append(values, obs)
		}
		switch {
		case i%7 == 0:
			ind.revoked = true
			w.publish("update", ind.data())
			continue
		case i%11 == 0:
			w.publish("delete", ind.data())
			continue
		}
		for _, v := range values {
			w.iocs[v] = "enabled " + id
		}
		if i%4 == 0 {
			shared = append(shared, id)
		}
	}
	if len(shared) > 0 {
		prev := strings.TrimPrefix(w.iocs["shared.example"], "enabled ")
		if prev != "" {
			shared = append(strings.Split(prev, ","), shared...)
		}
		w.iocs["shared.example"] = "enabled " + strings.Join(shared, ",")
	}
}

// metricSum adds up every /metrics sample whose name is name.
func metricSum(addr, name string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// TestReplayWritesNothing: a second process with an empty cursor re-reads the whole stream
// (the recover snapshot of every element's current state) and must not write at all.
func TestReplayWritesNothing(t *testing.T) {
	e := newEnv(t)
	e.start()
	w := newWorld(e)
	w.round(1, 60)
	e.eventuallyIOCs(w.iocs, "first pass")
	e.eventuallyRules(w.rules, "first pass")
	e.proc.Stop()

	writes := e.hl.WriteCount()
	e.state = t.TempDir() // no cursor
	e.vars["STATE_DIR"] = e.state
	e.start()
	// Wait until every element of the snapshot went through the pipeline.
	e.proc.Eventually(waitLong, func() bool {
		return metricSum(e.addr, "stix_to_harfanglab_changes_total")+metricSum(e.addr, "stix_to_harfanglab_dropped_total") >= 60
	},
		"replay not consumed: %v changes", metricSum(e.addr, "stix_to_harfanglab_changes_total"))
	time.Sleep(2 * time.Second)
	assert.Equal(t, writes, e.hl.WriteCount(), "replaying the stream must not write")
	assert.Equal(t, w.iocs, e.iocs())
	assert.Equal(t, w.rules, e.rules())
	assert.Empty(t, e.deadLetters())
}

// TestFaultsAndKills: HarfangLab answers 5 % 429, 5 % 5xx and drops 3 % of connections while
// the process is SIGKILLed three times in the middle of the stream; the lists end exactly as
// sequential processing would leave them, with no duplicate and no dead letter.
func TestFaultsAndKills(t *testing.T) {
	e := newEnv(t)
	e.hl.Faults().Set(faults.Config{Latency: 10 * time.Millisecond, Rate429: 0.05, Rate5xx: 0.05, RateDrop: 0.03, MaxConcurrent: 16})
	w := newWorld(e)
	e.start()
	for cycle := range 3 {
		w.round(cycle*40+1, cycle*40+41)
		// Kill once part of the round has been written.
		before := e.hl.WriteCount()
		e.proc.Eventually(waitLong, func() bool { return e.hl.WriteCount() > before+5 }, "no progress in cycle %d", cycle)
		e.proc.Kill()
		t.Logf("cycle %d: killed after %d writes, %d IOCs of %d expected", cycle, e.hl.WriteCount(), len(e.hl.IOCs(listName)), len(w.iocs))
		e.start()
	}
	e.eventuallyIOCs(w.iocs, "after kills")
	e.eventuallyRules(w.rules, "after kills")
	e.hl.Faults().Set(faults.Config{})
	assert.Len(t, e.hl.IOCs(listName), len(w.iocs), "no duplicate")
	assert.Len(t, e.hl.SigmaRules(listName), len(w.rules), "no duplicate")
	require.Empty(t, e.deadLetters())
	assert.Positive(t, e.hl.Faults().Faulted(), "faults were injected")
}
