package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var errInjectedCrash = errors.New("injected crash")

// crashTestLog builds a closed log of small segments over few keys, cleaned
// once (so that the next clean merges small cleaned segments) and then
// appended to again. It returns the directory and the config.
func crashTestLog(t *testing.T, seed uint64, clock *fakeClock) (string, Config) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	cfg := DefaultConfig()
	cfg.SegmentBytes = int64(1200 + rng.IntN(1500))
	cfg.IndexIntervalBytes = 200
	cfg.Now = clock.Now
	dir := t.TempDir()
	l := openT(t, dir, cfg, true)
	m := newCompactModel()
	for range 60 {
		m.appendRandomBatch(t, l, rng, clock.Now().UnixMilli(), 6, 5)
		clock.Advance(100 * time.Millisecond)
	}
	if _, err := l.Clean(context.Background(), CleanerConfig{Now: clock.Now, DeleteRetentionMs: -1}); err != nil {
		t.Fatal(err)
	}
	for range 60 {
		m.appendRandomBatch(t, l, rng, clock.Now().UnixMilli(), 6, 5)
		clock.Advance(100 * time.Millisecond)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, cfg
}

// groupRanges returns the offset ranges of the cleaned log's segments below
// end: each is one group of the clean.
func groupRanges(l *Log, end int64) [][2]int64 {
	var rs [][2]int64
	for _, s := range segInfos(l) {
		if s.base < end {
			rs = append(rs, [2]int64{s.base, s.next})
		}
	}
	return rs
}

// batchesIn returns the batches of bs whose base offsets lie in [from, to).
func batchesIn(bs [][]byte, from, to int64) []byte {
	var out []byte
	for _, b := range bs {
		if off := parseHeader(b).BaseOffset; off >= from && off < to {
			out = append(out, b...)
		}
	}
	return out
}

// nonEmpty concatenates the batches that hold records.
func nonEmpty(bs [][]byte) []byte {
	var out []byte
	for _, b := range bs {
		if parseHeader(b).NumRecords > 0 {
			out = append(out, b...)
		}
	}
	return out
}

// leftovers lists the cleaner's temporary files in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), cleanedSuffix) || strings.HasSuffix(e.Name(), swapSuffix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestCleanCrashAtEveryStep interrupts a clean at every step it has (each
// rename, each deletion, each group), abandons the log as a crash would and
// reopens it: every group of segments must read either exactly as before
// the clean or exactly as after it, offsets must be unchanged, no temporary
// file may remain, and a new clean must give the uninterrupted result.
func TestCleanCrashAtEveryStep(t *testing.T) {
	// The recovery rule's hard case: a group whose last old segment keeps
	// nothing, so the cleaned segment ends before that segment's base.
	hardCases := 0
	for seed := range uint64(2) {
		retention := []int64{-1, 0}[seed] // tombstones kept; tombstones all due
		{
			t.Run(fmt.Sprintf("seed%d/retention%d", seed, retention), func(t *testing.T) {
				clock := newFakeClock()
				src, cfg := crashTestLog(t, seed, clock)
				clock.Advance(time.Hour) // with retention 0 every tombstone is due
				ccfg := CleanerConfig{Now: clock.Now, DeleteRetentionMs: retention}

				// Reference: the uninterrupted clean, counting the steps.
				refDir := copyDir(t, src)
				ref := openT(t, refDir, cfg, true)
				var oldBases []int64
				for _, si := range segInfos(ref) {
					oldBases = append(oldBases, si.base)
				}
				before := logBytes(t, ref)
				beforeBatches, _ := readBatches(t, ref)
				steps := 0
				var stepNames []cleanStep
				ccfg.hook = func(s cleanStep) error { steps++; stepNames = append(stepNames, s); return nil }
				st, err := ref.Clean(context.Background(), ccfg)
				if err != nil {
					t.Fatal(err)
				}
				afterBatches, afterHs := readBatches(t, ref)
				after := bytes.Join(afterBatches, nil)
				if bytes.Equal(before, after) || st.SegmentsCleaned < 3 {
					t.Fatalf("the reference clean did little: %+v", st)
				}
				groups := groupRanges(ref, st.CleanedUpTo)
				merged := false
				for _, h := range afterHs {
					if h.NumRecords == 0 && h.ProducerID < 0 {
						t.Errorf("the clean left a batch without records or producer at offset %d: consumers would be served it", h.BaseOffset)
					}
				}
				for _, g := range groups {
					lastOld, lastKept := int64(-1), int64(-1)
					for _, b := range oldBases {
						if b >= g[0] && b < g[1] {
							lastOld = b
						}
					}
					for _, h := range afterHs {
						if h.BaseOffset >= g[0] && h.BaseOffset < g[1] {
							lastKept = h.LastOffset()
						}
					}
					if lastKept < lastOld {
						hardCases++
					}
				}
				if len(groups) < st.SegmentsCleaned {
					merged = true
				}
				if !merged || len(groups) < 2 {
					t.Fatalf("want several groups of merged segments, got %d groups for %d segments", len(groups), st.SegmentsCleaned)
				}
				lso, leo := ref.LogStartOffset(), ref.LogEndOffset()
				t.Logf("%d steps (%v), %d groups, %d segments", steps, stepNames, len(groups), st.SegmentsCleaned)

				for k := range steps {
					// Recovery after a crash opens unclean; a clean open must
					// cope as well (every other step).
					for _, cleanOpen := range []bool{k%2 == 1} {
						dir := copyDir(t, src)
						l, err := Open(dir, cfg, true, testLogger(t))
						if err != nil {
							t.Fatal(err)
						}
						n := 0
						c := ccfg
						c.hook = func(cleanStep) error {
							if n++; n > k {
								return errInjectedCrash
							}
							return nil
						}
						if _, err := l.Clean(context.Background(), c); !errors.Is(err, errInjectedCrash) {
							t.Fatalf("step %d: Clean returned %v", k, err)
						}
						l.crash()

						l = openT(t, dir, cfg, cleanOpen)
						if lo := leftovers(t, dir); len(lo) > 0 {
							t.Fatalf("crash at step %d (%v): files left after Open: %v", k, stepNames[k], lo)
						}
						if l.LogStartOffset() != lso || l.LogEndOffset() != leo {
							t.Fatalf("crash at step %d: offsets [%d, %d), want [%d, %d)", k, l.LogStartOffset(), l.LogEndOffset(), lso, leo)
						}
						got, _ := readBatches(t, l)
						for _, g := range groups {
							part := batchesIn(got, g[0], g[1])
							if !bytes.Equal(part, batchesIn(beforeBatches, g[0], g[1])) && !bytes.Equal(part, batchesIn(afterBatches, g[0], g[1])) {
								t.Fatalf("crash at step %d (%v), clean open %v: offsets [%d, %d) are neither as before nor as after the clean",
									k, stepNames[k], cleanOpen, g[0], g[1])
							}
						}
						if tail := groups[len(groups)-1][1]; !bytes.Equal(batchesIn(got, tail, leo), batchesIn(beforeBatches, tail, leo)) {
							t.Fatalf("crash at step %d: the uncleaned tail changed", k)
						}
						checkIndexes(t, l)
						c.hook = nil
						if _, err := l.Clean(context.Background(), c); err != nil {
							t.Fatalf("crash at step %d: clean after recovery: %v", k, err)
						}
						if got, _ := readBatches(t, l); !bytes.Equal(bytes.Join(got, nil), after) {
							t.Fatalf("crash at step %d (%v): cleaning again after recovery does not give the uninterrupted result", k, stepNames[k])
						}
						if err := l.Close(); err != nil {
							t.Fatal(err)
						}
					}
				}
			})
		}
	}
	if hardCases == 0 {
		t.Error("no group's last segment was emptied: the recovery rule's hard case was not exercised")
	}
}

