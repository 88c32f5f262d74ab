package pattern

import (
	"fmt"
	"strconv"
	"strings"
)

// Pos is a place in the pattern source.
type Pos struct {
	Offset int // byte offset, 0-based
	Line   int // 1-based
	Col    int // 1-based, in Unicode code points
}

func (p Pos) String() string { return fmt.Sprintf("line %d:%d", p.Line, p.Col) }

// SyntaxError is returned by Parse for any input outside the grammar.
type SyntaxError struct {
	Pos Pos
	Msg string
}

func (e *SyntaxError) Error() string { return e.Pos.String() + ": " + e.Msg }

// Pattern is a parsed STIX pattern.
type Pattern struct {
	Root ObservationExpr
}

// String renders the pattern in canonical STIX syntax; parsing it again gives an equal AST
// (positions aside).
func (p *Pattern) String() string {
	var b strings.Builder
	p.Root.write(&b)
	return b.String()
}

// Observations calls fn for every [ ... ] observation of the pattern, in source order,
// whatever joins them and whatever qualifiers follow.
func (p *Pattern) Observations(fn func(*Observation)) {
	walkObservations(p.Root, fn)
}

func walkObservations(e ObservationExpr, fn func(*Observation)) {
	switch n := e.(type) {
	case *Observation:
		fn(n)
	case *ObservationList:
		for _, t := range n.Terms {
			walkObservations(t, fn)
		}
	case *ObservationGroup:
		walkObservations(n.Expr, fn)
	case *Qualified:
		walkObservations(n.Expr, fn)
	}
}

// ObservationExpr is an observation expression: *Observation, *ObservationList,
// *ObservationGroup or *Qualified.
type ObservationExpr interface {
	Position() Pos
	write(b *strings.Builder)
	observationExpr()
}

// ComparisonExpr is a comparison expression inside [ ]: *Comparison, *ComparisonList or
// *ComparisonGroup.
type ComparisonExpr interface {
	Position() Pos
	write(b *strings.Builder)
	comparisonExpr()
}

// BoolOp joins expressions.
type BoolOp int

// Boolean operators. FollowedBy is only valid between observations.
const (
	And BoolOp = iota
	Or
	FollowedBy
)

func (o BoolOp) String() string {
	switch o {
	case And:
		return "AND"
	case Or:
		return "OR"
	case FollowedBy:
		return "FOLLOWEDBY"
	}
	return "?"
}

// Observation is one [ comparison ] observation expression.
type Observation struct {
	At   Pos
	Expr ComparisonExpr
}

// ObservationList is two or more observation expressions joined by the same operator.
type ObservationList struct {
	At    Pos
	Op    BoolOp
	Terms []ObservationExpr
}

// ObservationGroup is a parenthesised observation expression.
type ObservationGroup struct {
	At   Pos
	Expr ObservationExpr
}

// QualifierKind tells which qualifier a Qualified node carries.
type QualifierKind int

// Qualifier kinds.
const (
	Within QualifierKind = iota
	Repeats
	StartStop
)

// Qualified is an observation expression followed by one qualifier.
type Qualified struct {
	At   Pos
	Expr ObservationExpr
	Kind QualifierKind
	// Within: Value is the number of seconds (int or float). Repeats: Value is the count
	// (int). StartStop: Start and Stop are the timestamps.
	Value       Literal
	Start, Stop Literal
}

// Comparison is one property test: path, optional NOT, operator and value.
type Comparison struct {
	At      Pos
	Path    ObjectPath
	Negated bool // NOT before the operator, or before EXISTS (NOT EXISTS)
	Op      Operator
	Value   Literal   // every operator but IN and EXISTS
	Set     []Literal // IN
}

// ComparisonList is two or more comparison expressions joined by the same operator (And or Or).
type ComparisonList struct {
	At    Pos
	Op    BoolOp
	Terms []ComparisonExpr
}

// ComparisonGroup is a parenthesised comparison expression.
type ComparisonGroup struct {
	At   Pos
	Expr ComparisonExpr
}

// Operator is a comparison operator.
type Operator int

// Comparison operators.
const (
	Equal Operator = iota
	NotEqual
	Less
	LessEqual
	Greater
	GreaterEqual
	In
	Like
	Matches
	IsSubset
	IsSuperset
	Exists
)

var operatorText = [...]string{"=", "!=", "<", "<=", ">", ">=", "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET", "EXISTS"}

func (o Operator) String() string {
	if int(o) < len(operatorText) {
		return operatorText[o]
	}
	return "?"
}

// StepKind tells what a path step selects.
type StepKind int

// Path step kinds.
const (
	KeyStep   StepKind = iota // .key or .'quoted key'
	IndexStep                 // [n]
	AnyStep                   // [*]
)

