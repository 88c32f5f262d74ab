package harfanglab

import (
	"fmt"
	"testing"
)

// entriesByValue hands out one index entry per value, as the index does.
func entriesByValue() func(typ, value string) *iocEntry {
	m := map[iocKey]*iocEntry{}
	return func(typ, value string) *iocEntry {
		k := iocKey{typ, value}
		if m[k] == nil {
			m[k] = newEntry(k)
		}
		return m[k]
	}
}

func TestKeySetSmallAndLarge(t *testing.T) {
	ent := entriesByValue()
	var s keySet
	for i := range 40 {
		s.add(ent("domain_name", fmt.Sprintf("v%d.example", i)))
		s.add(ent("domain_name", fmt.Sprintf("v%d.example", i))) // no duplicate
		if s.len() != i+1 {
			t.Fatalf("after %d adds: len %d", i+1, s.len())
		}
	}
	if s.rest == nil || s.rest.big == nil {
		t.Fatal("a large set must switch to a map")
	}
	for i := 0; i < 40; i += 2 {
		s.remove(ent("domain_name", fmt.Sprintf("v%d.example", i)))
	}
	seen := 0
	s.each(func(e *iocEntry) {
		seen++
		if !s.has(e) {
			t.Fatalf("each gave %v, which the set does not have", e.key())
		}
	})
	if seen != 20 || s.has(ent("domain_name", "v0.example")) || !s.has(ent("domain_name", "v1.example")) {
		t.Fatalf("after removals: %d keys", seen)
	}

	var small keySet
	small.add(ent("ip_both", "1.1.1.1"))
	small.add(ent("ip_both", "2.2.2.2"))
	small.remove(ent("ip_both", "1.1.1.1"))
	small.remove(ent("ip_both", "9.9.9.9"))
	if small.len() != 1 || !small.has(ent("ip_both", "2.2.2.2")) || small.rest != nil && small.rest.big != nil {
		t.Fatalf("small set wrong: %+v", small)
	}
}

// The first value is held inline; removing it keeps the set exact, and nil is never a member.
func TestKeySetInline(t *testing.T) {
	ent := entriesByValue()
	a, b, c := ent("domain_name", "a.example"), ent("domain_name", "b.example"), ent("domain_name", "c.example")
	var s keySet
	s.add(a)
	if s.len() != 1 || s.rest != nil || !s.has(a) {
		t.Fatalf("one value must be inline: %+v", s)
	}
	s.add(b)
	s.remove(a)
	if s.len() != 1 || s.has(a) || !s.has(b) {
		t.Fatalf("after removing the inline value: %+v", s)
	}
	s.add(a) // refills the inline slot
	s.add(c)
	if s.len() != 3 || s.has(nil) {
		t.Fatalf("three values and no nil: %+v", s)
	}
	s.remove(c)
	s.remove(b)
	var got []*iocEntry
	s.each(func(e *iocEntry) { got = append(got, e) })
	if len(got) != 1 || got[0] != a || s.rest != nil {
		t.Fatalf("left %v (%+v)", got, s)
	}
}
