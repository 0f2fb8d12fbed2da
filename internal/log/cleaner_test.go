package log

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// mrec is one appended record as the compaction model sees it.
type mrec struct {
	offset     int64
	key, value []byte // nil: null
	ts         int64
	headers    []RecordHeader
	untouched  bool // in a transactional or control batch: never compacted
	present    bool // still expected in the log
}

// compactModel is everything appended to a log, record by record (offsets
// from 0, contiguous), with which records a correct cleaner has kept.
type compactModel struct {
	recs    []mrec
	batches map[int64][]byte // appended batches by base offset
	hs      []BatchHeader    // appended batch headers in order
	pidSeq  map[int64]int32  // next sequence per producer ID
}

func newCompactModel() *compactModel {
	return &compactModel{batches: map[int64][]byte{}, pidSeq: map[int64]int32{}}
}

var testCodecs = []int8{CompressionNone, CompressionGzip, CompressionSnappy, codecXerialSnappy, CompressionLZ4, CompressionZstd}

// appendRandomBatch appends one batch of 1..maxRecs random records over
// keySpace keys (tombstones, empty values, the odd keyless record and
// headers included), with a random codec, sometimes from an idempotent
// producer, sometimes transactional.
func (m *compactModel) appendRandomBatch(t testing.TB, l *Log, rng *rand.Rand, nowMs int64, keySpace, maxRecs int) {
	t.Helper()
	n := 1 + rng.IntN(maxRecs)
	recs := make([]testRec, n)
	for i := range recs {
		r := testRec{ts: nowMs - int64(rng.IntN(50))}
		if rng.IntN(40) != 0 {
			r.key = []byte(fmt.Sprintf("key-%d", rng.IntN(keySpace)))
		}
		switch x := rng.IntN(10); {
		case x < 2:
			// tombstone: value stays nil
		case x < 3:
			r.value = []byte{}
		default:
			r.value = make([]byte, 1+rng.IntN(60))
			for j := range r.value {
				r.value[j] = byte(rng.IntN(256))
			}
		}
		if rng.IntN(8) == 0 {
			r.headers = []RecordHeader{{Key: "h", Value: []byte{byte(i)}}}
		}
		recs[i] = r
	}
	o := batchOpts{codec: testCodecs[rng.IntN(len(testCodecs))]}
	if o.codec == CompressionLZ4 && rng.IntN(4) != 0 {
		// Rarer: the test helper writes 4 MiB LZ4 blocks, which the race
		// detector makes slow to allocate for every batch read.
		o.codec = CompressionNone
	}
	if rng.IntN(3) == 0 {
		pid := int64(1 + rng.IntN(4))
		o.producerID, o.producerEpoch, o.baseSequence = pid, 0, m.pidSeq[pid]
		m.pidSeq[pid] += int32(n)
		if rng.IntN(6) == 0 {
			o.attrs = attrTransactional
		}
	}
	b := buildBatch(t, 0, recs, o)
	hs := appendT(t, l, b)
	m.batches[hs[0].BaseOffset] = b
	m.hs = append(m.hs, hs[0])
	for i, r := range recs {
		m.recs = append(m.recs, mrec{
			offset: hs[0].BaseOffset + int64(i), key: r.key, value: r.value, ts: r.ts,
			headers: r.headers, untouched: o.attrs != 0, present: true,
		})
	}
}

// segInfo is a segment's offset range and largest timestamp.
type segInfo struct {
	base, next, maxTs int64
}

func segInfos(l *Log) []segInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []segInfo
	for i, s := range l.segs {
		next := l.leo
		if i+1 < len(l.segs) {
			next = l.segs[i+1].base
		}
		out = append(out, segInfo{s.base, next, s.maxTs})
	}
	return out
}

