package log

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	baseNameDigits  = 20
)

// segmentName is the file name stem of the segment with base offset base:
// the offset zero-padded to 20 digits, as Kafka names its files.
func segmentName(base int64) string {
	return fmt.Sprintf("%020d", base)
}

// parseSegmentFile splits a file name like 00000000000000000042.index into
// its base offset and suffix. ok is false for files that are not ours.
func parseSegmentFile(name string) (base int64, suffix string, ok bool) {
	dot := strings.IndexByte(name, '.')
	if dot != baseNameDigits {
		return 0, "", false
	}
	suffix = name[dot:]
	switch suffix {
	case logSuffix, indexSuffix, timeIndexSuffix:
	default:
		return 0, "", false
	}
	for _, c := range name[:dot] {
		if c < '0' || c > '9' {
			return 0, "", false
		}
	}
	base, err := strconv.ParseInt(name[:dot], 10, 64)
	if err != nil {
		return 0, "", false
	}
	return base, suffix, true
}

// segment is one .log file with its two indexes. Fields marked "mu" are
// guarded by the owning Log's mu; fields marked "appender" are only touched
// by Open and by the (serialised) appender.
type segment struct {
	base      int64
	logPath   string
	indexPath string
	timePath  string
	log       *os.File
	offIdx    offsetIndex // entries: mu
	timeIdx   timeIndex   // entries: mu

	size        int64 // mu: bytes of whole, completely written batches
	nextOffset  int64 // mu: offset after the last batch (0 until known)
	maxTs       int64 // mu: largest batch MaxTimestamp in the segment, -1 if none
	maxTsOffset int64 // mu: last offset of the first batch carrying maxTs

	bytesSinceIndex int64 // appender: log bytes since the last offset index entry
	prealloc        int64 // appender: file blocks below it are reserved (preallocate.go)
	rollBaseMs      int64 // appender: wall-clock ms of the first append, -1 if empty
	rollJitterMs    int64 // appender: taken off segment.ms for this segment (setRollBase)

	indexMissing bool // Open found no .index or .timeindex file
	// cold: rolled, its index entries are not in offIdx and timeIdx but
	// in the files (index_cache.go). Set under mu (or by the sole owner
	// before the segment is installed), read without it.
	cold atomic.Bool

	synced atomic.Bool  // a rolled segment's files have been fsynced
	refs   atomic.Int32 // the Log's reference plus one per outstanding reader
	closed sync.Once
}

func newSegmentStruct(dir string, base int64) *segment {
	name := segmentName(base)
	s := &segment{
		base:       base,
		logPath:    filepath.Join(dir, name+logSuffix),
		indexPath:  filepath.Join(dir, name+indexSuffix),
		timePath:   filepath.Join(dir, name+timeIndexSuffix),
		nextOffset: base,
		maxTs:      -1,
		rollBaseMs: -1,
	}
	s.refs.Store(1)
	return s
}

// createSegment creates a new, empty segment (truncating stale files of the
// same name).
func createSegment(dir string, base int64) (*segment, error) {
	s := newSegmentStruct(dir, base)
	if err := s.openFiles(os.O_CREATE | os.O_TRUNC); err != nil {
		return nil, err
	}
	return s, nil
}

// openSegment opens an existing segment's .log file, creating missing index
// files.
func openSegment(dir string, base int64) (*segment, error) {
	s := newSegmentStruct(dir, base)
	for _, p := range []string{s.indexPath, s.timePath} {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			s.indexMissing = true
		}
	}
	if err := s.openFiles(0); err != nil {
		return nil, err
	}
	st, err := s.log.Stat()
	if err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("stat %s: %w", s.logPath, err)
	}
	s.size = st.Size()
	// Blocks a crash left reserved past the end count as a reservation, to
	// be given back when the segment rolls.
	s.prealloc = allocatedBytes(st)
	return s, nil
}

func (s *segment) openFiles(logFlags int) error {
	var err error
	if s.log, err = os.OpenFile(s.logPath, os.O_RDWR|logFlags, 0o644); err != nil {
		return err
	}
	if s.offIdx.file, err = os.OpenFile(s.indexPath, os.O_RDWR|os.O_CREATE|logFlags, 0o644); err != nil {
		s.closeFiles()
		return err
	}
	if s.timeIdx.file, err = os.OpenFile(s.timePath, os.O_RDWR|os.O_CREATE|logFlags, 0o644); err != nil {
		s.closeFiles()
		return err
	}
	return nil
}

