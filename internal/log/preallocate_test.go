package log

import (
	"bytes"
	"os"
	"syscall"
	"testing"
)

// allocated is the disk space a file holds (st_blocks), which counts blocks
// reserved past its end.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Blocks * 512
}

// TestPreallocate appends through two rolls with preallocation on, and
// checks that the active segment holds blocks reserved ahead of its end
// while its size stays that of its data, that rolled segments and the
// closed log give the reservation back, and that a crash with a reserved
// tail recovers every batch and appends on.
func TestPreallocate(t *testing.T) {
	if !preallocSupported {
		t.Skip("no preallocation on this platform")
	}
	const ahead = 256 << 10
	cfg := DefaultConfig()
	// Segments roll on their index, at about 500 KiB, far below
	// SegmentBytes, which would otherwise bound the reservation.
	cfg.SegmentBytes = 8 << 20
	cfg.SegmentIndexBytes = 40 * offsetEntrySize
	cfg.PreallocateBytes = ahead
	dir := t.TempDir()
	l := openT(t, dir, cfg, true)

	var want []byte
	for i := 0; i < 100; i++ { // about 1.3 MiB: two rolls
		b := simpleBatch(t, 0, 13, 1000, 1)
		appendT(t, l, b)
		want = append(want, b...)
	}
	if l.preallocOff {
		t.Skipf("the file system of %s does not preallocate", dir)
	}
	files := segmentFiles(t, dir)
	if len(files) < 3 {
		t.Fatalf("expected at least 3 segments, got %d", len(files))
	}
	for _, f := range files[:len(files)-1] {
		if a, size := allocated(t, f), fileSize(t, f); a > pageCeil(size)+4096 {
			t.Errorf("rolled segment %s: %d bytes allocated for %d of data: the reservation was not given back", f, a, size)
		}
	}
	active := files[len(files)-1]
	l.mu.RLock()
	size, prealloc := l.segs[len(l.segs)-1].size, l.segs[len(l.segs)-1].prealloc
	l.mu.RUnlock()
	if got := fileSize(t, active); got != size {
		t.Fatalf("active segment is %d bytes, its data %d: preallocation changed the file size", got, size)
	}
	if prealloc < size+8192 {
		t.Fatalf("active segment reserved up to %d, its data ends at %d: nothing reserved ahead", prealloc, size)
	}
	if a := allocated(t, active); a < prealloc-4096 {
		t.Fatalf("active segment has %d bytes allocated, %d were reserved", a, prealloc)
	}

	// A crash keeps the reservation; recovery must read the data only.
	l.crash()
	l2 := openT(t, dir, cfg, false)
	if got := readAllBatches(t, l2, 0); !bytes.Equal(got, want) {
		t.Fatalf("after the crash: read %d bytes, want the %d appended", len(got), len(want))
	}
	b := simpleBatch(t, 0, 13, 1000, 1)
	appendT(t, l2, b)
	want = append(want, b...)
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	if a, size := allocated(t, active), fileSize(t, active); a > pageCeil(size)+4096 {
		t.Errorf("closed log's active segment: %d bytes allocated for %d of data", a, size)
	}
	l3 := openT(t, dir, cfg, true)
	if got := readAllBatches(t, l3, 0); !bytes.Equal(got, want) {
		t.Fatalf("after reopening: read %d bytes, want %d", len(got), len(want))
	}
}

func pageCeil(n int64) int64 { return (n + 4095) &^ 4095 }

// TestPreallocateOff checks that a log configured with 0 reserves nothing.
func TestPreallocateOff(t *testing.T) {
	cfg := DefaultConfig()
	dir := t.TempDir()
	l := openT(t, dir, cfg, true)
	for i := 0; i < 50; i++ {
		appendT(t, l, simpleBatch(t, 0, 13, 1000, 1))
	}
	files := segmentFiles(t, dir)
	size := fileSize(t, files[0])
	if a := allocated(t, files[0]); a > pageCeil(size)+4096 {
		t.Fatalf("%d bytes allocated for %d of data with preallocation off", a, size)
	}
}

// TestPreallocateNotInMemory checks that a log on tmpfs reserves nothing:
// there a reservation saves no work and holds memory.
func TestPreallocateNotInMemory(t *testing.T) {
	if !preallocSupported {
		t.Skip("no preallocation on this platform")
	}
	base, err := os.MkdirTemp("/dev/shm", "samsa-prealloc-")
	if err != nil || !inMemoryFS(base) {
		t.Skip("no tmpfs at /dev/shm")
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	cfg := DefaultConfig()
	cfg.PreallocateBytes = 1 << 20
	l := openT(t, base, cfg, true)
	for i := 0; i < 20; i++ {
		appendT(t, l, simpleBatch(t, 0, 13, 1000, 1))
	}
	if !l.preallocOff {
		t.Fatal("a log on tmpfs still preallocates")
	}
	f := segmentFiles(t, base)[0]
	if a, size := allocated(t, f), fileSize(t, f); a > pageCeil(size) {
		t.Fatalf("%d bytes allocated for %d of data on tmpfs", a, size)
	}
}
