package log

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
)

// coldLog fills a log of small segments: 400 batches, batch i holding
// 1+i%5 records of 50+(i*37)%300 bytes each with timestamp 1000+10i, an
// index entry per batch. Batch sizes differ, so each segment's entries are
// its own. It returns the batches' base offsets.
func coldLog(t *testing.T, dir string) (*Log, Config, []int64) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 16 << 10
	cfg.IndexIntervalBytes = 1
	l := openT(t, dir, cfg, false)
	var bases []int64
	for i := range 400 {
		hs := appendT(t, l, simpleBatch(t, 0, 1+i%5, 50+(i*37)%300, 1000+10*int64(i)))
		bases = append(bases, hs[0].BaseOffset)
	}
	return l, cfg, bases
}

// batchOf returns the base offset of the batch holding off.
func batchOf(bases []int64, off int64) int64 {
	i := sort.Search(len(bases), func(i int) bool { return bases[i] > off })
	return bases[i-1]
}

// checkColdReads reads every offset and looks up timestamps through the
// segments' entries, and checks that every rolled segment holds none in
// memory.
func checkColdReads(t *testing.T, l *Log, bases []int64) {
	t.Helper()
	l.mu.RLock()
	segs := append([]*segment(nil), l.segs...)
	for i, s := range segs {
		if last := i == len(segs)-1; s.cold.Load() == last || (!last && (s.offIdx.entries != nil || s.timeIdx.entries != nil)) {
			l.mu.RUnlock()
			t.Fatalf("segment %d of %d (base %d): cold %v, %d offset and %d time entries in memory",
				i, len(segs), s.base, s.cold.Load(), len(s.offIdx.entries), len(s.timeIdx.entries))
		}
	}
	l.mu.RUnlock()
	if len(segs) < 10 {
		t.Fatalf("only %d segments", len(segs))
	}
	// Forwards, then backwards: cached entries are found in and out of
	// recency order.
	leo := l.LogEndOffset()
	for i := int64(0); i < 2*leo; i++ {
		off := i
		if i >= leo {
			off = 2*leo - 1 - i
		}
		b, err := l.ReadBytes(off, 1, true)
		if err != nil {
			t.Fatalf("ReadBytes(%d): %v", off, err)
		}
		hs, err := ValidateBatches(b, 0)
		if err != nil || len(hs) != 1 || hs[0].BaseOffset != batchOf(bases, off) {
			t.Fatalf("ReadBytes(%d): %d batches from %v, err %v; want the batch at %d", off, len(hs), hs, err, batchOf(bases, off))
		}
	}
	for i := 0; i < 400; i += 7 {
		off, ts, ok, err := l.OffsetForTimestamp(1000 + 10*int64(i) - 5)
		if err != nil || !ok || off != bases[i] || ts != 1000+10*int64(i) {
			t.Fatalf("OffsetForTimestamp(%d) = %d, %d, %v, %v; want %d", 1000+10*i-5, off, ts, ok, err, bases[i])
		}
	}
}

