package log

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// retentionLog has segments of four 1000-byte batches (three records each),
// batch i stamped at clock start + i seconds.
func retentionLog(t *testing.T, batches int) (*Log, *fakeClock, string, []int64) {
	t.Helper()
	clock := newFakeClock()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 4000
	cfg.Now = clock.Now
	dir := t.TempDir()
	l := openT(t, dir, cfg, false)
	start := clock.Now().UnixMilli()
	for i := range batches {
		appendT(t, l, simpleBatch(t, 0, 3, 300, start+int64(i)*1000))
	}
	var bases []int64
	l.mu.RLock()
	for _, s := range l.segs {
		bases = append(bases, s.base)
	}
	l.mu.RUnlock()
	return l, clock, dir, bases
}

func TestRetentionByTime(t *testing.T) {
	l, clock, dir, bases := retentionLog(t, 12) // 3 segments of 4 batches
	if len(bases) != 3 {
		t.Fatalf("%d segments, want 3", len(bases))
	}
	// Now is 20s after the first batch; segment 0's newest batch is 3s.
	clock.Advance(20 * time.Second)
	n, err := l.DeleteOldSegments((20-3)*1000, -1)
	if err != nil || n != 0 {
		t.Fatalf("nothing is older than 17s yet: deleted %d, %v", n, err)
	}
	n, err = l.DeleteOldSegments((20-3)*1000-1, -1)
	if err != nil || n != 1 {
		t.Fatalf("deleted %d, %v; want segment 0", n, err)
	}
	if l.LogStartOffset() != bases[1] {
		t.Fatalf("LSO %d, want %d", l.LogStartOffset(), bases[1])
	}
	if _, err := os.Stat(dir + "/" + segmentName(0) + logSuffix); !os.IsNotExist(err) {
		t.Fatalf("segment 0 still on disk: %v", err)
	}
	if _, err := l.Read(0, 100, true); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read of a deleted offset: %v", err)
	}
	if _, err := l.ReadBytes(bases[1], 100, true); err != nil {
		t.Fatal(err)
	}

	// Everything expired: the active segment is rolled and deleted too.
	leo := l.LogEndOffset()
	clock.Advance(time.Hour)
	if n, err := l.DeleteOldSegments(1000, -1); err != nil || n != 2 {
		t.Fatalf("deleted %d, %v; want 2", n, err)
	}
	if l.LogEndOffset() != leo || l.LogStartOffset() != leo || l.NumSegments() != 1 || l.Size() != 0 {
		t.Fatalf("after deleting all: LEO %d LSO %d segments %d size %d", l.LogEndOffset(), l.LogStartOffset(), l.NumSegments(), l.Size())
	}
	appendT(t, l, simpleBatch(t, 0, 1, 10, clock.Now().UnixMilli()))
	if l.LogEndOffset() != leo+1 {
		t.Fatal("append after full retention failed")
	}
	// The log start offset survives a restart.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openT(t, dir, DefaultConfig(), true)
	if l2.LogStartOffset() != leo || l2.LogEndOffset() != leo+1 {
		t.Fatalf("after reopen LSO %d LEO %d", l2.LogStartOffset(), l2.LogEndOffset())
	}
}

func TestRetentionBySize(t *testing.T) {
	l, _, _, bases := retentionLog(t, 14) // segments of 4, 4, 4, 2 batches
	seg := l.Size() * 4 / 14
	// Keep at least 2.5 segments' worth: only segment 0 can go.
	n, err := l.DeleteOldSegments(-1, seg*5/2)
	if err != nil || n != 1 || l.LogStartOffset() != bases[1] {
		t.Fatalf("deleted %d (%v), LSO %d", n, err, l.LogStartOffset())
	}
	// retention.bytes 0 deletes every inactive segment.
	if n, err := l.DeleteOldSegments(-1, 0); err != nil || n != 2 || l.NumSegments() != 1 {
		t.Fatalf("deleted %d (%v), %d segments left", n, err, l.NumSegments())
	}
}

func TestRetentionByLogStartOffset(t *testing.T) {
	l, _, _, bases := retentionLog(t, 12)
	if err := l.SetLogStartOffset(bases[2] - 1); err != nil {
		t.Fatal(err)
	}
	if n, err := l.DeleteOldSegments(-1, -1); err != nil || n != 1 {
		t.Fatalf("deleted %d, %v; want 1 (segment 1 still holds offset %d)", n, err, bases[2]-1)
	}
	if l.LogStartOffset() != bases[2]-1 {
		t.Fatalf("LSO moved to %d", l.LogStartOffset())
	}
	if err := l.SetLogStartOffset(l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	if n, err := l.DeleteOldSegments(-1, -1); err != nil || n != 1 || l.NumSegments() != 1 {
		t.Fatalf("deleted %d, %v, %d segments; the active one stays", n, err, l.NumSegments())
	}
}

func TestRetentionKeepsInFlightReads(t *testing.T) {
	l, clock, _, _ := retentionLog(t, 8)
	want, err := l.ReadBytes(0, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Read(0, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if n, err := l.DeleteOldSegments(1, -1); err != nil || n != 2 {
		t.Fatalf("deleted %d, %v", n, err)
	}
	got := make([]byte, r.Size)
	if _, err := r.File.ReadAt(got, r.Pos); err != nil || string(got) != string(want) {
		t.Fatalf("in-flight read of a deleted segment: %v", err)
	}
	r.Release()
}

// TestRetentionAndDeleteRecordsRace: retention and DeleteRecords both move
// the log start offset and write it to the same file, through the same
// temporary name. Run at once, neither may fail (a rename of a temporary
// file the other already renamed), and the file must end with the larger
// offset, or a restart would bring deleted records back.
func TestRetentionAndDeleteRecordsRace(t *testing.T) {
	for round := range 100 {
		l, _, dir, bases := retentionLog(t, 14) // the active segment starts at bases[3]
		target := bases[len(bases)-1] + 1       // inside the active segment: beyond what retention sets
		errs := make(chan error, 2)
		go func() { _, err := l.DeleteOldSegments(-1, 0); errs <- err }()
		go func() { errs <- l.SetLogStartOffset(target) }()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		b, err := os.ReadFile(filepath.Join(dir, logStartOffsetFile))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(b)); got != strconv.FormatInt(target, 10) || l.LogStartOffset() != target {
			t.Fatalf("round %d: log start offset %d in memory, %q in the file; want %d", round, l.LogStartOffset(), got, target)
		}
		l.Close()
	}
}
