package badinput

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/deploy"
)

// alertMutation damages one sample alert.
type alertMutation struct {
	name   string
	mutate func(a map[string]any)
}

func set(path string, v any) alertMutation {
	return alertMutation{name: fmt.Sprintf("%s = %T", path, v), mutate: func(a map[string]any) {
		keys := strings.Split(path, ".")
		m := a
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				return
			}
			m = next
		}
		m[keys[len(keys)-1]] = v
	}}
}

func del(path string) alertMutation {
	return alertMutation{name: "missing " + path, mutate: func(a map[string]any) {
		keys := strings.Split(path, ".")
		m := a
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				return
			}
			m = next
		}
		delete(m, keys[len(keys)-1])
	}}
}

// alertCorpus damages every field the conversion reads: wrong JSON types, missing fields,
// hostile strings. Fields HarfangLab filters on server side (id, status, alert_type, maturity,
// alert_time) are left intact: a damaged one would only make the simulator hide the alert (a
// real console cannot even store an alert whose alert_time is not a date). last_update, which
// new alerts do not carry, is damaged instead.
func alertCorpus() []alertMutation {
	var c []alertMutation
	for _, f := range []string{"rule_name", "rule_id", "msg", "level", "alert_subtype", "log_type",
		"last_update", "@event_create_date", "alert_unique_id", "tags", "agent", "process",
		"agent.hostname", "agent.agentid", "agent.ostype", "agent.domainname",
		"process.hashes", "process.hashes.sha256", "process.hashes.md5", "process.image_name", "process.username",
		"process.process_name", "process.matched_rules"} {
		for _, v := range []any{42.5, map[string]any{"x": []any{1}}, []any{"a", 2}, true} {
			c = append(c, set(f, v))
		}
		c = append(c, set(f, nil), del(f))
	}
	c = append(c,
		set("msg", "domain_name=a&b+c#d?e%f.example"),
		set("rule_name", "name with \x00 NUL, \x1b[31mANSI\x1b[0m and \u202e bidi"),
		set("agent.hostname", strings.Repeat("h", 1<<20)),
		set("msg", "ioc=no-type-separator"),
		set("last_update", "not a date"),
		set("last_update", "2026-13-45T99:99:99Z"),
	)
	return c
}

// TestMalformedAlertsThroughTheDetectionsPipeline: each damaged alert becomes an incident
// (tolerated) or one dead letter with its reason, never both, never neither; the good alerts
// around them all become incidents and the process survives.
func TestMalformedAlertsThroughTheDetectionsPipeline(t *testing.T) {
	d := deploy.New(t)
	d.Vars["HARFANGLAB_IMPORT_THREATS_AS_CASE_INCIDENTS"] = "false"
	corpus := alertCorpus()
	bad := map[string]string{} // alert id → mutation
	var good []string
	kinds := hlsim.SampleKinds
	for i, m := range corpus {
		good = append(good, d.HL.AddAlert(d.HL.SampleAlert(kinds[i%len(kinds)], 2*i)))
		a := d.HL.SampleAlert(kinds[(i+1)%len(kinds)], 2*i+1)
		m.mutate(a)
		bad[d.HL.AddAlert(a)] = m.name
	}
	good = append(good, d.HL.AddAlert(d.HL.SampleAlert(hlsim.SampleSigma, 2*len(corpus))))

	p := d.Start(60*time.Second, deploy.DetectionsPull)
	incidents := func() map[string]bool {
		out := map[string]bool{}
		for _, inc := range d.OCTI.ObjectsOfType("incident") {
			b, _ := json.Marshal(inc["external_references"])
			for id := range bad {
				if strings.Contains(string(b), id) {
					out[id] = true
				}
			}
			for _, id := range good {
				if strings.Contains(string(b), id) {
					out[id] = true
				}
			}
		}
		return out
	}
	dead := func() map[string]int {
		n := map[string]int{}
		for _, e := range d.DeadLetters("harfanglab-to-opencti") {
			id, _ := e["id"].(string)
			n[id]++
		}
		return n
	}
	settled := func() bool {
		inc, dl := incidents(), dead()
		for _, id := range good {
			if !inc[id] {
				return false
			}
		}
		for id := range bad {
			if !inc[id] && dl[id] == 0 {
				return false
			}
		}
		return true
	}
	d.Eventually(120*time.Second, settled, "every alert converted or dead-lettered", func() string {
		inc, dl := incidents(), dead()
		var out []string
		for _, id := range good {
			if !inc[id] {
				out = append(out, "good alert "+id+" has no incident")
			}
		}
		for id, name := range bad {
			if !inc[id] && dl[id] == 0 {
				out = append(out, name+": neither incident nor dead letter")
			}
		}
		sort.Strings(out)
		return strings.Join(out, "\n")
	})
	time.Sleep(2 * time.Second) // a few more polls: late duplicates show up now
	require.False(t, p.Exited(), "the process survives the corpus")

	inc, dl := incidents(), dead()
	tolerated, rejected := []string{}, []string{}
	for id, name := range bad {
		assert.LessOrEqual(t, dl[id], 1, "%s: dead-lettered at most once", name)
		assert.False(t, inc[id] && dl[id] > 0, "%s: incident and dead letter both", name)
		if inc[id] {
			tolerated = append(tolerated, name)
		} else {
			rejected = append(rejected, name)
		}
	}
	for _, e := range d.DeadLetters("harfanglab-to-opencti") {
		assert.NotEmpty(t, e["reason"], "dead letter of %v has a reason", e["id"])
	}
	sort.Strings(tolerated)
	sort.Strings(rejected)
	t.Logf("%d damaged alerts: %d converted (bad parts skipped), %d dead-lettered", len(bad), len(tolerated), len(rejected))
	t.Logf("dead-lettered: %s", strings.Join(rejected, "; "))
	assert.Len(t, d.OCTI.ObjectsOfType("incident"), len(inc), "one incident per alert, no duplicate")
	assert.NotContains(t, p.Logs(), deploy.HLToken)
	assert.NotContains(t, p.Logs(), "panic")
}
