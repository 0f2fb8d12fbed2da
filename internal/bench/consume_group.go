package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Group protocols a group read can use (ConsumeConfig.GroupProtocol).
const (
	GroupProtocolClassic  = "classic"  // JoinGroup/SyncGroup, the client assigns
	GroupProtocolConsumer = "consumer" // KIP-848: the broker assigns
)

func parseGroupProtocol(s string) (string, error) {
	switch p := strings.ToLower(strings.TrimSpace(s)); p {
	case "", GroupProtocolClassic:
		return GroupProtocolClassic, nil
	case GroupProtocolConsumer:
		return p, nil
	}
	return "", fmt.Errorf("group protocol %q: want classic or consumer", s)
}

// groupFrom is where a group read starts on each partition: the group's
// committed offset, or the log start where it has none or it lies before the
// log start (auto.offset.reset=earliest, as the members are configured).
func groupFrom(ctx context.Context, cc ClientConfig, group, topic string, logStart map[int32]int64) (map[int32]int64, error) {
	cl, err := kgo.NewClient(cc.opts()...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	committed, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err == nil {
		err = committed.Error()
	}
	// Kafka answers a group it does not know with no offsets, some brokers
	// (kfake) with GROUP_ID_NOT_FOUND: either way none are committed.
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fetch the committed offsets of group %s: %w", group, err)
	}
	from := make(map[int32]int64, len(logStart))
	for p, s := range logStart {
		from[p] = s
		if o, ok := committed.Lookup(topic, p); ok && o.At > s {
			from[p] = o.At
		}
	}
	return from, nil
}

// groupRead is the state the members of a group read share.
type groupRead struct {
	cfg  *ConsumeConfig
	want int64
	got  Counter

	begin    time.Time
	firstNs  atomic.Int64 // since begin, of the first record polled; 0 before
	lastNs   atomic.Int64 // since begin, of the newest record polled
	finished chan struct{}

	mu      sync.Mutex
	pending map[int32]int64 // partition -> end offset still to reach
	done    bool
	err     error
}

// consumeGroup reads as cfg.Consumers members of consumer group cfg.Group,
// each subscribed to the topic, until every partition reached its offset
// in until (or cfg.Records records arrived), counting from the group's
// committed offsets; then each member commits what it polled and leaves.
// The throughput is timed from the first record to the last: the time to
// join the group (for the classic protocol at least the broker's
// group.initial.rebalance.delay.ms) is StartSeconds. Records read twice
// after a rebalance count twice, as work the group did.
func consumeGroup(ctx context.Context, cfg *ConsumeConfig, logStart, until map[int32]int64) (*Throughput, error) {
	from, err := groupFrom(ctx, cfg.ClientConfig, cfg.Group, cfg.Topic, logStart)
	if err != nil {
		return nil, err
	}
	g := &groupRead{cfg: cfg, finished: make(chan struct{})}
	if g.pending, g.want = cfg.toRead(from, until); g.want == 0 {
		return newThroughput(0, 0, 0), nil
	}

	members := max(cfg.Consumers, 1)
	clients := make([]*kgo.Client, 0, members)
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	fetchMax, partMax := cfg.fetchSizes(false)
	for i := range members {
		cc := cfg.ClientConfig
		cc.ClientID = fmt.Sprintf("samsa-bench-consumer-%d", i)
		opts := append(cc.opts(),
			kgo.ConsumerGroup(cfg.Group),
			kgo.ConsumeTopics(cfg.Topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxBytes(fetchMax),
			kgo.FetchMaxPartitionBytes(partMax),
			kgo.FetchMaxWait(500*time.Millisecond),
		)
		if cfg.GroupProtocol == GroupProtocolConsumer {
			opts = append(opts, kgo.ServerSideBalancer(), kgo.Balancers(kgo.CooperativeStickyBalancer()))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, err
		}
		clients = append(clients, cl)
	}

	prog := startProgress(cfg.Progress, "consume", &g.got, cfg.ProgressInterval, nil)
	defer prog.Stop()
	g.begin = time.Now()
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.member(rctx, cl)
		}()
	}
	select {
	case <-g.finished:
	case <-ctx.Done():
	}
	stop()
	wg.Wait()

	g.mu.Lock()
	runErr := g.err
	g.mu.Unlock()
	if runErr == nil {
		runErr = ctx.Err()
	}
	// Commit what was polled before leaving, so that the next read of the
	// group starts where this one ended.
	for _, cl := range clients {
		if err := cl.CommitUncommittedOffsets(ctx); err != nil && runErr == nil {
			runErr = fmt.Errorf("commit the offsets of group %s: %w", cfg.Group, err)
		}
	}
	first, last := g.firstNs.Load(), g.lastNs.Load()
	t := newThroughput(g.got.Records.Load(), g.got.Bytes.Load(), time.Duration(last-first))
	if first > 0 {
		t.StartSeconds = time.Duration(first).Seconds()
	}
	return t, runErr
}

// member polls one client until the read is finished or fails.
func (g *groupRead) member(ctx context.Context, cl *kgo.Client) {
	next := make(map[int32]int64) // partition -> offset after the newest record of a poll
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		// Records polled as the read ends still count: they are marked for
		// the commit that follows.
		fetchErr := firstFetchError(fs)
		clear(next)
		fs.EachRecord(func(r *kgo.Record) {
			g.got.Add(len(r.Value) + len(r.Key))
			next[r.Partition] = max(next[r.Partition], r.Offset+1)
		})
		now := int64(time.Since(g.begin))
		if len(next) > 0 {
			g.firstNs.CompareAndSwap(0, now)
			g.lastNs.Store(now)
		}
		g.update(next, fetchErr, now)
	}
}

// update records a member's poll: the partitions that reached their end,
// a fetch error, or that nothing arrived for too long; it closes finished
// when the read is complete or has failed.
func (g *groupRead) update(next map[int32]int64, fetchErr error, now int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done {
		return
	}
	for p, o := range next {
		if e, ok := g.pending[p]; ok && o >= e {
			delete(g.pending, p)
		}
	}
	switch {
	case fetchErr != nil:
		g.err = fetchErr
	case len(next) == 0 && time.Duration(now-g.lastNs.Load()) > g.cfg.IdleTimeout:
		g.err = fmt.Errorf("no records for %v after %d of %d", g.cfg.IdleTimeout, g.got.Records.Load(), g.want)
	case g.cfg.Records > 0 && g.got.Records.Load() >= g.want,
		g.cfg.Records <= 0 && len(g.pending) == 0:
	default:
		return
	}
	g.done = true
	close(g.finished)
}