func (s *segment) closeFiles() {
	s.dropColdEntries()
	for _, f := range []*os.File{s.log, s.offIdx.file, s.timeIdx.file} {
		if f != nil {
			f.Close()
		}
	}
}

// truncateLog cuts the .log file to size; blocks reserved past it are
// freed with it (preallocate.go). Appender (or Open) only.
func (s *segment) truncateLog(size int64) error {
	err := s.log.Truncate(size)
	if err == nil {
		s.prealloc = min(s.prealloc, size)
	}
	return err
}

// incRef takes a reader's reference. The caller must hold Log.mu (read or
// write), which guarantees the Log's own reference keeps refs above zero.
func (s *segment) incRef() { s.refs.Add(1) }

// decRef drops a reference; the last one closes the files.
func (s *segment) decRef() {
	if s.refs.Add(-1) == 0 {
		s.closed.Do(s.closeFiles)
	}
}

// removeFiles unlinks the segment's files. Open descriptors stay usable
// until the last reference is dropped.
func (s *segment) removeFiles() error {
	var errs []error
	for _, p := range []string{s.logPath, s.indexPath, s.timePath} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// syncAll fsyncs the .log and both index files.
func (s *segment) syncAll() error {
	if err := s.log.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", s.logPath, err)
	}
	if err := s.offIdx.file.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", s.indexPath, err)
	}
	if err := s.timeIdx.file.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", s.timePath, err)
	}
	return nil
}

// writeIndexEntries appends entries to the index files; nOff and nTime are
// the numbers of entries already in the files. scratch is an encoding buffer
// the caller may reuse; the grown buffer is returned.
func (s *segment) writeIndexEntries(scratch []byte, nOff int, offs []offsetEntry, nTime int, times []timeEntry) ([]byte, error) {
	if len(offs) > 0 {
		scratch = encodeOffsetEntries(scratch[:0], offs)
		if _, err := s.offIdx.file.WriteAt(scratch, int64(nOff)*offsetEntrySize); err != nil {
			return scratch, fmt.Errorf("write %s: %w", s.indexPath, err)
		}
	}
	if len(times) > 0 {
		scratch = encodeTimeEntries(scratch[:0], times)
		if _, err := s.timeIdx.file.WriteAt(scratch, int64(nTime)*timeEntrySize); err != nil {
			return scratch, fmt.Errorf("write %s: %w", s.timePath, err)
		}
	}
	return scratch, nil
}

// rewriteIndexFiles keeps the first keepOff and keepTime entries of the
// index files, drops the rest and appends offs and times.
func (s *segment) rewriteIndexFiles(keepOff int, offs []offsetEntry, keepTime int, times []timeEntry) error {
	if err := s.offIdx.file.Truncate(int64(keepOff) * offsetEntrySize); err != nil {
		return fmt.Errorf("truncate %s: %w", s.indexPath, err)
	}
	if err := s.timeIdx.file.Truncate(int64(keepTime) * timeEntrySize); err != nil {
		return fmt.Errorf("truncate %s: %w", s.timePath, err)
	}
	if len(offs) > 0 {
		if _, err := s.offIdx.file.WriteAt(encodeOffsetEntries(make([]byte, 0, len(offs)*offsetEntrySize), offs), int64(keepOff)*offsetEntrySize); err != nil {
			return fmt.Errorf("write %s: %w", s.indexPath, err)
		}
	}
	if len(times) > 0 {
		if _, err := s.timeIdx.file.WriteAt(encodeTimeEntries(make([]byte, 0, len(times)*timeEntrySize), times), int64(keepTime)*timeEntrySize); err != nil {
			return fmt.Errorf("write %s: %w", s.timePath, err)
		}
	}
	return nil
}

// indexer decides where index entries go, exactly as Kafka's LogSegment
// does: after more than intervalBytes of log since the last entry, the next
// batch gets an offset index entry (its last offset -> its position) and,
// if the segment's max timestamp grew since the last time entry, a time index
// entry (max timestamp so far -> offset of the batch that carried it).
type indexer struct {
	base          int64
	intervalBytes int64
	maxOffEntries int
	maxTimeEntry  int

	bytesSince  int64
	maxTs       int64
	maxTsOffset int64
	nOff        int   // offset index entries so far
	nTime       int   // time index entries so far
	lastTimeTs  int64 // timestamp of the last time index entry, or -1 for none
	lastTimeRel int32

	newOffs  []offsetEntry
	newTimes []timeEntry
}

