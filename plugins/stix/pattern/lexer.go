package pattern

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokenKind int

const (
	tEOF tokenKind = iota
	tLBrack
	tRBrack
	tLParen
	tRParen
	tColon
	tDot
	tComma
	tAsterisk
	tEq
	tNeq
	tLt
	tLe
	tGt
	tGe
	tIdent // identifier; token.hyphen tells IdentifierWithHyphen apart
	tLiteral
	// keywords
	tAnd
	tOr
	tNot
	tFollowedBy
	tLike
	tMatches
	tIsSuperset
	tIsSubset
	tExists
	tLast
	tIn
	tStart
	tStop
	tSeconds
	tWithin
	tRepeats
	tTimes
)

// keywords are case-sensitive, as in the grammar.
var keywords = map[string]tokenKind{
	"AND": tAnd, "OR": tOr, "NOT": tNot, "FOLLOWEDBY": tFollowedBy, "LIKE": tLike,
	"MATCHES": tMatches, "ISSUPERSET": tIsSuperset, "ISSUBSET": tIsSubset, "EXISTS": tExists,
	"LAST": tLast, "IN": tIn, "START": tStart, "STOP": tStop, "SECONDS": tSeconds,
	"WITHIN": tWithin, "REPEATS": tRepeats, "TIMES": tTimes,
}

type token struct {
	kind   tokenKind
	pos    Pos
	text   string // source text of the token
	hyphen bool   // tIdent containing '-'
	lit    Literal
}

// describe names the token for an error message.
func (t *token) describe() string {
	if t.kind == tEOF {
		return "end of pattern"
	}
	s := t.text
	if utf8.RuneCountInString(s) > 40 {
		r := []rune(s)
		s = string(r[:37]) + "..."
	}
	if t.kind == tLiteral {
		return t.lit.Kind.String() + " " + s
	}
	return "'" + s + "'"
}

type lexer struct {
	src  string
	off  int
	line int
	col  int
}

func newLexer(src string) lexer { return lexer{src: src, line: 1, col: 1} }

func (l *lexer) pos() Pos { return Pos{Offset: l.off, Line: l.line, Col: l.col} }

// advance moves n bytes forward, keeping line and column.
func (l *lexer) advance(n int) {
	if n == 1 && l.src[l.off] != '\n' && l.src[l.off] < utf8.RuneSelf {
		l.off++
		l.col++
		return
	}
	seg := l.src[l.off : l.off+n]
	l.off += n
	if nl := strings.LastIndexByte(seg, '\n'); nl >= 0 {
		l.line += strings.Count(seg, "\n")
		l.col = 1 + utf8.RuneCountInString(seg[nl+1:])
		return
	}
	if isASCII(seg) {
		l.col += len(seg)
	} else {
		l.col += utf8.RuneCountInString(seg)
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func (l *lexer) errAt(p Pos, msg string) *SyntaxError { return &SyntaxError{Pos: p, Msg: msg} }

// skipSpace skips white space and comments.
func (l *lexer) skipSpace() *SyntaxError {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f':
			l.advance(1)
		case c == '/' && l.off+1 < len(l.src) && l.src[l.off+1] == '*':
			start := l.pos()
			end := strings.Index(l.src[l.off+2:], "*/")
			if end < 0 {
				return l.errAt(start, "unterminated comment")
			}
			l.advance(end + 4)
		case c == '/' && l.off+1 < len(l.src) && l.src[l.off+1] == '/':
			end := strings.IndexAny(l.src[l.off:], "\r\n")
			if end < 0 {
				end = len(l.src) - l.off
			}
			l.advance(end)
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(l.src[l.off:])
			if !isUnicodeSpace(r) {
				return nil
			}
			l.advance(size)
		default:
			return nil
		}
	}
	return nil
}

// isUnicodeSpace is the non-ASCII part of the grammar's WS rule.
func isUnicodeSpace(r rune) bool {
	switch r {
	case 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || c >= '0' && c <= '9' }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }

