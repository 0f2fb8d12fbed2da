package log

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxIndexFileBytes bounds how much of an index file Open will read into
// memory; a larger file is treated as corrupt and rebuilt.
const maxIndexFileBytes = 1 << 30

// Open loads the log in dir, creating the directory and an empty first
// segment when needed.
//
// With clean false (the caller found no clean-shutdown marker) it recovers:
// every segment holding offsets at or after the recovery point (all of them
// when the recovery-point file is missing) is scanned batch by batch, the
// first invalid batch (torn write, bad CRC, bad length, offsets not
// increasing) and everything after it are truncated away, later segments are
// deleted, and the scanned segments' indexes are rebuilt. When the recovery
// point records its position in the last segment (recovery_point.go), that
// segment is scanned from there on only, keeping the durable prefix and its
// index entries, so recovery costs what was appended since the last
// recorded flush rather than the whole active segment. With clean true the
// indexes are trusted after sanity checks (rebuilt when broken) and the log
// end offset comes from the last segment's tail. Truncations are logged.
func Open(dir string, cfg Config, clean bool, logger *slog.Logger) (*Log, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	l := &Log{
		dir:    dir,
		cfg:    cfg,
		logger: logger.With("dir", dir),
		clock:  cfg.Now,
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		// In memory (tmpfs) nothing is allocated per block as it is
		// written: a reservation would only hold memory.
		preallocOff: inMemoryFS(dir),
	}
	if err := l.load(clean); err != nil {
		for _, s := range l.segs {
			s.decRef()
		}
		return nil, err
	}
	l.wg.Add(1)
	go l.flusher()
	return l, nil
}

// load opens the segments and establishes the offsets.
func (l *Log) load(clean bool) error {
	if err := l.completeInterruptedClean(); err != nil {
		return err
	}
	bases, err := l.listSegments()
	if err != nil {
		return err
	}
	for _, base := range bases {
		s, err := openSegment(l.dir, base)
		if err != nil {
			return fmt.Errorf("open segment %d: %w", base, err)
		}
		l.segs = append(l.segs, s)
	}
	rp, rpOK := l.readRecoveryPoint()
	if !rpOK {
		rp = recoveryPoint{offset: math.MinInt64} // recover everything
	}
	start := time.Now()
	if err := l.loadSegments(clean, rp); err != nil {
		return err
	}
	if l.scannedAtOpen > 0 {
		// One line per log that had data past its recovery point, as
		// Kafka logs each segment it recovers.
		l.logger.Info("recovered log", "scanned_bytes", l.scannedAtOpen, "recovery_point", max(rp.offset, -1),
			"took", time.Since(start).Round(time.Microsecond))
	}
	lsoFile, lsoOK := l.readOffsetFile(logStartOffsetFile)
	if len(l.segs) == 0 {
		base := int64(0)
		if lsoOK && lsoFile > 0 {
			base = lsoFile
		}
		s, err := createSegment(l.dir, base)
		if err != nil {
			return fmt.Errorf("create first segment: %w", err)
		}
		l.segs = append(l.segs, s)
		l.dirDirty = true
	}
	last := l.segs[len(l.segs)-1]
	for _, s := range l.segs[:len(l.segs)-1] {
		s.makeCold() // loading wrote or checked every entry in the files
	}
	// The active segment's data is synced by Sync's active-segment fsync;
	// its flag must stay false so that, once rolled, it gets a full sync
	// covering the appends made since.
	last.synced.Store(false)
	l.leo = last.nextOffset
	l.lso = l.segs[0].base
	if lsoOK && lsoFile > l.lso {
		l.lso = min(lsoFile, l.leo)
	}
	if clean {
		l.syncedTo = l.leo
	}
	l.recorded = recoveryPoint{offset: -1}
	if rpOK {
		l.recorded = rp
	}
	if rpOK && l.leo < rp.offset {
		// Open cut data the recovery point covered (only a damaged disk
		// or a damaged log does that): forget it rather than let a later
		// recovery trust it. The next flush records a new one.
		l.logger.Warn("removing the recovery point: the log now ends before it", "recovery_point", rp.offset, "log_end_offset", l.leo)
		if err := os.Remove(filepath.Join(l.dir, recoveryPointFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove recovery point: %w", err)
		}
		if err := syncDir(l.dir); err != nil {
			return err
		}
		l.recorded = recoveryPoint{offset: -1}
	}
	return nil
}

// listSegments returns the base offsets of the .log files in dir, removing
// index files whose .log is gone. Other files are left alone.
func (l *Log) listSegments() ([]int64, error) {
	ents, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", l.dir, err)
	}
	logs := map[int64]bool{}
	var orphans []string
	for _, e := range ents {
		base, suffix, ok := parseSegmentFile(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if suffix == logSuffix {
			logs[base] = true
		}
	}
	for _, e := range ents {
		base, suffix, ok := parseSegmentFile(e.Name())
		if ok && suffix != logSuffix && !logs[base] {
			orphans = append(orphans, e.Name())
		}
	}
	for _, name := range orphans {
		l.logger.Warn("removing index file without a segment", "file", name)
		if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
			return nil, err
		}
		l.dirDirty = true
	}
	bases := make([]int64, 0, len(logs))
	for b := range logs {
		bases = append(bases, b)
	}
	slices.Sort(bases)
	return bases, nil
}

