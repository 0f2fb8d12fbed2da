package log

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// rpConfig keeps everything in one (active) segment with dense indexes, so
// the recovery point lies in the segment Open recovers.
func rpConfig(clock *fakeClock) Config {
	c := DefaultConfig()
	c.SegmentBytes = 1 << 20
	c.IndexIntervalBytes = 200
	c.Now = clock.Now
	return c
}

// segState is everything Open derives for a segment, including what its
// index files hold on disk.
type segState struct {
	Base, Size, Next, MaxTs, MaxTsOffset, BytesSince, RollBase int64
	Offs                                                       []offsetEntry
	Times                                                      []timeEntry
	IndexFile, TimeFile                                        []byte
}

type logState struct {
	LEO, LSO int64
	Segs     []segState
}

func stateOf(t *testing.T, l *Log) logState {
	t.Helper()
	l.mu.RLock()
	defer l.mu.RUnlock()
	st := logState{LEO: l.leo, LSO: l.lso}
	for _, s := range l.segs {
		idx, err := os.ReadFile(s.indexPath)
		if err != nil {
			t.Fatal(err)
		}
		tidx, err := os.ReadFile(s.timePath)
		if err != nil {
			t.Fatal(err)
		}
		st.Segs = append(st.Segs, segState{
			Base: s.base, Size: s.size, Next: s.nextOffset, MaxTs: s.maxTs, MaxTsOffset: s.maxTsOffset,
			BytesSince: s.bytesSinceIndex, RollBase: s.rollBaseMs,
			Offs: s.offIdx.entries, Times: s.timeIdx.entries, IndexFile: idx, TimeFile: tidx,
		})
		// Empty and nil are the same state.
		if seg := &st.Segs[len(st.Segs)-1]; len(seg.Offs) == 0 || len(seg.Times) == 0 {
			if len(seg.Offs) == 0 {
				seg.Offs = nil
			}
			if len(seg.Times) == 0 {
				seg.Times = nil
			}
		}
	}
	return st
}

// sameState fails unless two logs came out of Open identical.
func sameState(t *testing.T, got, want logState) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	if len(got.Segs) != len(want.Segs) {
		t.Fatalf("%d segments, want %d", len(got.Segs), len(want.Segs))
	}
	for i := range got.Segs {
		g, w := got.Segs[i], want.Segs[i]
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("segment %d differs from a full rescan:\n got %+v\nwant %+v", i,
				segSummary(g), segSummary(w))
		}
	}
	t.Fatalf("log differs from a full rescan: got LEO %d LSO %d, want %d %d", got.LEO, got.LSO, want.LEO, want.LSO)
}

func segSummary(s segState) string {
	return fmt.Sprintf("base %d size %d next %d maxTs %d@%d bytesSince %d rollBase %d offs %d %v times %d %v files %d/%d bytes",
		s.Base, s.Size, s.Next, s.MaxTs, s.MaxTsOffset, s.BytesSince, s.RollBase, len(s.Offs), s.Offs, len(s.Times), s.Times, len(s.IndexFile), len(s.TimeFile))
}

// tsEpoch makes the small timestamps tests choose recent for the fake
// clock, so that no segment is old enough to roll by segment.ms.
const tsEpoch = 1_699_999_000_000

// appendBatches appends n batches with timestamps tsEpoch+ts() (or -1).
func appendBatches(t *testing.T, l *Log, m *model, rng *rand.Rand, n int, ts func() int64) {
	t.Helper()
	for range n {
		bts := ts()
		if bts >= 0 {
			bts += tsEpoch
		}
		b := simpleBatch(t, 0, 1+rng.IntN(4), 20+rng.IntN(250), bts)
		m.add(b, appendT(t, l, b))
	}
}

// readRP returns the log's recovery point file, parsed.
func readRP(t *testing.T, dir string) recoveryPoint {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, recoveryPointFile))
	if err != nil {
		t.Fatal(err)
	}
	rp, err := parseRecoveryPoint(string(b))
	if err != nil {
		t.Fatalf("recovery point %q: %v", b, err)
	}
	return rp
}