// TestOpenRemovesCleanerLeftovers: .cleaned files, and index and end .swap
// files without a .log.swap, are an interrupted clean's and go; a .log.swap
// with no valid batch and no end is dropped; the segments stay intact.
func TestOpenRemovesCleanerLeftovers(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	l := openT(t, dir, cfg, true)
	m := &model{}
	rng := rand.New(rand.NewPCG(1, 2))
	fillLog(t, l, m, rng, 40, func() int64 { return 1000 })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segmentFiles(t, dir)
	if len(segs) < 3 {
		t.Fatalf("%d segments", len(segs))
	}
	second := strings.TrimSuffix(filepath.Base(segs[1]), logSuffix)
	junk := map[string][]byte{
		second + ".log" + cleanedSuffix:           []byte("half a cleaned segment"),
		second + ".index" + cleanedSuffix:         nil,
		second + ".timeindex" + cleanedSuffix:     nil,
		second + ".index" + swapSuffix:            {1, 2, 3, 4, 5, 6, 7, 8},
		second + ".timeindex" + swapSuffix:        nil,
		second + ".log.end" + cleanedSuffix:       []byte("12\n"),
		second + ".log.end" + swapSuffix:          []byte("12\n"), // its .log.swap is gone
		segmentName(999999) + ".log" + swapSuffix: []byte("no batch here"),
		"not-a-segment.log" + cleanedSuffix:       []byte("left alone"),
	}
	for name, b := range junk {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l = openT(t, dir, cfg, true)
	if lo := leftovers(t, dir); len(lo) != 1 || lo[0] != "not-a-segment.log"+cleanedSuffix {
		t.Fatalf("left after Open: %v", lo)
	}
	checkReads(t, l, m)
	checkIndexes(t, l)
}

// TestRetentionPassesEmptiedSegments: a segment the cleaner emptied holds
// nothing newer than what it replaced, so time retention (cleanup.policy
// compact,delete) deletes it and goes on past it, in the running log and
// after a restart, instead of stopping there for good.
func TestRetentionPassesEmptiedSegments(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		t.Run(fmt.Sprintf("reopen=%v", reopen), func(t *testing.T) {
			clock := newFakeClock()
			cfg := DefaultConfig()
			cfg.SegmentBytes = 300 // one batch each
			cfg.Now = clock.Now
			dir := t.TempDir()
			l := openT(t, dir, cfg, true)
			v := bytes.Repeat([]byte("v"), 200)
			for range 4 {
				appendT(t, l, buildBatch(t, 0, []testRec{{key: []byte("k"), value: v, ts: clock.Now().UnixMilli()}}, batchOpts{}))
				clock.Advance(time.Minute)
			}
			if _, err := l.Clean(context.Background(), CleanerConfig{Now: clock.Now, DeleteRetentionMs: -1}); err != nil {
				t.Fatal(err)
			}
			l.mu.RLock()
			firstEmpty := l.segs[0].size == 0
			l.mu.RUnlock()
			if !firstEmpty {
				t.Fatalf("the clean did not empty the first segment: %+v", segInfos(l))
			}
			if reopen {
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				l = openT(t, dir, cfg, true)
			}
			clock.Advance(time.Hour)
			if _, err := l.DeleteOldSegments(10*time.Minute.Milliseconds(), -1); err != nil {
				t.Fatal(err)
			}
			if si := segInfos(l); len(si) != 1 || l.LogStartOffset() != l.LogEndOffset() {
				t.Fatalf("after retention of everything older than 10 minutes: segments %+v, log [%d, %d); want only the empty active one",
					si, l.LogStartOffset(), l.LogEndOffset())
			}
		})
	}
}
