package log

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The recovery point says how much of the log is known to be durable, so
// that recovery after a crash scans only what came after it (Kafka's
// recovery-point-offset-checkpoint, made finer-grained).
//
// The recovery-point file holds the offset on its first line: every
// segment ending at or below it is trusted without a scan. Files written by
// this version add a second line saying where that offset lies in the
// segment that held it (the active segment when it was written) and what
// the segment's indexes and max timestamp were at that point:
//
//	1234
//	segment=1000 position=56789 index=12 timeindex=7 maxts=1700000000123 maxtsoffset=1230
//
// Unclean Open then trusts that segment's first position bytes and its
// first index/timeindex entries, and scans and validates only the batches
// after it. A file with only the first line (older versions) makes Open
// scan the whole segment holding the offset, as before.
//
// What the file records is durable before the file is written: the .log
// data up to position and both index files (fsynced after the recorded
// entries were written); the file itself is replaced atomically. Anything
// that removes data below the recorded point (Open's truncation of damaged
// data does; a future truncation for replication would) must remove or
// rewrite the file before new data is appended there.

// recoveryPointMinInterval rate-limits the recovery-point writes done by
// Sync, so that an fsync per request (group commit) does not also pay a
// file write and rename per fsync. Roll flushes, Close and Checkpoint write
// it regardless.
const recoveryPointMinInterval = time.Second

// recoveryPoint is the content of the recovery-point file.
type recoveryPoint struct {
	offset int64 // every offset below it is durable

	// Set when the file says where offset lies (the second line).
	hasPosition bool
	segment     int64 // base offset of the segment holding offset
	position    int64 // byte position of offset in that segment: its durable size
	indexCount  int   // offset index entries of the segment below position
	timeCount   int   // time index entries of the segment below position
	maxTs       int64 // the segment's max timestamp below position, -1 if none
	maxTsOffset int64 // last offset of the first batch carrying maxTs, -1 if none
}

// encode renders rp in the file format described above.
func (rp recoveryPoint) encode() string {
	s := strconv.FormatInt(rp.offset, 10) + "\n"
	if rp.hasPosition {
		s += fmt.Sprintf("segment=%d position=%d index=%d timeindex=%d maxts=%d maxtsoffset=%d\n",
			rp.segment, rp.position, rp.indexCount, rp.timeCount, rp.maxTs, rp.maxTsOffset)
	}
	return s
}

// parseRecoveryPoint decodes the file's content. Anything malformed is an
// error: the caller then treats the file as absent (a full recovery).
func parseRecoveryPoint(content string) (recoveryPoint, error) {
	lines := strings.Split(strings.TrimSpace(content), "\n")
	if len(lines) > 2 {
		return recoveryPoint{}, fmt.Errorf("%d lines", len(lines))
	}
	off, err := strconv.ParseInt(strings.TrimSpace(lines[0]), 10, 64)
	if err != nil || off < 0 {
		return recoveryPoint{}, fmt.Errorf("offset %q", lines[0])
	}
	rp := recoveryPoint{offset: off}
	if len(lines) == 1 {
		return rp, nil
	}
	fields := map[string]int64{}
	for _, f := range strings.Fields(lines[1]) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return recoveryPoint{}, fmt.Errorf("field %q", f)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return recoveryPoint{}, fmt.Errorf("field %q", f)
		}
		if _, dup := fields[k]; dup {
			return recoveryPoint{}, fmt.Errorf("field %s twice", k)
		}
		fields[k] = n
	}
	want := []string{"segment", "position", "index", "timeindex", "maxts", "maxtsoffset"}
	for _, k := range want {
		if _, ok := fields[k]; !ok {
			return recoveryPoint{}, fmt.Errorf("field %s missing", k)
		}
	}
	if len(fields) != len(want) {
		return recoveryPoint{}, fmt.Errorf("unknown fields in %q", lines[1])
	}
	rp.hasPosition = true
	rp.segment, rp.position = fields["segment"], fields["position"]
	rp.maxTs, rp.maxTsOffset = fields["maxts"], fields["maxtsoffset"]
	idx, tidx := fields["index"], fields["timeindex"]
	switch {
	case rp.segment < 0 || rp.segment > rp.offset:
		return recoveryPoint{}, fmt.Errorf("segment %d with offset %d", rp.segment, rp.offset)
	case rp.position < 0 || rp.position > math.MaxInt32:
		return recoveryPoint{}, fmt.Errorf("position %d", rp.position)
	case idx < 0 || idx > maxIndexFileBytes/offsetEntrySize || tidx < 0 || tidx > maxIndexFileBytes/timeEntrySize:
		return recoveryPoint{}, fmt.Errorf("index entries %d, %d", idx, tidx)
	case rp.maxTsOffset < -1:
		return recoveryPoint{}, fmt.Errorf("max timestamp offset %d", rp.maxTsOffset)
	}
	rp.indexCount, rp.timeCount = int(idx), int(tidx)
	return rp, nil
}

