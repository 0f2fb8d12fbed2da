// Package partition owns one partition replica on this broker: its log, the
// high watermark, producer (idempotence) state, and the fetches waiting for
// new data. It does not know about requests or the network.
package partition

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/samsa-kafka/samsa/internal/log"
)

// Config is the per-partition configuration (topic configs resolved over
// broker defaults).
type Config struct {
	Log             log.Config
	MaxMessageBytes int   // max.message.bytes
	FlushMessages   int64 // flush.messages: 1 = fsync before acknowledging
	FlushMs         int64 // flush.ms: 0 = unset
	LogAppendTime   bool  // message.timestamp.type=LogAppendTime
}

// Partition is one partition replica, always the leader on a single node.
type Partition struct {
	Topic string
	Index int32
	dir   string
	cfg   Config
	log   *log.Log
	lg    *slog.Logger

	mu          sync.Mutex // serialises appends and guards producer state
	producers   producers
	unflushed   int64     // messages appended since the last requested flush
	oldestDirty time.Time // when the oldest unflushed append happened
	closed      bool

	waitMu  sync.Mutex
	waiters map[*Waiter]struct{}
	now     func() time.Time
	epoch   atomic.Int32
}

// Open opens (recovering if clean is false) the partition stored in dir.
func Open(dir, topic string, index int32, cfg Config, clean bool, logger *slog.Logger) (*Partition, error) {
	lg := logger.With("topic", topic, "partition", index)
	l, err := log.Open(dir, cfg.Log, clean, lg)
	if err != nil {
		return nil, fmt.Errorf("open log of %s-%d: %w", topic, index, err)
	}
	ps, err := loadProducers(dir, l)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("rebuild producer state of %s-%d: %w", topic, index, err)
	}
	now := cfg.Log.Now
	if now == nil {
		now = time.Now
	}
	return &Partition{Topic: topic, Index: index, dir: dir, cfg: cfg, log: l, lg: lg,
		producers: ps, waiters: make(map[*Waiter]struct{}), now: now}, nil
}

// LeaderEpoch is the partition's leader epoch (constant on a single node).
func (p *Partition) LeaderEpoch() int32 { return p.epoch.Load() }

// HighWatermark is the offset up to which consumers may read. On one node
// every appended record is committed, so it equals the log end offset.
func (p *Partition) HighWatermark() int64 { return p.log.LogEndOffset() }

// LogStartOffset is the first offset still in the log.
func (p *Partition) LogStartOffset() int64 { return p.log.LogStartOffset() }

// Log exposes the underlying log for reads.
func (p *Partition) Log() *log.Log { return p.log }

// AppendResult describes a successful append.
type AppendResult struct {
	BaseOffset     int64
	LogAppendTime  int64 // -1 unless message.timestamp.type=LogAppendTime
	LogStartOffset int64
	Duplicate      bool // the batch had already been appended (idempotent retry)
	// Durable, when non-nil, blocks until the appended records are as
	// durable as the flush policy promises.
	Durable func() error
}

// ErrClosed is returned for appends to a partition being deleted or closed.
var ErrClosed = errors.New("partition is closed")

// ErrTransactionalBatch refuses transactional and control batches from
// producers until transactions are implemented.
var ErrTransactionalBatch = errors.New("transactional and control batches are not supported yet")

