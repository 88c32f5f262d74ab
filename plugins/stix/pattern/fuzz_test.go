package pattern

import (
	"errors"
	"testing"
)

// FuzzParse checks that no input makes the parser panic, and that whatever parses prints to a
// canonical form that parses again to the same canonical form.
func FuzzParse(f *testing.F) {
	seeds := []string{
		`[ipv4-addr:value = '1.2.3.4']`,
		`[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' AND file:name = 'a\'b\\c']`,
		`([a:b[*].c = 1] FOLLOWEDBY [a:b[0] != -2.5]) WITHIN 300 SECONDS OR [a:b IN (true, h'ff', b'AQ==')] REPEATS 2 TIMES`,
		`[NOT EXISTS a:b OR (a:c = 1 AND NOT EXISTS a:d)]`,
		`[a:b NOT LIKE 'x%' AND EXISTS a:c] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00.5Z'`,
		"/* c */ [a:'b c' MATCHES '^x$'] // d\n AND [x:y ISSUBSET '10.0.0.0/8' OR x:y ISSUPERSET 'z']",
		`[ipv4-addr:value = '1.2.3.4'`, `not a pattern`, `[a:b = 007]`, `[a:b = t'2016-02-30T00:00:00Z']`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := Parse(in)
		if err != nil {
			if se := (*SyntaxError)(nil); !errors.As(err, &se) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		canon := p.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, in, err)
		}
		if again.String() != canon {
			t.Fatalf("canonical form not stable: %q then %q", canon, again.String())
		}
	})
}
