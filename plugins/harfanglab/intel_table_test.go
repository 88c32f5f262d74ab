package harfanglab

import (
	"fmt"
	"testing"
)

func TestTableGetPutReplace(t *testing.T) {
	type item struct{ k, v string }
	tb := newTable(func(it *item) string { return it.k })
	if tb.get("a") != nil || tb.len() != 0 || len(tb.all()) != 0 {
		t.Fatal("empty table must hold nothing")
	}
	const n = 5000 // several growths
	for i := range n {
		tb.put(&item{fmt.Sprint(i), "first"})
	}
	for i := 0; i < n; i += 2 {
		tb.put(&item{fmt.Sprint(i), "second"}) // same key: replaced, not added
	}
	if tb.len() != n || len(tb.all()) != n {
		t.Fatalf("len %d, all %d, want %d", tb.len(), len(tb.all()), n)
	}
	for i := range n {
		it := tb.get(fmt.Sprint(i))
		want := "first"
		if i%2 == 0 {
			want = "second"
		}
		if it == nil || it.v != want {
			t.Fatalf("item %d: %+v, want %s", i, it, want)
		}
	}
	if tb.get("absent") != nil {
		t.Fatal("absent key found")
	}
}
