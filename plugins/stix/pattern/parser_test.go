package pattern

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sexpr prints the AST structure (operators, grouping, qualifiers, comparisons) so tests can
// assert precedence and associativity exactly.
func sexpr(e any) string {
	switch n := e.(type) {
	case *Observation:
		return "[" + sexpr(n.Expr) + "]"
	case *ObservationList:
		parts := make([]string, len(n.Terms))
		for i, t := range n.Terms {
			parts[i] = sexpr(t)
		}
		return "(" + n.Op.String() + " " + strings.Join(parts, " ") + ")"
	case *ObservationGroup:
		return "{" + sexpr(n.Expr) + "}"
	case *Qualified:
		switch n.Kind {
		case Within:
			return "(WITHIN " + n.Value.String() + " " + sexpr(n.Expr) + ")"
		case Repeats:
			return "(REPEATS " + n.Value.String() + " " + sexpr(n.Expr) + ")"
		default:
			return "(STARTSTOP " + sexpr(n.Expr) + ")"
		}
	case *ComparisonList:
		parts := make([]string, len(n.Terms))
		for i, t := range n.Terms {
			parts[i] = sexpr(t)
		}
		return "(" + n.Op.String() + " " + strings.Join(parts, " ") + ")"
	case *ComparisonGroup:
		return "{" + sexpr(n.Expr) + "}"
	case *Comparison:
		neg := ""
		if n.Negated {
			neg = "NOT "
		}
		if n.Op == Exists {
			return neg + "EXISTS " + n.Path.String()
		}
		if n.Op == In {
			vals := make([]string, len(n.Set))
			for i, v := range n.Set {
				vals[i] = v.String()
			}
			return n.Path.String() + " " + neg + "IN " + strings.Join(vals, ",")
		}
		return n.Path.String() + " " + neg + n.Op.String() + " " + n.Value.String()
	}
	return fmt.Sprintf("?%T", e)
}

