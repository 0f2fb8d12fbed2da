package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// kvLog is a log for hand-written compaction scenarios: one record per
// batch unless said otherwise, timestamps from the fake clock.
type kvLog struct {
	t     *testing.T
	l     *Log
	dir   string
	cfg   Config
	clock *fakeClock
}

func newKVLog(t *testing.T) *kvLog {
	clock := newFakeClock()
	cfg := DefaultConfig()
	cfg.Now = clock.Now
	dir := t.TempDir()
	return &kvLog{t: t, l: openT(t, dir, cfg, true), dir: dir, cfg: cfg, clock: clock}
}

// put appends key=value (value nil: tombstone) and returns its offset.
func (k *kvLog) put(key string, value []byte) int64 {
	k.t.Helper()
	return k.putBatch(batchOpts{}, testRec{key: []byte(key), value: value})
}

func (k *kvLog) putBatch(o batchOpts, recs ...testRec) int64 {
	k.t.Helper()
	for i := range recs {
		if recs[i].ts == 0 {
			recs[i].ts = k.clock.Now().UnixMilli()
		}
	}
	return appendT(k.t, k.l, buildBatch(k.t, 0, recs, o))[0].BaseOffset
}

// roll starts a new segment unless the active one is empty.
func (k *kvLog) roll() {
	k.t.Helper()
	k.l.appendMu.Lock()
	defer k.l.appendMu.Unlock()
	l := k.l
	l.mu.RLock()
	active, leo := l.segs[len(l.segs)-1], l.leo
	l.mu.RUnlock()
	if active.size == 0 {
		return
	}
	if _, err := l.roll(active, leo); err != nil {
		k.t.Fatal(err)
	}
}

func (k *kvLog) clean(cfg CleanerConfig) CleanStats {
	k.t.Helper()
	if cfg.Now == nil {
		cfg.Now = k.clock.Now
	}
	st, err := k.l.Clean(context.Background(), cfg)
	if err != nil {
		k.t.Fatalf("Clean: %v", err)
	}
	return st
}

// records returns offset -> value of every record in the log, and the keys
// by offset.
func (k *kvLog) records() (map[int64]string, map[int64]string) {
	k.t.Helper()
	bs, _ := readBatches(k.t, k.l)
	vals, keys := map[int64]string{}, map[int64]string{}
	for _, b := range bs {
		recs, err := DecodeRecords(b)
		if err != nil {
			k.t.Fatal(err)
		}
		for _, r := range recs {
			v := string(r.Value)
			if r.Value == nil {
				v = "<tombstone>"
			}
			vals[r.Offset], keys[r.Offset] = v, string(r.Key)
		}
	}
	return vals, keys
}

func (k *kvLog) wantOffsets(what string, want ...int64) {
	k.t.Helper()
	vals, _ := k.records()
	if len(vals) != len(want) {
		k.t.Fatalf("%s: log has offsets %v, want %v", what, sortedKeys(vals), want)
	}
	for _, o := range want {
		if _, ok := vals[o]; !ok {
			k.t.Fatalf("%s: log has offsets %v, want %v", what, sortedKeys(vals), want)
		}
	}
}

