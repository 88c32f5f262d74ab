// Package badinput feeds a corpus of malformed and hostile input through the real binary and
// the shipped pipelines: nothing crashes, each bad item reaches the dead-letter file once with
// its reason, and the good items around it are processed.
package badinput

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/deploy"
)

// expect is what must become of one bad item.
type expect int

const (
	deadLetter expect = iota // exactly one dead-letter entry, nothing applied
	applied                  // applied exactly (the value is in HarfangLab), no dead letter
	either                   // dead-lettered once XOR applied: a judgement call, never both/neither
	ignored                  // neither applied nor dead-lettered (not an event the input emits)
)

func (e expect) String() string {
	return [...]string{"dead letter", "applied", "dead letter or applied", "ignored"}[e]
}

// item is one entry of the corpus: raw `data:` bytes published under an event name.
type item struct {
	name   string
	event  string
	data   []byte
	expect expect
	// present tells whether the item's effect is in HarfangLab (for applied/either/ignored).
	present func(d *deploy.Deployment) bool
}

func indicator(name, pattern, patternType string) openctisim.Indicator {
	return openctisim.Indicator{InternalID: uuid.NewString(), Name: name, Pattern: pattern, PatternType: patternType, Score: 70}
}

func envelope(event string, data any) []byte {
	b, _ := json.Marshal(map[string]any{"version": "4", "type": event, "data": data, "message": "bad input", "origin": map[string]any{}})
	return b
}

// withField returns the indicator's STIX object with path (a.b.c) set to v.
func withField(i openctisim.Indicator, v any, path ...string) map[string]any {
	obj := i.STIX()
	m := obj
	for _, k := range path[:len(path)-1] {
		m = m[k].(map[string]any)
	}
	m[path[len(path)-1]] = v
	return obj
}

func hasIOC(value string) func(d *deploy.Deployment) bool {
	return func(d *deploy.Deployment) bool { return d.IOCValues()[value] }
}

func hasRule(name string) func(d *deploy.Deployment) bool {
	return func(d *deploy.Deployment) bool {
		for _, r := range append(d.HL.SigmaRules(deploy.ListName), d.HL.YaraFiles(deploy.ListName)...) {
			if strings.Contains(r.Name, name) {
				return true
			}
		}
		return false
	}
}

const sigmaBody = "title: %s\nid: 5f1a2b3c-0000-4000-8000-000000000001\nstatus: stable\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  selection:\n    Image|endswith: '\\\\evil.exe'\n  condition: selection\nlevel: high\n"

