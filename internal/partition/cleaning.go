package partition

import (
	"context"
	"math"

	"github.com/samsa-kafka/samsa/internal/log"
)

// CleanerSettings are the broker-wide log cleaner settings.
type CleanerSettings struct {
	DedupeBufferBytes   int64   // log.cleaner.dedupe.buffer.size
	IOMaxBytesPerSecond float64 // log.cleaner.io.max.bytes.per.second
}

// MaybeClean compacts the log when cleanup.policy includes compact and it
// is due: the dirty share of the cleanable part reached
// min.cleanable.dirty.ratio, or dirty records are older than
// max.compaction.lag.ms. The cleanable part ends at the last stable offset,
// so records of open transactions are never compacted; batches of aborted
// transactions are removed and committed transactional records compacted.
// It reports whether it cleaned.
func (p *Partition) MaybeClean(ctx context.Context, s CleanerSettings) (log.CleanStats, bool, error) {
	cfg := p.Config()
	if !cfg.Compact {
		return log.CleanStats{}, false, nil
	}
	lso := p.LastStableOffset()
	if lso <= p.LogStartOffset() {
		return log.CleanStats{}, false, nil
	}
	p.mu.Lock()
	aborted := make([]log.AbortedSpan, len(p.txns.Aborted))
	for i, a := range p.txns.Aborted {
		aborted[i] = log.AbortedSpan{ProducerID: a.ProducerID, FirstOffset: a.FirstOffset, LastOffset: a.LastOffset}
	}
	p.mu.Unlock()
	cc := log.CleanerConfig{
		HandleTransactions:     true,
		AbortedTxns:            aborted,
		DedupeBufferBytes:      s.DedupeBufferBytes,
		IOMaxBytesPerSecond:    s.IOMaxBytesPerSecond,
		DeleteRetentionMs:      cfg.DeleteRetentionMs,
		MinCompactionLagMs:     cfg.MinCompactionLagMs,
		FirstUncleanableOffset: lso,
		Now:                    p.now,
	}
	ratio, cleanable := p.log.DirtyRatio(cc)
	due := cleanable > 0 && ratio >= cfg.MinCleanableRatio
	if !due && cfg.MaxCompactionLagMs > 0 && cfg.MaxCompactionLagMs < math.MaxInt64 {
		ts, ok, err := p.log.FirstDirtyTimestamp()
		if err != nil {
			return log.CleanStats{}, false, err
		}
		due = ok && p.now().UnixMilli()-ts > cfg.MaxCompactionLagMs
	}
	if !due {
		return log.CleanStats{}, false, nil
	}
	stats, err := p.log.Clean(ctx, cc)
	return stats, err == nil, err
}
