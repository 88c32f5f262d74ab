package stix

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
