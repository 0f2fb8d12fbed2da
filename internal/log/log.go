package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Config holds one log's settings, named after Kafka's topic configs.
// Zero SegmentBytes, SegmentMs and SegmentIndexBytes mean the defaults;
// IndexIntervalBytes 0 is a real setting (index every batch), so start from
// DefaultConfig.
type Config struct {
	// SegmentBytes (segment.bytes, log.segment.bytes): roll before a batch
	// would make the active segment exceed it. A batch larger than it still
	// goes into a fresh segment of its own.
	SegmentBytes int64
	// SegmentMs (segment.ms, log.roll.ms): roll when the active segment's
	// first batch was appended longer ago than this (checked on append).
	SegmentMs int64
	// SegmentJitterMs (segment.jitter.ms, log.roll.jitter.ms): each segment
	// rolls up to this much (at most SegmentMs) earlier, a random amount
	// drawn when it takes its first batch, so that partitions created
	// together do not all roll at once.
	SegmentJitterMs int64
	// SegmentIndexBytes (segment.index.bytes): roll when the offset or time
	// index holds this many bytes of entries.
	SegmentIndexBytes int
	// IndexIntervalBytes (index.interval.bytes): bytes of log between sparse
	// index entries.
	IndexIntervalBytes int
	// WritebackBytes starts the kernel's writeback of the active segment
	// whenever this many bytes of whole pages have been appended since the
	// last start (see writeback.go); 0 leaves it to the kernel.
	WritebackBytes int64
	// PreallocateBytes reserves up to this many bytes of disk blocks ahead
	// of the active segment's end (see preallocate.go); 0 does not.
	PreallocateBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       1 << 30,
		SegmentMs:          7 * 24 * 60 * 60 * 1000,
		SegmentIndexBytes:  10 << 20,
		IndexIntervalBytes: 4096,
	}
}

// normalize fills zero fields with defaults and rejects invalid values.
func (c Config) normalize() (Config, error) {
	d := DefaultConfig()
	if c.SegmentBytes == 0 {
		c.SegmentBytes = d.SegmentBytes
	}
	if c.SegmentMs == 0 {
		c.SegmentMs = d.SegmentMs
	}
	if c.SegmentIndexBytes == 0 {
		c.SegmentIndexBytes = d.SegmentIndexBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.SegmentBytes < BatchHeaderSize || c.SegmentBytes > math.MaxInt32:
		return c, fmt.Errorf("segment.bytes %d: must be between %d and %d", c.SegmentBytes, BatchHeaderSize, math.MaxInt32)
	case c.SegmentMs < 1:
		return c, fmt.Errorf("segment.ms %d: must be at least 1", c.SegmentMs)
	case c.SegmentJitterMs < 0:
		return c, fmt.Errorf("segment.jitter.ms %d: must not be negative", c.SegmentJitterMs)
	case c.SegmentIndexBytes < timeEntrySize:
		return c, fmt.Errorf("segment.index.bytes %d: must be at least %d", c.SegmentIndexBytes, timeEntrySize)
	case c.IndexIntervalBytes < 0:
		return c, fmt.Errorf("index.interval.bytes %d: must not be negative", c.IndexIntervalBytes)
	case c.WritebackBytes < 0:
		return c, fmt.Errorf("writeback bytes %d: must not be negative", c.WritebackBytes)
	case c.PreallocateBytes < 0:
		return c, fmt.Errorf("preallocate bytes %d: must not be negative", c.PreallocateBytes)
	}
	return c, nil
}

const (
	recoveryPointFile  = "recovery-point"
	logStartOffsetFile = "log-start-offset"
)

