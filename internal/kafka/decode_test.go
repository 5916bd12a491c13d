package kafka

import (
	"encoding/binary"
	"reflect"
	"runtime"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// filled returns a request of key at version whose arrays (recursively)
// hold two default elements and whose strings are non-empty, so that the
// differential test exercises every array and string path.
func filled(key, version int16) kmsg.Request {
	req := kmsg.RequestForKey(key)
	req.SetVersion(version)
	fill(reflect.ValueOf(req).Elem(), 0)
	return req
}

func fill(v reflect.Value, depth int) {
	if d, ok := v.Addr().Interface().(interface{ Default() }); ok {
		d.Default()
	}
	for i := range v.NumField() {
		f := v.Field(i)
		if !v.Type().Field(i).IsExported() || v.Type().Field(i).Name == "Version" {
			continue
		}
		switch f.Kind() {
		case reflect.String:
			f.SetString("s" + v.Type().Field(i).Name)
		case reflect.Slice:
			if f.Type().Elem().Kind() == reflect.Uint8 {
				f.SetBytes([]byte("bytes"))
				continue
			}
			if depth > 4 {
				continue
			}
			s := reflect.MakeSlice(f.Type(), 2, 2)
			for j := range 2 {
				if e := s.Index(j); e.Kind() == reflect.Struct {
					fill(e, depth+1)
				} else if e.Kind() == reflect.String {
					e.SetString("e")
				}
			}
			f.Set(s)
		}
	}
}

// TestDecodersMatchKmsg: for every request type and version kmsg defines,
// the hardened decoder reads kmsg's encoding exactly as kmsg does and
// consumes all of it.
func TestDecodersMatchKmsg(t *testing.T) {
	n := 0
	for key := int16(0); key < 200; key++ {
		proto := kmsg.RequestForKey(key)
		if proto == nil {
			continue
		}
		for version := int16(0); version <= proto.MaxVersion(); version++ {
			in := filled(key, version)
			enc := in.AppendTo(nil)
			want := kmsg.RequestForKey(key)
			want.SetVersion(version)
			if err := want.ReadFrom(enc); err != nil {
				t.Fatalf("%s v%d: kmsg cannot read its own encoding: %v", kmsg.NameForKey(key), version, err)
			}
			got, err := decodeRequest(key, version, enc)
			if err != nil {
				t.Fatalf("%s v%d: %v", kmsg.NameForKey(key), version, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s v%d: decoded differently\n got %+v\nwant %+v", kmsg.NameForKey(key), version, got, want)
			}
			n++
		}
	}
	if n < 300 {
		t.Fatalf("only %d key×version pairs checked", n)
	}
	t.Logf("%d key×version pairs", n)
}

// heapGrowth runs fn and returns the bytes it allocated.
func heapGrowth(fn func()) int64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return int64(b.TotalAlloc - a.TotalAlloc)
}

// TestDecodeAmplificationBounded (CHAOS.md §3.2 case 11): crafted bodies
// allocate no more than the budget charge the registry computes for them.
func TestDecodeAmplificationBounded(t *testing.T) {
	reg := NewRegistry()
	if err := reg.Register(API{Key: 3, MinVersion: 0, MaxVersion: 12, Handle: (&testHandlers{}).metadata}); err != nil {
		t.Fatal(err)
	}
	meta := reg.apis[3]

	const size = 1 << 20
	cases := map[string]struct {
		version int16
		body    []byte
	}{}
	// Array length INT32_MAX with a tiny payload.
	cases["int32max tiny"] = struct {
		version int16
		body    []byte
	}{1, []byte{0x7f, 0xff, 0xff, 0xff, 0, 1, 'a'}}
	// 1 MiB: topics count = remaining bytes, then topic names that each
	// announce the rest of the frame.
	big := make([]byte, size)
	binary.BigEndian.PutUint32(big, size-4)
	cases["1MiB max counts v1"] = struct {
		version int16
		body    []byte
	}{1, big}
	// 1 MiB of densest legal content, flexible: topics of empty compact
	// names (uuid 16 + name 1 + tags 1 at v10+; name 1 + tags 1 at v9).
	dense := []byte{0}
	dense = binary.AppendUvarint(dense, uint64(size/2)+1)
	for len(dense) < size-2 {
		dense = append(dense, 1, 0)
	}
	dense = append(dense, 0)
	cases["1MiB dense v9"] = struct {
		version int16
		body    []byte
	}{9, dense[1:]}
	// 1 MiB of nested max-count compact arrays.
	nested := binary.AppendUvarint(nil, uint64(size))
	for len(nested) < size {
		nested = append(nested, 0xff, 0xff, 0x3f)
	}
	cases["1MiB nested counts v12"] = struct {
		version int16
		body    []byte
	}{12, nested}

	for name, tc := range cases {
		var err error
		grew := heapGrowth(func() { _, err = decodeRequest(3, tc.version, tc.body) })
		charge := meta.charge(int32(len(tc.body)))
		t.Logf("%s: %d body bytes, decode err %v, allocated %d, charge %d (amplification bound %.0f×)", name, len(tc.body), err, grew, charge, meta.amplification)
		if grew > charge {
			t.Errorf("%s: allocated %d bytes, charge %d", name, grew, charge)
		}
	}
}
