package crashtest

// Transactions through broker SIGKILLs (issue 5, item 6): transactional
// producers loop begin / produce to several partitions / commit while the
// broker is killed — at an arbitrary moment, right after it answered a
// commit's EndTxn (before the client read the answer), and right after a
// commit's EndTxn request left the client. After each restart the
// producers recover (re-initialising, recreated when needed) and go on;
// read_committed must then hold every committed transaction's records
// exactly once, nothing of an aborted one, all or nothing of one whose
// outcome the producer could not learn, and the last stable offset must
// not stay stuck behind a transaction nobody will finish.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnOverrides: a quick abort of timed-out transactions, few
// __transaction_state partitions (less to replay at each start).
var txnOverrides = []string{
	"transaction.abort.timed.out.transaction.cleanup.interval.ms=100",
	"transaction.state.log.num.partitions=5",
}

// ---- killing the broker around an EndTxn ----

type trapMode int32

const (
	trapOff           trapMode = iota
	trapRequest                // kill once a commit's EndTxn request is written
	trapResponse               // kill once the broker's answer to it has arrived, before the client reads it
	trapOpen                   // kill once a producer's records are acknowledged, before it commits; the producer dies too
	trapBeforeRequest          // kill when a commit's EndTxn request is about to be written; it is not
)

// endTxnTrap watches the connections of the transactional producers for
// EndTxn requests sent while a producer commits. Armed, it kills the
// broker at the chosen moment, once.
type endTxnTrap struct {
	mode atomic.Int32 // trapMode; back to trapOff when it fires

	mu    sync.Mutex
	kill  func() // SIGKILLs the broker and waits until it is gone
	fired chan struct{}
	at    *txnAttempt // the commit it fired on
	code  int16       // trapResponse: the EndTxn error code the broker sent
}

func (tr *endTxnTrap) arm(mode trapMode, kill func()) <-chan struct{} {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.kill, tr.fired, tr.at, tr.code = kill, make(chan struct{}), nil, -1
	tr.mode.Store(int32(mode))
	return tr.fired
}

// fire kills the broker if the trap is armed for mode and the producer is
// committing.
func (tr *endTxnTrap) fire(mode trapMode, at *txnAttempt, code int16) bool {
	if at == nil || !tr.mode.CompareAndSwap(int32(mode), int32(trapOff)) {
		return false
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.at, tr.code = at, code
	tr.kill()
	if mode == trapBeforeRequest && at.onKill != nil {
		at.onKill()
	}
	close(tr.fired)
	return true
}

var errTrapped = errors.New("connection cut: the broker was killed here")

// commitWatch is a producer that says which transaction it is committing
// (nil when it is not).
type commitWatch interface{ inCommit() *txnAttempt }

// trapDialer dials connections watched by tr for w's commits.
func trapDialer(tr *endTxnTrap, w commitWatch) func(ctx context.Context, network, host string) (net.Conn, error) {
	return func(ctx context.Context, network, host string) (net.Conn, error) {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, network, host)
		if err != nil {
			return nil, err
		}
		return &trapConn{Conn: c, tr: tr, watch: w, endTxn: map[int32]int16{}}, nil
	}
}

// trapConn is a producer's connection to the broker. It reads the Kafka
// framing both ways: request headers (size, API key, version,
// correlation ID) as they are written, response headers (size,
// correlation ID) before handing a response to the client.
type trapConn struct {
	net.Conn
	tr    *endTxnTrap
	watch commitWatch

	mu     sync.Mutex
	endTxn map[int32]int16 // correlation ID -> version of EndTxn requests written

	// write side (one writer at a time)
	whdr  []byte
	wskip int64
	wEnd  bool // the frame being written is an EndTxn

	// read side (one reader at a time)
	rhdr  []byte // a response header to hand out
	rleft int64  // body bytes of the current response still to pass through
	dead  bool
}

func (c *trapConn) Write(b []byte) (int, error) {
	if c.wskip == 0 && len(c.whdr) == 0 && len(b) >= 6 && int16(binary.BigEndian.Uint16(b[4:])) == kmsg.EndTxn.Int16() &&
		c.tr.fire(trapBeforeRequest, c.watch.inCommit(), -1) {
		c.Conn.Close()
		return 0, errTrapped // the broker is gone and never saw the request
	}
	completes := c.scanRequests(b)
	n, err := c.Conn.Write(b)
	if err == nil && completes && c.tr.fire(trapRequest, c.watch.inCommit(), -1) {
		return n, nil // the request is out; the broker is gone
	}
	return n, err
}

