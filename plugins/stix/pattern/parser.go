package pattern

import "strings"

// maxDepth bounds parenthesis nesting so a hostile pattern cannot exhaust the stack.
const maxDepth = 500

// Parse parses a STIX 2.1 pattern. Any error is a *SyntaxError.
func Parse(src string) (pat *Pattern, err error) {
	p := &parser{lx: newLexer(src)}
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			pat, err = nil, se.err
		}
	}()
	p.advance()
	root := p.parseFollowedBy()
	if p.tok.kind != tEOF {
		p.fail("unexpected " + p.tok.describe() + " after the end of the pattern")
	}
	return &Pattern{Root: root}, nil
}

// bailout carries a syntax error up the recursive descent (recovered in Parse only).
type bailout struct{ err *SyntaxError }

type parser struct {
	lx    lexer
	tok   token
	depth int
}

func (p *parser) fail(msg string) { p.failAt(p.tok.pos, msg) }

func (p *parser) failAt(pos Pos, msg string) {
	panic(bailout{&SyntaxError{Pos: pos, Msg: msg}})
}

func (p *parser) advance() {
	if err := p.lx.nextInto(&p.tok); err != nil {
		panic(bailout{err})
	}
}

func (p *parser) expect(k tokenKind, what string) {
	if p.tok.kind != k {
		p.fail("expected " + what + ", found " + p.tok.describe())
	}
	p.advance()
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.fail("parentheses nested too deeply")
	}
}

// observationExpressions: observationExpressionOr (FOLLOWEDBY observationExpressionOr)*
func (p *parser) parseFollowedBy() ObservationExpr {
	return p.observationList(FollowedBy, tFollowedBy, p.parseObservationOr)
}

// observationExpressionOr: observationExpressionAnd (OR observationExpressionAnd)*
func (p *parser) parseObservationOr() ObservationExpr {
	return p.observationList(Or, tOr, p.parseObservationAnd)
}

// observationExpressionAnd: observationExpression (AND observationExpression)*
func (p *parser) parseObservationAnd() ObservationExpr {
	return p.observationList(And, tAnd, p.parseObservation)
}

func (p *parser) observationList(op BoolOp, k tokenKind, operand func() ObservationExpr) ObservationExpr {
	first := operand()
	if p.tok.kind != k {
		return first
	}
	list := &ObservationList{At: first.Position(), Op: op, Terms: []ObservationExpr{first}}
	for p.tok.kind == k {
		p.advance()
		list.Terms = append(list.Terms, operand())
	}
	return list
}

// observationExpression: ( '[' comparisonExpression ']' | '(' observationExpressions ')' ) qualifier*
func (p *parser) parseObservation() ObservationExpr {
	var e ObservationExpr
	start := p.tok.pos
	switch p.tok.kind {
	case tLBrack:
		p.advance()
		c := p.parseComparisonOr()
		p.expect(tRBrack, "']'")
		e = &Observation{At: start, Expr: c}
	case tLParen:
		p.enter()
		p.advance()
		inner := p.parseFollowedBy()
		p.expect(tRParen, "')'")
		p.depth--
		e = &ObservationGroup{At: start, Expr: inner}
	default:
		p.fail("expected '[' or '(' to start an observation expression, found " + p.tok.describe())
	}
	for {
		switch p.tok.kind {
		case tWithin:
			e = p.parseWithin(e)
		case tRepeats:
			e = p.parseRepeats(e)
		case tStart:
			e = p.parseStartStop(e)
		default:
			return e
		}
	}
}

// WITHIN (IntPosLiteral | FloatPosLiteral) SECONDS
func (p *parser) parseWithin(e ObservationExpr) ObservationExpr {
	p.advance()
	v := p.tok
	positive := v.kind == tLiteral && (v.lit.Kind == IntLit && v.lit.Int > 0 && v.text[0] != '-' ||
		v.lit.Kind == FloatLit && v.lit.Float > 0 && v.text[0] != '-')
	if !positive {
		p.fail("expected a positive number of seconds after WITHIN, found " + v.describe())
	}
	p.advance()
	p.expect(tSeconds, "SECONDS")
	return &Qualified{At: e.Position(), Expr: e, Kind: Within, Value: v.lit}
}

