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

	Compact, Delete      bool  // cleanup.policy
	RetentionMs          int64 // retention.ms; -1: forever
	RetentionBytes       int64 // retention.bytes; -1: no limit
	TimestampBeforeMaxMs int64 // message.timestamp.before.max.ms
	TimestampAfterMaxMs  int64 // message.timestamp.after.max.ms
	MinInsyncReplicas    int   // min.insync.replicas
	DeleteRetentionMs    int64 // delete.retention.ms
	MinCompactionLagMs   int64 // min.compaction.lag.ms
	MaxCompactionLagMs   int64 // max.compaction.lag.ms
	MinCleanableRatio    float64
	// Recompress makes every batch be rewritten with RecompressCodec
	// (compression.type other than producer); otherwise batches are
	// stored as sent.
	Recompress      bool
	RecompressCodec int8
}

// Partition is one partition replica, always the leader on a single node.
type Partition struct {
	Topic string
	Index int32
	dir   string
	cfg   Config
	log   *log.Log
	lg    *slog.Logger

	// snapMu serialises writes of the producer-state snapshot; snapAt is
	// the offset of the last one written (guarded by snapMu).
	snapMu sync.Mutex
	snapAt int64

	mu          sync.Mutex // serialises appends and guards producer state
	producers   producers
	txns        txnState
	verifyTxn   func(producerID int64, epoch int16) error
	unflushed   int64     // messages appended since the last requested flush
	oldestDirty time.Time // when the oldest unflushed append happened
	closed      bool
	// txnOpen is false only while no transaction is ongoing here. It is
	// set before a transactional batch is appended and cleared under mu
	// once the last ongoing transaction ends, so that LastStableOffset
	// can answer without mu, which appends hold across their write.
	txnOpen atomic.Bool
	// aborted is txns.Aborted as of the last marker, for read_committed
	// fetches without mu (publishTxnState).
	aborted atomic.Pointer[[]AbortedTxn]

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
	ps, txns, err := loadProducers(dir, l)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("rebuild producer state of %s-%d: %w", topic, index, err)
	}
	now := cfg.Log.Now
	if now == nil {
		now = time.Now
	}
	p := &Partition{Topic: topic, Index: index, dir: dir, cfg: cfg, log: l, lg: lg,
		producers: ps, txns: txns, waiters: make(map[*Waiter]struct{}), now: now}
	p.publishTxnState()
	return p, nil
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

// ErrTransactionalBatch refuses control batches from producers: only the
// transaction coordinator writes markers.
var ErrTransactionalBatch = errors.New("producers may not write control batches")

// SetTxnVerifier installs the check that a transactional batch belongs to
// an ongoing transaction of its producer (KIP-890); nil refuses them all.
func (p *Partition) SetTxnVerifier(f func(producerID int64, epoch int16) error) {
	p.mu.Lock()
	p.verifyTxn = f
	p.mu.Unlock()
}

// Append validates a produce request's record set and appends it. The
// batches are modified in place (base offset, leader epoch, LogAppendTime).
// Fetches waiting for the partition are woken.
func (p *Partition) Append(records []byte) (AppendResult, error) {
	res, err := p.AppendQuiet(records)
	if err == nil && !res.Duplicate {
		p.Wake()
	}
	return res, err
}

// AppendQuiet is Append without waking the fetches waiting for the
// partition: a request appending to several partitions wakes them once all
// are appended (Wake), so that a fetch woken by the first one finds the
// others' records too instead of coming back for them.
func (p *Partition) AppendQuiet(records []byte) (AppendResult, error) {
	// One copy of the config for the checks before mu is taken: SetConfig
	// replaces p.cfg under mu.
	cfg := p.Config()
	hs, err := log.ValidateBatches(records, cfg.MaxMessageBytes)
	if err != nil {
		return AppendResult{}, err
	}
	if cfg.Recompress {
		// compression.type: the one case where batches are not stored as
		// sent (Kafka's exception too).
		if records, hs, err = recompressAll(records, hs, cfg.RecompressCodec, cfg.MaxMessageBytes); err != nil {
			return AppendResult{}, err
		}
	}
	for _, h := range hs {
		if h.IsControl() {
			return AppendResult{}, ErrTransactionalBatch
		}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return AppendResult{}, ErrClosed
	}
	for _, h := range hs {
		if !h.IsTransactional() {
			continue
		}
		// Before the batch is visible: a reader that sees it in the log
		// end offset then sees this too (LastStableOffset).
		p.txnOpen.Store(true)
		if _, open := p.txns.Ongoing[h.ProducerID]; open {
			continue
		}
		if p.verifyTxn == nil {
			p.mu.Unlock()
			return AppendResult{}, ErrTxnNotStarted
		}
		if err := p.verifyTxn(h.ProducerID, h.ProducerEpoch); err != nil {
			p.mu.Unlock()
			return AppendResult{}, err
		}
	}
	if err := p.checkContent(records, hs); err != nil {
		p.mu.Unlock()
		return AppendResult{}, err
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
			if cfg.FlushMessages == 1 {
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
		p.txns.observe(h, false)
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
	res := AppendResult{BaseOffset: base, LogAppendTime: appendTime, LogStartOffset: p.log.LogStartOffset()}
	if flush {
		res.Durable = p.log.Sync // group commit: concurrent callers share fsyncs
	}
	return res, nil
}

func recompressAll(records []byte, hs []log.BatchHeader, codec int8, maxBytes int) ([]byte, []log.BatchHeader, error) {
	var out []byte
	pos := 0
	for _, h := range hs {
		b, err := log.Recompress(records[pos:pos+h.Size()], codec)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", log.ErrCorruptMessage, err)
		}
		out = append(out, b...)
		pos += h.Size()
	}
	nhs, err := log.ValidateBatches(out, maxBytes)
	return out, nhs, err
}

// Config returns the partition's current configuration.
func (p *Partition) Config() Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg
}

