package log

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Crash-safe replacement of segments by a cleaned one, as Kafka does it:
//
//  1. the cleaned segment is written as <base>.log.cleaned (+ .index.cleaned,
//     .timeindex.cleaned) and fsynced;
//  2. the index files, then the .log, are renamed to .swap and the directory
//     is fsynced: the rename of the .log to <base>.log.swap is the commit;
//  3. the new segment replaces the old ones in memory (readers of the old
//     ones keep their open files);
//  4. the old segments' files are deleted, the .swap files renamed to their
//     final names and the directory fsynced.
//
// Beside the three files, <base>.log.end (.cleaned, then .swap) holds the
// base offset of the segment after the group: the end of the range the new
// segment replaces. It is renamed before the .log, and deleted last.
//
// Open (completeInterruptedClean) deletes .cleaned files: a clean that had
// not committed is rolled back. A <base>.log.swap is rolled forward: the
// segments whose base offsets lie in [base, end) are deleted and the .swap
// files take their names. The range cannot be read from the cleaned data:
// an old segment may have lost all its batches. (A swap left by a version
// without the .end file replaces [base, last offset in the .swap]: that
// version kept an empty batch at the end of each cleaned segment for it,
// which consumers were then served.)

const (
	cleanedSuffix = ".cleaned"
	swapSuffix    = ".swap"
	endSuffix     = ".end" // after the .log path: <base>.log.end
)

// cleanedSegment is a cleaned segment being written: a segment whose paths
// are the final names and whose files are open at the .cleaned names.
type cleanedSegment struct {
	s         *segment
	w         *bufio.Writer
	pos       int64
	x         indexer
	committed bool // renamed to .swap: the files are no longer ours to delete
	installed bool // in the log: the files are no longer ours to close
}