// Log is one partition's segmented log. One goroutine at a time may Append
// (the caller serialises appends); Read, ReadBytes, Sync and the getters may
// run concurrently with it and with each other.
type Log struct {
	dir    string
	cfg    Config
	logger *slog.Logger

	appendMu sync.Mutex // serialises Append, roll and Close

	// Appender-owned scratch space, reused to keep Append allocation-free.
	scratchIdx   []byte
	scratchOffs  []offsetEntry
	scratchTimes []timeEntry
	wbSeg        *segment // segment of wbPos (appender-owned, writeback.go)
	wbPos        int64    // bytes of wbSeg already handed to writeback
	wbReqs       chan writebackReq
	preallocOff  bool // the file system refused to preallocate, or gains nothing (appender-owned)

	mu       sync.RWMutex
	segs     []*segment // mu: ordered by base offset; the last one is active
	leo      int64      // mu: log end offset
	lso      int64      // mu: log start offset
	closed   bool       // mu
	dirDirty bool       // mu: files created or removed since the last directory fsync

	syncMu     sync.Mutex
	syncedTo   int64         // syncMu: every offset below it is durable
	syncErr    error         // syncMu: a failed fsync poisons the log (its page cache state is unknown)
	recorded   recoveryPoint // syncMu: the recovery point in the file (offset -1: none)
	recordedAt time.Time     // syncMu: when Sync last wrote it (rate limit)

	clock         func() time.Time // cfg.Now at Open (cfg may change; this is only a clock)
	scannedAtOpen int64            // bytes of batches Open validated by CRC (tests, logging)

	lsoMu sync.Mutex // serialises the writers of the log start offset file (SetLogStartOffset, retention)

	fsyncs        atomic.Int64 // fsync rounds done (each may cover many Sync calls)
	testHookFsync func()       // tests: called at the start of each fsync round

	kick chan struct{} // wakes the background flusher after a roll
	stop chan struct{}
	wg   sync.WaitGroup

	cleaner cleanerState // log compaction (cleaner.go)
}

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.dir }

// LogEndOffset is the offset the next appended record will get.
func (l *Log) LogEndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.leo
}

// LogStartOffset is the first offset that may be read.
func (l *Log) LogStartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.lso
}

// Size is the total number of bytes in all segments' .log files.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n
}

// NumSegments returns how many segments the log has.
func (l *Log) NumSegments() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.segs)
}

// SetLogStartOffset moves the log start offset forward (DeleteRecords,
// retention); moving it backward is a no-op and beyond the log end offset
// is ErrOffsetOutOfRange. The new value is persisted before it takes effect.
func (l *Log) SetLogStartOffset(off int64) error {
	l.lsoMu.Lock()
	defer l.lsoMu.Unlock()
	l.mu.RLock()
	cur, leo, closed := l.lso, l.leo, l.closed
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if off > leo {
		return fmt.Errorf("%w: log start offset %d beyond log end offset %d", ErrOffsetOutOfRange, off, leo)
	}
	if off <= cur {
		return nil
	}
	if err := writeOffsetFile(l.dir, logStartOffsetFile, off); err != nil {
		return err
	}
	l.mu.Lock()
	if off > l.lso {
		l.lso = off
	}
	l.mu.Unlock()
	return nil
}

func (l *Log) nowMs() int64 { return l.cfg.Now().UnixMilli() }

// Append writes complete batches (buf is their concatenation, hs their
// parsed headers in order) to the active segment in one write, rolling
// first when needed. hs[0].BaseOffset must equal LogEndOffset and the
// batches must be contiguous. It does not fsync (see Sync).
func (l *Log) Append(buf []byte, hs []BatchHeader) error {
	if len(hs) == 0 {
		return fmt.Errorf("%w: append of no batches", ErrInvalidRecord)
	}
	if len(buf) > math.MaxInt32 {
		return fmt.Errorf("%w: append of %d bytes", ErrMessageTooLarge, len(buf))
	}
	l.appendMu.Lock()
	defer l.appendMu.Unlock()

	l.mu.RLock()
	closed, leo, active := l.closed, l.leo, l.segs[len(l.segs)-1]
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	next, err := checkAppend(buf, hs, leo)
	if err != nil {
		return err
	}
	nowMs := l.nowMs()
	if l.shouldRoll(active, int64(len(buf)), next-1, nowMs) {
		if active, err = l.roll(active, leo); err != nil {
			return err
		}
	}

	// Only this goroutine writes active.size and the index slices, so they
	// can be read here without mu.
	start := active.size
	l.preallocate(active, start, start+int64(len(buf)))
	if _, err := active.log.WriteAt(buf, start); err != nil {
		_ = active.truncateLog(start) // drop a partial write
		return fmt.Errorf("append to %s at %d: %w", active.logPath, start, err)
	}
	x := l.segmentIndexer(active)
	x.newOffs, x.newTimes = l.scratchOffs[:0], l.scratchTimes[:0]
	pos := start
	for range hs {
		// Index what is on disk: recovery rebuilds indexes from the bytes.
		h := parseHeader(buf[pos-start:])
		x.add(&h, pos)
		pos += int64(h.Size())
	}
	l.scratchOffs, l.scratchTimes = x.newOffs, x.newTimes
	nOff, nTime := len(active.offIdx.entries), len(active.timeIdx.entries)
	l.scratchIdx, err = active.writeIndexEntries(l.scratchIdx, nOff, x.newOffs, nTime, x.newTimes)
	if err != nil {
		_ = active.truncateLog(start)
		_ = active.offIdx.file.Truncate(int64(nOff) * offsetEntrySize)
		_ = active.timeIdx.file.Truncate(int64(nTime) * timeEntrySize)
		return err
	}
	if active.rollBaseMs < 0 {
		l.setRollBase(active, nowMs)
	}
	active.bytesSinceIndex = x.bytesSince

	// Publish: readers see the new bytes only now that they are written.
	l.mu.Lock()
	active.offIdx.entries = append(active.offIdx.entries, x.newOffs...)
	active.timeIdx.entries = append(active.timeIdx.entries, x.newTimes...)
	active.size = pos
	active.nextOffset = next
	active.maxTs, active.maxTsOffset = x.maxTs, x.maxTsOffset
	l.leo = next
	l.mu.Unlock()
	l.maybeStartWriteback(active, pos)
	return nil
}

