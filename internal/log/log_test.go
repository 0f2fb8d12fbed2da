package log

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// model is what a test appended, batch by batch.
type model struct {
	batches [][]byte
	hs      []BatchHeader
}

func (m *model) add(b []byte, hs []BatchHeader) {
	pos := 0
	for _, h := range hs {
		m.batches = append(m.batches, append([]byte{}, b[pos:pos+h.Size()]...))
		m.hs = append(m.hs, h)
		pos += h.Size()
	}
}

// containing returns the index of the first batch whose last offset >= off.
func (m *model) containing(off int64) int {
	i, _ := slices.BinarySearchFunc(m.hs, off, func(h BatchHeader, off int64) int {
		if h.LastOffset() < off {
			return -1
		}
		return 1
	})
	return i
}

func (m *model) all() []byte { return bytes.Join(m.batches, nil) }

// fillLog appends n randomly sized batches (sometimes several per Append).
func fillLog(t testing.TB, l *Log, m *model, rng *rand.Rand, n int, ts func() int64) {
	t.Helper()
	for done := 0; done < n; {
		per := 1 + rng.IntN(3)
		var buf []byte
		for j := 0; j < per && done < n; j++ {
			buf = append(buf, simpleBatch(t, 0, 1+rng.IntN(5), 10+rng.IntN(300), ts())...)
			done++
		}
		hs := appendT(t, l, buf)
		m.add(buf, hs)
	}
}

func smallConfig() Config {
	c := DefaultConfig()
	c.SegmentBytes = 4096
	c.IndexIntervalBytes = 256
	return c
}

// checkIndexes verifies every offset index entry points at the batch it
// names and that time index entries grow.
func checkIndexes(t *testing.T, l *Log) {
	t.Helper()
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, s := range l.segs {
		hr := newHeaderReader(s.log, s.logPath, s.size)
		for _, e := range s.offIdx.entries {
			h, err := hr.header(int64(e.pos))
			if err != nil {
				t.Fatalf("%s: entry %+v: %v", s.indexPath, e, err)
			}
			if h.LastOffset() != s.base+int64(e.relOffset) {
				t.Fatalf("%s: entry %+v but batch there ends at %d", s.indexPath, e, h.LastOffset())
			}
		}
		hr.release()
		for i := 1; i < len(s.timeIdx.entries); i++ {
			if s.timeIdx.entries[i].ts <= s.timeIdx.entries[i-1].ts {
				t.Fatalf("%s: time entries not increasing: %+v", s.timePath, s.timeIdx.entries)
			}
		}
	}
}

// checkReads reads at every offset and compares with the model.
func checkReads(t *testing.T, l *Log, m *model) {
	t.Helper()
	leo := l.LogEndOffset()
	if want := m.hs[len(m.hs)-1].LastOffset() + 1; leo != want {
		t.Fatalf("LEO %d, want %d", leo, want)
	}
	l.mu.RLock()
	var bases []int64
	for _, s := range l.segs {
		bases = append(bases, s.base)
	}
	l.mu.RUnlock()
	for off := l.LogStartOffset(); off < leo; off++ {
		k := m.containing(off)
		// Exactly the containing batch.
		got, err := l.ReadBytes(off, 1, true)
		if err != nil {
			t.Fatalf("ReadBytes(%d, 1, true): %v", off, err)
		}
		if !bytes.Equal(got, m.batches[k]) {
			t.Fatalf("ReadBytes(%d, 1, true): got %d bytes, want batch %d (%d bytes)", off, len(got), k, len(m.batches[k]))
		}
		// Everything to the end of the segment.
		got, err = l.ReadBytes(off, 1<<30, false)
		if err != nil {
			t.Fatal(err)
		}
		j := k
		for n := 0; n < len(got); j++ {
			if j >= len(m.batches) || !bytes.Equal(got[n:n+len(m.batches[j])], m.batches[j]) {
				t.Fatalf("ReadBytes(%d) diverges from the model at batch %d", off, j)
			}
			n += len(m.batches[j])
		}
		if j < len(m.batches) && !slices.Contains(bases, m.hs[j].BaseOffset) {
			t.Fatalf("ReadBytes(%d) stopped at batch %d (offset %d), not at a segment end", off, j, m.hs[j].BaseOffset)
		}
	}
	if r, err := l.Read(leo, 1000, true); err != nil || r.Size != 0 || r.File != nil {
		t.Fatalf("Read(LEO) = %+v, %v; want empty", r, err)
	}
	for _, off := range []int64{-1, l.LogStartOffset() - 1, leo + 1, leo + 1000} {
		if off >= l.LogStartOffset() && off <= leo {
			continue
		}
		if _, err := l.Read(off, 1000, true); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("Read(%d) err = %v, want ErrOffsetOutOfRange", off, err)
		}
	}
	if got := readAllBatches(t, l, l.LogStartOffset()); l.LogStartOffset() == 0 && !bytes.Equal(got, m.all()) {
		t.Fatal("reading the whole log differs from what was appended")
	}
}

func TestAppendReadAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, smallConfig(), false)
	var m model
	rng := rand.New(rand.NewPCG(1, 2))
	ts := int64(1000)
	fillLog(t, l, &m, rng, 150, func() int64 { ts += int64(rng.IntN(5)) - 1; return ts })
	if n := l.NumSegments(); n < 5 {
		t.Fatalf("only %d segments; the test wants rolls", n)
	}
	var total int64
	for _, f := range segmentFiles(t, dir) {
		size := fileSize(t, f)
		total += size
		if size > 4096 {
			// Only allowed for a segment holding a single append.
			t.Logf("segment %s has %d bytes", filepath.Base(f), size)
		}
	}
	if total != l.Size() || total != int64(len(m.all())) {
		t.Fatalf("Size %d, files %d, appended %d", l.Size(), total, len(m.all()))
	}
	checkIndexes(t, l)
	checkReads(t, l, &m)
}

func TestSegmentSizeLimit(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	l := openT(t, dir, cfg, false)
	// 1000-byte batches: four fit in 4096 bytes, the fifth rolls.
	b := simpleBatch(t, 0, 1, 1000-BatchHeaderSize-16, 1)
	size := len(b)
	for range 10 {
		appendT(t, l, append([]byte{}, b...))
	}
	per := int(cfg.SegmentBytes) / size
	files := segmentFiles(t, dir)
	if want := (10 + per - 1) / per; len(files) != want {
		t.Fatalf("%d segments, want %d", len(files), want)
	}
	for i, f := range files[:len(files)-1] {
		if got := fileSize(t, f); got != int64(per*size) {
			t.Fatalf("segment %d has %d bytes, want %d", i, got, per*size)
		}
	}
	// A batch bigger than a segment goes alone into a fresh one.
	big := simpleBatch(t, 0, 1, 6000, 1)
	appendT(t, l, big)
	appendT(t, l, append([]byte{}, b...))
	files = segmentFiles(t, dir)
	if got := fileSize(t, files[len(files)-2]); got != int64(len(big)) {
		t.Fatalf("big batch segment has %d bytes, want %d", got, len(big))
	}
}

func TestRollByTime(t *testing.T) {
	clock := newFakeClock()
	cfg := DefaultConfig()
	cfg.SegmentMs = 1000
	cfg.Now = clock.Now
	l := openT(t, t.TempDir(), cfg, false)
	appendT(t, l, simpleBatch(t, 0, 1, 10, clock.Now().UnixMilli()))
	clock.Advance(600 * time.Millisecond)
	appendT(t, l, simpleBatch(t, 0, 1, 10, clock.Now().UnixMilli()))
	if n := l.NumSegments(); n != 1 {
		t.Fatalf("%d segments before segment.ms passed", n)
	}
	clock.Advance(500 * time.Millisecond)
	appendT(t, l, simpleBatch(t, 0, 1, 10, clock.Now().UnixMilli()))
	if n := l.NumSegments(); n != 2 {
		t.Fatalf("%d segments after segment.ms passed, want 2", n)
	}
	// The new segment's age counts from its own first batch.
	clock.Advance(900 * time.Millisecond)
	appendT(t, l, simpleBatch(t, 0, 1, 10, clock.Now().UnixMilli()))
	if n := l.NumSegments(); n != 2 {
		t.Fatalf("%d segments, want 2", n)
	}
}