// createCleaned creates the .cleaned files for the group g.
func (c *cleaning) createCleaned(g []cleanSource) (*cleanedSegment, error) {
	base := g[0].s.base
	s := newSegmentStruct(c.l.dir, base)
	var err error
	open := func(p string) *os.File {
		if err != nil {
			return nil
		}
		var f *os.File
		f, err = os.OpenFile(p+cleanedSuffix, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		return f
	}
	s.log = open(s.logPath)
	s.offIdx.file = open(s.indexPath)
	s.timeIdx.file = open(s.timePath)
	out := &cleanedSegment{
		s: s,
		x: indexer{
			base:          base,
			intervalBytes: int64(c.logCfg.IndexIntervalBytes),
			maxOffEntries: max(1, c.logCfg.SegmentIndexBytes/offsetEntrySize),
			maxTimeEntry:  max(1, c.logCfg.SegmentIndexBytes/timeEntrySize),
			maxTs:         -1,
			maxTsOffset:   -1,
			lastTimeTs:    -1,
		},
	}
	if err != nil {
		out.abort(true)
		return nil, fmt.Errorf("create cleaned segment %d: %w", base, err)
	}
	out.w = bufio.NewWriterSize(s.log, 256<<10)
	return out, nil
}

// add appends one batch (throttled).
func (o *cleanedSegment) add(c *cleaning, batch []byte) error {
	if o.pos+int64(len(batch)) > math.MaxInt32 {
		return fmt.Errorf("cleaned segment %d would exceed 2 GiB", o.s.base)
	}
	h := parseHeader(batch)
	o.x.add(&h, o.pos)
	if _, err := o.w.Write(batch); err != nil {
		return fmt.Errorf("write %s%s: %w", o.s.logPath, cleanedSuffix, err)
	}
	o.pos += int64(len(batch))
	c.stats.BytesWritten += int64(len(batch))
	return c.throttle.add(c.ctx, int64(len(batch)))
}

// finish writes the indexes and fsyncs the three files; next is the base
// offset of the segment after the group, and lastModifiedMs the newest
// record time of the group, which the new .log's modification time takes
// (as in Kafka), so that a segment left without records ages for time
// retention like the data it replaced.
func (o *cleanedSegment) finish(c *cleaning, next, lastModifiedMs int64) error {
	if err := o.w.Flush(); err != nil {
		return fmt.Errorf("write %s%s: %w", o.s.logPath, cleanedSuffix, err)
	}
	o.x.maybeTimeEntry(true) // the segment is inactive
	s := o.s
	var err error
	if c.idxBuf, err = s.writeIndexEntries(c.idxBuf, 0, o.x.newOffs, 0, o.x.newTimes); err != nil {
		return err
	}
	mtime := time.UnixMilli(lastModifiedMs)
	if err := os.Chtimes(s.logPath+cleanedSuffix, mtime, mtime); err != nil {
		return fmt.Errorf("cleaner: %w", err)
	}
	if err := s.syncAll(); err != nil {
		return err
	}
	if err := writeFileSynced(s.logPath+endSuffix+cleanedSuffix, strconv.FormatInt(next, 10)+"\n"); err != nil {
		return fmt.Errorf("cleaner: %w", err)
	}
	s.size = o.pos
	s.nextOffset = next
	s.makeCold() // rolled, and its entries are in the files just synced
	s.maxTs, s.maxTsOffset = o.x.maxTs, o.x.maxTsOffset
	s.synced.Store(true)
	return nil
}

// abort gives up a cleaned segment that was not committed: it closes the
// files and, with remove, deletes them (Open deletes what is left).
func (o *cleanedSegment) abort(remove bool) {
	if o.installed {
		return
	}
	o.s.closeFiles()
	if !remove || o.committed {
		return
	}
	for _, p := range []string{o.s.logPath, o.s.indexPath, o.s.timePath, o.s.logPath + endSuffix} {
		for _, suffix := range []string{cleanedSuffix, swapSuffix} {
			_ = os.Remove(p + suffix)
		}
	}
}

// sourcesInPlace reports whether the group's segments are still in the
// log, consecutive and followed by another segment. The caller holds mu.
func (l *Log) sourcesInPlace(g []cleanSource) (int, bool) {
	i := slices.IndexFunc(l.segs, func(s *segment) bool { return s == g[0].s })
	if i < 0 || i+len(g) >= len(l.segs) {
		return 0, false
	}
	for k, src := range g {
		if l.segs[i+k] != src.s {
			return 0, false
		}
	}
	return i, true
}

// commit swaps the cleaned segment in for the group (see the top of this
// file). Before the commit point an error leaves the old segments; after
// it, the swap is completed on disk even when the log has been closed.
func (c *cleaning) commit(g []cleanSource, out *cleanedSegment) error {
	l := c.l
	if err := c.hook(stepCleanedWritten); err != nil {
		return err
	}
	l.cleaner.swapMu.Lock()
	defer l.cleaner.swapMu.Unlock()
	if err := c.checkStop(); err != nil {
		return err
	}
	l.mu.RLock()
	_, ok := l.sourcesInPlace(g)
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if !ok {
		return errSourcesGone
	}

	s := out.s
	for _, p := range []string{s.indexPath, s.timePath, s.logPath + endSuffix} {
		if err := os.Rename(p+cleanedSuffix, p+swapSuffix); err != nil {
			return fmt.Errorf("cleaner: %w", err)
		}
	}
	if err := c.hook(stepSwapIndexes); err != nil {
		return err
	}
	if err := os.Rename(s.logPath+cleanedSuffix, s.logPath+swapSuffix); err != nil {
		return fmt.Errorf("cleaner: %w", err)
	}
	out.committed = true
	if err := syncDir(l.dir); err != nil {
		// Whether the commit is durable is unknown: go on as if it were,
		// Open finishes the swap if it is.
		l.logger.Warn("cleaner: directory fsync after the swap rename failed", "err", err)
	}
	if err := c.hook(stepSwapCommitted); err != nil {
		return err
	}

	// Committed: from here on the swap is completed whatever happens.
	l.mu.Lock()
	installed := false
	if i, ok := l.sourcesInPlace(g); ok && !l.closed {
		segs := make([]*segment, 0, len(l.segs)-len(g)+1)
		segs = append(segs, l.segs[:i]...)
		segs = append(segs, s)
		segs = append(segs, l.segs[i+len(g):]...)
		l.segs = segs
		l.dirDirty = true
		installed = true
	}
	l.mu.Unlock()
	out.installed = true // in the log, or closed here
	if !installed {
		s.decRef() // closed meanwhile (only tests get here: Close waits for Clean)
	} else {
		for _, src := range g {
			src.s.decRef() // the log's reference; readers and this clean hold theirs
		}
		c.stats.SegmentsCleaned += len(g)
	}
	if err := c.hook(stepInstalled); err != nil {
		return err
	}
	var errs []error
	for _, src := range g {
		if err := src.s.removeFiles(); err != nil {
			errs = append(errs, err)
		}
		if err := c.hook(stepOldDeleted); err != nil {
			return err
		}
	}
	for _, p := range []string{s.indexPath, s.timePath} {
		if err := os.Rename(p+swapSuffix, p); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.hook(stepIndexesRenamed); err != nil {
		return err
	}
	if err := os.Rename(s.logPath+swapSuffix, s.logPath); err != nil {
		errs = append(errs, err)
	}
	if err := c.hook(stepRenamed); err != nil {
		return err
	}
	if err := os.Remove(s.logPath + endSuffix + swapSuffix); err != nil {
		errs = append(errs, err)
	}
	if err := syncDir(l.dir); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		// The log in memory is right; the files are fixed by the next Open.
		return fmt.Errorf("cleaner: finishing the swap of segment %d: %w", s.base, errors.Join(errs...))
	}
	if !installed {
		return ErrClosed
	}
	return nil
}

// completeInterruptedClean finishes or rolls back a clean interrupted by a
// crash (see the top of this file). Open calls it before listing segments.
func (l *Log) completeInterruptedClean() error {
	ents, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", l.dir, err)
	}
	changed := false
	remove := func(name, why string) error {
		l.logger.Warn("cleaner recovery: deleting file", "file", name, "reason", why)
		changed = true
		if err := os.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cleaner recovery: %w", err)
		}
		return nil
	}
	var swaps []int64
	var strayIndexSwaps []string
	for _, e := range ents {
		name := e.Name()
		for _, suffix := range []string{cleanedSuffix, swapSuffix} {
			stem, ok := strings.CutSuffix(name, suffix)
			if !ok {
				continue
			}
			stem, isEnd := strings.CutSuffix(stem, endSuffix)
			base, kind, ok := parseSegmentFile(stem)
			if isEnd && kind != logSuffix {
				ok = false
			}
			switch {
			case !ok:
			case suffix == cleanedSuffix:
				if err := remove(name, "clean interrupted before its swap"); err != nil {
					return err
				}
			case kind == logSuffix && !isEnd:
				swaps = append(swaps, base)
			default: // an index's or the end's .swap: finishSwap renames or deletes it
				strayIndexSwaps = append(strayIndexSwaps, name)
			}
		}
	}
	slices.Sort(swaps)
	for _, base := range swaps {
		if err := l.finishSwap(base); err != nil {
			return err
		}
		changed = true
	}
	for _, name := range strayIndexSwaps {
		if _, err := os.Stat(filepath.Join(l.dir, name)); err == nil {
			// Its .log.swap was renamed already (or never made it): the
			// segment's index is rebuilt when missing.
			if err := remove(name, "index or end of a swap whose log is gone"); err != nil {
				return err
			}
		}
	}
	if changed {
		return syncDir(l.dir)
	}
	return nil
}