// SetConfig applies changed topic configs to the open partition.
func (p *Partition) SetConfig(cfg Config) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cfg.Log.Now = p.cfg.Log.Now
	if err := p.log.SetConfig(cfg.Log); err != nil {
		return err
	}
	p.cfg = cfg
	return nil
}

// ApplyRetention deletes whole segments beyond retention.ms or
// retention.bytes (cleanup.policy=delete) and segments below the log start
// offset (DeleteRecords). It returns how many segments went.
func (p *Partition) ApplyRetention() (int, error) {
	cfg := p.Config()
	ms, bytes := cfg.RetentionMs, cfg.RetentionBytes
	if !cfg.Delete {
		ms, bytes = -1, -1
	}
	return p.log.DeleteOldSegments(ms, bytes)
}

// DeleteRecordsBefore advances the log start offset (DeleteRecords);
// offset -1 means the high watermark. It returns the new log start offset.
func (p *Partition) DeleteRecordsBefore(offset int64) (int64, error) {
	hw := p.HighWatermark()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return 0, log.ErrOffsetOutOfRange
	}
	if err := p.log.SetLogStartOffset(offset); err != nil {
		return 0, err
	}
	if _, err := p.log.DeleteOldSegments(-1, -1); err != nil {
		return 0, err
	}
	p.Wake()
	return p.log.LogStartOffset(), nil
}

// FlushIfDue fsyncs when flush.ms has passed since the oldest unflushed
// append; the broker calls it periodically.
func (p *Partition) FlushIfDue() error {
	p.mu.Lock()
	due := p.cfg.FlushMs > 0 && p.unflushed > 0 && p.now().Sub(p.oldestDirty) >= time.Duration(p.cfg.FlushMs)*time.Millisecond
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
	p.Wake()
	if err := p.log.Sync(); err != nil {
		p.log.Close()
		return err
	}
	p.snapMu.Lock()
	if err := p.producers.save(p.dir, p.log.LogEndOffset(), p.txns); err != nil {
		p.lg.Warn("could not save producer state snapshot", "err", err)
	}
	p.snapAt = p.log.LogEndOffset()
	p.snapMu.Unlock()
	return p.log.Close()
}

// Checkpoint makes the log durable to its end and records its recovery
// point (log.Checkpoint), then saves the producer state as of that point,
// so that after a crash both the log and the producer state are rebuilt
// from what was appended since, not from the start of the log. It does
// nothing when nothing was appended since the last one.
func (p *Partition) Checkpoint() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	// Appends hold mu, so the state captured here is that of exactly the
	// records below leo.
	leo := p.log.LogEndOffset()
	var data []byte
	var err error
	p.snapMu.Lock()
	stale := leo <= p.snapAt
	p.snapMu.Unlock()
	if !stale {
		data, err = p.producers.encode(leo, p.txns)
	}
	p.mu.Unlock()
	if err != nil {
		return err
	}
	if err := p.log.Checkpoint(); err != nil { // durable to at least leo
		return err
	}
	if stale {
		return nil
	}
	p.snapMu.Lock()
	defer p.snapMu.Unlock()
	if leo <= p.snapAt {
		return nil // Close (or another checkpoint) saved a newer state meanwhile
	}
	if err := writeSnapshot(p.dir, data); err != nil {
		return fmt.Errorf("producer state snapshot of %s-%d: %w", p.Topic, p.Index, err)
	}
	p.snapAt = leo
	return nil
}

// Delete closes the partition and removes its data.
func (p *Partition) Delete() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Wake()
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

// Waiters is how many fetches wait for the partition.
func (p *Partition) Waiters() int {
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	return len(p.waiters)
}

// RemoveWaiter unregisters w.
func (p *Partition) RemoveWaiter(w *Waiter) {
	p.waitMu.Lock()
	delete(p.waiters, w)
	p.waitMu.Unlock()
}

// Wake wakes the fetches waiting for the partition.
func (p *Partition) Wake() {
	p.waitMu.Lock()
	for w := range p.waiters {
		select {
		case w.C <- struct{}{}:
		default:
		}
	}
	p.waitMu.Unlock()
}