// TestRollJitter: with segment.jitter.ms each segment rolls a random time
// (below min(segment.jitter.ms, segment.ms)) before segment.ms, drawn per
// segment; without it every segment lives exactly segment.ms.
func TestRollJitter(t *testing.T) {
	lifetimes := func(jitterMs int64) []int64 {
		clock := newFakeClock()
		cfg := DefaultConfig()
		cfg.SegmentMs, cfg.SegmentJitterMs, cfg.Now = 1000, jitterMs, clock.Now
		l := openT(t, t.TempDir(), cfg, false)
		var out []int64
		born := clock.Now()
		segs := 1
		for len(out) < 40 {
			appendT(t, l, simpleBatch(t, 0, 1, 10, clock.Now().UnixMilli()))
			if n := l.NumSegments(); n != segs {
				segs = n
				out = append(out, clock.Now().Sub(born).Milliseconds())
				born = clock.Now()
			}
			clock.Advance(10 * time.Millisecond)
		}
		return out
	}
	for _, ms := range lifetimes(0) {
		if ms != 1010 {
			t.Fatalf("without jitter a segment lived %d ms, want 1010 (the first append after segment.ms)", ms)
		}
	}
	for _, jitter := range []int64{1000, 1 << 40} { // the second is capped at segment.ms
		got := lifetimes(jitter)
		distinct := map[int64]bool{}
		for _, ms := range got {
			if ms < 10 || ms > 1010 {
				t.Fatalf("jitter %d: a segment lived %d ms, want 10-1010", jitter, ms)
			}
			distinct[ms] = true
		}
		if len(distinct) < 5 {
			t.Errorf("jitter %d: segment lifetimes %v: hardly any jitter", jitter, got)
		}
	}
}

func TestRollByIndexFull(t *testing.T) {
	cases := []struct {
		name       string
		increasing bool
		perSegment int
	}{
		// 24 bytes: 3 offset entries, 2 time entries. The first batch of a
		// segment never gets an entry; every later one does.
		{"time index fills first", true, 3},
		{"offset index fills first", false, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.SegmentIndexBytes = 24
			cfg.IndexIntervalBytes = 1
			l := openT(t, t.TempDir(), cfg, false)
			var m model
			for i := range 24 {
				ts := int64(1000)
				if c.increasing {
					ts += int64(i)
				}
				b := simpleBatch(t, 0, 2, 10, ts)
				m.add(b, appendT(t, l, b))
			}
			if want := 24 / c.perSegment; l.NumSegments() != want {
				t.Fatalf("%d segments, want %d", l.NumSegments(), want)
			}
			l.mu.RLock()
			for _, s := range l.segs {
				if n := len(s.offIdx.entries); n > 3 {
					t.Errorf("segment %d has %d offset entries", s.base, n)
				}
			}
			l.mu.RUnlock()
			checkIndexes(t, l)
			checkReads(t, l, &m)
		})
	}
}

func TestKIP74MinOneBatch(t *testing.T) {
	l := openT(t, t.TempDir(), DefaultConfig(), false)
	var sizes []int
	for range 4 {
		b := simpleBatch(t, 0, 2, 500, 1)
		sizes = append(sizes, len(b))
		appendT(t, l, b)
	}
	cases := []struct {
		maxBytes int
		minOne   bool
		want     int64
	}{
		{1, true, int64(sizes[0])},
		{0, true, int64(sizes[0])},
		{1, false, 0},
		{sizes[0] - 1, false, 0},
		{sizes[0], false, int64(sizes[0])},
		{sizes[0] + sizes[1] - 1, true, int64(sizes[0])},
		{sizes[0] + sizes[1], false, int64(sizes[0] + sizes[1])},
		{sizes[0] + sizes[1] + sizes[2]/2, false, int64(sizes[0] + sizes[1])},
		{1 << 20, false, int64(sizes[0] + sizes[1] + sizes[2] + sizes[3])},
	}
	for _, c := range cases {
		r, err := l.Read(1, c.maxBytes, c.minOne)
		if err != nil {
			t.Fatal(err)
		}
		if r.Size != c.want || r.Pos != 0 {
			t.Errorf("Read(1, %d, %v) = pos %d size %d, want size %d", c.maxBytes, c.minOne, r.Pos, r.Size, c.want)
		}
		r.Release()
		r.Release() // idempotent
	}
}

