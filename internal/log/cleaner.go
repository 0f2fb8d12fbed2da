package log

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"
)

// Log compaction, as Kafka's log cleaner does it (KIP-58 for the lag,
// KIP-354 for the schedule is the broker's business):
//
//  1. The cleanable range is [first segment, first uncleanable offset): it
//     ends before the active segment, before the first segment not yet
//     fsynced, and before the first dirty segment holding a record newer
//     than min.compaction.lag.ms. The cleaner checkpoint
//     (cleanerCheckpointFile) says up to where the log was cleaned before;
//     the part after it is the dirty section.
//  2. The offset map (offset_map.go) is built from the dirty section: key
//     hash -> latest offset. When it fills up, the map ends at the record
//     that did not fit and only that prefix counts as cleaned.
//  3. The whole range up to the map's end is rewritten, in groups of
//     segments that fit in segment.bytes, each into one new segment named
//     by the group's first base offset: a record goes when the map holds a
//     later offset for its key, or when it is a tombstone (null value) whose
//     segment is past delete.retention.ms. Batches keep their offsets,
//     attributes, producer fields and timestamps; a batch that loses some
//     records is re-encoded with its codec; one that loses all disappears,
//     unless it must stay as an empty batch (see keepEmptyBatch).
//  4. Each group is swapped in crash-safely (cleaner_swap.go) while appends
//     and reads go on; readers of replaced segments keep their files.

// cleanerCheckpointFile holds the offset up to which the log has been
// cleaned (Kafka keeps one cleaner-offset-checkpoint per log directory; we
// keep one per partition directory).
const cleanerCheckpointFile = "cleaner-offset-checkpoint"

// DefaultDedupeBufferBytes is Kafka's log.cleaner.dedupe.buffer.size.
const DefaultDedupeBufferBytes = 128 << 20

// CleanerConfig holds one Clean's settings, named after Kafka's.
type CleanerConfig struct {
	// DedupeBufferBytes (log.cleaner.dedupe.buffer.size) bounds the
	// offset map: 24 bytes per key, 90% of slots usable. 0 means
	// DefaultDedupeBufferBytes. The map is only as large as the dirty
	// section needs.
	DedupeBufferBytes int64
	// IOMaxBytesPerSecond (log.cleaner.io.max.bytes.per.second) throttles
	// the bytes read and written by the cleaner; 0 or +Inf is unlimited.
	IOMaxBytesPerSecond float64
	// DeleteRetentionMs (delete.retention.ms): a tombstone is removed
	// when it is cleaned while in a segment whose largest record timestamp
	// (its file's modification time if no record has one) is older than
	// now - DeleteRetentionMs. Negative keeps tombstones forever.
	DeleteRetentionMs int64
	// MinCompactionLagMs (min.compaction.lag.ms): the cleanable range ends
	// at the first dirty segment holding a record newer than this.
	MinCompactionLagMs int64
	// ProducerIDExpirationMs (producer.id.expiration.ms): the last batch of
	// a producer ID is kept, emptied if need be, so that the producer's
	// sequence and epoch survive a rebuild of the producer state from the
	// log; when this is > 0 that stops once the batch is older than this.
	// 0 keeps them forever.
	ProducerIDExpirationMs int64
	// FirstUncleanableOffset, when > 0, ends the cleanable range at or
	// before it: the partition passes its last stable offset and, once
	// there is replication, its high watermark (Kafka's cleaner stops at
	// both: a record that may still be truncated or aborted must not make
	// another one go). 0 means no limit; a partition whose limit would be
	// 0 has nothing to clean.
	FirstUncleanableOffset int64
	// HandleTransactions applies Kafka's transactional rules (see
	// batchAction): batches of the AbortedTxns go, committed transactional
	// records are compacted. Without it transactional batches are kept
	// untouched. The cleanable range must end at the last stable offset.
	HandleTransactions bool
	AbortedTxns        []AbortedSpan
	// Now is the clock; nil means the log's clock.
	Now func() time.Time

	// Tests: sleep replaces the throttle's sleep; hook is called at each
	// step of a clean and a non-nil error stops the clean on the spot, as
	// a crash would (nothing is cleaned up).
	sleep func(ctx context.Context, d time.Duration) error
	hook  func(step cleanStep) error
}

