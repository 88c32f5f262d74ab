package stix

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/plugins/intel"
)

const (
	md5Empty    = "d41d8cd98f00b204e9800998ecf8427e"
	sha1Empty   = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	sha256Test  = "e21cbdbf6414ffc0ef4175295c7e188800a66b7b83302bd35b7e3fd6fabfccde"
	sha512Empty = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
)

func dom(v string) intel.IOC  { return intel.IOC{Type: intel.TypeDomainName, Value: v} }
func ip(v string) intel.IOC   { return intel.IOC{Type: intel.TypeIPBoth, Value: v} }
func hash(v string) intel.IOC { return intel.IOC{Type: intel.TypeHash, Value: v} }
func url(v string) intel.IOC  { return intel.IOC{Type: intel.TypeURL, Value: v} }
func file(v string) intel.IOC { return intel.IOC{Type: intel.TypeFilename, Value: v} }

// The STIX pattern vectors of harfanglab-intel-api.md §6.2, "Recommended" column, run through
// the whole processor (event create). want nil means a Live=false change (SKIP: nothing in
// HarfangLab); err means an error on the message (SKIP(invalid pattern) goes to the dead letter).
func TestReferenceVectors(t *testing.T) {
	tests := []struct {
		id, pattern string
		want        []intel.IOC
		err         string
	}{
		{"TV-01", `[ipv4-addr:value = '172.86.102.98']`, []intel.IOC{ip("172.86.102.98")}, ""},
		{"TV-03", `[file:hashes.'SHA-256' = '` + strings.ToUpper(sha256Test) + `']`, []intel.IOC{hash(sha256Test)}, ""},
		{"TV-04", `[file:hashes.MD5 = '` + md5Empty + `' AND file:name = 'evil.exe']`, []intel.IOC{hash(md5Empty)}, ""},
		{"TV-05", `[domain-name:value = 'a.com' OR domain-name:value = 'b.com'] OR [domain-name:value = 'c.com']`, []intel.IOC{dom("a.com"), dom("b.com"), dom("c.com")}, ""},
		{"TV-06", `[url:value = 'http://x.com/a\'b']`, []intel.IOC{url("http://x.com/a'b")}, ""},
		{"TV-07", `[file:name = 'C:\\Windows\\evil.exe']`, []intel.IOC{file(`C:\Windows\evil.exe`)}, ""},
		{"TV-08", `[ipv6-addr:value = '2001:DB8:0:0::1']`, []intel.IOC{ip("2001:db8::1")}, ""},
		{"TV-09", `[ipv4-addr:value = '10.0.0.0/8']`, []intel.IOC{ip("10.0.0.0/8")}, ""},
		{"TV-10", `[ipv4-addr:value ISSUBSET '192.168.0.0/16']`, nil, ""},
		{"TV-11", `[domain-name:value MATCHES '^evil\\.com$']`, nil, ""},
		{"TV-12", `[url:value LIKE 'http://evil.com/%']`, nil, ""},
		{"TV-13 !=", `[ipv4-addr:value != '8.8.8.8']`, nil, ""},
		{"TV-13 NOT =", `[ipv4-addr:value NOT = '8.8.8.8']`, nil, ""},
		{"TV-14", `[ipv4-addr:value IN ('1.1.1.1', '2.2.2.2')]`, []intel.IOC{ip("1.1.1.1"), ip("2.2.2.2")}, ""},
		{"TV-15", `[email-addr:value = 'bad@evil.com']`, nil, ""},
		{"TV-16", `[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\Software\\Evil']`, nil, ""},
		{"TV-17", `[hostname:value = 'host.evil.com']`, []intel.IOC{dom("host.evil.com")}, ""},
		{"TV-18", `[file:hashes.'SHA-512' = '` + sha512Empty + `']`, []intel.IOC{hash(sha512Empty)}, ""},
		{"TV-19", `[artifact:hashes.'SHA-256' = '` + sha256Test + `']`, []intel.IOC{hash(sha256Test)}, ""},
		{"TV-20", `[file:hashes.'SSDEEP' = '3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C']`, nil, ""},
		{"TV-21", `[network-traffic:dst_ref.value = '1.2.3.4' AND network-traffic:dst_port = 443]`, nil, ""},
		{"TV-23", `[file:hashes.'MD5' = '` + md5Empty + `']`, []intel.IOC{hash(md5Empty)}, ""},
		{"TV-24", `[ipv6-addr:value = '2001:db8::1'] OR [file:hashes.'SHA-1' = '` + sha1Empty + `']`, []intel.IOC{ip("2001:db8::1"), hash(sha1Empty)}, ""},
		{"TV-25", `[url:value = 'http://e.com/?q=a+b']`, []intel.IOC{url("http://e.com/?q=a+b")}, ""},
		{"TV-26", `[url:value = 'http://e.com/#frag']`, []intel.IOC{url("http://e.com/#frag")}, ""},
		{"TV-27", `[file:size = 1024]`, nil, ""},
		{"TV-28", `[file:name = '']`, nil, ""},
		{"TV-29", `[domain-name:value = ' EVIL.com ']`, []intel.IOC{dom("evil.com")}, ""},
		{"TV-30 AND", `[ipv4-addr:value = '5.5.5.5'] AND [ipv4-addr:value = '5.5.5.5']`, []intel.IOC{ip("5.5.5.5")}, ""},
		{"TV-30 OR", `[domain-name:value = 'x.org'] OR [hostname:value = 'x.org']`, []intel.IOC{dom("x.org")}, ""},
		{"TV-31", `[ipv4-addr:value = 1.2.3.4]`, nil, `invalid STIX pattern: line 1:23: expected ']', found float .3`},
		{"TV-32", `not a pattern`, nil, `invalid STIX pattern: line 1:1: expected '[' or '(' to start an observation expression, found 'not'`},
		// §6.5 parser vectors, translated
		{"6.5 start/stop", `[ipv4-addr:value = '1.1.1.1'] START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'`, []intel.IOC{ip("1.1.1.1")}, ""},
		{"6.5 repeats", `[ipv4-addr:value = '1.2.3.4'] REPEATS 5 TIMES`, []intel.IOC{ip("1.2.3.4")}, ""},
		{"6.5 followedby within", `[file:hashes.'SHA-1' = '` + sha1Empty + `'] FOLLOWEDBY [ipv4-addr:value = '1.1.1.1'] WITHIN 300 SECONDS`, []intel.IOC{hash(sha1Empty), ip("1.1.1.1")}, ""},
		{"6.5 names ANDed with size", `[ (file:name = 'a.exe' OR file:name = 'b.exe') AND file:size > 10 ]`, []intel.IOC{file("a.exe"), file("b.exe")}, ""},
		{"6.5 missing bracket", `[ipv4-addr:value = '1.2.3.4'`, nil, `line 1:29: expected ']'`},
		{"6.5 quoted", `[file:name = '\'quoted\'']`, []intel.IOC{file("'quoted'")}, ""},
		{"6.5 idn", `[domain-name:value = 'MÜNCHEN.de.']`, []intel.IOC{dom("münchen.de")}, ""},
		{"6.5 unquoted algorithm", `[file:hashes.SHA256 = '` + sha256Test + `']`, []intel.IOC{hash(sha256Test)}, ""},
		{"6.5 custom object", `[x-custom:value = 'a']`, nil, ""},
	}
	p := newTestProcessor(t, ``)
	for _, test := range tests {
		t.Run(test.id, func(t *testing.T) {
			changes, _, err := process(t, p, "create", indicatorObject(test.pattern), nil)
			if test.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), test.err)
				return
			}
			require.NoError(t, err)
			require.Len(t, changes, 1)
			c := changes[0]
			assert.Equal(t, test.want != nil, c.Live)
			assert.Equal(t, test.want, c.IOCs)
		})
	}
}

