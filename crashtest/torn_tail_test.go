package crashtest

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// tornTail is one way of damaging the end of a partition's active segment
// after a crash.
type tornTail struct {
	name string
	// damage changes the segment file at path, whose batches are bs.
	damage func(t *testing.T, path string, bs []segmentBatch)
	// lost is how many batches at the end are expected to be gone; -1:
	// all of the active segment's.
	lost int
}

var tornTails = []tornTail{
	{"garbage appended", func(t *testing.T, path string, _ []segmentBatch) {
		r := rand.New(rand.NewPCG(1, 2))
		junk := make([]byte, 37)
		for i := range junk {
			junk[i] = byte(r.UintN(256))
		}
		appendFile(t, path, junk)
	}, 0},
	{"zeros appended (file extended, data never written)", func(t *testing.T, path string, _ []segmentBatch) {
		appendFile(t, path, make([]byte, 4096))
	}, 0},
	{"last batch cut short", func(t *testing.T, path string, bs []segmentBatch) {
		last := bs[len(bs)-1]
		if err := os.Truncate(path, last.pos+last.size-7); err != nil {
			t.Fatal(err)
		}
	}, 1},
	{"byte flipped in the last batch", func(t *testing.T, path string, bs []segmentBatch) {
		last := bs[len(bs)-1]
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var b [1]byte
		at := last.pos + last.size - 10 // inside the record's value
		if _, err := f.ReadAt(b[:], at); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0x40
		if _, err := f.WriteAt(b[:], at); err != nil {
			t.Fatal(err)
		}
	}, 1},
	{"half of a next batch written", func(t *testing.T, path string, bs []segmentBatch) {
		last := bs[len(bs)-1]
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		next := slices.Clone(data[last.pos : last.pos+last.size])
		binary.BigEndian.PutUint64(next, uint64(last.base+1))
		appendFile(t, path, next[:len(next)/2])
	}, 0},
	{"next batch header claims 2 GiB", func(t *testing.T, path string, bs []segmentBatch) {
		var hdr [61]byte
		binary.BigEndian.PutUint64(hdr[0:], uint64(bs[len(bs)-1].base+1))
		binary.BigEndian.PutUint32(hdr[8:], 0x7fffffff)
		hdr[16] = 2 // magic
		appendFile(t, path, hdr[:])
	}, 0},
	{"offset index entry pointing past the end", func(t *testing.T, path string, _ []segmentBatch) {
		appendFile(t, indexPath(path, ".index"), []byte{0, 0, 0x7f, 0xff, 0x7f, 0xff, 0xff, 0xff})
	}, 0},
	{"index files zero-extended", func(t *testing.T, path string, _ []segmentBatch) {
		appendFile(t, indexPath(path, ".index"), make([]byte, 1024))
		appendFile(t, indexPath(path, ".timeindex"), make([]byte, 1200))
	}, 0},
	{"index files missing", func(t *testing.T, path string, _ []segmentBatch) {
		for _, suffix := range []string{".index", ".timeindex"} {
			if err := os.Remove(indexPath(path, suffix)); err != nil {
				t.Fatal(err)
			}
		}
	}, 0},
	{"active segment emptied", func(t *testing.T, path string, _ []segmentBatch) {
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
	}, -1},
}

// indexPath returns the path of a segment's index file with the given
// suffix, from the path of its .log file.
func indexPath(logPath, suffix string) string {
	return strings.TrimSuffix(logPath, ".log") + suffix
}

