package e2e

// Consumer group failure scenarios (issue 3, item 6) with real franz-go
// members, classic (cooperative-sticky) and KIP-848: an at-least-once ETL
// loop while members join, leave and die mid-stream, and a member whose
// heartbeats stop being removed after its session timeout.
//
// A member "dies" by losing its network at once (netCut): every connection
// of its client is closed and no byte leaves it afterwards, so the broker
// gets no LeaveGroup, no final heartbeat and no commit — what it sees when
// a consumer process is killed. The client object lives on in the test only
// to be closed at the end, its network still cut.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	failSessionTimeout = 1500 * time.Millisecond
	failHeartbeat      = 200 * time.Millisecond
)

// failureProps lowers the group timeouts so a dead member is noticed in
// about a second and a half, on both protocols.
func failureProps() map[string]string {
	return map[string]string{
		"group.min.session.timeout.ms":         "500",
		"group.consumer.session.timeout.ms":    fmt.Sprint(failSessionTimeout.Milliseconds()),
		"group.consumer.heartbeat.interval.ms": fmt.Sprint(failHeartbeat.Milliseconds()),
	}
}

type groupProtocol struct {
	name   string
	kip848 bool
	opts   []kgo.Opt
}

var failureProtocols = []groupProtocol{
	{"classic-cooperative-sticky", false, []kgo.Opt{kgo.Balancers(kgo.CooperativeStickyBalancer())}},
	{"kip848", true, []kgo.Opt{kgo.ServerSideBalancer()}},
}

// ---- a client whose network can die ----

var errNetCut = errors.New("network cut: this member is dead")

// netCut is the network of one client. After cut, its connections are
// closed and no new one opens; cut waits for writes under way, so nothing
// the client writes afterwards reaches the broker.
type netCut struct {
	mu    sync.RWMutex
	isCut bool
	conns []net.Conn
}

func (n *netCut) dial(ctx context.Context, network, host string) (net.Conn, error) {
	n.mu.RLock()
	cut := n.isCut
	n.mu.RUnlock()
	if cut {
		return nil, errNetCut
	}
	c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.isCut {
		c.Close()
		return nil, errNetCut
	}
	n.conns = append(n.conns, c)
	return &cutConn{Conn: c, n: n}, nil
}

func (n *netCut) cut() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.isCut = true
	for _, c := range n.conns {
		c.Close()
	}
	n.conns = nil
}

func (n *netCut) dead() bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.isCut
}

type cutConn struct {
	net.Conn
	n *netCut
}

func (c *cutConn) Write(b []byte) (int, error) {
	c.n.mu.RLock()
	defer c.n.mu.RUnlock()
	if c.n.isCut {
		return 0, errNetCut
	}
	return c.Conn.Write(b)
}

// ---- the processing ledger ----

// processing is one time a record was processed.
type processing struct {
	member     string
	partition  int32
	offset     int64
	afterDeath bool // processed after a member died
}

// ledger is the ETL sink shared by the members: every processing of every
// record, by record number.
type ledger struct {
	mu    sync.Mutex
	seen  map[int][]processing
	death bool
}

func newLedger() *ledger { return &ledger{seen: map[int][]processing{}} }

func (l *ledger) process(member string, r *kgo.Record) error {
	var i int
	if _, err := fmtSscan(string(r.Value), &i); err != nil {
		return fmt.Errorf("record %s-%d@%d has an unexpected value %q", r.Topic, r.Partition, r.Offset, r.Value)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[i] = append(l.seen[i], processing{member: member, partition: r.Partition, offset: r.Offset, afterDeath: l.death})
	return nil
}

func (l *ledger) distinct() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

func (l *ledger) markDeath() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.death = true
}

// ---- a group member running an at-least-once loop ----

// etlMember polls, processes into the ledger, commits what it processed
// (autocommit off) and only then lets the group rebalance
// (BlockRebalanceOnPoll), so a member that stays alive never leaves
// processed records uncommitted behind a rebalance.
type etlMember struct {
	t        *testing.T
	name     string
	cl       *kgo.Client
	net      *netCut
	stopPoll context.CancelFunc
	die      chan struct{} // closed: die after processing the next records, before committing them
	done     chan struct{} // closed when the loop has ended
	count    atomic.Int64  // records processed

	// Set by the loop before done is closed, when the member died.
	diedAt      time.Time
	uncommitted []*kgo.Record // processed, never committed

	closeOnce sync.Once
}