// applyClean updates the model for a clean that covered [0, cleanedUpTo):
// below it, only the latest record of each key survives, and a latest
// record that is a tombstone goes when its segment (as it was before the
// clean) is past delete retention.
func (m *compactModel) applyClean(cleanedUpTo int64, before []segInfo, nowMs, deleteRetentionMs int64) {
	latest := map[string]int64{}
	for _, r := range m.recs[:cleanedUpTo] {
		if r.present && !r.untouched && r.key != nil {
			latest[string(r.key)] = r.offset
		}
	}
	for i := range m.recs[:cleanedUpTo] {
		r := &m.recs[i]
		if !r.present || r.untouched || r.key == nil {
			continue
		}
		if latest[string(r.key)] != r.offset {
			r.present = false
			continue
		}
		if r.value == nil && deleteRetentionMs >= 0 {
			k := slices.IndexFunc(before, func(s segInfo) bool { return r.offset >= s.base && r.offset < s.next })
			if before[k].maxTs < nowMs-deleteRetentionMs {
				r.present = false
			}
		}
	}
}

// readBatches reads the whole log from its start, batch by batch, empty
// batches included.
func readBatches(t testing.TB, l *Log) ([][]byte, []BatchHeader) {
	t.Helper()
	var bs [][]byte
	var hs []BatchHeader
	from := l.LogStartOffset()
	for from < l.LogEndOffset() {
		b, err := l.ReadBytes(from, 1<<30, true)
		if err != nil {
			t.Fatalf("ReadBytes(%d): %v", from, err)
		}
		if len(b) == 0 {
			t.Fatalf("ReadBytes(%d) returned nothing below LEO %d", from, l.LogEndOffset())
		}
		for len(b) > 0 {
			h, err := ParseBatchHeader(b)
			if err != nil || h.Size() > len(b) {
				t.Fatalf("read at %d: bad batch: %v", from, err)
			}
			if crc := batchCRC(b[:h.Size()]); crc != h.CRC {
				t.Fatalf("batch at offset %d: bad CRC", h.BaseOffset)
			}
			if len(hs) > 0 && h.BaseOffset <= hs[len(hs)-1].LastOffset() {
				t.Fatalf("batch at offset %d after a batch ending at %d", h.BaseOffset, hs[len(hs)-1].LastOffset())
			}
			bs = append(bs, b[:h.Size()])
			hs = append(hs, h)
			from = h.LastOffset() + 1
			b = b[h.Size():]
		}
	}
	return bs, hs
}