func TestAppendRejectsBadInput(t *testing.T) {
	l := openT(t, t.TempDir(), DefaultConfig(), false)
	b := simpleBatch(t, 0, 3, 10, 1)
	hs, _ := ValidateBatches(b, 0)
	if err := l.Append(b, nil); err == nil {
		t.Fatal("Append with no headers succeeded")
	}
	wrong := append([]byte{}, b...)
	SetBaseOffset(wrong, 5)
	hs5 := slices.Clone(hs)
	hs5[0].BaseOffset = 5
	if err := l.Append(wrong, hs5); !errors.Is(err, ErrUnexpectedOffset) {
		t.Fatalf("base offset 5 at LEO 0: %v", err)
	}
	if err := l.Append(b[:len(b)-1], hs); err == nil {
		t.Fatal("Append of a buffer shorter than its header succeeded")
	}
	if err := l.Append(append(append([]byte{}, b...), 0), hs); err == nil {
		t.Fatal("Append with trailing bytes succeeded")
	}
	// Second batch not contiguous.
	two := append(append([]byte{}, b...), b...)
	hs2 := []BatchHeader{hs[0], hs[0]}
	if err := l.Append(two, hs2); !errors.Is(err, ErrUnexpectedOffset) {
		t.Fatalf("non-contiguous batches: %v", err)
	}
	if l.LogEndOffset() != 0 || l.Size() != 0 {
		t.Fatalf("rejected appends changed the log: LEO %d size %d", l.LogEndOffset(), l.Size())
	}
	if err := l.Append(b, hs); err != nil {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 3 {
		t.Fatalf("LEO %d", l.LogEndOffset())
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	for _, mode := range []string{"clean", "unclean after close", "unclean after crash"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			cfg := smallConfig()
			l, err := Open(dir, cfg, false, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			var m model
			rng := rand.New(rand.NewPCG(3, 4))
			ts := int64(5000)
			fillLog(t, l, &m, rng, 80, func() int64 { ts += int64(rng.IntN(7)) - 2; return ts })
			l.mu.RLock()
			var offs [][]offsetEntry
			for _, s := range l.segs {
				offs = append(offs, slices.Clone(s.offIdx.entries))
			}
			l.mu.RUnlock()
			wantTs, wantTsOff, _, err := l.MaxTimestamp()
			if err != nil {
				t.Fatal(err)
			}
			size := l.Size()
			if mode == "unclean after crash" {
				l.crash()
			} else if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l2 := openT(t, dir, cfg, mode == "clean")
			if l2.Size() != size {
				t.Fatalf("size %d after reopen, want %d", l2.Size(), size)
			}
			l2.mu.RLock()
			for i, s := range l2.segs {
				if !slices.Equal(s.offIdx.entries, offs[i]) {
					t.Errorf("segment %d offset index differs after reopen:\n got %v\nwant %v", s.base, s.offIdx.entries, offs[i])
				}
			}
			l2.mu.RUnlock()
			gotTs, gotTsOff, ok, err := l2.MaxTimestamp()
			if err != nil || !ok || gotTs != wantTs || gotTsOff != wantTsOff {
				t.Fatalf("MaxTimestamp after reopen = %d@%d %v %v, want %d@%d", gotTs, gotTsOff, ok, err, wantTs, wantTsOff)
			}
			checkIndexes(t, l2)
			checkReads(t, l2, &m)
			// And the log keeps working.
			fillLog(t, l2, &m, rng, 20, func() int64 { return ts })
			checkReads(t, l2, &m)
		})
	}
}

func TestLogStartOffset(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, smallConfig(), false, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		appendT(t, l, simpleBatch(t, 0, 3, 10, 1))
	}
	if err := l.SetLogStartOffset(31); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("beyond LEO: %v", err)
	}
	if err := l.SetLogStartOffset(7); err != nil {
		t.Fatal(err)
	}
	if err := l.SetLogStartOffset(4); err != nil || l.LogStartOffset() != 7 {
		t.Fatalf("moving back: err %v, LSO %d", err, l.LogStartOffset())
	}
	if _, err := l.Read(6, 100, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below LSO: %v", err)
	}
	b, err := l.ReadBytes(7, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := ParseBatchHeader(b); h.BaseOffset != 6 {
		t.Fatalf("read at LSO 7 returned batch at %d, want the one containing 7 (6)", h.BaseOffset)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openT(t, dir, smallConfig(), true)
	if l2.LogStartOffset() != 7 || l2.LogEndOffset() != 30 {
		t.Fatalf("after reopen LSO %d LEO %d", l2.LogStartOffset(), l2.LogEndOffset())
	}
}

func TestScanBatches(t *testing.T) {
	l := openT(t, t.TempDir(), smallConfig(), false)
	var m model
	rng := rand.New(rand.NewPCG(5, 6))
	fillLog(t, l, &m, rng, 60, func() int64 { return 1 })
	for _, from := range []int64{0, 1, m.hs[10].BaseOffset, m.hs[10].LastOffset(), m.hs[59].LastOffset(), m.hs[59].LastOffset() + 1} {
		var got []BatchHeader
		if err := l.ScanBatches(from, func(h BatchHeader) error { got = append(got, h); return nil }); err != nil {
			t.Fatal(err)
		}
		k := m.containing(from)
		if !slices.Equal(got, m.hs[k:]) {
			t.Fatalf("ScanBatches(%d): %d headers, want %d from batch %d", from, len(got), len(m.hs)-k, k)
		}
	}
	stop := errors.New("stop")
	n := 0
	err := l.ScanBatches(0, func(BatchHeader) error {
		n++
		if n == 5 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 5 {
		t.Fatalf("early stop: err %v after %d calls", err, n)
	}
}

func TestConcurrentReadDuringAppend(t *testing.T) {
	l := openT(t, t.TempDir(), smallConfig(), false)
	appendT(t, l, simpleBatch(t, 0, 2, 50, 1))
	const batches = 250
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 9))
			for !done.Load() {
				leo := l.LogEndOffset()
				off := rng.Int64N(leo + 1)
				b, err := l.ReadBytes(off, 1+rng.IntN(3000), rng.IntN(2) == 0)
				if err != nil {
					errs <- err
					return
				}
				if len(b) == 0 {
					continue
				}
				hs, err := ValidateBatches(b, 0)
				if err != nil {
					errs <- err
					return
				}
				if hs[0].LastOffset() < off || hs[0].BaseOffset > off {
					errs <- errors.New("read returned a batch not containing the offset")
					return
				}
			}
		}()
	}
	for range batches {
		b := simpleBatch(t, 0, 1+rand.IntN(4), 10+rand.IntN(200), 1)
		hs, err := ValidateBatches(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		SetBaseOffset(b, l.LogEndOffset())
		hs[0].BaseOffset = l.LogEndOffset()
		if err := l.Append(b, hs); err != nil {
			t.Fatal(err)
		}
		if rand.IntN(10) == 0 {
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestSyncGroupCommit(t *testing.T) {
	l := openT(t, t.TempDir(), DefaultConfig(), false)
	appendT(t, l, simpleBatch(t, 0, 1, 10, 1))

	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	l.testHookFsync = func() {
		once.Do(func() {
			close(entered)
			<-release
		})
	}
	firstDone := make(chan error)
	go func() { firstDone <- l.Sync() }()
	<-entered

	// While the first fsync is in flight, appends proceed (Sync does not
	// hold the append lock) and more callers pile up.
	var appendMu sync.Mutex
	const callers = 16
	var wg sync.WaitGroup
	syncErrs := make(chan error, callers)
	for range callers {
		appendMu.Lock()
		appendT(t, l, simpleBatch(t, 0, 1, 10, 1))
		appendMu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			syncErrs <- l.Sync()
		}()
	}
	if l.LogEndOffset() != callers+1 {
		t.Fatalf("appends blocked during fsync: LEO %d", l.LogEndOffset())
	}
	close(release)
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(syncErrs)
	for err := range syncErrs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// One fsync for the first caller, one shared by all the others.
	if n := l.fsyncs.Load(); n != 2 {
		t.Fatalf("%d fsync rounds for %d Sync calls, want 2", n, callers+1)
	}
	l.syncMu.Lock()
	syncedTo := l.syncedTo
	l.syncMu.Unlock()
	if syncedTo != l.LogEndOffset() {
		t.Fatalf("synced to %d, LEO %d", syncedTo, l.LogEndOffset())
	}
	// Nothing new: no fsync at all.
	if err := l.Sync(); err != nil || l.fsyncs.Load() != 2 {
		t.Fatalf("idle Sync: err %v, fsyncs %d", err, l.fsyncs.Load())
	}
}

func TestRecoveryPointWrittenOnRollSync(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, smallConfig(), false)
	var m model
	rng := rand.New(rand.NewPCG(7, 8))
	fillLog(t, l, &m, rng, 40, func() int64 { return 1 })
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, recoveryPointFile))
	if err != nil {
		t.Fatalf("no recovery point after syncing rolled segments: %v", err)
	}
	if string(b) != "" && string(bytes.TrimSpace(b)) == "0" {
		t.Fatalf("recovery point %q did not advance", b)
	}
}

