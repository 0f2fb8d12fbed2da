package e2e

// What the broker says about transactions and producers: DescribeTransactions,
// ListTransactions and DescribeProducers (issue 5, item 6).

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnDescribeListProducers: DescribeTransactions, ListTransactions and
// DescribeProducers before, during and after a transaction.
func TestTxnDescribeListProducers(t *testing.T) {
	const topic, parts = "txn-describe", 2
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic(topic, parts, nil)
	book := newTxnBook(t, topic)
	adm := tb.admin()
	ctx := ctxT(t)

	cl := tb.txnClient("described", kgo.TransactionTimeout(25*time.Second))
	pid, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other := tb.txnClient("bystander")
	otherPID, _, err := other.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	describe := func(when string) kadm.DescribedTransaction {
		t.Helper()
		ds, err := adm.DescribeTransactions(ctx, "described")
		if err != nil {
			t.Fatalf("%s: DescribeTransactions: %v", when, err)
		}
		d := ds["described"]
		if d.Err != nil {
			t.Fatalf("%s: DescribeTransactions: %v", when, d.Err)
		}
		if d.ProducerID != pid || d.ProducerEpoch != epoch || d.TimeoutMillis != 25000 {
			t.Errorf("%s: described producer %d epoch %d timeout %d ms; want %d, %d, 25000", when, d.ProducerID, d.ProducerEpoch, d.TimeoutMillis, pid, epoch)
		}
		return d
	}
	list := func(pids []int64, states ...string) map[string]string {
		t.Helper()
		ls, err := adm.ListTransactions(ctx, pids, states)
		if err != nil {
			t.Fatalf("ListTransactions: %v", err)
		}
		out := map[string]string{}
		for id, l := range ls {
			out[id] = l.State
		}
		return out
	}
	producers := func(when string) map[int32]kadm.DescribedProducer {
		t.Helper()
		dp, err := adm.DescribeProducers(ctx, kadm.TopicsSet{topic: {0: {}, 1: {}}})
		if err != nil {
			t.Fatalf("%s: DescribeProducers: %v", when, err)
		}
		out := map[int32]kadm.DescribedProducer{}
		dp.EachPartition(func(p kadm.DescribedProducersPartition) {
			if p.Err != nil {
				t.Errorf("%s: DescribeProducers %s-%d: %v", when, p.Topic, p.Partition, p.Err)
			}
			for _, d := range p.ActiveProducers {
				if d.ProducerID == pid {
					out[p.Partition] = d
				}
			}
		})
		return out
	}

	if d := describe("before the transaction"); d.State != "Empty" || len(d.Topics) != 0 {
		t.Errorf("before the transaction: state %s, partitions %v; want Empty, none", d.State, d.Topics)
	}
	if got := list(nil); got["described"] != "Empty" || got["bystander"] != "Empty" {
		t.Errorf("ListTransactions before the transaction: %v", got)
	}

	before := time.Now()
	book.begin(cl)
	book.produce(cl, 0, "d-0-0", "d-0-1", "d-0-2")
	book.produce(cl, 1, "d-1-0", "d-1-1")
	first := map[int32]int64{0: book.open[cl][0].offset, 1: book.open[cl][3].offset}

	d := describe("during the transaction")
	if d.State != "Ongoing" {
		t.Errorf("during the transaction: state %s, want Ongoing", d.State)
	}
	if got := d.Topics.Sorted(); len(got) != 1 || got[0].Topic != topic || !slices.Equal(got[0].Partitions, []int32{0, 1}) {
		t.Errorf("during the transaction: partitions %v, want %s [0 1]", got, topic)
	}
	if start := time.UnixMilli(d.StartTimestamp); start.Before(before.Truncate(time.Millisecond)) || start.After(time.Now()) {
		t.Errorf("during the transaction: start time %v, not between %v and now", start, before)
	}
	if got := list(nil, "Ongoing"); len(got) != 1 || got["described"] != "Ongoing" {
		t.Errorf("ListTransactions(Ongoing) during the transaction: %v, want only described", got)
	}
	if got := list([]int64{otherPID}); len(got) != 1 || got["bystander"] != "Empty" {
		t.Errorf("ListTransactions(producer %d): %v, want only bystander", otherPID, got)
	}
	ps := producers("during the transaction")
	for p, wantSeq := range map[int32]int32{0: 2, 1: 1} {
		dp, ok := ps[p]
		switch {
		case !ok:
			t.Errorf("during the transaction: DescribeProducers on partition %d does not list producer %d", p, pid)
		case dp.ProducerEpoch != epoch || dp.LastSequence != wantSeq || dp.CurrentTxnStartOffset != first[p]:
			t.Errorf("during the transaction, partition %d: epoch %d last sequence %d transaction start %d; want %d, %d, %d",
				p, dp.ProducerEpoch, dp.LastSequence, dp.CurrentTxnStartOffset, epoch, wantSeq, first[p])
		}
	}

	book.end(cl, true)
	if d := describe("after the commit"); d.State != "CompleteCommit" || len(d.Topics) != 0 {
		t.Errorf("after the commit: state %s, partitions %v; want CompleteCommit, none", d.State, d.Topics)
	}
	if got := list(nil, "Ongoing"); len(got) != 0 {
		t.Errorf("ListTransactions(Ongoing) after the commit: %v, want none", got)
	}
	if got := list(nil, "CompleteCommit"); len(got) != 1 || got["described"] != "CompleteCommit" {
		t.Errorf("ListTransactions(CompleteCommit) after the commit: %v, want only described", got)
	}
	ps = producers("after the commit")
	for p, wantSeq := range map[int32]int32{0: 2, 1: 1} {
		if dp := ps[p]; dp.CurrentTxnStartOffset != -1 || dp.LastSequence != wantSeq {
			t.Errorf("after the commit, partition %d: transaction start %d last sequence %d; want -1, %d", p, dp.CurrentTxnStartOffset, dp.LastSequence, wantSeq)
		}
	}

	// An abort is described as such.
	book.begin(cl)
	book.produce(cl, 1, "d-1-aborted")
	book.end(cl, false)
	if d := describe("after the abort"); d.State != "CompleteAbort" {
		t.Errorf("after the abort: state %s, want CompleteAbort", d.State)
	}

	ds, err := adm.DescribeTransactions(ctx, "never-used")
	if err != nil {
		t.Fatal(err)
	}
	if err := ds["never-used"].Err; !errors.Is(err, kerr.TransactionalIDNotFound) {
		t.Errorf("DescribeTransactions of an unknown ID: %v, want TRANSACTIONAL_ID_NOT_FOUND", err)
	}
	checkRead(t, "read_committed", tb.readToEnd(topic, parts, kgo.ReadCommitted()), book.want(true))
}

// TestDescribeProducersLastTimestamp: DescribeProducers reports, as Kafka
// does, the timestamp of a producer's last batch (its max timestamp; with
// CreateTime, the producer's clock), not -1.
func TestDescribeProducersLastTimestamp(t *testing.T) {
	const topic = "producers-timestamp"
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic(topic, 1, nil)
	cl := tb.client(kgo.DefaultProduceTopic(topic))
	stamp := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("v"), Timestamp: stamp}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pid, _, err := cl.ProducerID(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	dp, err := tb.admin().DescribeProducers(ctxT(t), kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	dp.EachProducer(func(d kadm.DescribedProducer) {
		if d.ProducerID != pid {
			return
		}
		found = true
		if d.LastTimestamp != stamp.UnixMilli() {
			t.Errorf("DescribeProducers: last timestamp %d, want %d (the timestamp of the producer's last batch)", d.LastTimestamp, stamp.UnixMilli())
		}
	})
	if !found {
		t.Errorf("DescribeProducers does not list producer %d", pid)
	}
}
