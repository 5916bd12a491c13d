package petrel_test

// TestIdempotenceWire: idempotent produce edges over raw TCP against the
// embedded broker (CHAOS.md §3.3 item 23, G5), following the decision table
// of internal/producers: six batches of one record each (sequences 0-5) land
// at offsets 0-5; a retry of any of the last five returns its original
// offset and appends nothing; the sixth-newest (sequence 0), a gap and a
// new epoch not starting at 0 are OUT_OF_ORDER_SEQUENCE_NUMBER; a new epoch
// at 0 is accepted and fences the old one (INVALID_PRODUCER_EPOCH); an
// unknown producer id is accepted; a producer id with sequence -1 is
// INVALID_RECORD. After a clean restart, retries of the last batches still
// return their original offsets (state rebuilt from snapshot and log).

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestIdempotenceWire(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := newClient(t, b.Addr())
	if res, err := kadm.NewClient(cl).CreateTopics(ctx, 1, 1, nil, "idem"); err != nil || res.Error() != nil {
		t.Fatalf("create: %v %v", err, res.Error())
	}
	cl.Close()

	nc := dialRaw(t, b.Addr())
	corr := int32(0)
	rt := func(req kmsg.Request) kmsg.Response {
		t.Helper()
		corr++
		if _, err := nc.Write(kmsg.NewRequestFormatter().AppendRequest(nil, req, corr)); err != nil {
			t.Fatal(err)
		}
		return readResponse(t, nc, req.Key(), req.GetVersion(), corr)
	}
	ipid := kmsg.NewPtrInitProducerIDRequest()
	ipid.Version, ipid.TransactionTimeoutMillis = 4, 60000
	ir := rt(ipid).(*kmsg.InitProducerIDResponse)
	if ir.ErrorCode != 0 || ir.ProducerID < 0 {
		t.Fatalf("InitProducerID: code %d id %d", ir.ErrorCode, ir.ProducerID)
	}
	pid, epoch := ir.ProducerID, ir.ProducerEpoch

	send := func(pid int64, epoch int16, seq int32, wantCode int16, wantOffset int64) {
		t.Helper()
		resp := rt(produceReq(9, "idem", 0, idemBatch(pid, epoch, seq))).(*kmsg.ProduceResponse)
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != wantCode || wantCode == 0 && p.BaseOffset != wantOffset {
			msg := ""
			if p.ErrorMessage != nil {
				msg = *p.ErrorMessage
			}
			t.Fatalf("pid %d epoch %d seq %d: code %d (%v, %q) offset %d; want code %d offset %d",
				pid, epoch, seq, p.ErrorCode, kerr.ErrorForCode(p.ErrorCode), msg, p.BaseOffset, wantCode, wantOffset)
		}
	}
	end := func(want int64) {
		t.Helper()
		req := listOffsetsReq("idem", -1, -1)
		p := rt(req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.Offset != want {
			t.Fatalf("log end: code %d offset %d, want %d", p.ErrorCode, p.Offset, want)
		}
	}

	for seq := range int32(6) {
		send(pid, epoch, seq, 0, int64(seq))
	}
	for seq := int32(5); seq >= 1; seq-- { // the last five, newest first
		send(pid, epoch, seq, 0, int64(seq))
	}
	end(6)
	send(pid, epoch, 0, kerr.OutOfOrderSequenceNumber.Code, 0) // older than the five kept
	send(pid, epoch, 7, kerr.OutOfOrderSequenceNumber.Code, 0) // gap: 6 is next
	send(pid, epoch+1, 3, kerr.OutOfOrderSequenceNumber.Code, 0)
	send(pid, epoch, -1, kerr.InvalidRecord.Code, 0) // a producer id needs a sequence
	end(6)
	send(pid, epoch, 6, 0, 6)
	send(pid, epoch, 6, 0, 6) // retried once more
	end(7)

	// Restart: the retry of the last batch still finds its offset.
	_ = nc.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = startBroker(t, dir)
	defer b.Close()
	nc, corr = dialRaw(t, b.Addr()), 0
	send(pid, epoch, 6, 0, 6)
	send(pid, epoch, 2, 0, 2)
	end(7)

	send(pid, epoch+1, 0, 0, 7)                            // a new epoch starts at 0
	send(pid, epoch, 7, kerr.InvalidProducerEpoch.Code, 0) // and fences the old one
	send(pid+1_000_000, 0, 42, 0, 8)                       // an unknown producer is accepted
	end(9)
}

// idemBatch is a one-record batch of an idempotent producer.
func idemBatch(pid int64, epoch int16, seq int32) []byte {
	b := batchOf("idem")
	binary.BigEndian.PutUint64(b[43:], uint64(pid))
	binary.BigEndian.PutUint16(b[51:], uint16(epoch))
	binary.BigEndian.PutUint32(b[53:], uint32(seq))
	return fixCRC(b)
}
