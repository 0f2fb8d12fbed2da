package e2e

// Exactly-once consume-transform-produce through a consumer group with
// franz-go's GroupTransactSession (issue 5, item 6), while members join,
// leave cleanly and die in the middle of a transaction.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// txnETLMember consumes the input topic in a group and, per polled batch,
// produces one output record per input record (to the same partition
// number of the output topic, keyed by the input's partition and offset)
// and commits the input offsets in the same transaction.
type txnETLMember struct {
	t    *testing.T
	name string
	s    *kgo.GroupTransactSession
	net  *netCut
	stop context.CancelFunc
	die  chan struct{} // closed: die after producing a batch, before ending its transaction
	done chan struct{}

	committed atomic.Int64 // input records of committed transactions
	aborted   atomic.Int64 // input records of transactions the session aborted (rebalances)
	dead      []string     // keys of the outputs of the open transaction it died in

	closed atomic.Bool
}

func startTxnETLMember(t *testing.T, tb *testBroker, name, group, in, out string, p groupProtocol, txnTimeout time.Duration, l *ledger) *txnETLMember {
	t.Helper()
	nc := &netCut{}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(tb.addr), kgo.Dialer(nc.dial), kgo.ClientID(name),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.TransactionalID("etl-" + name), kgo.TransactionTimeout(txnTimeout),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(in),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.SessionTimeout(failSessionTimeout), kgo.HeartbeatInterval(failHeartbeat),
		kgo.RebalanceTimeout(5 * time.Second),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}, p.opts...)
	s, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	m := &txnETLMember{t: t, name: name, s: s, net: nc, stop: stop, die: make(chan struct{}), done: make(chan struct{})}
	go m.run(ctx, out, l)
	t.Cleanup(m.close)
	return m
}

func etlKey(partition int32, offset int64) string { return fmt.Sprintf("%d@%d", partition, offset) }

func (m *txnETLMember) run(ctx context.Context, out string, l *ledger) {
	defer close(m.done)
	for {
		fs := m.s.PollRecords(ctx, 100)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, kgo.ErrClientClosed) {
				m.t.Errorf("%s: fetch %s-%d: %v", m.name, topic, p, err)
			}
		})
		in := fs.Records()
		if len(in) == 0 {
			continue
		}
		if err := m.s.Begin(); err != nil {
			m.t.Errorf("%s: begin: %v", m.name, err)
			return
		}
		outs := make([]*kgo.Record, len(in))
		for i, r := range in {
			if err := l.process(m.name, r); err != nil {
				m.t.Errorf("%s: %v", m.name, err)
			}
			outs[i] = &kgo.Record{Topic: out, Partition: r.Partition, Key: []byte(etlKey(r.Partition, r.Offset)), Value: r.Value}
		}
		produceErr := m.s.ProduceSync(ctx, outs...).FirstErr()
		select {
		case <-m.die:
			if produceErr == nil {
				for _, r := range outs {
					m.dead = append(m.dead, string(r.Key))
				}
				m.net.cut()
				return
			}
		default:
		}
		try := kgo.TryCommit
		if produceErr != nil {
			if ctx.Err() == nil {
				m.t.Errorf("%s: produce: %v", m.name, produceErr)
			}
			try = kgo.TryAbort
		}
		endCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		committed, err := m.s.End(endCtx, try)
		cancel()
		switch {
		case err != nil:
			m.t.Errorf("%s: ending a transaction of %d records: %v", m.name, len(in), err)
			return
		case committed:
			m.committed.Add(int64(len(in)))
		default:
			m.aborted.Add(int64(len(in)))
		}
	}
}

// memberID is the member's ID in the group ("" before it has one).
func (m *txnETLMember) memberID() string {
	id, _ := m.s.Client().GroupMetadata()
	return id
}

// leave stops the loop between transactions and leaves the group.
func (m *txnETLMember) leave() {
	m.t.Helper()
	within(m.t, 25*time.Second, m.name+" to leave", m.close)
}

func (m *txnETLMember) close() {
	if m.closed.Swap(true) {
		return
	}
	m.stop()
	<-m.done
	if m.net.dead() {
		// Nobody to tell: give up the leave at once.
		gone, cancel := context.WithCancel(context.Background())
		cancel()
		_ = m.s.Client().LeaveGroupContext(gone)
		m.s.Client().Close()
		return
	}
	m.s.Close()
}

// settledOn waits until the group's members are exactly ms and every
// partition of topic is assigned.
func settledOn(t *testing.T, adm *kadm.Client, group, topic string, partitions int32, kip848 bool, ms ...*txnETLMember) {
	t.Helper()
	waitUntil(t, 20*time.Second, "the group to settle", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		v, err := describeGroup(ctx, adm, group, topic, kip848)
		if err != nil {
			return err
		}
		if len(v.members) != len(ms) {
			return fmt.Errorf("%d members: %v", len(v.members), v)
		}
		assigned := 0
		for _, m := range ms {
			ps, ok := v.members[m.memberID()]
			if !ok {
				return fmt.Errorf("%s is not a member: %v", m.name, v)
			}
			assigned += len(ps)
		}
		if assigned != int(partitions) {
			return fmt.Errorf("%d of %d partitions assigned: %v", assigned, partitions, v)
		}
		return nil
	})
}