// checkCompacted reads the whole log and compares it with the model: the
// present records exactly, in offset order; every batch at or after
// untouchedFrom byte for byte as appended; every other batch with its
// original header fields and codec.
func (m *compactModel) check(t testing.TB, l *Log, untouchedFrom int64) {
	t.Helper()
	if got, want := l.LogEndOffset(), int64(len(m.recs)); got != want {
		t.Fatalf("LogEndOffset %d, want %d", got, want)
	}
	if l.LogStartOffset() != 0 {
		t.Fatalf("LogStartOffset moved to %d", l.LogStartOffset())
	}
	bs, hs := readBatches(t, l)
	var want []mrec
	for _, r := range m.recs {
		if r.present {
			want = append(want, r)
		}
	}
	i := 0
	for k, b := range bs {
		h := hs[k]
		orig, ok := m.batches[h.BaseOffset]
		if !ok {
			t.Fatalf("batch at offset %d was never appended", h.BaseOffset)
		}
		oh := parseHeader(orig)
		if h.BaseOffset >= untouchedFrom && !bytes.Equal(b, orig) {
			t.Fatalf("batch at offset %d (after %d) changed", h.BaseOffset, untouchedFrom)
		}
		wantAttrs := oh.Attributes
		if h.NumRecords == 0 {
			wantAttrs &^= attrCompressionMask
		}
		if h.LastOffsetDelta != oh.LastOffsetDelta || h.Attributes != wantAttrs || h.BaseTimestamp != oh.BaseTimestamp ||
			h.MaxTimestamp != oh.MaxTimestamp || h.ProducerID != oh.ProducerID || h.ProducerEpoch != oh.ProducerEpoch ||
			h.BaseSequence != oh.BaseSequence || h.PartitionLeaderEpoch != oh.PartitionLeaderEpoch {
			t.Fatalf("batch at offset %d: header %+v, appended as %+v", h.BaseOffset, h, oh)
		}
		recs, err := DecodeRecords(b)
		if err != nil {
			t.Fatalf("batch at offset %d: %v", h.BaseOffset, err)
		}
		for _, r := range recs {
			if i >= len(want) {
				t.Fatalf("record at offset %d: the model has no more records", r.Offset)
			}
			w := want[i]
			if r.Offset != w.offset {
				t.Fatalf("record %d: offset %d, want %d (key %q)", i, r.Offset, w.offset, w.key)
			}
			if !bytes.Equal(r.Key, w.key) || (r.Key == nil) != (w.key == nil) ||
				!bytes.Equal(r.Value, w.value) || (r.Value == nil) != (w.value == nil) || r.Timestamp != w.ts ||
				len(r.Headers) != len(w.headers) {
				t.Fatalf("record at offset %d: got key %q value %q ts %d, want key %q value %q ts %d",
					r.Offset, r.Key, r.Value, r.Timestamp, w.key, w.value, w.ts)
			}
			i++
		}
	}
	if i != len(want) {
		t.Fatalf("log has %d records, the model %d (next expected offset %d)", i, len(want), want[i].offset)
	}
	// The producer state the partition rebuilds from batch headers (each
	// producer's last sequence) is what it was before any clean.
	lastSeq := map[int64]int32{}
	for _, h := range hs {
		if h.ProducerID >= 0 && !h.IsControl() {
			lastSeq[h.ProducerID] = h.LastSequence()
		}
	}
	for pid, next := range m.pidSeq {
		if got, ok := lastSeq[pid]; !ok || got != next-1 {
			t.Fatalf("producer %d: last sequence in the log %d (%v), appended up to %d", pid, got, ok, next-1)
		}
	}
	// Emptied batches stay only as a producer's last batch (one per
	// producer) or at the end of a cleaned segment (one per segment).
	empty := 0
	for _, h := range hs {
		if h.NumRecords == 0 {
			empty++
		}
	}
	if limit := l.NumSegments() + len(m.pidSeq); empty > limit {
		t.Fatalf("%d empty batches, more than %d segments + %d producers", empty, l.NumSegments(), len(m.pidSeq))
	}
}

// logBytes is the whole log's content as read.
func logBytes(t testing.TB, l *Log) []byte {
	bs, _ := readBatches(t, l)
	return bytes.Join(bs, nil)
}

// expectedUncleanable is where a clean's range must end, computed from the
// segments independently of the cleaner.
func expectedUncleanable(segs []segInfo, firstDirty, nowMs, lagMs int64) int64 {
	end := segs[len(segs)-1].base
	for _, s := range segs[:len(segs)-1] {
		if lagMs > 0 && s.next > firstDirty && s.maxTs > nowMs-lagMs {
			return min(end, s.base)
		}
	}
	return end
}