// scanRequests follows the request frames in b, notes EndTxn requests and
// reports whether b completes one.
func (c *trapConn) scanRequests(b []byte) (completesEndTxn bool) {
	for len(b) > 0 {
		if c.wskip > 0 {
			n := min(int64(len(b)), c.wskip)
			c.wskip -= n
			b = b[n:]
			if c.wskip == 0 && c.wEnd {
				completesEndTxn = true
			}
			continue
		}
		take := min(12-len(c.whdr), len(b))
		c.whdr = append(c.whdr, b[:take]...)
		b = b[take:]
		if len(c.whdr) < 12 {
			break
		}
		size := int64(int32(binary.BigEndian.Uint32(c.whdr)))
		key := int16(binary.BigEndian.Uint16(c.whdr[4:]))
		version := int16(binary.BigEndian.Uint16(c.whdr[6:]))
		corr := int32(binary.BigEndian.Uint32(c.whdr[8:]))
		c.whdr = c.whdr[:0]
		c.wEnd = key == kmsg.EndTxn.Int16()
		if c.wEnd {
			c.mu.Lock()
			c.endTxn[corr] = version
			c.mu.Unlock()
		}
		c.wskip = size - 8
		if c.wskip <= 0 {
			c.wskip = 0
			completesEndTxn = completesEndTxn || c.wEnd
		}
	}
	return completesEndTxn
}

func (c *trapConn) Read(p []byte) (int, error) {
	if c.dead {
		return 0, errTrapped
	}
	if len(c.rhdr) > 0 {
		n := copy(p, c.rhdr)
		c.rhdr = c.rhdr[n:]
		return n, nil
	}
	if c.rleft > 0 {
		if int64(len(p)) > c.rleft {
			p = p[:c.rleft]
		}
		n, err := c.Conn.Read(p)
		c.rleft -= int64(n)
		return n, err
	}
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(c.Conn, hdr); err != nil {
		return 0, err
	}
	size := int64(int32(binary.BigEndian.Uint32(hdr)))
	corr := int32(binary.BigEndian.Uint32(hdr[4:]))
	c.mu.Lock()
	version, isEndTxn := c.endTxn[corr]
	delete(c.endTxn, corr)
	c.mu.Unlock()
	if isEndTxn && trapMode(c.tr.mode.Load()) == trapResponse && size >= 4 {
		body := make([]byte, size-4)
		if _, err := io.ReadFull(c.Conn, body); err != nil {
			return 0, err
		}
		if c.tr.fire(trapResponse, c.watch.inCommit(), endTxnErrorCode(body, version)) {
			c.dead = true
			c.Conn.Close()
			return 0, errTrapped
		}
		// Not fired after all (the producer was not committing): hand
		// the response on.
		c.rhdr = append(hdr, body...)
		return c.Read(p)
	}
	c.rhdr = hdr
	c.rleft = size - 4
	return c.Read(p)
}

// endTxnErrorCode decodes an EndTxn response body (after the correlation
// ID); -2 if it cannot.
func endTxnErrorCode(body []byte, version int16) int16 {
	if version >= 3 { // flexible: the response header has tagged fields
		n, l := binary.Uvarint(body)
		if l <= 0 {
			return -2
		}
		body = body[l:]
		for range n {
			_, l1 := binary.Uvarint(body)
			if l1 <= 0 {
				return -2
			}
			size, l2 := binary.Uvarint(body[l1:])
			if l2 <= 0 || uint64(len(body)) < uint64(l1+l2)+size {
				return -2
			}
			body = body[uint64(l1+l2)+size:]
		}
	}
	resp := kmsg.NewEndTxnResponse()
	resp.Version = version
	if err := resp.ReadFrom(body); err != nil {
		return -2
	}
	return resp.ErrorCode
}