// CleanStats describes one Clean.
type CleanStats struct {
	BytesRead, BytesWritten     int64
	RecordsRead, RecordsRemoved int64
	// SegmentsCleaned counts the segments replaced by cleaned ones.
	SegmentsCleaned int
	// FirstDirtyOffset is where the dirty section began; CleanedUpTo is
	// the new cleaner checkpoint. CleanedUpTo below the first uncleanable
	// offset means the offset map was full: call Clean again.
	FirstDirtyOffset, CleanedUpTo int64
}

// cleanStep names the points where a test may interrupt a clean.
type cleanStep int

const (
	stepMapBuilt       cleanStep = iota // offset map complete
	stepWriting                         // one old segment copied into the .cleaned files
	stepCleanedWritten                  // a group's .cleaned files written and synced
	stepSwapIndexes                     // its index files renamed to .swap, the .log not yet
	stepSwapCommitted                   // its .log renamed to .swap and the directory synced
	stepInstalled                       // the new segment replaced the old ones in memory
	stepOldDeleted                      // one old segment's files deleted (once per segment)
	stepIndexesRenamed                  // the index files have their final names
	stepRenamed                         // the .log has its final name
	stepCheckpointed                    // the cleaner checkpoint written
)

// cleanerState is the Log's part of the cleaner.
type cleanerState struct {
	runMu   sync.Mutex // held by a running Clean; Close waits for it
	swapMu  sync.Mutex // held while a clean swaps segments; retention takes it too
	mu      sync.Mutex
	cancel  context.CancelFunc // mu: stops the running Clean
	stopped bool               // mu: the log is closing
}

// stopCleaner cancels a running Clean and waits for it to return. Close
// calls it first, before taking any other lock.
func (l *Log) stopCleaner() {
	l.cleaner.mu.Lock()
	l.cleaner.stopped = true
	if l.cleaner.cancel != nil {
		l.cleaner.cancel()
	}
	l.cleaner.mu.Unlock()
	l.cleaner.runMu.Lock() // wait for a running Clean to return
	l.cleaner.runMu.Unlock()
}

// errSourcesGone: retention deleted segments of a group while it was being
// cleaned; the group is dropped and the clean goes on.
var errSourcesGone = errors.New("segments deleted while being cleaned")

// cleanSource is a segment as the cleaner saw it when it started, with a
// reference held.
type cleanSource struct {
	s       *segment
	size    int64
	entries []offsetEntry
	next    int64 // base offset of the following segment (log end offset for the last)
	maxTs   int64
	synced  bool
}

// producerLast is the last batch of a producer ID in the log.
type producerLast struct {
	lastOffset int64
	maxTs      int64
}

// cleanerSnapshot references every segment of the log.
func (l *Log) cleanerSnapshot() (segs []cleanSource, lso, leo int64, err error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, 0, 0, ErrClosed
	}
	for i, s := range l.segs {
		next := l.leo
		if i+1 < len(l.segs) {
			next = l.segs[i+1].base
		}
		s.incRef()
		segs = append(segs, cleanSource{s: s, size: s.size, entries: s.offIdx.entries, next: next, maxTs: s.maxTs, synced: s.synced.Load()})
	}
	lso, leo = l.lso, l.leo
	l.mu.RUnlock()
	for i := range segs {
		src := &segs[i]
		src.entries, _ = l.indexOf(src.s, src.entries, nil, src.size)
	}
	return segs, lso, leo, nil
}

func releaseSources(segs []cleanSource) {
	for _, src := range segs {
		src.s.decRef()
	}
}

// firstDirtyOffset reads the cleaner checkpoint: the dirty section starts
// there, or at the log start offset when the checkpoint is missing, behind
// it, or beyond the log end (the log was truncated or replaced).
func (l *Log) firstDirtyOffset(lso, leo int64) int64 {
	cp, ok := l.readOffsetFile(cleanerCheckpointFile)
	if !ok || cp > leo {
		return lso
	}
	return max(cp, lso)
}

// firstUncleanableOffset is where the cleanable range ends: the active
// segment's base offset, or earlier at the first segment not yet fsynced
// (when onlySynced: a clean must never make durable a removal whose reason
// could be lost in a crash) or the first dirty segment with a record newer
// than lagMs.
func firstUncleanableOffset(segs []cleanSource, firstDirty, nowMs, lagMs int64, onlySynced bool) int64 {
	last := len(segs) - 1
	end := segs[last].s.base
	for _, src := range segs[:last] {
		if src.s.base >= end {
			break
		}
		if onlySynced && !src.synced {
			end = src.s.base
			break
		}
		if lagMs > 0 && src.next > firstDirty && src.size > 0 && largestTimestamp(src.s, src.maxTs, nowMs) > nowMs-lagMs {
			end = src.s.base
			break
		}
	}
	return end
}

