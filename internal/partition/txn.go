package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/samsa-kafka/samsa/internal/log"
)

// Transactions on one partition: which producers have an open transaction
// here (from the first transactional batch to its marker), the last stable
// offset (LSO) that read_committed consumers may read up to, and the
// aborted transactions those consumers must filter out.

// AbortedTxn is an aborted transaction's span on this partition.
type AbortedTxn struct {
	ProducerID  int64 `json:"pid"`
	FirstOffset int64 `json:"first"`
	LastOffset  int64 `json:"last"` // the offset of its abort marker
}

type txnState struct {
	Ongoing map[int64]int64 `json:"ongoing"` // producer ID -> first offset
	Aborted []AbortedTxn    `json:"aborted"` // sorted by LastOffset
}

func newTxnState() txnState { return txnState{Ongoing: map[int64]int64{}} }

// ErrTxnNotStarted refuses a transactional batch for a partition the
// producer's transaction does not include (KIP-890 server-side check).
var ErrTxnNotStarted = errors.New("partition is not part of the producer's ongoing transaction")

// Control record types (the key of a marker record).
const (
	controlAbort  = 0
	controlCommit = 1
)

// observe updates the state with an appended batch.
func (t *txnState) observe(h log.BatchHeader, commit bool) {
	if !h.IsTransactional() {
		return
	}
	if !h.IsControl() {
		if _, ok := t.Ongoing[h.ProducerID]; !ok {
			t.Ongoing[h.ProducerID] = h.BaseOffset
		}
		return
	}
	first, ok := t.Ongoing[h.ProducerID]
	delete(t.Ongoing, h.ProducerID)
	if ok && !commit {
		t.Aborted = append(t.Aborted, AbortedTxn{ProducerID: h.ProducerID, FirstOffset: first, LastOffset: h.BaseOffset})
	}
}

// lso is the first offset of the oldest open transaction, or hw.
func (t *txnState) lso(hw int64) int64 {
	for _, first := range t.Ongoing {
		hw = min(hw, first)
	}
	return hw
}

// abortedIn returns the transactions of aborted (sorted by LastOffset)
// that overlap [from, to).
func abortedIn(aborted []AbortedTxn, from, to int64) []AbortedTxn {
	i := sort.Search(len(aborted), func(i int) bool { return aborted[i].LastOffset >= from })
	var out []AbortedTxn
	for ; i < len(aborted); i++ {
		if aborted[i].FirstOffset < to {
			out = append(out, aborted[i])
		}
	}
	return out
}

// prune forgets aborted transactions wholly below the log start.
func (t *txnState) prune(logStart int64) {
	i := sort.Search(len(t.Aborted), func(i int) bool { return t.Aborted[i].LastOffset >= logStart })
	t.Aborted = t.Aborted[i:]
}

// controlType reads the marker type of a control batch.
func controlType(batch []byte) (int16, error) {
	recs, err := log.DecodeRecords(batch)
	if err != nil {
		return 0, err
	}
	if len(recs) == 0 || len(recs[0].Key) < 4 {
		return 0, fmt.Errorf("control batch without a marker key")
	}
	return int16(binary.BigEndian.Uint16(recs[0].Key[2:])), nil
}

// WriteMarker appends a transaction marker (control batch) for a producer
// and closes its transaction on this partition. It returns a function that
// waits until the marker is durable.
func (p *Partition) WriteMarker(producerID int64, epoch int16, commit bool, coordinatorEpoch int32) (func() error, error) {
	typ := int16(controlAbort)
	if commit {
		typ = controlCommit
	}
	key := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 0), uint16(typ))
	value := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint16(nil, 0), uint32(coordinatorEpoch))
	batch := log.EncodeBatch(log.BatchSpec{Timestamp: p.now().UnixMilli(), ProducerID: producerID, ProducerEpoch: epoch,
		Transactional: true, Control: true}, []log.Record{{Key: key, Value: value}})
	h, err := log.ParseBatchHeader(batch)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	h.BaseOffset = p.log.LogEndOffset()
	log.SetBaseOffset(batch, h.BaseOffset)
	log.SetPartitionLeaderEpoch(batch, p.epoch.Load())
	if err := p.log.Append(batch, []log.BatchHeader{h}); err != nil {
		p.mu.Unlock()
		return nil, err
	}
	p.txns.observe(h, commit)
	p.producers.update(h, -1)
	p.publishTxnState()
	p.mu.Unlock()
	p.Wake()
	return p.log.Sync, nil
}

