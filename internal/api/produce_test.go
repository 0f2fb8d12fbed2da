package api

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// keyBatch is an uncompressed RecordBatch v2 without a producer ID, with
// one record per key (nil: no key), all at CreateTime ts.
func keyBatch(ts int64, keys ...[]byte) []byte {
	var recs []byte
	for i, k := range keys {
		r := []byte{0}                       // attributes
		r = binary.AppendVarint(r, 0)        // timestamp delta
		r = binary.AppendVarint(r, int64(i)) // offset delta
		if k == nil {
			r = binary.AppendVarint(r, -1)
		} else {
			r = binary.AppendVarint(r, int64(len(k)))
			r = append(r, k...)
		}
		r = binary.AppendVarint(r, 1) // value
		r = append(r, 'v')
		r = binary.AppendVarint(r, 0) // no headers
		recs = binary.AppendVarint(recs, int64(len(r)))
		recs = append(recs, r...)
	}
	b := make([]byte, 61, 61+len(recs))
	binary.BigEndian.PutUint32(b[8:], uint32(49+len(recs)))
	b[16] = 2
	binary.BigEndian.PutUint32(b[23:], uint32(len(keys)-1))
	binary.BigEndian.PutUint64(b[27:], uint64(ts))
	binary.BigEndian.PutUint64(b[35:], uint64(ts))
	binary.BigEndian.PutUint64(b[43:], ^uint64(0)) // producer ID -1
	binary.BigEndian.PutUint16(b[51:], 0xffff)     // epoch -1
	binary.BigEndian.PutUint32(b[53:], 0xffffffff) // sequence -1
	binary.BigEndian.PutUint32(b[57:], uint32(len(keys)))
	b = append(b, recs...)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// TestProduceRecordErrors checks KIP-467: a record set refused for some of
// its records answers with the partition's error, Kafka's message, and
// (v8+) the positions of exactly those records; v7 has only the code.
func TestProduceRecordErrors(t *testing.T) {
	b := openTestBroker(t, nil)
	if _, err := b.createTopic("compacted", 1, 1, map[string]string{"cleanup.policy": "compact"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.createTopic("recent", 1, 1, map[string]string{"message.timestamp.before.max.ms": "3600000"}, false); err != nil {
		t.Fatal(err)
	}
	k := []byte("k")
	now := time.Now().UnixMilli()
	tests := []struct {
		name     string
		version  int16
		topic    string
		batch    []byte
		code     int16
		indexes  []int32
		msgStart string // of the partition's ErrorMessage and each record's
	}{
		{"keyless records", 9, "compacted", keyBatch(now, k, nil, k, nil, nil),
			kerr.InvalidRecord.Code, []int32{1, 3, 4}, "Compacted topic cannot accept message without key in topic partition compacted-0"},
		{"keyless records, v8", 8, "compacted", keyBatch(now, nil, k),
			kerr.InvalidRecord.Code, []int32{0}, "Compacted topic cannot accept message without key"},
		{"keyless records, v7", 7, "compacted", keyBatch(now, nil, k), kerr.InvalidRecord.Code, nil, ""},
		{"keyed records", 9, "compacted", keyBatch(now, k, k), 0, nil, ""},
		{"too old records", 9, "recent", keyBatch(now-2*3600_000, nil, nil),
			kerr.InvalidTimestamp.Code, []int32{0, 1}, "Timestamp "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := produceRequest(tc.topic, 1, tc.batch)
			req.SetVersion(tc.version)
			rc := &server.RequestContext{APIKey: req.Key(), APIVersion: tc.version}
			resp := b.Handle(context.Background(), rc, req)().Msg.(*kmsg.ProduceResponse)
			sp := resp.Topics[0].Partitions[0]
			if sp.ErrorCode != tc.code {
				t.Fatalf("error code %d, want %d", sp.ErrorCode, tc.code)
			}
			var got []int32
			for _, r := range sp.ErrorRecords {
				got = append(got, r.RelativeOffset)
				if r.ErrorMessage == nil || !strings.HasPrefix(*r.ErrorMessage, tc.msgStart) {
					t.Errorf("record %d: message %v, want it to start %q", r.RelativeOffset, r.ErrorMessage, tc.msgStart)
				}
			}
			if !reflect.DeepEqual(got, tc.indexes) {
				t.Fatalf("record errors at %v, want %v", got, tc.indexes)
			}
			if tc.code != 0 && (sp.ErrorMessage == nil || !strings.HasPrefix(*sp.ErrorMessage, "One or more records have been rejected")) {
				t.Errorf("partition message %v", sp.ErrorMessage)
			}
			// What the client reads: v7 has no field for record errors.
			var wire kmsg.ProduceResponse
			wire.SetVersion(tc.version)
			if err := wire.ReadFrom(resp.AppendTo(nil)); err != nil {
				t.Fatal(err)
			}
			if n := len(wire.Topics[0].Partitions[0].ErrorRecords); n != len(tc.indexes) {
				t.Fatalf("%d record errors on the wire, want %d", n, len(tc.indexes))
			}
		})
	}
}

// A failed partition's response carries the log start offset, as Kafka's
// (an idempotent producer compares it with its last acknowledged offset),
// except for the errors where Kafka sends -1: the log was not reached or
// the data was unfit for it.
func TestProduceFailureLogStartOffset(t *testing.T) {
	b := openTestBroker(t, nil)
	if _, err := b.createTopic("c", 1, 1, map[string]string{"cleanup.policy": "compact", "max.message.bytes": "2000"}, false); err != nil {
		t.Fatal(err)
	}
	k := []byte("k")
	now := time.Now().UnixMilli()
	produce := func(topic string, batch []byte) kmsg.ProduceResponseTopicPartition {
		t.Helper()
		req := produceRequest(topic, 1, batch)
		req.SetVersion(9)
		rc := &server.RequestContext{APIKey: req.Key(), APIVersion: 9}
		return b.Handle(context.Background(), rc, req)().Msg.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	}
	for range 3 {
		if sp := produce("c", keyBatch(now, k, k)); sp.ErrorCode != 0 {
			t.Fatalf("keyed batch: error %d", sp.ErrorCode)
		}
	}
	p, _ := b.partition("c", 0)
	if err := p.Log().SetLogStartOffset(4); err != nil {
		t.Fatal(err)
	}
	if sp := produce("c", keyBatch(now, nil, k)); sp.ErrorCode != kerr.InvalidRecord.Code || sp.LogStartOffset != 4 {
		t.Errorf("keyless batch: error %d, log start offset %d; want INVALID_RECORD with 4", sp.ErrorCode, sp.LogStartOffset)
	}
	big := make([]byte, 4000)
	if sp := produce("c", keyBatch(now, k, big)); sp.ErrorCode != kerr.MessageTooLarge.Code || sp.LogStartOffset != -1 {
		t.Errorf("oversized batch: error %d, log start offset %d; want MESSAGE_TOO_LARGE with -1", sp.ErrorCode, sp.LogStartOffset)
	}
}
