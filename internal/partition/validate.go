package partition

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/samsa-kafka/samsa/internal/log"
)

// ErrInvalidTimestamp refuses records outside
// message.timestamp.before/after.max.ms.
var ErrInvalidTimestamp = errors.New("timestamp out of the range the topic accepts")

// ErrKeylessOnCompacted refuses records without a key on compacted topics.
var ErrKeylessOnCompacted = errors.New("compacted topic cannot accept a record without a key")

// RecordError is why one record of a produced record set was refused
// (KIP-467). The Produce response lists it, so that a client fails that
// record and knows the others of the batch were refused only with it.
type RecordError struct {
	Index   int32 // the record's position in the record set, from 0
	Message string
}

// RecordValidationError refuses a whole record set because of some of its
// records, as Kafka's RecordValidationException: Err is ErrInvalidTimestamp
// when any record's timestamp is out of range, else ErrKeylessOnCompacted.
// Records lists each refused record once, in order.
type RecordValidationError struct {
	Err     error
	Records []RecordError
}

// Error is Kafka's message for the partition (LogValidator.processRecordErrors).
func (e *RecordValidationError) Error() string {
	if errors.Is(e.Err, ErrInvalidTimestamp) {
		return "One or more records have been rejected due to invalid timestamp"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "One or more records have been rejected due to %d record errors in total, and only showing the first three errors at most: [", len(e.Records))
	for i, r := range e.Records[:min(len(e.Records), 3)] {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "RecordError(batchIndex=%d, message='%s')", r.Index, r.Message)
	}
	b.WriteString("]")
	return b.String()
}

func (e *RecordValidationError) Unwrap() error { return e.Err }

// checkContent applies the topic's rules on records, as Kafka's
// LogValidator.validateRecord: a key on compacted topics, and a CreateTime
// within message.timestamp.before/after.max.ms. Keys need the records
// decoded (and decompressed), the one place the produce path looks inside
// batches, as Kafka does. Timestamps are first checked on each batch's
// base and max timestamps, without decoding; only a batch outside the range
// there is decoded to find which of its records are (all of them when the
// records are decoded for their keys anyway). So a record older than its
// batch's first one is not caught unless the topic is compacted.
//
// A refused record set is a *RecordValidationError naming every refused
// record by its position in the set (Kafka allows one batch per partition
// in a Produce request, and counts within it; positions here run on across
// batches, which is the same for one batch).
func (p *Partition) checkContent(records []byte, hs []log.BatchHeader) error {
	cfg := &p.cfg
	before, after := cfg.TimestampBeforeMaxMs, cfg.TimestampAfterMaxMs
	checkTs := !cfg.LogAppendTime && (before < math.MaxInt64 || after < math.MaxInt64)
	if !checkTs && !cfg.Compact {
		return nil
	}
	now := p.now().UnixMilli()
	var (
		refused []RecordError
		badTs   bool
		index   int32 // position of the batch's first record in the set
		pos     int
	)
	for _, h := range hs {
		b := records[pos : pos+h.Size()]
		pos += h.Size()
		first := index
		index += h.NumRecords
		suspect := checkTs && (now-h.BaseTimestamp > before || h.MaxTimestamp-now > after)
		if !cfg.Compact && !suspect {
			continue
		}
		recs, err := log.DecodeRecords(b)
		if err != nil {
			return fmt.Errorf("%w: %v", log.ErrCorruptMessage, err)
		}
		for i, r := range recs {
			switch {
			case cfg.Compact && r.Key == nil:
				refused = append(refused, RecordError{Index: first + int32(i),
					Message: fmt.Sprintf("Compacted topic cannot accept message without key in topic partition %s-%d", p.Topic, p.Index)})
			case checkTs && r.Timestamp != -1 && (now-r.Timestamp > before || r.Timestamp-now > after):
				badTs = true
				refused = append(refused, RecordError{Index: first + int32(i),
					Message: fmt.Sprintf("Timestamp %d of message with offset %d is out of range. The timestamp should be within [%d, %d]",
						r.Timestamp, r.Offset, now-before, addSaturating(now, after))})
			}
		}
	}
	switch {
	case len(refused) == 0:
		return nil
	case badTs:
		return &RecordValidationError{Err: ErrInvalidTimestamp, Records: refused}
	default:
		return &RecordValidationError{Err: ErrKeylessOnCompacted, Records: refused}
	}
}

// addSaturating is a+b for b >= 0, capped at math.MaxInt64.
func addSaturating(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