// TestSIGKILLTornTail simulates torn writes: after a SIGKILL it damages the
// tail of each partition's active segment in a different way, restarts the
// broker, and checks that recovery cut the segment back to the end of its
// last valid batch, kept every earlier batch, and that new records get the
// next offsets and survive another crash.
func TestSIGKILLTornTail(t *testing.T) {
	const (
		topic   = "torn"
		batches = 30 // per partition, one record each
	)
	parts := int32(len(tornTails))
	b := newBroker(t)
	b.start()
	// Small segments: the damaged active segment follows rolled ones. A
	// small index interval: the active segment's index has entries.
	createTopic(t, b.addr(), topic, parts, map[string]*string{"segment.bytes": ptr("2048"), "index.interval.bytes": ptr("128")})

	want := make([][]string, parts) // expected values by partition, in offset order
	value := func(p int32, i int) string {
		v := fmt.Sprintf("torn-%d-%04d-", p, i)
		return v + strings.Repeat("v", 100-len(v))
	}
	produce := func(from, to int) {
		cl := newClient(t, b.addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerBatchCompression(kgo.NoCompression()))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for i := from; i < to; i++ {
			// One record per partition per request: one batch each.
			var rs []*kgo.Record
			for p := range parts {
				rs = append(rs, &kgo.Record{Partition: p, Value: []byte(value(p, i))})
			}
			for _, res := range cl.ProduceSync(ctx, rs...) {
				if res.Err != nil {
					t.Fatalf("produce %q: %v", short(string(res.Record.Value)), res.Err)
				}
				p := res.Record.Partition
				if res.Record.Offset != int64(len(want[p])) {
					t.Fatalf("partition %d: record %q acknowledged at offset %d, expected %d",
						p, short(string(res.Record.Value)), res.Record.Offset, len(want[p]))
				}
				want[p] = append(want[p], string(res.Record.Value))
			}
		}
		cl.Close()
	}
	produce(0, batches)
	b.kill()

	wantSize := make([]int64, parts)
	for p, tt := range tornTails {
		path, bs := activeSegment(t, b.dir, topic, int32(p))
		if len(bs) < 2 {
			t.Fatalf("partition %d: active segment %s has %d batches; the test needs at least 2", p, path, len(bs))
		}
		last := bs[len(bs)-1]
		wantSize[p] = last.pos + last.size
		if size := fileSize(t, path); size != wantSize[p] {
			t.Fatalf("partition %d: %s is %d bytes but its batches end at %d before any damage", p, path, size, wantSize[p])
		}
		switch tt.lost {
		case 1:
			wantSize[p] = last.pos
			want[p] = want[p][:len(want[p])-1]
		case -1:
			wantSize[p] = 0
			want[p] = want[p][:len(want[p])-len(bs)]
		}
		tt.damage(t, path, bs)
		t.Logf("partition %d: %s in %s (%d batches, last at position %d)", p, tt.name, filepath.Base(path), len(bs), last.pos)
	}

	b.start()
	for p, tt := range tornTails {
		path, bs := activeSegment(t, b.dir, topic, int32(p))
		if size := fileSize(t, path); size != wantSize[p] {
			t.Errorf("partition %d (%s): after recovery %s is %d bytes, expected %d (the end of the last valid batch)",
				p, tt.name, filepath.Base(path), size, wantSize[p])
		}
		if n := len(bs); n > 0 && bs[n-1].base+1 != int64(len(want[p])) {
			t.Errorf("partition %d (%s): the active segment ends at offset %d, expected %d", p, tt.name, bs[n-1].base, len(want[p])-1)
		}
	}
	recovered := readLog(t, b.addr(), topic, parts)
	checkValues(t, recovered, want, "after recovery")
	checkFetchAt(t, b.addr(), topic, want)
	if t.Failed() {
		t.FailNow()
	}
	oldPIDs := map[int64]bool{}
	for _, pl := range recovered {
		for _, bt := range pl.batches {
			oldPIDs[bt.producerID] = true
		}
	}

	// New records continue right after the kept ones and survive a crash.
	// The new producer must get a producer ID never handed out before the
	// crash (the broker persists ID blocks before using them).
	produce(batches, batches+3)
	b.kill()
	b.start()
	final := readLog(t, b.addr(), topic, parts)
	checkValues(t, final, want, "after new records and another SIGKILL")
	for p, pl := range final {
		for _, bt := range pl.batches[len(recovered[p].batches):] {
			if oldPIDs[bt.producerID] {
				t.Errorf("partition %d: the batch at offset %d has producer ID %d, already used before the crash", p, bt.base, bt.producerID)
			}
		}
	}
}