func (c CleanerConfig) nowMs(l *Log) int64 {
	if c.Now != nil {
		return c.Now().UnixMilli()
	}
	return l.config().Now().UnixMilli()
}

// cleanableEnd is firstUncleanableOffset capped by FirstUncleanableOffset.
func (c CleanerConfig) cleanableEnd(segs []cleanSource, firstDirty, nowMs int64, onlySynced bool) int64 {
	end := firstUncleanableOffset(segs, firstDirty, nowMs, c.MinCompactionLagMs, onlySynced)
	if c.FirstUncleanableOffset > 0 {
		end = min(end, c.FirstUncleanableOffset)
	}
	return end
}

// config returns a copy of the log's configuration (SetConfig replaces it
// under appendMu).
func (l *Log) config() Config {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	return l.cfg
}

// DirtyRatio returns the share of the cleanable part of the log that is
// dirty (written since the cleaner checkpoint), for
// min.cleanable.dirty.ratio, and the dirty bytes. Segments are counted
// whole: the one holding the checkpoint counts as dirty. A closed log, or
// one with nothing cleanable, gives 0, 0.
func (l *Log) DirtyRatio(cfg CleanerConfig) (ratio float64, cleanableBytes int64) {
	segs, lso, leo, err := l.cleanerSnapshot()
	if err != nil {
		return 0, 0
	}
	defer releaseSources(segs)
	nowMs := cfg.nowMs(l)
	firstDirty := l.firstDirtyOffset(lso, leo)
	end := cfg.cleanableEnd(segs, firstDirty, nowMs, false)
	if end <= firstDirty {
		return 0, 0
	}
	var clean, dirty int64
	for _, src := range segs[:len(segs)-1] {
		switch {
		case src.next <= firstDirty:
			clean += src.size
		case src.s.base < end:
			dirty += src.size
		}
	}
	if dirty == 0 {
		return 0, 0
	}
	return float64(dirty) / float64(clean+dirty), dirty
}

// FirstDirtyTimestamp returns the largest timestamp of the first dirty
// batch in each rolled segment, the smallest of them, for
// max.compaction.lag.ms: Kafka cleans a log whose dirty records are older
// than that whatever its dirty ratio. ok is false when no rolled segment
// holds dirty batches.
func (l *Log) FirstDirtyTimestamp() (ts int64, ok bool, err error) {
	segs, lso, leo, err := l.cleanerSnapshot()
	if err != nil {
		return 0, false, err
	}
	defer releaseSources(segs)
	firstDirty := l.firstDirtyOffset(lso, leo)
	for _, src := range segs[:len(segs)-1] {
		if src.next <= firstDirty {
			continue
		}
		err := scanView(segmentView{s: src.s, limit: src.size, entries: src.entries}, firstDirty, func(h *BatchHeader, _ int64) error {
			if !ok || h.MaxTimestamp < ts {
				ts, ok = h.MaxTimestamp, true
			}
			return errStopScan
		})
		if err != nil && !errors.Is(err, errStopScan) {
			return 0, false, err
		}
	}
	return ts, ok, nil
}

