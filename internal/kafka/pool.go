package kafka

import "math/bits"

// bufPool recycles frame buffers in power-of-two classes from 4 KiB to
// 1 MiB. Each class keeps at most poolClassBytes of idle buffers, so the
// pool itself is bounded; larger frames (Produce) are allocated and left to
// the GC. Any goroutine.
type bufPool struct {
	classes [poolClasses]chan []byte
}

const (
	poolMinShift   = 12 // 4 KiB
	poolClasses    = 9  // ..1 MiB
	poolClassBytes = 4 << 20
)

func newBufPool() *bufPool {
	p := &bufPool{}
	for i := range p.classes {
		p.classes[i] = make(chan []byte, max(2, poolClassBytes>>(poolMinShift+i)))
	}
	return p
}

// class returns the class index for n bytes, or -1 when n is too big.
func poolClass(n int) int {
	if n <= 1<<poolMinShift {
		return 0
	}
	c := bits.Len(uint(n-1)) - poolMinShift
	if c >= poolClasses {
		return -1
	}
	return c
}

// get returns a buffer of length n.
func (p *bufPool) get(n int) []byte {
	c := poolClass(n)
	if c < 0 {
		return make([]byte, n)
	}
	select {
	case b := <-p.classes[c]:
		return b[:n]
	default:
		return make([]byte, n, 1<<(poolMinShift+c))
	}
}

// put recycles b; the caller must not use it afterwards.
func (p *bufPool) put(b []byte) {
	c := poolClass(cap(b))
	if c < 0 || cap(b) != 1<<(poolMinShift+c) {
		return
	}
	select {
	case p.classes[c] <- b[:0]:
	default:
	}
}
