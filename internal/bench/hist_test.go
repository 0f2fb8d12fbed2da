package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// exactPercentile is the nearest-rank percentile of sorted values.
func exactPercentile(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func TestHistogramSmallValuesAreExact(t *testing.T) {
	var h Histogram
	for v := int64(1); v <= 100; v++ {
		h.Record(v)
	}
	for _, c := range []struct {
		q    float64
		want int64
	}{{50, 50}, {99, 99}, {99.9, 100}, {1, 1}, {100, 100}, {0, 1}} {
		if got := h.Percentile(c.q); got != c.want {
			t.Errorf("p%g = %d, want %d", c.q, got, c.want)
		}
	}
	if h.Count() != 100 || h.Min() != 1 || h.Max() != 100 || h.Mean() != 50.5 {
		t.Errorf("count %d min %d max %d mean %g", h.Count(), h.Min(), h.Max(), h.Mean())
	}
}

func TestHistogramPercentilesWithinRelativeError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, dist := range []struct {
		name string
		gen  func() int64
	}{
		{"uniform 1µs-10ms", func() int64 { return 1000 + r.Int64N(10_000_000) }},
		{"log-normal ns", func() int64 { return int64(math.Exp(r.NormFloat64()*2 + 13)) }},
		{"wide", func() int64 { return r.Int64N(1 << 50) }},
	} {
		t.Run(dist.name, func(t *testing.T) {
			var h Histogram
			vals := make([]int64, 100_000)
			for i := range vals {
				vals[i] = dist.gen()
				h.Record(vals[i])
			}
			slices.Sort(vals)
			for _, q := range []float64{1, 10, 50, 90, 99, 99.9, 99.99} {
				want := exactPercentile(vals, q)
				got := h.Percentile(q)
				// Never below the true value, at most one bucket (1/128) above.
				if got < want || float64(got) > float64(want)*(1+1.0/histSubCount)+1 {
					t.Errorf("p%g = %d, exact %d", q, got, want)
				}
			}
			if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] {
				t.Errorf("min/max %d/%d, want %d/%d", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
			}
			if h.Percentile(100) != h.Max() {
				t.Errorf("p100 %d != max %d", h.Percentile(100), h.Max())
			}
		})
	}
}

func TestHistogramBucketsCoverInt64(t *testing.T) {
	// Every bucket's upper bound maps back to that bucket and bounds grow.
	prev := int64(-1)
	for i := 0; i < histBuckets; i++ {
		up := histUpper(i)
		if up <= prev {
			t.Fatalf("bucket %d upper %d not above previous %d", i, up, prev)
		}
		if got := histIndex(up); got != i {
			t.Fatalf("histIndex(histUpper(%d)=%d) = %d", i, up, got)
		}
		prev = up
	}
	if prev != math.MaxInt64 {
		t.Fatalf("last bucket ends at %d, want MaxInt64", prev)
	}
	var h Histogram
	h.Record(math.MaxInt64)
	h.Record(-5) // counts as 0
	if h.Max() != math.MaxInt64 || h.Min() != 0 || h.Percentile(50) != 0 {
		t.Fatalf("max %d min %d p50 %d", h.Max(), h.Min(), h.Percentile(50))
	}
}

func TestHistogramMergeEqualsRecordingAll(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var a, b, all Histogram
	for i := 0; i < 10_000; i++ {
		v := r.Int64N(1 << 30)
		all.Record(v)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	var empty Histogram
	a.Merge(&b)
	a.Merge(&empty)
	if a != all {
		t.Fatalf("merged histogram differs: count %d vs %d, p99 %d vs %d",
			a.Count(), all.Count(), a.Percentile(99), all.Percentile(99))
	}
	empty.Merge(&all)
	if empty.Min() != all.Min() {
		t.Fatalf("merge into empty: min %d, want %d", empty.Min(), all.Min())
	}
}

func TestHistogramEmpty(t *testing.T) {
	var h Histogram
	if h.Percentile(99) != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram should read 0")
	}
	l := LatencyOf(&h)
	if l.Count != 0 || l.P99Ms != 0 {
		t.Fatalf("LatencyOf(empty) = %+v", l)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	b.ReportAllocs()
	var h Histogram
	for i := 0; b.Loop(); i++ {
		h.Record(int64(i) * 7919)
	}
}
