package e2e

// InitProducerId with a producer ID and epoch (KIP-360): which incarnation
// of a transactional.id may re-initialise itself, and what the others are
// told.

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// initProducerID sends InitProducerId for txnID with the given producer ID
// and epoch (-1, -1: a new producer).
func initProducerID(t *testing.T, cl *kgo.Client, txnID string, pid int64, epoch int16) *kmsg.InitProducerIDResponse {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = kmsg.StringPtr(txnID)
	req.TransactionTimeoutMillis = 10000
	req.ProducerID, req.ProducerEpoch = pid, epoch
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatalf("InitProducerId(%s, %d, %d): %v", txnID, pid, epoch, err)
	}
	return resp
}

func initError(resp *kmsg.InitProducerIDResponse) string {
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return err.Error()
	}
	return fmt.Sprintf("no error (producer %d epoch %d)", resp.ProducerID, resp.ProducerEpoch)
}

// TestTxnInitProducerIDEpochs follows Kafka's transaction coordinator
// (KIP-360, and KIP-588's split of PRODUCER_FENCED, for the coordinator,
// from INVALID_PRODUCER_EPOCH, for produce): an InitProducerId carrying a
// stale epoch — of a producer whose transaction timed out, or of a zombie
// after a newer incarnation — is answered PRODUCER_FENCED, the fatal error
// that tells the client to give up; and a retry of a re-initialisation
// whose answer was lost (the previous epoch, nobody else initialised
// since) gets the current epoch again.
//
// franz-go treats INVALID_PRODUCER_EPOCH from InitProducerId as
// recoverable: answered that, a producer whose transaction timed out goes
// on failing every produce with INVALID_PRODUCER_EPOCH while
// EndTransaction (abort, and commit of the then empty transaction) returns
// nil; it never reports that it is fenced (seen with franz-go v1.22.3).
func TestTxnInitProducerIDEpochs(t *testing.T) {
	tb := startBroker(t, t.TempDir(), map[string]string{
		"transaction.abort.timed.out.transaction.cleanup.interval.ms": "100",
	})
	tb.createTopic("init-epochs", 1, nil)
	raw := tb.client()
	adm := tb.admin()

	t.Run("after-timeout-abort", func(t *testing.T) {
		cl := tb.txnClient("timed-out", kgo.TransactionTimeout(time.Second))
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "init-epochs", Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		pid, epoch, err := cl.ProducerID(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 10*time.Second, "the coordinator to abort the transaction", func() error {
			ds, err := adm.DescribeTransactions(ctxT(t), "timed-out")
			if err != nil {
				return err
			}
			if s := ds["timed-out"].State; s != "CompleteAbort" {
				return fmt.Errorf("state %s", s)
			}
			return nil
		})
		if resp := initProducerID(t, raw, "timed-out", pid, epoch); resp.ErrorCode != kerr.ProducerFenced.Code {
			t.Errorf("re-init with the epoch the timeout abort fenced (%d): %s; want PRODUCER_FENCED", epoch, initError(resp))
		}
	})

	t.Run("zombie", func(t *testing.T) {
		first := initProducerID(t, raw, "zombie-init", -1, -1)
		second := initProducerID(t, raw, "zombie-init", -1, -1) // a new incarnation
		if first.ErrorCode != 0 || second.ErrorCode != 0 {
			t.Fatalf("InitProducerId: %s, %s", initError(first), initError(second))
		}
		if resp := initProducerID(t, raw, "zombie-init", first.ProducerID, first.ProducerEpoch); resp.ErrorCode != kerr.ProducerFenced.Code {
			t.Errorf("re-init of the fenced incarnation (epoch %d, current %d): %s; want PRODUCER_FENCED",
				first.ProducerEpoch, second.ProducerEpoch, initError(resp))
		}
	})

	t.Run("retry-of-a-reinit", func(t *testing.T) {
		first := initProducerID(t, raw, "retried", -1, -1)
		reinit := initProducerID(t, raw, "retried", first.ProducerID, first.ProducerEpoch)
		if first.ErrorCode != 0 || reinit.ErrorCode != 0 || reinit.ProducerEpoch != first.ProducerEpoch+1 {
			t.Fatalf("InitProducerId then re-init: %s, %s", initError(first), initError(reinit))
		}
		// The re-init's answer was lost; the producer sends it again.
		retry := initProducerID(t, raw, "retried", first.ProducerID, first.ProducerEpoch)
		if retry.ErrorCode != 0 || retry.ProducerID != reinit.ProducerID || retry.ProducerEpoch != reinit.ProducerEpoch {
			t.Errorf("retry of the re-init (epoch %d): %s; want producer %d epoch %d again", first.ProducerEpoch, initError(retry), reinit.ProducerID, reinit.ProducerEpoch)
		}
	})
}
