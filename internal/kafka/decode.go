package kafka

//go:generate go run ./internal/gendecode -out zz_decode_gen.go

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// arrayPreallocMax bounds the capacity a decoder reserves for an array
// before its elements have decoded (kmsg reserves the announced count).
const arrayPreallocMax = 32

// appendZero appends a zero element to *a and returns a pointer to it. The
// pointer is valid until the next append to *a.
// Capacity doubles (append grows large slices by 1.25×, which allocates
// about 5× the final array in abandoned copies; doubling bounds the copies
// by the final capacity, itself under twice the element count).
func appendZero[T any](a *[]T) *T {
	if len(*a) == cap(*a) {
		grown := make([]T, len(*a), max(2*cap(*a), arrayPreallocMax))
		copy(grown, *a)
		*a = grown
	}
	*a = (*a)[:len(*a)+1]
	return &(*a)[len(*a)-1]
}

// skipTags skips a tagged-field section. Unlike kmsg's reader it stops at
// the first short read (kmsg loops the announced count, up to 2^32-1 times)
// and keeps nothing: the broker has no use for tags it does not know.
func skipTags(b *kbin.Reader) kmsg.Tags {
	for n := b.Uvarint(); n > 0 && b.Ok(); n-- {
		b.Uvarint()
		size := b.Uvarint()
		if int64(size) > int64(len(b.Src)) {
			b.Span(len(b.Src) + 1) // marks the reader bad
			break
		}
		b.Span(int(size))
	}
	return kmsg.Tags{}
}

// decodeRequest decodes a request body (the bytes after the request
// header) of key at version with the hardened decoders of
// zz_decode_gen.go. Bytes left after the body are an error
// (ErrTrailingBytes): Petrel closes the connection, as for any request that
// does not parse. Byte fields of the result alias body.
func decodeRequest(key, version int16, body []byte) (kmsg.Request, error) {
	req := kmsg.RequestForKey(key)
	if req == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownKey, key)
	}
	req.SetVersion(version)
	left, err := decodeBody(req, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s v%d: %v", ErrMalformed, kmsg.NameForKey(key), version, err)
	}
	if left != 0 {
		return nil, fmt.Errorf("%w: %s v%d: %d of %d bytes", ErrTrailingBytes, kmsg.NameForKey(key), version, left, len(body))
	}
	return req, nil
}
