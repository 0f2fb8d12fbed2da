package crashtest

// Exactly-once consume-transform-produce through broker SIGKILLs (issue 5:
// "every input record reflected in the output exactly once — across ...
// a broker SIGKILL"): franz-go GroupTransactSession members in a classic
// group read an input topic and write each record to an output topic in
// transactions that commit the input offsets, while the broker is killed.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// txnRider is a GroupTransactSession member that lives through broker
// restarts. When ending a transaction fails (its outcome is then unknown)
// it does what franz-go asks: it stops using the session, and starts a new
// one with the same transactional.id, whose InitProducerId fences the old
// producer and whose group join fetches the committed offsets anew.
type txnRider struct {
	t     *testing.T
	name  string
	addr  string
	group string
	in    string
	out   string
	tr    *endTxnTrap

	committing atomic.Pointer[txnAttempt]
	committed  atomic.Int64 // input records of committed transactions
	cancel     context.CancelFunc
	done       chan struct{}

	mu       sync.Mutex
	sessions int
	errs     []string
}

func (r *txnRider) inCommit() *txnAttempt { return r.committing.Load() }

func startTxnRider(t *testing.T, addr, group, in, out, name string, tr *endTxnTrap) *txnRider {
	ctx, cancel := context.WithCancel(context.Background())
	r := &txnRider{t: t, name: name, addr: addr, group: group, in: in, out: out, tr: tr, cancel: cancel, done: make(chan struct{})}
	go r.run(ctx)
	t.Cleanup(r.stop)
	return r
}

func (r *txnRider) session() *kgo.GroupTransactSession {
	s, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(r.addr), kgo.Dialer(trapDialer(r.tr, r)), kgo.ClientID(r.name),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.MetadataMinAge(100*time.Millisecond),
		kgo.TransactionalID("etl-"+r.name), kgo.TransactionTimeout(10*time.Second),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ConsumerGroup(r.group), kgo.ConsumeTopics(r.in),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.SessionTimeout(1500*time.Millisecond), kgo.HeartbeatInterval(200*time.Millisecond),
		kgo.FetchMaxWait(100*time.Millisecond), kgo.FetchMaxPartitionBytes(512),
	)
	if err != nil {
		panic(fmt.Sprintf("new session: %v", err)) // only bad options fail here
	}
	r.mu.Lock()
	r.sessions++
	r.mu.Unlock()
	return s
}

func (r *txnRider) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) < 20 {
		r.errs = append(r.errs, fmt.Sprintf(format, args...))
	}
}

// drop gives up a session without a leave (the broker may be down); its
// member times out of the group.
func drop(s *kgo.GroupTransactSession) {
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Client().LeaveGroupContext(gone)
	s.Client().Close()
}

func (r *txnRider) run(ctx context.Context) {
	defer close(r.done)
	s := r.session()
	defer func() {
		if ctx.Err() != nil {
			s.Close() // a clean leave: the broker is up when the test stops riders
		} else {
			drop(s)
		}
	}()
	for ctx.Err() == nil {
		fs := s.PollRecords(ctx, 20)
		in := fs.Records() // fetch errors while the broker is down are retried by the client
		if len(in) == 0 {
			continue
		}
		if err := s.Begin(); err != nil {
			r.note("begin: %v", err)
			drop(s)
			s = r.session()
			continue
		}
		outs := make([]*kgo.Record, len(in))
		for i, rec := range in {
			outs[i] = &kgo.Record{Topic: r.out, Partition: rec.Partition,
				Key: []byte(fmt.Sprintf("%d@%d", rec.Partition, rec.Offset)), Value: rec.Value}
		}
		ectx, ecancel := context.WithTimeout(context.Background(), 20*time.Second)
		try := kgo.TryCommit
		if err := s.ProduceSync(ectx, outs...).FirstErr(); err != nil {
			r.note("produce: %v", err)
			try = kgo.TryAbort
		}
		// Killed just before its EndTxn, this member dies too: its End
		// is cut short, and a new session takes over.
		r.committing.Store(&txnAttempt{producer: r.name, onKill: ecancel})
		committed, err := s.End(ectx, try)
		r.committing.Store(nil)
		ecancel()
		switch {
		case err != nil:
			r.note("end (commit %v): %v", try, err)
			drop(s)
			s = r.session()
		case committed:
			r.committed.Add(int64(len(in)))
		}
	}
}

