package coordinator

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The transaction coordinator: one state machine per transactional.id
// (Empty -> Ongoing -> PrepareCommit/PrepareAbort -> CompleteCommit/
// CompleteAbort -> Ongoing ...), kept in the compacted internal topic
// __transaction_state in Kafka's record schema and replayed at start. Ending
// a transaction writes markers to every partition in it (through Markers)
// before it is complete; a transaction found in a Prepare state at start is
// completed then.

// TxnStateTopic is the internal topic holding transaction state.
const TxnStateTopic = "__transaction_state"

// TxnState is a transaction's state (Kafka's names).
type TxnState string

// The transaction states.
const (
	TxnEmpty          TxnState = "Empty"
	TxnOngoing        TxnState = "Ongoing"
	TxnPrepareCommit  TxnState = "PrepareCommit"
	TxnPrepareAbort   TxnState = "PrepareAbort"
	TxnCompleteCommit TxnState = "CompleteCommit"
	TxnCompleteAbort  TxnState = "CompleteAbort"
)

var txnStateCodes = map[TxnState]kmsg.TransactionState{
	TxnEmpty: kmsg.TransactionStateEmpty, TxnOngoing: kmsg.TransactionStateOngoing,
	TxnPrepareCommit: kmsg.TransactionStatePrepareCommit, TxnPrepareAbort: kmsg.TransactionStatePrepareAbort,
	TxnCompleteCommit: kmsg.TransactionStateCompleteCommit, TxnCompleteAbort: kmsg.TransactionStateCompleteAbort,
}

// TxnPartition is a partition in a transaction.
type TxnPartition struct {
	Topic     string
	Partition int32
}

// Markers writes transaction markers to partitions (and completes the
// transactional offset commits of __consumer_offsets partitions). The
// broker implements it; it returns once the markers are durable.
type Markers interface {
	WriteMarkers(producerID int64, epoch int16, commit bool, parts []TxnPartition) error
}

// TxnConfig is the transaction coordinator's configuration.
type TxnConfig struct {
	NumPartitions int32         // transaction.state.log.num.partitions
	MaxTimeout    time.Duration // transaction.max.timeout.ms
}

type txnMeta struct {
	id      string
	pid     int64
	epoch   int16
	timeout time.Duration
	state   TxnState
	parts   map[TxnPartition]bool
	start   time.Time
	updated time.Time
	// lastInit is the producer ID and epoch a re-initialisation replaced,
	// so that a retry of it (its answer lost) gets the same answer.
	lastInitPID   int64
	lastInitEpoch int16
}

// TxnCoordinator coordinates the transactions of this node.
type TxnCoordinator struct {
	cfg     TxnConfig
	log     Log
	markers Markers
	nextPID func() (int64, error)
	clock   Clock
	lg      *slog.Logger

	mu     sync.Mutex
	txns   map[string]*txnMeta
	byPID  map[int64]*txnMeta
	loaded bool
}

// NewTxnCoordinator returns a transaction coordinator; call Load before use.
func NewTxnCoordinator(cfg TxnConfig, l Log, markers Markers, nextPID func() (int64, error), clock Clock, logger *slog.Logger) *TxnCoordinator {
	if clock == nil {
		clock = realClock{}
	}
	return &TxnCoordinator{cfg: cfg, log: l, markers: markers, nextPID: nextPID, clock: clock, lg: logger,
		txns: map[string]*txnMeta{}, byPID: map[int64]*txnMeta{}}
}

// Load replays __transaction_state and completes transactions that were
// being ended when the broker stopped.
func (tc *TxnCoordinator) Load() error {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for p := int32(0); p < tc.cfg.NumPartitions; p++ {
		err := tc.log.Replay(p, func(_ log.BatchHeader, r log.Record) error { return tc.apply(r) })
		if err != nil {
			return fmt.Errorf("replay %s-%d: %w", TxnStateTopic, p, err)
		}
	}
	var prepared []*txnMeta
	for _, t := range tc.txns {
		prepared = append(prepared, t)
	}
	for _, t := range prepared {
		switch t.state {
		case TxnPrepareCommit, TxnPrepareAbort:
			tc.lg.Info("completing transaction interrupted by a restart", "transactional_id", t.id, "state", t.state)
			if err := tc.complete(t, t.state == TxnPrepareCommit); err != nil {
				return err
			}
		}
	}
	tc.loaded = true
	tc.lg.Info("transaction coordinator loaded", "transactions", len(tc.txns))
	return nil
}