func TestCleanPropertyAgainstModel(t *testing.T) {
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 42))
			clock := newFakeClock()
			cfg := DefaultConfig()
			cfg.SegmentBytes = int64(1500 + rng.IntN(4000))
			cfg.IndexIntervalBytes = rng.IntN(600)
			cfg.Now = clock.Now
			dir := t.TempDir()
			l := openT(t, dir, cfg, false)
			m := newCompactModel()
			keySpace := 5 + rng.IntN(40)
			cleanedUpTo := int64(0)
			var total CleanStats
			defer func() {
				present := 0
				for _, r := range m.recs {
					if r.present {
						present++
					}
				}
				t.Logf("seed %d: %d records appended, %d left; %d removed by %d segment rewrites, %d bytes read, %d written",
					seed, len(m.recs), present, total.RecordsRemoved, total.SegmentsCleaned, total.BytesRead, total.BytesWritten)
			}()
			for round := range 25 {
				for range rng.IntN(40) {
					m.appendRandomBatch(t, l, rng, clock.Now().UnixMilli(), keySpace, 6)
					clock.Advance(time.Duration(rng.IntN(2000)) * time.Millisecond)
				}
				ccfg := CleanerConfig{Now: clock.Now, DeleteRetentionMs: -1}
				switch rng.IntN(3) {
				case 0:
					ccfg.DeleteRetentionMs = int64(rng.IntN(30_000))
				case 1:
					ccfg.DeleteRetentionMs = 0
				}
				if rng.IntN(3) == 0 {
					ccfg.MinCompactionLagMs = int64(rng.IntN(20_000))
				}
				if rng.IntN(3) == 0 {
					ccfg.DedupeBufferBytes = int64(offsetMapEntryBytes * (3 + rng.IntN(40)))
				}
				if rng.IntN(4) == 0 && l.LogEndOffset() > 0 {
					ccfg.FirstUncleanableOffset = 1 + rng.Int64N(l.LogEndOffset())
				}
				before := segInfos(l)
				leo := l.LogEndOffset()
				st, err := l.Clean(context.Background(), ccfg)
				if err != nil {
					t.Fatalf("round %d: Clean: %v", round, err)
				}
				firstDirty := cleanedUpTo
				if st.FirstDirtyOffset != firstDirty {
					t.Fatalf("round %d: first dirty offset %d, want the last checkpoint %d", round, st.FirstDirtyOffset, firstDirty)
				}
				wantEnd := expectedUncleanable(before, firstDirty, clock.Now().UnixMilli(), ccfg.MinCompactionLagMs)
				if ccfg.FirstUncleanableOffset > 0 {
					wantEnd = min(wantEnd, ccfg.FirstUncleanableOffset)
				}
				switch {
				case wantEnd <= firstDirty:
					if st.CleanedUpTo != firstDirty {
						t.Fatalf("round %d: nothing cleanable, yet cleaned up to %d", round, st.CleanedUpTo)
					}
				case ccfg.DedupeBufferBytes == 0 && st.CleanedUpTo != wantEnd:
					t.Fatalf("round %d: cleaned up to %d, want the first uncleanable offset %d", round, st.CleanedUpTo, wantEnd)
				case st.CleanedUpTo <= firstDirty || st.CleanedUpTo > wantEnd:
					t.Fatalf("round %d: small map cleaned up to %d, want progress in (%d, %d]", round, st.CleanedUpTo, firstDirty, wantEnd)
				}
				cleanedUpTo = max(cleanedUpTo, st.CleanedUpTo)
				total.RecordsRemoved += st.RecordsRemoved
				total.SegmentsCleaned += st.SegmentsCleaned
				total.BytesRead += st.BytesRead
				total.BytesWritten += st.BytesWritten
				if l.LogEndOffset() != leo {
					t.Fatalf("round %d: LEO moved from %d to %d", round, leo, l.LogEndOffset())
				}
				if st.CleanedUpTo > firstDirty {
					m.applyClean(st.CleanedUpTo, before, clock.Now().UnixMilli(), ccfg.DeleteRetentionMs)
				}
				m.check(t, l, st.CleanedUpTo)
				checkIndexes(t, l)

				switch rng.IntN(4) {
				case 0: // clean shutdown
					content := logBytes(t, l)
					if err := l.Close(); err != nil {
						t.Fatal(err)
					}
					l = openT(t, dir, cfg, true)
					if !bytes.Equal(logBytes(t, l), content) {
						t.Fatalf("round %d: content changed over a clean reopen", round)
					}
				case 1: // crash
					content := logBytes(t, l)
					l.crash()
					l = openT(t, dir, cfg, false)
					if !bytes.Equal(logBytes(t, l), content) {
						t.Fatalf("round %d: content changed over recovery", round)
					}
				}
				clock.Advance(time.Duration(rng.IntN(10_000)) * time.Millisecond)
			}
		})
	}
}