// checkAppend verifies that hs describe buf exactly and continue the log at
// leo, returning the new log end offset.
func checkAppend(buf []byte, hs []BatchHeader, leo int64) (int64, error) {
	next := leo
	pos := 0
	for i := range hs {
		h := &hs[i]
		if h.BaseOffset != next {
			return 0, fmt.Errorf("%w: batch %d has base offset %d, expected %d", ErrUnexpectedOffset, i, h.BaseOffset, next)
		}
		if h.LastOffsetDelta < 0 || h.Length < minBatchLength || h.BaseOffset > math.MaxInt64-1-int64(h.LastOffsetDelta) {
			return 0, fmt.Errorf("%w: batch %d has last offset delta %d and length %d", ErrInvalidRecord, i, h.LastOffsetDelta, h.Length)
		}
		size := h.Size()
		if size > len(buf)-pos ||
			int64(binary.BigEndian.Uint64(buf[pos+offBaseOffset:])) != h.BaseOffset ||
			int32(binary.BigEndian.Uint32(buf[pos+offLength:])) != h.Length ||
			int32(binary.BigEndian.Uint32(buf[pos+offLastOffsetDelt:])) != h.LastOffsetDelta {
			return 0, fmt.Errorf("%w: batch %d at byte %d does not match its header", ErrInvalidRecord, i, pos)
		}
		pos += size
		next = h.LastOffset() + 1
	}
	if pos != len(buf) {
		return 0, fmt.Errorf("%w: %d bytes after the last batch", ErrInvalidRecord, len(buf)-pos)
	}
	return next, nil
}

// shouldRoll applies Kafka's roll rules to appending n bytes ending at
// lastOffset to the active segment s. An empty segment is never rolled.
func (l *Log) shouldRoll(s *segment, n int64, lastOffset int64, nowMs int64) bool {
	if s.size == 0 {
		return false
	}
	switch {
	case s.size+n > l.cfg.SegmentBytes, s.size+n > math.MaxInt32:
		return true
	case s.rollBaseMs >= 0 && nowMs-s.rollBaseMs > l.cfg.SegmentMs-s.rollJitterMs:
		return true
	case len(s.offIdx.entries) >= max(1, l.cfg.SegmentIndexBytes/offsetEntrySize),
		len(s.timeIdx.entries) >= max(1, l.cfg.SegmentIndexBytes/timeEntrySize):
		return true
	case lastOffset-s.base > math.MaxInt32:
		return true
	}
	return false
}

// setRollBase sets the time s's age counts from and draws its roll jitter,
// as Kafka does for each new segment: a random time below
// min(segment.jitter.ms, segment.ms) taken off its roll time.
func (l *Log) setRollBase(s *segment, ms int64) {
	s.rollBaseMs, s.rollJitterMs = ms, 0
	if j := min(l.cfg.SegmentJitterMs, l.cfg.SegmentMs); j > 0 {
		s.rollJitterMs = rand.Int64N(j)
	}
}

