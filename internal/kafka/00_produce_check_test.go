package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// minimalBatch is the smallest batch a real client sends: a v2 header and
// one record with no key and an empty value.
func minimalBatch() []byte {
	b := make([]byte, 61, 70)
	b[16] = 2 // magic
	binary.BigEndian.PutUint32(b[57:], 1)
	rec := []byte{0, 0, 0, 0, 1, 0, 0} // attrs, ts delta, offset delta, key -1, value 0, headers 0
	b = binary.AppendVarint(b, int64(len(rec)))
	return append(b, rec...)
}

// produceBody encodes a Produce request of topics × partitions, each
// partition carrying records (nil: a null record set).
func produceBody(version int16, topics, partitions int, records []byte) []byte {
	req := kmsg.NewPtrProduceRequest()
	req.Version = version
	req.Acks = -1
	req.TimeoutMillis = 30000
	for t := range topics {
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = fmt.Sprintf("topic-%d", t)
		rt.TopicID[0] = byte(t + 1)
		for p := range partitions {
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition = int32(p)
			rp.Records = records
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req.AppendTo(nil)
}

// TestProduceCheckRealRequests: bodies shaped like a client's pass at
// every version, including the densest one (many partitions of one-record
// batches), and the decoder allocates no more than the check counted.
func TestProduceCheckRealRequests(t *testing.T) {
	big := make([]byte, 64<<10)
	copy(big, minimalBatch())
	for v := int16(3); v <= 13; v++ {
		for _, tc := range []struct {
			name              string
			topics, parts     int
			records           []byte
			wantRecordsOnWire bool
		}{
			{"one big batch", 1, 1, big, true},
			{"1000 minimal", 1, 1000, minimalBatch(), true},
			{"33 topics of 33", 33, 33, minimalBatch(), true},
		} {
			body := produceBody(v, tc.topics, tc.parts, tc.records)
			if err := ProduceCheck(v, body); err != nil {
				t.Errorf("v%d %s: %v", v, tc.name, err)
				continue
			}
			cost, _ := produceDecodeCost(v, body)
			var err error
			// TotalAlloc is process-wide: another goroutine of the test
			// binary can allocate during a run, so the least of three
			// runs is the decoder's own.
			grew := int64(1 << 62)
			for range 3 {
				grew = min(grew, heapGrowth(func() { _, err = decodeRequest(0, v, body) }))
			}
			if err != nil {
				t.Fatalf("v%d %s: decode: %v", v, tc.name, err)
			}
			// The request struct itself and a TransactionID pointer are
			// the only allocations outside the count.
			if slack := int64(512); grew > cost+slack {
				t.Errorf("v%d %s: decoder allocated %d, check counted %d", v, tc.name, grew, cost)
			}
		}
	}
}

// TestProduceCheckRefusesDense: partitions without records (null or
// empty), the shape that makes kmsg's decoder amplify, are refused; so is
// any truncation of a valid body.
func TestProduceCheckRefusesDense(t *testing.T) {
	for v := int16(3); v <= 13; v++ {
		for _, records := range [][]byte{nil, {}} {
			body := produceBody(v, 1, 20000, records)
			if err := ProduceCheck(v, body); !errors.Is(err, errProduceDense) {
				t.Errorf("v%d %d-byte records: err %v, want errProduceDense", v, len(records), err)
			}
		}
		body := produceBody(v, 2, 3, minimalBatch())
		for n := range len(body) {
			if err := ProduceCheck(v, body[:n]); err == nil {
				t.Errorf("v%d: a %d-byte prefix of %d passed", v, n, len(body))
			}
		}
	}
}

// TestProduceCheckBoundsDecoder: over random mutations of real bodies,
// whatever the check lets through decodes within the charge the registry
// makes for Produce.
func TestProduceCheckBoundsDecoder(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	rounds := 2000
	if testing.Short() {
		rounds = 300
	}
	passed := 0
	for range rounds {
		v := int16(3 + rng.IntN(11))
		body := produceBody(v, 1+rng.IntN(3), 1+rng.IntN(40), minimalBatch())
		for range 1 + rng.IntN(4) {
			body[rng.IntN(len(body))] = byte(rng.Uint32())
		}
		if ProduceCheck(v, body) != nil {
			continue
		}
		passed++
		grew := heapGrowth(func() { _, _ = decodeRequest(0, v, body) })
		if charge := int64(len(body))*(1+produceAmplification) + requestOverheadBytes; grew > charge {
			t.Fatalf("v%d: %d-byte body passed the check and allocated %d, charge %d", v, len(body), grew, charge)
		}
	}
	if passed == 0 {
		t.Fatal("no mutated body passed the check: the test checks nothing")
	}
}

// TestProduceRegistration: the check and its amplification register, and
// the registry charges Produce frames with it.
func TestProduceRegistration(t *testing.T) {
	reg := NewRegistry()
	err := reg.Register(API{Key: 0, MinVersion: 3, MaxVersion: 13, MaxBodyBytes: 1<<31 - 1,
		Check: ProduceCheck, Amplification: produceAmplification, Handle: (&testHandlers{}).metadata})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reg.apis[0].charge(1<<20), int64(3<<20)+requestOverheadBytes; got != want {
		t.Fatalf("charge of 1 MiB: %d, want %d", got, want)
	}
}