func TestRolledSegmentsKeepIndexOnDisk(t *testing.T) {
	dir := t.TempDir()
	l, cfg, bases := coldLog(t, dir)
	checkColdReads(t, l, bases)
	if got := coldCacheBytes(); got == 0 || got > coldIndexBudget {
		t.Fatalf("cache holds %d bytes, budget %d", got, coldIndexBudget)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := coldCacheBytes(); got != 0 {
		t.Fatalf("closed log left %d bytes in the cache", got)
	}
	// After a restart, rolled segments start cold.
	checkColdReads(t, openT(t, dir, cfg, true), bases)
}

// TestColdIndexBudget reads through a cache that holds two segments'
// entries at most.
func TestColdIndexBudget(t *testing.T) {
	// The budget is read under the cache's lock.
	setBudget := func(b int64) (old int64) {
		coldCache.mu.Lock()
		defer coldCache.mu.Unlock()
		old, coldIndexBudget = coldIndexBudget, b
		return old
	}
	// A 16 KiB segment here has about 30 batches: 30 entries of 8 and 16
	// bytes.
	old := setBudget(2 * 30 * (offsetEntryMem + timeEntryMem))
	t.Cleanup(func() { setBudget(old) })
	l, _, bases := coldLog(t, t.TempDir())
	checkColdReads(t, l, bases)
	if got, budget := coldCacheBytes(), setBudget(old); got == 0 || got > budget {
		t.Fatalf("cache holds %d bytes, budget %d", got, budget)
	}
}

// TestColdSegmentWithBadIndexStillReads damages a rolled segment's index
// files: reads fall back to walking the segment from its first batch.
func TestColdSegmentWithBadIndexStillReads(t *testing.T) {
	dir := t.TempDir()
	l, _, bases := coldLog(t, dir)
	l.mu.RLock()
	s := l.segs[2]
	l.mu.RUnlock()
	s.dropColdEntries()
	if err := os.WriteFile(s.indexPath, []byte("not an index"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(s.timePath, 5); err != nil {
		t.Fatal(err)
	}
	var logged captureLogger
	for range 3 { // reported once, then served from the cache as empty
		if offs, times := s.coldEntries(s.size, logged.logger()); offs != nil || times != nil {
			t.Fatalf("damaged index decoded: %d, %d entries", len(offs), len(times))
		}
	}
	if n := strings.Count(logged.String(), "cannot read a rolled segment's index"); n != 1 {
		t.Fatalf("damaged index reported %d times:\n%s", n, logged.String())
	}
	checkColdReads(t, l, bases)
}

// TestColdReadsWhileRollingAndDeleting reads random offsets and timestamps
// of a log while it is appended to, rolled and trimmed by retention, with a
// cache too small for more than a segment, so entries are loaded, evicted
// and dropped as segments go (run with -race).
func TestColdReadsWhileRollingAndDeleting(t *testing.T) {
	coldCache.mu.Lock()
	old := coldIndexBudget
	coldIndexBudget = 40 * (offsetEntryMem + timeEntryMem)
	coldCache.mu.Unlock()
	t.Cleanup(func() {
		coldCache.mu.Lock()
		coldIndexBudget = old
		coldCache.mu.Unlock()
	})
	l, _, bases := coldLog(t, t.TempDir())
	var basesMu sync.Mutex
	stop := make(chan struct{})
	errc := make(chan error, 2)
	for r := range 2 {
		go func() {
			rng := uint64(r + 1)
			for {
				select {
				case <-stop:
					errc <- nil
					return
				default:
				}
				rng = rng*6364136223846793005 + 1442695040888963407
				lso, leo := l.LogStartOffset(), l.LogEndOffset()
				off := lso + int64(rng>>33)%(leo-lso)
				b, err := l.ReadBytes(off, 1, true)
				if errors.Is(err, ErrOffsetOutOfRange) {
					continue // retention moved the start meanwhile
				}
				basesMu.Lock()
				want := batchOf(bases, off)
				basesMu.Unlock()
				if hs, verr := ValidateBatches(b, 0); err != nil || verr != nil || len(hs) != 1 || hs[0].BaseOffset != want {
					errc <- fmt.Errorf("ReadBytes(%d): %d bytes, err %v, %v; want the batch at %d", off, len(b), err, verr, want)
					return
				}
				if _, _, _, err := l.OffsetForTimestamp(1000 + int64(rng>>40)%8000); err != nil {
					errc <- fmt.Errorf("OffsetForTimestamp: %w", err)
					return
				}
			}
		}()
	}
	for i := range 400 {
		// The base is recorded before the batch is visible: a reader may
		// pick an offset in it as soon as the log end offset moves.
		basesMu.Lock()
		bases = append(bases, l.LogEndOffset())
		basesMu.Unlock()
		if hs := appendT(t, l, simpleBatch(t, 0, 1+i%3, 60+(i*53)%200, 5000+10*int64(i))); hs[0].BaseOffset != bases[len(bases)-1] {
			t.Fatalf("batch appended at %d, recorded at %d", hs[0].BaseOffset, bases[len(bases)-1])
		}
		if i%50 == 49 {
			if _, err := l.DeleteOldSegments(-1, 150<<10); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if got, segs := coldCacheBytes(), l.NumSegments(); got > 40*(offsetEntryMem+timeEntryMem) || segs > 12 {
		t.Fatalf("cache holds %d bytes; %d segments left", got, segs)
	}
}