// roll finishes the active segment and starts a new one at base.
func (l *Log) roll(old *segment, base int64) (*segment, error) {
	l.trimPreallocation(old)
	x := l.segmentIndexer(old)
	x.maybeTimeEntry(true)
	if _, err := old.writeIndexEntries(nil, 0, nil, len(old.timeIdx.entries), x.newTimes); err != nil {
		return nil, err
	}
	s, err := createSegment(l.dir, base)
	if err != nil {
		return nil, fmt.Errorf("roll segment at %d: %w", base, err)
	}
	l.mu.Lock()
	old.makeCold() // its entries are all in its files now
	l.segs = append(l.segs, s)
	l.dirDirty = true
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	return s, nil
}

// flusher fsyncs rolled segments in the background so the recovery point
// advances even when nobody calls Sync.
func (l *Log) flusher() {
	defer l.wg.Done()
	for {
		select {
		case <-l.stop:
			return
		case <-l.kick:
			// Unconditionally: the roll happens before the append that
			// caused it, so the log end offset may look synced already.
			l.syncMu.Lock()
			err := l.flushLocked(false)
			l.syncMu.Unlock()
			if err != nil && !errors.Is(err, ErrClosed) {
				l.logger.Error("background flush of rolled segment failed", "err", err)
			}
		}
	}
}

// Sync makes everything appended before the call durable. Concurrent callers
// share fsyncs (group commit): a caller whose data a finished fsync already
// covered returns at once, and one that waited for the sync lock usually
// finds its data covered by the fsync it waited for. Appends continue while
// an fsync runs.
func (l *Log) Sync() error { return l.syncTo(false) }

// syncTo makes everything appended before the call durable, and with record
// also records it as the recovery point. It returns at once when the synced
// (with record: the recorded) offset already covers the log end offset,
// also after Close, which synced and recorded everything; otherwise ErrClosed
// if Close failed to sync.
func (l *Log) syncTo(record bool) error {
	l.mu.RLock()
	target := l.leo
	l.mu.RUnlock()
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if l.syncErr != nil {
		return l.syncErr
	}
	covered := l.syncedTo
	if record {
		covered = l.recorded.offset
	}
	if covered >= target {
		return nil
	}
	return l.flush(false, record)
}

// flushLocked fsyncs every segment that may hold unsynced data, and the
// directory when files were created. The caller holds syncMu. final also
// syncs the active segment's indexes (Close).
func (l *Log) flushLocked(final bool) error { return l.flush(final, false) }

// flush is flushLocked that also records the recovery point: always when
// final, when rolled segments were synced or when record is set, and
// otherwise at most once per recoveryPointMinInterval. Recording it also
// fsyncs the active segment's index files, whose entries below the
// recorded position recovery then trusts. The caller holds syncMu.
func (l *Log) flush(final, record bool) error {
	if l.syncErr != nil {
		return l.syncErr
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	upTo := l.leo
	var rolled []*segment
	for _, s := range l.segs[:len(l.segs)-1] {
		if !s.synced.Load() {
			s.incRef()
			rolled = append(rolled, s)
		}
	}
	active := l.segs[len(l.segs)-1]
	active.incRef()
	rp := l.activeRecoveryPoint(active)
	dirDirty := l.dirDirty
	l.dirDirty = false
	l.mu.Unlock()
	defer func() {
		for _, s := range rolled {
			s.decRef()
		}
		active.decRef()
	}()
	now := l.clock()
	record = record || final || len(rolled) > 0 ||
		(upTo > l.recorded.offset && now.Sub(l.recordedAt) >= recoveryPointMinInterval)

	l.fsyncs.Add(1)
	if l.testHookFsync != nil {
		l.testHookFsync()
	}
	fail := func(err error) error {
		l.syncErr = err
		l.logger.Error("fsync failed; the log refuses further syncs", "err", err)
		return err
	}
	for _, s := range rolled {
		if err := s.syncAll(); err != nil {
			return fail(err)
		}
		s.synced.Store(true)
	}
	if record {
		// The index entries counted in rp were written before rp was
		// taken (Append writes them before publishing).
		if err := active.syncAll(); err != nil {
			return fail(err)
		}
	} else if err := active.log.Sync(); err != nil {
		return fail(fmt.Errorf("fsync %s: %w", active.logPath, err))
	}
	if dirDirty {
		if err := syncDir(l.dir); err != nil {
			return fail(err)
		}
	}
	l.syncedTo = upTo
	if record {
		if err := writeRecoveryPoint(l.dir, rp); err != nil {
			// Only recovery time suffers: it rescans from an older point.
			l.logger.Warn("writing recovery point failed", "err", err)
		} else {
			l.recorded, l.recordedAt = rp, now
		}
	}
	return nil
}

// Close fsyncs the log, records the recovery point and releases the log's
// file handles; reads in flight keep working until released.
func (l *Log) Close() error {
	l.stopCleaner() // before any lock: a running Clean may need them to stop
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return nil
	}
	close(l.stop)
	l.wg.Wait()

	var errs []error
	active := l.segs[len(l.segs)-1]
	l.trimPreallocation(active)
	x := l.segmentIndexer(active)
	x.maybeTimeEntry(true)
	if _, err := active.writeIndexEntries(nil, 0, nil, len(active.timeIdx.entries), x.newTimes); err != nil {
		errs = append(errs, err)
	} else {
		l.mu.Lock()
		active.timeIdx.entries = append(active.timeIdx.entries, x.newTimes...)
		l.mu.Unlock()
	}
	l.syncMu.Lock()
	if len(errs) == 0 {
		if err := l.flushLocked(true); err != nil {
			errs = append(errs, err)
		}
	}
	l.syncMu.Unlock()

	l.mu.Lock()
	l.closed = true
	segs := l.segs
	l.mu.Unlock()
	for _, s := range segs {
		s.decRef()
	}
	return errors.Join(errs...)
}

