package e2e

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// groupConsumer consumes topic in group until stop, recording what it saw.
type groupConsumer struct {
	cl   *kgo.Client
	mu   sync.Mutex
	seen map[string]int
	done chan struct{}
}

func (tb *testBroker) startGroupConsumer(ctx context.Context, group, topic string, opts ...kgo.Opt) *groupConsumer {
	gc := &groupConsumer{seen: map[string]int{}, done: make(chan struct{})}
	gc.cl = tb.client(append([]kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.HeartbeatInterval(200 * time.Millisecond)}, opts...)...)
	go func() {
		defer close(gc.done)
		for ctx.Err() == nil {
			fs := gc.cl.PollFetches(ctx)
			gc.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) { gc.seen[string(r.Value)]++ })
			gc.mu.Unlock()
		}
	}()
	return gc
}

func (gc *groupConsumer) count() int {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	return len(gc.seen)
}

// waitFor is waitUntil with 30s for a yes-or-no condition.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitUntil(t, 30*time.Second, what, func() error {
		if cond() {
			return nil
		}
		return errors.New("not yet")
	})
}

// TestConsumerGroupSharesAndResumes: two members split the partitions; the
// group's committed offsets let a new member resume after both leave, also
// after a broker restart.
func TestConsumerGroupSharesAndResumes(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []kgo.Opt
	}{
		{"classic-range", []kgo.Opt{kgo.Balancers(kgo.RangeBalancer())}},
		{"classic-cooperative-sticky", []kgo.Opt{kgo.Balancers(kgo.CooperativeStickyBalancer())}},
		{"kip848-uniform", []kgo.Opt{kgo.ServerSideBalancer(), kgo.Balancers(kgo.StickyBalancer())}},
		{"kip848-range", []kgo.Opt{kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer())}},
	} {
		t.Run(tc.name, func(t *testing.T) { testGroupSharesAndResumes(t, tc.opts) })
	}
}

func testGroupSharesAndResumes(t *testing.T, opts []kgo.Opt) {
	dir := t.TempDir()
	tb := startBroker(t, dir, map[string]string{"group.consumer.heartbeat.interval.ms": "200"})
	tb.createTopic("g", 6, nil)
	prod := tb.client(kgo.DefaultProduceTopic("g"))
	produce := func(from, to int) {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			recs = append(recs, &kgo.Record{Key: key(i), Value: val(i)})
		}
		if err := prod.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 600)
	ctx, cancel := context.WithCancel(context.Background())
	a := tb.startGroupConsumer(ctx, "grp", "g", opts...)
	b := tb.startGroupConsumer(ctx, "grp", "g", opts...)
	adm := tb.admin()
	waitFor(t, "a stable group of two members", func() bool {
		gs, err := adm.DescribeGroups(ctxT(t), "grp")
		if err != nil {
			return false
		}
		g := gs["grp"]
		return g.State == "Stable" && len(g.Members) == 2
	})
	produce(600, 1200)
	waitFor(t, "both members to consume 1200 records", func() bool { return a.count()+b.count() >= 1200 })
	// With two members sharing six partitions, each must have got part of
	// the records produced after both joined.
	for name, gc := range map[string]*groupConsumer{"a": a, "b": b} {
		gc.mu.Lock()
		n := 0
		for v := range gc.seen {
			var i int
			if _, err := fmtSscan(v, &i); err == nil && i >= 600 {
				n++
			}
		}
		gc.mu.Unlock()
		if n == 0 {
			t.Errorf("member %s consumed none of the records produced after both joined", name)
		}
	}
	// Commit and leave.
	for _, gc := range []*groupConsumer{a, b} {
		if err := gc.cl.CommitUncommittedOffsets(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	<-a.done
	<-b.done
	a.cl.Close()
	b.cl.Close()
	seenTotal := map[string]int{}
	for _, gc := range []*groupConsumer{a, b} {
		for v, n := range gc.seen {
			seenTotal[v] += n
		}
	}
	for i := 0; i < 1200; i++ {
		if seenTotal[string(val(i))] == 0 {
			t.Fatalf("record %d never consumed", i)
		}
	}
	// Committed offsets survive a restart; a new member resumes there.
	tb = tb.restart(map[string]string{"group.consumer.heartbeat.interval.ms": "200"})
	prod = tb.client(kgo.DefaultProduceTopic("g"))
	produce(1200, 1300)
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	c := tb.startGroupConsumer(ctx2, "grp", "g", opts...)
	waitFor(t, "the resumed member to consume the 100 new records", func() bool { return c.count() >= 100 })
	time.Sleep(300 * time.Millisecond) // a fetch or two more: nothing old may show up
	c.mu.Lock()
	for v := range c.seen {
		var i int
		if _, err := fmtSscan(v, &i); err == nil && i < 1200 {
			t.Errorf("resumed member re-read %q, committed before the restart", v)
		}
	}
	c.mu.Unlock()
	cancel2()
	<-c.done
}
