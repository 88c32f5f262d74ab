package harfanglab

import (
	"testing"
	"unsafe"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// A stored position holds a change back exactly when intel.CompareSeq orders it before.
func TestSeqPosMatchesCompareSeq(t *testing.T) {
	seqs := []string{"", "junk", "1-", "-1", "0-0", "0-1", "5-0", "5-3", "12-0", "1700000000000-0", "1700000000000-7", "18446744073709551615-18446744073709551615"}
	for _, stored := range seqs {
		for _, incoming := range seqs {
			want := intel.CompareSeq(incoming, stored) < 0
			if got := seqOf(stored).holdsBack(incoming); got != want {
				t.Errorf("stored %q, incoming %q: holdsBack %v, CompareSeq says %v", stored, incoming, got, want)
			}
		}
	}
}

// The index holds one owner per indicator: a field more than fits the 80-byte allocation
// class costs 16 bytes per indicator.
func TestOwnerStateSize(t *testing.T) {
	if n := unsafe.Sizeof(ownerState{}); n > 80 {
		t.Fatalf("ownerState is %d bytes: over the 80-byte allocation class", n)
	}
}

// The index holds one entry per owned value: it must stay in the 96-byte allocation class.
func TestIOCEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(iocEntry{}); n > 96 {
		t.Fatalf("iocEntry is %d bytes: over the 96-byte allocation class", n)
	}
}

// An IOC type reads back as written, and the same word always gets the same code.
func TestIOCTypeCode(t *testing.T) {
	for _, s := range []string{"", intel.TypeDomainName, intel.TypeHash, "ip_src", "something-new"} {
		c := iocTypeOf(s)
		if c.String() != s || iocTypeOf(s) != c {
			t.Fatalf("%q: code %d reads back as %q", s, c, c.String())
		}
	}
	if iocTypeOf("") != 0 {
		t.Fatal("the empty type must be code 0")
	}
}

// Values share their owner's record: it must stay in the 80-byte allocation class.
func TestOwnerRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(ownerRecord{}); n > 80 {
		t.Fatalf("ownerRecord is %d bytes: over the 80-byte allocation class", n)
	}
}