// loadSegments validates the opened segments, recovering those at or after
// the recovery point rp (or all that fail their checks) and dropping
// segments that cannot follow a truncation. The last segment, when rp says
// where in it the recovery point lies, is recovered from there on.
func (l *Log) loadSegments(clean bool, rp recoveryPoint) error {
	minOffset := int64(math.MinInt64) // the next batch's base offset must be >= this
	for i := 0; i < len(l.segs); i++ {
		s := l.segs[i]
		if s.base < minOffset {
			l.dropSegmentsFrom(i, fmt.Sprintf("base offset %d overlaps the previous segment ending at %d", s.base, minOffset))
			break
		}
		last := i == len(l.segs)-1
		nextBase := int64(-1)
		if !last {
			nextBase = l.segs[i+1].base
		}
		recover := !clean && (last || nextBase > rp.offset)
		if !recover {
			if err := l.loadTrusted(s, last, nextBase); err != nil {
				l.logger.Warn("segment failed its checks; rebuilding it", "file", s.logPath, "reason", err)
				recover = true
			}
		}
		if recover {
			// Only the last segment is recovered from a recorded position:
			// an earlier one may have been compacted since (the cleaner
			// never touches the active segment), which moves batches.
			fromRP := !clean && last && rp.hasPosition && rp.segment == s.base && minOffset <= s.base
			truncated, err := l.recoverSegment(s, max(minOffset, s.base), last, rp, fromRP)
			if err != nil {
				return err
			}
			if truncated && !last {
				l.dropSegmentsFrom(i+1, fmt.Sprintf("segment %s was truncated", filepath.Base(s.logPath)))
				last = true
			}
		}
		// An empty segment followed by another holds nothing to read: the
		// cleaner leaves one when it removed every record of a group. The
		// first one stays, as its base is the log start offset (a
		// consumer's committed offset below the first record left must
		// still be in range, as in Kafka).
		if s.size == 0 && !last && i > 0 {
			l.removeSegment(i, "empty segment followed by another")
			i--
			continue
		}
		minOffset = s.nextOffset
	}
	return nil
}

// dropSegmentsFrom removes segments i and later from disk and from the log.
func (l *Log) dropSegmentsFrom(i int, reason string) {
	for len(l.segs) > i {
		l.removeSegment(len(l.segs)-1, reason)
	}
}

// removeSegment deletes segment i's files and drops it from the log.
func (l *Log) removeSegment(i int, reason string) {
	s := l.segs[i]
	l.logger.Warn("deleting segment", "file", s.logPath, "size", s.size, "reason", reason)
	if err := s.removeFiles(); err != nil {
		l.logger.Error("deleting segment files failed", "file", s.logPath, "err", err)
	}
	l.segs = slices.Delete(l.segs, i, i+1)
	l.dirDirty = true
	s.decRef()
}

