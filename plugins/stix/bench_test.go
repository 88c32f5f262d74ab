package stix

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type benchEvent struct {
	name, eventType string
	body            []byte
}

// benchCorpus is a set of realistic OpenCTI stream events: small indicator events of every
// kind (a few hundred bytes to a few KB), dependencies that are dropped, an update with its
// patch, a based-on relationship, and two large ones: a 5 MB description and an indicator
// whose pattern is a 1 MB IN list of domains.
func benchCorpus(tb testing.TB) []benchEvent {
	tb.Helper()
	var corpus []benchEvent
	add := func(name, eventType string, obj, ctx map[string]any) {
		corpus = append(corpus, benchEvent{name, eventType, envelopeJSON(tb, eventType, obj, ctx)})
	}
	add("ipv4", "create", indicatorObject(`[ipv4-addr:value = '172.86.102.98']`), nil)
	add("domain", "create", indicatorObject(`[domain-name:value = 'evil.example.com']`), nil)
	add("hash+name", "create", indicatorObject(`[file:hashes.'SHA-256' = '`+sha256Test+`' AND file:name = 'evil.exe']`), nil)
	add("url-or", "create", indicatorObject(`[url:value = 'http://evil.example.com/a'] OR [url:value = 'http://evil.example.com/b']`), nil)
	sigma := indicatorObject("title: WEAXOR Ransomware File Create\nid: f84e3c51-6f12-48e4-97d1-b15b76ecf236\nstatus: stable\nlogsource:\n  category: file_event\n  product: windows\ndetection:\n  selection:\n    TargetFilename|endswith: '.weaxor'\n  condition: selection\n")
	sigma["pattern_type"] = "sigma"
	add("sigma", "create", sigma, nil)
	upd := indicatorObject(`[ipv4-addr:value = '172.86.102.98']`)
	add("update", "update", upd, map[string]any{
		"patch":         []any{map[string]any{"op": "replace", "path": "/extensions/" + extOpenCTI + "/score", "value": 50}},
		"reverse_patch": []any{map[string]any{"op": "replace", "path": "/extensions/" + extOpenCTI + "/score", "value": 80}},
	})
	add("delete", "delete", indicatorObject(`[ipv4-addr:value = '172.86.102.98']`), nil)
	add("based-on", "create", basedOnObject("Domain-Name", "evil.example.com"), nil)
	add("identity", "create", map[string]any{"id": "identity--f2b3", "type": "identity", "name": "ACME CERT", "identity_class": "organization", "spec_version": "2.1"}, nil)
	add("malware", "update", map[string]any{"id": "malware--a1b2", "type": "malware", "name": "Emotet", "aliases": []string{"Geodo", "Heodo"}, "description": strings.Repeat("Banking trojan. ", 40)}, nil)

	long := indicatorObject(`[domain-name:value = 'evil.example.com']`)
	long["description"] = strings.Repeat("A very long analyst report pasted into the description, with \"quotes\" and unicode: é✓. ", 5<<20/90)
	add("description-5MB", "create", long, nil)

	var in strings.Builder
	in.WriteString("[domain-name:value IN (")
	for i := 0; in.Len() < 1<<20; i++ {
		if i > 0 {
			in.WriteString(", ")
		}
		fmt.Fprintf(&in, "'host-%d.evil-%d.example.com'", i, i%97)
	}
	in.WriteString(")]")
	add("in-list-1MB", "create", indicatorObject(in.String()), nil)
	return corpus
}

func benchProcess(b *testing.B, events []benchEvent) {
	p := newTestProcessor(b, ``)
	var bytes int64
	for _, e := range events {
		bytes += int64(len(e.body))
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for b.Loop() {
		for _, e := range events {
			if _, err := p.Process(b.Context(), streamMessage(e.eventType, "1718445600123-0", e.body)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

func benchDecode(b *testing.B, events []benchEvent) {
	var bytes int64
	for _, e := range events {
		bytes += int64(len(e.body))
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for b.Loop() {
		for _, e := range events {
			var v map[string]any
			if err := json.Unmarshal(e.body, &v); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

// processCPU is the CPU time (user + system) of the process so far, GC workers included. On a
// shared machine it measures the work far more steadily than the elapsed time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchGroups splits the corpus into the whole corpus, the small events and each large one.
func benchGroups(b *testing.B) map[string][]benchEvent {
	corpus := benchCorpus(b)
	groups := map[string][]benchEvent{"corpus": corpus}
	for _, e := range corpus {
		if len(e.body) > 64<<10 {
			groups[e.name] = []benchEvent{e}
		} else {
			groups["small"] = append(groups["small"], e)
		}
	}
	return groups
}

// BenchmarkProcessor reports events/s of the processor (decode, translate, encode the changes)
// per group; BenchmarkJSONDecode does plain JSON decoding of the same events into
// map[string]any for comparison.
func BenchmarkProcessor(b *testing.B) {
	for name, events := range benchGroups(b) {
		b.Run(name, func(b *testing.B) { benchProcess(b, events) })
	}
}

func BenchmarkJSONDecode(b *testing.B) {
	for name, events := range benchGroups(b) {
		b.Run(name, func(b *testing.B) { benchDecode(b, events) })
	}
}

// The corpus must be what it claims: every event is translated without error.
func TestBenchCorpus(t *testing.T) {
	p := newTestProcessor(t, ``)
	for _, e := range benchCorpus(t) {
		batch, err := p.Process(t.Context(), streamMessage(e.eventType, "1-0", e.body))
		require.NoError(t, err, e.name)
		switch e.name {
		case "identity", "malware":
			require.Empty(t, batch, e.name)
		default:
			require.Len(t, batch, 1, e.name)
		}
	}
}