// killByTrap arms tr and waits until it has killed the broker; it
// returns the transaction it fired on.
func killByTrap(t *testing.T, b *broker, tr *endTxnTrap, mode trapMode) *txnAttempt {
	t.Helper()
	pid, done := b.cmd.Process.Pid, b.done
	proc := b.cmd.Process
	fired := tr.arm(mode, func() {
		_ = proc.Signal(syscall.SIGKILL)
		select {
		case <-done:
		case <-time.After(exitTimeout):
		}
	})
	select {
	case <-fired:
	case <-time.After(30 * time.Second):
		tr.mode.Store(int32(trapOff))
		t.Fatalf("no commit hit the trap (mode %d) within 30s", mode)
	}
	select {
	case <-done:
	default:
		t.Fatalf("broker pid %d still running after the trap's SIGKILL", pid)
	}
	fmt.Fprintf(b.out, "===== SIGKILL pid %d by the EndTxn trap (mode %d)\n", pid, mode)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.at
}

// ---- the transactional producer loop ----

type txnOutcome int

const (
	txnAborted   txnOutcome = iota // the commit was never sent
	txnCommitted                   // EndTxn(commit) answered success to the producer
	txnUnknown                     // a commit was sent, its answer never came
)

// txnAttempt is one transaction a producer tried.
type txnAttempt struct {
	producer string
	n        int
	values   []string // in produce order
	outcome  txnOutcome
	answered bool   // the broker answered its EndTxn(commit) with success (seen by the trap)
	onKill   func() // trapBeforeRequest: the producer dies with the broker
}

// txnLoop is a transactional producer running transactions until
// stopped: each writes two records to each of three of the partitions
// (rotating), then commits. Failures end in an abort (or, when even that
// fails, a new client with the same transactional.id, whose
// InitProducerId aborts what the old one left open) and a new attempt.
type txnLoop struct {
	t          *testing.T
	name       string
	addr       string
	topic      string
	partitions int32
	tr         *endTxnTrap

	committing atomic.Pointer[txnAttempt] // set while EndTxn(commit) is under way

	mu       sync.Mutex
	attempts []*txnAttempt
	errs     []string // the first few errors, for the log
	recreate int      // clients recreated

	commits atomic.Int64
	paused  atomic.Bool
	idle    atomic.Bool // paused and between transactions
	stop    chan struct{}
	done    chan struct{}
}

func startTxnLoop(t *testing.T, addr, topic string, partitions int32, name string, tr *endTxnTrap) *txnLoop {
	l := &txnLoop{t: t, name: name, addr: addr, topic: topic, partitions: partitions, tr: tr,
		stop: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	t.Cleanup(l.halt)
	return l
}

func (l *txnLoop) inCommit() *txnAttempt { return l.committing.Load() }

func (l *txnLoop) client() *kgo.Client {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(l.addr),
		kgo.Dialer(trapDialer(l.tr, l)),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.MetadataMinAge(100*time.Millisecond),
		kgo.TransactionalID(l.name), kgo.TransactionTimeout(10*time.Second),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	)
	if err != nil {
		panic(fmt.Sprintf("new client: %v", err)) // only bad options fail here
	}
	return cl
}

func (l *txnLoop) note(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) < 30 {
		l.errs = append(l.errs, fmt.Sprintf(format, args...))
	}
}

func (l *txnLoop) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *txnLoop) run() {
	defer close(l.done)
	cl := l.client()
	defer func() { cl.Close() }()
	for n := 0; !l.stopped(); n++ {
		for l.paused.Load() && !l.stopped() {
			l.idle.Store(true)
			time.Sleep(5 * time.Millisecond)
		}
		l.idle.Store(false)
		if l.stopped() {
			return
		}
		a := &txnAttempt{producer: l.name, n: n}
		l.mu.Lock()
		l.attempts = append(l.attempts, a)
		l.mu.Unlock()
		if err := l.transact(cl, a); err != nil {
			l.note("%s txn %d: %v", l.name, n, err)
			if errors.Is(err, errAbandoned) || !l.abort(cl) {
				cl.Close()
				cl = l.client()
				l.mu.Lock()
				l.recreate++
				l.mu.Unlock()
			}
		}
	}
}

