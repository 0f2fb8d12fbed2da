package log

import (
	"errors"
	"os"
	"syscall"
)

// Preallocation: before an append, the active segment's disk blocks are
// reserved ahead of its end (fallocate with FALLOC_FL_KEEP_SIZE on Linux:
// the file size, and so everything that reads it, is unchanged). A profile
// of produce on ext4 showed most of the pwrite's CPU in delayed allocation,
// which reserves space and tracks an extent for every 4 KiB block written
// into a hole (ext4_da_get_block_prep); blocks reserved beforehand skip
// that: BenchmarkAppendMiB measures 0.21 CPU s per GB without and 0.16
// with it.
//
// The reservation grows with the segment, doubling its size up to
// PreallocateBytes ahead, so that a partition that receives little reserves
// little; what lies past the end of a segment is given back when it rolls
// or the log closes (truncating a file to its own size frees it). After a
// crash the active segment keeps its reservation until it rolls.

// minPreallocate is the smallest reservation ahead of a segment's end.
const minPreallocate = 64 << 10

// preallocate reserves blocks of s for an append of [start, end) and some
// way beyond it. Called by the appender before writing; s.prealloc and
// l.preallocOff (set at Open on tmpfs) are appender-owned. Failure is not an error: the append
// then allocates as it writes, and a file system that cannot reserve is not
// asked again.
func (l *Log) preallocate(s *segment, start, end int64) {
	n := l.cfg.PreallocateBytes
	if n <= 0 || !preallocSupported || l.preallocOff || end <= s.prealloc {
		return
	}
	to := end + min(n, max(end, minPreallocate))
	to = max(min(to, l.cfg.SegmentBytes), end)
	from := max(s.prealloc, start)
	if err := fallocateKeepSize(s.log, from, to-from); err != nil {
		if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
			l.preallocOff = true
			l.logger.Info("file system does not preallocate; appends allocate as they write", "err", err)
			return
		}
		// ENOSPC and the like: the write that follows reports what
		// matters; the next append past the reservation tries again.
		l.logger.Debug("preallocation failed", "file", s.logPath, "from", from, "to", to, "err", err)
		return
	}
	s.prealloc = to
}

// trimPreallocation gives back the blocks reserved past the end of s,
// which is no longer appended to. Called by the appender (roll, Close).
func (l *Log) trimPreallocation(s *segment) {
	if s.prealloc <= s.size {
		return
	}
	if err := s.truncateLog(s.size); err != nil {
		l.logger.Warn("cannot give back preallocated space", "file", s.logPath, "err", err)
	}
}

// fallocateKeepSize reserves n bytes of f from off without changing its size.
func fallocateKeepSize(f *os.File, off, n int64) error {
	return withFD(f, func(fd uintptr) error { return fallocate(fd, off, n) })
}
