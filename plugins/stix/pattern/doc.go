// Package pattern parses the STIX 2.1 patterning language (STIX 2.1 specification, part 9) into
// an AST with source positions.
//
// The parser is a hand-written tokenizer plus a recursive-descent parser that follows the
// official ANTLR grammar (STIXPattern.g4) exactly: observation expressions joined by AND, OR
// and FOLLOWEDBY (binding in that order, AND tightest) with parentheses and the WITHIN, REPEATS
// and START/STOP qualifiers; comparison expressions joined by AND and OR with parentheses; every
// operator (= != < <= > >= IN LIKE MATCHES ISSUBSET ISSUPERSET EXISTS, each with an optional NOT:
// after the path, or before EXISTS as the grammar allows since 2022); every literal kind (string, int, float, bool, hex, binary, timestamp); object
// paths with quoted keys, list indexes and [*]. Comments (/* */ and //) and Unicode white space
// are skipped as the grammar does.
//
// It is strict where ANTLR's error recovery is lenient: any input outside the grammar is an
// error that says where and why, e.g. "line 1:17: expected ']', found end of pattern". Lines and
// columns are 1-based; columns count Unicode code points.
//
// Chains of the same boolean operator are flattened into one n-ary node (AND, OR and
// FOLLOWEDBY are associative), so walking a pattern of a hundred thousand ORs needs no deep
// recursion; explicit parentheses are kept as Group nodes so String reproduces the structure.
package pattern