func startETLMember(t *testing.T, tb *testBroker, name, group, topic string, p groupProtocol, l *ledger) *etlMember {
	t.Helper()
	nc := &netCut{}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(tb.addr), kgo.Dialer(nc.dial), kgo.ClientID(name),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(failSessionTimeout), kgo.HeartbeatInterval(failHeartbeat),
		kgo.RebalanceTimeout(5 * time.Second),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}, p.opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	pollCtx, stopPoll := context.WithCancel(context.Background())
	// Commits are bounded on their own: a member told to stop still
	// commits what it has processed.
	commitCtx, cancelCommits := context.WithTimeout(context.Background(), 30*time.Second)
	m := &etlMember{t: t, name: name, cl: cl, net: nc, stopPoll: stopPoll, die: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer cancelCommits()
		m.run(pollCtx, commitCtx, l)
	}()
	t.Cleanup(m.close)
	return m
}

func (m *etlMember) run(pollCtx, commitCtx context.Context, l *ledger) {
	defer close(m.done)
	for {
		fs := m.cl.PollRecords(pollCtx, 200)
		fs.EachError(func(topic string, p int32, err error) {
			if pollCtx.Err() != nil || m.net.dead() || errors.Is(err, kgo.ErrClientClosed) {
				return
			}
			m.t.Errorf("%s: fetch %s-%d: %v", m.name, topic, p, err)
		})
		recs := fs.Records()
		if len(recs) == 0 {
			m.cl.AllowRebalance()
			if pollCtx.Err() != nil {
				return
			}
			continue
		}
		for _, r := range recs {
			if err := l.process(m.name, r); err != nil {
				m.t.Errorf("%s: %v", m.name, err)
			}
		}
		m.count.Add(int64(len(recs)))
		select {
		case <-m.die:
			m.net.cut()
			m.diedAt = time.Now()
			m.uncommitted = recs
			l.markDeath()
			return
		default:
		}
		if err := m.cl.CommitRecords(commitCtx, recs...); err != nil {
			if m.net.dead() {
				return
			}
			m.t.Errorf("%s: committing %d processed records: %v", m.name, len(recs), err)
		}
		m.cl.AllowRebalance()
	}
}

// memberID is the member's ID in the group ("" before it has one).
func (m *etlMember) memberID() string {
	id, _ := m.cl.GroupMetadata()
	return id
}

// leave stops the member cleanly: it finishes and commits the records in
// hand, then leaves the group (LeaveGroup, or a heartbeat with epoch -1).
func (m *etlMember) leave() {
	m.t.Helper()
	m.stopPoll()
	within(m.t, 10*time.Second, m.name+"'s loop to end", func() { <-m.done })
	within(m.t, 10*time.Second, m.name+" to leave the group", m.close)
}

// kill cuts the member's network now, wherever its loop is.
func (m *etlMember) kill() { m.net.cut() }

// close ends the loop and the client. A dead member's client can reach
// nobody: its leave is given up at once.
func (m *etlMember) close() {
	m.closeOnce.Do(func() {
		m.stopPoll()
		<-m.done
		if m.net.dead() {
			gone, cancel := context.WithCancel(context.Background())
			cancel()
			_ = m.cl.LeaveGroupContext(gone)
		}
		m.cl.CloseAllowingRebalance()
		// Under heavy CPU load goleak has twice found a goroutine of
		// franz-go's LeaveGroupContext still waiting for this client's
		// poll block to be released when the package ended (the poll that
		// set it was not found). Releasing once more after Close, which is
		// harmless, lets such a goroutine finish its leave and end.
		m.cl.AllowRebalance()
	})
}

// within runs fn and fails the test if it takes longer than d.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// ---- what the broker says about the group ----

// groupView is a group as DescribeGroups (classic) or
// ConsumerGroupDescribe (KIP-848) shows it.
type groupView struct {
	state   string
	members map[string][]int32 // member ID -> its partitions of the topic, sorted
}

