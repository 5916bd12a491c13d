package kafka

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"
)

// fixedHeaderBytes is the part of every request header read before any
// allocation: api key (2), api version (2), correlation id (4).
const fixedHeaderBytes = 8

// fixedHeader is what the connection knows before it allocates a body.
type fixedHeader struct {
	size    int32 // frame bytes after the size prefix
	key     int16
	version int16
	corr    int32
}

// parseFrameSize checks a 4-byte size prefix against the frame limits.
func parseFrameSize(b []byte, maxBytes int32) (int32, error) {
	size := int32(binary.BigEndian.Uint32(b))
	if size < minFrameBytes || size > maxBytes {
		return 0, fmt.Errorf("%w: %d not in [%d, %d]", ErrFrameSize, size, minFrameBytes, maxBytes)
	}
	return size, nil
}

// parseFixedHeader reads the key, version and correlation id from the
// first fixedHeaderBytes of a frame.
func parseFixedHeader(size int32, b []byte) fixedHeader {
	return fixedHeader{
		size:    size,
		key:     int16(binary.BigEndian.Uint16(b[0:])),
		version: int16(binary.BigEndian.Uint16(b[2:])),
		corr:    int32(binary.BigEndian.Uint32(b[4:])),
	}
}

// parseHeaderRest parses the rest of the request header from the frame
// bytes after the fixed part: the nullable client id (header v1) and, for
// flexible versions, the header's tagged fields (header v2), which are
// skipped. It returns the client id (null reads as "", as in Kafka) and the
// body that follows.
func parseHeaderRest(rest []byte, flexible bool) (string, []byte, error) {
	b := kbin.Reader{Src: rest}
	var clientID string
	if p := b.NullableString(); p != nil {
		clientID = *p
	}
	if flexible {
		skipTags(&b)
	}
	if err := b.Complete(); err != nil {
		return "", nil, fmt.Errorf("%w: request header: %v", ErrMalformed, err)
	}
	return clientID, b.Src, nil
}