func TestParseStructure(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"simple", `[ipv4-addr:value = '172.86.102.98']`, `[ipv4-addr:value = '172.86.102.98']`},
		{"observation precedence AND over OR over FOLLOWEDBY",
			`[a:b = 1] AND [a:b = 2] OR [a:b = 3] FOLLOWEDBY [a:b = 4] OR [a:b = 5] AND [a:b = 6]`,
			`(FOLLOWEDBY (OR (AND [a:b = 1] [a:b = 2]) [a:b = 3]) (OR [a:b = 4] (AND [a:b = 5] [a:b = 6])))`},
		{"comparison precedence AND over OR",
			`[a:b = 1 OR a:b = 2 AND a:b = 3 OR a:b = 4]`,
			`[(OR a:b = 1 (AND a:b = 2 a:b = 3) a:b = 4)]`},
		{"parentheses override precedence",
			`[(a:b = 1 OR a:b = 2) AND a:b = 3]`,
			`[(AND {(OR a:b = 1 a:b = 2)} a:b = 3)]`},
		{"observation parentheses",
			`([a:b = 1] FOLLOWEDBY [a:b = 2]) AND [a:b = 3]`,
			`(AND {(FOLLOWEDBY [a:b = 1] [a:b = 2])} [a:b = 3])`},
		{"qualifier binds tightest",
			`[a:b = 1] AND [a:b = 2] WITHIN 5 SECONDS`,
			`(AND [a:b = 1] (WITHIN 5 [a:b = 2]))`},
		{"qualifiers chain left to right",
			`[a:b = 1] REPEATS 5 TIMES WITHIN 1800 SECONDS`,
			`(WITHIN 1800 (REPEATS 5 [a:b = 1]))`},
		{"start stop", `[a:b = 1] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'`,
			`(STARTSTOP [a:b = 1])`},
		{"within float", `([a:b = 1] FOLLOWEDBY [a:b = 2]) WITHIN 2.5 SECONDS`,
			`(WITHIN 2.5 {(FOLLOWEDBY [a:b = 1] [a:b = 2])})`},
		{"all operators", `[a:b = 1 AND a:b != 1 AND a:b < 1 AND a:b <= 1 AND a:b > 1 AND a:b >= 1 AND a:b IN (1, 2) AND a:b LIKE 'x%' AND a:b MATCHES '^x$' AND a:b ISSUBSET '10.0.0.0/8' AND a:b ISSUPERSET '10.0.0.1' AND EXISTS a:b]`,
			`[(AND a:b = 1 a:b != 1 a:b < 1 a:b <= 1 a:b > 1 a:b >= 1 a:b IN 1,2 a:b LIKE 'x%' a:b MATCHES '^x$' a:b ISSUBSET '10.0.0.0/8' a:b ISSUPERSET '10.0.0.1' EXISTS a:b)]`},
		{"negations", `[a:b NOT = 1 AND a:b NOT != 1 AND a:b NOT < 1 AND a:b NOT IN ('x') AND a:b NOT LIKE 'x' AND a:b NOT MATCHES 'x' AND a:b NOT ISSUBSET 'x' AND a:b NOT ISSUPERSET 'x']`,
			`[(AND a:b NOT = 1 a:b NOT != 1 a:b NOT < 1 a:b NOT IN 'x' a:b NOT LIKE 'x' a:b NOT MATCHES 'x' a:b NOT ISSUBSET 'x' a:b NOT ISSUPERSET 'x')]`},
		{"NOT EXISTS (2022 grammar)", `[NOT EXISTS a:b OR (NOT EXISTS x:y.z AND a:c = 1)]`,
			`[(OR NOT EXISTS a:b {(AND NOT EXISTS x:y.z a:c = 1)})]`},
		{"alternative operator spellings", `[a:b == 'x' OR a:b <> 'y']`, `[(OR a:b = 'x' a:b != 'y')]`},
		{"empty IN set", `[a:b IN ()]`, `[a:b IN ]`},
		{"path steps", `[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]`,
			`[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]`},
		{"path index", `[email-message:body_multipart[0].body_raw_ref.name = 'a' OR x:y[-1] = 'b']`,
			`[(OR email-message:body_multipart[0].body_raw_ref.name = 'a' x:y[-1] = 'b')]`},
		{"quoted first component", `[x-custom:'my-prop' = 1]`, `[x-custom:'my-prop' = 1]`},
		{"quoted key that needs no quotes", `[file:hashes.'MD5' = 'a']`, `[file:hashes.MD5 = 'a']`},
		{"comments and unicode space", "/* c */[a:b\u00a0= 1] // trailing\n", `[a:b = 1]`},
		{"multi-line", "[a:b = 1]\nAND\r\n[a:b = 2]", `(AND [a:b = 1] [a:b = 2])`},
		{"keyword-like identifiers", `[ANDx:ORy = 'x' AND x:NOTx = 1]`, `[(AND ANDx:ORy = 'x' x:NOTx = 1)]`},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			p, err := Parse(test.in)
			require.NoError(t, err)
			assert.Equal(t, test.want, sexpr(p.Root))
			again, err := Parse(p.String())
			require.NoError(t, err, "canonical form %q must parse", p.String())
			assert.Equal(t, sexpr(p.Root), sexpr(again.Root))
		})
	}
}