func sortedKeys(m map[int64]string) []int64 {
	var ks []int64
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

func TestCleanBasic(t *testing.T) {
	k := newKVLog(t)
	k.put("a", []byte("1")) // 0
	k.put("b", []byte("1")) // 1
	k.roll()
	k.put("a", []byte("2")) // 2
	k.put("c", nil)         // 3: tombstone of a key never written
	k.roll()
	k.put("a", []byte("3")) // 4: in the active segment
	st := k.clean(CleanerConfig{DeleteRetentionMs: -1})
	if st.FirstDirtyOffset != 0 || st.CleanedUpTo != 4 || st.RecordsRemoved != 1 || st.SegmentsCleaned != 2 {
		t.Fatalf("stats %+v", st)
	}
	k.wantOffsets("after the first clean", 1, 2, 3, 4)
	// The active segment is never touched: a=2 stays until it rolls.
	k.roll()
	st = k.clean(CleanerConfig{DeleteRetentionMs: -1})
	if st.FirstDirtyOffset != 4 || st.CleanedUpTo != 5 {
		t.Fatalf("stats %+v", st)
	}
	k.wantOffsets("after the second clean", 1, 3, 4)
	if k.l.LogStartOffset() != 0 || k.l.LogEndOffset() != 5 {
		t.Fatalf("offsets [%d, %d)", k.l.LogStartOffset(), k.l.LogEndOffset())
	}
	// Reads in the gaps land on the next record.
	for off, want := range map[int64]int64{0: 1, 2: 3} {
		b, err := k.l.ReadBytes(off, 1, true)
		if err != nil {
			t.Fatal(err)
		}
		if h := parseHeader(b); h.LastOffset() != want {
			t.Fatalf("ReadBytes(%d) starts with the batch ending at %d, want %d", off, h.LastOffset(), want)
		}
	}
	// Nothing dirty: a clean does nothing.
	st = k.clean(CleanerConfig{DeleteRetentionMs: -1})
	if st.SegmentsCleaned != 0 || st.BytesRead != 0 || st.CleanedUpTo != 5 {
		t.Fatalf("stats of an idle clean %+v", st)
	}
}

func TestCleanTombstoneRetention(t *testing.T) {
	k := newKVLog(t)
	k.put("a", []byte("1")) // 0
	k.put("b", []byte("1")) // 1
	tsOff := k.put("a", nil)
	segMax := k.clock.Now().UnixMilli()
	k.roll()
	k.put("z", []byte("1"))
	const ret = 60_000
	k.clean(CleanerConfig{DeleteRetentionMs: ret})
	k.wantOffsets("tombstone fresh", 1, tsOff, 3)

	// The rule: gone once the segment's largest timestamp is older than
	// now - delete.retention.ms.
	k.clock.Advance(time.Duration(ret) * time.Millisecond)
	if now := k.clock.Now().UnixMilli(); segMax != now-ret {
		t.Fatalf("clock arithmetic: %d vs %d", segMax, now-ret)
	}
	k.roll()
	k.clean(CleanerConfig{DeleteRetentionMs: ret})
	k.wantOffsets("tombstone exactly at the horizon", 1, tsOff, 3)
	k.clock.Advance(time.Millisecond)
	k.put("y", []byte("1"))
	k.roll()
	st := k.clean(CleanerConfig{DeleteRetentionMs: ret})
	k.wantOffsets("tombstone past the horizon", 1, 3, 4)
	if st.RecordsRemoved != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Negative retention keeps tombstones forever.
	k.put("b", nil)
	k.roll()
	k.clock.Advance(365 * 24 * time.Hour)
	k.clean(CleanerConfig{DeleteRetentionMs: -1})
	k.wantOffsets("negative retention", 3, 4, 5)
}

func TestCleanMinCompactionLag(t *testing.T) {
	k := newKVLog(t)
	k.put("a", []byte("old")) // 0
	k.roll()
	k.clock.Advance(10 * time.Second)
	k.put("a", []byte("new")) // 1, 10s younger
	k.roll()
	k.put("b", []byte("x")) // 2: active
	lag := CleanerConfig{DeleteRetentionMs: -1, MinCompactionLagMs: 15_000}

	// Both records younger than the lag: nothing cleanable.
	if r, n := k.l.DirtyRatio(lag); r != 0 || n != 0 {
		t.Fatalf("DirtyRatio %v, %d within the lag", r, n)
	}
	st := k.clean(lag)
	if st.CleanedUpTo != 0 || st.SegmentsCleaned != 0 {
		t.Fatalf("cleaned within the lag: %+v", st)
	}
	// The first segment is old enough, the second is not: the range ends
	// before it, so a=old stays (nothing newer is in the map).
	k.clock.Advance(6 * time.Second)
	st = k.clean(lag)
	if st.CleanedUpTo != 1 {
		t.Fatalf("cleaned up to %d, want 1 (the too-young segment's base)", st.CleanedUpTo)
	}
	k.wantOffsets("lag covers the second segment", 0, 1, 2)
	k.clock.Advance(10 * time.Second)
	st = k.clean(lag)
	if st.FirstDirtyOffset != 1 || st.CleanedUpTo != 2 {
		t.Fatalf("stats %+v", st)
	}
	k.wantOffsets("lag passed", 1, 2)
}

// TestCleanSmallDedupeBuffer: a map too small for the dirty section cleans
// the prefix that fits, and repeated cleans finish the job.
func TestCleanSmallDedupeBuffer(t *testing.T) {
	k := newKVLog(t)
	const keys = 60
	for round := range 2 {
		for i := range keys {
			k.put(fmt.Sprintf("k%02d", i), []byte(fmt.Sprint(round)))
			if i%7 == 6 {
				k.roll()
			}
		}
	}
	k.roll()
	end := k.l.LogEndOffset()
	small := CleanerConfig{DeleteRetentionMs: -1, DedupeBufferBytes: 24 * 12} // 11 slots, 9 keys
	calls, prev := 0, int64(0)
	for prev < end {
		st := k.clean(small)
		calls++
		if st.FirstDirtyOffset != prev || st.CleanedUpTo <= prev {
			t.Fatalf("call %d: %+v after %d: no progress", calls, st, prev)
		}
		if st.CleanedUpTo < end && st.CleanedUpTo-prev != 9 {
			t.Fatalf("call %d cleaned %d offsets of distinct keys, want 9", calls, st.CleanedUpTo-prev)
		}
		prev = st.CleanedUpTo
		// Whatever has been cleaned: no key appears twice below it.
		vals, ks := k.records()
		seen := map[string]bool{}
		for _, off := range sortedKeys(vals) {
			if off >= prev {
				break
			}
			if seen[ks[off]] {
				t.Fatalf("call %d: key %s twice below %d", calls, ks[off], prev)
			}
			seen[ks[off]] = true
		}
	}
	if calls != (2*keys+8)/9 {
		t.Fatalf("%d calls", calls)
	}
	vals, _ := k.records()
	if len(vals) != keys {
		t.Fatalf("%d records left, want %d", len(vals), keys)
	}
	for off, v := range vals {
		if off < keys || v != "1" {
			t.Fatalf("offset %d value %s survived", off, v)
		}
	}
	// Nothing dirty: no map needed. Something dirty: 30 bytes hold no key.
	if _, err := k.l.Clean(context.Background(), CleanerConfig{DedupeBufferBytes: 30}); err != nil {
		t.Fatal(err)
	}
	k.put("x", []byte("1"))
	k.roll()
	if _, err := k.l.Clean(context.Background(), CleanerConfig{DedupeBufferBytes: 30}); err == nil {
		t.Fatal("a dedupe buffer of 30 bytes was accepted")
	}
}

func TestOffsetMap(t *testing.T) {
	if s := unsafe.Sizeof(offsetSlot{}); s != offsetMapEntryBytes {
		t.Fatalf("slot is %d bytes", s)
	}
	m, err := newOffsetMap(24*100, -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.slots) != 97 || m.maxKeys != 87 {
		t.Fatalf("%d slots, %d keys", len(m.slots), m.maxKeys)
	}
	for i := range m.maxKeys {
		if !m.put(hashKey([]byte(fmt.Sprint(i))), int64(i)) {
			t.Fatalf("key %d refused", i)
		}
	}
	if m.put(hashKey([]byte("one too many")), 1000) {
		t.Fatal("a full map took a new key")
	}
	if !m.put(hashKey([]byte("5")), 500) {
		t.Fatal("a full map refused an update")
	}
	for i := range m.maxKeys {
		off, ok := m.get(hashKey([]byte(fmt.Sprint(i))))
		want := int64(i)
		if i == 5 {
			want = 500
		}
		if !ok || off != want {
			t.Fatalf("key %d: %d, %v", i, off, ok)
		}
	}
	if _, ok := m.get(hashKey([]byte("one too many"))); ok {
		t.Fatal("a refused key is there")
	}
	if _, ok := m.get(hashKey(nil)); ok {
		t.Fatal("the empty key is there")
	}
	// Sized for the dirty section, within the buffer.
	if m, _ := newOffsetMap(1<<30, 10); len(m.slots) > 20 || m.maxKeys < 10 {
		t.Fatalf("map for 10 keys: %d slots, %d keys", len(m.slots), m.maxKeys)
	}
	if _, err := newOffsetMap(47, 10); err == nil {
		t.Fatal("a 1-slot buffer accepted")
	}
	for _, n := range []int64{2, 3, 4, 100, 7919, 7920} {
		p := largestPrimeAtMost(n)
		if !isPrime(p) || p > n || (p < n && isPrime(n)) {
			t.Fatalf("largestPrimeAtMost(%d) = %d", n, p)
		}
	}
}

// TestCleanThrottle checks the I/O rate with an injected clock and sleeper.
func TestCleanThrottle(t *testing.T) {
	for _, rate := range []float64{0, math.Inf(1), 200_000, 1_000_000} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			k := newKVLog(t)
			for i := range 300 {
				k.put(fmt.Sprintf("k%d", i%50), make([]byte, 200))
				if i%40 == 39 {
					k.roll()
				}
			}
			k.roll()
			var slept time.Duration
			sleeps := 0
			cfg := CleanerConfig{DeleteRetentionMs: -1, IOMaxBytesPerSecond: rate,
				sleep: func(_ context.Context, d time.Duration) error {
					slept += d
					sleeps++
					k.clock.Advance(d)
					return nil
				}}
			st := k.clean(cfg)
			io := st.BytesRead + st.BytesWritten
			if st.BytesRead == 0 || st.BytesWritten == 0 {
				t.Fatalf("stats %+v", st)
			}
			if rate == 0 || math.IsInf(rate, 1) {
				if sleeps != 0 {
					t.Fatalf("unlimited rate slept %d times", sleeps)
				}
				return
			}
			want := time.Duration(float64(io) / rate * float64(time.Second))
			if slept > want || slept < want-throttleMinSleep {
				t.Fatalf("%d bytes at %.0f B/s: slept %v, want %v", io, rate, slept, want)
			}
			if sleeps < 2 {
				t.Fatalf("slept only %d times", sleeps)
			}
		})
	}
}

