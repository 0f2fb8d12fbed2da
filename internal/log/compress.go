package log

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
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

// payloadDecoder decompresses batch payloads into a buffer it reuses, for
// the cleaner, which decodes every batch of a log twice. The result is
// valid until the next call. Sizes are limited as by decompress.
type payloadDecoder struct {
	buf []byte
	br  bytes.Reader
	lz4 *lz4.Reader
	gz  *gzip.Reader
}

func (d *payloadDecoder) decode(codec int8, data []byte) ([]byte, error) {
	var err error
	switch codec {
	case CompressionZstd:
		var dec *zstd.Decoder
		if dec, err = defaultZstdDecoder(); err == nil {
			var out []byte
			if out, err = dec.DecodeAll(data, d.buf[:0]); err == nil {
				d.buf = out
				return out, nil
			}
		}
	case CompressionLZ4:
		d.br.Reset(data)
		if d.lz4 == nil {
			d.lz4 = lz4.NewReader(&d.br)
		} else {
			d.lz4.Reset(&d.br)
		}
		return d.readAll(codec, d.lz4)
	case CompressionGzip:
		d.br.Reset(data)
		if d.gz == nil {
			d.gz, err = gzip.NewReader(&d.br)
		} else {
			err = d.gz.Reset(&d.br)
		}
		if err == nil {
			return d.readAll(codec, d.gz)
		}
	default: // none, snappy (allocates), unknown (error)
		return decompress(codec, data, MaxDecompressedBytes)
	}
	return nil, fmt.Errorf("%w: decompress codec %d: %v", ErrCorruptMessage, codec, err)
}

// readAll reads r to EOF into d.buf, failing beyond MaxDecompressedBytes.
func (d *payloadDecoder) readAll(codec int8, r io.Reader) ([]byte, error) {
	b := d.buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > MaxDecompressedBytes {
			return nil, errTooBig(MaxDecompressedBytes)
		}
		if err == io.EOF {
			d.buf = b
			return b, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: decompress codec %d: %v", ErrCorruptMessage, codec, err)
		}
	}
}