func writeRP(t *testing.T, dir string, rp recoveryPoint) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, recoveryPointFile), []byte(rp.encode()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// openUnclean opens dir without a clean-shutdown marker.
func openUnclean(t *testing.T, dir string, cfg Config) *Log {
	t.Helper()
	l, err := Open(dir, cfg, false, (&captureLogger{}).logger())
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// fullRescan opens a copy of dir without its recovery point: the reference
// a recovery from the recorded position must match.
func fullRescan(t *testing.T, dir string, cfg Config) *Log {
	t.Helper()
	ref := copyDir(t, dir)
	if err := os.Remove(filepath.Join(ref, recoveryPointFile)); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	l := openUnclean(t, ref, cfg)
	if l.scannedAtOpen != l.Size() {
		t.Fatalf("reference open scanned %d of %d bytes", l.scannedAtOpen, l.Size())
	}
	return l
}

// syncedThenCrashed builds a log whose recovery point lies in the middle of
// its active segment: prefix batches, Sync, tail batches, crash. It returns
// the model and the recorded recovery point.
func syncedThenCrashed(t *testing.T, cfg Config, prefix, tail int, ts func(i int) int64) (string, *model, recoveryPoint) {
	t.Helper()
	dir := t.TempDir()
	l, err := Open(dir, cfg, false, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	m := &model{}
	rng := rand.New(rand.NewPCG(uint64(prefix), uint64(tail)))
	i := 0
	next := func() int64 { i++; return ts(i) }
	appendBatches(t, l, m, rng, prefix, next)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	rp := readRP(t, dir)
	appendBatches(t, l, m, rng, tail, next)
	if err := l.Sync(); err != nil { // rate-limited: the clock has not moved
		t.Fatal(err)
	}
	if got := readRP(t, dir); got != rp {
		t.Fatalf("Sync rewrote the recovery point within the rate limit: %+v, then %+v", rp, got)
	}
	l.crash()
	if l.NumSegments() != 1 {
		t.Fatalf("%d segments; the test wants one", l.NumSegments())
	}
	return dir, m, rp
}

// checkAgainstRescan opens dir (expecting a scan of exactly wantScanned
// bytes), a rescanned copy, and checks both against each other and m.
func checkAgainstRescan(t *testing.T, dir string, cfg Config, m *model, wantScanned int64) *Log {
	t.Helper()
	ref := fullRescan(t, dir, cfg)
	refState := stateOf(t, ref)
	l := openUnclean(t, dir, cfg)
	if l.scannedAtOpen != wantScanned {
		t.Fatalf("Open scanned %d bytes, want %d (log of %d bytes)", l.scannedAtOpen, wantScanned, l.Size())
	}
	sameState(t, stateOf(t, l), refState)
	checkIndexes(t, l)
	checkReads(t, l, m)
	if m.hs[0].MaxTimestamp >= 0 { // checkTimestamps wants records with timestamps
		checkTimestamps(t, l, m)
	}
	return l
}

func TestRecoveryScansOnlyAfterRecordedPosition(t *testing.T) {
	for _, c := range []struct {
		name string
		ts   func(i int) int64
	}{
		{"increasing", func(i int) int64 { return 1000 + int64(i) }},
		{"max in prefix after the last time entry", func(i int) int64 {
			if i == 59 {
				return 9000
			}
			return 1000 + int64(i%7)
		}},
		{"max in tail", func(i int) int64 {
			if i == 75 {
				return 9000
			}
			return 1000 + int64(i%13)
		}},
		{"no timestamps", func(int) int64 { return -1 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := rpConfig(newFakeClock())
			dir, m, rp := syncedThenCrashed(t, cfg, 60, 30, c.ts)
			if !rp.hasPosition || rp.segment != 0 || rp.offset != m.hs[59].LastOffset()+1 || rp.indexCount == 0 || rp.position == 0 {
				t.Fatalf("recorded %+v after 60 batches", rp)
			}
			size := int64(len(m.all()))
			l := checkAgainstRescan(t, dir, cfg, m, size-rp.position)
			// Appending after the recovery continues the same log.
			b := simpleBatch(t, 0, 3, 50, tsEpoch+2000)
			m.add(b, appendT(t, l, b))
			checkReads(t, l, m)
		})
	}
}

func TestRecoveryPointNothingAfterIt(t *testing.T) {
	cfg := rpConfig(newFakeClock())
	dir, m, rp := syncedThenCrashed(t, cfg, 40, 0, func(i int) int64 { return int64(500 - i) })
	if rp.position != int64(len(m.all())) {
		t.Fatalf("recorded position %d, log has %d bytes", rp.position, len(m.all()))
	}
	checkAgainstRescan(t, dir, cfg, m, 0)
}

func TestRecoveryPointTornTailTruncated(t *testing.T) {
	cfg := rpConfig(newFakeClock())
	pristine, m, rp := syncedThenCrashed(t, cfg, 50, 8, func(i int) int64 { return 1000 + int64(i*37%11) })
	segPath := filepath.Join(pristine, segmentName(0)+logSuffix)
	data, _ := os.ReadFile(segPath)
	last := len(m.batches[len(m.batches)-1])
	for _, cut := range []int{len(data) - 1, len(data) - last + 3, len(data) - last, int(rp.position) + 5, int(rp.position)} {
		t.Run(fmt.Sprint("cut at ", cut), func(t *testing.T) {
			dir := copyDir(t, pristine)
			if err := os.Truncate(filepath.Join(dir, filepath.Base(segPath)), int64(cut)); err != nil {
				t.Fatal(err)
			}
			want := m.prefixBytes(cut)
			l := checkAgainstRescan(t, dir, cfg, want, int64(len(want.all()))-rp.position)
			if l.Size() != int64(len(want.all())) {
				t.Fatalf("size %d after recovery, want %d", l.Size(), len(want.all()))
			}
			if got := readRP(t, dir); got != rp {
				t.Fatalf("a truncation after the recovery point changed it: %+v", got)
			}
		})
	}
	t.Run("garbage after the position", func(t *testing.T) {
		dir := copyDir(t, pristine)
		p := filepath.Join(dir, filepath.Base(segPath))
		d := append([]byte{}, data...)
		k := int(rp.position) + len(m.batches[50]) + 30 // inside the second batch after the recovery point
		d[k] ^= 0xff
		os.WriteFile(p, d, 0o644)
		want := m.prefixBytes(int(rp.position) + len(m.batches[50]))
		l := checkAgainstRescan(t, dir, cfg, want, int64(len(m.batches[50])))
		if l.LogEndOffset() != m.hs[50].LastOffset()+1 {
			t.Fatalf("LEO %d after a flipped byte in batch 51", l.LogEndOffset())
		}
	})
}

func TestRecoveryPointUnusableFallsBackToFullScan(t *testing.T) {
	cfg := rpConfig(newFakeClock())
	pristine, m, rp := syncedThenCrashed(t, cfg, 50, 20, func(i int) int64 { return 1000 + int64(i*7%23) })
	size := int64(len(m.all()))
	mid := rp // a position inside the batch before the recorded one
	mid.position -= 7
	for _, c := range []struct {
		name string
		rp   recoveryPoint
	}{
		{"position past the end", func() recoveryPoint { r := rp; r.position = size + 100; return r }()},
		{"position mid-batch", mid},
		{"position one past a boundary", func() recoveryPoint { r := rp; r.position++; return r }()},
		{"offset too small", func() recoveryPoint { r := rp; r.offset--; return r }()},
		{"offset too large", func() recoveryPoint { r := rp; r.offset++; return r }()},
		{"other segment", func() recoveryPoint { r := rp; r.segment = 5; return r }()},
		{"more index entries than the file", func() recoveryPoint { r := rp; r.indexCount = 10000; return r }()},
		{"index entry past the position", func() recoveryPoint { r := rp; r.indexCount += 2; return r }()},
		{"more time entries than the file", func() recoveryPoint { r := rp; r.timeCount = 10000; return r }()},
		{"max timestamp too small", func() recoveryPoint { r := rp; r.maxTs, r.maxTsOffset = -1, -1; return r }()},
		{"max timestamp offset past the point", func() recoveryPoint { r := rp; r.maxTsOffset = r.offset; return r }()},
		{"empty prefix with entries", func() recoveryPoint { r := rp; r.position = 0; return r }()},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, pristine)
			writeRP(t, dir, c.rp)
			checkAgainstRescan(t, dir, cfg, m, size)
		})
	}
	t.Run("old format: offset only", func(t *testing.T) {
		dir := copyDir(t, pristine)
		writeRP(t, dir, recoveryPoint{offset: rp.offset})
		checkAgainstRescan(t, dir, cfg, m, size)
	})
	t.Run("garbage file", func(t *testing.T) {
		dir := copyDir(t, pristine)
		for _, content := range []string{"12\nsegment=0 position=x\n", "12\nsegment=0\n", "x\n", "1\n2\n3\n",
			strings.Replace(rp.encode(), "index=", "index=-", 1)} {
			os.WriteFile(filepath.Join(dir, recoveryPointFile), []byte(content), 0o644)
			l := openUnclean(t, dir, cfg)
			if l.scannedAtOpen != size {
				t.Fatalf("recovery point %q: scanned %d bytes, want all %d", content, l.scannedAtOpen, size)
			}
			checkReads(t, l, m)
			l.crash()
		}
	})
	t.Run("rewritten index file", func(t *testing.T) {
		// Entries that do not point at the batches they name.
		dir := copyDir(t, pristine)
		p := filepath.Join(dir, segmentName(0)+indexSuffix)
		idx, _ := os.ReadFile(p)
		idx[(rp.indexCount-1)*offsetEntrySize+7] ^= 0x10 // last trusted entry's position
		os.WriteFile(p, idx, 0o644)
		checkAgainstRescan(t, dir, cfg, m, size)
	})
}

