package partition

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/samsa-kafka/samsa/internal/log"
)

// Errors of idempotent produce, mapped to Kafka codes by the handler.
var (
	ErrOutOfOrderSequence   = errors.New("out of order sequence number")
	ErrInvalidProducerEpoch = errors.New("producer epoch is older than the current one (fenced)")
)

// dedupWindow is how many recent batches per producer are remembered for
// duplicate detection; Kafka clients keep at most 5 requests in flight.
const dedupWindow = 5

// batchMeta is what is remembered of one recent batch of a producer.
type batchMeta struct {
	FirstSeq    int32 `json:"first_seq"`
	LastSeq     int32 `json:"last_seq"`
	FirstOffset int64 `json:"first_offset"`
	LastOffset  int64 `json:"last_offset"`
	Timestamp   int64 `json:"timestamp"` // LogAppendTime given to the batch, or -1
}

// producerEntry is the per-partition state of one producer ID.
type producerEntry struct {
	Epoch   int16       `json:"epoch"`
	Batches []batchMeta `json:"batches"` // oldest first, at most dedupWindow
}

func (e *producerEntry) lastSeq() int32 {
	if len(e.Batches) == 0 {
		return -1
	}
	return e.Batches[len(e.Batches)-1].LastSeq
}

func (e *producerEntry) duplicate(first, last int32) (batchMeta, bool) {
	for _, b := range e.Batches {
		if b.FirstSeq == first && b.LastSeq == last {
			return b, true
		}
	}
	return batchMeta{}, false
}

func (e *producerEntry) push(b batchMeta) {
	if len(e.Batches) == dedupWindow {
		copy(e.Batches, e.Batches[1:])
		e.Batches = e.Batches[:dedupWindow-1]
	}
	e.Batches = append(e.Batches, b)
}

func inSequence(last, next int32) bool {
	return next == last+1 || (last == math.MaxInt32 && next == 0)
}

// producers is the idempotence state of one partition: it checks sequences
// and epochs of incoming batches (Kafka's ProducerStateManager).
type producers map[int64]*producerEntry

// checkAll validates the batches of one request in order, each against the
// state as the batches before it would leave it, and returns the earlier
// batch if one is a duplicate of one of the producer's last five.
func (ps producers) checkAll(hs []log.BatchHeader) (dup batchMeta, isDup bool, err error) {
	staged := map[int64]*producerEntry{}
	for _, h := range hs {
		if h.ProducerID < 0 {
			continue
		}
		e, ok := staged[h.ProducerID]
		if !ok {
			if cur := ps[h.ProducerID]; cur != nil {
				c := *cur
				c.Batches = slices.Clone(cur.Batches)
				e = &c
			}
		}
		if dup, isDup, err = checkEntry(e, h); err != nil || isDup {
			return dup, isDup, err
		}
		if e == nil || h.ProducerEpoch > e.Epoch {
			e = &producerEntry{Epoch: h.ProducerEpoch}
		}
		if h.BaseSequence >= 0 {
			e.push(batchMeta{FirstSeq: h.BaseSequence, LastSeq: h.LastSequence()})
		}
		staged[h.ProducerID] = e
	}
	return batchMeta{}, false, nil
}

// checkEntry validates batch h against its producer's entry (nil: unknown).
func checkEntry(e *producerEntry, h log.BatchHeader) (dup batchMeta, isDup bool, err error) {
	if e == nil {
		// Unknown producer (new, or its state was lost to retention):
		// any sequence is accepted, as Kafka does.
		return batchMeta{}, false, nil
	}
	if h.ProducerEpoch < e.Epoch {
		return batchMeta{}, false, fmt.Errorf("%w: epoch %d < %d", ErrInvalidProducerEpoch, h.ProducerEpoch, e.Epoch)
	}
	if h.BaseSequence < 0 {
		// No sequence (the coordinator's own transactional writes):
		// only the epoch is checked.
		return batchMeta{}, false, nil
	}
	if h.ProducerEpoch > e.Epoch {
		if h.BaseSequence != 0 {
			return batchMeta{}, false, fmt.Errorf("%w: new epoch %d must start at sequence 0, got %d", ErrOutOfOrderSequence, h.ProducerEpoch, h.BaseSequence)
		}
		return batchMeta{}, false, nil
	}
	if b, ok := e.duplicate(h.BaseSequence, h.LastSequence()); ok {
		return b, true, nil
	}
	if last := e.lastSeq(); last >= 0 && !inSequence(last, h.BaseSequence) {
		return batchMeta{}, false, fmt.Errorf("%w: expected %d, got %d", ErrOutOfOrderSequence, last+1, h.BaseSequence)
	}
	return batchMeta{}, false, nil
}

