package partition

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/samsa-kafka/samsa/internal/log"
)

// hdr is the header of an idempotent batch of n records.
func hdr(pid int64, epoch int16, seq int32, n int32) log.BatchHeader {
	return log.BatchHeader{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq,
		LastOffsetDelta: n - 1, NumRecords: n, Magic: 2}
}

// TestProducerStateCheckUpdate drives producers.checkAll/update through
// sequences of batches; accepted batches get the next offsets.
func TestProducerStateCheckUpdate(t *testing.T) {
	const (
		ok     = "ok"
		dup    = "dup"
		order  = "out of order"
		fenced = "fenced"
	)
	type step struct {
		pid   int64
		epoch int16
		seq   int32
		n     int32
		want  string
		dupOf int // for dup: index of the step whose offsets come back
	}
	const max32 = math.MaxInt32
	cases := []struct {
		name  string
		steps []step
	}{
		{"in order then duplicates of each of the last five", []step{
			{1, 0, 0, 2, ok, 0}, {1, 0, 2, 2, ok, 0}, {1, 0, 4, 2, ok, 0}, {1, 0, 6, 2, ok, 0}, {1, 0, 8, 2, ok, 0},
			{1, 0, 0, 2, dup, 0}, {1, 0, 2, 2, dup, 1}, {1, 0, 4, 2, dup, 2}, {1, 0, 6, 2, dup, 3}, {1, 0, 8, 2, dup, 4},
			{1, 0, 10, 1, ok, 0},
		}},
		{"sixth-oldest batch is no longer a duplicate", []step{
			{1, 0, 0, 1, ok, 0}, {1, 0, 1, 1, ok, 0}, {1, 0, 2, 1, ok, 0}, {1, 0, 3, 1, ok, 0}, {1, 0, 4, 1, ok, 0},
			{1, 0, 5, 1, ok, 0},
			{1, 0, 0, 1, order, 0}, // evicted: now just a stale sequence
			{1, 0, 1, 1, dup, 1},   // oldest still remembered
			{1, 0, 5, 1, dup, 5},
			{1, 0, 6, 1, ok, 0},
			{1, 0, 1, 1, order, 0}, // evicted in turn
		}},
		{"out of order", []step{
			{1, 0, 0, 5, ok, 0},
			{1, 0, 6, 1, order, 0}, // gap
			{1, 0, 4, 2, order, 0}, // overlaps the last batch without matching it
			{1, 0, 0, 4, order, 0}, // same first sequence, different last
			{1, 0, 3, 1, order, 0}, // inside an earlier batch
			{1, 0, 5, 1, ok, 0},
		}},
		{"new epoch must start at sequence 0", []step{
			{1, 0, 0, 3, ok, 0},
			{1, 1, 3, 1, order, 0},
			{1, 1, 1, 1, order, 0},
			{1, 1, 0, 2, ok, 0},
			{1, 1, 2, 1, ok, 0},
			{1, 1, 0, 2, dup, 3},
		}},
		{"older epoch is fenced", []step{
			{1, 2, 0, 1, ok, 0},
			{1, 1, 1, 1, fenced, 0},
			{1, 1, 0, 1, fenced, 0}, // even what looks like a retry
			{1, 2, 1, 1, ok, 0},
			{1, 3, 0, 1, ok, 0},
			{1, 2, 2, 1, fenced, 0}, // the epoch that was current a moment ago
			{1, 3, 0, 1, dup, 4},
		}},
		{"a new epoch forgets the old epoch's batches", []step{
			{1, 0, 0, 1, ok, 0},
			{1, 1, 0, 1, ok, 0},
			{1, 1, 0, 1, dup, 1}, // the epoch-1 batch, not the epoch-0 one
			{1, 1, 1, 1, ok, 0},
		}},
		{"unknown producer accepts any sequence", []step{
			{7, 0, 1000, 2, ok, 0},
			{7, 0, 1002, 1, ok, 0},
			{7, 0, 1004, 1, order, 0},
			{8, 5, 42, 1, ok, 0}, // any epoch too
			{9, 0, max32, 1, ok, 0},
		}},
		{"producers are independent", []step{
			{1, 0, 0, 1, ok, 0},
			{2, 0, 0, 1, ok, 0},
			{1, 0, 1, 1, ok, 0},
			{2, 0, 0, 1, dup, 1},
			{2, 0, 1, 1, ok, 0},
			{1, 0, 1, 1, dup, 2},
		}},
		{"sequence wraps from MaxInt32 to 0", []step{
			{1, 0, max32 - 2, 2, ok, 0}, // last sequence MaxInt32-1
			{1, 0, max32, 1, ok, 0},     // exactly MaxInt32
			{1, 0, 0, 1, ok, 0},         // wraps
			{1, 0, max32, 1, dup, 1},
			{1, 0, 1, 1, ok, 0},
		}},
		{"batch spanning the wrap", []step{
			{1, 0, max32 - 1, 4, ok, 0}, // sequences MaxInt32-1, MaxInt32, 0, 1
			{1, 0, max32 - 1, 4, dup, 0},
			{1, 0, 0, 1, order, 0},
			{1, 0, max32, 1, order, 0},
			{1, 0, 2, 3, ok, 0},
			{1, 0, max32 - 1, 4, dup, 0},
		}},
		{"non-idempotent batches skip every check", []step{
			{-1, -1, -1, 3, ok, 0},
			{-1, -1, -1, 3, ok, 0}, // identical, still not a duplicate
			{-1, -1, 17, 1, ok, 0},
			{-1, 5, 0, 1, ok, 0},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := producers{}
			type offs struct{ first, last int64 }
			got := make([]offs, len(tc.steps))
			next := int64(100)
			for i, s := range tc.steps {
				h := hdr(s.pid, s.epoch, s.seq, s.n)
				d, isDup, err := ps.checkAll([]log.BatchHeader{h})
				switch s.want {
				case ok:
					if err != nil || isDup {
						t.Fatalf("step %d %+v: dup=%v err=%v, want accepted", i, s, isDup, err)
					}
					h.BaseOffset = next
					next += int64(s.n)
					got[i] = offs{h.BaseOffset, h.LastOffset()}
					ps.update(h, -1)
				case dup:
					if err != nil || !isDup {
						t.Fatalf("step %d %+v: dup=%v err=%v, want duplicate", i, s, isDup, err)
					}
					if w := got[s.dupOf]; d.FirstOffset != w.first || d.LastOffset != w.last {
						t.Fatalf("step %d: duplicate returned offsets %d-%d, want %d-%d (step %d)",
							i, d.FirstOffset, d.LastOffset, w.first, w.last, s.dupOf)
					}
				case order:
					if !errors.Is(err, ErrOutOfOrderSequence) || isDup {
						t.Fatalf("step %d %+v: dup=%v err=%v, want ErrOutOfOrderSequence", i, s, isDup, err)
					}
				case fenced:
					if !errors.Is(err, ErrInvalidProducerEpoch) || isDup {
						t.Fatalf("step %d %+v: dup=%v err=%v, want ErrInvalidProducerEpoch", i, s, isDup, err)
					}
				}
			}
			for pid, e := range ps {
				if pid < 0 {
					t.Fatalf("state kept for non-idempotent producer %d", pid)
				}
				if len(e.Batches) > dedupWindow {
					t.Fatalf("producer %d remembers %d batches, more than %d", pid, len(e.Batches), dedupWindow)
				}
			}
		})
	}
}

