package harfanglab

import (
	"fmt"
	"testing"
)

func TestKeySetSmallAndLarge(t *testing.T) {
	var s keySet
	for i := range 40 {
		s.add(iocKey{"domain_name", fmt.Sprintf("v%d.example", i)})
		s.add(iocKey{"domain_name", fmt.Sprintf("v%d.example", i)}) // no duplicate
		if s.len() != i+1 {
			t.Fatalf("after %d adds: len %d", i+1, s.len())
		}
	}
	if s.rest == nil || s.rest.big == nil {
		t.Fatal("a large set must switch to a map")
	}
	for i := 0; i < 40; i += 2 {
		s.remove(iocKey{"domain_name", fmt.Sprintf("v%d.example", i)})
	}
	seen := 0
	s.each(func(k iocKey) {
		seen++
		if !s.has(k) {
			t.Fatalf("each gave %v, which the set does not have", k)
		}
	})
	if seen != 20 || s.has(iocKey{"domain_name", "v0.example"}) || !s.has(iocKey{"domain_name", "v1.example"}) {
		t.Fatalf("after removals: %d keys", seen)
	}

	var small keySet
	small.add(iocKey{"ip_both", "1.1.1.1"})
	small.add(iocKey{"ip_both", "2.2.2.2"})
	small.remove(iocKey{"ip_both", "1.1.1.1"})
	small.remove(iocKey{"ip_both", "9.9.9.9"})
	if small.len() != 1 || !small.has(iocKey{"ip_both", "2.2.2.2"}) || small.rest != nil && small.rest.big != nil {
		t.Fatalf("small set wrong: %+v", small)
	}
}

// The first value is held inline; removing it or adding the zero key keeps the set exact.
func TestKeySetInline(t *testing.T) {
	a, b := iocKey{"domain_name", "a.example"}, iocKey{"domain_name", "b.example"}
	var s keySet
	s.add(a)
	if s.len() != 1 || s.rest != nil || !s.has(a) {
		t.Fatalf("one key must be inline: %+v", s)
	}
	s.add(b)
	s.remove(a)
	if s.len() != 1 || s.has(a) || !s.has(b) {
		t.Fatalf("after removing the inline key: %+v", s)
	}
	s.add(a) // refills the inline slot
	s.add(iocKey{})
	if s.len() != 3 || !s.has(iocKey{}) {
		t.Fatalf("the zero key is a member like any other: %+v", s)
	}
	s.remove(iocKey{})
	s.remove(b)
	var got []iocKey
	s.each(func(k iocKey) { got = append(got, k) })
	if len(got) != 1 || got[0] != a || s.rest != nil {
		t.Fatalf("left %v (%+v)", got, s)
	}
}