// TV-02: a null description, score and platforms come through as they are.
func TestReferenceVectorTV02(t *testing.T) {
	p := newTestProcessor(t, ``)
	obj := indicatorObject(`[ipv4-addr:value = '1.2.3.4']`)
	obj["description"] = nil
	octiExt(obj)["score"] = 80
	obj["extensions"].(map[string]any)[extMITRE].(map[string]any)["x_mitre_platforms"] = []string{"windows", "linux"}
	c := one(t, p, "create", obj)
	assert.Empty(t, c.Description)
	assert.Equal(t, 80, c.Score)
	assert.Equal(t, []string{"windows", "linux"}, c.Platforms)
	assert.Equal(t, []intel.IOC{ip("1.2.3.4")}, c.IOCs)
}

// Boolean structure rules beyond the reference vectors.
func TestPatternStructure(t *testing.T) {
	tests := []struct {
		name, pattern string
		want          []intel.IOC
	}{
		{"hash over several names", `[file:name = 'a.exe' AND file:hashes.MD5 = '` + md5Empty + `' AND file:name = 'b.exe']`, []intel.IOC{hash(md5Empty)}},
		{"hash over names nested in OR", `[(file:name = 'a.exe' OR file:name = 'b.exe') AND file:hashes.MD5 = '` + md5Empty + `']`, []intel.IOC{hash(md5Empty)}},
		{"names ORed with a hash stay", `[file:name = 'a.exe' OR file:hashes.MD5 = '` + md5Empty + `']`, []intel.IOC{file("a.exe"), hash(md5Empty)}},
		{"hash-over-name is per observation", `[file:name = 'a.exe'] AND [file:hashes.MD5 = '` + md5Empty + `']`, []intel.IOC{file("a.exe"), hash(md5Empty)}},
		{"name ANDed with a non-hash stays", `[file:name = 'a.exe' AND file:size = 10]`, []intel.IOC{file("a.exe")}},
		{"negated hash does not drop the name", `[file:name = 'a.exe' AND file:hashes.MD5 != '` + md5Empty + `']`, []intel.IOC{file("a.exe")}},
		{"every observation whatever joins them", `([domain-name:value = 'a.com'] FOLLOWEDBY [domain-name:value = 'b.com']) WITHIN 60 SECONDS AND [url:value = 'http://c.com/'] OR [ipv4-addr:value = '1.1.1.1'] REPEATS 2 TIMES`,
			[]intel.IOC{dom("a.com"), dom("b.com"), url("http://c.com/"), ip("1.1.1.1")}},
		{"IN with a blank element", `[domain-name:value IN ('a.com', '  ', 'A.com')]`, []intel.IOC{dom("a.com")}},
		{"empty IN", `[domain-name:value IN ()]`, nil},
		{"EXISTS", `[EXISTS domain-name:value]`, nil},
		{"NOT EXISTS", `[NOT EXISTS domain-name:value]`, nil},
		{"NOT EXISTS beside a value", `[domain-name:value = 'a.com' AND NOT EXISTS domain-name:resolves_to_refs]`, []intel.IOC{dom("a.com")}},
		{"ordering operators", `[ipv4-addr:value > '1.1.1.1' OR ipv4-addr:value <= '2.2.2.2']`, nil},
		{"ISSUPERSET", `[ipv4-addr:value ISSUPERSET '1.1.1.1']`, nil},
		{"negated IN", `[domain-name:value NOT IN ('a.com')]`, nil},
		{"case-insensitive path", `[Domain-Name:Value = 'a.com' OR FILE:Hashes.'sha-1' = '` + sha1Empty + `']`, []intel.IOC{dom("a.com"), hash(sha1Empty)}},
		{"path with more steps", `[domain-name:value.x = 'a.com' OR file:hashes.MD5.x = '` + md5Empty + `' OR file:hashes[0] = 'x']`, nil},
		{"ipv6 cidr", `[ipv6-addr:value = '2001:DB8::/32']`, []intel.IOC{ip("2001:db8::/32")}},
		{"ipv4-mapped ipv6", `[ipv6-addr:value = '::ffff:1.2.3.4']`, []intel.IOC{ip("::ffff:1.2.3.4")}},
		{"dedupe keeps first", `[domain-name:value = 'b.com' OR domain-name:value = 'a.com' OR domain-name:value = 'B.COM']`, []intel.IOC{dom("b.com"), dom("a.com")}},
		{"same value different types", `[file:name = '` + md5Empty + `'] OR [file:hashes.MD5 = '` + md5Empty + `']`, []intel.IOC{file(md5Empty), hash(md5Empty)}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, _, err := patternIOCs(test.pattern)
			require.NoError(t, err)
			assert.Equal(t, test.want, got)
		})
	}
}

