package harfanglab

import "hash/maphash"

// table is a hash set of pointers, each found by a key it carries (open addressing, linear
// probing). The index keeps one IOC entry per owned value and one owner per indicator; in a
// Go map each would cost its key and pointer plus the map's slack (60 to 80 bytes at the sizes
// measured), here a slot is the pointer alone (11 to 21 bytes per item with the load kept
// between 3/8 and 3/4). Items are never removed (the index keeps its entries and owners for
// its lifetime), which keeps the probing simple. Callers serialise access.
type table[K comparable, V any] struct {
	slots []*V
	n     int
	key   func(*V) K
	seed  maphash.Seed
}

func newTable[K comparable, V any](key func(*V) K) table[K, V] {
	return table[K, V]{key: key, seed: maphash.MakeSeed()}
}

func (t *table[K, V]) len() int { return t.n }

// get returns the item of key k, or nil.
func (t *table[K, V]) get(k K) *V {
	if t.n == 0 {
		return nil
	}
	mask := uint64(len(t.slots) - 1)
	for i := maphash.Comparable(t.seed, k) & mask; ; i = (i + 1) & mask {
		v := t.slots[i]
		if v == nil || t.key(v) == k {
			return v
		}
	}
}

// put adds v, in place of the item of the same key if there is one.
func (t *table[K, V]) put(v *V) {
	if 4*(t.n+1) > 3*len(t.slots) {
		t.grow()
	}
	if t.place(t.slots, v) {
		t.n++
	}
}

// place stores v in slots and reports whether it was a new key.
func (t *table[K, V]) place(slots []*V, v *V) bool {
	k := t.key(v)
	mask := uint64(len(slots) - 1)
	i := maphash.Comparable(t.seed, k) & mask
	for ; slots[i] != nil; i = (i + 1) & mask {
		if t.key(slots[i]) == k {
			slots[i] = v
			return false
		}
	}
	slots[i] = v
	return true
}

func (t *table[K, V]) grow() {
	size := 2 * len(t.slots)
	if size < 16 {
		size = 16
	}
	slots := make([]*V, size)
	for _, v := range t.slots {
		if v != nil {
			t.place(slots, v)
		}
	}
	t.slots = slots
}

// all returns the items (in no particular order).
func (t *table[K, V]) all() []*V {
	out := make([]*V, 0, t.n)
	for _, v := range t.slots {
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}
