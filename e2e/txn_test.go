package e2e

// Transactions end to end (issue 5, item 6) with franz-go transactional
// producers and read_committed consumers: aborted transactions are
// invisible to read_committed and visible to read_uncommitted, the last
// stable offset holds read_committed consumers back while a transaction is
// open, a zombie producer is fenced by the next incarnation of its
// transactional.id, the coordinator aborts a transaction that outlives its
// timeout. DescribeTransactions / ListTransactions / DescribeProducers are
// in txn_describe_test.go, the exactly-once ETL through a group in
// txn_etl_test.go.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ---- producing with a record of what became of each record ----

// txnRec is a record the test produced: where it landed and whether a
// read_committed consumer must see it.
type txnRec struct {
	partition int32
	offset    int64
	value     string
	visible   bool // non-transactional, or its transaction committed
}

// wantMarker is a transaction marker a partition must hold.
type wantMarker struct {
	pid    int64
	commit bool
	after  int64 // the last record of the transaction on this partition
}

// txnBook keeps every record the test produced to one topic, the open
// transactions' records by producer, and the markers the partitions must
// hold, so the test can say exactly what each isolation level must read.
type txnBook struct {
	t       *testing.T
	topic   string
	recs    []*txnRec
	open    map[*kgo.Client][]*txnRec
	markers map[int32][]wantMarker
	aborted map[int32][]kmsg.FetchResponseTopicPartitionAbortedTransaction
}

func newTxnBook(t *testing.T, topic string) *txnBook {
	return &txnBook{t: t, topic: topic, open: map[*kgo.Client][]*txnRec{}, markers: map[int32][]wantMarker{},
		aborted: map[int32][]kmsg.FetchResponseTopicPartitionAbortedTransaction{}}
}

// produce writes values to partition p with cl and waits for them to be
// acknowledged. Records of a transactional client belong to its open
// transaction until end.
func (b *txnBook) produce(cl *kgo.Client, p int32, values ...string) {
	b.t.Helper()
	rs := make([]*kgo.Record, len(values))
	for i, v := range values {
		rs[i] = &kgo.Record{Topic: b.topic, Partition: p, Value: []byte(v)}
	}
	if err := cl.ProduceSync(ctxT(b.t), rs...).FirstErr(); err != nil {
		b.t.Fatalf("produce %v to %s-%d: %v", values, b.topic, p, err)
	}
	_, inTxn := b.open[cl]
	for _, r := range rs {
		tr := &txnRec{partition: p, offset: r.Offset, value: string(r.Value), visible: !inTxn}
		b.recs = append(b.recs, tr)
		if inTxn {
			b.open[cl] = append(b.open[cl], tr)
		}
	}
}

// begin starts a transaction on cl.
func (b *txnBook) begin(cl *kgo.Client) {
	b.t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		b.t.Fatalf("begin transaction: %v", err)
	}
	b.open[cl] = []*txnRec{}
}

// end commits or aborts cl's transaction.
func (b *txnBook) end(cl *kgo.Client, commit bool) {
	b.t.Helper()
	pid, _, err := cl.ProducerID(ctxT(b.t))
	if err != nil {
		b.t.Fatalf("producer ID: %v", err)
	}
	if err := cl.EndTransaction(ctxT(b.t), kgo.TransactionEndTry(commit)); err != nil {
		b.t.Fatalf("end transaction (commit %v): %v", commit, err)
	}
	first, last := map[int32]int64{}, map[int32]int64{}
	for _, r := range b.open[cl] {
		r.visible = commit
		if f, ok := first[r.partition]; !ok || r.offset < f {
			first[r.partition] = r.offset
		}
		last[r.partition] = max(last[r.partition], r.offset)
	}
	for p, l := range last {
		b.markers[p] = append(b.markers[p], wantMarker{pid: pid, commit: commit, after: l})
		if !commit {
			b.aborted[p] = append(b.aborted[p], kmsg.FetchResponseTopicPartitionAbortedTransaction{ProducerID: pid, FirstOffset: first[p]})
		}
	}
	delete(b.open, cl)
}