// Delete closes the log and removes its directory. Open reads keep their
// file handles until released.
func (l *Log) Delete() error {
	err := l.Close()
	if rmErr := os.RemoveAll(l.dir); rmErr != nil {
		return errors.Join(err, rmErr)
	}
	return nil
}

// ReadResult is a range of whole batches in one segment file. The caller
// must call Release when done with File.
type ReadResult struct {
	File *os.File // segment file: read it with pread/sendfile at Pos, never via its shared offset
	Pos  int64
	Size int64 // whole batches only; 0 when there is nothing to read
	seg  *segment
}

// Release drops the reference on the segment file. Release on a zero or
// already released result is a no-op.
func (r *ReadResult) Release() {
	if r.seg != nil {
		r.seg.decRef()
		r.seg = nil
	}
}

// segmentIndexFor returns the index of the last segment whose base is
// <= offset, or -1. The caller holds mu.
func (l *Log) segmentIndexFor(offset int64) int {
	return sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset }) - 1
}

// Read returns whole batches starting with the one containing offset (the
// first batch whose last offset is >= offset), from one segment, at most
// maxBytes, except that with minOneBatch a first batch larger than maxBytes
// is returned whole (KIP-74). offset == LogEndOffset gives an empty result;
// offsets outside [LogStartOffset, LogEndOffset] give ErrOffsetOutOfRange.
func (l *Log) Read(offset int64, maxBytes int, minOneBatch bool) (ReadResult, error) {
	after := int64(-1) // when >= 0: read from the first segment with base > after
	for {
		l.mu.RLock()
		if l.closed {
			l.mu.RUnlock()
			return ReadResult{}, ErrClosed
		}
		if offset < l.lso || offset > l.leo {
			lso, leo := l.lso, l.leo
			l.mu.RUnlock()
			return ReadResult{}, fmt.Errorf("%w: offset %d, log has [%d, %d]", ErrOffsetOutOfRange, offset, lso, leo)
		}
		if offset == l.leo {
			l.mu.RUnlock()
			return ReadResult{}, nil
		}
		i := l.segmentIndexFor(offset)
		if after >= 0 {
			i = sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > after })
		}
		if i < 0 || i >= len(l.segs) {
			l.mu.RUnlock()
			return ReadResult{}, nil
		}
		s := l.segs[i]
		limit, entries := s.size, s.offIdx.entries
		s.incRef()
		l.mu.RUnlock()
		entries, _ = l.indexOf(s, entries, nil, limit)

		start, end, found, err := readRange(s, entries, limit, offset, maxBytes, minOneBatch)
		if err != nil || !found || end == start {
			s.decRef()
			if err != nil {
				return ReadResult{}, err
			}
			if found {
				return ReadResult{}, nil // first batch larger than maxBytes
			}
			after = s.base // offset lies past this segment's data: try the next
			continue
		}
		return ReadResult{File: s.log, Pos: start, Size: end - start, seg: s}, nil
	}
}

