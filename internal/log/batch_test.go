package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

func TestParseBatchHeaderFields(t *testing.T) {
	b := buildBatch(t, 42, []testRec{{value: []byte("a"), ts: 1000}, {value: []byte("b"), ts: 1005}, {value: []byte("c"), ts: 1002}},
		batchOpts{codec: CompressionNone, producerID: 7, producerEpoch: 3, baseSequence: 11, attrs: attrTransactional})
	SetPartitionLeaderEpoch(b, 9)
	h, err := ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	want := BatchHeader{
		BaseOffset: 42, Length: int32(len(b) - 12), PartitionLeaderEpoch: 9, Magic: 2, CRC: h.CRC,
		Attributes: attrTransactional, LastOffsetDelta: 2, BaseTimestamp: 1000, MaxTimestamp: 1005,
		ProducerID: 7, ProducerEpoch: 3, BaseSequence: 11, NumRecords: 3,
	}
	if h != want {
		t.Fatalf("header\n got %+v\nwant %+v", h, want)
	}
	if h.LastOffset() != 44 || h.Size() != len(b) || !h.IsTransactional() || h.IsControl() || h.LogAppendTime() || h.Compression() != 0 {
		t.Fatalf("accessors wrong: last %d size %d", h.LastOffset(), h.Size())
	}
	if h.LastSequence() != 13 {
		t.Fatalf("LastSequence = %d", h.LastSequence())
	}
	if got := h.AppendTo(nil); !bytes.Equal(got, b[:BatchHeaderSize]) {
		t.Fatal("AppendTo does not reproduce the header bytes")
	}
	if _, err := ParseBatchHeader(b[:60]); !errors.Is(err, ErrCorruptMessage) {
		t.Fatalf("short header: %v", err)
	}
}

func TestLastSequenceWraps(t *testing.T) {
	cases := []struct {
		base  int32
		delta int32
		want  int32
	}{
		{0, 0, 0},
		{5, 4, 9},
		{math.MaxInt32, 0, math.MaxInt32},
		{math.MaxInt32, 1, 0},
		{math.MaxInt32 - 1, 3, 1},
		{-1, 5, -1}, // no sequence
	}
	for _, c := range cases {
		h := BatchHeader{BaseSequence: c.base, LastOffsetDelta: c.delta}
		if got := h.LastSequence(); got != c.want {
			t.Errorf("LastSequence(base %d, delta %d) = %d, want %d", c.base, c.delta, got, c.want)
		}
	}
}

func TestAttributes(t *testing.T) {
	for codec := int8(0); codec <= 4; codec++ {
		h := BatchHeader{Attributes: int16(codec) | attrControl | attrLogAppendTime}
		if h.Compression() != codec || !h.IsControl() || !h.LogAppendTime() || h.IsTransactional() {
			t.Errorf("attributes %x decoded wrong", h.Attributes)
		}
	}
}

func TestValidateBatches(t *testing.T) {
	one := simpleBatch(t, 0, 3, 10, 1000)
	two := append(append([]byte{}, one...), simpleBatch(t, 3, 5, 10, 1000)...)
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte{}, one...)) }
	recrc := func(b []byte) []byte { SetCRC(b); return b }
	cases := []struct {
		name    string
		in      []byte
		max     int
		wantErr error
		wantN   int
	}{
		{"one batch", one, 0, nil, 1},
		{"two batches", two, 0, nil, 2},
		{"max exactly", one, len(one), nil, 1},
		{"empty", nil, 0, ErrInvalidRecord, 0},
		{"magic 0", mut(func(b []byte) []byte { b[16] = 0; return b }), 0, ErrUnsupportedMagic, 0},
		{"magic 1", mut(func(b []byte) []byte { b[16] = 1; return b }), 0, ErrUnsupportedMagic, 0},
		{"magic 3", mut(func(b []byte) []byte { b[16] = 3; return b }), 0, ErrUnsupportedMagic, 0},
		{"v1 message set shorter than a header", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 14, 1, 2, 3, 4, 1, 0, 0, 0}, 0, ErrUnsupportedMagic, 0},
		{"trailing partial header", append(append([]byte{}, one...), 0, 0, 0), 0, ErrCorruptMessage, 0},
		{"trailing partial batch", two[:len(two)-1], 0, ErrCorruptMessage, 0},
		{"length below minimum", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 48); return b }), 0, ErrCorruptMessage, 0},
		{"negative length", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 0xffffffff); return b }), 0, ErrCorruptMessage, 0},
		{"length beyond buffer", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], uint32(len(b))); return b }), 0, ErrCorruptMessage, 0},
		{"too large", one, len(one) - 1, ErrMessageTooLarge, 0},
		{"second too large", two, len(one), ErrMessageTooLarge, 0},
		{"bad crc", mut(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), 0, ErrCorruptMessage, 0},
		{"zero records", mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[57:], 0)
			binary.BigEndian.PutUint32(b[23:], 0xffffffff)
			return recrc(b)
		}), 0, ErrInvalidRecord, 0},
		{"unknown codec", mut(func(b []byte) []byte { b[22] |= 5; return recrc(b) }), 0, ErrCorruptMessage, 0},
		{"count mismatch", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[57:], 2); return recrc(b) }), 0, ErrInvalidRecord, 0},
		{"delta max int32", mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[23:], math.MaxInt32)
			binary.BigEndian.PutUint32(b[57:], math.MaxInt32)
			return recrc(b)
		}), 0, ErrInvalidRecord, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hs, err := ValidateBatches(c.in, c.max)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err = %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(hs) != c.wantN {
				t.Fatalf("%d headers, want %d", len(hs), c.wantN)
			}
		})
	}
}