func TestRecoveryPointRemovedWhenLogEndsBeforeIt(t *testing.T) {
	cfg := rpConfig(newFakeClock())
	pristine, m, rp := syncedThenCrashed(t, cfg, 30, 5, func(i int) int64 { return int64(i) })
	dir := copyDir(t, pristine)
	// Damage a batch below the recovery point and make the recorded
	// position unusable, so the full scan cuts the log before it.
	p := filepath.Join(dir, segmentName(0)+logSuffix)
	data, _ := os.ReadFile(p)
	k := len(m.batches[0]) + len(m.batches[1]) + 40 // inside batch 2
	data[k] ^= 0xff
	os.WriteFile(p, data, 0o644)
	bad := rp
	bad.position++
	writeRP(t, dir, bad)
	l := openUnclean(t, dir, cfg)
	if l.LogEndOffset() != m.hs[1].LastOffset()+1 {
		t.Fatalf("LEO %d, want the end of batch 1 (%d)", l.LogEndOffset(), m.hs[1].LastOffset()+1)
	}
	if _, err := os.Stat(filepath.Join(dir, recoveryPointFile)); !os.IsNotExist(err) {
		t.Fatalf("recovery point beyond the log end kept (stat: %v)", err)
	}
	// The next flush records a fresh one.
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if got := readRP(t, dir); got.offset != l.LogEndOffset() || got.position != l.Size() {
		t.Fatalf("recovery point after Checkpoint %+v, log ends at %d (%d bytes)", got, l.LogEndOffset(), l.Size())
	}
}