func TestProducerStateUpdate(t *testing.T) {
	ps := producers{}
	h := hdr(3, 4, 10, 5)
	h.BaseOffset = 50
	ps.update(h, 1234)
	want := &producerEntry{Epoch: 4, Batches: []batchMeta{{FirstSeq: 10, LastSeq: 14, FirstOffset: 50, LastOffset: 54, Timestamp: 1234}}}
	if !reflect.DeepEqual(ps[3], want) {
		t.Fatalf("entry %+v, want %+v", ps[3], want)
	}
	d, isDup, err := ps.checkAll([]log.BatchHeader{hdr(3, 4, 10, 5)})
	if err != nil || !isDup || d.Timestamp != 1234 {
		t.Fatalf("retry: %+v %v %v; want the original LogAppendTime 1234", d, isDup, err)
	}

	// Control batches (transaction markers) carry an epoch but no
	// sequences: they can raise (fence) the epoch, never add batches.
	c := hdr(3, 5, -1, 1)
	c.Attributes = attrControl
	ps.update(c, -1)
	if e := ps[3]; e == nil || e.Epoch != 5 || len(e.Batches) != 0 {
		t.Fatalf("marker with a higher epoch: %+v", e)
	}
	// Non-idempotent batches do not create state.
	ps.update(hdr(-1, -1, -1, 1), -1)
	if len(ps) != 1 {
		t.Fatalf("state has %d producers, want 1", len(ps))
	}
}

func TestProducerSnapshotRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ps := producers{
		1: {Epoch: 0, Batches: []batchMeta{{0, 4, 10, 14, -1}, {5, 5, 20, 20, -1}}},
		77: {Epoch: 3, Batches: []batchMeta{
			{math.MaxInt32 - 1, 1, 100, 103, 1_700_000_000_123},
		}},
	}
	if err := ps.save(dir, 104, newTxnState()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, snapshotFile+".tmp")); !os.IsNotExist(err) {
		t.Fatalf("temporary snapshot file left behind: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, snapshotFile))
	if err != nil {
		t.Fatal(err)
	}
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("snapshot is not JSON: %v\n%s", err, data)
	}
	if s.Offset != 104 || !reflect.DeepEqual(producers(s.Producers), ps) {
		t.Fatalf("snapshot round trip: offset %d producers %+v", s.Offset, s.Producers)
	}
	// A later save replaces the file.
	if err := (producers{}).save(dir, 200, newTxnState()); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(filepath.Join(dir, snapshotFile))
	s = snapshot{}
	if err := json.Unmarshal(data, &s); err != nil || s.Offset != 200 || len(s.Producers) != 0 {
		t.Fatalf("second save: %+v, %v", s, err)
	}
}

func TestProducerSnapshotSaveError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	if err := (producers{}).save(dir, 1, newTxnState()); err == nil {
		t.Fatal("save into a missing directory succeeded")
	}
}