// REPEATS IntPosLiteral TIMES
func (p *parser) parseRepeats(e ObservationExpr) ObservationExpr {
	p.advance()
	v := p.tok
	if v.kind != tLiteral || v.lit.Kind != IntLit || v.lit.Int <= 0 || v.text[0] == '-' {
		p.fail("expected a positive integer after REPEATS, found " + v.describe())
	}
	p.advance()
	p.expect(tTimes, "TIMES")
	return &Qualified{At: e.Position(), Expr: e, Kind: Repeats, Value: v.lit}
}

// START TimestampLiteral STOP TimestampLiteral
func (p *parser) parseStartStop(e ObservationExpr) ObservationExpr {
	p.advance()
	start := p.timestamp("START")
	p.expect(tStop, "STOP")
	stop := p.timestamp("STOP")
	if !stop.Time.After(*start.Time) {
		p.failAt(stop.At, "STOP timestamp must be later than START timestamp")
	}
	return &Qualified{At: e.Position(), Expr: e, Kind: StartStop, Start: start, Stop: stop}
}

func (p *parser) timestamp(after string) Literal {
	if p.tok.kind != tLiteral || p.tok.lit.Kind != TimestampLit {
		p.fail("expected a timestamp t'...' after " + after + ", found " + p.tok.describe())
	}
	l := p.tok.lit
	p.advance()
	return l
}

// comparisonExpression: comparisonExpressionAnd (OR comparisonExpressionAnd)*
func (p *parser) parseComparisonOr() ComparisonExpr {
	return p.comparisonList(Or, tOr, p.parseComparisonAnd)
}

// comparisonExpressionAnd: propTest (AND propTest)*
func (p *parser) parseComparisonAnd() ComparisonExpr {
	return p.comparisonList(And, tAnd, p.parsePropTest)
}

func (p *parser) comparisonList(op BoolOp, k tokenKind, operand func() ComparisonExpr) ComparisonExpr {
	first := operand()
	if p.tok.kind != k {
		return first
	}
	list := &ComparisonList{At: first.Position(), Op: op, Terms: []ComparisonExpr{first}}
	for p.tok.kind == k {
		p.advance()
		list.Terms = append(list.Terms, operand())
	}
	return list
}

// propTest: '(' comparisonExpression ')' | NOT? EXISTS objectPath | objectPath NOT? operator value
//
// NOT before EXISTS is the 2022 grammar (stix2-patterns' propTestExists); NOT is accepted there
// only when EXISTS follows, as in the OASIS grammar.
func (p *parser) parsePropTest() ComparisonExpr {
	start := p.tok.pos
	switch p.tok.kind {
	case tLParen:
		p.enter()
		p.advance()
		inner := p.parseComparisonOr()
		p.expect(tRParen, "')'")
		p.depth--
		return &ComparisonGroup{At: start, Expr: inner}
	case tNot:
		p.advance()
		if p.tok.kind != tExists {
			p.fail("expected EXISTS after NOT (a negated comparison is written path NOT operator value), found " + p.tok.describe())
		}
		p.advance()
		return &Comparison{At: start, Path: p.parsePath(), Op: Exists, Negated: true}
	case tExists:
		p.advance()
		return &Comparison{At: start, Path: p.parsePath(), Op: Exists}
	}
	c := &Comparison{At: start, Path: p.parsePath()}
	if p.tok.kind == tNot {
		c.Negated = true
		p.advance()
	}
	opTok := p.tok
	switch opTok.kind {
	case tEq, tNeq:
		c.Op = tokenOperator(opTok.kind)
		p.advance()
		c.Value = p.literal("a value after "+opTok.text, false)
	case tLt, tLe, tGt, tGe:
		c.Op = tokenOperator(opTok.kind)
		p.advance()
		c.Value = p.literal("an orderable value after "+opTok.text, true)
	case tIn:
		c.Op = In
		p.advance()
		c.Set = p.parseSet()
	case tLike, tMatches, tIsSubset, tIsSuperset:
		c.Op = tokenOperator(opTok.kind)
		p.advance()
		if p.tok.kind != tLiteral || p.tok.lit.Kind != StringLit {
			p.fail("expected a string after " + opTok.text + ", found " + p.tok.describe())
		}
		c.Value = p.tok.lit
		p.advance()
	default:
		p.fail("expected a comparison operator after " + c.Path.String() + ", found " + p.tok.describe())
	}
	return c
}