// The examples of STIX 2.1 part 9.9 and the parser-only vectors of the reference (§6.5): each
// must parse, and print back to a form that parses to the same AST.
func TestParseSpecExamples(t *testing.T) {
	examples := []string{
		`[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']`,
		`[email-message:from_ref.value = 'mary@example.com'] AND [email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\.exe$']`,
		`[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' AND file:mime_type = 'application/x-pdf']`,
		`[file:hashes.'SHA-256' = 'bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c' OR file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] AND [file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']`,
		`([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) WITHIN 300 SECONDS`,
		`[user-account:account_type = 'unix' AND user-account:user_id = '1007' AND user-account:account_login = 'Peter'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1008' AND user-account:account_login = 'Paul'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1009' AND user-account:account_login = 'Mary']`,
		`[artifact:mime_type = 'application/vnd.tcpdump.pcap' AND artifact:payload_bin MATCHES '\\xd4\\xc3\\xb2\\xa1\\x02\\x00\\x04\\x00']`,
		`[file:name = 'foo.dll' AND file:parent_directory_ref.path = 'C:\\Windows\\System32']`,
		`[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]`,
		`[file:mime_type = 'image/bmp' AND file:magic_number_hex = h'ffd8']`,
		`[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.33/32']`,
		`[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 1800 SECONDS`,
		`[domain-name:value = 'www.5z8.info' AND domain-name:resolves_to_refs[*].value = '198.51.100.1/32']`,
		`[url:value = 'http://example.com/foo' OR url:value = 'http://example.com/bar']`,
		`[x509-certificate:issuer = 'CN=WEBMAIL' AND x509-certificate:serial_number = '4c:0b:1d:19:74:86:a7:66:b4:1a:bf:40:27:21:76:28']`,
		`[windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\CryptoLocker\\Files' OR windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\Microsoft\\CurrentVersion\\Run\\CryptoLocker_0388']`,
		`[(file:name = 'pdf.exe' OR file:size = 371712) AND file:created = t'2014-01-13T07:03:17Z']`,
		`[email-message:sender_ref.value = 'jdoe@example.com' AND email-message:subject = 'Conference Info']`,
		`[x-usb-device:usbdrive.serial_number = '575833314133343231313937']`,
		`[process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachine Root$'] FOLLOWEDBY [process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher$'] WITHIN 300 SECONDS`,
		`[network-traffic:dst_ref.value ISSUBSET '2001:0db8:dead:beef:0000:0000:0000:0000/64']`,
		`([file:name = 'foo.dll'] AND [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) OR [process:name = 'fooproc' OR process:name = 'procfoo']`,
		`[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'`,
		`[network-traffic:extensions.'http-request-ext'.request_header.'Accept-Encoding' NOT = 'gzip']`,
		`[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run' AND windows-registry-key:values[*].name = 'x' AND EXISTS windows-registry-key:values]`,
		// reference §6.5
		`[ipv4-addr:value = '1.1.1.1'] START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'`,
		`[ipv4-addr:value = '1.2.3.4'] REPEATS 5 TIMES`,
		`[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709'] FOLLOWEDBY [ipv4-addr:value = '1.1.1.1'] WITHIN 300 SECONDS`,
		`[ (file:name = 'a.exe' OR file:name = 'b.exe') AND file:size > 10 ]`,
		`[file:parent_directory_ref.path = 'C:\\Temp']`,
		`[ipv4-addr:value NOT = '1.2.3.4']`,
		`[file:name = '\'quoted\'']`,
		`[url:value = 'abc\'']`,
		`[domain-name:value = 'münchen.de']`,
		`[file:hashes.SHA256 = 'e21cbdbf6414ffc0ef4175295c7e188800a66b7b83302bd35b7e3fd6fabfccde']`,
		`[x-custom:value = 'a']`,
	}
	for i, in := range examples {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			p, err := Parse(in)
			require.NoError(t, err, in)
			again, err := Parse(p.String())
			require.NoError(t, err, p.String())
			assert.Equal(t, sexpr(p.Root), sexpr(again.Root))
			assert.Equal(t, p.String(), again.String())
		})
	}
}

func firstComparison(t *testing.T, in string) *Comparison {
	t.Helper()
	p, err := Parse(in)
	require.NoError(t, err, in)
	var found *Comparison
	var visit func(ComparisonExpr)
	visit = func(e ComparisonExpr) {
		if found != nil {
			return
		}
		switch n := e.(type) {
		case *Comparison:
			found = n
		case *ComparisonList:
			for _, x := range n.Terms {
				visit(x)
			}
		case *ComparisonGroup:
			visit(n.Expr)
		}
	}
	p.Observations(func(o *Observation) { visit(o.Expr) })
	require.NotNil(t, found)
	return found
}

func TestStringEscapes(t *testing.T) {
	tests := []struct{ in, want string }{
		{`[url:value = 'http://x.com/a\'b']`, `http://x.com/a'b`},
		{`[file:name = 'C:\\Windows\\evil.exe']`, `C:\Windows\evil.exe`},
		{`[file:name = '\'quoted\'']`, `'quoted'`},
		{`[url:value = 'abc\'']`, `abc'`},
		{`[file:name = '\\\'']`, `\'`},
		{`[domain-name:value = 'münchen.de']`, `münchen.de`},
		{`[file:name = '']`, ``},
		{"[file:name = 'line\nbreak']", "line\nbreak"},
	}
	for _, test := range tests {
		c := firstComparison(t, test.in)
		assert.Equal(t, StringLit, c.Value.Kind)
		assert.Equal(t, test.want, c.Value.Str, test.in)
	}
}

