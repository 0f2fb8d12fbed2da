package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
)

// rawBatch builds an uncompressed v2 record batch at base with one record per
// value (no key, no headers). The CRC is left zero: walkBatches does not
// check it (the client side of a benchmark trusts the broker).
func rawBatch(base int64, attrs uint16, values ...[]byte) []byte {
	var recs []byte
	for i, v := range values {
		var body []byte
		body = append(body, 0)                          // attributes
		body = binary.AppendVarint(body, 0)             // timestamp delta
		body = binary.AppendVarint(body, int64(i))      // offset delta
		body = binary.AppendVarint(body, -1)            // null key
		body = binary.AppendVarint(body, int64(len(v))) // value
		body = append(body, v...)
		body = binary.AppendVarint(body, 0) // headers
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	b := make([]byte, 61, 61+len(recs))
	binary.BigEndian.PutUint64(b, uint64(base))
	binary.BigEndian.PutUint32(b[8:], uint32(61-12+len(recs)))
	b[16] = 2
	binary.BigEndian.PutUint16(b[21:], attrs)
	binary.BigEndian.PutUint32(b[23:], uint32(len(values)-1))
	binary.BigEndian.PutUint32(b[57:], uint32(len(values)))
	return append(b, recs...)
}

func TestWalkBatches(t *testing.T) {
	a := rawBatch(10, 0, []byte("abc"), []byte("defgh"))
	c := rawBatch(12, 0x20, []byte("xx")) // control batch: skipped
	d := rawBatch(13, 0, []byte("0123456789"))
	all := append(append(append([]byte{}, a...), c...), d...)

	next, recs, bytes, err := walkBatches(all, 10, nil)
	if err != nil || next != 14 || recs != 3 || bytes != 18 {
		t.Fatalf("all: next %d records %d bytes %d err %v", next, recs, bytes, err)
	}
	// A fetch from 12 may still return the batch at 10: it is skipped.
	next, recs, _, err = walkBatches(all, 12, nil)
	if err != nil || next != 14 || recs != 1 {
		t.Fatalf("from 12: next %d records %d err %v", next, recs, err)
	}
	// A partial batch at the end is not counted (KIP-74).
	next, recs, _, err = walkBatches(all[:len(all)-3], 10, nil)
	if err != nil || next != 13 || recs != 2 {
		t.Fatalf("partial: next %d records %d err %v", next, recs, err)
	}
	// Compressed: the count from the header, the size of the batch body.
	z := rawBatch(0, 4, []byte("a"), []byte("b"))
	if next, recs, bytes, err = walkBatches(z, 0, nil); err != nil || next != 2 || recs != 2 || bytes != int64(len(z)-61) {
		t.Fatalf("compressed: next %d records %d bytes %d err %v", next, recs, bytes, err)
	}
	// Corruption is an error, never a panic.
	bad := append([]byte{}, a...)
	bad[16] = 1
	if _, _, _, err := walkBatches(bad, 10, nil); err == nil {
		t.Fatal("magic 1 accepted")
	}
	bad = append([]byte{}, a...)
	bad[61] = 0x7e // first record's length far beyond the batch
	if _, _, _, err := walkBatches(bad, 10, nil); err == nil {
		t.Fatal("bad record length accepted")
	}
}

func FuzzWalkBatches(f *testing.F) {
	f.Add(rawBatch(0, 0, []byte("hello"), nil, []byte("world")), int64(0))
	f.Add(rawBatch(5, 0x20, []byte("x")), int64(3))
	f.Add(rawBatch(7, 3, []byte("zz")), int64(7))
	f.Fuzz(func(t *testing.T, b []byte, from int64) {
		next, recs, bytes, err := walkBatches(b, from, nil)
		if err == nil && (next < from || recs < 0 || bytes < 0) {
			t.Fatalf("next %d from %d records %d bytes %d", next, from, recs, bytes)
		}
	})
}

// walkBatches is the reference for the streamed walk (readFetchStream):
// it counts the records and payload bytes of the complete v2
// record batches in b at or after offset from (a broker may return a batch
// that starts before the fetch offset, and a partial batch at the end,
// KIP-74), and returns the offset after the last complete batch.
func walkBatches(b []byte, from int64, onValue func([]byte)) (next, records, bytes int64, err error) {
	next = from
	for len(b) >= 61 {
		base := int64(binary.BigEndian.Uint64(b))
		size := int64(int32(binary.BigEndian.Uint32(b[8:]))) + 12
		if size < 61 {
			return next, records, bytes, fmt.Errorf("batch at %d: length %d", base, size-12)
		}
		if size > int64(len(b)) {
			break // partial batch at the end
		}
		batch := b[:size]
		b = b[size:]
		if batch[16] != 2 {
			return next, records, bytes, fmt.Errorf("batch at %d: magic %d, want 2", base, batch[16])
		}
		attrs := binary.BigEndian.Uint16(batch[21:])
		last := base + int64(int32(binary.BigEndian.Uint32(batch[23:])))
		if last < next {
			continue // already seen
		}
		next = last + 1
		if attrs&0x20 != 0 {
			continue // control batch (transaction marker): no data
		}
		n := int64(int32(binary.BigEndian.Uint32(batch[57:])))
		if n < 0 {
			return next, records, bytes, fmt.Errorf("batch at %d: %d records", base, n)
		}
		records += n
		if attrs&0x07 != 0 { // compressed: count the compressed size
			bytes += size - 61
			continue
		}
		pb, err := payloadBytes(batch[61:], n, onValue)
		if err != nil {
			return next, records, bytes, fmt.Errorf("batch at %d: %w", base, err)
		}
		bytes += pb
	}
	return next, records, bytes, nil
}

// payloadBytes adds up the key and value lengths of n uncompressed records,
// showing each value to onValue when it is not nil.
func payloadBytes(b []byte, n int64, onValue func([]byte)) (int64, error) {
	var total int64
	for i := int64(0); i < n; i++ {
		length, k := binary.Varint(b)
		if k <= 0 {
			return 0, errors.New("bad varint in record")
		}
		b = b[k:]
		if length < 0 || length > int64(len(b)) {
			return 0, fmt.Errorf("record length %d of %d bytes left", length, len(b))
		}
		pb, value, err := recordPayload(b[:length])
		if err != nil {
			return 0, err
		}
		if onValue != nil {
			onValue(value)
		}
		total += pb
		b = b[length:]
	}
	return total, nil
}
