package log

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// xerialBlockSize is the uncompressed size of the blocks written in xerial
// snappy framing: snappy-java's default.
const xerialBlockSize = 32 << 10

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// lz4Writers write frames of 64 KiB blocks, as Kafka's Java client does
// (the default 4 MiB blocks make every reader allocate 4 MiB).
var lz4Writers = sync.Pool{New: func() any {
	w := lz4.NewWriter(nil)
	_ = w.Apply(lz4.BlockSizeOption(lz4.Block64Kb))
	return w
}}

// zstdEncoder is shared; EncodeAll may be called concurrently. Created with
// a nil writer it starts no goroutines.
var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil)
})

// compressRecords compresses the records bytes of a batch with codec, the
// inverse of decompress. Snappy keeps the framing of the batch it replaces:
// the xerial framing the Java client writes when xerial is true, a raw
// snappy block otherwise.
func compressRecords(codec int8, raw []byte, xerial bool) ([]byte, error) {
	switch codec {
	case CompressionNone:
		return raw, nil
	case CompressionGzip:
		var buf bytes.Buffer
		w := gzipWriters.Get().(*gzip.Writer)
		defer gzipWriters.Put(w)
		w.Reset(&buf)
		if _, err := w.Write(raw); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case CompressionSnappy:
		if !xerial {
			return s2.EncodeSnappy(nil, raw), nil
		}
		out := append([]byte{}, xerialMagic...)
		out = binary.BigEndian.AppendUint32(out, 1) // version
		out = binary.BigEndian.AppendUint32(out, 1) // minimum compatible version
		for len(raw) > 0 {
			n := min(len(raw), xerialBlockSize)
			blk := s2.EncodeSnappy(nil, raw[:n])
			out = binary.BigEndian.AppendUint32(out, uint32(len(blk)))
			out = append(out, blk...)
			raw = raw[n:]
		}
		return out, nil
	case CompressionLZ4:
		var buf bytes.Buffer
		w := lz4Writers.Get().(*lz4.Writer)
		defer lz4Writers.Put(w)
		w.Reset(&buf) // keeps the options
		if _, err := w.Write(raw); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case CompressionZstd:
		enc, err := zstdEncoder()
		if err != nil {
			return nil, err
		}
		return enc.EncodeAll(raw, nil), nil
	}
	return nil, fmt.Errorf("%w: unknown compression codec %d", ErrCorruptMessage, codec)
}