// add accounts for the batch h stored at pos.
func (x *indexer) add(h *BatchHeader, pos int64) {
	if h.MaxTimestamp > x.maxTs {
		x.maxTs = h.MaxTimestamp
		x.maxTsOffset = h.LastOffset()
	}
	if x.bytesSince > x.intervalBytes {
		if x.nOff < x.maxOffEntries {
			x.newOffs = append(x.newOffs, offsetEntry{relOffset: int32(h.LastOffset() - x.base), pos: int32(pos)})
			x.nOff++
		}
		x.maybeTimeEntry(false)
		x.bytesSince = 0
	}
	x.bytesSince += int64(h.Size())
}

// maybeTimeEntry adds a time index entry for the max timestamp so far if it
// is larger than the last entry's. final skips the fullness check (used when
// a segment stops being active, as Kafka does).
func (x *indexer) maybeTimeEntry(final bool) {
	if x.maxTs <= x.lastTimeTs || x.maxTs < 0 {
		return
	}
	if !final && x.nTime >= x.maxTimeEntry {
		return
	}
	rel := int32(x.maxTsOffset - x.base)
	if rel < x.lastTimeRel {
		return
	}
	x.newTimes = append(x.newTimes, timeEntry{ts: x.maxTs, relOffset: rel})
	x.nTime++
	x.lastTimeTs = x.maxTs
	x.lastTimeRel = rel
}

// segmentIndexer returns an indexer continuing s's current state. The
// caller must hold Log.mu or be the only user of s.
func (l *Log) segmentIndexer(s *segment) indexer {
	x := indexer{
		base:          s.base,
		intervalBytes: int64(l.cfg.IndexIntervalBytes),
		maxOffEntries: max(1, l.cfg.SegmentIndexBytes/offsetEntrySize),
		maxTimeEntry:  max(1, l.cfg.SegmentIndexBytes/timeEntrySize),
		bytesSince:    s.bytesSinceIndex,
		maxTs:         s.maxTs,
		maxTsOffset:   s.maxTsOffset,
		nOff:          len(s.offIdx.entries),
		nTime:         len(s.timeIdx.entries),
		lastTimeTs:    -1,
	}
	if n := len(s.timeIdx.entries); n > 0 {
		x.lastTimeTs = s.timeIdx.entries[n-1].ts
		x.lastTimeRel = s.timeIdx.entries[n-1].relOffset
	}
	return x
}

// headerReaderBufSize is the chunk read when scanning batch headers: several
// small batches' headers arrive in one pread.
const headerReaderBufSize = 8 << 10

var headerBufPool = sync.Pool{New: func() any { b := make([]byte, headerReaderBufSize); return &b }}

// headerReader reads batch headers from a segment file with pread, never
// beyond limit.
type headerReader struct {
	f      *os.File
	path   string
	limit  int64
	bufp   *[]byte
	bufPos int64
	n      int
}

func newHeaderReader(f *os.File, path string, limit int64) headerReader {
	return headerReader{f: f, path: path, limit: limit, bufp: headerBufPool.Get().(*[]byte)}
}

func (r *headerReader) release() {
	if r.bufp != nil {
		headerBufPool.Put(r.bufp)
		r.bufp = nil
	}
}

// header returns the header of the batch at pos, checking that it is a
// plausible v2 batch lying entirely below limit. pos == limit gives io.EOF.
func (r *headerReader) header(pos int64) (BatchHeader, error) {
	if pos >= r.limit {
		return BatchHeader{}, io.EOF
	}
	if pos+BatchHeaderSize > r.limit {
		return BatchHeader{}, fmt.Errorf("%w: %s: %d bytes at position %d too short for a batch header", ErrCorruptMessage, r.path, r.limit-pos, pos)
	}
	if pos < r.bufPos || pos+BatchHeaderSize > r.bufPos+int64(r.n) {
		buf := *r.bufp
		want := min(int64(len(buf)), r.limit-pos)
		n, err := r.f.ReadAt(buf[:want], pos)
		if n < BatchHeaderSize {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return BatchHeader{}, fmt.Errorf("read %s at %d: %w", r.path, pos, err)
		}
		r.bufPos, r.n = pos, n
	}
	h := parseHeader((*r.bufp)[pos-r.bufPos:])
	if h.Magic != 2 || h.Length < minBatchLength || pos+int64(h.Size()) > r.limit {
		return h, fmt.Errorf("%w: %s: bad batch header at position %d (magic %d, length %d)", ErrCorruptMessage, r.path, pos, h.Magic, h.Length)
	}
	return h, nil
}