func TestSetFieldsKeepCRCValid(t *testing.T) {
	b := simpleBatch(t, 0, 4, 20, 1000)
	SetBaseOffset(b, 1<<40)
	SetPartitionLeaderEpoch(b, 77)
	hs, err := ValidateBatches(b, 0)
	if err != nil {
		t.Fatalf("after SetBaseOffset/SetPartitionLeaderEpoch: %v", err)
	}
	if hs[0].BaseOffset != 1<<40 || hs[0].PartitionLeaderEpoch != 77 {
		t.Fatalf("fields not patched: %+v", hs[0])
	}
	SetLogAppendTime(b, 123456)
	hs, err = ValidateBatches(b, 0)
	if err != nil {
		t.Fatalf("after SetLogAppendTime: %v", err)
	}
	if !hs[0].LogAppendTime() || hs[0].MaxTimestamp != 123456 || hs[0].BaseTimestamp != 1000 {
		t.Fatalf("log append time not set: %+v", hs[0])
	}
	recs, err := DecodeRecords(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Timestamp != 123456 {
			t.Fatalf("record timestamp %d, want the log append time", r.Timestamp)
		}
	}
}

func TestDecodeRecordsAllCodecs(t *testing.T) {
	recs := []testRec{
		{key: []byte("k0"), value: []byte("v0"), ts: 5000},
		{key: nil, value: bytes.Repeat([]byte("x"), 3000), ts: 5003},
		{key: []byte{}, value: nil, ts: 4999, headers: []RecordHeader{{Key: "h1", Value: []byte("x")}, {Key: "h2", Value: nil}}},
		{key: []byte("k3"), value: []byte("v3"), ts: 5001},
	}
	codecs := map[string]int8{"none": CompressionNone, "gzip": CompressionGzip, "snappy": CompressionSnappy,
		"xerial": codecXerialSnappy, "lz4": CompressionLZ4, "zstd": CompressionZstd}
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			b := buildBatch(t, 100, recs, batchOpts{codec: codec})
			if _, err := ValidateBatches(b, 0); err != nil {
				t.Fatal(err)
			}
			got, err := DecodeRecords(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(recs) {
				t.Fatalf("%d records, want %d", len(got), len(recs))
			}
			for i, r := range got {
				w := recs[i]
				if r.Offset != 100+int64(i) || r.Timestamp != w.ts || !bytes.Equal(r.Key, w.key) || !bytes.Equal(r.Value, w.value) ||
					(r.Key == nil) != (w.key == nil) || (r.Value == nil) != (w.value == nil) || len(r.Headers) != len(w.headers) {
					t.Fatalf("record %d = %+v, want %+v", i, r, w)
				}
				for j, h := range r.Headers {
					if h.Key != w.headers[j].Key || !bytes.Equal(h.Value, w.headers[j].Value) || (h.Value == nil) != (w.headers[j].Value == nil) {
						t.Fatalf("record %d header %d = %+v, want %+v", i, j, h, w.headers[j])
					}
				}
			}
		})
	}
}

func TestDecodeRecordsRejectsCorruption(t *testing.T) {
	good := buildBatch(t, 0, []testRec{{key: []byte("k"), value: []byte("value"), ts: 1}}, batchOpts{})
	cases := map[string][]byte{
		"short":           good[:40],
		"length too long": append(append([]byte{}, good[:8]...), append([]byte{0, 0, 1, 0}, good[12:]...)...),
		"count too high": func() []byte {
			b := append([]byte{}, good...)
			binary.BigEndian.PutUint32(b[57:], 2)
			return b
		}(),
		"record cut": func() []byte {
			b := append([]byte{}, good[:len(good)-2]...)
			binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
			return b
		}(),
		"bad codec": func() []byte {
			b := append([]byte{}, good...)
			b[22] |= 7
			return b
		}(),
		"gzip garbage": func() []byte {
			b := append([]byte{}, good...)
			b[22] |= 1
			return b
		}(),
	}
	for name, b := range cases {
		if _, err := DecodeRecords(b); !errors.Is(err, ErrCorruptMessage) {
			t.Errorf("%s: err = %v, want ErrCorruptMessage", name, err)
		}
	}
}

func TestDecompressBounded(t *testing.T) {
	// Zeros compress to almost nothing; decoding must stop at the limit.
	const limit = 1 << 20
	raw := make([]byte, limit+1)
	for _, codec := range []int8{CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd} {
		var payload []byte
		if codec == CompressionSnappy {
			// One raw block claiming more than the limit.
			payload = binary.AppendUvarint(nil, uint64(len(raw)))
			payload = append(payload, 0)
		} else {
			payload = compressForTest(t, codec, raw)
		}
		if _, err := decompress(codec, payload, limit); !errors.Is(err, ErrCorruptMessage) {
			t.Errorf("codec %d: err = %v, want ErrCorruptMessage", codec, err)
		}
		if codec == CompressionSnappy {
			continue
		}
		if out, err := decompress(codec, payload, limit+1); err != nil || len(out) != limit+1 {
			t.Errorf("codec %d at the limit: %d bytes, %v", codec, len(out), err)
		}
	}
}
