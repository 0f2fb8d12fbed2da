package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// BatchHeaderSize is the size of a RecordBatch v2 header: everything before
// the first record.
const BatchHeaderSize = 61

// Offsets of RecordBatch v2 header fields (big-endian).
const (
	offBaseOffset     = 0
	offLength         = 8
	offLeaderEpoch    = 12
	offMagic          = 16
	offCRC            = 17
	offAttributes     = 21
	offLastOffsetDelt = 23
	offBaseTimestamp  = 27
	offMaxTimestamp   = 35
	offProducerID     = 43
	offProducerEpoch  = 51
	offBaseSequence   = 53
	offNumRecords     = 57

	// minBatchLength is the smallest legal batchLength field: the header
	// bytes after the length field with no records.
	minBatchLength = BatchHeaderSize - 12
	// batchLengthPrefix is the number of bytes before and including the
	// batchLength field (not counted by it).
	batchLengthPrefix = 12
)

// Attribute bits.
const (
	attrCompressionMask = 0x07
	attrLogAppendTime   = 0x08
	attrTransactional   = 0x10
	attrControl         = 0x20
)

// Compression codecs as stored in the attributes' low three bits.
const (
	CompressionNone   int8 = 0
	CompressionGzip   int8 = 1
	CompressionSnappy int8 = 2
	CompressionLZ4    int8 = 3
	CompressionZstd   int8 = 4
)

// Sentinel errors. Compare with errors.Is; the returned errors wrap them
// with the position or file that was bad.
var (
	// ErrCorruptMessage: bad CRC, impossible length, torn or trailing bytes
	// (Kafka CORRUPT_MESSAGE).
	ErrCorruptMessage = errors.New("corrupt message")
	// ErrMessageTooLarge: a batch is larger than the allowed maximum
	// (Kafka MESSAGE_TOO_LARGE).
	ErrMessageTooLarge = errors.New("message too large")
	// ErrInvalidRecord: a structurally valid batch whose contents make no
	// sense, e.g. record count disagreeing with offsets (Kafka INVALID_RECORD).
	ErrInvalidRecord = errors.New("invalid record")
	// ErrUnsupportedMagic: message format v0/v1 or an unknown magic byte
	// (Kafka UNSUPPORTED_FOR_MESSAGE_FORMAT).
	ErrUnsupportedMagic = errors.New("unsupported message format")
	// ErrOffsetOutOfRange: an offset below the log start offset or above
	// the log end offset (Kafka OFFSET_OUT_OF_RANGE).
	ErrOffsetOutOfRange = errors.New("offset out of range")
	// ErrUnexpectedOffset: Append was given batches that do not start at
	// the log end offset or are not contiguous.
	ErrUnexpectedOffset = errors.New("batch offsets do not continue the log")
	// ErrClosed: the log has been closed.
	ErrClosed = errors.New("log closed")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the parsed fixed-size header of a RecordBatch v2.
type BatchHeader struct {
	BaseOffset           int64
	Length               int32 // the batchLength field: bytes after it
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// ParseBatchHeader decodes the first BatchHeaderSize bytes of b. It does not
// check the CRC nor that the batch fits in b.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	if len(b) < BatchHeaderSize {
		return BatchHeader{}, fmt.Errorf("%w: batch header needs %d bytes, have %d", ErrCorruptMessage, BatchHeaderSize, len(b))
	}
	return parseHeader(b), nil
}

// parseHeader decodes a header from b, which must hold BatchHeaderSize bytes.
func parseHeader(b []byte) BatchHeader {
	_ = b[BatchHeaderSize-1]
	be := binary.BigEndian
	return BatchHeader{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		Length:               int32(be.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelt:])),
		BaseTimestamp:        int64(be.Uint64(b[offBaseTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[offNumRecords:])),
	}
}

// AppendTo encodes h as a 61-byte header appended to dst. The CRC field is
// written as stored in h; use SetCRC after appending the records.
func (h BatchHeader) AppendTo(dst []byte) []byte {
	be := binary.BigEndian
	dst = be.AppendUint64(dst, uint64(h.BaseOffset))
	dst = be.AppendUint32(dst, uint32(h.Length))
	dst = be.AppendUint32(dst, uint32(h.PartitionLeaderEpoch))
	dst = append(dst, byte(h.Magic))
	dst = be.AppendUint32(dst, h.CRC)
	dst = be.AppendUint16(dst, uint16(h.Attributes))
	dst = be.AppendUint32(dst, uint32(h.LastOffsetDelta))
	dst = be.AppendUint64(dst, uint64(h.BaseTimestamp))
	dst = be.AppendUint64(dst, uint64(h.MaxTimestamp))
	dst = be.AppendUint64(dst, uint64(h.ProducerID))
	dst = be.AppendUint16(dst, uint16(h.ProducerEpoch))
	dst = be.AppendUint32(dst, uint32(h.BaseSequence))
	dst = be.AppendUint32(dst, uint32(h.NumRecords))
	return dst
}

// LastOffset is the offset of the last record the batch was created with.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Size is the whole batch's size in bytes, header included.
func (h BatchHeader) Size() int { return int(h.Length) + batchLengthPrefix }

// Compression is the codec id from the attributes (0 none, 1 gzip,
// 2 snappy, 3 lz4, 4 zstd).
func (h BatchHeader) Compression() int8 { return int8(h.Attributes & attrCompressionMask) }

// IsTransactional reports whether the batch belongs to a transaction.
func (h BatchHeader) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

// IsControl reports whether the batch holds control records (transaction
// markers).
func (h BatchHeader) IsControl() bool { return h.Attributes&attrControl != 0 }

