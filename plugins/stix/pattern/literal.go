package pattern

import (
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// LiteralKind is the type of a literal value (one byte: a Literal is allocated per value of
// an IN set, which can hold hundreds of thousands).
type LiteralKind uint8

// Literal kinds, one per literal of the grammar.
const (
	StringLit LiteralKind = iota
	IntLit
	FloatLit
	BoolLit
	HexLit
	BinaryLit
	TimestampLit
)

var literalKindText = [...]string{"string", "integer", "float", "boolean", "hex", "binary", "timestamp"}

func (k LiteralKind) String() string {
	if int(k) < len(literalKindText) {
		return literalKindText[k]
	}
	return "?"
}

// Literal is a constant of the pattern. Only the fields of its Kind are set. It is kept small
// (72 bytes instead of 96: the kind and the boolean side by side, the rare timestamp behind a
// pointer) because an IN set of a 1 MB pattern holds tens of thousands of them (issue 12.3).
type Literal struct {
	Kind LiteralKind
	Bool bool
	At   Pos
	// Str is the unescaped value of a string, the hex digits of a hex literal (as written) or
	// the base64 text of a binary literal.
	Str   string
	Int   int64
	Float float64
	// Time is the instant of a timestamp literal, in UTC (nil for other kinds).
	Time *time.Time
}

// Bytes is the decoded value of a hex or binary literal (validated when parsed), nil for
// other kinds.
func (l Literal) Bytes() []byte {
	var b []byte
	switch l.Kind {
	case HexLit:
		b, _ = hex.DecodeString(l.Str)
	case BinaryLit:
		b, _ = base64.StdEncoding.DecodeString(l.Str)
	}
	return b
}

// String renders the literal in STIX syntax (strings quoted and escaped).
func (l Literal) String() string {
	switch l.Kind {
	case StringLit:
		var b strings.Builder
		writeQuoted(&b, l.Str)
		return b.String()
	case IntLit:
		return strconv.FormatInt(l.Int, 10)
	case FloatLit:
		s := strconv.FormatFloat(l.Float, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	case BoolLit:
		return strconv.FormatBool(l.Bool)
	case HexLit:
		return "h'" + l.Str + "'"
	case BinaryLit:
		return "b'" + l.Str + "'"
	case TimestampLit:
		return "t'" + l.Time.UTC().Format(timestampLayout) + "'"
	}
	return "?"
}

// timestampLayout prints the fraction only when it is not zero.
const timestampLayout = "2006-01-02T15:04:05.999999999Z"

// writeQuoted writes s as a STIX string literal: quote and backslash are escaped.
func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\'' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('\'')
}

// checkHex validates the body of h'...': an even number of hex digits.
func checkHex(body string) string {
	if len(body)%2 != 0 {
		return "hex literal needs an even number of hex digits"
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return "hex literal may only hold hex digits"
		}
	}
	return ""
}

// checkBinary validates the body of b'...': non-empty, padded standard base64.
func checkBinary(body string) string {
	if body == "" {
		return "binary literal is empty"
	}
	if len(body)%4 != 0 {
		return "binary literal must be padded base64 (length a multiple of 4)"
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !isBase64Char(c) && (c != '=' || i < len(body)-2) {
			return "binary literal may only hold base64 characters"
		}
	}
	if _, err := base64.StdEncoding.Strict().DecodeString(body); err != nil {
		return "binary literal is not valid base64"
	}
	return ""
}

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/'
}

// timestampLiteral is the literal t'body' read at start, or why body is not a timestamp.
func timestampLiteral(start Pos, body string) (Literal, string) {
	at, msg := decodeTimestamp(body)
	return Literal{Kind: TimestampLit, At: start, Time: &at}, msg
}

// decodeTimestamp validates the body of t'...' against the grammar (YYYY-MM-DDTHH:MM:SS[.f]Z,
// UTC only) and the calendar. A leap second (:60) is accepted as the grammar allows it and
// read as the next second.
func decodeTimestamp(body string) (time.Time, string) {
	const shape = "dddd-dd-ddTdd:dd:dd"
	bad := "timestamp must be RFC 3339 in UTC: YYYY-MM-DDTHH:MM:SS[.fraction]Z"
	if len(body) < len(shape)+1 || body[len(body)-1] != 'Z' {
		return time.Time{}, bad
	}
	for i := 0; i < len(shape); i++ {
		c := body[i]
		if shape[i] == 'd' {
			if c < '0' || c > '9' {
				return time.Time{}, bad
			}
		} else if c != shape[i] {
			return time.Time{}, bad
		}
	}
	frac := body[len(shape) : len(body)-1]
	if frac != "" {
		if frac[0] != '.' || len(frac) == 1 {
			return time.Time{}, bad
		}
		for i := 1; i < len(frac); i++ {
			if frac[i] < '0' || frac[i] > '9' {
				return time.Time{}, bad
			}
		}
	}
	leap := body[17:19] == "60"
	text := body
	if leap {
		text = body[:17] + "59" + body[19:]
	}
	t, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return time.Time{}, "timestamp is not a valid date and time"
	}
	if leap {
		t = t.Add(time.Second)
	}
	return t.UTC(), ""
}