func (tc *TxnCoordinator) apply(r log.Record) error {
	k := kmsg.NewTxnMetadataKey()
	if err := k.ReadFrom(r.Key); err != nil {
		return fmt.Errorf("txn key at %d: %w", r.Offset, err)
	}
	if old := tc.txns[k.TransactionalID]; old != nil {
		delete(tc.byPID, old.pid)
	}
	if r.Value == nil {
		delete(tc.txns, k.TransactionalID)
		return nil
	}
	v := kmsg.NewTxnMetadataValue()
	if err := v.ReadFrom(r.Value); err != nil {
		return fmt.Errorf("txn value at %d: %w", r.Offset, err)
	}
	t := &txnMeta{id: k.TransactionalID, pid: v.ProducerID, epoch: v.ProducerEpoch, lastInitPID: -1, lastInitEpoch: -1,
		timeout: time.Duration(v.TimeoutMillis) * time.Millisecond, parts: map[TxnPartition]bool{},
		start: time.UnixMilli(v.StartTimestamp), updated: time.UnixMilli(v.LastUpdateTimestamp)}
	for s, code := range txnStateCodes {
		if code == v.State {
			t.state = s
		}
	}
	if t.state == "" {
		return fmt.Errorf("txn value at %d: unknown state %d", r.Offset, v.State)
	}
	for _, tp := range v.Topics {
		for _, p := range tp.Partitions {
			t.parts[TxnPartition{tp.Topic, p}] = true
		}
	}
	tc.txns[t.id] = t
	tc.byPID[t.pid] = t
	return nil
}

// persist writes a transaction's state record.
func (tc *TxnCoordinator) persist(t *txnMeta) error {
	t.updated = tc.clock.Now()
	k := kmsg.NewTxnMetadataKey()
	k.TransactionalID = t.id
	v := kmsg.NewTxnMetadataValue()
	v.ProducerID, v.ProducerEpoch = t.pid, t.epoch
	v.TimeoutMillis = int32(t.timeout.Milliseconds())
	v.State = txnStateCodes[t.state]
	v.LastUpdateTimestamp, v.StartTimestamp = t.updated.UnixMilli(), t.start.UnixMilli()
	byTopic := map[string][]int32{}
	for tp := range t.parts {
		byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
	}
	for topic, ps := range byTopic {
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		v.Topics = append(v.Topics, kmsg.TxnMetadataValueTopic{Topic: topic, Partitions: ps})
	}
	batch := log.EncodeBatch(log.BatchSpec{Timestamp: t.updated.UnixMilli(), ProducerID: -1, ProducerEpoch: -1},
		[]log.Record{{Key: k.AppendTo(nil), Value: v.AppendTo(nil)}})
	durable, err := tc.log.Append(partitionFor(t.id, tc.cfg.NumPartitions), batch)
	if err != nil {
		return fmt.Errorf("write transaction state of %s: %w", t.id, err)
	}
	return durable()
}

// InitProducerID handles InitProducerId with a transactional.id: a first
// call allocates a producer ID; later ones bump the epoch, fencing older
// incarnations, after aborting a transaction the previous one left open.
func (tc *TxnCoordinator) InitProducerID(id string, timeout time.Duration, reqPID int64, reqEpoch int16) (int64, int16, *kerr.Error) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	switch {
	case !tc.loaded:
		return -1, -1, kerr.CoordinatorLoadInProgress
	case id == "":
		return -1, -1, kerr.InvalidRequest
	case timeout <= 0 || timeout > tc.cfg.MaxTimeout:
		return -1, -1, kerr.InvalidTransactionTimeout
	}
	t := tc.txns[id]
	if t == nil {
		pid, err := tc.nextPID()
		if err != nil {
			return -1, -1, kerr.UnknownServerError
		}
		t = &txnMeta{id: id, pid: pid, epoch: 0, timeout: timeout, state: TxnEmpty, parts: map[TxnPartition]bool{},
			lastInitPID: -1, lastInitEpoch: -1}
		if err := tc.persist(t); err != nil {
			tc.lg.Error("InitProducerId", "err", err)
			return -1, -1, kerr.UnknownServerError
		}
		tc.txns[id], tc.byPID[pid] = t, t
		return t.pid, t.epoch, nil
	}
	if reqPID >= 0 && (reqPID != t.pid || reqEpoch != t.epoch) {
		if reqPID == t.lastInitPID && reqEpoch == t.lastInitEpoch && t.state == TxnEmpty {
			return t.pid, t.epoch, nil // a retry of the last re-initialisation
		}
		// KIP-360/KIP-588: only the current incarnation may
		// re-initialise itself; any other is fenced.
		return -1, -1, kerr.ProducerFenced
	}
	if t.state == TxnPrepareCommit || t.state == TxnPrepareAbort {
		return -1, -1, kerr.ConcurrentTransactions
	}
	prevPID, prevEpoch := t.pid, t.epoch
	if err := tc.bumpEpoch(t); err != nil {
		return -1, -1, kerr.UnknownServerError
	}
	t.lastInitPID, t.lastInitEpoch = -1, -1
	if reqPID >= 0 {
		t.lastInitPID, t.lastInitEpoch = prevPID, prevEpoch
	}
	if t.state == TxnOngoing {
		// The previous incarnation left a transaction open: abort it,
		// with markers at the new epoch, which fences it everywhere.
		if err := tc.end(t, false); err != nil {
			tc.lg.Error("aborting the previous transaction", "transactional_id", id, "err", err)
			return -1, -1, kerr.UnknownServerError
		}
		if t.state != TxnCompleteAbort { // another request moved it meanwhile
			return -1, -1, kerr.ConcurrentTransactions
		}
	}
	t.timeout = timeout
	t.state = TxnEmpty
	if err := tc.persist(t); err != nil {
		return -1, -1, kerr.UnknownServerError
	}
	return t.pid, t.epoch, nil
}