// TestTxnGroupETLExactlyOnce: sessions consume a paced stream of numbered
// records on six partitions and write each to an output topic in
// transactions that also commit the input offsets. Mid-stream a member
// leaves cleanly and another joins; later a member dies after producing
// a batch, before ending its transaction, and one more joins. Whatever was
// processed twice, the output read at read_committed must hold every input
// record exactly once, each output partition the records of its input
// partition in input order; the dead member's outputs are in the log
// (read_uncommitted) but not committed.
func TestTxnGroupETLExactlyOnce(t *testing.T) {
	for _, p := range failureProtocols {
		t.Run(p.name, func(t *testing.T) { testTxnGroupETL(t, p) })
	}
}

func testTxnGroupETL(t *testing.T, p groupProtocol) {
	const (
		in, out    = "etl-in", "etl-out"
		group      = "etl-txn"
		partitions = 6
		n          = 3000
		// The member that dies has a short transaction timeout, so its
		// open transaction is aborted soon; the others a long one.
		shortTimeout = 3 * time.Second
		longTimeout  = 30 * time.Second
	)
	props := failureProps()
	props["transaction.abort.timed.out.transaction.cleanup.interval.ms"] = "100"
	tb := startBroker(t, t.TempDir(), props)
	tb.createTopic(in, partitions, nil)
	tb.createTopic(out, partitions, nil)
	adm := tb.admin()
	l := newLedger()
	committed := func(ms ...*txnETLMember) int64 {
		var c int64
		for _, m := range ms {
			c += m.committed.Load()
		}
		return c
	}

	m1 := startTxnETLMember(t, tb, "m1", group, in, out, p, longTimeout, l)
	m2 := startTxnETLMember(t, tb, "m2", group, in, out, p, shortTimeout, l)
	settledOn(t, adm, group, in, partitions, p.kip848, m1, m2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pp := startPacedProducer(ctx, tb, in, n, 600, l)
	defer func() { cancel(); <-pp.done }()
	var m3, m4 *txnETLMember
	all := func() []*txnETLMember { return []*txnETLMember{m1, m2, m3, m4} }
	waitCommitted := func(atLeast int64) {
		t.Helper()
		waitUntil(t, 20*time.Second, fmt.Sprintf("%d records committed", atLeast), func() error {
			if c := committed(slices.DeleteFunc(all(), func(m *txnETLMember) bool { return m == nil })...); c < atLeast {
				return fmt.Errorf("%d committed", c)
			}
			return nil
		})
	}

	pp.allow(1000)
	waitCommitted(600)
	// A member leaves cleanly between transactions; another joins.
	m1.leave()
	m3 = startTxnETLMember(t, tb, "m3", group, in, out, p, longTimeout, l)
	settledOn(t, adm, group, in, partitions, p.kip848, m2, m3)
	pp.allow(2000)
	waitCommitted(1500)

	// m2 dies with a transaction open: its outputs are in the log, its
	// offsets not committed. m4 joins; m2's partitions move once its
	// session times out, and are processed again from the committed
	// offsets.
	close(m2.die)
	pp.allow(n)
	within(t, 10*time.Second, "m2 to produce a batch and die", func() { <-m2.done })
	if len(m2.dead) == 0 {
		t.Fatal("m2 died without an open transaction")
	}
	m4 = startTxnETLMember(t, tb, "m4", group, in, out, p, longTimeout, l)
	settledOn(t, adm, group, in, partitions, p.kip848, m3, m4)

	within(t, 30*time.Second, "the producer to finish", func() { <-pp.done })
	if pp.err != nil {
		t.Fatal(pp.err)
	}
	waitCommittedAtEnd(t, adm, group, in, partitions)
	m3.leave()
	m4.leave()

	if c := committed(all()...); c != n {
		t.Errorf("the members' committed transactions hold %d input records, want %d", c, n)
	}
	inEnds := tb.highWatermarks(adm, in)
	got := tb.readToEnd(out, partitions, kgo.ReadCommitted())
	bad := 0
	for p := range int32(partitions) {
		var want, have []string
		for o := range inEnds[p] {
			want = append(want, etlKey(p, o))
		}
		for _, r := range got[p] {
			have = append(have, string(r.Key))
		}
		if !slices.Equal(have, want) {
			bad++
			t.Errorf("output partition %d at read_committed: %d records, want %d (input offsets 0..%d in order, once each)\n have %s",
				p, len(have), len(want), inEnds[p]-1, abbreviate(have))
		}
	}
	all2 := tb.readToEnd(out, partitions, kgo.ReadUncommitted())
	seen := map[string]bool{}
	for _, rs := range all2 {
		for _, r := range rs {
			seen[string(r.Key)] = true
		}
	}
	for _, k := range m2.dead {
		if !seen[k] {
			t.Errorf("the dead member's uncommitted output %s is not in the log at read_uncommitted", k)
			break
		}
	}
	t.Logf("%d records; committed by m1 %d, m2 %d, m3 %d, m4 %d; aborted (rebalances) %d; the dead member left %d outputs uncommitted",
		n, m1.committed.Load(), m2.committed.Load(), m3.committed.Load(), m4.committed.Load(),
		m1.aborted.Load()+m2.aborted.Load()+m3.aborted.Load()+m4.aborted.Load(), len(m2.dead))
}

// abbreviate shows the start and end of a long list.
func abbreviate(s []string) string {
	if len(s) <= 20 {
		return strings.Join(s, " ")
	}
	return strings.Join(s[:10], " ") + " ... " + strings.Join(s[len(s)-10:], " ")
}
