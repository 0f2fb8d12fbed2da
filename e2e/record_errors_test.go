package e2e

import (
	"errors"
	"hash/crc32"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// keyedBatch encodes, with kmsg's codecs, one uncompressed RecordBatch v2
// of a non-idempotent producer holding a record per key (nil: no key).
func keyedBatch(keys ...[]byte) []byte {
	now := time.Now().UnixMilli()
	var recs []byte
	for i, k := range keys {
		r := kmsg.NewRecord()
		r.OffsetDelta = int32(i)
		r.Key, r.Value = k, []byte("v")
		r.Length = int32(len(r.AppendTo(nil)) - 1) // the one-byte varint of Length 0
		recs = r.AppendTo(recs)
	}
	b := kmsg.NewRecordBatch()
	b.Magic = 2
	b.LastOffsetDelta = int32(len(keys) - 1)
	b.FirstTimestamp, b.MaxTimestamp = now, now
	b.ProducerID, b.ProducerEpoch, b.FirstSequence = -1, -1, -1
	b.NumRecords = int32(len(keys))
	b.Records = recs
	b.Length = int32(len(b.AppendTo(nil)) - 12)
	out := b.AppendTo(nil)
	b.CRC = int32(crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b.AppendTo(nil)
}

// TestProduceRecordErrorsOnTheWire: a batch with keyless records sent to a
// compacted topic over a socket is refused whole with INVALID_RECORD, and a
// Produce v8+ response names exactly the keyless records (KIP-467), as
// librdkafka's 0011_produce_batch expects; Produce v7 has only the code.
// franz-go's producer does not read the per-record errors: every record
// fails with INVALID_RECORD.
func TestProduceRecordErrorsOnTheWire(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic("compacted", 1, map[string]*string{"cleanup.policy": ptr("compact")})
	c := dial(t, tb.addr)
	k := []byte("k")
	produce := func(version int16, corr int32, records []byte) kmsg.ProduceResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = version, -1, 5000
		req.Topics = []kmsg.ProduceRequestTopic{{Topic: "compacted", Partitions: []kmsg.ProduceRequestTopicPartition{{Records: records}}}}
		c.send(req, corr)
		resp := kmsg.NewPtrProduceResponse()
		resp.Version = version
		c.recv(resp, corr)
		return resp.Topics[0].Partitions[0]
	}

	sp := produce(9, 1, keyedBatch(k, nil, k, k, nil, k, k, k, k, nil))
	if sp.ErrorCode != kerr.InvalidRecord.Code {
		t.Fatalf("v9: error %v, want INVALID_RECORD", kerr.ErrorForCode(sp.ErrorCode))
	}
	var at []int32
	for _, r := range sp.ErrorRecords {
		at = append(at, r.RelativeOffset)
		if r.ErrorMessage == nil || *r.ErrorMessage != "Compacted topic cannot accept message without key in topic partition compacted-0" {
			t.Errorf("record %d: message %v", r.RelativeOffset, r.ErrorMessage)
		}
	}
	if want := []int32{1, 4, 9}; !reflect.DeepEqual(at, want) {
		t.Fatalf("v9: record errors at %v, want %v", at, want)
	}
	if sp.ErrorMessage == nil || !strings.HasPrefix(*sp.ErrorMessage, "One or more records have been rejected due to 3 record errors") {
		t.Errorf("v9: partition message %v", sp.ErrorMessage)
	}

	sp = produce(7, 2, keyedBatch(nil, k))
	if sp.ErrorCode != kerr.InvalidRecord.Code || len(sp.ErrorRecords) != 0 {
		t.Fatalf("v7: error %v with %d record errors, want INVALID_RECORD and none", kerr.ErrorForCode(sp.ErrorCode), len(sp.ErrorRecords))
	}

	// Nothing of the refused batches was stored; the keyed one is.
	if sp := produce(9, 3, keyedBatch(k, k)); sp.ErrorCode != 0 || sp.BaseOffset != 0 {
		t.Fatalf("keyed batch: error %v at offset %d, want offset 0", kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset)
	}

	// franz-go's producer: the whole batch fails with INVALID_RECORD.
	cl := tb.client(kgo.DefaultProduceTopic("compacted"), kgo.RecordRetries(0), kgo.ProducerLinger(50*time.Millisecond))
	results := cl.ProduceSync(ctxT(t), &kgo.Record{Key: k, Value: []byte("a")}, &kgo.Record{Value: []byte("b")})
	for i, r := range results {
		if !errors.Is(r.Err, kerr.InvalidRecord) {
			t.Errorf("kgo record %d: %v, want INVALID_RECORD", i, r.Err)
		}
	}
}