// corpus is every bad item, plus the good items with awkward characters that must pass.
func corpus() []item {
	var c []item
	add := func(name, event string, data []byte, e expect, present func(*deploy.Deployment) bool) {
		c = append(c, item{name: name, event: event, data: data, expect: e, present: present})
	}
	// Not JSON, or not an envelope with an object in data.
	add("non-JSON data line", "create", []byte(`this is {not json`), deadLetter, nil)
	add("truncated JSON", "create", envelope("create", indicator("trunc", "[domain-name:value = 'trunc.example']", "stix").STIX())[:80], deadLetter, nil)
	add("JSON array", "create", []byte(`[1,2,3]`), deadLetter, nil)
	add("JSON null", "update", []byte(`null`), deadLetter, nil)
	add("envelope without data", "create", []byte(`{"version":"4","type":"create","message":"x"}`), deadLetter, nil)
	add("data is a string", "create", envelope("create", "indicator--x"), deadLetter, nil)
	add("data is a number", "delete", envelope("delete", 42), deadLetter, nil)

	// Wrong JSON type in every field the processor reads.
	wrong := []struct {
		v    any
		path []string
	}{
		{42, []string{"id"}}, {[]any{"indicator"}, []string{"type"}}, {map[string]any{"a": 1}, []string{"name"}},
		{7, []string{"description"}}, {12, []string{"pattern"}}, {true, []string{"pattern_type"}},
		{"yes", []string{"revoked"}}, {5, []string{"valid_until"}}, {1, []string{"created_by_ref"}},
		{"x", []string{"extensions"}}, {"x", []string{"extensions", openctisim.ExtOpenCTI}},
		{9, []string{"extensions", openctisim.ExtOpenCTI, "id"}},
		{"s", []string{"extensions", openctisim.ExtOpenCTI, "stix_ids"}},
		{"high", []string{"extensions", openctisim.ExtOpenCTI, "score"}},
		{"true", []string{"extensions", openctisim.ExtOpenCTI, "detection"}},
		{"windows", []string{"extensions", openctisim.ExtMITRE, "x_mitre_platforms"}},
	}
	for i, w := range wrong {
		value := fmt.Sprintf("wrongtype-%d.example", i)
		ind := indicator("wrong "+strings.Join(w.path, "."), "[domain-name:value = '"+value+"']", "stix")
		add(fmt.Sprintf("wrong type in %s (%T)", strings.Join(w.path, "."), w.v), "create",
			envelope("create", withField(ind, w.v, w.path...)), deadLetter, hasIOC(value))
	}

	// Values that are not valid IOCs.
	add("control characters in a domain", "create",
		envelope("create", indicator("ctl", "[domain-name:value = 'ctl\x01\x07\x1b.example']", "stix").STIX()), deadLetter, nil)
	add("NUL in a URL", "create",
		envelope("create", indicator("nul", "[url:value = 'http://nul.example/\x00x']", "stix").STIX()), either,
		hasIOC("http://nul.example/\x00x"))
	add("pattern that does not parse", "create",
		envelope("create", indicator("unparsable", "[domain-name:value = 'open.example'", "stix").STIX()), deadLetter, nil)
	add("MD5 that is not hex", "create",
		envelope("create", indicator("badhash", "[file:hashes.MD5 = 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz']", "stix").STIX()), deadLetter, nil)

	// Awkward but valid values: stored exactly (query strings, JSON and comments escape them).
	for i, v := range []string{"http://amp.example/a?b=1&c=2+3#frag%20%25?x", "http://amp.example/%2F..%2F?q=a&b=c#"} {
		add(fmt.Sprintf("URL with &+#?%% (%d)", i), "create",
			envelope("create", indicator("url", "[url:value = '"+v+"']", "stix").STIX()), applied, hasIOC(v))
	}
	add("file name with &+#?% and quotes", "create",
		envelope("create", indicator("fname", `[file:name = 'a&b+c#d?e%f \'q\' "dq".exe']`, "stix").STIX()), applied,
		hasIOC(`a&b+c#d?e%f 'q' "dq".exe`))
	add("unicode domain", "create",
		envelope("create", indicator("idn", "[domain-name:value = 'пример.example']", "stix").STIX()), applied,
		hasIOC("пример.example"))

	// Sigma and YARA: huge, hostile, oddly named.
	huge := fmt.Sprintf(sigmaBody, "huge rule") + "# " + strings.Repeat("x", 10<<20) + "\n"
	add("10 MB Sigma rule", "create", envelope("create", indicator("huge sigma", huge, "sigma").STIX()), either, hasRule("huge sigma"))
	bomb := "title: lol bomb\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for _, k := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += fmt.Sprintf("%s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", k, k, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = k
	}
	bomb += "detection:\n  selection:\n    Image: *i\n  condition: selection\n"
	add("Sigma YAML alias bomb", "create", envelope("create", indicator("yaml bomb", bomb, "sigma").STIX()), either, hasRule("yaml bomb"))
	add("Sigma that is not YAML", "create",
		envelope("create", indicator("notyaml", "title: [unclosed\n\tdetection: {{{\n", "sigma").STIX()), either, hasRule("notyaml"))
	add("Sigma deeply nested", "create",
		envelope("create", indicator("deep sigma", "title: deep\ndetection:\n  x: "+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)+"\n", "sigma").STIX()),
		either, hasRule("deep sigma"))
	add("YARA unbalanced with include", "create",
		envelope("create", indicator("../../etc/passwd", "include \"/etc/passwd\"\nrule x { strings: $a = \""+strings.Repeat("A", 1<<20)+" condition: {{{", "yara").STIX()),
		either, hasRule("passwd"))
	add("YARA named with newlines and NUL", "create",
		envelope("create", indicator("evil\nname\x00", "rule ok_rule { strings: $a = \"x\" condition: $a }", "yara").STIX()),
		either, hasRule("evil"))

	// SSE framing: several data lines (valid: joined with \n), split frames, unknown events.
	multi := envelope("create", indicator("multiline", "[domain-name:value = 'multiline.example']", "stix").STIX())
	multi = bytes.Replace(multi, []byte(`,"type":`), []byte(",\ndata: \"type\":"), 1)
	add("data over several data: lines", "create", multi, applied, hasIOC("multiline.example"))
	add("frame split by a blank line", "create",
		[]byte("{\"version\":\"4\",\n\nevent: create\ndata: {\"half\": true"), deadLetter, nil)
	add("unknown event name", "bogus",
		envelope("create", indicator("bogus", "[domain-name:value = 'bogus-event.example']", "stix").STIX()), ignored,
		hasIOC("bogus-event.example"))
	add("stray field lines", "create", []byte("{\"a\":1}\nretry: abc\n: comment\nfoo: bar"), deadLetter, nil)
	return c
}

// TestBadStreamEventsThroughTheIntelPipeline interleaves the corpus with good indicators on
// the live stream of a running intel pipeline.
func TestBadStreamEventsThroughTheIntelPipeline(t *testing.T) {
	runCorpus(t, corpus(), 120*time.Second)
}