// Clean compacts the log once (see the top of this file). It returns what
// it did; on an error the log is still correct, with the groups swapped in
// before the error cleaned and the rest as they were. Only one Clean runs
// at a time per log; Close cancels a running one and waits for it.
func (l *Log) Clean(ctx context.Context, cfg CleanerConfig) (CleanStats, error) {
	l.cleaner.runMu.Lock()
	defer l.cleaner.runMu.Unlock()
	l.cleaner.mu.Lock()
	if l.cleaner.stopped {
		l.cleaner.mu.Unlock()
		return CleanStats{}, ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	l.cleaner.cancel = cancel
	l.cleaner.mu.Unlock()
	defer func() {
		l.cleaner.mu.Lock()
		l.cleaner.cancel = nil
		l.cleaner.mu.Unlock()
		cancel()
	}()

	// Make rolled segments durable first: only they are cleaned. Not Sync,
	// which returns early when the log end offset is durable: a segment
	// whose indexes Open rebuilt is not marked synced until flushed.
	l.syncMu.Lock()
	err := l.flushLocked(false)
	l.syncMu.Unlock()
	if err != nil {
		return CleanStats{}, err
	}
	c := &cleaning{l: l, ctx: ctx, cfg: cfg, logCfg: l.config(), aborted: map[int64][]AbortedSpan{}}
	for _, a := range cfg.AbortedTxns {
		c.aborted[a.ProducerID] = append(c.aborted[a.ProducerID], a)
	}
	if c.cfg.DedupeBufferBytes == 0 {
		c.cfg.DedupeBufferBytes = DefaultDedupeBufferBytes
	}
	c.nowMs = cfg.nowMs(l)
	clock := cfg.Now
	if clock == nil {
		clock = c.logCfg.Now
	}
	c.throttle = throttler{rate: cfg.IOMaxBytesPerSecond, now: clock, sleep: cfg.sleep, start: clock()}
	if c.throttle.sleep == nil {
		c.throttle.sleep = sleepCtx
	}
	var lso, leo int64
	if c.segs, lso, leo, err = l.cleanerSnapshot(); err != nil {
		return CleanStats{}, err
	}
	defer releaseSources(c.segs)
	c.firstDirty = l.firstDirtyOffset(lso, leo)
	c.end = cfg.cleanableEnd(c.segs, c.firstDirty, c.nowMs, true)
	stats, err := c.run()
	if err != nil && l.cleanerStopped() && !c.crashed {
		err = fmt.Errorf("%w: clean stopped: %v", ErrClosed, err)
	}
	return stats, err
}

func (l *Log) cleanerStopped() bool {
	l.cleaner.mu.Lock()
	defer l.cleaner.mu.Unlock()
	return l.cleaner.stopped
}

// cleaning is the state of one Clean.
type cleaning struct {
	l      *Log
	ctx    context.Context
	cfg    CleanerConfig
	logCfg Config
	nowMs  int64

	segs       []cleanSource // the whole log when the clean started
	firstDirty int64
	end        int64 // first uncleanable offset
	mapEnd     int64 // the offset map covers [firstDirty, mapEnd)
	om         *offsetMap
	producers  map[int64]producerLast
	aborted    map[int64][]AbortedSpan // by producer ID

	throttle throttler
	stats    CleanStats
	crashed  bool // a test hook stopped the clean: leave everything as it is

	br     *bufio.Reader
	dec    payloadDecoder
	buf    []byte // the batch being read
	rawBuf []byte // retained records of the batch being filtered
	outBuf []byte // the rewritten batch
	idxBuf []byte
}

func (c *cleaning) hook(step cleanStep) error {
	if c.cfg.hook == nil {
		return nil
	}
	if err := c.cfg.hook(step); err != nil {
		c.crashed = true
		return err
	}
	return nil
}

// checkStop reports a cancelled context.
func (c *cleaning) checkStop() error {
	return c.ctx.Err()
}

func (c *cleaning) run() (CleanStats, error) {
	c.stats.FirstDirtyOffset, c.stats.CleanedUpTo = c.firstDirty, c.firstDirty
	if c.end <= c.firstDirty {
		return c.stats, nil
	}
	if err := c.scanProducers(); err != nil {
		return c.stats, err
	}
	if err := c.buildOffsetMap(); err != nil {
		return c.stats, err
	}
	if err := c.hook(stepMapBuilt); err != nil {
		return c.stats, err
	}
	checkpoint := c.mapEnd
	for _, g := range c.groups() {
		err := c.cleanGroup(g)
		if errors.Is(err, errSourcesGone) {
			// Retention took part of the group; what it left was not
			// cleaned, so the checkpoint must not pass it: the next
			// clean treats it as dirty again.
			c.l.logger.Info("cleaner skipped segments deleted by retention meanwhile", "base_offset", g[0].s.base)
			if start := c.l.LogStartOffset(); start < g[len(g)-1].next {
				checkpoint = min(checkpoint, max(g[0].s.base, start))
			}
			continue
		}
		if err != nil {
			return c.stats, err
		}
	}
	if err := writeOffsetFile(c.l.dir, cleanerCheckpointFile, checkpoint); err != nil {
		return c.stats, err
	}
	if err := c.hook(stepCheckpointed); err != nil {
		return c.stats, err
	}
	c.stats.CleanedUpTo = checkpoint
	c.l.logger.Info("log cleaned",
		"first_dirty_offset", c.firstDirty, "cleaned_up_to", checkpoint, "first_uncleanable_offset", c.end,
		"keys", c.om.len(), "segments", c.stats.SegmentsCleaned,
		"records_read", c.stats.RecordsRead, "records_removed", c.stats.RecordsRemoved,
		"bytes_read", c.stats.BytesRead, "bytes_written", c.stats.BytesWritten)
	return c.stats, nil
}

// scanProducers finds the last batch of every producer ID in the log, from
// batch headers (transaction markers excluded, as the partition's producer
// state ignores them).
func (c *cleaning) scanProducers() error {
	c.producers = map[int64]producerLast{}
	for _, src := range c.segs {
		if err := c.checkStop(); err != nil {
			return err
		}
		hr := newHeaderReader(src.s.log, src.s.logPath, src.size)
		for pos := int64(0); ; {
			h, err := hr.header(pos)
			if err == io.EOF {
				break
			}
			if err != nil {
				hr.release()
				return err
			}
			if h.ProducerID >= 0 && !h.IsControl() {
				c.producers[h.ProducerID] = producerLast{lastOffset: h.LastOffset(), maxTs: h.MaxTimestamp}
			}
			pos += int64(h.Size())
		}
		hr.release()
	}
	return nil
}

// buildOffsetMap maps every key of the dirty section to its latest offset,
// stopping at the first record with a new key that does not fit.
func (c *cleaning) buildOffsetMap() error {
	om, err := newOffsetMap(c.cfg.DedupeBufferBytes, c.end-c.firstDirty)
	if err != nil {
		return err
	}
	c.om, c.mapEnd = om, c.end
	full := false
	for _, src := range c.segs {
		if src.next <= c.firstDirty {
			continue
		}
		if src.s.base >= c.end || full {
			break
		}
		pos := int64(0)
		if c.firstDirty > src.s.base {
			pos = lookupOffset(src.entries, c.firstDirty-src.s.base)
		}
		err := c.forEachBatch(src, pos, func(batch []byte, h *BatchHeader) error {
			if h.BaseOffset >= c.end {
				return errStopScan
			}
			if h.LastOffset() < c.firstDirty || c.batchAction(h) != cleanRecords {
				return nil
			}
			payload, err := c.dec.decode(h.Compression(), batch[BatchHeaderSize:])
			if err != nil {
				return err
			}
			return forEachRawRecord(h, payload, func(r *rawRecord) error {
				if r.offset < c.firstDirty || r.offset >= c.end || r.key == nil {
					return nil // (the end may lie inside a batch: FirstUncleanableOffset)
				}
				if !om.put(hashKey(r.key), r.offset) {
					c.mapEnd, full = r.offset, true
					return errStopScan
				}
				return nil
			})
		})
		if err != nil && !errors.Is(err, errStopScan) {
			return fmt.Errorf("clean %s: %w", src.s.logPath, err)
		}
	}
	return nil
}

// groups splits the segments below the map's end into runs that fit in one
// segment: at most segment.bytes (and 2 GiB) of input, offsets within 2^31
// of the first base. Inputs only shrink when cleaned, so the output fits;
// small cleaned segments merge on the next clean.
func (c *cleaning) groups() [][]cleanSource {
	var gs [][]cleanSource
	var cur []cleanSource
	var size int64
	limit := min(c.logCfg.SegmentBytes, math.MaxInt32)
	for _, src := range c.segs[:len(c.segs)-1] {
		if src.s.base >= c.mapEnd {
			break
		}
		if len(cur) > 0 && (size+src.size > limit || src.next-1-cur[0].s.base > math.MaxInt32) {
			gs = append(gs, cur)
			cur, size = nil, 0
		}
		cur = append(cur, src)
		size += src.size
	}
	if len(cur) > 0 {
		gs = append(gs, cur)
	}
	return gs
}

// cleanGroup writes the cleaned copy of a group of segments and swaps it in.
func (c *cleaning) cleanGroup(g []cleanSource) (err error) {
	out, err := c.createCleaned(g)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.abort(!c.crashed)
		}
	}()
	// What survives may end anywhere in the group, or be nothing: the
	// range the new segment replaces goes to disk beside it (.log.end).
	newest := int64(-1)
	for _, src := range g {
		newest = max(newest, largestTimestamp(src.s, src.maxTs, c.nowMs))
		expire := c.tombstonesExpire(src)
		err := c.forEachBatch(src, 0, func(batch []byte, h *BatchHeader) error {
			b, err := c.filterBatch(batch, h, expire)
			if err != nil || b == nil {
				return err
			}
			return out.add(c, b)
		})
		if err != nil {
			return fmt.Errorf("clean %s: %w", src.s.logPath, err)
		}
		if err := c.hook(stepWriting); err != nil {
			return err
		}
	}
	if err := out.finish(c, g[len(g)-1].next, newest); err != nil {
		return err
	}
	return c.commit(g, out)
}