// transact runs one transaction; a nil error means it committed.
func (l *txnLoop) transact(cl *kgo.Client, a *txnAttempt) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	var rs []*kgo.Record
	for k := range int32(3) {
		p := (int32(a.n) + k) % l.partitions
		for i := range 2 {
			v := fmt.Sprintf("%s-t%06d-p%d-%d", l.name, a.n, p, i)
			a.values = append(a.values, v)
			rs = append(rs, &kgo.Record{Topic: l.topic, Partition: p, Value: []byte(v)})
		}
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	if l.tr.fire(trapOpen, a, -1) {
		return errAbandoned
	}
	a.outcome = txnUnknown
	l.committing.Store(a)
	err := cl.EndTransaction(ctx, kgo.TryCommit)
	l.committing.Store(nil)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	a.outcome = txnCommitted
	l.commits.Add(1)
	return nil
}

// errAbandoned: the producer "died" with its transaction open; a new
// client takes over its transactional.id.
var errAbandoned = errors.New("producer abandoned with its transaction open")

// abort ends a failed transaction with an abort, as franz-go documents
// (TryAbort re-initialises the producer ID when it must); false if that
// failed too.
func (l *txnLoop) abort(cl *kgo.Client) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := cl.AbortBufferedRecords(ctx); err != nil {
		l.note("%s: abort buffered records: %v", l.name, err)
		return false
	}
	if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		l.note("%s: abort: %v", l.name, err)
		return false
	}
	return true
}

// pause holds the loop between transactions and waits until it is there.
func (l *txnLoop) pause() {
	l.t.Helper()
	l.paused.Store(true)
	waitCond(l.t, 40*time.Second, l.name+" to pause between transactions", func() error {
		if !l.idle.Load() {
			return errors.New("still in a transaction")
		}
		return nil
	})
}

func (l *txnLoop) resume() { l.paused.Store(false) }

// halt stops the loop after its current transaction.
func (l *txnLoop) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	select {
	case <-l.done:
	case <-time.After(40 * time.Second):
		l.t.Errorf("%s did not stop", l.name)
	}
}

func (l *txnLoop) snapshot() []*txnAttempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.attempts)
}

// ---- checking ----

// readCommitted reads partitions 0..n-1 of topic at read_committed from
// the start until it has read a sentinel it first appends to each (it is
// reachable only when no transaction before it is open). It returns the
// values by partition, sentinels left out.
func readCommitted(t *testing.T, addr, topic string, n int32, tag string) map[int32][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	var rs []*kgo.Record
	for p := range n {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(tag)})
	}
	if err := w.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce sentinels: %v", err)
	}
	w.Close()
	offsets := map[int32]kgo.Offset{}
	for p := range n {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	defer cl.Close()
	out := map[int32][]string{}
	done := map[int32]bool{}
	for len(done) < int(n) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read_committed: the sentinels of %d of %d partitions seen before the timeout (the last stable offset is stuck?)", len(done), n)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s-%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			v := string(r.Value)
			switch {
			case v == tag:
				done[r.Partition] = true
			case done[r.Partition]:
				t.Errorf("partition %d: %q at offset %d after the sentinel", r.Partition, v, r.Offset)
			case !strings.HasPrefix(v, "sentinel-"):
				out[r.Partition] = append(out[r.Partition], v)
			}
		})
	}
	return out
}

// checkTxnOutcomes compares what read_committed returned with the
// attempts: committed ones entirely, exactly once; aborted ones not at
// all; unknown ones all or nothing; per partition in transaction order.
// It returns how many unknown attempts turned out committed.
func checkTxnOutcomes(t *testing.T, when string, got map[int32][]string, attempts []*txnAttempt) (unknownCommitted int) {
	t.Helper()
	var problems []string
	report := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	where := map[string]int{} // value -> times read
	last := map[string]string{}
	for p, vs := range got {
		for _, v := range vs {
			where[v]++
			var name string
			var n, vp, i int
			if _, err := fmt.Sscanf(strings.Replace(v, "-t", " ", 1), "%s %06d-p%d-%d", &name, &n, &vp, &i); err != nil || int32(vp) != p {
				report("partition %d holds %q, which no producer sent there", p, v)
				continue
			}
			key := fmt.Sprintf("%s/%d", name, p)
			if prev, ok := last[key]; ok && prev >= v {
				report("partition %d: %q after %q (out of transaction order)", p, v, prev)
			}
			last[key] = v
		}
	}
	sent := map[string]bool{}
	for _, a := range attempts {
		found := 0
		for _, v := range a.values {
			sent[v] = true
			if where[v] > 1 {
				report("%q read %d times", v, where[v])
			}
			if where[v] > 0 {
				found++
			}
		}
		switch {
		case a.outcome == txnCommitted || a.answered:
			if found != len(a.values) {
				report("%s txn %d committed (outcome %d, broker answered %v): %d of its %d records read", a.producer, a.n, a.outcome, a.answered, found, len(a.values))
			}
		case a.outcome == txnAborted:
			if found != 0 {
				report("%s txn %d never committed: %d of its %d records read", a.producer, a.n, found, len(a.values))
			}
		case found == len(a.values) && found > 0:
			unknownCommitted++
		case found != 0:
			report("%s txn %d (outcome unknown to the producer): %d of its %d records read, want all or none", a.producer, a.n, found, len(a.values))
		}
	}
	for v := range where {
		if !sent[v] {
			report("%q read but never sent", v)
		}
	}
	if len(problems) > 0 {
		t.Errorf("%s: %d attempts checked against read_committed:\n  %s", when, len(attempts), strings.Join(problems, "\n  "))
	}
	return unknownCommitted
}

