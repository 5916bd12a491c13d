package kafka

import (
	"reflect"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// amplification bounds how many bytes of heap the hardened decoders can
// allocate per byte of a request body of key at version.
//
// The decoders (zz_decode_gen.go) allocate an array element only once it
// has decoded, strings as copies of their bytes, and nothing for tags, so
// what a body can cost is bounded by its densest legal content: an element
// whose in-memory size is large next to its smallest encoding (a flexible
// struct of defaults encodes in a few bytes and occupies a hundred). For
// every array reachable in the request type we measure
//
//	sizeof(element) / (encoded size of one more default element)
//
// with kmsg's own encoder, and take the maximum (the element's size
// includes what its pointer fields allocate: a nullable string's header, a
// nullable struct). Arrays grow by doubling (appendZero): the final
// capacity is under twice the element count and the abandoned copies sum
// to less than the final capacity, so the bound is 4 × that ratio, plus 1
// for string copies.
func amplification(key, version int16) float64 {
	req := kmsg.RequestForKey(key)
	if req == nil {
		return 0
	}
	worst := 1.0
	walkArrays(reflect.TypeOf(req).Elem(), nil, func(path [][]int, elem reflect.Type) {
		one := encodedLen(key, version, path, 1)
		two := encodedLen(key, version, path, 2)
		if d := two - one; d > 0 {
			worst = max(worst, float64(heapSize(elem))/float64(d))
		}
	})
	return 4*worst + 1
}

// heapSize is what one element of type t costs: its own size plus the
// objects its pointer fields point at (rounded up to Go's 16-byte minimum
// size class).
func heapSize(t reflect.Type) uintptr {
	size := t.Size()
	ptr := func(p reflect.Type) uintptr { return max(16, p.Elem().Size()) }
	switch t.Kind() {
	case reflect.Pointer:
		size += ptr(t)
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i).Type; f.Kind() == reflect.Pointer {
				size += ptr(f)
			}
		}
	}
	return size
}

// walkArrays calls fn for every slice field reachable from struct type t,
// with the path of field indexes to it (a slice on the way is entered
// through its first element).
func walkArrays(t reflect.Type, path [][]int, fn func([][]int, reflect.Type)) {
	if len(path) > 8 {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Type.Kind() != reflect.Slice || f.Type.Elem().Kind() == reflect.Uint8 {
			continue
		}
		p := append(append([][]int(nil), path...), f.Index)
		fn(p, f.Type.Elem())
		if f.Type.Elem().Kind() == reflect.Struct {
			walkArrays(f.Type.Elem(), p, fn)
		}
	}
}

// encodedLen encodes a default request of key at version in which the
// arrays on path have one default element each, and the last has n.
func encodedLen(key, version int16, path [][]int, n int) int {
	req := kmsg.RequestForKey(key)
	req.SetVersion(version)
	v := reflect.ValueOf(req).Elem()
	for i, idx := range path {
		f := v.FieldByIndex(idx)
		count := 1
		if i == len(path)-1 {
			count = n
		}
		s := reflect.MakeSlice(f.Type(), count, count)
		for j := range count {
			if d, ok := s.Index(j).Addr().Interface().(interface{ Default() }); ok {
				d.Default()
			}
		}
		f.Set(s)
		v = s.Index(0)
	}
	return len(req.AppendTo(nil))
}