// want lists, by partition in offset order, the records a consumer at the
// isolation level must read.
func (b *txnBook) want(readCommitted bool) map[int32][]*txnRec {
	out := map[int32][]*txnRec{}
	for _, r := range b.recs {
		if r.visible || !readCommitted {
			out[r.partition] = append(out[r.partition], r)
		}
	}
	for _, rs := range out {
		sort.Slice(rs, func(i, j int) bool { return rs[i].offset < rs[j].offset })
	}
	return out
}

// checkRead compares what a consumer read with what it must read.
func checkRead(t *testing.T, what string, got map[int32][]*kgo.Record, want map[int32][]*txnRec) {
	t.Helper()
	ps := map[int32]bool{}
	for p := range got {
		ps[p] = true
	}
	for p := range want {
		ps[p] = true
	}
	for p := range ps {
		g, w := got[p], want[p]
		var gs, ws []string
		for _, r := range g {
			gs = append(gs, fmt.Sprintf("%d:%s", r.Offset, r.Value))
		}
		for _, r := range w {
			ws = append(ws, fmt.Sprintf("%d:%s", r.offset, r.value))
		}
		if !slices.Equal(gs, ws) {
			t.Errorf("%s, partition %d:\n read %v\n want %v", what, p, gs, ws)
		}
	}
}

// ---- reading ----

var sentinelSeq atomic.Int64

// readToEnd reads partitions 0..n-1 of topic from the start at an
// isolation level until it has read past everything written so far. It
// first appends a non-transactional sentinel record to every partition
// and reads until it has seen each: a read_committed consumer can only
// reach it once no transaction before it is open. Sentinels (of this and
// earlier reads) are left out of the result.
func (tb *testBroker) readToEnd(topic string, n int32, level kgo.IsolationLevel) map[int32][]*kgo.Record {
	tb.t.Helper()
	ctx := ctxT(tb.t)
	tag := fmt.Sprintf("sentinel-%d", sentinelSeq.Add(1))
	w := tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var rs []*kgo.Record
	for p := range n {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(tag)})
	}
	if err := w.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		tb.t.Fatalf("produce sentinels: %v", err)
	}
	w.Close()
	offsets := map[int32]kgo.Offset{}
	for p := range n {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl := tb.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}), kgo.FetchIsolationLevel(level),
		kgo.FetchMaxWait(200*time.Millisecond))
	defer cl.Close()
	out := map[int32][]*kgo.Record{}
	done := map[int32]bool{}
	for len(done) < int(n) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			tb.t.Fatalf("reading %s: sentinels of %d of %d partitions seen before the timeout", topic, len(done), n)
		}
		fs.EachError(func(t string, p int32, err error) { tb.t.Fatalf("fetch %s-%d: %v", t, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			v := string(r.Value)
			switch {
			case v == tag:
				done[r.Partition] = true
			case done[r.Partition]:
				tb.t.Errorf("%s-%d: record %q at %d after the sentinel", topic, r.Partition, v, r.Offset)
			case !strings.HasPrefix(v, "sentinel-"):
				out[r.Partition] = append(out[r.Partition], r)
			}
		})
	}
	return out
}

// rawBatch is a record batch as a raw Fetch returns it.
type rawBatch struct {
	base, last int64
	pid        int64
	control    bool
	commit     bool // of a control batch: commit (else abort) marker
}

