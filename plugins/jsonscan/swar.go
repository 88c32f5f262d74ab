package jsonscan

// SWAR (8 bytes at a time) tests on a little-endian word: long strings are scanned, and
// written by the STIX encoder, a word at a time and byte by byte only near the bytes that need
// attention. x&MSB != 0 tells whether x holds a byte >= 0x80, (x-LSB*n)&^x&MSB != 0 whether it
// holds a byte below n (n <= 0x80).
const (
	LSB = 0x0101010101010101
	MSB = 0x8080808080808080
)

// HasByte has the high bit of each byte of x equal to c set (and may set it above such a
// byte): HasByte(x, c)&MSB != 0 tells whether x holds c.
func HasByte(x uint64, c byte) uint64 {
	y := x ^ (LSB * uint64(c))
	return (y - LSB) &^ y
}

// wordHas tells whether x holds a or b or a byte below below.
func wordHas(x uint64, a, b, below byte) bool {
	return (HasByte(x, a)|HasByte(x, b)|(x-LSB*uint64(below))&^x)&MSB != 0
}
