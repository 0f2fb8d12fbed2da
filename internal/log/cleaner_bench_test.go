package log

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
)

// cleanBenchDir builds a closed log of about size bytes: batches of 16
// records of 1 KiB values over keys keys (so each key is written several
// times), with codec, in 8 MiB segments, and returns its directory, config
// and the bytes in its rolled (cleanable) segments.
func cleanBenchDir(b *testing.B, codec int8, size, keys int) (string, Config, int64) {
	b.Helper()
	dir := b.TempDir()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 8 << 20
	l, err := Open(dir, cfg, true, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for l.Size() < int64(size) {
		recs := make([]testRec, 16)
		for i := range recs {
			val := make([]byte, 1024)
			for j := range val {
				val[j] = 'a' + byte(rng.IntN(16)) // compresses about 2:1
			}
			recs[i] = testRec{key: []byte(fmt.Sprintf("key-%06d", rng.IntN(keys))), value: val, ts: 1_700_000_000_000}
		}
		appendT(b, l, buildBatch(b, 0, recs, batchOpts{codec: codec}))
	}
	cleanable := l.Size() - segInfoSize(l, -1)
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	return dir, cfg, cleanable
}

// BenchmarkClean measures cleaner throughput: bytes of cleanable log
// compacted per second (a fresh copy of a 64 MiB log each iteration, 1 KiB
// values compressing about 2:1, each key written about 8 times uncompressed,
// so most records go).
func BenchmarkClean(b *testing.B) {
	for _, c := range []struct {
		name  string
		codec int8
	}{{"none", CompressionNone}, {"lz4", CompressionLZ4}, {"zstd", CompressionZstd}} {
		b.Run(c.name, func(b *testing.B) {
			src, cfg, cleanable := cleanBenchDir(b, c.codec, 64<<20, 7000)
			b.SetBytes(cleanable)
			b.ReportAllocs()
			b.ResetTimer()
			var st CleanStats
			for range b.N {
				b.StopTimer()
				dir := copyDir(b, src)
				l, err := Open(dir, cfg, true, slog.New(slog.DiscardHandler))
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				st, err = l.Clean(context.Background(), CleanerConfig{DeleteRetentionMs: -1})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				l.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(st.RecordsRemoved)/float64(st.RecordsRead), "removed/record")
			b.ReportMetric(float64(st.BytesWritten)/float64(cleanable), "written/cleanable")
		})
	}
}

// BenchmarkAppendWhileCleaning measures append throughput with the cleaner
// compacting the same log in a loop (every append supersedes the previous
// records, 1 MiB segments), against the same appends without it.
func BenchmarkAppendWhileCleaning(b *testing.B) {
	for _, cleaning := range []bool{false, true} {
		b.Run(fmt.Sprintf("cleaner=%v", cleaning), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.SegmentBytes = 1 << 20
			l, err := Open(b.TempDir(), cfg, false, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			buf, h := benchBatch(b)
			hs := []BatchHeader{h}
			ctx, stop := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var cleaned int
			if cleaning {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						st, err := l.Clean(ctx, CleanerConfig{DeleteRetentionMs: -1})
						if err != nil && ctx.Err() == nil {
							b.Error(err)
							return
						}
						cleaned += st.SegmentsCleaned
					}
				}()
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				appendNext(b, l, buf, hs)
			}
			stop()
			wg.Wait()
			b.ReportMetric(float64(cleaned), "segments-cleaned")
		})
	}
}