func TestReadSurvivesDeleteAndClose(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, smallConfig(), false, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	b := simpleBatch(t, 0, 3, 100, 1)
	appendT(t, l, append([]byte{}, b...))
	r, err := l.Read(0, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("directory still there: %v", err)
	}
	got := make([]byte, r.Size)
	if _, err := r.File.ReadAt(got, r.Pos); err != nil {
		t.Fatalf("reading a deleted segment before Release: %v", err)
	}
	if !bytes.Equal(got, b) {
		t.Fatal("wrong bytes from a deleted segment")
	}
	r.Release()
	if _, err := r.File.ReadAt(got, 0); err == nil {
		t.Fatal("file still open after the last Release")
	}
	if _, err := l.Read(0, 100, true); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Delete: %v", err)
	}
	if err := l.Append(b, nil); err == nil {
		t.Fatal("Append after Delete succeeded")
	}
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync after Close (everything was synced by Close): %v", err)
	}
	var zero ReadResult
	zero.Release()
}

func TestConfigValidation(t *testing.T) {
	bad := []Config{
		{SegmentBytes: 10},
		{SegmentMs: -1},
		{SegmentIndexBytes: 4},
		{IndexIntervalBytes: -1},
		{SegmentBytes: 1 << 40},
	}
	for _, c := range bad {
		if _, err := Open(t.TempDir(), c, false, nil); err == nil {
			t.Errorf("Open accepted %+v", c)
		}
	}
	l := openT(t, t.TempDir(), Config{}, false) // zero values mean defaults
	if l.cfg.SegmentBytes != 1<<30 || l.cfg.IndexIntervalBytes != 0 {
		t.Fatalf("defaults not applied: %+v", l.cfg)
	}
}

