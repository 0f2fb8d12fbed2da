package log

import (
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
)

// benchBatch is a 16 KiB batch of sixteen 1 KiB records.
func benchBatch(b testing.TB) ([]byte, BatchHeader) {
	recs := make([]testRec, 16)
	for i := range recs {
		v := make([]byte, 1024)
		for j := range v {
			v[j] = byte(i + j)
		}
		recs[i] = testRec{key: []byte("key"), value: v, ts: 1_700_000_000_000}
	}
	buf := buildBatch(b, 0, recs, batchOpts{})
	hs, err := ValidateBatches(buf, 0)
	if err != nil {
		b.Fatal(err)
	}
	return buf, hs[0]
}

func benchLog(b testing.TB) *Log {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 64 << 20
	l, err := Open(b.TempDir(), cfg, false, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

func BenchmarkAppend(b *testing.B) {
	l := benchLog(b)
	buf, h := benchBatch(b)
	hs := []BatchHeader{h}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		appendNext(b, l, buf, hs)
	}
}

// BenchmarkAppendSyncParallel appends and syncs from many goroutines: group
// commit shares each fsync among the waiting callers.
func BenchmarkAppendSyncParallel(b *testing.B) {
	l := benchLog(b)
	buf, h := benchBatch(b)
	var mu sync.Mutex // the partition lock
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		my := append([]byte{}, buf...)
		hs := []BatchHeader{h}
		for pb.Next() {
			mu.Lock()
			off := l.LogEndOffset()
			SetBaseOffset(my, off)
			hs[0].BaseOffset = off
			err := l.Append(my, hs)
			mu.Unlock()
			if err != nil {
				b.Error(err)
				return
			}
			if err := l.Sync(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/float64(max(1, l.fsyncs.Load())), "syncs/fsync")
}

// filledLog holds ~64 MiB of 16 KiB batches in 16 MiB segments.
func filledLog(b testing.TB) *Log {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 16 << 20
	l, err := Open(b.TempDir(), cfg, false, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	buf, h := benchBatch(b)
	hs := []BatchHeader{h}
	for l.Size() < 64<<20 {
		appendNext(b, l, buf, hs)
	}
	return l
}

func BenchmarkIndexLookup(b *testing.B) {
	// A full-size index: 10 MiB of entries.
	n := (10 << 20) / offsetEntrySize
	entries := make([]offsetEntry, n)
	for i := range entries {
		entries[i] = offsetEntry{relOffset: int32(i * 16), pos: int32(i * 4096)}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	var sink int64
	for b.Loop() {
		sink += lookupOffset(entries, rng.Int64N(int64(n)*16))
	}
	_ = sink
}

// BenchmarkRead is the fetch path: locate a random offset and size a 1 MiB
// response of whole batches (no data copied: that is sendfile's job).
func BenchmarkRead(b *testing.B) {
	l := filledLog(b)
	leo := l.LogEndOffset()
	rng := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	for b.Loop() {
		r, err := l.Read(rng.Int64N(leo), 1<<20, true)
		if err != nil || r.Size == 0 {
			b.Fatal(r.Size, err)
		}
		r.Release()
	}
}

// BenchmarkReadBytes copies the 1 MiB response into memory.
func BenchmarkReadBytes(b *testing.B) {
	l := filledLog(b)
	leo := l.LogEndOffset()
	rng := rand.New(rand.NewPCG(3, 4))
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.ReadBytes(rng.Int64N(leo), 1<<20, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateBatches(b *testing.B) {
	buf, _ := benchBatch(b)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ValidateBatches(buf, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}

// appendNext appends buf, one batch described by hs[0], as the log's next
// batch: its base offset is set to the log end offset first.
func appendNext(b testing.TB, l *Log, buf []byte, hs []BatchHeader) {
	off := l.LogEndOffset()
	SetBaseOffset(buf, off)
	hs[0].BaseOffset = off
	if err := l.Append(buf, hs); err != nil {
		b.Fatal(err)
	}
}
