package crashtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupOverrides keep group rebalances quick: no initial delay, and a
// member left behind by a kill (its LeaveGroup never arrives) expires in a
// second and a half.
var groupOverrides = []string{
	"group.initial.rebalance.delay.ms=0",
	"group.min.session.timeout.ms=500",
	"group.consumer.session.timeout.ms=1500",
	"group.consumer.heartbeat.interval.ms=200",
}

// TestSIGKILLKeepsCommittedOffsets: a group member consumes and commits
// synchronously, batch by batch, while the broker is SIGKILLed. After the
// restart OffsetFetch must return, for every partition, the last
// acknowledged commit (of this member or, if it committed none there, of an
// earlier one) — or, for the partitions of the one commit in flight
// at the kill, that commit's offsets, all of them or none (a commit is one
// batch in __consumer_offsets). A new member then resumes exactly at the
// committed offsets: its first record of each partition is the committed
// one, nothing before it comes again and nothing is skipped. Two kill
// cycles, then a last member reads to the end.
func TestSIGKILLKeepsCommittedOffsets(t *testing.T) {
	for _, p := range []struct {
		name string
		opts []kgo.Opt
	}{
		{"classic-cooperative-sticky", []kgo.Opt{kgo.Balancers(kgo.CooperativeStickyBalancer())}},
		{"kip848", []kgo.Opt{kgo.ServerSideBalancer()}},
	} {
		t.Run(p.name, func(t *testing.T) { testKillKeepsCommits(t, p.opts) })
	}
}