func describeGroup(ctx context.Context, adm *kadm.Client, group, topic string, kip848 bool) (groupView, error) {
	v := groupView{members: map[string][]int32{}}
	if kip848 {
		gs, err := adm.DescribeConsumerGroups(ctx, group)
		g, err := describedOne(gs, err, group, func(g kadm.DescribedConsumerGroup) error { return g.Err })
		if err != nil {
			return v, err
		}
		v.state = g.State
		for _, m := range g.Members {
			var ps []int32
			for p := range m.Assignment[topic] {
				ps = append(ps, p)
			}
			slices.Sort(ps)
			v.members[m.MemberID] = ps
		}
		return v, nil
	}
	gs, err := adm.DescribeGroups(ctx, group)
	g, err := describedOne(gs, err, group, func(g kadm.DescribedGroup) error { return g.Err })
	if err != nil {
		return v, err
	}
	v.state = g.State
	for _, m := range g.Members {
		var ps []int32
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, at := range c.Topics {
				if at.Topic == topic {
					ps = append(ps, at.Partitions...)
				}
			}
		}
		slices.Sort(ps)
		v.members[m.MemberID] = ps
	}
	return v, nil
}

// describedOne is group's entry of a describe response (classic or
// KIP-848) that came back with err, or why there is none.
func describedOne[G any](gs map[string]G, err error, group string, groupErr func(G) error) (G, error) {
	var g G
	if err != nil {
		return g, err
	}
	g, ok := gs[group]
	if !ok {
		return g, fmt.Errorf("group %s missing from the describe response", group)
	}
	return g, groupErr(g)
}

func (v groupView) String() string {
	ids := make([]string, 0, len(v.members))
	for id := range v.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	fmt.Fprintf(&b, "state %s", v.state)
	for _, id := range ids {
		fmt.Fprintf(&b, ", %s: %v", id, v.members[id])
	}
	return b.String()
}

// settledOn is nil when the group is Stable with exactly the given members,
// each owning at least one partition and every partition of the topic
// owned by exactly one of them; otherwise it says what is not so.
func (v groupView) settledOn(ms []*etlMember, partitions int32) error {
	if v.state != "Stable" {
		return fmt.Errorf("not Stable (%v)", v)
	}
	if len(v.members) != len(ms) {
		return fmt.Errorf("%d members, want %d (%v)", len(v.members), len(ms), v)
	}
	owner := map[int32]string{}
	for _, m := range ms {
		ps, ok := v.members[m.memberID()]
		if !ok {
			return fmt.Errorf("%s (%q) is not a member (%v)", m.name, m.memberID(), v)
		}
		if len(ps) == 0 {
			return fmt.Errorf("%s owns no partition (%v)", m.name, v)
		}
		for _, p := range ps {
			if o, dup := owner[p]; dup {
				return fmt.Errorf("partition %d owned by %s and %s (%v)", p, o, m.name, v)
			}
			owner[p] = m.name
		}
	}
	for p := int32(0); p < partitions; p++ {
		if _, ok := owner[p]; !ok {
			return fmt.Errorf("partition %d unassigned (%v)", p, v)
		}
	}
	return nil
}

// waitUntil polls cond until it returns nil, failing the test with cond's
// last answer after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitSettled(t *testing.T, adm *kadm.Client, group, topic string, partitions int32, kip848 bool, ms ...*etlMember) groupView {
	t.Helper()
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.name
	}
	var v groupView
	waitUntil(t, 20*time.Second, fmt.Sprintf("group %s to settle on %v", group, names), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		if v, err = describeGroup(ctx, adm, group, topic, kip848); err != nil {
			return err
		}
		return v.settledOn(ms, partitions)
	})
	return v
}

// ---- a producer paced by the consumers ----

// pacedProducer writes records 0..n-1 (value val(i)) in chunks, never more
// than maxLag ahead of what the members have processed nor past the limit
// the test allows, so the stream is still flowing when the test makes
// members join, leave and die.
type pacedProducer struct {
	allowed atomic.Int64
	written atomic.Int64
	done    chan struct{}
	err     error // valid once done is closed
}

