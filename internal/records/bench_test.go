package records

import (
	"fmt"
	"testing"
)

func BenchmarkValidate(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		for _, c := range []Codec{CodecNone, CodecZstd} {
			in := build(b, spec{codec: c, pid: 1, recs: recsOfSize(size, 100)})
			b.Run(fmt.Sprintf("%dKiB/%v", size>>10, c), func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Validate(in, Limits{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