func testKillKeepsCommits(t *testing.T, opts []kgo.Opt) {
	const (
		topic      = "committed"
		group      = "committers"
		partitions = 6
		perRound   = 600 // records committed (acknowledged) before each kill
	)
	b := newBroker(t, groupOverrides...)
	b.start()
	createTopic(t, b.addr(), topic, partitions, nil)
	produced := make([]int, partitions) // records per partition; offsets are 0..n-1
	produce := func(perPartition int) {
		t.Helper()
		cl := newClient(t, b.addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// Ten records per partition a request: small batches, so that
		// fetches of a few hundred bytes interleave the partitions.
		for done := 0; done < perPartition; done += 10 {
			var recs []*kgo.Record
			for p := range int32(partitions) {
				for range min(10, perPartition-done) {
					recs = append(recs, &kgo.Record{Partition: p, Value: []byte(committedValue(p, int64(produced[p])))})
					produced[p]++
				}
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
		}
	}
	produce(500)

	committed := map[int32]int64{} // what the group has committed, as the broker says after a restart
	for round := 1; round <= 2; round++ {
		c := startCommitter(t, b.addr(), group, topic, committed, opts)
		waitCond(t, 20*time.Second, fmt.Sprintf("round %d: %d records committed", round, perRound), func() error {
			if n := c.ackedRecords(); n < perRound {
				return fmt.Errorf("%d committed", n)
			}
			return nil
		})
		b.kill() // while the member goes on committing
		acked, inflight := c.stop()
		c.check(t, round)
		b.start()

		got := fetchCommitted(t, b.addr(), group, topic, partitions)
		checkCommitted(t, round, got, acked, inflight)
		t.Logf("round %d: acknowledged commits %v, in flight at the kill %v, after restart %v", round, acked, inflight, got)
		committed = got
		if t.Failed() {
			t.FailNow()
		}
	}

	// New records after the restarts; a last member reads from the
	// committed offsets to the end of every partition.
	produce(20)
	c := startCommitter(t, b.addr(), group, topic, committed, opts)
	waitCond(t, 20*time.Second, "the last member to read every partition to its end", func() error {
		for p := range int32(partitions) {
			if n := c.nextOffset(p); n != int64(produced[p]) {
				return fmt.Errorf("partition %d read up to %d of %d", p, n, produced[p])
			}
		}
		return nil
	})
	c.stop()
	c.check(t, 3)
	for p := range int32(partitions) {
		if first, ok := c.firstOffset(p); !ok || first != committed[p] {
			t.Errorf("last member: partition %d started at %d (read %v), committed %d", p, first, ok, committed[p])
		}
	}
}

func committedValue(p int32, offset int64) string { return fmt.Sprintf("p%d-%06d", p, offset) }

// committer is a group member that commits every batch it polls before
// polling again, keeping which commits the broker acknowledged. It checks
// that it resumes at the committed offsets and reads without gaps.
type committer struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	start    map[int32]int64 // committed offsets it must resume from (0 if none)
	acked    map[int32]int64 // last acknowledged commit per partition (from start on)
	inflight map[int32]int64 // the commit sent and not acknowledged, nil if none
	nAcked   int64           // records covered by acknowledged commits
	first    map[int32]int64 // first offset read per partition
	next     map[int32]int64 // offset after the last one read per partition
	problems []string        // resume and ordering violations
	endErr   error           // the error that ended the loop, if any

	closeOnce sync.Once
}

func startCommitter(t *testing.T, addr, group, topic string, start map[int32]int64, opts []kgo.Opt) *committer {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(addr), kgo.DialTimeout(time.Second), kgo.AlwaysRetryEOF(), // see newClient
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(1500 * time.Millisecond), kgo.HeartbeatInterval(200 * time.Millisecond),
		kgo.FetchMaxWait(100 * time.Millisecond), kgo.FetchMaxPartitionBytes(512),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &committer{cl: cl, cancel: cancel, done: make(chan struct{}), start: maps.Clone(start),
		acked: maps.Clone(start), first: map[int32]int64{}, next: map[int32]int64{}}
	go c.run(ctx)
	t.Cleanup(func() { c.stop() })
	return c
}

func (c *committer) run(ctx context.Context) {
	defer close(c.done)
	for ctx.Err() == nil {
		fs := c.cl.PollRecords(ctx, 50)
		if ctx.Err() != nil {
			return
		}
		var ferr error
		fs.EachError(func(topic string, p int32, err error) { ferr = fmt.Errorf("fetch %s-%d: %w", topic, p, err) })
		if ferr != nil {
			c.mu.Lock()
			c.endErr = ferr
			c.mu.Unlock()
			return
		}
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		offsets := map[int32]int64{}
		c.mu.Lock()
		for _, r := range recs {
			c.read(r)
			offsets[r.Partition] = max(offsets[r.Partition], r.Offset+1)
		}
		c.inflight = offsets
		c.mu.Unlock()
		err := c.cl.CommitRecords(ctx, recs...)
		c.mu.Lock()
		if err != nil {
			c.endErr = fmt.Errorf("commit %v: %w", offsets, err)
			c.mu.Unlock()
			return
		}
		maps.Copy(c.acked, offsets)
		c.inflight = nil
		c.nAcked += int64(len(recs))
		c.mu.Unlock()
	}
}

// read checks one record against the resume point and the previous
// record of its partition. Called with c.mu held.
func (c *committer) read(r *kgo.Record) {
	p := r.Partition
	if string(r.Value) != committedValue(p, r.Offset) {
		c.problems = append(c.problems, fmt.Sprintf("partition %d offset %d holds %q", p, r.Offset, r.Value))
	}
	if _, ok := c.first[p]; !ok {
		c.first[p] = r.Offset
		if r.Offset != c.start[p] {
			c.problems = append(c.problems, fmt.Sprintf("partition %d: first record read at offset %d, committed offset %d", p, r.Offset, c.start[p]))
		}
	} else if r.Offset != c.next[p] {
		c.problems = append(c.problems, fmt.Sprintf("partition %d: offset %d read after %d", p, r.Offset, c.next[p]-1))
	}
	c.next[p] = r.Offset + 1
}

func (c *committer) ackedRecords() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nAcked
}

func (c *committer) nextOffset(p int32) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next[p]
}

func (c *committer) firstOffset(p int32) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.first[p]
	return o, ok
}

