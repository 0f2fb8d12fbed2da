package log

import (
	"fmt"
	"slices"
)

// DeleteOldSegments applies retention the way Kafka's log manager does,
// oldest segment first and stopping at the first one that must stay:
//   - a segment wholly below the log start offset goes (DeleteRecords);
//   - with retentionMs >= 0 (retention.ms), a segment whose newest record
//     timestamp (its file's modification time if it has none) is older than
//     retentionMs goes; when that is every segment, the active one is rolled
//     first so the log keeps an empty active segment at its end offset;
//   - with retentionBytes >= 0 (retention.bytes), segments go while the rest
//     of the log still holds at least retentionBytes.
//
// The log start offset moves up to the first remaining segment and is
// persisted. Reads holding a deleted segment keep working until released.
// It returns how many segments were deleted.
func (l *Log) DeleteOldSegments(retentionMs, retentionBytes int64) (int, error) {
	// Not while the cleaner swaps segments (taken before appendMu so that
	// appends do not wait for a swap).
	l.cleaner.swapMu.Lock()
	defer l.cleaner.swapMu.Unlock()
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return 0, ErrClosed
	}
	segs := slices.Clone(l.segs)
	lso, leo := l.lso, l.leo
	var total int64
	for _, s := range segs {
		total += s.size
	}
	maxTs := make([]int64, len(segs))
	for i, s := range segs {
		maxTs[i] = s.maxTs
	}
	l.mu.RUnlock()

	nowMs := l.nowMs()
	n := 0
	rollActive := false
	for i, s := range segs {
		active := i == len(segs)-1
		byStart := !active && segs[i+1].base <= lso
		// An empty active segment is the log's end, not old data; an empty
		// one before it (emptied by the cleaner) ages by its file's time.
		byTime := retentionMs >= 0 && (s.size > 0 || !active) && nowMs-largestTimestamp(s, maxTs[i], nowMs) > retentionMs
		bySize := !active && retentionBytes >= 0 && total-s.size >= retentionBytes
		if !byStart && !byTime && !bySize {
			break
		}
		if active {
			rollActive = true
		}
		total -= s.size
		n++
	}
	if n == 0 {
		return 0, nil
	}
	if rollActive {
		if _, err := l.roll(segs[len(segs)-1], leo); err != nil {
			return 0, err
		}
	}

	// Under lsoMu, as SetLogStartOffset (DeleteRecords): the two write the
	// same file through the same temporary name, and the file must end
	// with the larger of their offsets.
	l.lsoMu.Lock()
	l.mu.Lock()
	victims := l.segs[:n]
	l.segs = slices.Clone(l.segs[n:]) // a fresh array: readers may hold the old one
	newStart := max(l.lso, l.segs[0].base)
	l.lso = newStart
	l.dirDirty = true
	l.mu.Unlock()

	var err error
	if newStart != lso {
		err = writeOffsetFile(l.dir, logStartOffsetFile, newStart)
	}
	l.lsoMu.Unlock()
	for _, s := range victims {
		l.logger.Info("deleting segment by retention", "file", s.logPath, "size", s.size, "log_start_offset", newStart)
		if rmErr := s.removeFiles(); rmErr != nil && err == nil {
			err = fmt.Errorf("delete segment %d: %w", s.base, rmErr)
		}
		s.decRef()
	}
	return n, err
}

// largestTimestamp is the newest record timestamp of s (maxTs, read under
// the log's lock), or its file's modification time when no record has a
// timestamp or the segment is empty (as Kafka does); nowMs when the file
// cannot be asked, which keeps the segment.
func largestTimestamp(s *segment, maxTs, nowMs int64) int64 {
	if maxTs >= 0 {
		return maxTs
	}
	st, err := s.log.Stat()
	if err != nil {
		return nowMs
	}
	return st.ModTime().UnixMilli()
}
