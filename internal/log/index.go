package log

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
)

const (
	offsetEntrySize = 8  // int32 relative offset, int32 position
	timeEntrySize   = 12 // int64 timestamp, int32 relative offset
)

// offsetEntry maps the last offset of a batch (relative to the segment base)
// to the file position where that batch starts, as Kafka's .index does.
type offsetEntry struct {
	relOffset int32
	pos       int32
}

// timeEntry says that up to relOffset (relative to the segment base) the
// largest timestamp in the segment is ts, as Kafka's .timeindex does.
type timeEntry struct {
	ts        int64
	relOffset int32
}

// offsetIndex is the in-memory copy of a segment's .index file with the file
// kept open for write-through. The entries slice is guarded by the Log's mu;
// it is only ever appended to or replaced, never modified in place, so a
// reader may keep using a slice header it copied under the lock.
type offsetIndex struct {
	file    *os.File
	entries []offsetEntry
}

// timeIndex is the in-memory copy of a segment's .timeindex file.
type timeIndex struct {
	file    *os.File
	entries []timeEntry
}

// lookupOffset returns the file position to start scanning from for
// offset (relative to base): the position of the last indexed batch whose
// last offset is <= rel, or 0.
func lookupOffset(entries []offsetEntry, rel int64) int64 {
	i := sort.Search(len(entries), func(i int) bool { return int64(entries[i].relOffset) > rel })
	if i == 0 {
		return 0
	}
	return int64(entries[i-1].pos)
}

// lastBoundaryAtOrBefore returns the largest indexed batch start position
// that is <= limit, or -1. Indexed positions are batch starts, so any such
// position is a whole-batch boundary.
func lastBoundaryAtOrBefore(entries []offsetEntry, limit int64) int64 {
	i := sort.Search(len(entries), func(i int) bool { return int64(entries[i].pos) > limit })
	if i == 0 {
		return -1
	}
	return int64(entries[i-1].pos)
}

// lookupTime returns the relative offset of the last time index entry with
// timestamp <= ts, and whether there was one.
func lookupTime(entries []timeEntry, ts int64) (int32, bool) {
	i := sort.Search(len(entries), func(i int) bool { return entries[i].ts > ts })
	if i == 0 {
		return 0, false
	}
	return entries[i-1].relOffset, true
}

func encodeOffsetEntries(dst []byte, es []offsetEntry) []byte {
	for _, e := range es {
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.relOffset))
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.pos))
	}
	return dst
}

func encodeTimeEntries(dst []byte, es []timeEntry) []byte {
	for _, e := range es {
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.ts))
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.relOffset))
	}
	return dst
}

// readIndexFile reads a whole index file, checking that its size is a
// multiple of entrySize and at most maxBytes.
func readIndexFile(f *os.File, entrySize int, maxBytes int64) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size()%int64(entrySize) != 0 {
		return nil, fmt.Errorf("size %d not a multiple of %d", st.Size(), entrySize)
	}
	if st.Size() > maxBytes {
		return nil, fmt.Errorf("size %d larger than the %d allowed", st.Size(), maxBytes)
	}
	buf := make([]byte, st.Size())
	if _, err := f.ReadAt(buf, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return buf, nil
}

// decodeOffsetIndex decodes and sanity-checks .index contents: relative
// offsets strictly increasing and >= 0, positions strictly increasing and
// below logSize, offsets below maxRel (exclusive) when maxRel >= 0.
func decodeOffsetIndex(buf []byte, logSize int64, maxRel int64) ([]offsetEntry, error) {
	n := len(buf) / offsetEntrySize
	es := make([]offsetEntry, n)
	for i := range n {
		b := buf[i*offsetEntrySize:]
		e := offsetEntry{
			relOffset: int32(binary.BigEndian.Uint32(b)),
			pos:       int32(binary.BigEndian.Uint32(b[4:])),
		}
		if e.relOffset < 0 || e.pos < 0 || int64(e.pos) >= logSize {
			return nil, fmt.Errorf("entry %d (offset %d, position %d) outside the segment of %d bytes", i, e.relOffset, e.pos, logSize)
		}
		if maxRel >= 0 && int64(e.relOffset) >= maxRel {
			return nil, fmt.Errorf("entry %d offset %d beyond the segment", i, e.relOffset)
		}
		if i > 0 && (e.relOffset <= es[i-1].relOffset || e.pos <= es[i-1].pos) {
			return nil, fmt.Errorf("entry %d (offset %d, position %d) not after its predecessor", i, e.relOffset, e.pos)
		}
		es[i] = e
	}
	return es, nil
}

// decodeTimeIndex decodes and sanity-checks .timeindex contents: timestamps
// strictly increasing, relative offsets non-decreasing, >= 0 and below maxRel
// when maxRel >= 0.
func decodeTimeIndex(buf []byte, maxRel int64) ([]timeEntry, error) {
	n := len(buf) / timeEntrySize
	es := make([]timeEntry, n)
	for i := range n {
		b := buf[i*timeEntrySize:]
		e := timeEntry{
			ts:        int64(binary.BigEndian.Uint64(b)),
			relOffset: int32(binary.BigEndian.Uint32(b[8:])),
		}
		if e.relOffset < 0 || (maxRel >= 0 && int64(e.relOffset) >= maxRel) {
			return nil, fmt.Errorf("entry %d offset %d outside the segment", i, e.relOffset)
		}
		if i > 0 && (e.ts <= es[i-1].ts || e.relOffset < es[i-1].relOffset) {
			return nil, fmt.Errorf("entry %d (timestamp %d, offset %d) not after its predecessor", i, e.ts, e.relOffset)
		}
		es[i] = e
	}
	return es, nil
}
