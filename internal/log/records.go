package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// MaxDecompressedBytes bounds the decompressed size of one batch's records.
// Decoding stops with ErrCorruptMessage beyond it, so a corrupt or hostile
// batch cannot make the broker allocate unbounded memory.
const MaxDecompressedBytes = 64 << 20

// Record is one decoded record of a batch.
type Record struct {
	Offset    int64
	Timestamp int64
	Key       []byte // nil when the key length is -1
	Value     []byte // nil when the value length is -1
	Headers   []RecordHeader
}

// RecordHeader is one record header.
type RecordHeader struct {
	Key   string
	Value []byte // nil when the length is -1
}

// DecodeRecords decodes the records of the RecordBatch v2 at the start of
// batch, decompressing them as needed. Key, value and header value slices
// may alias batch or a buffer owned by the result.
func DecodeRecords(batch []byte) ([]Record, error) {
	h, payload, err := batchRecordsBytes(batch)
	if err != nil {
		return nil, err
	}
	var recs []Record
	err = forEachRecord(h, payload, func(r Record) bool {
		recs = append(recs, r)
		return true
	})
	if err != nil {
		return nil, err
	}
	return recs, nil
}

// batchRecordsBytes checks the batch framing and returns its header and
// decompressed records bytes.
func batchRecordsBytes(batch []byte) (BatchHeader, []byte, error) {
	if len(batch) < BatchHeaderSize {
		return BatchHeader{}, nil, fmt.Errorf("%w: %d bytes, too short for a batch", ErrCorruptMessage, len(batch))
	}
	h := parseHeader(batch)
	if h.Magic != 2 {
		return h, nil, fmt.Errorf("%w: magic %d", ErrUnsupportedMagic, h.Magic)
	}
	if h.Length < minBatchLength || int64(h.Length)+batchLengthPrefix > int64(len(batch)) {
		return h, nil, fmt.Errorf("%w: batch length %d with %d bytes available", ErrCorruptMessage, h.Length, len(batch)-batchLengthPrefix)
	}
	payload, err := decompress(h.Compression(), batch[BatchHeaderSize:h.Size()], MaxDecompressedBytes)
	if err != nil {
		return h, nil, err
	}
	return h, payload, nil
}

// forEachRecord decodes the records in payload, calling fn for each until
// it returns false.
func forEachRecord(h BatchHeader, payload []byte, fn func(Record) bool) error {
	if h.NumRecords < 0 {
		return fmt.Errorf("%w: record count %d", ErrCorruptMessage, h.NumRecords)
	}
	d := recordDecoder{b: payload}
	for i := int32(0); i < h.NumRecords; i++ {
		r, err := d.record(&h)
		if err != nil {
			return fmt.Errorf("record %d of batch at offset %d: %w", i, h.BaseOffset, err)
		}
		if !fn(r) {
			return nil
		}
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d bytes after the last of %d records", ErrCorruptMessage, len(d.b), h.NumRecords)
	}
	return nil
}

var errTruncatedRecord = fmt.Errorf("%w: truncated record", ErrCorruptMessage)

// recordDecoder consumes Kafka's varint-encoded records from b.
type recordDecoder struct {
	b []byte
}

func (d *recordDecoder) varint() (int64, error) {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		return 0, errTruncatedRecord
	}
	d.b = d.b[n:]
	return v, nil
}