// LogAppendTime reports whether the timestamps are the broker's append time
// (then every record's timestamp is MaxTimestamp).
func (h BatchHeader) LogAppendTime() bool { return h.Attributes&attrLogAppendTime != 0 }

// LastSequence is the producer sequence number of the last record; sequences
// wrap from MaxInt32 to 0 as in Kafka. A batch without a sequence (-1) has
// no last sequence either.
func (h BatchHeader) LastSequence() int32 {
	if h.BaseSequence == -1 {
		return -1
	}
	return IncrementSequence(h.BaseSequence, h.LastOffsetDelta)
}

// IncrementSequence adds inc to a producer sequence number, wrapping past
// MaxInt32 to 0 the way Kafka's idempotent producer does.
func IncrementSequence(seq, inc int32) int32 {
	if seq > math.MaxInt32-inc {
		return inc - (math.MaxInt32 - seq) - 1
	}
	return seq + inc
}

// batchCRC computes the CRC-32C that a batch's CRC field must hold.
func batchCRC(batch []byte) uint32 {
	return crc32.Checksum(batch[offAttributes:], castagnoli)
}

// ValidateBatches checks a produce request's record set (one or more
// RecordBatches back to back) without decompressing it: magic 2, sane and
// exact lengths, each batch at most maxBatchBytes (when > 0), CRC-32C, a
// known compression codec, and a record count matching the offset delta. It
// returns the parsed headers.
func ValidateBatches(records []byte, maxBatchBytes int) ([]BatchHeader, error) {
	if len(records) == 0 {
		return nil, fmt.Errorf("%w: empty record set", ErrInvalidRecord)
	}
	// Most produce requests carry one batch per partition.
	hs := make([]BatchHeader, 0, 1)
	pos := 0
	for pos < len(records) {
		h, err := validateBatch(records[pos:], maxBatchBytes)
		if err != nil {
			return nil, fmt.Errorf("batch %d at byte %d: %w", len(hs), pos, err)
		}
		hs = append(hs, h)
		pos += h.Size()
	}
	return hs, nil
}

// validateBatch validates the batch at the start of b (b may continue with
// further batches).
func validateBatch(b []byte, maxBatchBytes int) (BatchHeader, error) {
	if len(b) > offMagic {
		if m := int8(b[offMagic]); m != 2 {
			return BatchHeader{}, fmt.Errorf("%w: magic %d", ErrUnsupportedMagic, m)
		}
	}
	if len(b) < BatchHeaderSize {
		return BatchHeader{}, fmt.Errorf("%w: %d trailing bytes, shorter than a batch header", ErrCorruptMessage, len(b))
	}
	h := parseHeader(b)
	if h.Length < minBatchLength {
		return h, fmt.Errorf("%w: batch length %d below minimum %d", ErrCorruptMessage, h.Length, minBatchLength)
	}
	size := int64(h.Length) + batchLengthPrefix
	if size > int64(len(b)) {
		return h, fmt.Errorf("%w: batch length %d exceeds the %d bytes available", ErrCorruptMessage, h.Length, len(b)-batchLengthPrefix)
	}
	if maxBatchBytes > 0 && size > int64(maxBatchBytes) {
		return h, fmt.Errorf("%w: batch of %d bytes exceeds maximum %d", ErrMessageTooLarge, size, maxBatchBytes)
	}
	if crc := batchCRC(b[:size]); crc != h.CRC {
		return h, fmt.Errorf("%w: crc %08x, computed %08x", ErrCorruptMessage, h.CRC, crc)
	}
	if c := h.Compression(); c > CompressionZstd {
		return h, fmt.Errorf("%w: unknown compression codec %d", ErrCorruptMessage, c)
	}
	if h.NumRecords <= 0 {
		return h, fmt.Errorf("%w: record count %d", ErrInvalidRecord, h.NumRecords)
	}
	if int64(h.NumRecords) != int64(h.LastOffsetDelta)+1 {
		return h, fmt.Errorf("%w: record count %d but last offset delta %d", ErrInvalidRecord, h.NumRecords, h.LastOffsetDelta)
	}
	return h, nil
}

// SetBaseOffset patches the base offset of the batch at the start of batch.
// The field is not covered by the CRC.
func SetBaseOffset(batch []byte, off int64) {
	binary.BigEndian.PutUint64(batch[offBaseOffset:], uint64(off))
}

// SetPartitionLeaderEpoch patches the partition leader epoch of the batch at
// the start of batch. The field is not covered by the CRC.
func SetPartitionLeaderEpoch(batch []byte, e int32) {
	binary.BigEndian.PutUint32(batch[offLeaderEpoch:], uint32(e))
}

// SetLogAppendTime marks the batch (which must be complete: its batchLength
// must fit in batch) as using LogAppendTime with timestamp ts, setting
// maxTimestamp to ts and recomputing the CRC.
func SetLogAppendTime(batch []byte, ts int64) {
	be := binary.BigEndian
	attrs := be.Uint16(batch[offAttributes:]) | attrLogAppendTime
	be.PutUint16(batch[offAttributes:], attrs)
	be.PutUint64(batch[offMaxTimestamp:], uint64(ts))
	SetCRC(batch)
}

// SetCRC recomputes the CRC of the complete batch at the start of batch.
func SetCRC(batch []byte) {
	size := int(binary.BigEndian.Uint32(batch[offLength:])) + batchLengthPrefix
	if size > len(batch) || size < BatchHeaderSize {
		size = len(batch)
	}
	binary.BigEndian.PutUint32(batch[offCRC:], batchCRC(batch[:size]))
}