// publishTxnState makes the transaction state that readers use without mu
// follow p.txns after a marker (or at open); the caller holds mu or has
// not shared p yet. The aborted list is a snapshot of the slice: entries
// are only ever appended past its length or dropped from its front, never
// changed in place.
func (p *Partition) publishTxnState() {
	a := p.txns.Aborted
	p.aborted.Store(&a)
	p.txnOpen.Store(len(p.txns.Ongoing) > 0)
}

// LastStableOffset is the offset below which every transaction has ended.
func (p *Partition) LastStableOffset() int64 {
	// Without a transaction it is the log end offset, read without mu
	// (held by an append across its write). The end offset is read first:
	// a transactional batch it includes set txnOpen before it was
	// appended.
	if leo := p.log.LogEndOffset(); !p.txnOpen.Load() {
		return leo
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.txns.lso(p.log.LogEndOffset())
}

// ReadCommitted reads like Read but stops at the last stable offset, and
// returns the aborted transactions overlapping what it returns, for a
// read_committed consumer to filter (Kafka's fetch protocol).
func (p *Partition) ReadCommitted(offset int64, maxBytes int, minOneBatch bool) (log.ReadResult, []AbortedTxn, error) {
	lso := p.LastStableOffset()
	if offset >= lso {
		if offset > p.log.LogEndOffset() || offset < p.log.LogStartOffset() {
			return log.ReadResult{}, nil, log.ErrOffsetOutOfRange
		}
		return log.ReadResult{}, nil, nil
	}
	rr, err := p.log.Read(offset, maxBytes, minOneBatch)
	if err != nil || rr.Size == 0 {
		return rr, nil, err
	}
	// Cut the range at the first batch at or past the LSO.
	var hdr [log.BatchHeaderSize]byte
	end := int64(0)
	for end < rr.Size {
		if _, err := rr.File.ReadAt(hdr[:], rr.Pos+end); err != nil {
			rr.Release()
			return log.ReadResult{}, nil, err
		}
		h, err := log.ParseBatchHeader(hdr[:])
		if err != nil {
			rr.Release()
			return log.ReadResult{}, nil, err
		}
		if h.BaseOffset >= lso {
			break
		}
		end += int64(h.Size())
	}
	rr.Size = end
	// Loaded after the LSO: it lists every transaction aborted below it.
	aborted := abortedIn(*p.aborted.Load(), offset, lso)
	return rr, aborted, nil
}

// OpenTransactions lists the producers with an open transaction here and
// where each began (DescribeProducers).
func (p *Partition) OpenTransactions() map[int64]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int64]int64, len(p.txns.Ongoing))
	for k, v := range p.txns.Ongoing {
		out[k] = v
	}
	return out
}

// ProducerSummary is a producer as DescribeProducers shows it.
type ProducerSummary struct {
	ProducerID     int64
	Epoch          int16
	LastSequence   int32
	LastTimestamp  int64
	TxnStartOffset int64 // -1 without an open transaction
}

// Producers lists the producers this partition knows, by ID. (An admin
// call: it reads each producer's last batch header from the log.)
func (p *Partition) Producers() []ProducerSummary {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]ProducerSummary, 0, len(p.producers))
	for id, e := range p.producers {
		s := ProducerSummary{ProducerID: id, Epoch: e.Epoch, LastSequence: e.lastSeq(), LastTimestamp: -1, TxnStartOffset: -1}
		if n := len(e.Batches); n > 0 {
			s.LastTimestamp = e.Batches[n-1].Timestamp // LogAppendTime, else read below
			if s.LastTimestamp < 0 {
				if b, err := p.log.ReadBytes(e.Batches[n-1].FirstOffset, 1, true); err == nil {
					if h, err := log.ParseBatchHeader(b); err == nil {
						s.LastTimestamp = h.MaxTimestamp
					}
				}
			}
		}
		if first, ok := p.txns.Ongoing[id]; ok {
			s.TxnStartOffset = first
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProducerID < out[j].ProducerID })
	return out
}
