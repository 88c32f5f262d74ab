package stix

import (
	"testing"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// FuzzProcess feeds arbitrary event names and bodies to the processor: it must never panic,
// and whatever it emits must be a valid intel.Change whose harfanglab_owner metadata matches.
func FuzzProcess(f *testing.F) {
	for _, e := range benchCorpus(f) {
		if len(e.body) < 64<<10 {
			f.Add(e.eventType, e.body)
		}
	}
	for _, p := range []string{
		`[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' AND file:name = 'evil.exe']`,
		`[ipv4-addr:value IN ('1.1.1.1', '10.0.0.0/8', ' ')] FOLLOWEDBY [ipv6-addr:value = '2001:DB8::1'] WITHIN 5 SECONDS`,
		`[domain-name:value = 'a..b']`, `[ipv4-addr:value = '1.2.3.4'`, `[url:value NOT = 'x'] OR [hostname:value = 'h.example']`,
	} {
		f.Add("create", envelopeJSON(f, "create", indicatorObject(p), nil))
	}
	f.Add("merge", envelopeJSON(f, "merge", indicatorObject(`[domain-name:value = 'a.com']`),
		map[string]any{"sources": []any{indicatorObject(`[domain-name:value = 'b.com']`)}}))
	f.Add("create", []byte(`{"data": {"type": "indicator", "revoked": "yes"}}`))
	f.Add("delete", []byte(`not json`))
	p := newTestProcessor(f, `block_min_score: 50`)
	f.Fuzz(func(t *testing.T, eventType string, body []byte) {
		batch, err := p.Process(t.Context(), streamMessage(eventType, "1-0", body))
		if err != nil {
			if len(batch) != 0 {
				t.Fatalf("error %v with %d messages", err, len(batch))
			}
			return
		}
		for _, m := range batch {
			b, err := m.AsBytes()
			if err != nil {
				t.Fatal(err)
			}
			c, err := intel.Decode(b)
			if err != nil {
				t.Fatalf("invalid change %s: %v", b, err)
			}
			if owner, _ := m.MetaGet(metaOwner); owner != c.Owner {
				t.Fatalf("harfanglab_owner %q, change owner %q", owner, c.Owner)
			}
			if !c.Live && (len(c.IOCs) > 0 || c.Rule != nil) {
				t.Fatalf("a dead claim wants something: %s", b)
			}
		}
	})
}