// finishSwap rolls the swap of <base>.log.swap forward.
func (l *Log) finishSwap(base int64) error {
	tmp := newSegmentStruct(l.dir, base)
	swapPath := tmp.logPath + swapSuffix
	f, err := os.Open(swapPath)
	if err != nil {
		return fmt.Errorf("cleaner recovery: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("cleaner recovery: %w", err)
	}
	tmp.log, tmp.logPath, tmp.size = f, swapPath, st.Size()
	last := int64(-1)
	_, reason, err := scanValid(tmp, 0, base, func(h *BatchHeader, _ int64) { last = h.LastOffset() })
	f.Close()
	if err != nil {
		return fmt.Errorf("cleaner recovery: %w", err)
	}
	if reason != "" {
		l.logger.Error("cleaner recovery: swap file damaged; its valid prefix is used", "file", swapPath, "reason", reason)
	}
	final := newSegmentStruct(l.dir, base)
	endPath := final.logPath + endSuffix + swapSuffix
	end, ok := l.readOffsetFile(filepath.Base(endPath)) // logs an unreadable one
	switch {
	case ok && end <= base:
		l.logger.Error("cleaner recovery: end of swap before its base; using the swap's last offset", "file", endPath, "end", end)
		ok = false
	}
	if !ok {
		end = last + 1 // a swap of a version that kept the last batch for this
	}
	if !ok && last < 0 {
		// Cannot happen for a file fsynced before its commit rename:
		// keeping the old segments is all that can be done.
		l.logger.Error("cleaner recovery: swap file holds no batch; dropping it", "file", swapPath)
		for _, p := range []string{final.logPath, final.indexPath, final.timePath, final.logPath + endSuffix} {
			if err := os.Remove(p + swapSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("cleaner recovery: %w", err)
			}
		}
		return nil
	}
	ents, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", l.dir, err)
	}
	for _, e := range ents {
		b, _, ok := parseSegmentFile(e.Name())
		if !ok || b < base || b >= end {
			continue
		}
		l.logger.Warn("cleaner recovery: deleting a segment file replaced by a cleaned one", "file", e.Name(), "cleaned", filepath.Base(swapPath))
		if err := os.Remove(filepath.Join(l.dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cleaner recovery: %w", err)
		}
	}
	for _, p := range []string{final.indexPath, final.timePath, final.logPath} {
		err := os.Rename(p+swapSuffix, p)
		if err != nil && !(errors.Is(err, os.ErrNotExist) && p != final.logPath) {
			return fmt.Errorf("cleaner recovery: %w", err)
		}
	}
	if err := os.Remove(endPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cleaner recovery: %w", err)
	}
	l.logger.Warn("cleaner recovery: completed an interrupted segment swap", "file", final.logPath, "last_offset", last, "replaced_below", end)
	return nil
}