// readRecoveryPoint reads the log's recovery-point file; a missing or
// corrupt file reads as absent.
func (l *Log) readRecoveryPoint() (recoveryPoint, bool) {
	b, err := os.ReadFile(filepath.Join(l.dir, recoveryPointFile))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			l.logger.Warn("ignoring unreadable recovery point", "err", err)
		}
		return recoveryPoint{}, false
	}
	rp, err := parseRecoveryPoint(string(b))
	if err != nil {
		l.logger.Warn("ignoring corrupt recovery point", "reason", err, "content", string(b))
		return recoveryPoint{}, false
	}
	return rp, true
}

// activeRecoveryPoint describes the log as it is now: its end offset in the
// active segment s. The caller holds mu.
func (l *Log) activeRecoveryPoint(s *segment) recoveryPoint {
	return recoveryPoint{
		offset:      l.leo,
		hasPosition: true,
		segment:     s.base,
		position:    s.size,
		indexCount:  len(s.offIdx.entries),
		timeCount:   len(s.timeIdx.entries),
		maxTs:       s.maxTs,
		maxTsOffset: s.maxTsOffset,
	}
}

// Checkpoint makes everything appended so far durable and records it as the
// recovery point, unless the recorded one already covers the log end
// offset. The broker calls it every log.flush.offset.checkpoint.interval.ms
// so that what recovery after a crash must scan stays bounded in time even
// when flushing is left to the OS.
func (l *Log) Checkpoint() error { return l.syncTo(true) }

