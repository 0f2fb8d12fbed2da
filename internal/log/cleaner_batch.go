package log

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"time"
)

// The cleaner's work on single batches and records: which records stay,
// how a batch is rewritten, reading a segment batch by batch, and the I/O
// throttle.
// batchAction is what the cleaner does with a batch as a whole.
type batchAction int

const (
	// cleanRecords: an ordinary batch; its keys enter the offset map and
	// its records may be removed.
	cleanRecords batchAction = iota
	// keepUntouched: copied as it is; its records neither supersede
	// other records nor are superseded.
	keepUntouched
)

// dropBatch: a batch of an aborted transaction; it goes, and its keys
// supersede nothing.
const dropBatch batchAction = keepUntouched + 1

// AbortedSpan is an aborted transaction's span on a partition: its
// producer's transactional batches from FirstOffset up to the abort marker
// at LastOffset belong to it.
type AbortedSpan struct {
	ProducerID, FirstOffset, LastOffset int64
}

// batchAction decides what the cleaner does with a batch. Control batches
// (transaction markers) are kept as they are. Without
// CleanerConfig.HandleTransactions transactional batches are kept untouched
// too. With it, Kafka's rules apply: the batches of aborted transactions
// are dropped (their records never supersede anything), and the records of
// committed ones are compacted like any other (the cleanable range ends at
// the last stable offset, so every transaction in it has ended). Markers
// are never removed, which keeps read_committed filtering and producer
// state intact at the cost of a few bytes per transaction.
func (c *cleaning) batchAction(h *BatchHeader) batchAction {
	switch {
	case h.IsControl():
		return keepUntouched
	case !h.IsTransactional():
		return cleanRecords
	case !c.cfg.HandleTransactions:
		return keepUntouched
	}
	for _, a := range c.aborted[h.ProducerID] {
		if a.FirstOffset <= h.BaseOffset && h.BaseOffset < a.LastOffset {
			return dropBatch
		}
	}
	return cleanRecords
}

// tombstonesExpire reports whether tombstones in src are past
// delete.retention.ms.
func (c *cleaning) tombstonesExpire(src cleanSource) bool {
	if c.cfg.DeleteRetentionMs < 0 {
		return false
	}
	return largestTimestamp(src.s, src.maxTs, c.nowMs) < c.nowMs-c.cfg.DeleteRetentionMs
}

// retain decides one record's fate.
func (c *cleaning) retain(r *rawRecord, tombstonesExpire bool) bool {
	if r.key == nil || r.offset >= c.mapEnd {
		// Keyless records are kept (the broker refuses them on compacted
		// topics). Records after the map's end are dirty and unmapped:
		// nothing may be removed for them, tombstones included, or an
		// older value of their key could reappear.
		return true
	}
	if latest, ok := c.om.get(hashKey(r.key)); ok && latest > r.offset {
		return false
	}
	return !(r.nullValue && tombstonesExpire)
}