// stop ends the loop and closes the client without waiting for a leave
// (the broker may be dead), and returns the acknowledged commits and the
// commit in flight, if any. The client is gone before the broker restarts,
// so no retry of that commit can reach the new process.
func (c *committer) stop() (acked, inflight map[int32]int64) {
	c.closeOnce.Do(func() {
		c.cancel()
		<-c.done
		gone, cancel := context.WithCancel(context.Background())
		cancel()
		_ = c.cl.LeaveGroupContext(gone)
		c.cl.Close()
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.acked), maps.Clone(c.inflight)
}

// check reports what the member saw wrong while reading.
func (c *committer) check(t *testing.T, round int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.problems {
		if i == 20 {
			t.Errorf("round %d: ... %d problems in all", round, len(c.problems))
			break
		}
		t.Errorf("round %d: %s", round, p)
	}
	if c.nAcked == 0 && round < 3 {
		t.Errorf("round %d: no commit acknowledged (loop ended with %v)", round, c.endErr)
	}
	t.Logf("round %d: member read from %v, committed %d records, loop ended with: %v", round, c.first, c.nAcked, c.endErr)
}

// fetchCommitted returns the group's committed offsets (OffsetFetch),
// retrying while the coordinator loads.
func fetchCommitted(t *testing.T, addr, group, topic string, partitions int32) map[int32]int64 {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addr))
	got := map[int32]int64{}
	waitCond(t, 20*time.Second, "the committed offsets after the restart", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		offs, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			err = offs.Error()
		}
		if err != nil {
			return err
		}
		clear(got)
		var bad []string
		offs.Each(func(o kadm.OffsetResponse) {
			switch {
			case o.Topic != topic:
				bad = append(bad, fmt.Sprintf("unexpected topic %s-%d", o.Topic, o.Partition))
			case o.Partition < 0 || o.Partition >= partitions:
				bad = append(bad, fmt.Sprintf("unexpected partition %d", o.Partition))
			case o.At >= 0:
				got[o.Partition] = o.At
			}
		})
		if bad != nil {
			return errors.New(fmt.Sprint(bad))
		}
		return nil
	})
	return got
}

// checkCommitted compares the offsets fetched after a restart with the
// commits the member saw acknowledged before the kill.
func checkCommitted(t *testing.T, round int, got, acked, inflight map[int32]int64) {
	t.Helper()
	landed := 0 // partitions of the in-flight commit that show its offset
	for p, o := range inflight {
		if got[p] == o && acked[p] != o {
			landed++
		}
	}
	if landed != 0 && landed != countChanged(inflight, acked) {
		t.Errorf("round %d: the commit in flight at the kill (%v) shows on %d of its partitions only: after restart %v, acknowledged before %v",
			round, inflight, landed, got, acked)
	}
	ps := slices.Sorted(maps.Keys(got))
	for p := range acked {
		if _, ok := got[p]; !ok {
			ps = append(ps, p)
		}
	}
	for _, p := range ps {
		g, hasGot := got[p]
		a, hasAcked := acked[p]
		i, hasInflight := inflight[p]
		switch {
		case hasGot && hasAcked && g == a:
		case hasGot && hasInflight && g == i:
		case !hasGot && hasAcked:
			t.Errorf("round %d: partition %d: no committed offset after the restart; %d was acknowledged", round, p, a)
		case !hasAcked && !hasInflight:
			t.Errorf("round %d: partition %d: committed offset %d after the restart, but nothing was committed", round, p, g)
		default:
			t.Errorf("round %d: partition %d: committed offset %d after the restart; acknowledged %d (in flight: %v %d)", round, p, g, a, hasInflight, i)
		}
	}
}

// countChanged is how many partitions of the in-flight commit would move
// the acknowledged offset.
func countChanged(inflight, acked map[int32]int64) int {
	n := 0
	for p, o := range inflight {
		if acked[p] != o {
			n++
		}
	}
	return n
}

