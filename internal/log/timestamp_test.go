package log

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

type flatRecord struct {
	offset, ts int64
}

// flatten decodes every record the model holds.
func (m *model) flatten(t *testing.T) []flatRecord {
	t.Helper()
	var out []flatRecord
	for _, b := range m.batches {
		recs, err := DecodeRecords(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			out = append(out, flatRecord{r.Offset, r.Timestamp})
		}
	}
	return out
}

var allCodecs = []int8{CompressionNone, CompressionGzip, CompressionSnappy, codecXerialSnappy, CompressionLZ4, CompressionZstd}

// timestampLog fills a log with batches of every codec whose record
// timestamps jump around, some with LogAppendTime.
func timestampLog(t *testing.T, dir string, cfg Config) (*Log, *model) {
	t.Helper()
	l := openT(t, dir, cfg, false)
	m := &model{}
	rng := rand.New(rand.NewPCG(21, 22))
	base := int64(1_000_000)
	for i := range 120 {
		n := 1 + rng.IntN(6)
		recs := make([]testRec, n)
		for j := range recs {
			recs[j] = testRec{key: []byte(fmt.Sprint(i, j)), value: make([]byte, rng.IntN(200)), ts: base + rng.Int64N(400) - 100}
		}
		base += 5
		o := batchOpts{codec: allCodecs[i%len(allCodecs)]}
		if i%17 == 5 {
			o.logAppendTime = base + 50
		}
		b := buildBatch(t, 0, recs, o)
		m.add(b, appendT(t, l, b))
	}
	return l, m
}

func checkTimestamps(t *testing.T, l *Log, m *model) {
	t.Helper()
	recs := m.flatten(t)
	lso := l.LogStartOffset()
	probe := map[int64]bool{}
	minTs, maxTs := recs[0].ts, recs[0].ts
	for _, r := range recs {
		probe[r.ts], probe[r.ts-1], probe[r.ts+1] = true, true, true
		minTs, maxTs = min(minTs, r.ts), max(maxTs, r.ts)
	}
	// A deterministic sample keeps the brute force quick.
	var probes []int64
	for ts := range probe {
		probes = append(probes, ts)
	}
	slices.Sort(probes)
	rng := rand.New(rand.NewPCG(uint64(len(probes)), 1))
	rng.Shuffle(len(probes), func(i, j int) { probes[i], probes[j] = probes[j], probes[i] })
	probes = append(probes[:min(len(probes), 120)], minTs-1000, 0, minTs, maxTs, maxTs+1)
	for _, ts := range probes {
		var want *flatRecord
		for i := range recs {
			if recs[i].ts >= ts && recs[i].offset >= lso {
				want = &recs[i]
				break
			}
		}
		off, gotTs, ok, err := l.OffsetForTimestamp(ts)
		if err != nil {
			t.Fatalf("OffsetForTimestamp(%d): %v", ts, err)
		}
		if want == nil {
			if ok {
				t.Fatalf("OffsetForTimestamp(%d) = %d@%d, want none", ts, off, gotTs)
			}
			continue
		}
		if !ok || off != want.offset || gotTs != want.ts {
			t.Fatalf("OffsetForTimestamp(%d) = %d@%d ok=%v, want %d@%d", ts, off, gotTs, ok, want.offset, want.ts)
		}
	}
	wantMax := recs[0]
	for _, r := range recs {
		if r.ts > wantMax.ts {
			wantMax = r
		}
	}
	gotTs, gotOff, ok, err := l.MaxTimestamp()
	if err != nil || !ok || gotTs != wantMax.ts || gotOff != wantMax.offset {
		t.Fatalf("MaxTimestamp = %d@%d ok=%v err=%v, want %d@%d", gotTs, gotOff, ok, err, wantMax.ts, wantMax.offset)
	}
}

func TestOffsetForTimestampAllCodecs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 8 << 10
	cfg.IndexIntervalBytes = 512
	dir := t.TempDir()
	l, m := timestampLog(t, dir, cfg)
	if l.NumSegments() < 3 {
		t.Fatalf("only %d segments", l.NumSegments())
	}
	checkTimestamps(t, l, m)

	// Same answers after a clean and an unclean reopen.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, cfg, true)
	checkTimestamps(t, l, m)
	l.crash()
	l = openT(t, dir, cfg, false)
	checkTimestamps(t, l, m)

	// Records below the log start offset are not found.
	if err := l.SetLogStartOffset(m.hs[40].BaseOffset + 1); err != nil {
		t.Fatal(err)
	}
	checkTimestamps(t, l, m)
}

func TestTimestampsEmptyLog(t *testing.T) {
	l := openT(t, t.TempDir(), DefaultConfig(), false)
	if _, _, ok, err := l.MaxTimestamp(); ok || err != nil {
		t.Fatalf("MaxTimestamp on empty log: ok=%v err=%v", ok, err)
	}
	if _, _, ok, err := l.OffsetForTimestamp(0); ok || err != nil {
		t.Fatalf("OffsetForTimestamp on empty log: ok=%v err=%v", ok, err)
	}
}

func TestMaxTimestampFirstRecordWins(t *testing.T) {
	l := openT(t, t.TempDir(), DefaultConfig(), false)
	// The max timestamp appears in batch 1 (record 2) and again later.
	appendT(t, l, buildBatch(t, 0, []testRec{{ts: 10}, {ts: 20}}, batchOpts{}))
	appendT(t, l, buildBatch(t, 0, []testRec{{ts: 5}, {ts: 30}, {ts: 30}}, batchOpts{codec: CompressionZstd}))
	appendT(t, l, buildBatch(t, 0, []testRec{{ts: 30}}, batchOpts{}))
	ts, off, ok, err := l.MaxTimestamp()
	if err != nil || !ok || ts != 30 || off != 3 {
		t.Fatalf("MaxTimestamp = %d@%d ok=%v err=%v, want 30@3", ts, off, ok, err)
	}
}