func TestDirtyRatio(t *testing.T) {
	k := newKVLog(t)
	cfg := CleanerConfig{DeleteRetentionMs: -1}
	if r, n := k.l.DirtyRatio(cfg); r != 0 || n != 0 {
		t.Fatalf("empty log: %v, %d", r, n)
	}
	for i := range 30 {
		k.put(fmt.Sprintf("k%d", i%3), make([]byte, 100))
		if i%10 == 9 {
			k.roll()
		}
	}
	k.put("active", []byte("x"))
	rolled := k.l.Size() - segInfoSize(k.l, -1)
	if r, n := k.l.DirtyRatio(cfg); r != 1 || n != rolled {
		t.Fatalf("all dirty: %v, %d; want 1, %d", r, n, rolled)
	}
	k.clean(cfg)
	if r, n := k.l.DirtyRatio(cfg); r != 0 || n != 0 {
		t.Fatalf("all clean: %v, %d", r, n)
	}
	clean := k.l.Size() - segInfoSize(k.l, -1)
	k.roll()
	dirty := segInfoSize(k.l, -2)
	r, n := k.l.DirtyRatio(cfg)
	if n != dirty || math.Abs(r-float64(dirty)/float64(clean+dirty)) > 1e-9 {
		t.Fatalf("ratio %v, %d; want %d of %d", r, n, dirty, clean+dirty)
	}
	// The checkpoint survives a reopen.
	if err := k.l.Close(); err != nil {
		t.Fatal(err)
	}
	k.l = openT(t, k.dir, k.cfg, true)
	if r2, n2 := k.l.DirtyRatio(cfg); r2 != r || n2 != n {
		t.Fatalf("after reopen %v, %d; before %v, %d", r2, n2, r, n)
	}
}