// fetchRaw sends one Fetch for partition p from offset at an isolation
// level (0 read_uncommitted, 1 read_committed) and returns its partition
// answer and batches. What the broker sends, not what a client makes of
// it.
func fetchRaw(t *testing.T, cl *kgo.Client, topic string, id [16]byte, p int32, offset int64, level int8) (kmsg.FetchResponseTopicPartition, []rawBatch) {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 0, 1, 32<<20
	req.IsolationLevel, req.SessionEpoch = level, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, offset, 16<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatalf("fetch %s-%d: %v", topic, p, err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch %s-%d: %d topics in the response", topic, p, len(resp.Topics))
	}
	sp := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(sp.ErrorCode); err != nil {
		t.Fatalf("fetch %s-%d: %v", topic, p, err)
	}
	var out []rawBatch
	data := sp.RecordBatches
	for len(data) >= 12 {
		size := 12 + int(int32(binary.BigEndian.Uint32(data[8:12])))
		if size > len(data) {
			break // a partial batch at the end
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(data[:size]); err != nil {
			t.Fatalf("fetch %s-%d: batch: %v", topic, p, err)
		}
		data = data[size:]
		b := rawBatch{base: rb.FirstOffset, last: rb.FirstOffset + int64(rb.LastOffsetDelta), pid: rb.ProducerID, control: rb.Attributes&0x20 != 0}
		if b.control {
			l, n := binary.Varint(rb.Records)
			var r kmsg.Record
			if n <= 0 || l < 0 || int(l) > len(rb.Records)-n || r.ReadFrom(rb.Records[:n+int(l)]) != nil || len(r.Key) < 4 {
				t.Fatalf("fetch %s-%d: control batch at %d has no marker key", topic, p, b.base)
			}
			b.commit = binary.BigEndian.Uint16(r.Key[2:]) == 1
		}
		out = append(out, b)
	}
	return sp, out
}

// topicIDOf asks for a topic's ID (Fetch v13+ names topics by ID).
func (tb *testBroker) topicIDOf(topic string) [16]byte {
	tb.t.Helper()
	ds, err := tb.admin().ListTopics(ctxT(tb.t), topic)
	if err != nil || ds[topic].Err != nil {
		tb.t.Fatalf("list topic %s: %v %v", topic, err, ds[topic].Err)
	}
	return ds[topic].ID
}

// offsetsOf returns the partitions' offsets from a kadm listing.
func offsetsOf(t *testing.T, lo kadm.ListedOffsets, err error, topic string) map[int32]int64 {
	t.Helper()
	if err != nil {
		t.Fatalf("list offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	for p, o := range lo[topic] {
		if o.Err != nil {
			t.Fatalf("list offsets of %s-%d: %v", topic, p, o.Err)
		}
		out[p] = o.Offset
	}
	return out
}

// lastStable is ListOffsets(latest) at read_committed: the LSO.
func (tb *testBroker) lastStable(adm *kadm.Client, topic string) map[int32]int64 {
	tb.t.Helper()
	lo, err := adm.ListCommittedOffsets(ctxT(tb.t), topic)
	return offsetsOf(tb.t, lo, err, topic)
}

// highWatermarks is ListOffsets(latest) at read_uncommitted.
func (tb *testBroker) highWatermarks(adm *kadm.Client, topic string) map[int32]int64 {
	tb.t.Helper()
	lo, err := adm.ListEndOffsets(ctxT(tb.t), topic)
	return offsetsOf(tb.t, lo, err, topic)
}

// txnClient is a transactional producer that picks partitions by
// Record.Partition and sends uncompressed batches.
func (tb *testBroker) txnClient(id string, opts ...kgo.Opt) *kgo.Client {
	return tb.client(append([]kgo.Opt{kgo.TransactionalID(id), kgo.TransactionTimeout(20 * time.Second),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression())}, opts...)...)
}

// isFenced reports whether err says the producer's epoch is stale.
func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
}

// ---- the tests ----