// loadTrusted loads a segment whose data is believed intact: its indexes
// are read and sanity-checked, and for the last segment the tail after the
// last offset index entry is validated to find the log end offset and max
// timestamp. An error means the segment must be recovered instead.
func (l *Log) loadTrusted(s *segment, last bool, nextBase int64) error {
	if s.indexMissing && s.size > 0 {
		return errors.New("index file missing")
	}
	maxRel := int64(-1)
	if !last {
		maxRel = nextBase - s.base
	}
	buf, err := readIndexFile(s.offIdx.file, offsetEntrySize, maxIndexFileBytes)
	if err != nil {
		return fmt.Errorf("%s: %w", s.indexPath, err)
	}
	offs, err := decodeOffsetIndex(buf, s.size, maxRel)
	if err != nil {
		return fmt.Errorf("%s: %w", s.indexPath, err)
	}
	if buf, err = readIndexFile(s.timeIdx.file, timeEntrySize, maxIndexFileBytes); err != nil {
		return fmt.Errorf("%s: %w", s.timePath, err)
	}
	times, err := decodeTimeIndex(buf, maxRel)
	if err != nil {
		return fmt.Errorf("%s: %w", s.timePath, err)
	}
	hr := newHeaderReader(s.log, s.logPath, s.size)
	defer hr.release()
	tailPos := int64(0)
	if n := len(offs); n > 0 {
		e := offs[n-1]
		h, err := hr.header(int64(e.pos))
		if err != nil {
			return fmt.Errorf("%s: last entry: %w", s.indexPath, err)
		}
		if h.LastOffset() != s.base+int64(e.relOffset) {
			return fmt.Errorf("%s: last entry says offset %d at position %d, the batch there ends at %d",
				s.indexPath, s.base+int64(e.relOffset), e.pos, h.LastOffset())
		}
		tailPos = int64(e.pos)
	}
	s.offIdx.entries, s.timeIdx.entries = offs, times
	s.maxTs, s.maxTsOffset = -1, -1
	if n := len(times); n > 0 {
		s.maxTs, s.maxTsOffset = times[n-1].ts, s.base+int64(times[n-1].relOffset)
	}
	s.synced.Store(true)
	if !last {
		s.nextOffset = nextBase
		return nil
	}

	next := s.base
	maxTs, maxTsOffset := s.maxTs, s.maxTsOffset
	end, reason, err := scanValid(s, tailPos, s.base, func(h *BatchHeader, _ int64) {
		if h.MaxTimestamp > maxTs {
			maxTs, maxTsOffset = h.MaxTimestamp, h.LastOffset()
		}
		next = h.LastOffset() + 1
	})
	if err != nil {
		return err
	}
	if end < s.size {
		return fmt.Errorf("%s: tail: %s at position %d", s.logPath, reason, end)
	}
	if n := len(times); n > 0 && s.base+int64(times[n-1].relOffset) >= next {
		return fmt.Errorf("%s: last entry beyond the log end offset %d", s.timePath, next)
	}
	s.nextOffset = next
	s.maxTs, s.maxTsOffset = maxTs, maxTsOffset
	s.bytesSinceIndex = s.size - tailPos
	if s.size > 0 {
		h, err := hr.header(0)
		if err != nil {
			return err
		}
		l.setRollBase(s, l.rollBaseFor(h.MaxTimestamp))
	}
	return nil
}

// rollBaseFor picks the time a loaded segment's age counts from: its first
// batch's timestamp, unless that is missing or in the future.
func (l *Log) rollBaseFor(firstBatchTs int64) int64 {
	now := l.nowMs()
	if firstBatchTs < 0 || firstBatchTs > now {
		return now
	}
	return firstBatchTs
}

// recoverSegment validates the batches of s, truncates the file at the
// first invalid one, and rebuilds the index entries of the batches it
// validated. minOffset is the smallest base offset the first batch may
// have. With fromRP it first tries to trust the part of s below the
// recovery point rp (trustedPrefix) and validates only the batches after
// it; otherwise, or when rp does not check out, it validates every batch.
func (l *Log) recoverSegment(s *segment, minOffset int64, last bool, rp recoveryPoint, fromRP bool) (truncated bool, err error) {
	x := indexer{
		base:          s.base,
		intervalBytes: int64(l.cfg.IndexIntervalBytes),
		maxOffEntries: max(1, l.cfg.SegmentIndexBytes/offsetEntrySize),
		maxTimeEntry:  max(1, l.cfg.SegmentIndexBytes/timeEntrySize),
		maxTs:         -1,
		maxTsOffset:   -1,
		lastTimeTs:    -1,
	}
	var keepOffs []offsetEntry
	var keepTimes []timeEntry
	start, next := int64(0), s.base
	firstTs, seen := int64(-1), false
	if fromRP {
		tx, offs, times, ts, err := l.trustedPrefix(s, rp)
		if err != nil {
			l.logger.Warn("recovery point does not match the segment; scanning all of it", "file", s.logPath, "reason", err)
		} else {
			x, keepOffs, keepTimes = tx, offs, times
			start, next, minOffset = rp.position, rp.offset, rp.offset
			firstTs, seen = ts, rp.position > 0
		}
	}
	end, reason, err := scanValid(s, start, minOffset, func(h *BatchHeader, pos int64) {
		x.add(h, pos)
		next = h.LastOffset() + 1
		if !seen {
			firstTs, seen = h.MaxTimestamp, true
		}
	})
	l.scannedAtOpen += end - start
	if err != nil {
		return false, fmt.Errorf("recover %s: %w", s.logPath, err)
	}
	if end < s.size {
		l.logger.Warn("truncating log segment", "file", s.logPath, "position", end, "size", s.size, "reason", reason)
		if err := s.truncateLog(end); err != nil {
			return false, fmt.Errorf("truncate %s: %w", s.logPath, err)
		}
		s.size = end
		truncated = true
	}
	if !last || truncated {
		// The segment is (or may become) inactive: record its max timestamp.
		x.maybeTimeEntry(true)
	}
	if err := s.rewriteIndexFiles(len(keepOffs), x.newOffs, len(keepTimes), x.newTimes); err != nil {
		return false, err
	}
	s.offIdx.entries = append(keepOffs, x.newOffs...)
	s.timeIdx.entries = append(keepTimes, x.newTimes...)
	s.nextOffset = next
	s.maxTs, s.maxTsOffset = x.maxTs, x.maxTsOffset
	s.bytesSinceIndex = x.bytesSince
	s.rollBaseMs = -1
	if seen {
		l.setRollBase(s, l.rollBaseFor(firstTs))
	}
	s.synced.Store(false) // what we read may only be in the page cache
	return truncated, nil
}