func startPacedProducer(ctx context.Context, tb *testBroker, topic string, n, maxLag int, l *ledger) *pacedProducer {
	pp := &pacedProducer{done: make(chan struct{})}
	cl := tb.client(kgo.DefaultProduceTopic(topic))
	go func() {
		defer close(pp.done)
		const chunk = 100
		for i := 0; i < n; i += chunk {
			end := min(i+chunk, n)
			for int64(end) > pp.allowed.Load() || end-l.distinct() > maxLag {
				select {
				case <-ctx.Done():
					pp.err = fmt.Errorf("producer stopped at record %d: %w", i, ctx.Err())
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
			recs := make([]*kgo.Record, 0, end-i)
			for j := i; j < end; j++ {
				recs = append(recs, &kgo.Record{Key: key(j), Value: val(j)})
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				pp.err = fmt.Errorf("producing records %d-%d: %w", i, end-1, err)
				return
			}
			pp.written.Store(int64(end))
		}
	}()
	return pp
}

func (pp *pacedProducer) allow(n int) { pp.allowed.Store(int64(n)) }

// ---- the tests ----

// TestGroupAtLeastOnceETL runs three members through a paced stream of
// numbered records on twelve partitions; mid-stream a fourth joins, one
// leaves cleanly and one dies between processing a batch and committing
// it. Every record must be processed, and the only records processed twice
// must be exactly the batch the dead member processed and never committed,
// reprocessed by a survivor once its session timed out and its partitions
// moved.
func TestGroupAtLeastOnceETL(t *testing.T) {
	for _, p := range failureProtocols {
		t.Run(p.name, func(t *testing.T) { testAtLeastOnceETL(t, p) })
	}
}

func testAtLeastOnceETL(t *testing.T, p groupProtocol) {
	const (
		topic      = "etl"
		group      = "etl-group"
		partitions = 12
		n          = 6000
	)
	tb := startBroker(t, t.TempDir(), failureProps())
	tb.createTopic(topic, partitions, nil)
	adm := tb.admin()
	l := newLedger()
	settle := func(ms ...*etlMember) groupView {
		t.Helper()
		return waitSettled(t, adm, group, topic, partitions, p.kip848, ms...)
	}
	processed := func(atLeast int) {
		t.Helper()
		waitUntil(t, 20*time.Second, fmt.Sprintf("%d records processed", atLeast), func() error {
			if d := l.distinct(); d < atLeast {
				return fmt.Errorf("%d processed", d)
			}
			return nil
		})
	}

	m1 := startETLMember(t, tb, "m1", group, topic, p, l)
	m2 := startETLMember(t, tb, "m2", group, topic, p, l)
	m3 := startETLMember(t, tb, "m3", group, topic, p, l)
	settle(m1, m2, m3)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pp := startPacedProducer(ctx, tb, topic, n, 600, l)
	defer func() { cancel(); <-pp.done }()

	// A member joins mid-stream.
	pp.allow(1500)
	processed(1000)
	m4 := startETLMember(t, tb, "m4", group, topic, p, l)
	settle(m1, m2, m3, m4)
	pp.allow(2500)
	processed(2000)
	waitUntil(t, 10*time.Second, "m4 to process records", func() error {
		if m4.count.Load() == 0 {
			return errors.New("m4 processed nothing")
		}
		return nil
	})

	// A member leaves cleanly: it commits what it processed, then leaves.
	m2.leave()
	settle(m1, m3, m4)
	pp.allow(3500)
	processed(3000)

	// A member dies after processing a batch, before committing it.
	m3ID := m3.memberID()
	close(m3.die)
	pp.allow(n)
	within(t, 10*time.Second, "m3 to process a batch and die", func() { <-m3.done })
	if len(m3.uncommitted) == 0 {
		t.Fatal("m3 died without a processed, uncommitted batch")
	}
	waitUntil(t, 10*time.Second, "the dead member to be removed from the group", func() error {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer dcancel()
		v, err := describeGroup(dctx, adm, group, topic, p.kip848)
		if err != nil {
			return err
		}
		if _, ok := v.members[m3ID]; ok {
			return fmt.Errorf("m3 still a member (%v)", v)
		}
		return nil
	})
	removedAfter := time.Since(m3.diedAt)
	checkRemovalTime(t, removedAfter)
	settle(m1, m4)

	// The survivors process the rest of the stream and commit it.
	within(t, 30*time.Second, "the producer to finish", func() { <-pp.done })
	if pp.err != nil {
		t.Fatal(pp.err)
	}
	processed(n)
	waitCommittedAtEnd(t, adm, group, topic, partitions)
	m1.leave()
	m4.leave()

	// Every record processed; duplicates exactly the dead member's
	// uncommitted batch, each processed once more by a survivor.
	lost := map[int]bool{} // record numbers
	for _, r := range m3.uncommitted {
		var i int
		if _, err := fmtSscan(string(r.Value), &i); err != nil {
			t.Fatal(err)
		}
		lost[i] = true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	dups, bad := 0, 0
	errorf := func(format string, args ...any) { // the first few, then a count
		t.Helper()
		if bad++; bad <= 20 {
			t.Errorf(format, args...)
		}
	}
	defer func() {
		if bad > 20 {
			t.Errorf("... %d such errors in all", bad)
		}
	}()
	survivorParts := map[int32]bool{}
	for i := 0; i < n; i++ {
		ps := l.seen[i]
		for _, pr := range ps {
			if pr.afterDeath && (pr.member == m1.name || pr.member == m4.name) {
				survivorParts[pr.partition] = true
			}
		}
		switch {
		case len(ps) == 0:
			errorf("record %d never processed", i)
		case len(ps) > 1:
			dups++
			if !lost[i] {
				errorf("record %d processed %d times (%+v) but it is not in the dead member's uncommitted batch", i, len(ps), ps)
				continue
			}
			if len(ps) != 2 || ps[0].member != m3.name || ps[1].member == m3.name ||
				ps[0].partition != ps[1].partition || ps[0].offset != ps[1].offset {
				errorf("record %d of the dead member's uncommitted batch: processings %+v, want m3's then one survivor's at the same offset", i, ps)
			}
		}
	}
	for i := range lost {
		if len(l.seen[i]) < 2 {
			errorf("record %d: processed by the dead member, never committed, yet not processed again (%+v)", i, l.seen[i])
		}
	}
	if len(survivorParts) != partitions {
		errorf("after the death the survivors processed records of %d partitions, want all %d", len(survivorParts), partitions)
	}
	t.Logf("%d records, %d processed twice (the dead member's uncommitted batch of %d); dead member removed %v after it died; processed: m1 %d, m2 %d, m3 %d, m4 %d",
		n, dups, len(m3.uncommitted), removedAfter.Round(time.Millisecond), m1.count.Load(), m2.count.Load(), m3.count.Load(), m4.count.Load())
}

// checkRemovalTime: the broker must keep a silent member until its session
// times out (a closed connection is not a leave), and remove it then. Its
// last heartbeat may have come up to a heartbeat interval (plus scheduling
// slack) before it died.
func checkRemovalTime(t *testing.T, after time.Duration) {
	t.Helper()
	low := failSessionTimeout - failHeartbeat - 300*time.Millisecond
	high := failSessionTimeout + 3*time.Second
	if after < low || after > high {
		t.Errorf("dead member removed %v after it died; its session timeout is %v (want between %v and %v)", after, failSessionTimeout, low, high)
	}
}

// waitCommittedAtEnd waits until the group's committed offset of every
// partition is the partition's end offset.
func waitCommittedAtEnd(t *testing.T, adm *kadm.Client, group, topic string, partitions int32) {
	t.Helper()
	waitUntil(t, 10*time.Second, "commits up to the end of every partition", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return err
		}
		committed, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return err
		}
		for p := int32(0); p < partitions; p++ {
			end, ok := ends.Lookup(topic, p)
			if !ok || end.Err != nil {
				return fmt.Errorf("no end offset of partition %d: %v", p, end.Err)
			}
			c, ok := committed.Lookup(topic, p)
			if !ok || c.Err != nil || c.At != end.Offset {
				return fmt.Errorf("partition %d: committed %d (%v), end %d", p, c.At, c.Err, end.Offset)
			}
		}
		return nil
	})
}

