package log

import (
	"container/list"
	"log/slog"
	"sync"
)

// Index entries of rolled segments are not kept with the segment. Held for
// every segment, they cost 24 bytes per indexed batch (one per
// index.interval.bytes of log or per batch, whichever is larger): about 0.6%
// of the data with small batches, so a broker's memory would grow with what
// its disks retain. Kafka memory-maps its index files and opens them lazily
// (KIP-263). Here a rolled segment is "cold": readers that need its entries
// take them from a cache that every log in the process shares, bounded by
// coldIndexBudget, which loads them from the segment's index files on a miss.
// The active segment keeps its entries, as appends extend them.
//
// The entries only tell a reader where to start walking batch headers, so a
// cold segment whose index files cannot be read is still read correctly,
// from its first batch: slower, not wrong (and logged once).

// coldIndexBudget bounds the bytes of cached cold entries, process-wide;
// read under coldCache.mu.
var coldIndexBudget int64 = 32 << 20

// Decoded entry sizes in memory (timeEntry is padded to 16 bytes).
const (
	offsetEntryMem = 8
	timeEntryMem   = 16
)

type coldIndex struct {
	s     *segment
	offs  []offsetEntry
	times []timeEntry
	bytes int64
}

type coldIndexCache struct {
	mu    sync.Mutex
	lru   list.List // of *coldIndex, most recently used at the front
	m     map[*segment]*list.Element
	bytes int64
}

var coldCache = coldIndexCache{m: map[*segment]*list.Element{}}

// makeCold drops the segment's in-memory entries once it has rolled. The
// caller holds the Log's mu for writing, or is the only user of s. Every
// entry must be in the index files.
func (s *segment) makeCold() {
	s.offIdx.entries, s.timeIdx.entries = nil, nil
	s.cold.Store(true)
}

// indexOf returns the entries a reader took from s under mu, or, when they
// had been dropped (s was cold), its entries from the cache or its files.
// Call it after releasing mu, holding a reference to s; limit is the size
// of s the reader saw.
func (l *Log) indexOf(s *segment, offs []offsetEntry, times []timeEntry, limit int64) ([]offsetEntry, []timeEntry) {
	if offs != nil || times != nil || !s.cold.Load() {
		return offs, times
	}
	return s.coldEntries(limit, l.logger)
}

// coldEntries returns the index entries of a cold segment, from the cache
// or its files. Index files that cannot be read or fail their checks are
// reported once and cached as empty: reads then walk the segment from its
// first batch.
func (s *segment) coldEntries(limit int64, logger *slog.Logger) ([]offsetEntry, []timeEntry) {
	coldCache.mu.Lock()
	if e := coldCache.m[s]; e != nil {
		coldCache.lru.MoveToFront(e)
		ci := e.Value.(*coldIndex)
		coldCache.mu.Unlock()
		return ci.offs, ci.times
	}
	coldCache.mu.Unlock()

	offs, times, err := s.readIndexFiles(limit)
	if err != nil {
		logger.Warn("cannot read a rolled segment's index; reads of it scan from its start",
			"file", s.indexPath, "err", err)
		offs, times = nil, nil
	}
	ci := &coldIndex{s: s, offs: offs, times: times,
		bytes: int64(len(offs))*offsetEntryMem + int64(len(times))*timeEntryMem}
	coldCache.mu.Lock()
	defer coldCache.mu.Unlock()
	if e := coldCache.m[s]; e != nil { // loaded by another reader meanwhile
		coldCache.lru.MoveToFront(e)
		return offs, times
	}
	if ci.bytes > coldIndexBudget {
		return offs, times // larger than the whole cache: used once
	}
	coldCache.m[s] = coldCache.lru.PushFront(ci)
	coldCache.bytes += ci.bytes
	for coldCache.bytes > coldIndexBudget {
		coldCache.evict(coldCache.lru.Back())
	}
	return offs, times
}

// readIndexFiles reads and checks the segment's .index and .timeindex.
func (s *segment) readIndexFiles(limit int64) ([]offsetEntry, []timeEntry, error) {
	buf, err := readIndexFile(s.offIdx.file, offsetEntrySize, maxIndexFileBytes)
	if err != nil {
		return nil, nil, err
	}
	offs, err := decodeOffsetIndex(buf, limit, -1)
	if err != nil {
		return nil, nil, err
	}
	if buf, err = readIndexFile(s.timeIdx.file, timeEntrySize, maxIndexFileBytes); err != nil {
		return nil, nil, err
	}
	times, err := decodeTimeIndex(buf, -1)
	if err != nil {
		return nil, nil, err
	}
	return offs, times, nil
}

// evict removes e from the cache; the caller holds coldCache.mu.
func (c *coldIndexCache) evict(e *list.Element) {
	ci := c.lru.Remove(e).(*coldIndex)
	delete(c.m, ci.s)
	c.bytes -= ci.bytes
}

// dropColdEntries forgets the segment's cached entries (its files are being
// closed).
func (s *segment) dropColdEntries() {
	coldCache.mu.Lock()
	if e := coldCache.m[s]; e != nil {
		coldCache.evict(e)
	}
	coldCache.mu.Unlock()
}

// coldCacheBytes reports the bytes of cached cold entries (for tests).
func coldCacheBytes() int64 {
	coldCache.mu.Lock()
	defer coldCache.mu.Unlock()
	return coldCache.bytes
}
