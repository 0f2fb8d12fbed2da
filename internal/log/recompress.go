package log

import "fmt"

// Recompress rewrites one batch with another codec (compression.type on a
// topic): the records' bytes stay as they are (their offsets and
// timestamps are deltas inside them); only the compression, the codec bits
// of the attributes, the length and the CRC change. A batch already in
// codec is returned as it is.
func Recompress(batch []byte, codec int8) ([]byte, error) {
	h, payload, err := batchRecordsBytes(batch)
	if err != nil {
		return nil, err
	}
	if h.Compression() == codec {
		return batch, nil
	}
	comp, err := compressRecords(codec, payload, false)
	if err != nil {
		return nil, fmt.Errorf("recompress batch: %w", err)
	}
	nh := h
	nh.Attributes = h.Attributes&^attrCompressionMask | int16(codec)
	nh.Length = int32(minBatchLength + len(comp))
	out := append(nh.AppendTo(make([]byte, 0, BatchHeaderSize+len(comp))), comp...)
	SetCRC(out)
	return out, nil
}
