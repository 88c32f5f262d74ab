package pattern

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		// structure
		{``, `line 1:1: expected '[' or '(' to start an observation expression, found end of pattern`},
		{`   `, `line 1:4: expected '[' or '(' to start an observation expression, found end of pattern`},
		{`not a pattern`, `line 1:1: expected '[' or '(' to start an observation expression, found 'not'`},
		{`[ipv4-addr:value = '1.2.3.4'`, `line 1:29: expected ']', found end of pattern`},
		{`[ipv4-addr:value = 1.2.3.4]`, `line 1:23: expected ']', found float .3`},
		{`ipv4-addr:value = '1.2.3.4'`, `line 1:1: expected '[' or '(' to start an observation expression, found 'ipv4-addr'`},
		{`[]`, `line 1:2: expected an object path (object-type:property), found ']'`},
		{`[ipv4-addr:value = '1.2.3.4']]`, `line 1:30: unexpected ']' after the end of the pattern`},
		{`[a:b = 1] [a:b = 2]`, `line 1:11: unexpected '[' after the end of the pattern`},
		{`[a:b = 1] AND`, `line 1:14: expected '[' or '(' to start an observation expression, found end of pattern`},
		{`[a:b = 1] FOLLOWEDBY`, `line 1:21: expected '[' or '(' to start an observation expression, found end of pattern`},
		{`([a:b = 1]`, `line 1:11: expected ')', found end of pattern`},
		{`[a:b = 1])`, `line 1:10: unexpected ')' after the end of the pattern`},
		{`[(a:b = 1]`, `line 1:10: expected ')', found ']'`},
		{`[a:b = 1 AND]`, `line 1:13: expected an object path (object-type:property), found ']'`},
		{`[a:b = 1 OR OR a:b = 2]`, `line 1:13: expected an object path (object-type:property), found 'OR'`},
		{`[a:b = 1 FOLLOWEDBY a:b = 2]`, `line 1:10: expected ']', found 'FOLLOWEDBY'`},
		{`[a:b = 1] and [a:b = 2]`, `line 1:11: unexpected 'and' after the end of the pattern`},
		// object paths
		{`[ipv4-addr = '1.2.3.4']`, `line 1:12: expected ':' after the object type ipv4-addr, found '='`},
		{`[:value = 'x']`, `line 1:2: expected an object path (object-type:property), found ':'`},
		{`[file: = 'x']`, `line 1:8: expected a property name, found '='`},
		{`[file:hashes.SHA-256 = 'x']`, `line 1:14: property name SHA-256 contains '-': quote it as 'SHA-256'`},
		{`[file:hashes. = 'x']`, `line 1:15: expected a property name, found '='`},
		{`[file:hashes[x] = 'x']`, `line 1:14: expected a list index or '*', found 'x'`},
		{`[file:hashes[1.5] = 'x']`, `line 1:14: expected a list index or '*', found float 1.5`},
		{`[file:hashes[1 = 'x']`, `line 1:16: expected ']' after the list index, found '='`},
		{`['file':name = 'x']`, `line 1:2: expected an object path (object-type:property), found string 'file'`},
		{`[file:IN = 'x']`, `line 1:7: expected a property name, found 'IN'`},
		// operators and values
		{`[file:name 'x']`, `line 1:12: expected a comparison operator after file:name, found string 'x'`},
		{`[file:name NOT 'x']`, `line 1:16: expected a comparison operator after file:name, found string 'x'`},
		{`[file:name = ]`, `line 1:14: expected a value after =, found ']'`},
		{`[file:name = x]`, `line 1:14: expected a value after =, found 'x'`},
		{`[file:size > true]`, `line 1:14: expected an orderable value after >, found boolean true`},
		{`[file:name LIKE 5]`, `line 1:17: expected a string after LIKE, found integer 5`},
		{`[file:name MATCHES h'00']`, `line 1:20: expected a string after MATCHES, found hex h'00'`},
		{`[file:name ISSUBSET 1]`, `line 1:21: expected a string after ISSUBSET, found integer 1`},
		{`[file:name IN 'a']`, `line 1:15: expected '(' to start the IN set, found string 'a'`},
		{`[file:name IN ('a' 'b')]`, `line 1:20: expected ',' or ')' in the IN set, found string 'b'`},
		{`[file:name IN ('a',)]`, `line 1:20: expected a value in the IN set, found ')'`},
		{`[file:name IN ('a'`, `line 1:19: expected ',' or ')' in the IN set, found end of pattern`},
		{`[NOT file:name = 'a']`, `line 1:6: expected EXISTS after NOT (a negated comparison is written path NOT operator value), found 'file'`},
		{`[NOT NOT EXISTS file:name]`, `line 1:6: expected EXISTS after NOT (a negated comparison is written path NOT operator value), found 'NOT'`},
		{`[NOT EXISTS]`, `line 1:12: expected an object path (object-type:property), found ']'`},
		{`[file:name NOT EXISTS]`, `line 1:16: expected a comparison operator after file:name, found 'EXISTS'`},
		{`[EXISTS]`, `line 1:8: expected an object path (object-type:property), found ']'`},
		{`[file:name =! 'a']`, `line 1:13: unexpected character '!'`},
		{`[file:name === 'a']`, `line 1:14: expected a value after ==, found '='`},
		// literals
		{`[file:name = 'abc]`, `line 1:14: unterminated string literal`},
		{`[file:name = 'a\nb']`, `line 1:16: invalid escape \n in string literal (only \' and \\ are allowed)`},
		{`[file:name = 'a\"b']`, `line 1:16: invalid escape \" in string literal (only \' and \\ are allowed)`},
		{`[file:name = "abc"]`, `line 1:14: unexpected character '"'`},
		{`[file:size = 007]`, `line 1:14: integer 007 has a leading zero`},
		{`[file:size = 99999999999999999999]`, `line 1:14: integer 99999999999999999999 is out of range`},
		{`[file:size = -]`, `line 1:14: unexpected character '-'`},
		{`[file:size = 1e5]`, `line 1:15: expected ']', found 'e5'`},
		{`[file:x = h'abc']`, `line 1:11: hex literal needs an even number of hex digits`},
		{`[file:x = h'zz']`, `line 1:11: hex literal may only hold hex digits`},
		{`[file:x = h'00]`, `line 1:11: unterminated h'...' literal`},
		{`[file:x = b'']`, `line 1:11: binary literal is empty`},
		{`[file:x = b'AQI']`, `line 1:11: binary literal must be padded base64 (length a multiple of 4)`},
		{`[file:x = b'AQ=D']`, `line 1:11: binary literal is not valid base64`},
		{`[file:x = b'A===']`, `line 1:11: binary literal may only hold base64 characters`},
		{`[file:x = b'AQ-_']`, `line 1:11: binary literal may only hold base64 characters`},
		{`[file:x = t'2016-06-01']`, `line 1:11: timestamp must be RFC 3339 in UTC: YYYY-MM-DDTHH:MM:SS[.fraction]Z`},
		{`[file:x = t'2016-06-01T00:00:00+01:00']`, `line 1:11: timestamp must be RFC 3339 in UTC: YYYY-MM-DDTHH:MM:SS[.fraction]Z`},
		{`[file:x = t'2016-06-01 00:00:00Z']`, `line 1:11: timestamp must be RFC 3339 in UTC: YYYY-MM-DDTHH:MM:SS[.fraction]Z`},
		{`[file:x = t'2016-06-01T00:00:00.Z']`, `line 1:11: timestamp must be RFC 3339 in UTC: YYYY-MM-DDTHH:MM:SS[.fraction]Z`},
		{`[file:x = t'2016-02-30T00:00:00Z']`, `line 1:11: timestamp is not a valid date and time`},
		{`[file:x = t'2016-06-01T24:00:00Z']`, `line 1:11: timestamp is not a valid date and time`},
		{`[file:x = t'2016-13-01T00:00:00Z']`, `line 1:11: timestamp is not a valid date and time`},
		// qualifiers
		{`[a:b = 1] WITHIN SECONDS`, `line 1:18: expected a positive number of seconds after WITHIN, found 'SECONDS'`},
		{`[a:b = 1] WITHIN 0 SECONDS`, `line 1:18: expected a positive number of seconds after WITHIN, found integer 0`},
		{`[a:b = 1] WITHIN -5 SECONDS`, `line 1:18: expected a positive number of seconds after WITHIN, found integer -5`},
		{`[a:b = 1] WITHIN 5`, `line 1:19: expected SECONDS, found end of pattern`},
		{`[a:b = 1] WITHIN 5 MINUTES`, `line 1:20: expected SECONDS, found 'MINUTES'`},
		{`[a:b = 1] REPEATS 2.5 TIMES`, `line 1:19: expected a positive integer after REPEATS, found float 2.5`},
		{`[a:b = 1] REPEATS 0 TIMES`, `line 1:19: expected a positive integer after REPEATS, found integer 0`},
		{`[a:b = 1] REPEATS 3`, `line 1:20: expected TIMES, found end of pattern`},
		{`[a:b = 1] START t'2016-06-01T00:00:00Z'`, `line 1:40: expected STOP, found end of pattern`},
		{`[a:b = 1] START '2016' STOP t'2016-06-01T00:00:00Z'`, `line 1:17: expected a timestamp t'...' after START, found string '2016'`},
		{`[a:b = 1] START t'2016-06-01T00:00:00Z' STOP t'2016-06-01T00:00:00Z'`, `line 1:46: STOP timestamp must be later than START timestamp`},
		{`[a:b = 1] STOP t'2016-06-01T00:00:00Z'`, `line 1:11: unexpected 'STOP' after the end of the pattern`},
		{`[a:b = 1 WITHIN 5 SECONDS]`, `line 1:10: expected ']', found 'WITHIN'`},
		{`[a:b = 1] LAST 5 SECONDS`, `line 1:11: unexpected 'LAST' after the end of the pattern`},
		// lexical
		{`[a:b = 1] /* open`, `line 1:11: unterminated comment`},
		{"[a:b = 1] \x00", `line 1:11: unexpected character '\x00'`},
		{"[a:b = '\xff']", `line 1:8: invalid UTF-8 in string literal`},
		{"[a:b = 1] \xff", `line 1:11: invalid UTF-8 in pattern`},
		{"[a:b = 1]\n  @", `line 2:3: unexpected character '@'`},
		{strings.Repeat("(", 600) + "[a:b = 1]" + strings.Repeat(")", 600), `line 1:501: parentheses nested too deeply`},
	}
	require.GreaterOrEqual(t, len(tests), 40)
	for _, test := range tests {
		t.Run(test.in, func(t *testing.T) {
			p, err := Parse(test.in)
			require.Error(t, err, "parsed as %v", p)
			assert.Equal(t, test.want, err.Error())
			var se *SyntaxError
			assert.ErrorAs(t, err, &se)
		})
	}
}