// filterBatch returns what is left of a batch: the batch itself when no
// record goes, a re-encoded batch, an empty batch, or nil.
func (c *cleaning) filterBatch(batch []byte, h *BatchHeader, tombstonesExpire bool) ([]byte, error) {
	switch c.batchAction(h) {
	case keepUntouched:
		c.stats.RecordsRead += int64(h.NumRecords)
		return batch, nil
	case dropBatch:
		c.stats.RecordsRead += int64(h.NumRecords)
		c.stats.RecordsRemoved += int64(h.NumRecords)
		if c.keepEmptyBatch(h) {
			if h.NumRecords == 0 {
				return batch, nil
			}
			c.outBuf = emptyBatch(c.outBuf[:0], *h)
			return c.outBuf, nil
		}
		return nil, nil
	}
	payload, err := c.dec.decode(h.Compression(), batch[BatchHeaderSize:])
	if err != nil {
		return nil, err
	}
	raw := c.rawBuf[:0]
	kept, removed := int32(0), int32(0)
	err = forEachRawRecord(h, payload, func(r *rawRecord) error {
		if c.retain(r, tombstonesExpire) {
			raw = append(raw, r.raw...)
			kept++
		} else {
			removed++
		}
		return nil
	})
	c.rawBuf = raw
	if err != nil {
		return nil, err
	}
	c.stats.RecordsRead += int64(kept + removed)
	c.stats.RecordsRemoved += int64(removed)
	switch {
	case removed == 0 && kept > 0:
		return batch, nil
	case kept > 0:
		xerial := h.Compression() == CompressionSnappy && bytes.HasPrefix(batch[BatchHeaderSize:], xerialMagic)
		comp, err := compressRecords(h.Compression(), raw, xerial)
		if err != nil {
			return nil, fmt.Errorf("re-encode batch at offset %d: %w", h.BaseOffset, err)
		}
		nh := *h
		nh.Length = int32(minBatchLength + len(comp))
		nh.NumRecords = kept
		c.outBuf = append(nh.AppendTo(c.outBuf[:0]), comp...)
		SetCRC(c.outBuf)
		return c.outBuf, nil
	case c.keepEmptyBatch(h):
		if h.NumRecords == 0 {
			return batch, nil // emptied by an earlier clean
		}
		c.outBuf = emptyBatch(c.outBuf[:0], *h)
		return c.outBuf, nil
	}
	// No record left (or none since an earlier clean, when the batch was a
	// producer's last then), and not a producer's last batch now.
	return nil, nil
}

// keepEmptyBatch reports whether a batch that lost all its records stays
// as an empty batch: the last batch of a producer ID does, as in Kafka, so
// that rebuilding the producer state from batch headers
// (internal/partition) still finds the producer's epoch and last sequence
// and keeps rejecting out-of-order or fenced writes. Only the duplicate
// window shrinks to the batches still in the log. With
// ProducerIDExpirationMs the batch goes once the producer is that old.
func (c *cleaning) keepEmptyBatch(h *BatchHeader) bool {
	if h.ProducerID < 0 {
		return false
	}
	p, ok := c.producers[h.ProducerID]
	if !ok || p.lastOffset != h.LastOffset() {
		return false
	}
	exp := c.cfg.ProducerIDExpirationMs
	return exp <= 0 || p.maxTs >= c.nowMs-exp
}

// emptyBatch appends to dst a batch with h's offsets, producer fields and
// timestamps but no records (uncompressed: there is nothing to compress).
// Consumers skip it; Kafka writes the same for producers' last batches.
func emptyBatch(dst []byte, h BatchHeader) []byte {
	h.Length = minBatchLength
	h.NumRecords = 0
	h.Attributes &^= attrCompressionMask
	start := len(dst)
	dst = h.AppendTo(dst)
	SetCRC(dst[start:])
	return dst
}

// rawRecord is what the cleaner needs of a record, with its encoding.
type rawRecord struct {
	raw       []byte // the whole record, length prefix included
	offset    int64
	key       []byte // nil for a null key
	nullValue bool
}

// forEachRawRecord walks the records of a decompressed batch payload.
// Record offsets must lie within the batch.
func forEachRawRecord(h *BatchHeader, payload []byte, fn func(r *rawRecord) error) error {
	b := payload
	var r rawRecord
	for i := int32(0); i < h.NumRecords; i++ {
		n, err := parseRawRecord(h, b, &r)
		if err != nil {
			return fmt.Errorf("record %d of batch at offset %d: %w", i, h.BaseOffset, err)
		}
		if err := fn(&r); err != nil {
			return err
		}
		b = b[n:]
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d bytes after the last of %d records of batch at offset %d", ErrCorruptMessage, len(b), h.NumRecords, h.BaseOffset)
	}
	return nil
}