func TestRecoveryPointInRolledSegmentScansThatSegment(t *testing.T) {
	// The roll flush records a new recovery point in the background; a
	// crash before it leaves the old one pointing into a segment that is no
	// longer the last. That segment is scanned whole (it may have been
	// compacted since), as are the ones after it.
	clock := newFakeClock()
	cfg := rpConfig(clock)
	cfg.SegmentBytes = 4096
	dir := t.TempDir()
	l := openT(t, dir, cfg, false)
	m := &model{}
	rng := rand.New(rand.NewPCG(5, 5))
	appendBatches(t, l, m, rng, 4, func() int64 { return 10 })
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(filepath.Join(dir, recoveryPointFile))
	if err != nil {
		t.Fatal(err)
	}
	for l.NumSegments() < 3 {
		appendBatches(t, l, m, rng, 1, func() int64 { return 20 })
	}
	l.crash()
	os.WriteFile(filepath.Join(dir, recoveryPointFile), old, 0o644)
	checkAgainstRescan(t, dir, cfg, m, int64(len(m.all())))
}

func TestRecoveryPointRateLimitAndCheckpoint(t *testing.T) {
	clock := newFakeClock()
	cfg := rpConfig(clock)
	dir := t.TempDir()
	l := openT(t, dir, cfg, false)
	m := &model{}
	rng := rand.New(rand.NewPCG(8, 8))
	ts := func() int64 { return clock.Now().UnixMilli() - tsEpoch }
	appendBatches(t, l, m, rng, 5, ts)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	first := readRP(t, dir)
	if first.offset != l.LogEndOffset() || first.position != l.Size() {
		t.Fatalf("first Sync recorded %+v; log ends at %d (%d bytes)", first, l.LogEndOffset(), l.Size())
	}
	for range 5 {
		clock.Advance(100 * time.Millisecond)
		appendBatches(t, l, m, rng, 2, ts)
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
		if got := readRP(t, dir); got != first {
			t.Fatalf("recovery point rewritten within a second: %+v", got)
		}
	}
	clock.Advance(600 * time.Millisecond)
	appendBatches(t, l, m, rng, 1, ts)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	second := readRP(t, dir)
	if second.offset != l.LogEndOffset() || second.position != l.Size() {
		t.Fatalf("Sync a second later recorded %+v; log ends at %d (%d bytes)", second, l.LogEndOffset(), l.Size())
	}

	// Checkpoint: nothing new, nothing done; new data, synced and recorded
	// at once, with no rate limit.
	before := l.fsyncs.Load()
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if l.fsyncs.Load() != before {
		t.Fatal("Checkpoint fsynced a log whose recovery point covers it")
	}
	appendBatches(t, l, m, rng, 3, ts)
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	third := readRP(t, dir)
	if third.offset != l.LogEndOffset() || third.position != l.Size() || l.fsyncs.Load() != before+1 {
		t.Fatalf("Checkpoint recorded %+v (log ends at %d, %d bytes), %d fsyncs", third, l.LogEndOffset(), l.Size(), l.fsyncs.Load()-before)
	}
	l.crash()
	checkAgainstRescan(t, dir, cfg, m, 0)
}