// readRange finds, within s's first limit bytes, the batch containing offset
// and the end of the whole batches after it that fit in maxBytes.
func readRange(s *segment, entries []offsetEntry, limit int64, offset int64, maxBytes int, minOneBatch bool) (start, end int64, found bool, err error) {
	hr := newHeaderReader(s.log, s.logPath, limit)
	defer hr.release()
	pos := int64(0)
	if offset > s.base {
		pos = lookupOffset(entries, offset-s.base)
	}
	for {
		h, err := hr.header(pos)
		if err == io.EOF {
			return 0, 0, false, nil
		}
		if err != nil {
			return 0, 0, false, err
		}
		if h.LastOffset() >= offset {
			break
		}
		pos += int64(h.Size())
	}
	start, end = pos, pos
	if maxBytes > 0 && limit-start <= int64(maxBytes) {
		// Everything up to limit fits, and limit is the end of a whole
		// batch: no need to walk the headers (a consumer at the tail).
		return start, limit, true, nil
	}
	if maxBytes > 0 {
		// Indexed positions are batch starts: jump over whole batches.
		if j := lastBoundaryAtOrBefore(entries, start+int64(maxBytes)); j > start {
			end = j
		}
	}
	for end < limit {
		h, err := hr.header(end)
		if err != nil {
			if end > start {
				break // return the good batches; the bad one errors on the next read
			}
			return 0, 0, false, err
		}
		size := int64(h.Size())
		if end-start+size > int64(maxBytes) {
			if end == start && minOneBatch {
				end += size
			}
			break
		}
		end += size
	}
	return start, end, true, nil
}

// ReadBytes is Read with the batches copied into memory.
func (l *Log) ReadBytes(offset int64, maxBytes int, minOneBatch bool) ([]byte, error) {
	r, err := l.Read(offset, maxBytes, minOneBatch)
	if err != nil {
		return nil, err
	}
	defer r.Release()
	if r.Size == 0 {
		return nil, nil
	}
	buf := make([]byte, r.Size)
	if _, err := r.File.ReadAt(buf, r.Pos); err != nil {
		return nil, fmt.Errorf("read %s at %d: %w", r.File.Name(), r.Pos, err)
	}
	return buf, nil
}

// segmentView is a referenced segment with the readable limit and index
// entries captured under mu.
type segmentView struct {
	s       *segment
	limit   int64
	entries []offsetEntry
}

// viewsFrom references the segments that may hold offsets >= from. The
// caller must release them.
func (l *Log) viewsFrom(from int64) ([]segmentView, error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, ErrClosed
	}
	i := max(0, l.segmentIndexFor(from))
	views := make([]segmentView, 0, len(l.segs)-i)
	for _, s := range l.segs[i:] {
		s.incRef()
		views = append(views, segmentView{s: s, limit: s.size, entries: s.offIdx.entries})
	}
	l.mu.RUnlock()
	for i := range views {
		v := &views[i]
		v.entries, _ = l.indexOf(v.s, v.entries, nil, v.limit)
	}
	return views, nil
}

func releaseViews(vs []segmentView) {
	for _, v := range vs {
		v.s.decRef()
	}
}

// ScanBatches calls fn with each batch header from the batch containing
// offset from to the current end of the log, stopping at (and returning)
// the first error fn returns.
func (l *Log) ScanBatches(from int64, fn func(BatchHeader) error) error {
	views, err := l.viewsFrom(from)
	if err != nil {
		return err
	}
	defer releaseViews(views)
	for _, v := range views {
		if err := scanView(v, from, func(h *BatchHeader, _ int64) error { return fn(*h) }); err != nil {
			return err
		}
	}
	return nil
}

// scanView calls fn for each batch in v whose last offset is >= from.
func scanView(v segmentView, from int64, fn func(h *BatchHeader, pos int64) error) error {
	hr := newHeaderReader(v.s.log, v.s.logPath, v.limit)
	defer hr.release()
	pos := int64(0)
	if from > v.s.base {
		pos = lookupOffset(v.entries, from-v.s.base)
	}
	for {
		h, err := hr.header(pos)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.LastOffset() >= from {
			if err := fn(&h, pos); err != nil {
				return err
			}
		}
		pos += int64(h.Size())
	}
}
