package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/log"
)

// tr is one record of a test batch: its CreateTime and whether it has a key.
type tr struct {
	ts      int64
	keyless bool
}

// contentBatch encodes an uncompressed batch of recs; its base timestamp
// is the first record's, its max timestamp the largest.
func contentBatch(recs ...tr) []byte {
	base, maxTs := recs[0].ts, recs[0].ts
	var body []byte
	for i, r := range recs {
		maxTs = max(maxTs, r.ts)
		var b []byte
		b = append(b, 0)
		b = binary.AppendVarint(b, r.ts-base)
		b = binary.AppendVarint(b, int64(i))
		if r.keyless {
			b = binary.AppendVarint(b, -1)
		} else {
			k := fmt.Sprintf("k%d", i)
			b = binary.AppendVarint(b, int64(len(k)))
			b = append(b, k...)
		}
		b = binary.AppendVarint(b, 1)
		b = append(b, 'v')
		b = binary.AppendVarint(b, 0)
		body = binary.AppendVarint(body, int64(len(b)))
		body = append(body, b...)
	}
	h := log.BatchHeader{
		Length:          int32(log.BatchHeaderSize - 12 + len(body)),
		Magic:           2,
		LastOffsetDelta: int32(len(recs) - 1),
		BaseTimestamp:   base,
		MaxTimestamp:    maxTs,
		ProducerID:      -1,
		ProducerEpoch:   -1,
		BaseSequence:    -1,
		NumRecords:      int32(len(recs)),
	}
	out := append(h.AppendTo(nil), body...)
	log.SetCRC(out)
	return out
}

