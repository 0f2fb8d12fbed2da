package log

import "encoding/binary"

// BatchSpec describes a batch the broker writes itself (group and
// transaction state, transaction markers): uncompressed, offsets from 0 (the
// partition assigns real ones), every record at Timestamp.
type BatchSpec struct {
	Timestamp     int64
	ProducerID    int64 // -1 for none
	ProducerEpoch int16
	Transactional bool
	Control       bool
}

// EncodeBatch builds a RecordBatch v2 of recs (their Offset and Timestamp
// fields are ignored; headers are not written).
func EncodeBatch(spec BatchSpec, recs []Record) []byte {
	b := make([]byte, BatchHeaderSize, BatchHeaderSize+64*len(recs))
	for i, r := range recs {
		var body []byte
		body = append(body, 0)                     // attributes
		body = binary.AppendVarint(body, 0)        // timestamp delta
		body = binary.AppendVarint(body, int64(i)) // offset delta
		body = appendNullableVarBytes(body, r.Key)
		body = appendNullableVarBytes(body, r.Value)
		body = binary.AppendVarint(body, 0) // headers
		b = binary.AppendVarint(b, int64(len(body)))
		b = append(b, body...)
	}
	be := binary.BigEndian
	be.PutUint32(b[offLength:], uint32(len(b)-batchLengthPrefix))
	b[offMagic] = 2
	var attrs uint16
	if spec.Transactional {
		attrs |= attrTransactional
	}
	if spec.Control {
		attrs |= attrControl
	}
	be.PutUint16(b[offAttributes:], attrs)
	be.PutUint32(b[offLastOffsetDelt:], uint32(len(recs)-1))
	be.PutUint64(b[offBaseTimestamp:], uint64(spec.Timestamp))
	be.PutUint64(b[offMaxTimestamp:], uint64(spec.Timestamp))
	be.PutUint64(b[offProducerID:], uint64(spec.ProducerID))
	be.PutUint16(b[offProducerEpoch:], uint16(spec.ProducerEpoch))
	be.PutUint32(b[offBaseSequence:], 0xffffffff)
	be.PutUint32(b[offNumRecords:], uint32(len(recs)))
	SetCRC(b)
	return b
}

func appendNullableVarBytes(b, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(b, -1)
	}
	b = binary.AppendVarint(b, int64(len(v)))
	return append(b, v...)
}
