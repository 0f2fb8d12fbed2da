package log

import (
	"os"
	"testing"
)

// coldLog fills a log of 13 small segments: 400 batches of 4 records
// (505 bytes each), an index entry per batch, timestamps rising by 10
// ms per batch. Batch i holds offsets 4i..4i+3 and timestamp 1000+10i.
func coldLog(t *testing.T, dir string) (*Log, Config) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 16 << 10
	cfg.IndexIntervalBytes = 1
	l := openT(t, dir, cfg, false)
	for i := range 400 {
		appendT(t, l, simpleBatch(t, 0, 4, 100, 1000+10*int64(i)))
	}
	return l, cfg
}

// checkColdReads reads every offset and looks up timestamps through the
// segments' entries, and checks that every rolled segment holds none in
// memory.
func checkColdReads(t *testing.T, l *Log) {
	t.Helper()
	l.mu.RLock()
	segs := append([]*segment(nil), l.segs...)
	for i, s := range segs {
		if last := i == len(segs)-1; s.cold == last || (!last && (s.offIdx.entries != nil || s.timeIdx.entries != nil)) {
			l.mu.RUnlock()
			t.Fatalf("segment %d of %d (base %d): cold %v, %d offset and %d time entries in memory",
				i, len(segs), s.base, s.cold, len(s.offIdx.entries), len(s.timeIdx.entries))
		}
	}
	l.mu.RUnlock()
	if len(segs) < 10 {
		t.Fatalf("only %d segments", len(segs))
	}
	for off := int64(0); off < 1600; off += 3 {
		b, err := l.ReadBytes(off, 1, true)
		if err != nil {
			t.Fatalf("ReadBytes(%d): %v", off, err)
		}
		hs, err := ValidateBatches(b, 0)
		if err != nil || len(hs) != 1 || hs[0].BaseOffset != off/4*4 {
			t.Fatalf("ReadBytes(%d): %d batches from %v, err %v", off, len(hs), hs, err)
		}
	}
	for i := int64(0); i < 400; i += 7 {
		off, ts, ok, err := l.OffsetForTimestamp(1000 + 10*i - 5)
		if err != nil || !ok || off != 4*i || ts != 1000+10*i {
			t.Fatalf("OffsetForTimestamp(%d) = %d, %d, %v, %v; want %d", 1000+10*i-5, off, ts, ok, err, 4*i)
		}
	}
}

func TestRolledSegmentsKeepIndexOnDisk(t *testing.T) {
	dir := t.TempDir()
	l, cfg := coldLog(t, dir)
	checkColdReads(t, l)
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
	checkColdReads(t, openT(t, dir, cfg, true))
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
	// A 16 KiB segment here has 32 batches: 32 entries of 8 and 16 bytes.
	old := setBudget(2 * 33 * (offsetEntryMem + timeEntryMem))
	t.Cleanup(func() { setBudget(old) })
	l, _ := coldLog(t, t.TempDir())
	checkColdReads(t, l)
	if got, budget := coldCacheBytes(), setBudget(old); got == 0 || got > budget {
		t.Fatalf("cache holds %d bytes, budget %d", got, budget)
	}
}

// TestColdSegmentWithBadIndexStillReads damages a rolled segment's index
// files: reads fall back to walking the segment from its first batch.
func TestColdSegmentWithBadIndexStillReads(t *testing.T) {
	dir := t.TempDir()
	l, _ := coldLog(t, dir)
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
	if offs, times := s.coldEntries(s.size); offs != nil || times != nil {
		t.Fatalf("damaged index decoded: %d, %d entries", len(offs), len(times))
	}
	checkColdReads(t, l)
}