// nextInto scans one token into t. The tokens of large IN lists — commas and plain quoted
// strings — are written in place; returning a 150-byte token by value and copying it into
// the parser cost more than scanning it.
func (l *lexer) nextInto(t *token) *SyntaxError {
	if err := l.skipSpace(); err != nil {
		return err
	}
	if l.off < len(l.src) {
		switch l.src[l.off] {
		case ',':
			// t.lit keeps the previous literal: it is read only when kind is tLiteral.
			t.kind, t.pos, t.text, t.hyphen = tComma, l.pos(), l.src[l.off:l.off+1], false
			l.off++
			l.col++
			return nil
		case '\'':
			start, from := l.pos(), l.off
			s, err := l.scanQuoted(start)
			if err != nil {
				return err
			}
			t.kind, t.pos, t.text, t.hyphen = tLiteral, start, l.src[from:l.off], false
			t.lit = Literal{Kind: StringLit, At: start, Str: s}
			return nil
		}
	}
	tok, err := l.next()
	if err == nil {
		*t = tok
	}
	return err
}

// next scans one token.
func (l *lexer) next() (token, *SyntaxError) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	start := l.pos()
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := l.src[l.off]
	one := func(k tokenKind) (token, *SyntaxError) {
		t := token{kind: k, pos: start, text: l.src[l.off : l.off+1]}
		l.advance(1)
		return t, nil
	}
	two := func(k tokenKind) (token, *SyntaxError) {
		t := token{kind: k, pos: start, text: l.src[l.off : l.off+2]}
		l.advance(2)
		return t, nil
	}
	peek := byte(0)
	if l.off+1 < len(l.src) {
		peek = l.src[l.off+1]
	}
	switch {
	case c == '[':
		return one(tLBrack)
	case c == ']':
		return one(tRBrack)
	case c == '(':
		return one(tLParen)
	case c == ')':
		return one(tRParen)
	case c == ':':
		return one(tColon)
	case c == ',':
		return one(tComma)
	case c == '*':
		return one(tAsterisk)
	case c == '=' && peek == '=':
		return two(tEq)
	case c == '=':
		return one(tEq)
	case c == '!' && peek == '=':
		return two(tNeq)
	case c == '<' && peek == '>':
		return two(tNeq)
	case c == '<' && peek == '=':
		return two(tLe)
	case c == '<':
		return one(tLt)
	case c == '>' && peek == '=':
		return two(tGe)
	case c == '>':
		return one(tGt)
	case c == '.' && !isDigit(peek):
		return one(tDot)
	case c == '\'':
		return l.scanString(start)
	case (c == 't' || c == 'h' || c == 'b') && peek == '\'':
		return l.scanPrefixed(start, c)
	case isIdentStart(c):
		return l.scanIdent(start), nil
	case isDigit(c) || c == '.' || c == '+' || c == '-':
		return l.scanNumber(start)
	}
	r, size := utf8.DecodeRuneInString(l.src[l.off:])
	if r == utf8.RuneError && size <= 1 {
		return token{}, l.errAt(start, "invalid UTF-8 in pattern")
	}
	return token{}, l.errAt(start, "unexpected character "+strconv.QuoteRune(r))
}

func (l *lexer) scanIdent(start Pos) token {
	i := l.off + 1
	hyphen := false
	for i < len(l.src) && (isIdentChar(l.src[i]) || l.src[i] == '-') {
		if l.src[i] == '-' {
			hyphen = true
		}
		i++
	}
	text := l.src[l.off:i]
	l.advance(i - l.off)
	t := token{kind: tIdent, pos: start, text: text, hyphen: hyphen}
	if k, ok := keywords[text]; ok {
		t.kind = k
	} else if text == "true" || text == "false" {
		t.kind = tLiteral
		t.lit = Literal{Kind: BoolLit, At: start, Bool: text == "true"}
	}
	return t
}

// quotedPlain marks the bytes of a quoted body that are kept as they are and need no line or
// column bookkeeping beyond one column each: printable ASCII but the quote and the backslash.
var quotedPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '\'' && c != '\\'
	}
	return t
}()