// A pattern that yields no IOC says which comparisons name no value and why, for the
// processor's log.
func TestNoIOCReason(t *testing.T) {
	tests := []struct{ pattern, reason string }{
		{`[NOT EXISTS file:name]`, `NOT EXISTS file:name: NOT EXISTS tests that a property is absent, there is no value to match`},
		{`[EXISTS url:value]`, `EXISTS url:value: EXISTS tests that a property is present, it names no value`},
		{`[domain-name:value NOT = 'a.com']`, `domain-name:value NOT = 'a.com': a negation names no value to match`},
		{`[file:size > 10]`, `file:size > 10: operator > names no exact value`},
		{`[process:pid = 4]`, `process:pid = 4: HarfangLab matches no value on this path`},
		{`[domain-name:value IN ()]`, `domain-name:value IN (): empty IN set`},
		{`[domain-name:value = '  ']`, `every value is blank`},
		{`[a:b = 1] AND [a:c = 1] OR [a:d = 1 AND a:e = 1]`, `a:b = 1: HarfangLab matches no value on this path; a:c = 1: HarfangLab matches no value on this path; a:d = 1: HarfangLab matches no value on this path; and 1 more`},
	}
	for _, test := range tests {
		got, reason, err := patternIOCs(test.pattern)
		require.NoError(t, err, test.pattern)
		assert.Empty(t, got, test.pattern)
		assert.Equal(t, test.reason, reason, test.pattern)
	}
	_, reason, err := patternIOCs(`[domain-name:value = 'a.com' OR NOT EXISTS file:name]`)
	require.NoError(t, err)
	assert.Empty(t, reason, "no reason when IOCs come out")
}
