package harfanglab

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Every id comes back exactly as HarfangLab wrote it; canonical UUIDs take 17 bytes.
func TestCompactIDRoundTrip(t *testing.T) {
	for _, s := range []string{
		"", "42", "0f8fad5b-d9cb-469f-a165-70867728950e", "0F8FAD5B-D9CB-469F-A165-70867728950E",
		"0f8fad5b-d9cb-469f-a165-70867728950", "0f8fad5bxd9cb-469f-a165-70867728950e",
		"\x00abcdefghijklmnop", "\x01x", "not-a-uuid-at-all-but-36-chars-long!",
	} {
		c := compactOf(s)
		assert.Equal(t, s, c.String(), "%q", s)
		assert.Equal(t, s == "", c == "", "%q", s)
	}
	assert.Len(t, string(compactOf("0f8fad5b-d9cb-469f-a165-70867728950e")), 17)
}

func FuzzCompactID(f *testing.F) {
	f.Add("0f8fad5b-d9cb-469f-a165-70867728950e")
	f.Add("\x00")
	f.Fuzz(func(t *testing.T, s string) {
		if got := compactOf(s).String(); got != s {
			t.Fatalf("%q came back as %q", s, got)
		}
	})
}

// A status reads back as written, and the same word always gets the same code.
func TestStatusCode(t *testing.T) {
	for _, s := range []string{"", "stable", "testing", "experimental", "something-new"} {
		c := statusOf(s)
		assert.Equal(t, s, c.String())
		assert.Equal(t, c, statusOf(s))
	}
	assert.Equal(t, statusCode(0), statusOf(""))
}

var ownerIDSamples = []string{
	"", "42", "0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950f",
	"ff8fad5b-d9cb-469f-a165-70867728950e", "indicator--0f8fad5b-d9cb-469f-a165-70867728950e",
	"indicator--1f8fad5b-d9cb-469f-a165-70867728950e", "indicator--0F8FAD5B-D9CB-469F-A165-70867728950E",
	"indicator--x", "0123456789abcdef", "\x01abcdefghijklmnop", "\x02x", "\x01", "S1", "a", "zzz",
}

// Every owner id comes back exactly as written; OpenCTI's take 16 or 17 bytes.
func TestOwnerIDRoundTrip(t *testing.T) {
	for _, s := range ownerIDSamples {
		assert.Equal(t, s, ownerIDOf(s).String(), "%q", s)
	}
	assert.Len(t, string(ownerIDOf("0f8fad5b-d9cb-469f-a165-70867728950e")), 16)
	assert.Len(t, string(ownerIDOf("indicator--0f8fad5b-d9cb-469f-a165-70867728950e")), 17)
}

// Owner ids sort as their text does, whatever the way each is kept.
func TestOwnerIDCompare(t *testing.T) {
	for _, a := range ownerIDSamples {
		for _, b := range ownerIDSamples {
			assert.Equal(t, strings.Compare(a, b), ownerIDOf(a).compare(ownerIDOf(b)), "%q vs %q", a, b)
		}
	}
}

func FuzzOwnerID(f *testing.F) {
	for _, s := range ownerIDSamples {
		f.Add(s, "indicator--0f8fad5b-d9cb-469f-a165-70867728950e")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if got := ownerIDOf(a).String(); got != a {
			t.Fatalf("%q came back as %q", a, got)
		}
		if got, want := ownerIDOf(a).compare(ownerIDOf(b)), strings.Compare(a, b); got != want {
			t.Fatalf("%q vs %q: %d, want %d", a, b, got, want)
		}
	})
}