// update records an appended batch (its header carries the assigned offset).
func (ps producers) update(h log.BatchHeader, appendTime int64) {
	if h.ProducerID < 0 {
		return
	}
	e := ps[h.ProducerID]
	if e == nil || h.ProducerEpoch > e.Epoch {
		e = &producerEntry{Epoch: h.ProducerEpoch}
		ps[h.ProducerID] = e
	}
	if h.IsControl() || h.BaseSequence < 0 {
		return // a marker may raise the epoch (fencing), it has no sequence
	}
	e.push(batchMeta{FirstSeq: h.BaseSequence, LastSeq: h.LastSequence(), FirstOffset: h.BaseOffset, LastOffset: h.LastOffset(), Timestamp: appendTime})
}

// snapshotFile holds the producer state as of an offset, written at clean
// shutdown and at each checkpoint (Partition.Checkpoint) so that start-up
// does not rescan the whole log.
const snapshotFile = "producer-state.json"

type snapshot struct {
	Offset    int64                    `json:"offset"`
	Producers map[int64]*producerEntry `json:"producers"`
	Txns      *txnState                `json:"txns,omitempty"`
}

func (ps producers) save(dir string, offset int64, txns txnState) error {
	data, err := ps.encode(offset, txns)
	if err != nil {
		return err
	}
	return writeSnapshot(dir, data)
}

// encode renders the snapshot of the state as of offset.
func (ps producers) encode(offset int64, txns txnState) ([]byte, error) {
	return json.Marshal(snapshot{Offset: offset, Producers: ps, Txns: &txns})
}

// writeSnapshot replaces the snapshot file with data, durably.
func writeSnapshot(dir string, data []byte) error {
	tmp := filepath.Join(dir, snapshotFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, snapshotFile))
}

// loadProducers rebuilds the producer and transaction state: from the
// snapshot when it is usable, then by scanning batch headers from the
// snapshot's offset (reading the marker type of control batches).
func loadProducers(dir string, l *log.Log) (producers, txnState, error) {
	ps := producers{}
	txns := newTxnState()
	from := l.LogStartOffset()
	if data, err := os.ReadFile(filepath.Join(dir, snapshotFile)); err == nil {
		var s snapshot
		if json.Unmarshal(data, &s) == nil && s.Offset <= l.LogEndOffset() && s.Offset >= from {
			for id, e := range s.Producers {
				ps[id] = e
			}
			if s.Txns != nil {
				txns.Aborted = s.Txns.Aborted
				for id, first := range s.Txns.Ongoing {
					txns.Ongoing[id] = first
				}
			}
			from = s.Offset
		}
	}
	if from >= l.LogEndOffset() {
		return ps, txns, nil
	}
	err := l.ScanBatches(from, func(h log.BatchHeader) error {
		if h.LastOffset() < from {
			return nil
		}
		ts := int64(-1)
		if h.LogAppendTime() {
			ts = h.MaxTimestamp
		}
		ps.update(h, ts)
		commit := false
		if h.IsControl() && h.IsTransactional() {
			batch, err := l.ReadBytes(h.BaseOffset, h.Size(), true)
			if err != nil {
				return err
			}
			typ, err := controlType(batch)
			if err != nil {
				return fmt.Errorf("control batch at %d: %w", h.BaseOffset, err)
			}
			commit = typ == controlCommit
		}
		txns.observe(h, commit)
		return nil
	})
	txns.prune(l.LogStartOffset())
	return ps, txns, err
}