func TestObjectPath(t *testing.T) {
	c := firstComparison(t, `[file:hashes.'SHA-256' = 'x']`)
	assert.Equal(t, "file", c.Path.ObjectType)
	assert.Equal(t, []PathStep{{Kind: KeyStep, Key: "hashes"}, {Kind: KeyStep, Key: "SHA-256"}}, c.Path.Steps)
	assert.Equal(t, Pos{Offset: 1, Line: 1, Col: 2}, c.Path.At)

	c = firstComparison(t, `[a:b[3].c[*].'d e'[-2] = 1]`)
	assert.Equal(t, []PathStep{
		{Kind: KeyStep, Key: "b"}, {Kind: IndexStep, Index: 3}, {Kind: KeyStep, Key: "c"},
		{Kind: AnyStep}, {Kind: KeyStep, Key: "d e"}, {Kind: IndexStep, Index: -2},
	}, c.Path.Steps)
	assert.Equal(t, `a:b[3].c[*].'d e'[-2]`, c.Path.String())
}

func TestPositions(t *testing.T) {
	p, err := Parse("[a:b = 1]\n  AND [x:b = 'é' AND c:d = 2]")
	require.NoError(t, err)
	list := p.Root.(*ObservationList)
	second := list.Terms[1].(*Observation)
	assert.Equal(t, Pos{Offset: 16, Line: 2, Col: 7}, second.At)
	and := second.Expr.(*ComparisonList)
	c := and.Terms[1].(*Comparison)
	// "[x:b = 'é' AND " is 15 code points, 16 bytes.
	assert.Equal(t, 2, c.At.Line)
	assert.Equal(t, 7+15, c.At.Col)
	assert.Equal(t, 16+16, c.At.Offset)
}

func TestObservationsWalk(t *testing.T) {
	p, err := Parse(`([a:b = 1] AND [a:b = 2]) WITHIN 5 SECONDS OR [a:b = 3] FOLLOWEDBY [a:b = 4] REPEATS 2 TIMES`)
	require.NoError(t, err)
	var got []string
	p.Observations(func(o *Observation) { got = append(got, o.String()) })
	assert.Equal(t, []string{"[a:b = 1]", "[a:b = 2]", "[a:b = 3]", "[a:b = 4]"}, got)
}

func TestLiteralBytes(t *testing.T) {
	tests := map[string][]byte{
		`h'ffd8'`: {0xff, 0xd8}, `h'AbCd'`: {0xab, 0xcd}, `h''`: {},
		`b'AQIDBA=='`: {1, 2, 3, 4}, `b'AQID'`: {1, 2, 3}, `b'AQIDBAU='`: {1, 2, 3, 4, 5},
		`'AQID'`: nil, `12`: nil,
	}
	for src, want := range tests {
		c := firstComparison(t, "[x:y = "+src+"]")
		assert.Equal(t, want, c.Value.Bytes(), src)
	}
}

func TestLargeSet(t *testing.T) {
	var b strings.Builder
	b.WriteString("[x:y IN (")
	for i := range 10000 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d", i)
	}
	b.WriteString(")]")
	c := firstComparison(t, b.String())
	require.Len(t, c.Set, 10000)
	for i, l := range c.Set {
		require.Equal(t, int64(i), l.Int)
	}
}