// waitCond polls cond until it returns nil, failing the test with its
// last answer after timeout.
func waitCond(t *testing.T, timeout time.Duration, what string, cond func() error) {
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

// TestGroupRidesThroughSIGKILL: two members keep consuming and committing
// while the broker is SIGKILLed and restarted under them. Every record is
// processed, the group ends with everything committed, and a record is
// processed twice only if a member processed it in a batch whose commit
// was not acknowledged (the kill cut it off) before the record was handed
// out again. The group is restored from __consumer_offsets as it was: the
// members keep their member IDs (and KIP-848 members their epochs), as
// with Kafka's coordinator failover, which replays the classic group
// metadata and KIP-848's consumer group records alike.
func TestGroupRidesThroughSIGKILL(t *testing.T) {
	for _, p := range []struct {
		name    string
		classic bool
		opts    []kgo.Opt
	}{
		{"classic-cooperative-sticky", true, []kgo.Opt{kgo.Balancers(kgo.CooperativeStickyBalancer())}},
		{"kip848", false, []kgo.Opt{kgo.ServerSideBalancer()}},
	} {
		t.Run(p.name, func(t *testing.T) { testRideThrough(t, p.classic, p.opts) })
	}
}

func testRideThrough(t *testing.T, classic bool, opts []kgo.Opt) {
	const (
		topic      = "ride"
		group      = "riders"
		partitions = 6
		total      = 6 * 500
		killAt     = 1200 // records processed
	)
	// A KIP-848 member must outlive the restart too.
	b := newBroker(t, append(slices.Clone(groupOverrides), "group.consumer.session.timeout.ms=6000")...)
	b.start()
	createTopic(t, b.addr(), topic, partitions, nil)

	seen := &processedSet{n: map[partitionOffset]int{}}
	riders := []*rider{
		startRider(t, b.addr(), group, topic, "r1", seen, opts),
		startRider(t, b.addr(), group, topic, "r2", seen, opts),
	}
	waitCond(t, 20*time.Second, "both members to own partitions", func() error {
		return groupSpread(b.addr(), group, topic, partitions, !classic, len(riders))
	})
	// The producer stays at most 300 records ahead of the members, so
	// records are flowing, and commits with them, when the broker dies;
	// it lives through the kill (an idempotent producer's retries are
	// not duplicated).
	produced := make([]int64, partitions) // the producer's until prodDone delivers
	prodDone := make(chan error, 1)
	prodExited := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	t.Cleanup(func() { cancel(); <-prodExited })
	go func() {
		defer close(prodExited)
		prodDone <- func() error {
			cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr()), kgo.DialTimeout(time.Second), kgo.AlwaysRetryEOF(), // see newClient
				kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
				kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err != nil {
				return err
			}
			defer cl.Close()
			for sent := 0; sent < total; sent += 6 * 10 {
				for sent-seen.distinct() > 300 {
					select {
					case <-ctx.Done():
						return fmt.Errorf("producer waiting for the members at %d records: %w", sent, ctx.Err())
					case <-time.After(5 * time.Millisecond):
					}
				}
				var recs []*kgo.Record
				for p := range int32(partitions) {
					for range 10 {
						recs = append(recs, &kgo.Record{Partition: p, Value: []byte(committedValue(p, produced[p]))})
						produced[p]++
					}
				}
				if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					return fmt.Errorf("produce: %w", err)
				}
			}
			return nil
		}()
	}()
	waitCond(t, 20*time.Second, fmt.Sprintf("%d records processed, by both members", killAt), func() error {
		if n := seen.distinct(); n < killAt {
			return fmt.Errorf("%d processed", n)
		}
		for _, r := range riders {
			if r.count.Load() == 0 {
				return fmt.Errorf("%s processed nothing", r.name)
			}
		}
		return nil
	})
	idsBefore := memberIDs(t, riders)
	b.kill()
	killedAt := seen.distinct()
	b.start()
	select {
	case err := <-prodDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("the producer did not finish")
	}
	waitCond(t, 20*time.Second, "every record processed", func() error {
		if n := seen.distinct(); n < total {
			return fmt.Errorf("%d of %d processed", n, total)
		}
		return nil
	})
	waitCond(t, 15*time.Second, "everything committed", func() error {
		got := fetchCommitted(t, b.addr(), group, topic, partitions)
		for p := range int32(partitions) {
			if got[p] != produced[p] {
				return fmt.Errorf("committed %v, produced %v", got, produced)
			}
		}
		return nil
	})
	idsAfter := memberIDs(t, riders)
	for _, r := range riders {
		r.stop()
	}
	if !slices.Equal(idsBefore, idsAfter) {
		t.Errorf("member IDs %v before the kill, %v after: the restored group did not keep its members (they were unknown after the restart and joined again)", idsBefore, idsAfter)
	}

	unacked := map[partitionOffset]bool{}
	for _, r := range riders {
		for po := range r.unacked {
			unacked[po] = true
		}
	}
	seen.mu.Lock()
	defer seen.mu.Unlock()
	dups, bad := 0, 0
	for po, n := range seen.n {
		if n < 2 {
			continue
		}
		dups++
		if !unacked[po] {
			if bad++; bad <= 20 {
				t.Errorf("partition %d offset %d processed %d times, but every batch holding it was committed", po.p, po.o, n)
			}
		}
	}
	if bad > 20 {
		t.Errorf("... %d such records in all", bad)
	}
	t.Logf("%d records, killed after %d processed; %d processed twice, %d processed in batches whose commit was not acknowledged; member IDs before the kill %v, after %v",
		total, killedAt, dups, len(unacked), idsBefore, idsAfter)
}

