package partition

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/log"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Attribute bits of RecordBatch v2 used by the tests.
const (
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
)

// rb describes a RecordBatch v2 to build: producer fields, record count,
// extra attribute bits and the first record's CreateTime.
type rb struct {
	pid   int64
	epoch int16
	seq   int32
	n     int
	attrs int16
	ts    int64 // 0: a fixed default
}

// plain is a batch of a non-idempotent producer.
func plain(n int) rb { return rb{pid: -1, epoch: -1, seq: -1, n: n} }

// idem is a batch of idempotent producer pid.
func idem(pid int64, epoch int16, seq int32, n int) rb {
	return rb{pid: pid, epoch: epoch, seq: seq, n: n}
}

const defaultCreateTime = 1_700_000_000_000

// bytes encodes the batch with base offset 0 and a correct CRC. Record i has
// value "v<i>" and timestamp ts+i.
func (o rb) bytes() []byte {
	if o.ts == 0 {
		o.ts = defaultCreateTime
	}
	var recs []byte
	for i := 0; i < o.n; i++ {
		val := fmt.Sprintf("v%d", i)
		var r []byte
		r = append(r, 0)                            // record attributes
		r = binary.AppendVarint(r, int64(i))        // timestamp delta
		r = binary.AppendVarint(r, int64(i))        // offset delta
		r = binary.AppendVarint(r, -1)              // null key
		r = binary.AppendVarint(r, int64(len(val))) // value
		r = append(r, val...)
		r = binary.AppendVarint(r, 0) // no headers
		recs = binary.AppendVarint(recs, int64(len(r)))
		recs = append(recs, r...)
	}
	h := log.BatchHeader{
		Length:          int32(log.BatchHeaderSize - 12 + len(recs)),
		Magic:           2,
		Attributes:      o.attrs,
		LastOffsetDelta: int32(o.n - 1),
		BaseTimestamp:   o.ts,
		MaxTimestamp:    o.ts + int64(o.n-1),
		ProducerID:      o.pid,
		ProducerEpoch:   o.epoch,
		BaseSequence:    o.seq,
		NumRecords:      int32(o.n),
	}
	b := h.AppendTo(nil)
	b = append(b, recs...)
	log.SetCRC(b)
	return b
}

// request concatenates batches into one produce request record set.
func request(batches ...rb) []byte {
	var out []byte
	for _, b := range batches {
		out = append(out, b.bytes()...)
	}
	return out
}

// fakeClock is an injectable clock (Config.Log.Now).
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.UnixMilli(1_800_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testConfig() Config {
	return Config{Log: log.DefaultConfig(), MaxMessageBytes: 1 << 20, FlushMessages: 1,
		TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: math.MaxInt64, RetentionMs: -1, RetentionBytes: -1, MinInsyncReplicas: 1}
}

// openPartition opens the partition in dir and closes it when the test ends.
func openPartition(t *testing.T, dir string, cfg Config) *Partition {
	t.Helper()
	p, err := Open(dir, "topic", 0, cfg, false, discard())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// crash stops p as a killed process would leave it: the log's data is in
// the files, but no producer snapshot is written.
func crash(t *testing.T, p *Partition) {
	t.Helper()
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	if err := p.log.Close(); err != nil {
		t.Fatal(err)
	}
}

func mustAppend(t *testing.T, p *Partition, records []byte) AppendResult {
	t.Helper()
	res, err := p.Append(records)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if res.Durable != nil {
		if err := res.Durable(); err != nil {
			t.Fatalf("Durable: %v", err)
		}
	}
	return res
}

// storedBatch is one batch read back from the log.
type storedBatch struct {
	h      log.BatchHeader
	values []string
	raw    []byte
}

// readAll reads every batch of p's log from its start offset.
func readAll(t *testing.T, l *log.Log) []storedBatch {
	t.Helper()
	var out []storedBatch
	for off := l.LogStartOffset(); off < l.LogEndOffset(); {
		buf, err := l.ReadBytes(off, 1<<30, true)
		if err != nil {
			t.Fatalf("ReadBytes(%d): %v", off, err)
		}
		if len(buf) == 0 {
			t.Fatalf("ReadBytes(%d) returned nothing below the log end offset %d", off, l.LogEndOffset())
		}
		hs, err := log.ValidateBatches(buf, 0)
		if err != nil {
			t.Fatalf("stored batches at %d do not validate: %v", off, err)
		}
		pos := 0
		for _, h := range hs {
			raw := buf[pos : pos+h.Size()]
			recs, err := log.DecodeRecords(raw)
			if err != nil {
				t.Fatalf("decode batch at offset %d: %v", h.BaseOffset, err)
			}
			var vals []string
			for i, r := range recs {
				if r.Offset != h.BaseOffset+int64(i) {
					t.Fatalf("record %d of batch %d has offset %d", i, h.BaseOffset, r.Offset)
				}
				vals = append(vals, string(r.Value))
			}
			out = append(out, storedBatch{h: h, values: vals, raw: raw})
			pos += h.Size()
			off = h.LastOffset() + 1
		}
	}
	return out
}

// writeMarker writes a commit or abort marker for producer pid (epoch 0)
// and waits until it is durable.
func writeMarker(t *testing.T, p *Partition, pid int64, commit bool) {
	t.Helper()
	durable, err := p.WriteMarker(pid, 0, commit, 0)
	if err == nil {
		err = durable()
	}
	if err != nil {
		t.Fatalf("marker for %d (commit %v): %v", pid, commit, err)
	}
}
