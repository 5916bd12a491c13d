package vfs

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

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

// DirectRefused reports whether err says direct I/O cannot be used here: an
// open that returned ErrDirectUnsupported, or a direct read or write that
// the kernel refused with EINVAL (some file systems accept O_DIRECT at open
// and refuse it at the first transfer). Callers fall back to buffered I/O;
// this spares packages that may not import syscall (storage) the errno test.
func DirectRefused(err error) bool {
	return errors.Is(err, ErrDirectUnsupported) || errors.Is(err, unix.EINVAL)
}
