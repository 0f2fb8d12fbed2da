package log

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testRec is a record to put in a test batch.
type testRec struct {
	key, value []byte
	ts         int64
	headers    []RecordHeader
}

// codecXerialSnappy asks buildBatch for snappy in the xerial framing that
// the Java client writes (stored with codec id 2 like raw snappy).
const codecXerialSnappy int8 = 100

// batchOpts tweaks buildBatch.
type batchOpts struct {
	codec         int8
	producerID    int64
	producerEpoch int16
	baseSequence  int32
	attrs         int16 // extra attribute bits (transactional, control)
	logAppendTime int64 // when > 0, mark LogAppendTime with this time
}

// buildBatch encodes recs as a RecordBatch v2 at base offset base.
func buildBatch(t testing.TB, base int64, recs []testRec, o batchOpts) []byte {
	t.Helper()
	if len(recs) == 0 {
		t.Fatal("buildBatch needs records")
	}
	baseTs, maxTs := recs[0].ts, recs[0].ts
	for _, r := range recs {
		baseTs = min(baseTs, r.ts)
		maxTs = max(maxTs, r.ts)
	}
	var raw []byte
	for i, r := range recs {
		var body []byte
		body = append(body, 0)
		body = binary.AppendVarint(body, r.ts-baseTs)
		body = binary.AppendVarint(body, int64(i))
		body = appendVarBytes(body, r.key)
		body = appendVarBytes(body, r.value)
		body = binary.AppendVarint(body, int64(len(r.headers)))
		for _, h := range r.headers {
			body = appendVarBytes(body, []byte(h.Key))
			body = appendVarBytes(body, h.Value)
		}
		raw = binary.AppendVarint(raw, int64(len(body)))
		raw = append(raw, body...)
	}
	codec := o.codec
	payload := compressForTest(t, codec, raw)
	if codec == codecXerialSnappy {
		codec = CompressionSnappy
	}
	if o.producerID == 0 {
		o.producerID, o.producerEpoch, o.baseSequence = -1, -1, -1
	}
	h := BatchHeader{
		BaseOffset:      base,
		Length:          int32(BatchHeaderSize - 12 + len(payload)),
		Magic:           2,
		Attributes:      int16(codec) | o.attrs,
		LastOffsetDelta: int32(len(recs) - 1),
		BaseTimestamp:   baseTs,
		MaxTimestamp:    maxTs,
		ProducerID:      o.producerID,
		ProducerEpoch:   o.producerEpoch,
		BaseSequence:    o.baseSequence,
		NumRecords:      int32(len(recs)),
	}
	b := h.AppendTo(make([]byte, 0, BatchHeaderSize+len(payload)))
	b = append(b, payload...)
	SetCRC(b)
	if o.logAppendTime > 0 {
		SetLogAppendTime(b, o.logAppendTime)
	}
	return b
}

func appendVarBytes(b, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(b, -1)
	}
	b = binary.AppendVarint(b, int64(len(v)))
	return append(b, v...)
}

var zstdEnc = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		panic(err)
	}
	return e
})

func compressForTest(t testing.TB, codec int8, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch codec {
	case CompressionNone:
		return raw
	case CompressionGzip:
		w := gzip.NewWriter(&buf)
		w.Write(raw)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case CompressionSnappy:
		return s2.EncodeSnappy(nil, raw)
	case codecXerialSnappy:
		buf.Write(xerialMagic)
		buf.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1})
		// Split into two blocks to exercise the framing loop.
		half := len(raw) / 2
		for _, part := range [][]byte{raw[:half], raw[half:]} {
			blk := s2.EncodeSnappy(nil, part)
			buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(blk))))
			buf.Write(blk)
		}
	case CompressionLZ4:
		w := lz4.NewWriter(&buf)
		w.Write(raw)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case CompressionZstd:
		return zstdEnc().EncodeAll(raw, nil)
	default:
		t.Fatalf("unknown codec %d", codec)
	}
	return buf.Bytes()
}

// simpleBatch builds an uncompressed batch of n records with values of
// valueSize bytes derived from the offsets, all with timestamp ts.
func simpleBatch(t testing.TB, base int64, n, valueSize int, ts int64) []byte {
	t.Helper()
	recs := make([]testRec, n)
	for i := range recs {
		v := bytes.Repeat([]byte{byte(base + int64(i))}, valueSize)
		recs[i] = testRec{key: []byte(fmt.Sprintf("k%d", base+int64(i))), value: v, ts: ts}
	}
	return buildBatch(t, base, recs, batchOpts{})
}

// testLogger writes the log's slog output to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// captureLogger records slog output for assertions.
type captureLogger struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *captureLogger) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *captureLogger) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (c *captureLogger) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(c, nil))
}

// fakeClock is an injectable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func openT(t testing.TB, dir string, cfg Config, clean bool) *Log {
	t.Helper()
	l, err := Open(dir, cfg, clean, testLogger(t))
	if err != nil {
		t.Fatalf("Open(%s, clean=%v): %v", dir, clean, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// appendT validates and appends one or more concatenated batches, patching
// their base offsets to continue the log first.
func appendT(t testing.TB, l *Log, buf []byte) []BatchHeader {
	t.Helper()
	hs, err := ValidateBatches(buf, 0)
	if err != nil {
		t.Fatalf("ValidateBatches: %v", err)
	}
	off := l.LogEndOffset()
	pos := 0
	for i := range hs {
		SetBaseOffset(buf[pos:], off)
		hs[i].BaseOffset = off
		off = hs[i].LastOffset() + 1
		pos += hs[i].Size()
	}
	if err := l.Append(buf, hs); err != nil {
		t.Fatalf("Append at %d: %v", hs[0].BaseOffset, err)
	}
	return hs
}

// crash abandons l as a kill -9 would: no fsync, no recovery point, no
// final index entries; only the file handles are closed.
func (l *Log) crash() {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	segs := l.segs
	l.mu.Unlock()
	close(l.stop)
	l.wg.Wait()
	for _, s := range segs {
		s.decRef()
	}
}

// segmentFiles lists the .log files in dir in order.
func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// readAllBatches returns the log's content from offset from by reading
// segment after segment.
func readAllBatches(t testing.TB, l *Log, from int64) []byte {
	t.Helper()
	var out []byte
	for from < l.LogEndOffset() {
		b, err := l.ReadBytes(from, 1<<30, true)
		if err != nil {
			t.Fatalf("ReadBytes(%d): %v", from, err)
		}
		if len(b) == 0 {
			t.Fatalf("ReadBytes(%d) returned nothing below LEO %d", from, l.LogEndOffset())
		}
		hs, err := ValidateBatches(b, 0)
		if err != nil {
			t.Fatalf("ReadBytes(%d) returned invalid batches: %v", from, err)
		}
		out = append(out, b...)
		from = hs[len(hs)-1].LastOffset() + 1
	}
	return out
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

var _ = io.EOF
