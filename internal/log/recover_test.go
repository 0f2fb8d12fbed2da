package log

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// copyDir copies the regular files of src into a new temp dir.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// crashedLog builds a log of n batches over several segments and abandons
// it without a clean shutdown.
func crashedLog(t testing.TB, cfg Config, n int) (string, *model) {
	t.Helper()
	dir := t.TempDir()
	l, err := Open(dir, cfg, false, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	m := &model{}
	rng := rand.New(rand.NewPCG(11, uint64(n)))
	ts := int64(1000)
	fillLog(t, l, m, rng, n, func() int64 { ts += int64(rng.IntN(3)); return ts })
	l.crash()
	return dir, m
}

// prefixModel returns the model's batches that end at or before byte
// position pos of the whole log.
func (m *model) prefixBytes(n int) *model {
	p := &model{}
	size := 0
	for i, b := range m.batches {
		if size+len(b) > n {
			break
		}
		size += len(b)
		p.batches = append(p.batches, b)
		p.hs = append(p.hs, m.hs[i])
	}
	return p
}

// expectLog opens dir uncleanly and checks it holds exactly m's batches.
func expectLog(t *testing.T, dir string, cfg Config, clean bool, m *model) *Log {
	t.Helper()
	l, err := Open(dir, cfg, clean, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	want := int64(0)
	if len(m.hs) > 0 {
		want = m.hs[len(m.hs)-1].LastOffset() + 1
	}
	if l.LogEndOffset() != want {
		t.Fatalf("LEO %d, want %d", l.LogEndOffset(), want)
	}
	if got := readAllBatches(t, l, 0); !bytes.Equal(got, m.all()) {
		t.Fatalf("log content (%d bytes) differs from the expected %d bytes", len(got), len(m.all()))
	}
	if l.Size() != int64(len(m.all())) {
		t.Fatalf("Size %d, want %d", l.Size(), len(m.all()))
	}
	checkIndexes(t, l)
	return l
}

func TestRecoverTruncatedTail(t *testing.T) {
	cfg := smallConfig()
	dir := t.TempDir()
	l, err := Open(dir, cfg, false, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	m := &model{}
	rng := rand.New(rand.NewPCG(11, 12))
	fillLog(t, l, m, rng, 30, func() int64 { return 1000 })
	for range 2 { // two small batches at the end keep the loop short
		b := simpleBatch(t, 0, 2, 20, 1001)
		m.add(b, appendT(t, l, b))
	}
	l.crash()
	files := segmentFiles(t, dir)
	lastPath := files[len(files)-1]
	lastLog, _ := os.ReadFile(lastPath)
	base := strings.TrimSuffix(lastPath, logSuffix)
	lastIndex, _ := os.ReadFile(base + indexSuffix)
	lastTime, _ := os.ReadFile(base + timeIndexSuffix)
	before := len(m.all()) - len(lastLog)
	tail := len(m.batches[len(m.batches)-1]) + len(m.batches[len(m.batches)-2]) + 7
	quiet := (&captureLogger{}).logger()
	// Cut the last segment at every byte position of its last two batches
	// and a bit more.
	orig, _ := filepath.Glob(filepath.Join(dir, "*"))
	for cut := max(0, len(lastLog)-tail); cut <= len(lastLog); cut++ {
		now, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range now {
			if !slices.Contains(orig, f) {
				os.Remove(f) // a segment rolled by the previous round's append
			}
		}
		os.WriteFile(lastPath, lastLog[:cut], 0o644)
		os.WriteFile(base+indexSuffix, lastIndex, 0o644)
		os.WriteFile(base+timeIndexSuffix, lastTime, 0o644)
		want := m.prefixBytes(before + cut)
		l, err := Open(dir, cfg, false, quiet)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		wantLEO := want.hs[len(want.hs)-1].LastOffset() + 1
		if l.LogEndOffset() != wantLEO || l.Size() != int64(len(want.all())) {
			t.Fatalf("cut %d: LEO %d size %d, want %d and %d", cut, l.LogEndOffset(), l.Size(), wantLEO, len(want.all()))
		}
		// The recovered log accepts appends where it left off.
		b := simpleBatch(t, 0, 2, 30, 5)
		want.add(b, appendT(t, l, b))
		if got := readAllBatches(t, l, 0); !bytes.Equal(got, want.all()) {
			t.Fatalf("cut %d: content after recovery and append differs", cut)
		}
		l.crash()
	}
}

func TestRecoverGarbageTail(t *testing.T) {
	cfg := smallConfig()
	pristine, m := crashedLog(t, cfg, 40)
	files := segmentFiles(t, pristine)
	lastName := filepath.Base(files[len(files)-1])
	headerLike := simpleBatch(t, 1<<20, 1, 10, 1)[:BatchHeaderSize] // plausible header, body missing
	oldBatch := m.batches[0]                                        // valid CRC but offsets go backwards
	rng := rand.New(rand.NewPCG(1, 1))
	random := make([]byte, 5000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	zeros := make([]byte, 4096) // preallocated-looking tail
	for name, garbage := range map[string][]byte{
		"one byte": {7}, "ten bytes": random[:10], "header size": random[:61], "random": random,
		"header without body": headerLike, "old batch": oldBatch, "zeros": zeros,
	} {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, pristine)
			f, err := os.OpenFile(filepath.Join(dir, lastName), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(garbage)
			f.Close()
			logs := &captureLogger{}
			l, err := Open(dir, cfg, false, logs.logger())
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			if out := logs.String(); !strings.Contains(out, "truncating") || !strings.Contains(out, lastName) || !strings.Contains(out, "position=") {
				t.Fatalf("truncation not logged with file and position:\n%s", out)
			}
			expectLog(t, dir, cfg, false, m)
		})
	}
}

func TestRecoverFlippedByte(t *testing.T) {
	cfg := smallConfig()
	cfg.SegmentBytes = 1 << 20 // one segment
	pristine, m := crashedLog(t, cfg, 30)
	name := filepath.Base(segmentFiles(t, pristine)[0])
	rng := rand.New(rand.NewPCG(2, 2))
	pos := 0
	for k, b := range m.batches {
		// A byte covered by the CRC (attributes onwards), or the length or magic.
		var off int
		switch k % 3 {
		case 0:
			off = offAttributes + rng.IntN(len(b)-offAttributes)
		case 1:
			off = offMagic
		default:
			off = offLength + 3
		}
		dir := copyDir(t, pristine)
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data[pos+off] ^= 0x40
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		expectLog(t, dir, cfg, false, m.prefixBytes(pos))
		pos += len(b)
	}
}

func TestRecoverCorruptMiddleSegment(t *testing.T) {
	cfg := smallConfig()
	pristine, m := crashedLog(t, cfg, 80)
	files := segmentFiles(t, pristine)
	if len(files) < 4 {
		t.Fatalf("want at least 4 segments, have %d", len(files))
	}
	// Flip a byte in the middle of segment 1: it is cut there and the later
	// segments go.
	seg1 := filepath.Base(files[1])
	seg0Size := fileSize(t, files[0])
	dir := copyDir(t, pristine)
	os.Remove(filepath.Join(dir, recoveryPointFile)) // recover everything
	data, _ := os.ReadFile(filepath.Join(dir, seg1))
	mid := len(data) / 2
	data[mid] ^= 1
	os.WriteFile(filepath.Join(dir, seg1), data, 0o644)
	// Which batch holds byte mid of segment 1?
	whole := m.prefixBytes(int(seg0Size) + mid)
	l := expectLog(t, dir, cfg, false, whole)
	if n := l.NumSegments(); n != 2 {
		t.Fatalf("%d segments after truncating segment 1, want 2", n)
	}
	for _, f := range files[2:] {
		if _, err := os.Stat(filepath.Join(dir, filepath.Base(f))); !os.IsNotExist(err) {
			t.Fatalf("%s not deleted", filepath.Base(f))
		}
	}
}

func TestRecoveryPointSkipsOldSegments(t *testing.T) {
	cfg := smallConfig()
	dir := t.TempDir()
	l := openT(t, dir, cfg, false)
	var m model
	rng := rand.New(rand.NewPCG(3, 3))
	fillLog(t, l, &m, rng, 60, func() int64 { return 7 })
	if err := l.Sync(); err != nil { // syncs rolled segments: recovery point = LEO
		t.Fatal(err)
	}
	l.crash()
	files := segmentFiles(t, dir)
	// Damage the first segment. Behind the recovery point it is trusted, so
	// unclean open keeps it; without the recovery point it is cut.
	corrupt := func(dir string) {
		p := filepath.Join(dir, filepath.Base(files[0]))
		data, _ := os.ReadFile(p)
		data[len(data)-5] ^= 1
		os.WriteFile(p, data, 0o644)
	}
	withRP := copyDir(t, dir)
	corrupt(withRP)
	l1 := openT(t, withRP, cfg, false)
	if l1.LogEndOffset() != m.hs[len(m.hs)-1].LastOffset()+1 {
		t.Fatalf("segment behind the recovery point was recovered: LEO %d", l1.LogEndOffset())
	}
	noRP := copyDir(t, dir)
	corrupt(noRP)
	os.Remove(filepath.Join(noRP, recoveryPointFile))
	l2 := openT(t, noRP, cfg, false)
	if l2.NumSegments() != 1 || l2.Size() >= fileSize(t, files[0]) {
		t.Fatalf("without a recovery point the damaged first segment should be cut: %d segments, %d bytes", l2.NumSegments(), l2.Size())
	}
}

func TestCleanOpenWithTornTailFallsBackToRecovery(t *testing.T) {
	cfg := smallConfig()
	pristine, m := crashedLog(t, cfg, 40)
	files := segmentFiles(t, pristine)
	lastName := filepath.Base(files[len(files)-1])
	dir := copyDir(t, pristine)
	f, _ := os.OpenFile(filepath.Join(dir, lastName), os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte("torn"))
	f.Close()
	expectLog(t, dir, cfg, true, m)
}

func TestBrokenIndexesRebuilt(t *testing.T) {
	cfg := smallConfig()
	cfg.IndexIntervalBytes = 100
	dir := t.TempDir()
	l := openT(t, dir, cfg, false)
	var m model
	rng := rand.New(rand.NewPCG(4, 4))
	ts := int64(100)
	fillLog(t, l, &m, rng, 60, func() int64 { ts += 3; return ts })
	// Make sure the last segment has several index entries.
	for {
		l.mu.RLock()
		n := len(l.segs[len(l.segs)-1].offIdx.entries)
		l.mu.RUnlock()
		if n >= 3 {
			break
		}
		ts += 3
		b := simpleBatch(t, 0, 1, 80, ts)
		m.add(b, appendT(t, l, b))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files := segmentFiles(t, dir)
	mid := strings.TrimSuffix(filepath.Base(files[1]), logSuffix)
	last := strings.TrimSuffix(filepath.Base(files[len(files)-1]), logSuffix)
	read := func(dir, name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name   string
		file   string
		breakF func(b []byte) []byte // nil: delete the file
	}{
		{"missing index", mid + indexSuffix, nil},
		{"missing time index", mid + timeIndexSuffix, nil},
		{"missing last index", last + indexSuffix, nil},
		{"index size not a multiple", mid + indexSuffix, func(b []byte) []byte { return append(b, 1, 2, 3) }},
		{"time index size not a multiple", mid + timeIndexSuffix, func(b []byte) []byte { return b[:len(b)-1] }},
		{"index entries swapped", mid + indexSuffix, func(b []byte) []byte {
			e := slices.Clone(b[:8])
			copy(b[:8], b[8:16])
			copy(b[8:16], e)
			return b
		}},
		{"index points past the segment", mid + indexSuffix, func(b []byte) []byte { b[len(b)-4] = 0x7f; return b }},
		{"last index entry names a wrong offset", last + indexSuffix, func(b []byte) []byte { b[len(b)-5]++; return b }},
		{"time index decreasing", mid + timeIndexSuffix, func(b []byte) []byte { return append(b, make([]byte, 12)...) }},
		{"index of garbage", last + indexSuffix, func(b []byte) []byte { return bytes.Repeat([]byte{0xff}, 64) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := copyDir(t, dir)
			orig := read(d, c.file)
			if len(orig) < 16 {
				t.Fatalf("%s has only %d bytes; the test needs entries", c.file, len(orig))
			}
			p := filepath.Join(d, c.file)
			if c.breakF == nil {
				os.Remove(p)
			} else {
				os.WriteFile(p, c.breakF(slices.Clone(orig)), 0o644)
			}
			logs := &captureLogger{}
			l, err := Open(d, cfg, true, logs.logger())
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if !strings.Contains(logs.String(), "rebuilding") {
				t.Errorf("rebuild not logged:\n%s", logs.String())
			}
			got := read(d, c.file)
			if strings.HasSuffix(c.file, indexSuffix) && !bytes.Equal(got, orig) {
				t.Fatalf("rebuilt %s differs from the original:\n got %x\nwant %x", c.file, got, orig)
			}
			if strings.HasSuffix(c.file, timeIndexSuffix) && (len(got) == 0 || len(got)%12 != 0) {
				t.Fatalf("rebuilt %s has %d bytes", c.file, len(got))
			}
			if got := readAllBatches(t, l, 0); !bytes.Equal(got, m.all()) {
				t.Fatal("content changed")
			}
			checkIndexes(t, l)
		})
	}
}

func TestOpenIgnoresForeignFilesAndRemovesOrphanIndexes(t *testing.T) {
	dir := t.TempDir()
	foreign := []string{"leader-epoch-checkpoint", "00000000000000000000.snapshot", "partition.metadata", "123.log"}
	for _, f := range foreign {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
	}
	orphan := segmentName(500) + indexSuffix
	os.WriteFile(filepath.Join(dir, orphan), make([]byte, 8), 0o644)
	l := openT(t, dir, DefaultConfig(), false)
	appendT(t, l, simpleBatch(t, 0, 1, 1, 1))
	for _, f := range foreign {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || string(b) != "x" {
			t.Fatalf("foreign file %s touched: %q %v", f, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, orphan)); !os.IsNotExist(err) {
		t.Fatalf("orphan index kept: %v", err)
	}
}

func TestEmptyLogStartsAtLogStartOffset(t *testing.T) {
	dir := t.TempDir()
	if err := writeOffsetFile(dir, logStartOffsetFile, 1234); err != nil {
		t.Fatal(err)
	}
	l := openT(t, dir, DefaultConfig(), false)
	if l.LogStartOffset() != 1234 || l.LogEndOffset() != 1234 {
		t.Fatalf("LSO %d LEO %d, want 1234", l.LogStartOffset(), l.LogEndOffset())
	}
	if _, err := os.Stat(filepath.Join(dir, segmentName(1234)+logSuffix)); err != nil {
		t.Fatal(err)
	}
	appendT(t, l, simpleBatch(t, 0, 2, 1, 1))
	if l.LogEndOffset() != 1236 {
		t.Fatalf("LEO %d", l.LogEndOffset())
	}
}

func TestEmptySegmentsDropped(t *testing.T) {
	cfg := smallConfig()
	pristine, m := crashedLog(t, cfg, 50)
	files := segmentFiles(t, pristine)
	dir := copyDir(t, pristine)
	// A crash between creating a segment and writing to it can leave an
	// empty last segment: it must stay (it is the active segment).
	next := m.hs[len(m.hs)-1].LastOffset() + 1
	os.WriteFile(filepath.Join(dir, segmentName(next)+logSuffix), nil, 0o644)
	l := expectLog(t, dir, cfg, false, m)
	if l.NumSegments() != len(files)+1 {
		t.Fatalf("%d segments, want %d", l.NumSegments(), len(files)+1)
	}
}