// bumpEpoch raises the epoch; at the top of the range the producer gets a
// new ID instead, as Kafka does.
func (tc *TxnCoordinator) bumpEpoch(t *txnMeta) error {
	if t.epoch < math.MaxInt16-1 {
		t.epoch++
		return nil
	}
	pid, err := tc.nextPID()
	if err != nil {
		return err
	}
	delete(tc.byPID, t.pid)
	t.pid, t.epoch = pid, 0
	tc.byPID[pid] = t
	return nil
}

// check validates a request's producer ID and epoch against the state.
func (tc *TxnCoordinator) check(id string, pid int64, epoch int16) (*txnMeta, *kerr.Error) {
	if !tc.loaded {
		return nil, kerr.CoordinatorLoadInProgress
	}
	t := tc.txns[id]
	switch {
	case t == nil || t.pid != pid:
		return nil, kerr.InvalidProducerIDMapping
	case epoch != t.epoch:
		return nil, kerr.ProducerFenced // any other epoch than the current one (KIP-588)
	case t.state == TxnPrepareCommit || t.state == TxnPrepareAbort:
		return nil, kerr.ConcurrentTransactions
	}
	return t, nil
}

// AddPartitions adds partitions to the producer's transaction, starting it
// if needed (AddPartitionsToTxn, and AddOffsetsToTxn with the group's
// __consumer_offsets partition).
func (tc *TxnCoordinator) AddPartitions(id string, pid int64, epoch int16, parts []TxnPartition) *kerr.Error {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	t, kerrv := tc.check(id, pid, epoch)
	if kerrv != nil {
		return kerrv
	}
	added := false
	for _, p := range parts {
		if !t.parts[p] {
			t.parts[p] = true
			added = true
		}
	}
	if t.state != TxnOngoing {
		t.state = TxnOngoing
		t.start = tc.clock.Now()
		added = true
	}
	if added {
		if err := tc.persist(t); err != nil {
			tc.lg.Error("AddPartitionsToTxn", "err", err)
			return kerr.UnknownServerError
		}
	}
	return nil
}

// EndTxn commits or aborts the producer's transaction.
func (tc *TxnCoordinator) EndTxn(id string, pid int64, epoch int16, commit bool) *kerr.Error {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	t, kerrv := tc.check(id, pid, epoch)
	if kerrv != nil {
		return kerrv
	}
	switch t.state {
	case TxnCompleteCommit:
		if commit {
			return nil // a retry of a commit that completed
		}
		return kerr.InvalidTxnState
	case TxnCompleteAbort:
		if !commit {
			return nil
		}
		return kerr.InvalidTxnState
	case TxnEmpty:
		return kerr.InvalidTxnState
	}
	if err := tc.end(t, commit); err != nil {
		tc.lg.Error("EndTxn", "transactional_id", id, "err", err)
		return kerr.UnknownServerError
	}
	return nil
}

// end moves an ongoing transaction through Prepare to Complete.
func (tc *TxnCoordinator) end(t *txnMeta, commit bool) error {
	t.state = TxnPrepareAbort
	if commit {
		t.state = TxnPrepareCommit
	}
	if err := tc.persist(t); err != nil {
		return err
	}
	return tc.complete(t, commit)
}