func TestRecoveryAfterCleanRestartScansOnlyNewAppends(t *testing.T) {
	// Close records the recovery point with the final time index entry;
	// appends after a clean restart continue the segment, and a crash then
	// costs only those appends.
	clock := newFakeClock()
	cfg := rpConfig(clock)
	dir := t.TempDir()
	l, err := Open(dir, cfg, false, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	m := &model{}
	rng := rand.New(rand.NewPCG(9, 9))
	n := 0
	ts := func() int64 { n++; return int64(1000 + n*31%17) }
	appendBatches(t, l, m, rng, 40, ts)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rp := readRP(t, dir)
	l, err = Open(dir, cfg, true, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	appendBatches(t, l, m, rng, 10, ts)
	l.crash()
	if got := readRP(t, dir); got != rp {
		t.Fatalf("recovery point rewritten after the clean restart: %+v", got)
	}
	l = openUnclean(t, dir, cfg)
	if want := int64(len(m.all())) - rp.position; l.scannedAtOpen != want {
		t.Fatalf("scanned %d bytes, want the %d appended after the restart (recorded %+v, log %d bytes)", l.scannedAtOpen, want, rp, l.Size())
	}
	checkIndexes(t, l)
	checkReads(t, l, m)
	checkTimestamps(t, l, m)
}

func TestParseRecoveryPoint(t *testing.T) {
	full := recoveryPoint{offset: 120, hasPosition: true, segment: 100, position: 4096, indexCount: 3, timeCount: 2, maxTs: 1700000000000, maxTsOffset: 117}
	for _, c := range []struct {
		in   string
		want recoveryPoint
		ok   bool
	}{
		{"42\n", recoveryPoint{offset: 42}, true},
		{" 42 ", recoveryPoint{offset: 42}, true},
		{full.encode(), full, true},
		{"120\nsegment=100 position=0 index=0 timeindex=0 maxts=-1 maxtsoffset=-1\n",
			recoveryPoint{offset: 120, hasPosition: true, segment: 100, maxTs: -1, maxTsOffset: -1}, true},
		{"", recoveryPoint{}, false},
		{"-1\n", recoveryPoint{}, false},
		{"120\nsegment=100 position=4096 index=3 timeindex=2 maxts=1\n", recoveryPoint{}, false},
		{"120\nsegment=100 position=4096 index=3 timeindex=2 maxts=1 maxtsoffset=1 extra=1\n", recoveryPoint{}, false},
		{"120\nsegment=100 segment=100 position=4096 index=3 timeindex=2 maxts=1\n", recoveryPoint{}, false},
		{"120\nsegment=121 position=4096 index=3 timeindex=2 maxts=1 maxtsoffset=1\n", recoveryPoint{}, false},
		{"120\nsegment=100 position=-1 index=3 timeindex=2 maxts=1 maxtsoffset=1\n", recoveryPoint{}, false},
		{"120\nsegment=100 position=1 index=3 timeindex=2 maxts=1 maxtsoffset=-2\n", recoveryPoint{}, false},
		{"120\nsegment=100 position=1 index=3 timeindex=2 maxts=1 maxtsoffset=1\nmore\n", recoveryPoint{}, false},
	} {
		got, err := parseRecoveryPoint(c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("parseRecoveryPoint(%q) = %+v, %v; want %+v ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}