// segInfoSize is the size of segment i (negative: from the end).
func segInfoSize(l *Log, i int) int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if i < 0 {
		i += len(l.segs)
	}
	return l.segs[i].size
}

// TestCleanKeepsProducersLastBatch: a producer's last batch stays, emptied,
// so its epoch and sequence survive; earlier emptied batches go; with
// ProducerIDExpirationMs an old producer's batch goes too.
func TestCleanKeepsProducersLastBatch(t *testing.T) {
	for _, expire := range []bool{false, true} {
		t.Run(fmt.Sprint(expire), func(t *testing.T) {
			k := newKVLog(t)
			p := func(seq int32) batchOpts {
				return batchOpts{producerID: 7, producerEpoch: 3, baseSequence: seq}
			}
			k.putBatch(p(0), testRec{key: []byte("a"), value: []byte("1")})                                                        // 0
			last := k.putBatch(p(1), testRec{key: []byte("b"), value: []byte("1")}, testRec{key: []byte("a"), value: []byte("2")}) // 1-2
			k.put("a", []byte("3"))                                                                                                // 3
			k.put("b", []byte("3"))                                                                                                // 4
			k.put("c", []byte("3"))                                                                                                // 5
			k.roll()
			k.put("z", []byte("active"))
			cfg := CleanerConfig{DeleteRetentionMs: -1}
			if expire {
				cfg.ProducerIDExpirationMs = 1000
				k.clock.Advance(1001 * time.Millisecond)
			}
			k.clean(cfg)
			k.wantOffsets("cleaned", 3, 4, 5, 6)
			var got []BatchHeader
			err := k.l.ScanBatches(0, func(h BatchHeader) error {
				if h.ProducerID == 7 {
					got = append(got, h)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if expire {
				if len(got) != 0 {
					t.Fatalf("expired producer's batches kept: %+v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("producer batches %+v, want only the last one", got)
			}
			h := got[0]
			if h.BaseOffset != last || h.LastOffsetDelta != 1 || h.NumRecords != 0 || h.BaseSequence != 1 ||
				h.ProducerEpoch != 3 || h.LastSequence() != 2 {
				t.Fatalf("kept batch %+v", h)
			}
		})
	}
}

// TestCleanLeavesTransactionsAlone: transactional and control batches are
// copied untouched and their records neither go nor supersede others.
func TestCleanLeavesTransactionsAlone(t *testing.T) {
	k := newKVLog(t)
	txn := batchOpts{producerID: 9, producerEpoch: 0, baseSequence: 0, attrs: attrTransactional}
	k.put("a", []byte("1"))                                          // 0
	k.putBatch(txn, testRec{key: []byte("a"), value: []byte("txn")}) // 1
	marker := batchOpts{producerID: 9, producerEpoch: 0, baseSequence: -1, attrs: attrTransactional | attrControl}
	k.putBatch(marker, testRec{key: []byte{0, 0, 0, 1}, value: []byte{0, 0, 0, 0, 0, 0}}) // 2: commit marker
	k.put("b", []byte("1"))                                                               // 3
	k.roll()
	k.put("a", []byte("2")) // 4
	k.put("b", []byte("2")) // 5
	k.roll()
	before, _ := readBatches(t, k.l)
	k.clean(CleanerConfig{DeleteRetentionMs: 0})
	k.wantOffsets("cleaned", 1, 2, 4, 5)
	after, hs := readBatches(t, k.l)
	for i, h := range hs {
		if h.IsTransactional() {
			orig := before[slicesIndexBase(before, h.BaseOffset)]
			if string(orig) != string(after[i]) {
				t.Fatalf("transactional batch at %d changed", h.BaseOffset)
			}
		}
	}
}

func slicesIndexBase(bs [][]byte, base int64) int {
	for i, b := range bs {
		if parseHeader(b).BaseOffset == base {
			return i
		}
	}
	return -1
}

// TestCleanSkipsSegmentsDeletedMeanwhile: retention deleting the segments
// of a group being cleaned makes the clean drop that group and go on.
func TestCleanSkipsSegmentsDeletedMeanwhile(t *testing.T) {
	k := newKVLog(t)
	for i := range 40 {
		k.put(fmt.Sprintf("k%d", i%4), make([]byte, 300))
		if i%10 == 9 {
			k.roll()
		}
	}
	k.cfg.SegmentBytes = 3000 // one group per segment
	if err := k.l.SetConfig(k.cfg); err != nil {
		t.Fatal(err)
	}
	first := true
	cfg := CleanerConfig{Now: k.clock.Now, DeleteRetentionMs: -1, hook: func(s cleanStep) error {
		if s == stepCleanedWritten && first {
			first = false
			if n, err := k.l.DeleteOldSegments(-1, k.l.Size()-segInfoSize(k.l, 0)); n != 1 || err != nil {
				t.Errorf("retention deleted %d: %v", n, err)
			}
		}
		return nil
	}}
	st, err := k.l.Clean(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.SegmentsCleaned != 3 || st.CleanedUpTo != 40 {
		t.Fatalf("stats %+v", st)
	}
	if k.l.LogStartOffset() != 10 {
		t.Fatalf("log start %d", k.l.LogStartOffset())
	}
	k.wantOffsets("cleaned after retention", 36, 37, 38, 39)
	if lo := leftovers(t, k.dir); len(lo) != 0 {
		t.Fatalf("left: %v", lo)
	}
}

// TestCloseStopsClean: Close cancels a Clean (here asleep in the throttle)
// and waits for it; the log reopens intact.
func TestCloseStopsClean(t *testing.T) {
	k := newKVLog(t)
	for i := range 50 {
		k.put(fmt.Sprintf("k%d", i%5), make([]byte, 100))
		if i%10 == 9 {
			k.roll()
		}
	}
	want := logBytes(t, k.l)
	asleep := make(chan struct{})
	var once sync.Once
	var woke atomic.Bool
	cfg := CleanerConfig{Now: k.clock.Now, IOMaxBytesPerSecond: 1, sleep: func(ctx context.Context, d time.Duration) error {
		once.Do(func() { close(asleep) })
		err := sleepCtx(ctx, d)
		woke.Store(true)
		return err
	}}
	done := make(chan error, 1)
	go func() {
		_, err := k.l.Clean(context.Background(), cfg)
		done <- err
	}()
	<-asleep
	if err := k.l.Close(); err != nil {
		t.Fatal(err)
	}
	if !woke.Load() {
		t.Fatal("Close returned while Clean was still asleep")
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Clean returned %v, want ErrClosed", err)
	}
	if _, err := k.l.Clean(context.Background(), cfg); !errors.Is(err, ErrClosed) {
		t.Fatalf("Clean after Close: %v", err)
	}
	if lo := leftovers(t, k.dir); len(lo) != 0 {
		t.Fatalf("left: %v", lo)
	}
	k.l = openT(t, k.dir, k.cfg, true)
	if string(logBytes(t, k.l)) != string(want) {
		t.Fatal("content changed")
	}
	// A cancelled context stops it too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := k.l.Clean(ctx, CleanerConfig{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Clean with a cancelled context: %v", err)
	}
}

// TestCleanConcurrentAppendReadRetention runs Clean in a loop while one
// goroutine appends, others read the whole log and retention deletes old
// segments. Reads must never fail or return a record that differs from the
// one appended at its offset; at the end the log must be exactly compacted.
func TestCleanConcurrentAppendReadRetention(t *testing.T) {
	k := newKVLog(t)
	k.cfg.SegmentBytes = 2000
	if err := k.l.SetConfig(k.cfg); err != nil {
		t.Fatal(err)
	}
	m := newCompactModel()
	var mmu sync.Mutex
	appended := func(off int64) (mrec, bool) {
		mmu.Lock()
		defer mmu.Unlock()
		if off >= int64(len(m.recs)) {
			return mrec{}, false
		}
		return m.recs[off], true
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	// The appender waits for a clean every 25 batches and wakes retention
	// every 5, so that all three interleave whatever the machine's speed.
	appDone := make(chan struct{})
	cleanDone := make(chan struct{})
	retain := make(chan struct{}, 1)
	wg.Add(1)
	go func() { // appender
		defer wg.Done()
		defer close(appDone)
		rng := rand.New(rand.NewPCG(1, 1))
		for i := 0; ctx.Err() == nil && i < 1500; i++ {
			mmu.Lock()
			m.appendRandomBatch(t, k.l, rng, k.clock.Now().UnixMilli(), 30, 4)
			mmu.Unlock()
			if i%5 == 4 {
				select {
				case retain <- struct{}{}:
				default:
				}
			}
			if i%25 == 24 {
				select {
				case <-cleanDone:
				case <-ctx.Done():
				}
			}
		}
	}()
	for r := range 2 {
		wg.Add(1)
		go func() { // reader
			defer wg.Done()
			for ctx.Err() == nil {
				from := k.l.LogStartOffset()
				for from < k.l.LogEndOffset() {
					b, err := k.l.ReadBytes(from, 4096, true)
					if errors.Is(err, ErrOffsetOutOfRange) && from < k.l.LogStartOffset() {
						break // retention got there first
					}
					if err != nil {
						errc <- fmt.Errorf("reader %d: ReadBytes(%d): %w", r, from, err)
						return
					}
					if len(b) == 0 {
						errc <- fmt.Errorf("reader %d: nothing at %d below %d", r, from, k.l.LogEndOffset())
						return
					}
					for len(b) > 0 {
						h := parseHeader(b)
						recs, err := DecodeRecords(b[:h.Size()])
						if err != nil {
							errc <- err
							return
						}
						for _, rec := range recs {
							want, ok := appended(rec.Offset)
							if !ok || string(want.key) != string(rec.Key) || string(want.value) != string(rec.Value) {
								errc <- fmt.Errorf("reader %d: record at %d differs from the appended one", r, rec.Offset)
								return
							}
						}
						from = h.LastOffset() + 1
						b = b[h.Size():]
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // retention keeps about 8 KB
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-retain:
			}
			if _, err := k.l.DeleteOldSegments(-1, 8000); err != nil {
				errc <- err
				return
			}
		}
	}()
	cleans, cleaned := 0, 0
	for running := true; running; {
		select {
		case <-appDone:
			running = false
		case err := <-errc:
			t.Fatal(err)
		default:
		}
		st, err := k.l.Clean(context.Background(), CleanerConfig{Now: k.clock.Now, DeleteRetentionMs: -1})
		if err != nil {
			t.Fatal(err)
		}
		cleans++
		cleaned += st.SegmentsCleaned
		select {
		case cleanDone <- struct{}{}:
		default:
		}
	}
	stop()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	// Quiescent: one last clean, then the exact check.
	k.roll()
	st := k.clean(CleanerConfig{DeleteRetentionMs: -1})
	lso := k.l.LogStartOffset()
	for i := range m.recs {
		if m.recs[i].offset < lso {
			m.recs[i].present = false
		}
	}
	m.applyClean(st.CleanedUpTo, nil, 0, -1)
	vals, _ := k.records()
	want := 0
	for _, r := range m.recs {
		if !r.present {
			continue
		}
		want++
		if v, ok := vals[r.offset]; !ok || (r.value != nil && v != string(r.value)) {
			t.Fatalf("record at %d missing or wrong after the final clean", r.offset)
		}
	}
	if len(vals) != want {
		t.Fatalf("%d records, want %d", len(vals), want)
	}
	t.Logf("%d cleans replaced %d segments while %d records were appended; %d left from offset %d", cleans, cleaned, len(m.recs), want, lso)
	if cleaned < 10 || lso == 0 {
		t.Fatalf("too little happened concurrently: %d segments cleaned, log start %d", cleaned, lso)
	}
	// No file left behind, none resurrected; the same content after a reopen.
	if files := segmentFiles(t, k.dir); len(files) != k.l.NumSegments() {
		t.Fatalf("%d segment files for %d segments: %v", len(files), k.l.NumSegments(), files)
	}
	if lo := leftovers(t, k.dir); len(lo) != 0 {
		t.Fatalf("left: %v", lo)
	}
	content := logBytes(t, k.l)
	if err := k.l.Close(); err != nil {
		t.Fatal(err)
	}
	k.l = openT(t, k.dir, k.cfg, true)
	if k.l.LogStartOffset() != lso || !bytes.Equal(logBytes(t, k.l), content) {
		t.Fatal("reopened log differs")
	}
}

// TestCleanFirstUncleanableOffset: the partition's cap (last stable offset,
// high watermark) ends the cleanable range, here inside a segment.
func TestCleanFirstUncleanableOffset(t *testing.T) {
	k := newKVLog(t)
	k.put("a", []byte("1")) // 0
	k.put("a", []byte("2")) // 1
	k.put("a", []byte("3")) // 2
	k.put("b", []byte("1")) // 3
	k.roll()
	cfg := CleanerConfig{DeleteRetentionMs: -1, FirstUncleanableOffset: 2}
	if r, n := k.l.DirtyRatio(cfg); r != 1 || n == 0 {
		t.Fatalf("DirtyRatio %v, %d", r, n)
	}
	st := k.clean(cfg)
	if st.CleanedUpTo != 2 {
		t.Fatalf("cleaned up to %d, want the cap 2", st.CleanedUpTo)
	}
	k.wantOffsets("capped", 1, 2, 3)
	st = k.clean(CleanerConfig{DeleteRetentionMs: -1})
	if st.FirstDirtyOffset != 2 || st.CleanedUpTo != 4 {
		t.Fatalf("stats %+v", st)
	}
	k.wantOffsets("uncapped", 2, 3)
}

func TestFirstDirtyTimestamp(t *testing.T) {
	k := newKVLog(t)
	if _, ok, err := k.l.FirstDirtyTimestamp(); ok || err != nil {
		t.Fatalf("empty log: %v, %v", ok, err)
	}
	t0 := k.clock.Now().UnixMilli()
	k.put("a", []byte("1"))
	if _, ok, _ := k.l.FirstDirtyTimestamp(); ok {
		t.Fatal("the active segment counts as dirty")
	}
	k.clock.Advance(time.Second)
	k.put("a", []byte("2"))
	k.roll()
	k.clock.Advance(time.Second)
	k.put("b", []byte("1"))
	k.roll()
	if ts, ok, err := k.l.FirstDirtyTimestamp(); !ok || err != nil || ts != t0 {
		t.Fatalf("got %d, %v, %v; want %d", ts, ok, err, t0)
	}
	k.clean(CleanerConfig{DeleteRetentionMs: -1, FirstUncleanableOffset: 1})
	if ts, ok, _ := k.l.FirstDirtyTimestamp(); !ok || ts != t0+1000 {
		t.Fatalf("after a clean up to 1: %d, %v; want %d", ts, ok, t0+1000)
	}
	k.clean(CleanerConfig{DeleteRetentionMs: -1})
	if _, ok, _ := k.l.FirstDirtyTimestamp(); ok {
		t.Fatal("dirty after a full clean")
	}
}