func TestLiteralRoundTrip(t *testing.T) {
	ts := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		u := v.UTC()
		return &u
	}
	tests := []struct {
		src  string
		want Literal
	}{
		{`'plain'`, Literal{Kind: StringLit, Str: "plain"}},
		{`'it\'s a \\ path'`, Literal{Kind: StringLit, Str: `it's a \ path`}},
		{`''`, Literal{Kind: StringLit, Str: ""}},
		{`'ünïcødé ✓'`, Literal{Kind: StringLit, Str: "ünïcødé ✓"}},
		{`0`, Literal{Kind: IntLit, Int: 0}},
		{`42`, Literal{Kind: IntLit, Int: 42}},
		{`+42`, Literal{Kind: IntLit, Int: 42}},
		{`-7`, Literal{Kind: IntLit, Int: -7}},
		{`9223372036854775807`, Literal{Kind: IntLit, Int: 9223372036854775807}},
		{`-9223372036854775808`, Literal{Kind: IntLit, Int: -9223372036854775808}},
		{`7.0`, Literal{Kind: FloatLit, Float: 7}},
		{`.5`, Literal{Kind: FloatLit, Float: 0.5}},
		{`-0.25`, Literal{Kind: FloatLit, Float: -0.25}},
		{`+3.14159`, Literal{Kind: FloatLit, Float: 3.14159}},
		{`001.5`, Literal{Kind: FloatLit, Float: 1.5}},
		{`true`, Literal{Kind: BoolLit, Bool: true}},
		{`false`, Literal{Kind: BoolLit, Bool: false}},
		{`h'ffd8'`, Literal{Kind: HexLit, Str: "ffd8"}},
		{`h'AbCd'`, Literal{Kind: HexLit, Str: "AbCd"}},
		{`h''`, Literal{Kind: HexLit, Str: ""}},
		{`b'AQIDBA=='`, Literal{Kind: BinaryLit, Str: "AQIDBA=="}},
		{`b'AQID'`, Literal{Kind: BinaryLit, Str: "AQID"}},
		{`b'AQIDBAU='`, Literal{Kind: BinaryLit, Str: "AQIDBAU="}},
		{`t'2016-06-01T00:00:00Z'`, Literal{Kind: TimestampLit, Time: ts("2016-06-01T00:00:00Z")}},
		{`t'2016-06-01T12:34:56.789Z'`, Literal{Kind: TimestampLit, Time: ts("2016-06-01T12:34:56.789Z")}},
		{`t'2020-02-29T23:59:59.000000001Z'`, Literal{Kind: TimestampLit, Time: ts("2020-02-29T23:59:59.000000001Z")}},
		{`t'2016-12-31T23:59:60Z'`, Literal{Kind: TimestampLit, Time: ts("2017-01-01T00:00:00Z")}},
	}
	for _, test := range tests {
		t.Run(test.src, func(t *testing.T) {
			c := firstComparison(t, "[x:y = "+test.src+"]")
			got := c.Value
			got.At = Pos{}
			assert.Equal(t, test.want, got)
			// print and parse again: same value
			c2 := firstComparison(t, "[x:y = "+got.String()+"]")
			again := c2.Value
			again.At = Pos{}
			if test.want.Kind == TimestampLit {
				assert.True(t, test.want.Time.Equal(*again.Time))
				again.Time = test.want.Time
			}
			assert.Equal(t, test.want, again, "round trip of %s via %s", test.src, got.String())
		})
	}
}

// Long flat chains build one n-ary node (no deep recursion anywhere); nesting is fine up to the
// limit.
func TestLargePatterns(t *testing.T) {
	var b strings.Builder
	b.WriteString("[")
	for i := range 100000 {
		if i > 0 {
			b.WriteString(" OR ")
		}
		fmt.Fprintf(&b, "domain-name:value = 'h%d.example.com'", i)
	}
	b.WriteString("]")
	for i := range 50000 {
		fmt.Fprintf(&b, " FOLLOWEDBY [ipv4-addr:value = '10.0.%d.%d']", i/256%256, i%256)
	}
	p, err := Parse(b.String())
	require.NoError(t, err)
	list := p.Root.(*ObservationList)
	assert.Equal(t, FollowedBy, list.Op)
	assert.Len(t, list.Terms, 50001)
	assert.Len(t, list.Terms[0].(*Observation).Expr.(*ComparisonList).Terms, 100000)
	n := 0
	p.Observations(func(*Observation) { n++ })
	assert.Equal(t, 50001, n)
	assert.Equal(t, b.String(), p.String())

	nested := strings.Repeat("(", maxDepth) + "[a:b = 1]" + strings.Repeat(")", maxDepth)
	_, err = Parse(nested)
	require.NoError(t, err)
	nested = "[" + strings.Repeat("(", maxDepth) + "a:b = 1" + strings.Repeat(")", maxDepth) + "]"
	_, err = Parse(nested)
	require.NoError(t, err)
	_, err = Parse("[" + strings.Repeat("(", maxDepth+1) + "a:b = 1" + strings.Repeat(")", maxDepth+1) + "]")
	require.ErrorContains(t, err, "parentheses nested too deeply")
}