// scanValid reads s's batches from pos to s.size, checking each: magic 2,
// sane length, complete, CRC-32C, base offset >= minOffset and after the
// previous batch, offsets representable relative to the segment base. fn is
// called for each valid batch. It returns where the valid prefix ends and,
// when that is before s.size, why. err is an I/O error.
func scanValid(s *segment, pos, minOffset int64, fn func(h *BatchHeader, pos int64)) (end int64, reason string, err error) {
	br := bufio.NewReaderSize(io.NewSectionReader(s.log, pos, s.size-pos), 256<<10)
	crc := crc32.New(castagnoli)
	var hdr [BatchHeaderSize]byte
	for pos < s.size {
		if s.size-pos < BatchHeaderSize {
			return pos, fmt.Sprintf("%d trailing bytes, too short for a batch header", s.size-pos), nil
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return pos, "", fmt.Errorf("read %s at %d: %w", s.logPath, pos, err)
		}
		h := parseHeader(hdr[:])
		size := int64(h.Length) + batchLengthPrefix
		switch {
		case h.Magic != 2:
			reason = fmt.Sprintf("magic %d", h.Magic)
		case h.Length < minBatchLength:
			reason = fmt.Sprintf("batch length %d", h.Length)
		case size > s.size-pos:
			reason = fmt.Sprintf("batch of %d bytes but only %d left in the file", size, s.size-pos)
		case h.LastOffsetDelta < 0:
			reason = fmt.Sprintf("last offset delta %d", h.LastOffsetDelta)
		case h.BaseOffset < minOffset:
			reason = fmt.Sprintf("base offset %d, expected at least %d", h.BaseOffset, minOffset)
		case h.BaseOffset > math.MaxInt64-1-int64(h.LastOffsetDelta) || h.LastOffset()-s.base > math.MaxInt32:
			reason = fmt.Sprintf("last offset %d+%d outside the segment's range", h.BaseOffset, h.LastOffsetDelta)
		}
		if reason != "" {
			return pos, reason, nil
		}
		crc.Reset()
		crc.Write(hdr[offAttributes:])
		if _, err := io.CopyN(crc, br, size-BatchHeaderSize); err != nil {
			return pos, "", fmt.Errorf("read %s at %d: %w", s.logPath, pos, err)
		}
		if sum := crc.Sum32(); sum != h.CRC {
			return pos, fmt.Sprintf("crc %08x, computed %08x", h.CRC, sum), nil
		}
		fn(&h, pos)
		minOffset = h.LastOffset() + 1
		pos += size
	}
	return pos, "", nil
}

// readOffsetFile reads one of the log's offset files; a missing or corrupt
// file reads as absent.
func (l *Log) readOffsetFile(name string) (int64, bool) {
	b, err := os.ReadFile(filepath.Join(l.dir, name))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			l.logger.Warn("ignoring unreadable offset file", "file", name, "err", err)
		}
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || v < 0 {
		l.logger.Warn("ignoring corrupt offset file", "file", name, "content", string(b))
		return 0, false
	}
	return v, true
}

// writeOffsetFile durably replaces dir/name with off in decimal.
func writeOffsetFile(dir, name string, off int64) error {
	return writeFileAtomic(dir, name, strconv.FormatInt(off, 10)+"\n")
}

// writeFileSynced creates (or truncates) path, writes content and fsyncs it.
func writeFileSynced(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeFileAtomic durably replaces dir/name with content: written to a
// temporary file, fsynced, renamed over the old one, directory fsynced.
func writeFileAtomic(dir, name, content string) error {
	final := filepath.Join(dir, name)
	tmp := final + ".tmp"
	err := writeFileSynced(tmp, content)
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", final, err)
	}
	return nil
}

// syncDir fsyncs a directory so file creations, renames and removals in it
// are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
