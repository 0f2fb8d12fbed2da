package log

import (
	"errors"
	"fmt"
)

// errStopScan ends a scanView early without an error for the caller.
var errStopScan = errors.New("stop scan")

// OffsetForTimestamp implements ListOffsets by timestamp: the offset and
// timestamp of the first record at or after the log start offset whose
// timestamp is >= ts. ok is false when there is none. Records of
// LogAppendTime batches all carry the batch's MaxTimestamp.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, ok bool, err error) {
	type candidate struct {
		view  segmentView
		times []timeEntry
		maxTs int64
	}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return 0, 0, false, ErrClosed
	}
	lso := l.lso
	var cands []candidate
	for _, s := range l.segs[max(0, l.segmentIndexFor(lso)):] {
		if s.maxTs < ts || s.size == 0 {
			continue
		}
		s.incRef()
		cands = append(cands, candidate{
			view:  segmentView{s: s, limit: s.size, entries: s.offIdx.entries},
			times: s.timeIdx.entries,
			maxTs: s.maxTs,
		})
	}
	l.mu.RUnlock()
	for i := range cands {
		c := &cands[i]
		c.view.entries, c.times = l.indexOf(c.view.s, c.view.entries, c.times, c.view.limit)
	}
	defer func() {
		for _, c := range cands {
			c.view.s.decRef()
		}
	}()

	for _, c := range cands {
		s := c.view.s
		from := max(lso, s.base)
		// A time index entry (T <= ts, O) means every batch before the one
		// holding O has timestamps below T: start the scan there.
		if rel, found := lookupTime(c.times, ts); found {
			from = max(from, s.base+int64(rel))
		}
		err := scanView(c.view, from, func(h *BatchHeader, pos int64) error {
			if h.MaxTimestamp < ts {
				return nil
			}
			batch := make([]byte, h.Size())
			if _, err := s.log.ReadAt(batch, pos); err != nil {
				return fmt.Errorf("read %s at %d: %w", s.logPath, pos, err)
			}
			hh, payload, err := batchRecordsBytes(batch)
			if err != nil {
				return fmt.Errorf("%s at %d: %w", s.logPath, pos, err)
			}
			err = forEachRecord(hh, payload, func(r Record) bool {
				if r.Timestamp >= ts && r.Offset >= lso {
					offset, timestamp, ok = r.Offset, r.Timestamp, true
					return false
				}
				return true
			})
			if err != nil {
				return fmt.Errorf("%s at %d: %w", s.logPath, pos, err)
			}
			if ok {
				return errStopScan
			}
			return nil
		})
		if ok {
			return offset, timestamp, true, nil
		}
		if err != nil {
			return 0, 0, false, err
		}
	}
	return 0, 0, false, nil
}

// MaxTimestamp implements ListOffsets MAX_TIMESTAMP (KIP-734): the largest
// record timestamp in the log and the offset of the first record carrying
// it. ok is false when the log has no records with a timestamp.
func (l *Log) MaxTimestamp() (timestamp int64, offset int64, ok bool, err error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return 0, 0, false, ErrClosed
	}
	var best *segment
	for _, s := range l.segs {
		if s.size > 0 && s.maxTs >= 0 && (best == nil || s.maxTs > best.maxTs) {
			best = s
		}
	}
	if best == nil {
		l.mu.RUnlock()
		return 0, 0, false, nil
	}
	best.incRef()
	v := segmentView{s: best, limit: best.size, entries: best.offIdx.entries}
	maxTs, batchLast := best.maxTs, best.maxTsOffset
	l.mu.RUnlock()
	v.entries, _ = l.indexOf(best, v.entries, nil, v.limit)
	defer best.decRef()

	// The segment tracks the batch; find the exact record inside it.
	offset = batchLast
	err = scanView(v, batchLast, func(h *BatchHeader, pos int64) error {
		batch := make([]byte, h.Size())
		if _, err := best.log.ReadAt(batch, pos); err != nil {
			return fmt.Errorf("read %s at %d: %w", best.logPath, pos, err)
		}
		hh, payload, err := batchRecordsBytes(batch)
		if err != nil {
			return fmt.Errorf("%s at %d: %w", best.logPath, pos, err)
		}
		err = forEachRecord(hh, payload, func(r Record) bool {
			if r.Timestamp == maxTs {
				offset = r.Offset
				return false
			}
			return true
		})
		if err != nil {
			return fmt.Errorf("%s at %d: %w", best.logPath, pos, err)
		}
		return errStopScan
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return 0, 0, false, err
	}
	return maxTs, offset, true, nil
}