func openLog(t *testing.T, dir string) *log.Log {
	t.Helper()
	l, err := log.Open(dir, log.DefaultConfig(), false, discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// appendRaw appends batches straight to a log, bypassing the partition's
// checks (for batches the partition would refuse, such as control batches).
func appendRaw(t *testing.T, l *log.Log, b []byte) {
	t.Helper()
	hs, err := log.ValidateBatches(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	next := l.LogEndOffset()
	pos := 0
	for i := range hs {
		log.SetBaseOffset(b[pos:], next)
		hs[i].BaseOffset = next
		next = hs[i].LastOffset() + 1
		pos += hs[i].Size()
	}
	if err := l.Append(b, hs); err != nil {
		t.Fatal(err)
	}
}

// TestLoadProducersFromLog rebuilds producer state from the batches of a
// real log when there is no snapshot.
func TestLoadProducersFromLog(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir)
	appendRaw(t, l, request(idem(1, 0, 0, 3)))  // 0-2
	appendRaw(t, l, request(plain(2)))          // 3-4
	appendRaw(t, l, request(idem(2, 1, 10, 1))) // 5
	for i := range int32(6) {                   // 6-11: one more than the window
		appendRaw(t, l, request(idem(1, 0, 3+i, 1)))
	}
	appendRaw(t, l, log.EncodeBatch(log.BatchSpec{ProducerID: 3, ProducerEpoch: 0, Transactional: true, Control: true},
		[]log.Record{{Key: []byte{0, 0, 0, controlCommit}, Value: []byte{0, 0, 0, 0, 0, 0}}})) // 12: a commit marker
	lat := idem(4, 2, 0, 2)
	lat.attrs = attrLogAppendTime
	appendRaw(t, l, request(lat)) // 13-14, MaxTimestamp = ts+1

	ps, _, err := loadProducers(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	want := producers{
		1: {Epoch: 0, Batches: []batchMeta{
			{4, 4, 7, 7, -1}, {5, 5, 8, 8, -1}, {6, 6, 9, 9, -1}, {7, 7, 10, 10, -1}, {8, 8, 11, 11, -1},
		}},
		2: {Epoch: 1, Batches: []batchMeta{{10, 10, 5, 5, -1}}},
		3: {Epoch: 0}, // known from its marker
		4: {Epoch: 2, Batches: []batchMeta{{0, 1, 13, 14, defaultCreateTime + 1}}},
	}
	if !reflect.DeepEqual(ps, want) {
		t.Fatalf("rebuilt state:\n%s\nwant\n%s", dump(ps), dump(want))
	}
}

func dump(ps producers) string {
	b, _ := json.MarshalIndent(ps, "", " ")
	return string(b)
}

func TestLoadProducersEmptyLog(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir)
	ps, _, err := loadProducers(dir, l)
	if err != nil || len(ps) != 0 {
		t.Fatalf("empty log: %v, %v", ps, err)
	}
}

// saveSnapshotT writes a snapshot file by hand.
func saveSnapshotT(t *testing.T, dir string, offset int64, ps producers) {
	t.Helper()
	if err := ps.save(dir, offset, newTxnState()); err != nil {
		t.Fatal(err)
	}
}

// A snapshot carries the state up to its offset; the batches after it are
// scanned. The marker producer 99 exists only in the snapshot, which proves
// the snapshot was used.
func TestLoadProducersSnapshotPlusTail(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir)
	appendRaw(t, l, request(idem(1, 0, 0, 2))) // 0-1
	appendRaw(t, l, request(idem(1, 0, 2, 2))) // 2-3
	marker := &producerEntry{Epoch: 9, Batches: []batchMeta{{0, 0, 1, 1, -1}}}
	saveSnapshotT(t, dir, 2, producers{1: {Epoch: 0, Batches: []batchMeta{{0, 1, 0, 1, -1}}}, 99: marker})

	ps, _, err := loadProducers(dir, l)
	if err != nil {
		t.Fatal(err)
	}
	want := producers{
		1:  {Epoch: 0, Batches: []batchMeta{{0, 1, 0, 1, -1}, {2, 3, 2, 3, -1}}},
		99: marker,
	}
	if !reflect.DeepEqual(ps, want) {
		t.Fatalf("state:\n%s\nwant\n%s", dump(ps), dump(want))
	}

	// Snapshot exactly at the log end: nothing to scan.
	saveSnapshotT(t, dir, 4, producers{99: marker})
	ps, _, err = loadProducers(dir, l)
	if err != nil || !reflect.DeepEqual(ps, producers{99: marker}) {
		t.Fatalf("snapshot at log end: %s, %v", dump(ps), err)
	}
}

// Snapshots that do not fit the log are ignored and the state is rebuilt.
func TestLoadProducersUnusableSnapshot(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir)
	for i := range int32(4) {
		appendRaw(t, l, request(idem(1, 0, i*2, 2))) // 0-1, 2-3, 4-5, 6-7
	}
	full := producers{1: {Epoch: 0, Batches: []batchMeta{{0, 1, 0, 1, -1}, {2, 3, 2, 3, -1}, {4, 5, 4, 5, -1}, {6, 7, 6, 7, -1}}}}
	bogus := producers{99: {Epoch: 1, Batches: []batchMeta{{0, 0, 0, 0, -1}}}}
	path := filepath.Join(dir, snapshotFile)

	saveSnapshotT(t, dir, 9, bogus) // beyond the log end (log truncated after it)
	if ps, _, err := loadProducers(dir, l); err != nil || !reflect.DeepEqual(ps, full) {
		t.Fatalf("snapshot past log end: %s, %v", dump(ps), err)
	}
	for name, content := range map[string]string{
		"truncated":  `{"offset":2,"producers":{"99":{"epo`,
		"not json":   "\x00\x01garbage",
		"wrong type": `{"offset":"two"}`,
	} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if ps, _, err := loadProducers(dir, l); err != nil || !reflect.DeepEqual(ps, full) {
			t.Fatalf("%s snapshot: %s, %v", name, dump(ps), err)
		}
	}

	// Below the log start offset: retention removed what it describes; the
	// state is rebuilt from the log start offset.
	if err := l.SetLogStartOffset(4); err != nil {
		t.Fatal(err)
	}
	saveSnapshotT(t, dir, 2, bogus)
	want := producers{1: {Epoch: 0, Batches: []batchMeta{{4, 5, 4, 5, -1}, {6, 7, 6, 7, -1}}}}
	if ps, _, err := loadProducers(dir, l); err != nil || !reflect.DeepEqual(ps, want) {
		t.Fatalf("snapshot below log start: %s, %v", dump(ps), err)
	}
}