// TestGroupMemberSessionTimeout: a member that stops heartbeating (its
// network is gone; it never leaves) stays in the group until its session
// timeout, is then removed, and its partitions move to the survivor, which
// consumes from all of them.
func TestGroupMemberSessionTimeout(t *testing.T) {
	for _, p := range failureProtocols {
		t.Run(p.name, func(t *testing.T) { testMemberSessionTimeout(t, p) })
	}
}

func testMemberSessionTimeout(t *testing.T, p groupProtocol) {
	const (
		topic      = "hb"
		group      = "hb-group"
		partitions = 6
	)
	tb := startBroker(t, t.TempDir(), failureProps())
	tb.createTopic(topic, partitions, nil)
	adm := tb.admin()
	l := newLedger()
	live := startETLMember(t, tb, "live", group, topic, p, l)
	victim := startETLMember(t, tb, "victim", group, topic, p, l)
	before := waitSettled(t, adm, group, topic, partitions, p.kip848, live, victim)
	victimID := victim.memberID()
	victimParts := before.members[victimID]

	victim.kill()
	killed := time.Now()
	var seenAfterKill bool
	waitUntil(t, 10*time.Second, "the silent member to be removed", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		v, err := describeGroup(ctx, adm, group, topic, p.kip848)
		if err != nil {
			return err
		}
		if _, ok := v.members[victimID]; ok {
			seenAfterKill = true
			return fmt.Errorf("still a member (%v)", v)
		}
		return nil
	})
	removedAfter := time.Since(killed)
	if !seenAfterKill {
		t.Errorf("the member was gone at the first describe after its network was cut; it must stay until its session times out")
	}
	checkRemovalTime(t, removedAfter)
	after := waitSettled(t, adm, group, topic, partitions, p.kip848, live)
	if got := after.members[live.memberID()]; len(got) != partitions {
		t.Fatalf("survivor owns %v, want all %d partitions", got, partitions)
	}

	// The survivor consumes what is written to every partition now,
	// including the ones the dead member had.
	prod := tb.client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for i := 0; i < partitions; i++ {
		recs = append(recs, &kgo.Record{Partition: int32(i), Key: key(i), Value: val(i)})
	}
	if err := prod.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the survivor to consume a record of every partition", func() error {
		l.mu.Lock()
		defer l.mu.Unlock()
		for i := 0; i < partitions; i++ {
			ok := false
			for _, pr := range l.seen[i] {
				ok = ok || pr.member == live.name
			}
			if !ok {
				return fmt.Errorf("record %d (partition %d) not consumed by the survivor", i, i)
			}
		}
		return nil
	})
	t.Logf("victim owned %v; removed %v after its network was cut (session timeout %v)", victimParts, removedAfter.Round(time.Millisecond), failSessionTimeout)
}

