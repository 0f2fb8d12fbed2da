package log

import (
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type wbCall struct {
	path     string
	from, to int64
	err      error
}

// TestWriteback appends past the writeback threshold in small batches and
// checks that the worker hands the kernel every whole page of each segment
// exactly once, in page-aligned ranges of at least the threshold, that the
// system call succeeds on a real file, and that a log configured with 0
// makes no requests.
func TestWriteback(t *testing.T) {
	if !writebackSupported {
		t.Skip("no early writeback on this platform")
	}
	var mu sync.Mutex
	var calls []wbCall
	testHookWriteback = func(path string, from, to int64, err error) {
		mu.Lock()
		calls = append(calls, wbCall{path, from, to, err})
		mu.Unlock()
	}
	t.Cleanup(func() { testHookWriteback = nil })

	const threshold = 64 << 10
	cfg := DefaultConfig()
	cfg.WritebackBytes = threshold
	cfg.SegmentBytes = 1 << 20
	dir := t.TempDir()
	l := openT(t, dir, cfg, true)

	off := cfg
	off.WritebackBytes = 0
	quiet := openT(t, filepath.Join(t.TempDir(), "quiet"), off, true)

	for i := 0; i < 200; i++ { // about 2.6 MiB: two rolls
		appendT(t, l, simpleBatch(t, 0, 13, 1000, 1))
		appendT(t, quiet, simpleBatch(t, 0, 13, 1000, 1))
	}
	l.mu.RLock()
	type segInfo struct {
		path string
		size int64
	}
	var segs []segInfo
	for _, s := range l.segs {
		segs = append(segs, segInfo{s.logPath, s.size})
	}
	l.mu.RUnlock()
	if len(segs) < 3 {
		t.Fatalf("expected at least 3 segments, got %d", len(segs))
	}

	// The worker is asynchronous: wait until the last segment's requests
	// reach its last full threshold.
	want := map[string]int64{}
	for _, s := range segs {
		end := s.size &^ (pageSize - 1)
		if end >= threshold {
			want[s.path] = end
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := map[string]int64{}
		for _, c := range calls {
			got[c.path] = max(got[c.path], c.to)
		}
		mu.Unlock()
		done := true
		for p, end := range want {
			// The last request of a segment leaves at most a threshold's
			// worth of pages to the kernel.
			if got[p] <= end-threshold {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writeback requests reached %v, want within %d of %v", got, threshold, want)
		}
		time.Sleep(5 * time.Millisecond)
	}

	mu.Lock()
	defer mu.Unlock()
	next := map[string]int64{}
	for _, c := range calls {
		if filepath.Dir(c.path) != dir {
			t.Errorf("request for %s, a log configured without writeback", c.path)
			continue
		}
		if c.err != nil {
			t.Errorf("sync_file_range on %s [%d,%d): %v", c.path, c.from, c.to, c.err)
		}
		if c.from%pageSize != 0 || c.to%pageSize != 0 || c.to-c.from < threshold {
			t.Errorf("request [%d,%d) on %s: want page-aligned and at least %d bytes", c.from, c.to, c.path, threshold)
		}
		if c.from != next[c.path] {
			t.Errorf("request on %s starts at %d, want %d (contiguous, no page twice)", c.path, c.from, next[c.path])
		}
		next[c.path] = c.to
	}
}