// TestTxnAbortedInvisibleToReadCommitted: two transactional producers and
// a plain one write to three partitions, the transactions committed and
// aborted in turn, overlapping each other, with plain records between a
// transaction's records and its marker. read_committed must read exactly
// the committed and plain records, in offset order; read_uncommitted every
// data record; the broker must have written one marker of the right kind
// per transaction and partition, and list exactly the aborted
// transactions in read_committed fetches.
func TestTxnAbortedInvisibleToReadCommitted(t *testing.T) {
	const topic, parts = "txn-visibility", 3
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic(topic, parts, nil)
	a, b := tb.txnClient("vis-a"), tb.txnClient("vis-b")
	plain := tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	book := newTxnBook(t, topic)

	for round := range 6 {
		commit := round%2 == 0
		p0, p1, p2 := int32(round%parts), int32((round+1)%parts), int32((round+2)%parts)
		tag := func(who string, p int32, i int) string { return fmt.Sprintf("%s-r%d-p%d-%d", who, round, p, i) }
		book.produce(plain, p0, tag("plain-before", p0, 0))
		book.begin(a)
		book.produce(a, p0, tag("a", p0, 0), tag("a", p0, 1))
		book.produce(a, p1, tag("a", p1, 0))
		// Plain records inside a's transaction: visible either way.
		for p := range int32(parts) {
			book.produce(plain, p, tag("plain-inside", p, 0))
		}
		// b's transaction overlaps a's on p1 and ends the other way.
		book.begin(b)
		book.produce(b, p1, tag("b", p1, 0))
		book.produce(a, p1, tag("a", p1, 1))
		if round%3 == 0 {
			book.produce(a, p2, tag("a", p2, 0))
		}
		book.produce(b, p2, tag("b", p2, 0), tag("b", p2, 1))
		book.end(a, commit)
		book.produce(plain, p1, tag("plain-between", p1, 0))
		book.end(b, !commit)
	}
	// An aborted transaction right after a committed one on the same
	// partitions, with nothing between them.
	book.begin(a)
	book.produce(a, 0, "a-last-committed")
	book.end(a, true)
	book.begin(a)
	book.produce(a, 0, "a-last-aborted")
	book.end(a, false)

	adm := tb.admin()
	if lso, hw := tb.lastStable(adm, topic), tb.highWatermarks(adm, topic); !mapsEqual(lso, hw) {
		t.Errorf("every transaction has ended, but the last stable offsets %v are not the high watermarks %v", lso, hw)
	}

	// What the broker sends: markers and aborted-transaction lists.
	id := tb.topicIDOf(topic)
	for p := range int32(parts) {
		_, batches := fetchRaw(t, plain, topic, id, p, 0, 0)
		var markers []wantMarker
		for i, rb := range batches {
			if !rb.control {
				continue
			}
			m := wantMarker{pid: rb.pid, commit: rb.commit, after: -1}
			// The last data batch of the same producer before the marker.
			for j := i - 1; j >= 0; j-- {
				if !batches[j].control && batches[j].pid == rb.pid {
					m.after = batches[j].last
					break
				}
			}
			markers = append(markers, m)
		}
		if want := book.markers[p]; !slices.Equal(markers, want) {
			t.Errorf("partition %d: markers (producer, commit, last record of its transaction before it)\n got %v\nwant %v", p, markers, want)
		}
		sp, _ := fetchRaw(t, plain, topic, id, p, 0, 1)
		got := sp.AbortedTransactions
		sort.Slice(got, func(i, j int) bool { return got[i].FirstOffset < got[j].FirstOffset })
		want := book.aborted[p]
		if len(got) != len(want) {
			t.Errorf("partition %d: read_committed fetch from 0 lists aborted transactions %v, want %v", p, got, want)
			continue
		}
		for i := range got {
			if got[i].ProducerID != want[i].ProducerID || got[i].FirstOffset != want[i].FirstOffset {
				t.Errorf("partition %d: read_committed fetch from 0 lists aborted transactions %v, want %v", p, got, want)
				break
			}
		}
	}

	checkRead(t, "read_committed", tb.readToEnd(topic, parts, kgo.ReadCommitted()), book.want(true))
	checkRead(t, "read_uncommitted", tb.readToEnd(topic, parts, kgo.ReadUncommitted()), book.want(false))

	// The same after a restart, from the transaction index and producer
	// state rebuilt from disk.
	tb = tb.restart(nil)
	checkRead(t, "read_committed after a restart", tb.readToEnd(topic, parts, kgo.ReadCommitted()), book.want(true))
	checkRead(t, "read_uncommitted after a restart", tb.readToEnd(topic, parts, kgo.ReadUncommitted()), book.want(false))
}