// openTransactions lists the transactional IDs not in a complete state.
func openTransactions(ctx context.Context, adm *kadm.Client) ([]string, error) {
	ls, err := adm.ListTransactions(ctx, nil, nil)
	if err != nil {
		return nil, err
	}
	var open []string
	for id, l := range ls {
		switch l.State {
		case "Empty", "CompleteCommit", "CompleteAbort":
		default:
			open = append(open, id+"="+l.State)
		}
	}
	slices.Sort(open)
	return open, nil
}

// checkStable waits until no transaction is open, then checks that the
// last stable offset of every partition is its high watermark.
func checkStable(t *testing.T, addr, topic string, when string) {
	t.Helper()
	cl := newClient(t, addr)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	waitCond(t, 20*time.Second, when+": every transaction complete", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		open, err := openTransactions(ctx, adm)
		if err == nil && len(open) > 0 {
			err = fmt.Errorf("open: %v", open)
		}
		return err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hw, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("%s: list end offsets: %v", when, err)
	}
	lso, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("%s: list last stable offsets: %v", when, err)
	}
	hw.Each(func(o kadm.ListedOffset) {
		s, ok := lso.Lookup(topic, o.Partition)
		if o.Err != nil || !ok || s.Err != nil || s.Offset != o.Offset {
			t.Errorf("%s: partition %d: last stable offset %d (%v), high watermark %d (%v); with no transaction open they must be equal",
				when, o.Partition, s.Offset, s.Err, o.Offset, o.Err)
		}
	})
}

// ---- the test ----