// groupSpread is nil when the group is Stable with n members, each owning
// partitions of topic, and every partition owned.
func groupSpread(addr, group, topic string, partitions int32, kip848 bool, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTimeout(time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var state string
	var owned []kadm.TopicsSet
	if kip848 {
		gs, err := adm.DescribeConsumerGroups(ctx, group)
		if err != nil {
			return err
		}
		g := gs[group]
		state = g.State
		for _, m := range g.Members {
			owned = append(owned, m.Assignment)
		}
	} else {
		gs, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return err
		}
		g := gs[group]
		state = g.State
		for _, m := range g.Members {
			s := kadm.TopicsSet{}
			if c, ok := m.Assigned.AsConsumer(); ok {
				for _, at := range c.Topics {
					s.Add(at.Topic, at.Partitions...)
				}
			}
			owned = append(owned, s)
		}
	}
	all := kadm.TopicsSet{}
	for _, s := range owned {
		if len(s[topic]) == 0 {
			return fmt.Errorf("a member owns nothing (state %s, %v)", state, owned)
		}
		all.Merge(s)
	}
	if state != "Stable" || len(owned) != n || int32(len(all[topic])) != partitions {
		return fmt.Errorf("state %s, members' partitions %v", state, owned)
	}
	return nil
}

type partitionOffset struct {
	p int32
	o int64
}

// processedSet counts how often each record was processed.
type processedSet struct {
	mu sync.Mutex
	n  map[partitionOffset]int
}

func (s *processedSet) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.n)
}

// rider is a group member that lives through broker restarts: it
// processes, commits, and goes on whatever the commit's outcome, keeping
// the records of batches whose commit failed.
type rider struct {
	name    string
	cl      *kgo.Client
	cancel  context.CancelFunc
	done    chan struct{}
	count   atomic.Int64
	unacked map[partitionOffset]bool // read by the test once done is closed
	once    sync.Once
}

func startRider(t *testing.T, addr, group, topic, name string, seen *processedSet, opts []kgo.Opt) *rider {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(addr), kgo.DialTimeout(time.Second), kgo.ClientID(name), kgo.AlwaysRetryEOF(), // see newClient
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(200 * time.Millisecond),
		kgo.FetchMaxWait(100 * time.Millisecond), kgo.FetchMaxPartitionBytes(512),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &rider{name: name, cl: cl, cancel: cancel, done: make(chan struct{}), unacked: map[partitionOffset]bool{}}
	go r.run(ctx, seen)
	t.Cleanup(r.stop)
	return r
}

func (r *rider) run(ctx context.Context, seen *processedSet) {
	defer close(r.done)
	for ctx.Err() == nil {
		fs := r.cl.PollRecords(ctx, 50)
		recs := fs.Records() // fetch errors while the broker is down are retried by the client
		if len(recs) == 0 {
			r.cl.AllowRebalance()
			continue
		}
		seen.mu.Lock()
		for _, rec := range recs {
			seen.n[partitionOffset{rec.Partition, rec.Offset}]++
		}
		seen.mu.Unlock()
		r.count.Add(int64(len(recs)))
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := r.cl.CommitRecords(cctx, recs...); err != nil {
			for _, rec := range recs {
				r.unacked[partitionOffset{rec.Partition, rec.Offset}] = true
			}
		}
		ccancel()
		r.cl.AllowRebalance()
	}
}

// stop ends the loop and leaves the group cleanly (the broker is up).
// memberIDs is each rider's member ID; every rider must have one, else
// comparing IDs before and after a kill would compare empty strings.
func memberIDs(t *testing.T, riders []*rider) []string {
	t.Helper()
	ids := make([]string, len(riders))
	for i, r := range riders {
		if ids[i], _ = r.cl.GroupMetadata(); ids[i] == "" {
			t.Fatalf("%s has no member ID", r.name)
		}
	}
	return ids
}

func (r *rider) stop() {
	r.once.Do(func() {
		r.cancel()
		<-r.done
		r.cl.CloseAllowingRebalance()
	})
}