// TestKIP848StaticMemberLeaveKeepsPartitions: a static member (with an
// instance ID) that shuts down leaves with epoch -2, "I will be back"
// (KIP-848, as KIP-345 for classic groups): the coordinator keeps it and
// its partitions until its session times out, so a restarted incarnation
// can take them back without a rebalance; only then do they move.
func TestKIP848StaticMemberLeaveKeepsPartitions(t *testing.T) {
	const (
		topic      = "static"
		group      = "static-group"
		partitions = 6
		session    = 3 * time.Second
	)
	props := failureProps()
	props["group.consumer.session.timeout.ms"] = fmt.Sprint(session.Milliseconds())
	tb := startBroker(t, t.TempDir(), props)
	tb.createTopic(topic, partitions, nil)
	adm := tb.admin()
	l := newLedger()
	dynamic := groupProtocol{"kip848", true, []kgo.Opt{kgo.ServerSideBalancer()}}
	static := groupProtocol{"kip848-static", true, []kgo.Opt{kgo.ServerSideBalancer(), kgo.InstanceID("static-a")}}
	a := startETLMember(t, tb, "a", group, topic, static, l)
	b := startETLMember(t, tb, "b", group, topic, dynamic, l)
	before := waitSettled(t, adm, group, topic, partitions, true, a, b)
	aID, bID := a.memberID(), b.memberID()

	a.leave() // a heartbeat with epoch -2
	left := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := describeGroup(ctx, adm, group, topic, true)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(left); took >= session {
		t.Fatalf("describe took %v, longer than the session timeout: nothing to check", took)
	}
	if got, ok := v.members[aID]; !ok || !slices.Equal(got, before.members[aID]) {
		t.Errorf("right after the static member left with epoch -2: it is a member %v with partitions %v, want it kept with %v until its session times out (%v)",
			ok, got, before.members[aID], v)
	}
	if got := v.members[bID]; !slices.Equal(got, before.members[bID]) {
		t.Errorf("right after the static member left with epoch -2 the other member owns %v, want still %v (%v)", got, before.members[bID], v)
	}
	// After the session timeout its partitions move.
	waitSettled(t, adm, group, topic, partitions, true, b)
}