// parseRawRecord decodes the start of the record at the front of b.
func parseRawRecord(h *BatchHeader, b []byte, r *rawRecord) (int, error) {
	length, n := binary.Varint(b)
	if n <= 0 {
		return 0, errTruncatedRecord
	}
	if length < 1 || length > int64(len(b)-n) {
		return 0, fmt.Errorf("%w: record length %d with %d bytes left", ErrCorruptMessage, length, len(b)-n)
	}
	total := n + int(length)
	d := recordDecoder{b: b[n+1 : total]} // after the attributes byte
	if _, err := d.varint(); err != nil { // timestamp delta
		return 0, err
	}
	offDelta, err := d.varint()
	if err != nil {
		return 0, err
	}
	if offDelta < 0 || offDelta > int64(h.LastOffsetDelta) {
		return 0, fmt.Errorf("%w: offset delta %d outside the batch's 0..%d", ErrCorruptMessage, offDelta, h.LastOffsetDelta)
	}
	key, err := d.bytes()
	if err != nil {
		return 0, err
	}
	vlen, err := d.varint()
	if err != nil {
		return 0, err
	}
	if vlen < -1 || vlen > int64(len(d.b)) {
		return 0, fmt.Errorf("%w: value length %d with %d bytes left", ErrCorruptMessage, vlen, len(d.b))
	}
	*r = rawRecord{raw: b[:total], offset: h.BaseOffset + offDelta, key: key, nullValue: vlen == -1}
	return total, nil
}

// forEachBatch reads src's batches from file position pos, checking each
// (framing and CRC), and calls fn with the whole batch (valid until fn
// returns). Reads are throttled.
func (c *cleaning) forEachBatch(src cleanSource, pos int64, fn func(batch []byte, h *BatchHeader) error) error {
	s := src.s
	if c.br == nil {
		c.br = bufio.NewReaderSize(nil, 256<<10)
	}
	c.br.Reset(io.NewSectionReader(s.log, pos, src.size-pos))
	for pos < src.size {
		if err := c.checkStop(); err != nil {
			return err
		}
		if src.size-pos < BatchHeaderSize {
			return fmt.Errorf("%w: %s: %d trailing bytes at position %d", ErrCorruptMessage, s.logPath, src.size-pos, pos)
		}
		if cap(c.buf) < BatchHeaderSize {
			c.buf = make([]byte, 64<<10)
		}
		if _, err := io.ReadFull(c.br, c.buf[:BatchHeaderSize]); err != nil {
			return fmt.Errorf("read %s at %d: %w", s.logPath, pos, err)
		}
		h := parseHeader(c.buf)
		size := int64(h.Size())
		if h.Magic != 2 || h.Length < minBatchLength || size > src.size-pos || h.LastOffsetDelta < 0 {
			return fmt.Errorf("%w: %s: bad batch header at position %d (magic %d, length %d)", ErrCorruptMessage, s.logPath, pos, h.Magic, h.Length)
		}
		if int64(cap(c.buf)) < size {
			nb := make([]byte, size)
			copy(nb, c.buf[:BatchHeaderSize])
			c.buf = nb
		}
		batch := c.buf[:size]
		if _, err := io.ReadFull(c.br, batch[BatchHeaderSize:]); err != nil {
			return fmt.Errorf("read %s at %d: %w", s.logPath, pos, err)
		}
		if crc := batchCRC(batch); crc != h.CRC {
			return fmt.Errorf("%w: %s: batch at position %d has crc %08x, computed %08x", ErrCorruptMessage, s.logPath, pos, h.CRC, crc)
		}
		c.stats.BytesRead += size
		if err := c.throttle.add(c.ctx, size); err != nil {
			return err
		}
		if err := fn(batch, &h); err != nil {
			return err
		}
		pos += size
	}
	return nil
}

// throttler keeps the average rate of the bytes it is told about at or
// below rate bytes per second since start (log.cleaner.io.max.bytes.per.second).
type throttler struct {
	rate  float64
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	start time.Time
	bytes float64
	slept time.Duration
}

// throttleMinSleep avoids sleeping for tiny amounts after every batch.
const throttleMinSleep = 10 * time.Millisecond

func (t *throttler) add(ctx context.Context, n int64) error {
	if t.rate <= 0 || math.IsInf(t.rate, 1) || math.IsNaN(t.rate) {
		return nil
	}
	t.bytes += float64(n)
	due := time.Duration(t.bytes / t.rate * float64(time.Second))
	if d := due - t.now().Sub(t.start); d >= throttleMinSleep {
		t.slept += d
		return t.sleep(ctx, d)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