func (r *txnRider) stop() {
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(40 * time.Second):
		r.t.Errorf("%s did not stop", r.name)
	}
}

// TestSIGKILLDuringTransactionalETL: two GroupTransactSession members
// transform 2400 input records on four partitions into an output topic
// while the broker is SIGKILLed five times (at arbitrary moments, right
// after it answered / was sent a commit's EndTxn, and just before a
// commit's EndTxn would have been sent, the transaction's outputs and
// offsets written). The group must
// end with every input offset committed, no transaction open, and the
// output at read_committed holding, per partition, each input offset
// exactly once and in order.
func TestSIGKILLDuringTransactionalETL(t *testing.T) {
	const (
		in, out    = "etl-in", "etl-out"
		group      = "etl"
		partitions = 4
		perPart    = 600
	)
	b := newBroker(t, append(slices.Clone(groupOverrides), txnOverrides...)...)
	b.start()
	createTopic(t, b.addr(), in, partitions, nil)
	createTopic(t, b.addr(), out, partitions, nil)
	func() {
		cl := newClient(t, b.addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var rs []*kgo.Record
		for p := range int32(partitions) {
			for i := range perPart {
				rs = append(rs, &kgo.Record{Topic: in, Partition: p, Value: []byte(fmt.Sprintf("in-p%d-%06d", p, i))})
			}
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce the input: %v", err)
		}
	}()

	tr := &endTxnTrap{}
	riders := []*txnRider{
		startTxnRider(t, b.addr(), group, in, out, "r1", tr),
		startTxnRider(t, b.addr(), group, in, out, "r2", tr),
	}
	committed := func() int64 {
		var n int64
		for _, r := range riders {
			n += r.committed.Load()
		}
		return n
	}
	for i, how := range []string{"arbitrary", "answer", "request", "before-request", "arbitrary"} {
		target := int64(i+1) * partitions * perPart / 7
		waitCond(t, 40*time.Second, fmt.Sprintf("round %d: %d input records committed", i+1, target), func() error {
			if n := committed(); n < target {
				return fmt.Errorf("%d committed", n)
			}
			return nil
		})
		switch how {
		case "answer":
			killByTrap(t, b, tr, trapResponse)
		case "request":
			killByTrap(t, b, tr, trapRequest)
		case "before-request":
			// The transaction's outputs and offsets are written, its
			// commit never sent: it must be aborted, offsets and all.
			killByTrap(t, b, tr, trapBeforeRequest)
		default:
			b.kill()
		}
		t.Logf("round %d: killed (%s) after %d input records committed", i+1, how, committed())
		b.start()
	}

	cl := newClient(t, b.addr())
	adm := kadm.NewClient(cl)
	waitCond(t, 40*time.Second, "every input offset committed", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return err
		}
		for p := range int32(partitions) {
			if o, ok := offs.Lookup(in, p); !ok || o.Err != nil || o.At != perPart {
				return fmt.Errorf("partition %d: committed %d (%v)", p, o.At, o.Err)
			}
		}
		return nil
	})
	for _, r := range riders {
		r.stop()
	}
	checkStable(t, b.addr(), out, "after the ETL")
	got := readCommitted(t, b.addr(), out, partitions, "sentinel-etl")
	for p := range int32(partitions) {
		var want []string
		for o := range perPart {
			want = append(want, fmt.Sprintf("in-p%d-%06d", p, o))
		}
		if !slices.Equal(got[p], want) {
			t.Errorf("output partition %d at read_committed: %d records, want the %d inputs once each, in order; first differences: %s",
				p, len(got[p]), perPart, firstDiffs(got[p], want))
		}
	}
	for _, r := range riders {
		r.mu.Lock()
		t.Logf("%s: %d sessions, committed %d input records; errors: %s", r.name, r.sessions, r.committed.Load(), strings.Join(r.errs, "; "))
		r.mu.Unlock()
	}
	t.Logf("the broker completed %d prepared transactions at start and aborted %d timed-out ones",
		strings.Count(b.out.String(), "completing transaction interrupted by a restart"), strings.Count(b.out.String(), "aborting timed-out transaction"))
}

// firstDiffs describes where two lists first differ.
func firstDiffs(got, want []string) string {
	var out []string
	for i := 0; i < max(len(got), len(want)) && len(out) < 5; i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			out = append(out, fmt.Sprintf("[%d] %q want %q", i, g, w))
		}
	}
	return strings.Join(out, ", ")
}