// checkValues fails the test unless each partition holds exactly want[p],
// from offset 0 on.
func checkValues(t *testing.T, logs []partitionLog, want [][]string, when string) {
	t.Helper()
	for p, pl := range logs {
		rs := pl.records()
		if pl.hwm != int64(len(want[p])) {
			t.Errorf("%s: partition %d (%s): high watermark %d, expected %d", when, p, tornTails[p].name, pl.hwm, len(want[p]))
		}
		for i := range max(len(rs), len(want[p])) {
			switch {
			case i >= len(rs):
				t.Errorf("%s: partition %d (%s): offset %d missing (expected %q)", when, p, tornTails[p].name, i, short(want[p][i]))
			case i >= len(want[p]):
				t.Errorf("%s: partition %d (%s): unexpected record %q at offset %d", when, p, tornTails[p].name, short(rs[i].value), rs[i].offset)
			case rs[i].value != want[p][i] || rs[i].offset != int64(i):
				t.Errorf("%s: partition %d (%s): offset %d holds %q, expected %q", when, p, tornTails[p].name, rs[i].offset, short(rs[i].value), short(want[p][i]))
			default:
				continue
			}
			break
		}
	}
}

// checkFetchAt fetches every partition at every offset, which goes through
// the (rebuilt) offset index, and checks the batch returned holds that
// offset with the expected value and the partition ends where want does.
func checkFetchAt(t *testing.T, addr, topic string, want [][]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := newClient(t, addr)
	defer cl.Close()
	id, err := topicID(ctx, cl, topic)
	if err != nil {
		t.Fatal(err)
	}
	for p, vs := range want {
		for off := int64(0); off <= int64(len(vs)); off++ {
			sp, err := fetchOnce(ctx, cl, topic, id, int32(p), off)
			if err != nil {
				t.Errorf("partition %d (%s): %v", p, tornTails[p].name, err)
				break
			}
			if off == int64(len(vs)) { // at the log end: nothing to return
				if len(sp.RecordBatches) != 0 || sp.HighWatermark != off {
					t.Errorf("partition %d (%s): fetch at the log end %d returned %d bytes, high watermark %d",
						p, tornTails[p].name, off, len(sp.RecordBatches), sp.HighWatermark)
				}
				break
			}
			var first int64
			if len(sp.RecordBatches) >= 8 {
				first = int64(binary.BigEndian.Uint64(sp.RecordBatches))
			}
			bs, err := parseBatches(sp.RecordBatches, first)
			if err != nil || len(bs) == 0 || bs[0].base > off || bs[0].lastOffset() < off {
				t.Errorf("partition %d (%s): fetch at %d returned batches %v (err %v), expected one holding offset %d",
					p, tornTails[p].name, off, batchRanges(bs), err, off)
				continue
			}
			if got := bs[0].records[off-bs[0].base].value; got != vs[off] {
				t.Errorf("partition %d (%s): fetch at %d: value %q, expected %q", p, tornTails[p].name, off, short(got), short(vs[off]))
			}
		}
	}
}

func batchRanges(bs []batch) []string {
	var out []string
	for _, b := range bs {
		out = append(out, fmt.Sprintf("%d-%d", b.base, b.lastOffset()))
	}
	return out
}

// segmentBatch is a batch found in a segment file.
type segmentBatch struct {
	pos, size int64
	base      int64
}

// activeSegment returns the path of the partition's last segment and its
// complete batches (read with our own scanner, not the broker's code). It
// stops at the first incomplete batch.
func activeSegment(t *testing.T, dir, topic string, p int32) (string, []segmentBatch) {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dir, topic+"-"+strconv.Itoa(int(p)), "*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("partition %d: no segment files (%v)", p, err)
	}
	slices.Sort(logs) // 20-digit zero-padded base offsets sort as numbers
	path := logs[len(logs)-1]
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var bs []segmentBatch
	for pos := int64(0); pos+12 <= int64(len(data)); {
		length := int64(int32(binary.BigEndian.Uint32(data[pos+8:])))
		size := 12 + length
		if length < 49 || pos+size > int64(len(data)) {
			break
		}
		bs = append(bs, segmentBatch{pos: pos, size: size, base: int64(binary.BigEndian.Uint64(data[pos:]))})
		pos += size
	}
	return path, bs
}

func appendFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