func TestRolledSegmentFlushedInBackground(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	l := openT(t, dir, cfg, false)
	for l.NumSegments() < 3 {
		appendT(t, l, simpleBatch(t, 0, 2, 500, 1))
	}
	// Nobody calls Sync: the flusher must still sync the rolled segments
	// and advance the recovery point.
	deadline := time.Now().Add(20 * time.Second)
	for {
		l.mu.RLock()
		done := l.segs[0].synced.Load() && l.segs[1].synced.Load()
		base2 := l.segs[2].base
		l.mu.RUnlock()
		b, _ := os.ReadFile(filepath.Join(dir, recoveryPointFile))
		rp, _ := parseRecoveryPoint(string(b))
		if done && rp.offset >= base2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rolled segments not flushed in the background (recovery point %q)", b)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestActiveSegmentNotMarkedSyncedAfterReopen(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	l, err := Open(dir, cfg, false, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for l.NumSegments() < 2 {
		appendT(t, l, simpleBatch(t, 0, 2, 500, 1))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, clean := range []bool{true, false} {
		l := openT(t, dir, cfg, clean)
		l.mu.RLock()
		active := l.segs[len(l.segs)-1].synced.Load()
		first := l.segs[0].synced.Load()
		l.mu.RUnlock()
		// Appends to the active segment after reopening must still be
		// fsynced when it is rolled.
		if active {
			t.Fatalf("clean=%v: active segment marked synced", clean)
		}
		if !first {
			t.Fatalf("clean=%v: rolled segment behind the recovery point not marked synced", clean)
		}
		l.Close()
	}
}