// PathStep is one step of an object path after the object type.
type PathStep struct {
	Kind  StepKind
	Key   string // KeyStep: the key, unescaped
	Index int64  // IndexStep
}

// ObjectPath is object-type:property(.key|[n]|[*])*. Steps[0] is the first property.
type ObjectPath struct {
	At         Pos
	ObjectType string
	Steps      []PathStep
}

// String renders the path in STIX syntax, quoting keys that are not plain identifiers.
func (p ObjectPath) String() string {
	var b strings.Builder
	p.write(&b)
	return b.String()
}

func (p ObjectPath) write(b *strings.Builder) {
	b.WriteString(p.ObjectType)
	b.WriteByte(':')
	for i, s := range p.Steps {
		switch s.Kind {
		case KeyStep:
			if i > 0 {
				b.WriteByte('.')
			}
			if isPlainKey(s.Key) {
				b.WriteString(s.Key)
			} else {
				writeQuoted(b, s.Key)
			}
		case IndexStep:
			b.WriteByte('[')
			b.WriteString(strconv.FormatInt(s.Index, 10))
			b.WriteByte(']')
		case AnyStep:
			b.WriteString("[*]")
		}
	}
}

// isPlainKey reports a key that lexes as IdentifierWithoutHyphen and is not a keyword.
func isPlainKey(k string) bool {
	if k == "" || !isIdentStart(k[0]) {
		return false
	}
	for i := 1; i < len(k); i++ {
		if !isIdentChar(k[i]) {
			return false
		}
	}
	_, kw := keywords[k]
	return !kw && k != "true" && k != "false"
}

func (n *Observation) Position() Pos      { return n.At }
func (n *ObservationList) Position() Pos  { return n.At }
func (n *ObservationGroup) Position() Pos { return n.At }
func (n *Qualified) Position() Pos        { return n.At }
func (n *Comparison) Position() Pos       { return n.At }
func (n *ComparisonList) Position() Pos   { return n.At }
func (n *ComparisonGroup) Position() Pos  { return n.At }

func (*Observation) observationExpr()      {}
func (*ObservationList) observationExpr()  {}
func (*ObservationGroup) observationExpr() {}
func (*Qualified) observationExpr()        {}
func (*Comparison) comparisonExpr()        {}
func (*ComparisonList) comparisonExpr()    {}
func (*ComparisonGroup) comparisonExpr()   {}

// String renders the observation in STIX syntax.
func (n *Observation) String() string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

func (n *Observation) write(b *strings.Builder) {
	b.WriteByte('[')
	n.Expr.write(b)
	b.WriteByte(']')
}

func (n *ObservationList) write(b *strings.Builder) { writeJoined(b, n.Op.String(), n.Terms) }

// writeJoined prints terms separated by " op ".
func writeJoined[T interface{ write(*strings.Builder) }](b *strings.Builder, op string, terms []T) {
	for i, t := range terms {
		if i > 0 {
			b.WriteByte(' ')
			b.WriteString(op)
			b.WriteByte(' ')
		}
		t.write(b)
	}
}

func (n *ObservationGroup) write(b *strings.Builder) {
	b.WriteByte('(')
	n.Expr.write(b)
	b.WriteByte(')')
}

func (n *Qualified) write(b *strings.Builder) {
	n.Expr.write(b)
	switch n.Kind {
	case Within:
		b.WriteString(" WITHIN ")
		b.WriteString(n.Value.String())
		b.WriteString(" SECONDS")
	case Repeats:
		b.WriteString(" REPEATS ")
		b.WriteString(n.Value.String())
		b.WriteString(" TIMES")
	case StartStop:
		b.WriteString(" START ")
		b.WriteString(n.Start.String())
		b.WriteString(" STOP ")
		b.WriteString(n.Stop.String())
	}
}

// String renders the comparison in STIX syntax.
func (n *Comparison) String() string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

func (n *Comparison) write(b *strings.Builder) {
	if n.Op == Exists {
		if n.Negated {
			b.WriteString("NOT ")
		}
		b.WriteString("EXISTS ")
		n.Path.write(b)
		return
	}
	n.Path.write(b)
	if n.Negated {
		b.WriteString(" NOT")
	}
	b.WriteByte(' ')
	b.WriteString(n.Op.String())
	b.WriteByte(' ')
	if n.Op == In {
		b.WriteByte('(')
		for i, l := range n.Set {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(l.String())
		}
		b.WriteByte(')')
		return
	}
	b.WriteString(n.Value.String())
}

func (n *ComparisonList) write(b *strings.Builder) { writeJoined(b, n.Op.String(), n.Terms) }

func (n *ComparisonGroup) write(b *strings.Builder) {
	b.WriteByte('(')
	n.Expr.write(b)
	b.WriteByte(')')
}