func mapsEqual(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestTxnLastStableOffset: while a transaction is open, ListOffsets(latest)
// at read_committed answers the first offset of the open transaction on
// each partition it wrote (the high watermark elsewhere), a read_committed
// fetch reports that last stable offset and returns nothing at or past it,
// and a read_committed consumer stops there although plain records follow
// — until the commit, when it reads on to the end.
func TestTxnLastStableOffset(t *testing.T) {
	const topic, parts = "txn-lso", 3
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic(topic, parts, nil)
	tx := tb.txnClient("lso")
	plain := tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	book := newTxnBook(t, topic)
	adm := tb.admin()

	for p := range int32(parts) {
		book.produce(plain, p, fmt.Sprintf("before-%d-0", p), fmt.Sprintf("before-%d-1", p))
	}
	offsets := map[int32]kgo.Offset{}
	for p := range int32(parts) {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	consumer := tb.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond))
	read := map[int32][]*kgo.Record{}
	readUpTo := func(n int, what string) {
		t.Helper()
		ctx := ctxT(t)
		for total(read) < n {
			fs := consumer.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("%s: read %d records of %d before the timeout", what, total(read), n)
			}
			fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s-%d: %v", tp, p, err) })
			fs.EachRecord(func(r *kgo.Record) { read[r.Partition] = append(read[r.Partition], r) })
		}
	}
	readUpTo(2*parts, "before the transaction")

	book.begin(tx)
	book.produce(tx, 0, "txn-0-0", "txn-0-1")
	book.produce(tx, 1, "txn-1-0")
	first := map[int32]int64{}
	for _, r := range book.open[tx] {
		if _, ok := first[r.partition]; !ok {
			first[r.partition] = r.offset
		}
	}
	for p := range int32(parts) {
		book.produce(plain, p, fmt.Sprintf("after-%d", p))
	}
	book.produce(tx, 0, "txn-0-2")

	hw := tb.highWatermarks(adm, topic)
	lso := tb.lastStable(adm, topic)
	want := map[int32]int64{0: first[0], 1: first[1], 2: hw[2]}
	if !mapsEqual(lso, want) {
		t.Errorf("with a transaction open from offsets %v: last stable offsets %v, want %v (high watermarks %v)", first, lso, want, hw)
	}
	id := tb.topicIDOf(topic)
	for p := range int32(parts) {
		sp, batches := fetchRaw(t, plain, topic, id, p, 0, 1)
		if sp.LastStableOffset != want[p] || sp.HighWatermark != hw[p] {
			t.Errorf("partition %d: read_committed fetch says last stable offset %d, high watermark %d; want %d, %d",
				p, sp.LastStableOffset, sp.HighWatermark, want[p], hw[p])
		}
		for _, b := range batches {
			if b.last >= want[p] {
				t.Errorf("partition %d: read_committed fetch returned a batch %d-%d past the last stable offset %d", p, b.base, b.last, want[p])
			}
		}
		if _, batches := fetchRaw(t, plain, topic, id, p, 0, 0); len(batches) == 0 || batches[len(batches)-1].last != hw[p]-1 {
			t.Errorf("partition %d: read_uncommitted fetch does not reach the high watermark %d", p, hw[p])
		}
	}
	// The consumer reads what lies below the last stable offsets (the
	// plain record after the transaction on partition 2 included) and no
	// further: a bounded poll that must come back empty.
	readUpTo(2*parts+1, "below the last stable offsets")
	quiet, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	fs := consumer.PollFetches(quiet)
	cancel()
	fs.EachRecord(func(r *kgo.Record) {
		t.Errorf("read_committed consumer read %s-%d@%d %q while the transaction is open", r.Topic, r.Partition, r.Offset, r.Value)
	})

	book.end(tx, true)
	if lso, hw := tb.lastStable(adm, topic), tb.highWatermarks(adm, topic); !mapsEqual(lso, hw) {
		t.Errorf("after the commit the last stable offsets %v are not the high watermarks %v", lso, hw)
	}
	readUpTo(len(book.recs), "after the commit")
	checkRead(t, "read_committed consumer", read, book.want(true))
}

