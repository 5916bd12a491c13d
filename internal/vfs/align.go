package vfs

import "unsafe"

// AlignedBuffer returns a zeroed slice of length and capacity n whose first
// byte sits at an address that is a multiple of Alignment, as direct I/O
// needs (n should itself be a multiple of Alignment).
func AlignedBuffer(n int) []byte {
	buf := make([]byte, n+Alignment)
	off := 0
	if r := int(uintptr(unsafe.Pointer(&buf[0])) % Alignment); r != 0 {
		off = Alignment - r
	}
	return buf[off : off+n : off+n]
}

// isAligned reports whether p, off and len(p) suit direct I/O.
func isAligned(p []byte, off int64) bool {
	return off%Alignment == 0 && len(p)%Alignment == 0 &&
		(len(p) == 0 || uintptr(unsafe.Pointer(&p[0]))%Alignment == 0)
}
