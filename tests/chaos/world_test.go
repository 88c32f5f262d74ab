package chaos

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/deploy"
)

const sigmaRule = "title: chaos %d\nid: 6a0c1d2e-0000-4000-8000-%012d\nstatus: stable\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  selection:\n    Image|endswith: '\\\\chaos%d.exe'\n  condition: selection\nlevel: high\n"

// alertRulesList keeps the rules of the seeded alerts out of the list the intel push owns.
const alertRulesList = "chaos_alert_rules"

// world publishes an indicator history and adds alerts, and keeps the end state both systems
// must reach: the IOC list (value → owners), the Sigma list, and the alert ids.
type world struct {
	d *deploy.Deployment

	mu       sync.Mutex
	owners   map[string]map[string]bool // IOC value → owner internal ids
	rules    map[string]bool            // Sigma rule name
	alerts   []string
	events   int
	modified time.Time // strictly increasing updated_at: snapshot groups stay one element each
}

func newWorld(d *deploy.Deployment) *world {
	return &world{d: d, owners: map[string]map[string]bool{}, rules: map[string]bool{},
		modified: time.Now().Add(-6 * time.Hour)}
}

func (w *world) publishIndicator(event string, ind *openctisim.Indicator) {
	w.modified = w.modified.Add(time.Millisecond)
	ind.Modified = w.modified
	w.d.OCTI.Publish(deploy.StreamID, event, openctisim.IndicatorEvent(event, *ind, nil))
	w.events++
}

func (w *world) own(value, owner string) {
	if w.owners[value] == nil {
		w.owners[value] = map[string]bool{}
	}
	w.owners[value][owner] = true
}

// indicators publishes the history of indicators [from, to). Per i: a create; every 3rd gets a
// new pattern (so a new STIX id, as OpenCTI derives it), every 4th also names a value shared
// by its group of 40, every 5th gets a based-on observable, every 17th a score change, then
// every 7th is revoked, every 11th deleted, every 19th has detection turned off; every 13th is
// a Sigma rule instead, deleted when it is also every 26th.
func (w *world) indicators(from, to int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := from; i < to; i++ {
		id := fmt.Sprintf("chaos-%06d", i)
		if i%13 == 0 {
			s := &openctisim.Indicator{InternalID: id, Name: fmt.Sprintf("rule %d", i), PatternType: "sigma",
				Pattern: fmt.Sprintf(sigmaRule, i, i, i), Score: 60}
			w.publishIndicator("create", s)
			if i%26 == 0 {
				w.publishIndicator("delete", s)
				continue
			}
			w.rules[fmt.Sprintf("rule %d [%s]", i, id)] = true
			continue
		}
		ip := fmt.Sprintf("10.%d.%d.%d", 1+i/62500, (i/250)%250, i%250)
		pattern := fmt.Sprintf("[ipv4-addr:value = '%s']", ip)
		shared := fmt.Sprintf("shared-%d.example", i/40)
		if i%4 == 0 {
			pattern += " OR [domain-name:value = '" + shared + "']"
		}
		ind := &openctisim.Indicator{InternalID: id, Name: "ind " + id, Pattern: pattern, Score: 50}
		w.publishIndicator("create", ind)
		values := []string{ip}
		if i%3 == 0 {
			ip2 := fmt.Sprintf("10.%d.%d.%d", 101+i/62500, (i/250)%250, i%250)
			ind.Pattern = strings.Replace(ind.Pattern, ip, ip2, 1)
			w.publishIndicator("update", ind)
			values = []string{ip2}
		}
		if i%4 == 0 {
			values = append(values, shared)
		}
		if i%5 == 0 {
			obs := fmt.Sprintf("obs-%d.example", i)
			w.d.OCTI.Publish(deploy.StreamID, "create", openctisim.BasedOnEvent("create", openctisim.BasedOn{
				InternalID: "rel-" + id, Indicator: *ind, TargetType: "Domain-Name", TargetValue: obs}))
			w.events++
			values = append(values, obs)
		}
		if i%17 == 0 {
			ind.Score = 80
			w.publishIndicator("update", ind)
		}
		switch {
		case i%7 == 0:
			ind.Revoked = true
			w.publishIndicator("update", ind)
			continue
		case i%11 == 0:
			w.publishIndicator("delete", ind)
			continue
		case i%19 == 0:
			off := false
			ind.Detection = &off
			w.publishIndicator("update", ind)
			continue
		}
		for _, v := range values {
			w.own(v, id)
		}
	}
}