// trustedPrefix checks that rp describes the first rp.position bytes of s,
// the segment holding the recovery point, and returns the state recovery
// continues from: s's index entries below rp.position and an indexer in
// the state a scan from the start of s would have reached there, plus the
// first batch's max timestamp (-1 when rp.position is 0). An error says
// why rp cannot be trusted; the caller then scans the whole segment.
func (l *Log) trustedPrefix(s *segment, rp recoveryPoint) (x indexer, offs []offsetEntry, times []timeEntry, firstTs int64, err error) {
	rel := rp.offset - s.base
	maxOffEntries := max(1, l.cfg.SegmentIndexBytes/offsetEntrySize)
	switch {
	case rp.segment != s.base:
		return x, nil, nil, 0, fmt.Errorf("recorded for segment %d", rp.segment)
	case rp.position > s.size:
		return x, nil, nil, 0, fmt.Errorf("position %d beyond the file's %d bytes", rp.position, s.size)
	case rel < 0 || rel > math.MaxInt32:
		return x, nil, nil, 0, fmt.Errorf("offset %d outside the segment", rp.offset)
	case rp.indexCount >= maxOffEntries:
		// The indexer stops counting bytes from index entries once the
		// index is full; its state cannot be derived from the entries.
		return x, nil, nil, 0, errors.New("offset index full")
	case rp.position == 0 && (rel != 0 || rp.indexCount != 0 || rp.timeCount != 0 || rp.maxTs != -1):
		return x, nil, nil, 0, errors.New("empty prefix with offsets, entries or timestamps")
	case rp.maxTs >= 0 && (rp.maxTsOffset < s.base || rp.maxTsOffset >= rp.offset):
		return x, nil, nil, 0, fmt.Errorf("max timestamp offset %d outside the prefix", rp.maxTsOffset)
	}
	buf, err := readIndexFile(s.offIdx.file, offsetEntrySize, maxIndexFileBytes)
	if err != nil {
		return x, nil, nil, 0, fmt.Errorf("%s: %w", s.indexPath, err)
	}
	if len(buf) < rp.indexCount*offsetEntrySize {
		return x, nil, nil, 0, fmt.Errorf("%s holds %d entries, %d recorded", s.indexPath, len(buf)/offsetEntrySize, rp.indexCount)
	}
	// Entries point below the position and name offsets below the
	// recovery point.
	if offs, err = decodeOffsetIndex(buf[:rp.indexCount*offsetEntrySize], rp.position, rel); err != nil {
		return x, nil, nil, 0, fmt.Errorf("%s: %w", s.indexPath, err)
	}
	if buf, err = readIndexFile(s.timeIdx.file, timeEntrySize, maxIndexFileBytes); err != nil {
		return x, nil, nil, 0, fmt.Errorf("%s: %w", s.timePath, err)
	}
	if len(buf) < rp.timeCount*timeEntrySize {
		return x, nil, nil, 0, fmt.Errorf("%s holds %d entries, %d recorded", s.timePath, len(buf)/timeEntrySize, rp.timeCount)
	}
	if times, err = decodeTimeIndex(buf[:rp.timeCount*timeEntrySize], rel); err != nil {
		return x, nil, nil, 0, fmt.Errorf("%s: %w", s.timePath, err)
	}
	if n := len(times); n > 0 && times[n-1].ts > rp.maxTs {
		return x, nil, nil, 0, fmt.Errorf("%s: timestamp %d above the recorded maximum %d", s.timePath, times[n-1].ts, rp.maxTs)
	}

	// The position must be a batch boundary right after the batch ending
	// at rp.offset-1. Walk the headers from the last trusted index entry
	// (one index interval of data, headers only: the prefix was fsynced
	// before it was recorded).
	hr := newHeaderReader(s.log, s.logPath, rp.position)
	defer hr.release()
	firstTs = -1
	if rp.position > 0 {
		h, err := hr.header(0)
		if err != nil {
			return x, nil, nil, 0, err
		}
		firstTs = h.MaxTimestamp
	}
	pos, from, prevLast := int64(0), int64(0), s.base-1
	if n := len(offs); n > 0 {
		e := offs[n-1]
		h, err := hr.header(int64(e.pos))
		if err != nil {
			return x, nil, nil, 0, err
		}
		if h.LastOffset() != s.base+int64(e.relOffset) {
			return x, nil, nil, 0, fmt.Errorf("%s: entry says offset %d at position %d, the batch there ends at %d",
				s.indexPath, s.base+int64(e.relOffset), e.pos, h.LastOffset())
		}
		from, pos, prevLast = int64(e.pos), int64(e.pos)+int64(h.Size()), h.LastOffset()
	}
	for pos < rp.position {
		h, err := hr.header(pos) // fails unless the batch ends at or before rp.position
		if err != nil {
			return x, nil, nil, 0, err
		}
		if h.BaseOffset <= prevLast || h.LastOffsetDelta < 0 {
			return x, nil, nil, 0, fmt.Errorf("batch at %d has offsets %d..%d after %d", pos, h.BaseOffset, h.LastOffset(), prevLast)
		}
		if h.MaxTimestamp > rp.maxTs {
			return x, nil, nil, 0, fmt.Errorf("batch at %d has timestamp %d above the recorded maximum %d", pos, h.MaxTimestamp, rp.maxTs)
		}
		prevLast = h.LastOffset()
		pos += int64(h.Size())
	}
	if prevLast+1 != rp.offset {
		return x, nil, nil, 0, fmt.Errorf("the batches below position %d end at offset %d, recorded %d", rp.position, prevLast, rp.offset-1)
	}

	x = indexer{
		base:          s.base,
		intervalBytes: int64(l.cfg.IndexIntervalBytes),
		maxOffEntries: maxOffEntries,
		maxTimeEntry:  max(1, l.cfg.SegmentIndexBytes/timeEntrySize),
		bytesSince:    rp.position - from,
		maxTs:         rp.maxTs,
		maxTsOffset:   rp.maxTsOffset,
		nOff:          len(offs),
		nTime:         len(times),
		lastTimeTs:    -1,
	}
	if rp.maxTs < 0 {
		x.maxTs, x.maxTsOffset = -1, -1
	}
	if n := len(times); n > 0 {
		x.lastTimeTs, x.lastTimeRel = times[n-1].ts, times[n-1].relOffset
	}
	return x, offs, times, firstTs, nil
}

// writeRecoveryPoint durably replaces the recovery-point file.
func writeRecoveryPoint(dir string, rp recoveryPoint) error {
	return writeFileAtomic(dir, recoveryPointFile, rp.encode())
}
