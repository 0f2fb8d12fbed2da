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
	// lost is how many batches at the end are expected to be gone.
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
	// Small segments: the damaged active segment follows rolled ones.
	createTopic(t, b.addr(), topic, parts, map[string]*string{"segment.bytes": ptr("2048")})

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
		if tt.lost == 1 {
			wantSize[p] = last.pos
			want[p] = want[p][:len(want[p])-1]
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
	checkValues(t, readLog(t, b.addr(), topic, parts), want, "after recovery")
	if t.Failed() {
		t.FailNow()
	}

	// New records continue right after the kept ones and survive a crash.
	produce(batches, batches+3)
	b.kill()
	b.start()
	checkValues(t, readLog(t, b.addr(), topic, parts), want, "after new records and another SIGKILL")
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
