//go:build !race

// The race detector's sync.Pool drops items at random, so allocation counts
// are only meaningful without it; test.sh runs these tests a second time
// without -race.

package log

import "testing"

// TestAppendAndReadDoNotAllocate guards the log's hot paths: appending a
// validated batch (the page-cache write and the index) and locating a
// fetch's file range allocate nothing, whatever the data.
func TestAppendAndReadDoNotAllocate(t *testing.T) {
	l := filledLog(t)
	buf, h := benchBatch(t)
	hs := []BatchHeader{h}
	if n := testing.AllocsPerRun(500, func() { appendNext(t, l, buf, hs) }); n != 0 {
		t.Errorf("Append allocates %v times per batch, want 0", n)
	}
	leo := l.LogEndOffset()
	var off int64
	if n := testing.AllocsPerRun(500, func() {
		off = (off + 7919) % leo
		r, err := l.Read(off, 1<<20, true)
		if err != nil || r.Size == 0 {
			t.Fatalf("Read(%d): %d bytes, %v", off, r.Size, err)
		}
		r.Release()
	}); n != 0 {
		t.Errorf("Read allocates %v times per fetch, want 0", n)
	}
}