// addAlerts adds alerts [from, to) of every sample kind, their rules in a list of their own.
func (w *world) addAlerts(from, to int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := from; i < to; i++ {
		a := w.d.HL.SampleAlert(hlsim.SampleKinds[i%len(hlsim.SampleKinds)], i)
		kind, rule := hlsim.SampleRuleFor(a, fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i))
		rule["source_name"] = alertRulesList
		w.d.HL.AddRule(kind, rule)
		w.alerts = append(w.alerts, w.d.HL.AddAlert(a))
	}
}

// changeStatuses moves n random alerts already added between new and investigating: their
// incidents are re-pushed under the same ids, never duplicated.
func (w *world) changeStatuses(rng *rand.Rand, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for range n {
		id := w.alerts[rng.IntN(len(w.alerts))]
		status := "investigating"
		if w.d.HL.Alert(id)["status"] == status {
			status = "new"
		}
		w.d.HL.SetAlertStatus(id, status)
	}
}

// wantIOCs is the IOC list it must end in: value → "owner,owner" (sorted).
func (w *world) wantIOCs() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]string{}
	for v, owners := range w.owners {
		out[v] = joinSorted(owners)
	}
	return out
}

func (w *world) wantRules() map[string]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]bool{}
	for k := range w.rules {
		out[k] = true
	}
	return out
}

func joinSorted(set map[string]bool) string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// gotIOCs is HarfangLab's IOC list: value → owners, "DISABLED " in front of disabled ones; dup
// counts values listed more than once.
func gotIOCs(d *deploy.Deployment) (got map[string]string, dup int) {
	got = map[string]string{}
	for _, r := range d.HL.IOCs(deploy.ListName) {
		var c struct {
			IDs []string `json:"indicator_ids"`
		}
		_ = json.Unmarshal([]byte(r.Comment), &c)
		set := map[string]bool{}
		for _, id := range c.IDs {
			set[id] = true
		}
		s := joinSorted(set)
		if !r.Enabled {
			s = "DISABLED " + s
		}
		if _, seen := got[r.Value]; seen {
			dup++
		}
		got[r.Value] = s
	}
	return got, dup
}

func gotRules(d *deploy.Deployment) (got map[string]bool, dup int) {
	got = map[string]bool{}
	for _, r := range d.HL.SigmaRules(deploy.ListName) {
		if got[r.Name] {
			dup++
		}
		got[r.Name] = r.Enabled
	}
	return got, dup
}

// incidentsPerAlert counts, for each alert id, the incidents whose external references name it.
func incidentsPerAlert(d *deploy.Deployment, alerts []string) (per map[string]int, total int) {
	want := make(map[string]bool, len(alerts))
	for _, id := range alerts {
		want[id] = true
	}
	per = map[string]int{}
	incs := d.OCTI.ObjectsOfType("incident")
	for _, inc := range incs {
		refs, _ := inc["external_references"].([]any)
		seen := map[string]bool{}
		for _, r := range refs {
			m, _ := r.(map[string]any)
			if id, _ := m["external_id"].(string); want[id] && !seen[id] {
				seen[id] = true
				per[id]++
			}
		}
	}
	return per, len(incs)
}

// diff describes how got differs from want (at most n lines).
func diff(want, got map[string]string, n int) string {
	var out []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			out = append(out, fmt.Sprintf("missing %s (%s)", k, v))
		} else if g != v {
			out = append(out, fmt.Sprintf("%s: got %q want %q", k, g, v))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("extra %s (%s)", k, v))
		}
	}
	sort.Strings(out)
	if len(out) > n {
		out = append(out[:n], fmt.Sprintf("… %d more", len(out)-n))
	}
	return strings.Join(out, "\n")
}