// literal reads primitiveLiteral (or orderableLiteral: every literal but booleans).
func (p *parser) literal(what string, orderable bool) Literal {
	if p.tok.kind != tLiteral || orderable && p.tok.lit.Kind == BoolLit {
		p.fail("expected " + what + ", found " + p.tok.describe())
	}
	l := p.tok.lit
	p.advance()
	return l
}

// setLiteral: '(' ')' | '(' primitiveLiteral (',' primitiveLiteral)* ')'
//
// Sets can hold hundreds of thousands of values: the slice is allocated once at the size the
// commas before the next ')' announce (a hint only: a comma or parenthesis inside a string
// makes it larger or smaller, and append takes over), rather than regrown and copied.
func (p *parser) parseSet() []Literal {
	hint := setSizeHint(p.lx.src[p.lx.off:])
	p.expect(tLParen, "'(' to start the IN set")
	if p.tok.kind == tRParen {
		p.advance()
		return []Literal{}
	}
	set := make([]Literal, 0, hint)
	for {
		if p.tok.kind != tLiteral {
			p.fail("expected a value in the IN set, found " + p.tok.describe())
		}
		set = append(set, p.tok.lit)
		p.advance()
		if p.tok.kind == tRParen {
			p.advance()
			return set
		}
		p.expect(tComma, "',' or ')' in the IN set")
	}
}

// setSizeHint is 1 + the number of commas before the first ')' of src, at most one per two
// bytes (the densest real set, "1,2,3"), so commas inside a string cannot ask for more.
func setSizeHint(src string) int {
	if end := strings.IndexByte(src, ')'); end >= 0 {
		src = src[:end]
	}
	return 1 + min(strings.Count(src, ","), len(src)/2)
}

// objectPath: objectType ':' firstPathComponent ('.' key | '[' index ']')*
func (p *parser) parsePath() ObjectPath {
	if p.tok.kind != tIdent {
		p.fail("expected an object path (object-type:property), found " + p.tok.describe())
	}
	path := ObjectPath{At: p.tok.pos, ObjectType: p.tok.text}
	p.advance()
	p.expect(tColon, "':' after the object type "+path.ObjectType)
	path.Steps = append(path.Steps, PathStep{Kind: KeyStep, Key: p.key()})
	for {
		switch p.tok.kind {
		case tDot:
			p.advance()
			path.Steps = append(path.Steps, PathStep{Kind: KeyStep, Key: p.key()})
		case tLBrack:
			p.advance()
			switch {
			case p.tok.kind == tAsterisk:
				path.Steps = append(path.Steps, PathStep{Kind: AnyStep})
			case p.tok.kind == tLiteral && p.tok.lit.Kind == IntLit:
				path.Steps = append(path.Steps, PathStep{Kind: IndexStep, Index: p.tok.lit.Int})
			default:
				p.fail("expected a list index or '*', found " + p.tok.describe())
			}
			p.advance()
			p.expect(tRBrack, "']' after the list index")
		default:
			return path
		}
	}
}

// key reads a property name: an identifier without hyphen or a quoted string.
func (p *parser) key() string {
	t := p.tok
	switch {
	case t.kind == tIdent && t.hyphen:
		p.fail("property name " + t.text + " contains '-': quote it as '" + t.text + "'")
	case t.kind == tIdent:
		p.advance()
		return t.text
	case t.kind == tLiteral && t.lit.Kind == StringLit:
		p.advance()
		return t.lit.Str
	}
	p.fail("expected a property name, found " + t.describe())
	return ""
}

func tokenOperator(k tokenKind) Operator {
	switch k {
	case tNeq:
		return NotEqual
	case tLt:
		return Less
	case tLe:
		return LessEqual
	case tGt:
		return Greater
	case tGe:
		return GreaterEqual
	case tLike:
		return Like
	case tMatches:
		return Matches
	case tIsSubset:
		return IsSubset
	case tIsSuperset:
		return IsSuperset
	}
	return Equal
}