// Append validates a produce request's record set and appends it. The
// batches are modified in place (base offset, leader epoch, LogAppendTime).
func (p *Partition) Append(records []byte) (AppendResult, error) {
	hs, err := log.ValidateBatches(records, p.cfg.MaxMessageBytes)
	if err != nil {
		return AppendResult{}, err
	}
	for _, h := range hs {
		if h.IsTransactional() || h.IsControl() {
			return AppendResult{}, ErrTransactionalBatch
		}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return AppendResult{}, ErrClosed
	}
	// Idempotence: check every batch first, so a rejected request appends nothing.
	{
		dup, isDup, err := p.producers.checkAll(hs)
		if err != nil {
			p.mu.Unlock()
			return AppendResult{}, err
		}
		if isDup {
			p.mu.Unlock()
			res := AppendResult{BaseOffset: dup.FirstOffset, LogAppendTime: dup.Timestamp,
				LogStartOffset: p.log.LogStartOffset(), Duplicate: true}
			if p.cfg.FlushMessages == 1 {
				res.Durable = p.log.Sync // the original may still be in flight to disk
			}
			return res, nil
		}
	}
	appendTime := int64(-1)
	if p.cfg.LogAppendTime {
		appendTime = p.now().UnixMilli()
	}
	base := p.log.LogEndOffset()
	next := base
	pos := 0
	epoch := p.epoch.Load()
	for i := range hs {
		b := records[pos : pos+hs[i].Size()]
		log.SetBaseOffset(b, next)
		log.SetPartitionLeaderEpoch(b, epoch)
		if appendTime >= 0 {
			log.SetLogAppendTime(b, appendTime)
			hs[i].MaxTimestamp = appendTime
		}
		hs[i].BaseOffset = next
		hs[i].PartitionLeaderEpoch = epoch
		next = hs[i].LastOffset() + 1
		pos += hs[i].Size()
	}
	if err := p.log.Append(records, hs); err != nil {
		p.mu.Unlock()
		return AppendResult{}, fmt.Errorf("append to %s-%d: %w", p.Topic, p.Index, err)
	}
	for _, h := range hs {
		p.producers.update(h, appendTime)
	}
	var n int64
	for _, h := range hs {
		n += int64(h.NumRecords)
	}
	if p.unflushed == 0 {
		p.oldestDirty = p.now()
	}
	p.unflushed += n
	flush := p.unflushed >= p.cfg.FlushMessages
	if flush {
		p.unflushed = 0
	}
	p.mu.Unlock()
	p.wake()
	res := AppendResult{BaseOffset: base, LogAppendTime: appendTime, LogStartOffset: p.log.LogStartOffset()}
	if flush {
		res.Durable = p.log.Sync // group commit: concurrent callers share fsyncs
	}
	return res, nil
}

// FlushIfDue fsyncs when flush.ms has passed since the oldest unflushed
// append; the broker calls it periodically.
func (p *Partition) FlushIfDue() error {
	if p.cfg.FlushMs <= 0 {
		return nil
	}
	p.mu.Lock()
	due := p.unflushed > 0 && p.now().Sub(p.oldestDirty) >= time.Duration(p.cfg.FlushMs)*time.Millisecond
	if due {
		p.unflushed = 0
	}
	p.mu.Unlock()
	if !due {
		return nil
	}
	return p.log.Sync()
}

// Read returns whole batches from offset (see log.Log.Read).
func (p *Partition) Read(offset int64, maxBytes int, minOneBatch bool) (log.ReadResult, error) {
	return p.log.Read(offset, maxBytes, minOneBatch)
}

// Close flushes the log and saves the producer state for a fast restart.
func (p *Partition) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.wakeAll()
	if err := p.log.Sync(); err != nil {
		p.log.Close()
		return err
	}
	if err := p.producers.save(p.dir, p.log.LogEndOffset()); err != nil {
		p.lg.Warn("could not save producer state snapshot", "err", err)
	}
	return p.log.Close()
}

// Delete closes the partition and removes its data.
func (p *Partition) Delete() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wakeAll()
	return p.log.Delete()
}

// Waiter is a fetch waiting for data on one or more partitions. Its channel
// receives a value when any of them gets new data.
type Waiter struct{ C chan struct{} }

// NewWaiter returns a waiter to register with partitions.
func NewWaiter() *Waiter { return &Waiter{C: make(chan struct{}, 1)} }

// AddWaiter registers w for a wake-up on the next append.
func (p *Partition) AddWaiter(w *Waiter) {
	p.waitMu.Lock()
	p.waiters[w] = struct{}{}
	p.waitMu.Unlock()
}

// RemoveWaiter unregisters w.
func (p *Partition) RemoveWaiter(w *Waiter) {
	p.waitMu.Lock()
	delete(p.waiters, w)
	p.waitMu.Unlock()
}

func (p *Partition) wake() {
	p.waitMu.Lock()
	for w := range p.waiters {
		select {
		case w.C <- struct{}{}:
		default:
		}
	}
	p.waitMu.Unlock()
}

func (p *Partition) wakeAll() { p.wake() }
