package log

import (
	"testing"
)

func TestLookupOffset(t *testing.T) {
	// Batches ending at relative offsets 9, 19, 29 start at 100, 200, 300.
	es := []offsetEntry{{9, 100}, {19, 200}, {29, 300}}
	cases := []struct {
		rel  int64
		want int64
	}{
		{0, 0}, {8, 0}, {9, 100}, {10, 100}, {18, 100}, {19, 200}, {28, 200}, {29, 300}, {1000, 300},
	}
	for _, c := range cases {
		if got := lookupOffset(es, c.rel); got != c.want {
			t.Errorf("lookupOffset(%d) = %d, want %d", c.rel, got, c.want)
		}
	}
	if got := lookupOffset(nil, 5); got != 0 {
		t.Errorf("empty index: %d", got)
	}
	bounds := []struct{ limit, want int64 }{{99, -1}, {100, 100}, {250, 200}, {300, 300}, {1 << 40, 300}}
	for _, c := range bounds {
		if got := lastBoundaryAtOrBefore(es, c.limit); got != c.want {
			t.Errorf("lastBoundaryAtOrBefore(%d) = %d, want %d", c.limit, got, c.want)
		}
	}
}

func TestLookupTime(t *testing.T) {
	es := []timeEntry{{1000, 3}, {2000, 7}, {3000, 12}}
	cases := []struct {
		ts    int64
		want  int32
		found bool
	}{
		{999, 0, false}, {1000, 3, true}, {1999, 3, true}, {2000, 7, true}, {5000, 12, true},
	}
	for _, c := range cases {
		got, ok := lookupTime(es, c.ts)
		if got != c.want || ok != c.found {
			t.Errorf("lookupTime(%d) = %d %v, want %d %v", c.ts, got, ok, c.want, c.found)
		}
	}
}

func TestDecodeIndexSanity(t *testing.T) {
	enc := func(es ...offsetEntry) []byte { return encodeOffsetEntries(nil, es) }
	good := enc(offsetEntry{5, 100}, offsetEntry{9, 200})
	if es, err := decodeOffsetIndex(good, 300, -1); err != nil || len(es) != 2 {
		t.Fatalf("good index: %v %v", es, err)
	}
	bad := map[string]struct {
		b      []byte
		size   int64
		maxRel int64
	}{
		"position past the log":    {good, 200, -1},
		"offset past next segment": {good, 300, 9},
		"offsets not increasing":   {enc(offsetEntry{9, 100}, offsetEntry{9, 200}), 300, -1},
		"positions not increasing": {enc(offsetEntry{5, 200}, offsetEntry{9, 200}), 300, -1},
		"negative offset":          {enc(offsetEntry{-1, 100}), 300, -1},
	}
	for name, c := range bad {
		if _, err := decodeOffsetIndex(c.b, c.size, c.maxRel); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	tenc := func(es ...timeEntry) []byte { return encodeTimeEntries(nil, es) }
	if _, err := decodeTimeIndex(tenc(timeEntry{10, 1}, timeEntry{20, 1}), -1); err != nil {
		t.Fatalf("good time index: %v", err)
	}
	for name, b := range map[string][]byte{
		"timestamps not increasing": tenc(timeEntry{10, 1}, timeEntry{10, 2}),
		"offsets decreasing":        tenc(timeEntry{10, 5}, timeEntry{20, 4}),
		"negative offset":           tenc(timeEntry{10, -1}),
	} {
		if _, err := decodeTimeIndex(b, -1); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseSegmentFile(t *testing.T) {
	cases := []struct {
		name   string
		base   int64
		suffix string
		ok     bool
	}{
		{"00000000000000000000.log", 0, logSuffix, true},
		{"00000000000000001234.index", 1234, indexSuffix, true},
		{"09223372036854775807.timeindex", 1<<63 - 1, timeIndexSuffix, true},
		{"99999999999999999999.log", 0, "", false}, // overflows int64
		{"0000000000000000000a.log", 0, "", false},
		{"00000000000000000000.snapshot", 0, "", false},
		{"00000000000000000000.log.deleted", 0, "", false},
		{"123.log", 0, "", false},
		{"leader-epoch-checkpoint", 0, "", false},
	}
	for _, c := range cases {
		base, suffix, ok := parseSegmentFile(c.name)
		if ok != c.ok || (ok && (base != c.base || suffix != c.suffix)) {
			t.Errorf("parseSegmentFile(%q) = %d %q %v", c.name, base, suffix, ok)
		}
	}
	if segmentName(42) != "00000000000000000042" {
		t.Errorf("segmentName(42) = %s", segmentName(42))
	}
}
