package stix

import "testing"

// BenchmarkDecodeEvent measures the one-pass event decoder alone (the part of
// BenchmarkProcessor that the jsonscan lexical layer serves), per group of the corpus.
func BenchmarkDecodeEvent(b *testing.B) {
	for name, events := range benchGroups(b) {
		b.Run(name, func(b *testing.B) {
			var bytes int64
			for _, e := range events {
				bytes += int64(len(e.body))
			}
			b.SetBytes(bytes)
			b.ReportAllocs()
			for b.Loop() {
				for _, e := range events {
					if _, ok := decodeEventFast(e.body); !ok {
						b.Fatal("refused")
					}
				}
			}
		})
	}
}
