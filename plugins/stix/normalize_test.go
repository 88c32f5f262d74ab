package stix

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

// canonicalDomain is a shortcut: whenever it says yes, normalizeDomain must return the value
// unchanged and without error.
func FuzzCanonicalDomain(f *testing.F) {
	for _, s := range []string{"evil.example.com", "a", "a.", ".a", "a..b", "A.com", "x_y-z.0", "é.com",
		strings.Repeat("a", 63) + ".b", strings.Repeat("a", 64), strings.Repeat("a.", 126) + "a", " a.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if !canonicalDomain(v) {
			return
		}
		got, err := normalizeDomain(v)
		require.NoError(t, err, v)
		require.Equal(t, v, got)
		ioc, skip, err := normalize(kindDomain, "", v)
		require.NoError(t, err)
		require.False(t, skip)
		require.Equal(t, v, ioc.Value)
	})
}

// dedupe keeps the first of each (type, value) in order, for small and large lists alike.
func TestDedupeKeepsFirstInOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	types := []string{intel.TypeDomainName, intel.TypeURL, intel.TypeHash}
	for _, n := range []int{0, 1, 2, 16, 17, 100, 5000} {
		var in []intel.IOC
		for range n {
			in = append(in, intel.IOC{Type: types[rng.IntN(len(types))], Value: fmt.Sprint("v", rng.IntN(n/2+1))})
		}
		var want []intel.IOC
		seen := map[intel.IOC]bool{}
		for _, i := range in {
			if !seen[i] {
				seen[i] = true
				want = append(want, i)
			}
		}
		got := dedupe(slices.Clone(in))
		require.Len(t, got, len(want), n)
		if len(want) > 0 {
			require.Equal(t, want, got, n)
		}
	}
}