// complete writes the markers of a prepared transaction and marks it
// complete. It releases tc.mu while the markers are written: the produce
// path calls Verify while holding a partition's lock, and writing a marker
// takes that lock, so tc.mu must never be held across it. Meanwhile the
// transaction is in a Prepare state, so concurrent requests for it get
// CONCURRENT_TRANSACTIONS and produce for it is refused.
func (tc *TxnCoordinator) complete(t *txnMeta, commit bool) error {
	parts := make([]TxnPartition, 0, len(t.parts))
	for p := range t.parts {
		parts = append(parts, p)
	}
	pid, epoch := t.pid, t.epoch
	tc.mu.Unlock()
	err := tc.markers.WriteMarkers(pid, epoch, commit, parts)
	tc.mu.Lock()
	if err != nil {
		return err
	}
	t.state = TxnCompleteAbort
	if commit {
		t.state = TxnCompleteCommit
	}
	t.parts = map[TxnPartition]bool{}
	return tc.persist(t)
}

// Errors of Verify, in the order Kafka's TransactionCoordinator
// (handleVerifyPartitionsInTransaction) checks.
var (
	ErrTxnLoading     = errors.New("transaction state is still loading")
	ErrUnknownTxnPID  = errors.New("producer ID has no transactional ID")
	ErrProducerFenced = errors.New("producer epoch is fenced")
	ErrNotInTxn       = errors.New("partition is not in the producer's transaction")
)

// Verify reports whether a producer's current transaction includes a
// partition, for the produce path and transactional offset commits
// (KIP-890's server-side check). Any epoch other than the transaction's
// current one is fenced, a newer one too, as in Kafka.
func (tc *TxnCoordinator) Verify(pid int64, epoch int16, part TxnPartition) error {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	t := tc.byPID[pid]
	switch {
	case !tc.loaded:
		return ErrTxnLoading
	case t == nil:
		return fmt.Errorf("%w: producer %d", ErrUnknownTxnPID, pid)
	case epoch != t.epoch:
		return fmt.Errorf("%w: producer %d epoch %d, current %d", ErrProducerFenced, pid, epoch, t.epoch)
	case t.state != TxnOngoing || !t.parts[part]:
		return fmt.Errorf("%w: %s-%d, transaction of %s", ErrNotInTxn, part.Topic, part.Partition, t.id)
	}
	return nil
}

// AbortTimedOut aborts transactions open longer than their timeout, with a
// bumped epoch so the producer that went quiet is fenced.
func (tc *TxnCoordinator) AbortTimedOut() int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if !tc.loaded {
		return 0
	}
	now := tc.clock.Now()
	n := 0
	var expired []*txnMeta
	for _, t := range tc.txns {
		if t.state == TxnOngoing && now.Sub(t.start) > t.timeout {
			expired = append(expired, t)
		}
	}
	for _, t := range expired {
		if t.state != TxnOngoing { // changed while the lock was released
			continue
		}
		tc.lg.Info("aborting timed-out transaction", "transactional_id", t.id, "producer_id", t.pid, "open_for", now.Sub(t.start))
		if err := tc.bumpEpoch(t); err != nil {
			tc.lg.Error("abort timed-out transaction", "err", err)
			continue
		}
		t.lastInitPID, t.lastInitEpoch = -1, -1 // the old epoch is fenced, not retried
		if err := tc.end(t, false); err != nil {
			tc.lg.Error("abort timed-out transaction", "transactional_id", t.id, "err", err)
			continue
		}
		n++
	}
	return n
}

// TxnDescription describes one transaction (DescribeTransactions,
// ListTransactions).
type TxnDescription struct {
	ID         string
	State      TxnState
	ProducerID int64
	Epoch      int16
	Timeout    time.Duration
	Start      time.Time
	Partitions []TxnPartition
}

// Describe returns the transaction of an ID, or ok=false.
func (tc *TxnCoordinator) Describe(id string) (TxnDescription, *kerr.Error) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if !tc.loaded {
		return TxnDescription{}, kerr.CoordinatorLoadInProgress
	}
	t := tc.txns[id]
	if t == nil {
		return TxnDescription{}, kerr.TransactionalIDNotFound
	}
	return t.describe(), nil
}

func (t *txnMeta) describe() TxnDescription {
	d := TxnDescription{ID: t.id, State: t.state, ProducerID: t.pid, Epoch: t.epoch, Timeout: t.timeout, Start: t.start}
	for p := range t.parts {
		d.Partitions = append(d.Partitions, p)
	}
	sort.Slice(d.Partitions, func(i, j int) bool {
		a, b := d.Partitions[i], d.Partitions[j]
		return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
	})
	return d
}

// List returns every transaction, sorted by ID.
func (tc *TxnCoordinator) List() ([]TxnDescription, *kerr.Error) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if !tc.loaded {
		return nil, kerr.CoordinatorLoadInProgress
	}
	out := make([]TxnDescription, 0, len(tc.txns))
	for _, t := range tc.txns {
		out = append(out, t.describe())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