// TestSIGKILLDuringTransactions: two transactional producers loop over
// four partitions while the broker is SIGKILLed four times: at an
// arbitrary moment, right after it answered a commit (the answer never
// reaches the producer), right after a commit request left a producer,
// and once more at an arbitrary moment. After each restart the producers
// must make progress again; then, held between transactions, no
// transaction may be left open, the last stable offsets must equal the
// high watermarks, and read_committed must hold what checkTxnOutcomes
// says. The raw log must be well-formed, without a record twice.
func TestSIGKILLDuringTransactions(t *testing.T) {
	const (
		topic      = "txn-crash"
		partitions = 4
		perRound   = 8 // commits of each producer before each kill
	)
	b := newBroker(t, txnOverrides...)
	b.start()
	createTopic(t, b.addr(), topic, partitions, nil)
	tr := &endTxnTrap{}
	loops := []*txnLoop{
		startTxnLoop(t, b.addr(), topic, partitions, "tx-a", tr),
		startTxnLoop(t, b.addr(), topic, partitions, "tx-b", tr),
	}
	attempts := func() []*txnAttempt {
		var all []*txnAttempt
		for _, l := range loops {
			all = append(all, l.snapshot()...)
		}
		return all
	}
	waitCommits := func(what string, more int64) {
		t.Helper()
		target := make([]int64, len(loops))
		for i, l := range loops {
			target[i] = l.commits.Load() + more
		}
		waitCond(t, 40*time.Second, what, func() error {
			for i, l := range loops {
				if c := l.commits.Load(); c < target[i] {
					return fmt.Errorf("%s has %d commits of %d", l.name, c, target[i])
				}
			}
			return nil
		})
	}
	// orphan leaves a transaction open on every partition, its producer
	// gone for good: the restarted coordinator must abort it when its
	// timeout (counted from its start, before the kill) passes.
	var orphans []*txnAttempt
	orphan := func(round int) {
		t.Helper()
		name := fmt.Sprintf("tx-orphan%d", round)
		cl := newClient(t, b.addr(), kgo.TransactionalID(name), kgo.TransactionTimeout(3*time.Second),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		a := &txnAttempt{producer: name, outcome: txnAborted}
		var rs []*kgo.Record
		for p := range int32(partitions) {
			v := fmt.Sprintf("%s-t%06d-p%d-0", name, 0, p)
			a.values = append(a.values, v)
			rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("orphan produce: %v", err)
		}
		cl.Close()
		orphans = append(orphans, a)
	}

	unknownCommitted := 0
	kills := []string{"arbitrary", "answer", "request", "open", "arbitrary",
		"request", "answer", "open+orphan", "request", "arbitrary"}
	for i, how := range kills {
		round := i + 1
		waitCommits(fmt.Sprintf("round %d: %d commits of each producer", round, perRound), perRound)
		if strings.HasSuffix(how, "+orphan") {
			orphan(round)
		}
		switch strings.TrimSuffix(how, "+orphan") {
		case "answer":
			at := killByTrap(t, b, tr, trapResponse)
			tr.mu.Lock()
			code := tr.code
			tr.mu.Unlock()
			if code == 0 {
				at.answered = true // the commit is durable: the broker said so
			}
			t.Logf("round %d: killed after the broker answered %s txn %d's commit (error code %d), before the producer read it", round, at.producer, at.n, code)
		case "request":
			at := killByTrap(t, b, tr, trapRequest)
			t.Logf("round %d: killed right after %s txn %d's commit request was written", round, at.producer, at.n)
		case "open":
			at := killByTrap(t, b, tr, trapOpen)
			t.Logf("round %d: killed with %s txn %d open; its producer is replaced by a new client", round, at.producer, at.n)
		default:
			b.kill()
		}
		b.start()
		waitCommits(fmt.Sprintf("round %d: the producers to commit again after the restart", round), 2)

		for _, l := range loops {
			l.pause()
		}
		checkStable(t, b.addr(), topic, fmt.Sprintf("round %d", round))
		got := readCommitted(t, b.addr(), topic, partitions, fmt.Sprintf("sentinel-%d", round))
		unknownCommitted = checkTxnOutcomes(t, fmt.Sprintf("round %d (%s)", round, how), got, append(attempts(), orphans...))
		for _, l := range loops {
			l.resume()
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	for _, l := range loops {
		l.halt()
	}
	checkStable(t, b.addr(), topic, "the end")
	all := append(attempts(), orphans...)
	got := readCommitted(t, b.addr(), topic, partitions, "sentinel-end")
	unknownCommitted = checkTxnOutcomes(t, "the end", got, all)

	// The raw log: well-formed batches, contiguous offsets, and no data
	// record twice (a retried produce must be deduplicated, aborted or
	// not).
	logs := readLog(t, b.addr(), topic, partitions)
	seen := map[string]int64{}
	for p, pl := range logs {
		for _, r := range pl.records() {
			if !strings.HasPrefix(r.value, "tx-") {
				continue // markers, sentinels
			}
			if at, dup := seen[r.value]; dup {
				t.Errorf("partition %d: %q at offsets %d and %d", p, r.value, at, r.offset)
			}
			seen[r.value] = r.offset
		}
	}

	var committed, aborted, unknown, recreated int
	for _, a := range all {
		switch a.outcome {
		case txnCommitted:
			committed++
		case txnAborted:
			aborted++
		default:
			unknown++
		}
	}
	for _, l := range loops {
		l.mu.Lock()
		recreated += l.recreate
		t.Logf("%s: %d attempts; errors: %s", l.name, len(l.attempts), strings.Join(l.errs, "; "))
		l.mu.Unlock()
	}
	out := b.out.String()
	t.Logf("%d transactions committed, %d aborted before their commit, %d with an unknown outcome (%d of them committed); clients recreated %d times; high watermarks %v; the broker completed %d prepared transactions at start and aborted %d timed-out ones",
		committed, aborted, unknown, unknownCommitted, recreated, hwms(logs),
		strings.Count(out, "completing transaction interrupted by a restart"), strings.Count(out, "aborting timed-out transaction"))
}