// TestCheckContentRecordErrors checks that a refused record set names
// exactly the refused records (KIP-467), as Kafka's LogValidator does, and
// that nothing of it is appended.
func TestCheckContentRecordErrors(t *testing.T) {
	clock := newClock()
	now := clock.Now().UnixMilli()
	const hour = int64(time.Hour / time.Millisecond)
	gzipped := func(b []byte) []byte {
		out, err := log.Recompress(b, 1)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	keyMsg := "Compacted topic cannot accept message without key in topic partition topic-0"
	tsMsg := func(ts, offset int64) string {
		return fmt.Sprintf("Timestamp %d of message with offset %d is out of range. The timestamp should be within [%d, %d]", ts, offset, now-hour, int64(math.MaxInt64))
	}
	tests := []struct {
		name      string
		compact   bool
		beforeMs  int64 // message.timestamp.before.max.ms; 0: unset
		afterMs   int64 // message.timestamp.after.max.ms; 0: unset
		appendTm  bool  // message.timestamp.type=LogAppendTime
		records   []byte
		wantErr   error // nil: accepted
		wantIndex []int32
		wantMsgs  map[int32]string
	}{
		{name: "keyed records on a compacted topic", compact: true,
			records: contentBatch(tr{ts: now}, tr{ts: now})},
		{name: "keyless records on a compacted topic", compact: true,
			records:   contentBatch(tr{ts: now}, tr{ts: now, keyless: true}, tr{ts: now}, tr{ts: now, keyless: true}),
			wantErr:   ErrKeylessOnCompacted,
			wantIndex: []int32{1, 3}, wantMsgs: map[int32]string{1: keyMsg, 3: keyMsg}},
		{name: "keyless record in a compressed batch", compact: true,
			records:   gzipped(contentBatch(tr{ts: now, keyless: true}, tr{ts: now})),
			wantErr:   ErrKeylessOnCompacted,
			wantIndex: []int32{0}},
		{name: "positions run on across batches", compact: true,
			records:   cat(contentBatch(tr{ts: now}, tr{ts: now}), contentBatch(tr{ts: now}, tr{ts: now, keyless: true})),
			wantErr:   ErrKeylessOnCompacted,
			wantIndex: []int32{3}},
		{name: "keyless records on a deleting topic",
			records: contentBatch(tr{ts: now, keyless: true})},
		{name: "too old records", beforeMs: hour,
			records:   contentBatch(tr{ts: now - 2*hour}, tr{ts: now}, tr{ts: now - 3*hour}),
			wantErr:   ErrInvalidTimestamp,
			wantIndex: []int32{0, 2}, wantMsgs: map[int32]string{0: tsMsg(now-2*hour, 0), 2: tsMsg(now-3*hour, 2)}},
		{name: "record in the future", afterMs: hour,
			records:   contentBatch(tr{ts: now}, tr{ts: now + 2*hour}),
			wantErr:   ErrInvalidTimestamp,
			wantIndex: []int32{1}},
		{name: "timestamps within range", beforeMs: hour, afterMs: hour,
			records: contentBatch(tr{ts: now - hour + 1}, tr{ts: now + hour - 1})},
		{name: "records without a timestamp are not checked", beforeMs: hour,
			records: contentBatch(tr{ts: -1}, tr{ts: -1})},
		{name: "LogAppendTime topics do not check timestamps", beforeMs: hour, appendTm: true,
			records: contentBatch(tr{ts: now - 2*hour})},
		{name: "compacted topics check every record's timestamp", compact: true, beforeMs: hour,
			records:   contentBatch(tr{ts: now}, tr{ts: now - 2*hour}),
			wantErr:   ErrInvalidTimestamp,
			wantIndex: []int32{1}},
		{name: "a key error and a timestamp error: INVALID_TIMESTAMP, each record once", compact: true, beforeMs: hour,
			records:   contentBatch(tr{ts: now - 2*hour, keyless: true}, tr{ts: now}, tr{ts: now - 2*hour}),
			wantErr:   ErrInvalidTimestamp,
			wantIndex: []int32{0, 2}, wantMsgs: map[int32]string{0: keyMsg, 2: tsMsg(now-2*hour, 2)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Log.Now = clock.Now
			cfg.Compact, cfg.LogAppendTime = tc.compact, tc.appendTm
			if tc.beforeMs > 0 {
				cfg.TimestampBeforeMaxMs = tc.beforeMs
			}
			if tc.afterMs > 0 {
				cfg.TimestampAfterMaxMs = tc.afterMs
			}
			p := openPartition(t, t.TempDir(), cfg)
			_, err := p.Append(tc.records)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
				if p.HighWatermark() == 0 {
					t.Fatal("nothing appended")
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Append error %v, want %v", err, tc.wantErr)
			}
			var rve *RecordValidationError
			if !errors.As(err, &rve) {
				t.Fatalf("Append error %T is no *RecordValidationError", err)
			}
			var got []int32
			for _, r := range rve.Records {
				got = append(got, r.Index)
				if want, ok := tc.wantMsgs[r.Index]; ok && r.Message != want {
					t.Errorf("record %d: message %q, want %q", r.Index, r.Message, want)
				}
				if r.Message == "" {
					t.Errorf("record %d: no message", r.Index)
				}
			}
			if !reflect.DeepEqual(got, tc.wantIndex) {
				t.Fatalf("refused records %v, want %v", got, tc.wantIndex)
			}
			if p.HighWatermark() != 0 {
				t.Fatalf("a refused record set was appended: high watermark %d", p.HighWatermark())
			}
		})
	}
}

// TestRecordValidationErrorMessage checks Kafka's partition-level texts
// (LogValidator.processRecordErrors).
func TestRecordValidationErrorMessage(t *testing.T) {
	recs := []RecordError{{0, "a"}, {2, "b"}, {5, "c"}, {7, "d"}}
	got := (&RecordValidationError{Err: ErrKeylessOnCompacted, Records: recs}).Error()
	want := "One or more records have been rejected due to 4 record errors in total, and only showing the first three errors at most: " +
		"[RecordError(batchIndex=0, message='a'), RecordError(batchIndex=2, message='b'), RecordError(batchIndex=5, message='c')]"
	if got != want {
		t.Errorf("key errors:\n got %s\nwant %s", got, want)
	}
	got = (&RecordValidationError{Err: ErrInvalidTimestamp, Records: recs}).Error()
	if got != "One or more records have been rejected due to invalid timestamp" {
		t.Errorf("timestamp errors: %s", got)
	}
	if strings.Contains(got, "batchIndex") {
		t.Errorf("timestamp message lists records: %s", got)
	}
}