// TestInvalidUTF8DomainIsDeadLettered: invalid UTF-8 bytes in a domain value must be refused.
// Go's JSON decoder turns them into U+FFFD, so the check has to look for that rune (it once
// accepted it as an internationalised letter and pushed "bad-\ufffd\ufffd\ufffd.example").
func TestInvalidUTF8DomainIsDeadLettered(t *testing.T) {
	data := envelope("create", indicator("utf8", "[domain-name:value = 'bad-UTF8MARK.example']", "stix").STIX())
	data = bytes.Replace(data, []byte("UTF8MARK"), []byte{0xff, 0xfe, 0xc3}, 1)
	runCorpus(t, []item{{name: "invalid UTF-8 in a domain", event: "create", data: data, expect: deadLetter,
		present: func(d *deploy.Deployment) bool { return len(d.IOCValues()) > 2 }}}, 15*time.Second)
}

// runCorpus publishes items, each between two good indicators, to a running intel pipeline
// and checks what became of each.
func runCorpus(t *testing.T, items []item, wait time.Duration) {
	d := deploy.New(t)
	p := d.Start(60*time.Second, deploy.IntelPush)
	// Publish once the input tails the stream, so every event is a live one.
	d.Eventually(30*time.Second, func() bool { return d.OCTI.StreamConnections() > 0 }, "the input connects", nil)
	time.Sleep(500 * time.Millisecond)

	ids := map[string]item{} // event id → item
	var good []string
	publishGood := func(i int) {
		v := fmt.Sprintf("good-%d.example", i)
		ind := indicator("good", "[domain-name:value = '"+v+"']", "stix")
		d.OCTI.Publish(deploy.StreamID, "create", openctisim.IndicatorEvent("create", ind, nil))
		good = append(good, v)
	}
	for i, it := range items {
		publishGood(i)
		ids[d.OCTI.Publish(deploy.StreamID, it.event, it.data)] = it
	}
	publishGood(len(items))

	dlCount := func() map[string]int {
		n := map[string]int{}
		for _, e := range d.DeadLetters("opencti-to-harfanglab") {
			id, _ := e["event_id"].(string)
			n[id]++
		}
		return n
	}
	settled := func() bool {
		hl := d.IOCValues()
		for _, v := range good {
			if !hl[v] {
				return false
			}
		}
		dl := dlCount()
		for id, it := range ids {
			if it.expect == deadLetter && dl[id] == 0 {
				return false
			}
			if it.expect == applied && !it.present(d) {
				return false
			}
			if it.expect == either && dl[id] == 0 && !it.present(d) {
				return false
			}
		}
		return true
	}
	d.Eventually(wait, settled, "every good item applied and every bad item dead-lettered", func() string {
		hl := d.IOCValues()
		missing := []string{}
		for _, v := range good {
			if !hl[v] {
				missing = append(missing, v)
			}
		}
		dl := dlCount()
		for id, it := range ids {
			present := it.present != nil && it.present(d)
			if (it.expect == deadLetter && dl[id] == 0) || (it.expect == applied && !present) || (it.expect == either && dl[id] == 0 && !present) {
				missing = append(missing, fmt.Sprintf("%s (want %v): dead letters %d, applied %v", it.name, it.expect, dl[id], present))
			}
		}
		sort.Strings(missing)
		return strings.Join(missing, "\n")
	})
	time.Sleep(2 * time.Second) // anything late (a second dead letter) shows up now
	require.False(t, p.Exited(), "the process must survive the corpus:\n%s", p.Logs())

	dl := dlCount()
	for _, e := range d.DeadLetters("opencti-to-harfanglab") {
		assert.NotEmpty(t, e["reason"], "dead letter %v has a reason", e["event_id"])
		assert.NotContains(t, fmt.Sprint(e["reason"]), deploy.HLToken)
	}
	outcome := map[string]string{}
	for id, it := range ids {
		present := it.present != nil && it.present(d)
		switch it.expect {
		case deadLetter:
			assert.Equal(t, 1, dl[id], "%s: one dead letter", it.name)
			assert.False(t, present, "%s: nothing applied", it.name)
		case applied:
			assert.Zero(t, dl[id], "%s: no dead letter", it.name)
			assert.True(t, present, "%s: applied", it.name)
		case either:
			assert.NotEqual(t, dl[id] == 1, present, "%s: dead-lettered once (%d) xor applied (%v)", it.name, dl[id], present)
		case ignored:
			assert.Zero(t, dl[id], "%s: no dead letter", it.name)
			assert.False(t, present, "%s: not applied", it.name)
		}
		outcome[it.name] = fmt.Sprintf("dead letters %d, applied %v", dl[id], present)
	}
	for _, k := range slicesSorted(outcome) {
		t.Logf("%-45s %s", k, outcome[k])
	}
	assert.NotContains(t, p.Logs(), deploy.HLToken)
	assert.NotContains(t, p.Logs(), deploy.OCTIToken)
	assert.NotContains(t, p.Logs(), "panic")
}

func slicesSorted(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
