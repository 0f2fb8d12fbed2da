package api

import (
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/partition"
)

// startTxns creates the transaction coordinator (its state in
// __transaction_state) and replays it in the background; afterwards it
// aborts timed-out transactions every
// transaction.abort.timed.out.transaction.cleanup.interval.ms.
func (b *Broker) startTxns() {
	b.txnLog = &internalLog{b: b, topic: coordinator.TxnStateTopic, partitions: b.cfg.TxnStatePartitions,
		configs: map[string]string{"cleanup.policy": "compact", "segment.bytes": "104857600"}}
	b.txns = coordinator.NewTxnCoordinator(coordinator.TxnConfig{NumPartitions: b.cfg.TxnStatePartitions, MaxTimeout: b.cfg.TxnMaxTimeout},
		b.txnLog, markerWriter{b}, b.meta.NextProducerID, nil, b.log)
	b.bgDone.Add(1)
	go func() {
		defer b.bgDone.Done()
		if err := b.txns.Load(); err != nil {
			b.log.Error("loading transactions failed; transactional requests will keep failing", "err", err)
			return
		}
		b.bgDone.Add(1)
		b.every(b.cfg.TxnAbortCheckInterval, func() { b.txns.AbortTimedOut() })
	}()
}

// verifyTxn is the produce path's check that a transactional batch's
// partition was added to its producer's transaction.
func (b *Broker) verifyTxn(topic string, idx int32) func(int64, int16) error {
	return func(pid int64, epoch int16) error {
		err := b.txns.Verify(pid, epoch, coordinator.TxnPartition{Topic: topic, Partition: idx})
		switch {
		case err == nil:
			return nil
		case errors.Is(err, coordinator.ErrTxnLoading):
			// What Kafka's ReplicaManager answers when verification meets a
			// coordinator that is not ready: an error every client retries.
			return errorf(kerr.NotEnoughReplicas, "unable to verify the partition has been added to the transaction: %v", err)
		case errors.Is(err, coordinator.ErrUnknownTxnPID):
			return errorf(kerr.InvalidProducerIDMapping, "%v", err)
		case errors.Is(err, coordinator.ErrProducerFenced):
			return fmt.Errorf("%w: %v", partition.ErrInvalidProducerEpoch, err)
		}
		return fmt.Errorf("%w: %v", partition.ErrTxnNotStarted, err)
	}
}

// markerWriter writes transaction markers on this node's partitions.
type markerWriter struct{ b *Broker }

func (m markerWriter) WriteMarkers(pid int64, epoch int16, commit bool, parts []coordinator.TxnPartition) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		offsets  bool
	)
	for _, tp := range parts {
		if tp.Topic == coordinator.OffsetsTopic {
			offsets = true
		}
		p, _ := m.b.partition(tp.Topic, tp.Partition)
		if p == nil {
			continue // deleted since it joined the transaction, or never written
		}
		durable, err := p.WriteMarker(pid, epoch, commit, 0)
		if err != nil {
			if err == partition.ErrClosed {
				continue
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := durable(); err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if offsets {
		m.b.groups.CompleteTxn(pid, commit)
	}
	return nil
}