// bytes reads a varint length and that many bytes; -1 gives nil.
func (d *recordDecoder) bytes() ([]byte, error) {
	n, err := d.varint()
	if err != nil {
		return nil, err
	}
	if n == -1 {
		return nil, nil
	}
	if n < 0 || n > int64(len(d.b)) {
		return nil, fmt.Errorf("%w: field length %d with %d bytes left", ErrCorruptMessage, n, len(d.b))
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v, nil
}

func (d *recordDecoder) record(h *BatchHeader) (Record, error) {
	length, err := d.varint()
	if err != nil {
		return Record{}, err
	}
	if length < 0 || length > int64(len(d.b)) {
		return Record{}, fmt.Errorf("%w: record length %d with %d bytes left", ErrCorruptMessage, length, len(d.b))
	}
	rest := d.b[length:]
	d.b = d.b[:length]
	defer func() { d.b = rest }()

	if len(d.b) < 1 {
		return Record{}, errTruncatedRecord
	}
	d.b = d.b[1:] // attributes: unused in v2
	tsDelta, err := d.varint()
	if err != nil {
		return Record{}, err
	}
	offDelta, err := d.varint()
	if err != nil {
		return Record{}, err
	}
	var r Record
	r.Offset = h.BaseOffset + offDelta
	r.Timestamp = h.BaseTimestamp + tsDelta
	if h.LogAppendTime() {
		r.Timestamp = h.MaxTimestamp
	}
	if r.Key, err = d.bytes(); err != nil {
		return Record{}, err
	}
	if r.Value, err = d.bytes(); err != nil {
		return Record{}, err
	}
	nh, err := d.varint()
	if err != nil {
		return Record{}, err
	}
	// Each header takes at least two bytes, which bounds the allocation.
	if nh < 0 || nh > int64(len(d.b)/2) {
		return Record{}, fmt.Errorf("%w: %d headers with %d bytes left", ErrCorruptMessage, nh, len(d.b))
	}
	if nh > 0 {
		r.Headers = make([]RecordHeader, 0, nh)
	}
	for range nh {
		k, err := d.bytes()
		if err != nil {
			return Record{}, err
		}
		if k == nil {
			return Record{}, fmt.Errorf("%w: null header key", ErrCorruptMessage)
		}
		v, err := d.bytes()
		if err != nil {
			return Record{}, err
		}
		r.Headers = append(r.Headers, RecordHeader{Key: string(k), Value: v})
	}
	if len(d.b) != 0 {
		return Record{}, fmt.Errorf("%w: %d bytes left inside the record", ErrCorruptMessage, len(d.b))
	}
	return r, nil
}

// decompress returns the records bytes of a batch compressed with codec,
// never producing more than limit bytes.
func decompress(codec int8, data []byte, limit int) ([]byte, error) {
	var out []byte
	var err error
	switch codec {
	case CompressionNone:
		return data, nil
	case CompressionGzip:
		out, err = gunzip(data, limit)
	case CompressionSnappy:
		out, err = unsnappy(data, limit)
	case CompressionLZ4:
		out, err = readAllLimited(lz4.NewReader(bytes.NewReader(data)), limit)
	case CompressionZstd:
		out, err = unzstd(data, limit)
	default:
		return nil, fmt.Errorf("%w: unknown compression codec %d", ErrCorruptMessage, codec)
	}
	if err != nil {
		if errors.Is(err, ErrCorruptMessage) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: decompress codec %d: %v", ErrCorruptMessage, codec, err)
	}
	return out, nil
}

func errTooBig(limit int) error {
	return fmt.Errorf("%w: records decompress to more than %d bytes", ErrCorruptMessage, limit)
}

// readAllLimited reads r to EOF, failing beyond limit bytes.
func readAllLimited(r io.Reader, limit int) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(out) > limit {
		return nil, errTooBig(limit)
	}
	return out, nil
}

func gunzip(data []byte, limit int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return readAllLimited(zr, limit)
}

func newZstdDecoder(limit int) (*zstd.Decoder, error) {
	// A nil reader and DecodeAll only: no background goroutines.
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(2), zstd.WithDecoderMaxMemory(uint64(limit)))
}

var defaultZstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return newZstdDecoder(MaxDecompressedBytes)
})

func unzstd(data []byte, limit int) ([]byte, error) {
	d, err := defaultZstdDecoder()
	if limit != MaxDecompressedBytes {
		if d, err = newZstdDecoder(limit); err == nil {
			defer d.Close()
		}
	}
	if err != nil {
		return nil, err
	}
	return d.DecodeAll(data, nil)
}

// xerialMagic starts snappy data framed by the Java snappy library
// (xerial's snappy-java SnappyOutputStream), which Kafka clients produce.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderLen = 16 // magic, int32 version, int32 min compatible version

// unsnappy decodes raw snappy blocks and xerial-framed snappy (a header
// followed by int32-length-prefixed blocks).
func unsnappy(data []byte, limit int) ([]byte, error) {
	if !bytes.HasPrefix(data, xerialMagic) {
		return snappyBlock(nil, data, limit)
	}
	if len(data) < xerialHeaderLen {
		return nil, fmt.Errorf("%w: truncated xerial snappy header", ErrCorruptMessage)
	}
	data = data[xerialHeaderLen:]
	var out []byte
	for len(data) > 0 {
		if len(data) < 4 {
			return nil, fmt.Errorf("%w: truncated xerial snappy block length", ErrCorruptMessage)
		}
		n := int64(binary.BigEndian.Uint32(data))
		data = data[4:]
		if n > int64(len(data)) {
			return nil, fmt.Errorf("%w: xerial snappy block of %d bytes with %d left", ErrCorruptMessage, n, len(data))
		}
		var err error
		if out, err = snappyBlock(out, data[:n], limit); err != nil {
			return nil, err
		}
		data = data[n:]
	}
	return out, nil
}

// snappyBlock decodes one raw snappy block and appends it to dst.
func snappyBlock(dst, block []byte, limit int) ([]byte, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return nil, err
	}
	if n > limit-len(dst) {
		return nil, errTooBig(limit)
	}
	buf := make([]byte, n)
	// s2 decodes snappy blocks (s2 is a superset of the snappy format).
	dec, err := s2.Decode(buf, block)
	if err != nil {
		return nil, err
	}
	if dst == nil {
		return dec, nil
	}
	return append(dst, dec...), nil
}
