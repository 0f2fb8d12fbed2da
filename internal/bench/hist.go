package bench

import (
	"math"
	"math/bits"
	"time"
)

// histSubBits is the number of bits of precision kept inside each power of
// two: values are grouped into 2^histSubBits linear buckets per octave, so a
// bucket's width is at most 1/128 of its lower bound and any percentile read
// back is within 0.8% of the true value. This is the layout HDR histograms
// use; we keep our own because we need only Record, Merge and Percentile.
const (
	histSubBits  = 7
	histSubCount = 1 << histSubBits
	// Values below histSubCount get one bucket each; every octave above
	// has histSubCount buckets. int64 values have at most 63 significant
	// bits, so 63-histSubBits octaves cover them all.
	histBuckets = histSubCount + (63-histSubBits)*histSubCount
)

// Histogram counts non-negative int64 samples (we record durations in
// nanoseconds) in log-linear buckets of bounded relative width. The zero
// value is ready to use. It is not safe for concurrent use: give each
// goroutine its own and Merge them.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    float64
	min    int64
	max    int64
}

func histIndex(v int64) int {
	if v < histSubCount {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - histSubBits - 1
	return histSubCount + shift*histSubCount + int(v>>uint(shift)) - histSubCount
}

// histUpper is the largest value that falls into bucket i.
func histUpper(i int) int64 {
	if i < histSubCount {
		return int64(i)
	}
	shift := (i - histSubCount) / histSubCount
	m := int64(histSubCount + (i-histSubCount)%histSubCount)
	up := (m+1)<<uint(shift) - 1
	if up < 0 { // the top bucket's bound overflows int64
		return math.MaxInt64
	}
	return up
}

// Record adds one sample. Negative samples (a clock step backwards) count as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[histIndex(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// RecordDuration adds one duration sample in nanoseconds.
func (h *Histogram) RecordDuration(d time.Duration) { h.Record(int64(d)) }

// Merge adds all of o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Reset forgets every sample.
func (h *Histogram) Reset() { *h = Histogram{} }

// Count is the number of samples recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Min is the smallest sample, exactly; 0 when empty.
func (h *Histogram) Min() int64 { return h.min }

// Max is the largest sample, exactly; 0 when empty.
func (h *Histogram) Max() int64 { return h.max }

// Mean is the exact mean of the samples; 0 when empty.
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Percentile returns the value at or below which q percent of the samples
// fall (q in [0, 100]), as the upper bound of the bucket holding that rank,
// clamped to the exact min and max. It is never below the true percentile
// and at most 1/128 above it. Empty histograms return 0.
func (h *Histogram) Percentile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	if q <= 0 {
		return h.min
	}
	if q >= 100 {
		return h.max
	}
	rank := uint64(math.Ceil(q / 100 * float64(h.n)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := histUpper(i)
			if v > h.max {
				v = h.max
			}
			if v < h.min {
				v = h.min
			}
			return v
		}
	}
	return h.max
}
