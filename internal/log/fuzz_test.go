package log

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// fuzzSeedBatches are valid batches of every codec used as seeds.
func fuzzSeedBatches(t testing.TB) [][]byte {
	var out [][]byte
	for i, codec := range allCodecs {
		recs := []testRec{
			{key: []byte("key"), value: []byte("value value value"), ts: 1000 + int64(i)},
			{key: nil, value: nil, ts: 999, headers: []RecordHeader{{Key: "h", Value: []byte("v")}}},
		}
		out = append(out, buildBatch(t, int64(i*2), recs, batchOpts{codec: codec}))
	}
	return out
}

func FuzzValidateBatches(f *testing.F) {
	seeds := fuzzSeedBatches(f)
	for _, b := range seeds {
		f.Add(b, 0)
		f.Add(b[:len(b)-1], 0)
		f.Add(b, len(b)-1)
	}
	f.Add(bytes.Join(seeds, nil), 1<<20)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, data []byte, maxBytes int) {
		hs, err := ValidateBatches(data, maxBytes)
		if err != nil {
			return
		}
		pos := 0
		for _, h := range hs {
			if h.Size() < BatchHeaderSize || pos+h.Size() > len(data) {
				t.Fatalf("header %+v does not fit at %d in %d bytes", h, pos, len(data))
			}
			if maxBytes > 0 && h.Size() > maxBytes {
				t.Fatalf("batch of %d bytes accepted with max %d", h.Size(), maxBytes)
			}
			if batchCRC(data[pos:pos+h.Size()]) != h.CRC || int64(h.NumRecords) != int64(h.LastOffsetDelta)+1 {
				t.Fatalf("invalid batch accepted: %+v", h)
			}
			pos += h.Size()
		}
		if pos != len(data) {
			t.Fatalf("headers cover %d of %d bytes", pos, len(data))
		}
	})
}

func FuzzDecodeRecords(f *testing.F) {
	for _, b := range fuzzSeedBatches(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := DecodeRecords(data)
		if err != nil {
			return
		}
		h, _ := ParseBatchHeader(data)
		if len(recs) != int(h.NumRecords) {
			t.Fatalf("%d records decoded, header says %d", len(recs), h.NumRecords)
		}
	})
}

var (
	fuzzBaseOnce sync.Once
	fuzzBase     []byte
)

// fuzzBaseLog is a small valid segment: batches of several codecs.
func fuzzBaseLog(tb testing.TB) []byte {
	fuzzBaseOnce.Do(func() {
		off := int64(0)
		for i := range 5 {
			recs := []testRec{{key: []byte("k"), value: bytes.Repeat([]byte{byte(i)}, 20+i*7), ts: 100 + int64(i)}, {value: []byte("x"), ts: 90}}
			fuzzBase = append(fuzzBase, buildBatch(tb, off, recs, batchOpts{codec: allCodecs[i%len(allCodecs)]})...)
			off += 2
		}
	})
	return fuzzBase
}

// Recovery modes for FuzzRecoverTail.
const (
	fuzzAppend = iota
	fuzzOverwrite
	fuzzTruncateAppend
	fuzzNextSegment
	fuzzIndexes
	fuzzModes
)

func FuzzRecoverTail(f *testing.F) {
	base := fuzzBaseLog(f)
	seeds := fuzzSeedBatches(f)
	for mode := range fuzzModes {
		f.Add([]byte("garbage"), uint8(mode), uint16(10))
		f.Add(seeds[0], uint8(mode), uint16(len(base)-100))
		f.Add(base[:80], uint8(mode), uint16(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8, at uint16) {
		mode %= fuzzModes
		dir := t.TempDir()
		seg := filepath.Join(dir, segmentName(0)+logSuffix)
		content := append([]byte{}, base...)
		keep := len(base) // bytes of the original left untouched
		p := int(at) % (len(base) + 1)
		switch mode {
		case fuzzAppend:
			content = append(content, data...)
		case fuzzOverwrite:
			if end := p + len(data); end > len(content) {
				content = append(content, make([]byte, end-len(content))...)
			}
			copy(content[p:], data)
			keep = p
		case fuzzTruncateAppend:
			content = append(content[:p], data...)
			keep = p
		case fuzzNextSegment:
			os.WriteFile(filepath.Join(dir, segmentName(10)+logSuffix), data, 0o644)
		case fuzzIndexes:
			os.WriteFile(filepath.Join(dir, segmentName(0)+indexSuffix), data, 0o644)
			os.WriteFile(filepath.Join(dir, segmentName(0)+timeIndexSuffix), data[len(data)/2:], 0o644)
		}
		if err := os.WriteFile(seg, content, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.IndexIntervalBytes = 64
		logger := slog.New(slog.DiscardHandler)
		l, err := Open(dir, cfg, mode == fuzzIndexes, logger)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		got := readAllBatches(t, l, 0)
		leo := l.LogEndOffset()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		// Every original batch before the first modified byte survives.
		var whole int
		for whole < keep {
			h := parseHeader(base[whole:])
			if whole+h.Size() > keep {
				break
			}
			whole += h.Size()
		}
		if len(got) < whole || !bytes.Equal(got[:whole], base[:whole]) {
			t.Fatalf("recovery lost intact batches: kept %d bytes, %d were intact", len(got), whole)
		}
		if mode == fuzzIndexes && !bytes.Equal(got, base) {
			t.Fatal("broken index files changed the log")
		}
		// A clean reopen agrees.
		l, err = Open(dir, cfg, true, logger)
		if err != nil {
			t.Fatalf("clean reopen: %v", err)
		}
		defer l.Close()
		if l.LogEndOffset() != leo || !bytes.Equal(readAllBatches(t, l, 0), got) {
			t.Fatalf("clean reopen differs: LEO %d vs %d", l.LogEndOffset(), leo)
		}
	})
}