func total(m map[int32][]*kgo.Record) int {
	n := 0
	for _, rs := range m {
		n += len(rs)
	}
	return n
}

// TestTxnZombieFenced: a second producer with the same transactional.id
// fences the first. The first's open transaction is aborted (its records
// stay in the log for read_uncommitted, invisible to read_committed), and
// whatever the first tries next fails with PRODUCER_FENCED or
// INVALID_PRODUCER_EPOCH: producing more, or committing.
func TestTxnZombieFenced(t *testing.T) {
	const topic, parts = "txn-zombie", 2
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic(topic, parts, nil)
	book := newTxnBook(t, topic)
	adm := tb.admin()

	for _, zombieTries := range []string{"produce", "commit"} {
		txnID := "zombie-" + zombieTries
		old := tb.txnClient(txnID)
		book.begin(old)
		book.produce(old, 0, txnID+"-old-0")
		book.produce(old, 1, txnID+"-old-1")
		oldPID, oldEpoch, err := old.ProducerID(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		zombie := book.open[old]

		// The new incarnation: InitProducerId bumps the epoch and aborts
		// the open transaction.
		cur := tb.txnClient(txnID)
		pid, epoch, err := cur.ProducerID(ctxT(t))
		if err != nil {
			t.Fatalf("%s: second producer's InitProducerId: %v", txnID, err)
		}
		if pid != oldPID || epoch <= oldEpoch {
			t.Errorf("%s: second producer got ID %d epoch %d; the first had %d epoch %d (same ID, higher epoch expected)",
				txnID, pid, epoch, oldPID, oldEpoch)
		}
		ds, err := adm.DescribeTransactions(ctxT(t), txnID)
		if err != nil {
			t.Fatal(err)
		}
		if d := ds[txnID]; d.Err != nil || d.State != "Empty" && d.State != "CompleteAbort" || d.ProducerEpoch != epoch {
			t.Errorf("%s after the second InitProducerId: state %s epoch %d (err %v); want Empty or CompleteAbort at epoch %d", txnID, d.State, d.ProducerEpoch, d.Err, epoch)
		}
		if lso, hw := tb.lastStable(adm, topic), tb.highWatermarks(adm, topic); !mapsEqual(lso, hw) {
			t.Errorf("%s: the fenced transaction was not aborted: last stable offsets %v, high watermarks %v", txnID, lso, hw)
		}

		switch zombieTries {
		case "produce":
			err := old.ProduceSync(ctxT(t), &kgo.Record{Topic: topic, Partition: 0, Value: []byte(txnID + "-old-late")}).FirstErr()
			if !isFenced(err) {
				t.Errorf("%s: the fenced producer's produce returned %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", txnID, err)
			}
			if err := old.EndTransaction(ctxT(t), kgo.TryCommit); err == nil {
				t.Errorf("%s: the fenced producer committed", txnID)
			}
		case "commit":
			if err := old.EndTransaction(ctxT(t), kgo.TryCommit); !isFenced(err) {
				t.Errorf("%s: the fenced producer's commit returned %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", txnID, err)
			}
		}
		delete(book.open, old) // its records stay invisible

		// The new incarnation works.
		book.begin(cur)
		book.produce(cur, 0, txnID+"-new-0")
		book.produce(cur, 1, txnID+"-new-1")
		book.end(cur, true)
		for _, r := range zombie {
			if r.visible {
				t.Fatalf("bookkeeping: zombie record %q marked visible", r.value)
			}
		}
	}
	checkRead(t, "read_committed", tb.readToEnd(topic, parts, kgo.ReadCommitted()), book.want(true))
	checkRead(t, "read_uncommitted", tb.readToEnd(topic, parts, kgo.ReadUncommitted()), book.want(false))
}

// TestTxnTimeoutAborts: a producer opens a transaction with a one-second
// timeout and goes quiet. The coordinator aborts it (the broker checks
// every 100 ms): DescribeTransactions shows CompleteAbort at a bumped
// epoch, the last stable offset moves past its records, read_committed
// never sees them, and the producer is fenced when it comes back.
func TestTxnTimeoutAborts(t *testing.T) {
	const topic, parts = "txn-timeout", 2
	tb := startBroker(t, t.TempDir(), map[string]string{
		"transaction.abort.timed.out.transaction.cleanup.interval.ms": "100",
		"transaction.max.timeout.ms":                                  "60000",
	})
	tb.createTopic(topic, parts, nil)
	book := newTxnBook(t, topic)
	adm := tb.admin()

	// A timeout above transaction.max.timeout.ms is refused.
	tooLong := tb.txnClient("too-long", kgo.TransactionTimeout(2*time.Minute))
	if _, _, err := tooLong.ProducerID(ctxT(t)); !errors.Is(err, kerr.InvalidTransactionTimeout) {
		t.Errorf("InitProducerId with a timeout above transaction.max.timeout.ms: %v, want INVALID_TRANSACTION_TIMEOUT", err)
	}

	for _, comesBackWith := range []string{"commit", "produce"} {
		txnID := "stalls-then-" + comesBackWith
		cl := tb.txnClient(txnID, kgo.TransactionTimeout(time.Second))
		book.begin(cl)
		start := time.Now()
		book.produce(cl, 0, txnID+"-0")
		book.produce(cl, 1, txnID+"-1")
		_, epoch, err := cl.ProducerID(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		stalled := book.open[cl]
		if lso := tb.lastStable(adm, topic); lso[0] != stalled[0].offset {
			t.Errorf("%s: with the transaction open the last stable offset of partition 0 is %d, want %d", txnID, lso[0], stalled[0].offset)
		}

		var d kadm.DescribedTransaction
		waitUntil(t, 10*time.Second, txnID+" to be aborted by the coordinator", func() error {
			ds, err := adm.DescribeTransactions(ctxT(t), txnID)
			if err != nil {
				return err
			}
			if d = ds[txnID]; d.Err != nil || d.State != "CompleteAbort" {
				return fmt.Errorf("state %s (err %v)", d.State, d.Err)
			}
			return nil
		})
		if took := time.Since(start); took < time.Second {
			t.Errorf("%s: aborted after %v, before its one-second timeout", txnID, took)
		}
		if d.ProducerEpoch <= epoch {
			t.Errorf("%s: aborted at epoch %d; the producer's epoch %d must be fenced by a bump", txnID, d.ProducerEpoch, epoch)
		}
		if lso, hw := tb.lastStable(adm, topic), tb.highWatermarks(adm, topic); !mapsEqual(lso, hw) {
			t.Errorf("%s: after the abort the last stable offsets %v are not the high watermarks %v", txnID, lso, hw)
		}

		switch comesBackWith {
		case "commit":
			if err := cl.EndTransaction(ctxT(t), kgo.TryCommit); !isFenced(err) {
				t.Errorf("%s: the commit after the timeout abort returned %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", txnID, err)
			}
		case "produce":
			err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: topic, Partition: 0, Value: []byte(txnID + "-late")}).FirstErr()
			if !isFenced(err) {
				t.Errorf("%s: the produce after the timeout abort returned %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", txnID, err)
			}
			if err := cl.EndTransaction(ctxT(t), kgo.TryCommit); err == nil {
				t.Errorf("%s: the producer committed after the timeout abort", txnID)
			}
		}
		delete(book.open, cl)
	}
	checkRead(t, "read_committed", tb.readToEnd(topic, parts, kgo.ReadCommitted()), book.want(true))
	checkRead(t, "read_uncommitted", tb.readToEnd(topic, parts, kgo.ReadUncommitted()), book.want(false))
}
