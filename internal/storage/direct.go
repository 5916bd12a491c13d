package storage

import (
	"errors"
	"io"

	"github.com/petrel-streaming/petrel/internal/vfs"
)

// directWriter appends to a file opened with O_DIRECT: every write is of
// whole aligned pages from an aligned buffer, so the partial page at the
// end is kept in memory (tail) and written again, completed, next time.
// Bytes past the logical end of the last page are zeros, which recovery
// reads as the end of the log and Close trims.
type directWriter struct {
	pageStart int64  // file position of tail[0], aligned
	tail      []byte // the partial last page, len < vfs.Alignment
}

const directBufferBytes = 256 << 10

// load reads the partial last page of a file whose logical end is size.
func (d *directWriter) load(f vfs.File, size int64) error {
	d.pageStart = size - size%vfs.Alignment
	n := int(size - d.pageStart)
	if cap(d.tail) < vfs.Alignment {
		d.tail = make([]byte, 0, vfs.Alignment)
	}
	d.tail = d.tail[:n]
	if n == 0 {
		return nil
	}
	// The tail is read through a buffered handle: O_DIRECT reads need the
	// same alignment, and the page cache is coherent with direct writes.
	m, err := f.ReadAt(d.tail, d.pageStart)
	if m == n {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// write appends p at pos, which must be the logical end (pageStart+len(tail)).
func (d *directWriter) write(c *HandleCache, f vfs.File, p []byte, pos int64) error {
	if pos != d.pageStart+int64(len(d.tail)) {
		return errDirectPos
	}
	buf := c.getAligned()
	defer c.putAligned(buf)
	used := copy(buf, d.tail)
	start := d.pageStart
	for {
		n := copy(buf[used:], p)
		p, used = p[n:], used+n
		if len(p) == 0 {
			break
		}
		if _, err := f.WriteAt(buf, start); err != nil {
			return err
		}
		start += int64(len(buf))
		used = 0
	}
	full := used - used%vfs.Alignment
	if used > 0 {
		padded := full
		if padded < used {
			padded += vfs.Alignment
		}
		clear(buf[used:padded])
		if _, err := f.WriteAt(buf[:padded], start); err != nil {
			return err
		}
	}
	d.tail = append(d.tail[:0], buf[full:used]...)
	d.pageStart = start + int64(full)
	return nil
}

var errDirectPos = errors.New("storage: direct write not at the logical end")

// isDirectRefused reports whether err says the file system will not do
// direct I/O (so the caller falls back to buffered I/O).
func isDirectRefused(err error) bool {
	return vfs.DirectRefused(err)
}

// getAligned returns an aligned staging buffer of directBufferBytes.
func (c *HandleCache) getAligned() []byte {
	c.mu.Lock()
	if n := len(c.abufs); n > 0 {
		b := c.abufs[n-1]
		c.abufs = c.abufs[:n-1]
		c.mu.Unlock()
		return b
	}
	c.mu.Unlock()
	return vfs.AlignedBuffer(directBufferBytes)
}

func (c *HandleCache) putAligned(b []byte) {
	c.mu.Lock()
	if len(c.abufs) < 4 {
		c.abufs = append(c.abufs, b)
	}
	c.mu.Unlock()
}