// scanQuoted scans a quoted body starting at the quote at l.off and returns it unescaped.
// Plain ASCII runs are skipped in one loop with the column counted directly: IN lists of
// hundreds of thousands of strings spend their time here.
func (l *lexer) scanQuoted(start Pos) (string, *SyntaxError) {
	l.advance(1) // opening quote
	var b *strings.Builder
	from := l.off
	for {
		i := l.off
		for i < len(l.src) && quotedPlain[l.src[i]] {
			i++
		}
		l.col += i - l.off
		l.off = i
		if i < len(l.src) && l.src[i] != '\'' && l.src[i] != '\\' {
			// a newline, another control character or a non-ASCII character
			_, size := utf8.DecodeRuneInString(l.src[i:])
			l.advance(size)
			continue
		}
		if i >= len(l.src) {
			return "", l.errAt(start, "unterminated string literal")
		}
		if l.src[l.off] == '\'' {
			var s string
			if b == nil {
				s = l.src[from:l.off]
			} else {
				b.WriteString(l.src[from:l.off])
				s = b.String()
			}
			l.advance(1)
			if !utf8.ValidString(s) {
				return "", l.errAt(start, "invalid UTF-8 in string literal")
			}
			return s, nil
		}
		// backslash
		escPos := l.pos()
		if l.off+1 >= len(l.src) {
			return "", l.errAt(start, "unterminated string literal")
		}
		e := l.src[l.off+1]
		if e != '\'' && e != '\\' {
			r, _ := utf8.DecodeRuneInString(l.src[l.off+1:])
			return "", l.errAt(escPos, `invalid escape \`+string(r)+` in string literal (only \' and \\ are allowed)`)
		}
		if b == nil {
			b = &strings.Builder{}
		}
		b.WriteString(l.src[from:l.off])
		b.WriteByte(e)
		l.advance(2)
		from = l.off
	}
}

func (l *lexer) scanString(start Pos) (token, *SyntaxError) {
	from := l.off
	s, err := l.scanQuoted(start)
	if err != nil {
		return token{}, err
	}
	return token{kind: tLiteral, pos: start, text: l.src[from:l.off], lit: Literal{Kind: StringLit, At: start, Str: s}}, nil
}

// scanPrefixed scans h'..', b'..' and t'..' literals. Their bodies hold no escapes.
func (l *lexer) scanPrefixed(start Pos, prefix byte) (token, *SyntaxError) {
	from := l.off
	end := strings.IndexByte(l.src[l.off+2:], '\'')
	if end < 0 {
		return token{}, l.errAt(start, "unterminated "+string(prefix)+"'...' literal")
	}
	body := l.src[l.off+2 : l.off+2+end]
	l.advance(end + 3)
	t := token{kind: tLiteral, pos: start, text: l.src[from:l.off]}
	var msg string
	switch prefix {
	case 'h':
		t.lit = Literal{Kind: HexLit, At: start, Str: body}
		msg = checkHex(body)
	case 'b':
		t.lit = Literal{Kind: BinaryLit, At: start, Str: body}
		msg = checkBinary(body)
	default:
		t.lit, msg = timestampLiteral(start, body)
	}
	if msg != "" {
		return token{}, l.errAt(start, msg)
	}
	return t, nil
}

// scanNumber scans IntPos/IntNeg/FloatPos/FloatNeg literals.
func (l *lexer) scanNumber(start Pos) (token, *SyntaxError) {
	i := l.off
	if l.src[i] == '+' || l.src[i] == '-' {
		i++
	}
	digits := i
	for i < len(l.src) && isDigit(l.src[i]) {
		i++
	}
	intPart := l.src[digits:i]
	isFloat := i+1 < len(l.src) && l.src[i] == '.' && isDigit(l.src[i+1])
	if isFloat {
		i++
		for i < len(l.src) && isDigit(l.src[i]) {
			i++
		}
	}
	text := l.src[l.off:i]
	if !isFloat && intPart == "" {
		return token{}, l.errAt(start, "unexpected character "+strconv.QuoteRune(rune(text[0])))
	}
	if !isFloat && len(intPart) > 1 && intPart[0] == '0' {
		return token{}, l.errAt(start, "integer "+text+" has a leading zero")
	}
	t := token{kind: tLiteral, pos: start, text: text}
	if isFloat {
		f, err := strconv.ParseFloat(strings.TrimPrefix(text, "+"), 64)
		if err != nil || math.IsInf(f, 0) {
			return token{}, l.errAt(start, "float "+text+" is out of range")
		}
		t.lit = Literal{Kind: FloatLit, At: start, Float: f}
	} else {
		n, err := strconv.ParseInt(strings.TrimPrefix(text, "+"), 10, 64)
		if err != nil {
			return token{}, l.errAt(start, "integer "+text+" is out of range")
		}
		t.lit = Literal{Kind: IntLit, At: start, Int: n}
	}
	l.advance(i - l.off)
	return t, nil
}
