package crashtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// valuePrefix starts every value the load producers send; values are
// "crash-pNN-SSSSSSSSS-" (producer, sequence) padded to valueSize bytes.
const (
	valuePrefix = "crash-p"
	valueSize   = 100
)

func loadValue(producer, seq int) string {
	v := fmt.Sprintf("%s%02d-%09d-", valuePrefix, producer, seq)
	return v + strings.Repeat("x", valueSize-len(v))
}

func validLoadValue(v string) bool {
	return len(v) == valueSize && strings.HasPrefix(v, valuePrefix)
}

// load runs idempotent acks=all producers, one client each, that send
// unique values to a topic as fast as the broker acknowledges them, up to a
// total the test raises step by step (so reads stay small), and records
// where each acknowledged record landed. The clients outlive broker
// restarts: records in flight when the broker dies are retried (with the
// same producer ID and sequence numbers) once it is back.
type load struct {
	t       *testing.T
	clients []*kgo.Client
	clog    *syncBuffer // client log lines, shown on failure

	mu       sync.Mutex
	acks     []ack
	failures []string
	sent     int64         // mu: records handed to Produce
	limit    int64         // mu: how many records may be sent in total
	raised   chan struct{} // mu: closed when limit is raised

	acked  atomic.Int64
	failed atomic.Int64

	ctx     context.Context // Produce blocks on it when the buffer is full
	cancel  context.CancelFunc
	stopc   chan struct{}
	wg      sync.WaitGroup
	stopped bool
}

func startLoad(t *testing.T, addr, topic string, producers int) *load {
	t.Helper()
	l := &load{t: t, clog: &syncBuffer{}, stopc: make(chan struct{}), raised: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	for i := range producers {
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(addr),
			kgo.DefaultProduceTopic(topic),
			kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent by default
			kgo.ProducerBatchCompression(kgo.NoCompression()),
			kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
			kgo.MaxBufferedRecords(2000),
			kgo.ProducerLinger(2*time.Millisecond),
			kgo.DialTimeout(time.Second),
			kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
			kgo.MetadataMinAge(100*time.Millisecond),
			// The broker is killed on purpose: a connection whose first
			// request is in flight then reads EOF, which kgo by default
			// takes for missing SASL and fails the records without a
			// retry, a client heuristic rather than a broker refusal.
			kgo.AlwaysRetryEOF(),
			kgo.WithLogger(kgo.BasicLogger(l.clog, kgo.LogLevelWarn, func() string {
				return fmt.Sprintf("[producer %d] ", i)
			})),
		)
		if err != nil {
			t.Fatalf("producer client: %v", err)
		}
		l.clients = append(l.clients, cl)
	}
	t.Cleanup(func() {
		if !l.stopped {
			l.cancel()
			close(l.stopc)
			l.wg.Wait()
			for _, cl := range l.clients {
				cl.Close()
			}
		}
		if t.Failed() {
			t.Logf("producer client warnings (tail):\n%s", tail(l.clog.String(), 4000))
		}
	})
	for i, cl := range l.clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for seq := 0; ; seq++ {
				if !l.take() {
					return
				}
				cl.Produce(l.ctx, &kgo.Record{Value: []byte(loadValue(i, seq))}, l.promise)
			}
		}()
	}
	return l
}

// allow lets the producers send n records in total.
func (l *load) allow(n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limit = n
	close(l.raised)
	l.raised = make(chan struct{})
}

// take waits until one more record may be sent; false means stop.
func (l *load) take() bool {
	for {
		select {
		case <-l.stopc:
			return false
		default:
		}
		l.mu.Lock()
		ok := l.sent < l.limit
		if ok {
			l.sent++
		}
		raised := l.raised
		l.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-l.stopc:
			return false
		case <-raised:
		}
	}
}

func (l *load) promise(r *kgo.Record, err error) {
	if err != nil {
		l.failed.Add(1)
		l.mu.Lock()
		if len(l.failures) < 10 {
			l.failures = append(l.failures, fmt.Sprintf("%.20s: %v", r.Value, err))
		}
		l.mu.Unlock()
		return
	}
	l.mu.Lock()
	l.acks = append(l.acks, ack{partition: r.Partition, offset: r.Offset, value: string(r.Value)})
	l.mu.Unlock()
	l.acked.Add(1)
}

// snapshot returns the acknowledgements received so far.
func (l *load) snapshot() []ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ack(nil), l.acks...)
}

// waitAcked waits until at least n records have been acknowledged in total.
func (l *load) waitAcked(b *broker, n int64, timeout time.Duration) {
	l.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for l.acked.Load() < n {
		select {
		case <-deadline.C:
			l.t.Fatalf("only %d of %d records acknowledged after %v (%d failed: %v)",
				l.acked.Load(), n, timeout, l.failed.Load(), l.failureList())
		case <-b.done:
			l.t.Fatalf("broker exited while producing: %v", b.waitErr)
		case <-tick.C:
		}
	}
}

func (l *load) failureList() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.failures...)
}

// stop stops producing, waits until every buffered record is acknowledged
// or failed, and closes the clients.
func (l *load) stop(timeout time.Duration) {
	l.t.Helper()
	l.stopped = true
	close(l.stopc)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, l.cancel) // unblock Produce if the buffer never drains
	l.wg.Wait()
	for i, cl := range l.clients {
		if err := cl.Flush(ctx); err != nil {
			l.t.Errorf("producer %d: flush: %v", i, err)
		}
	}
	stop()
	l.cancel()
	for _, cl := range l.clients {
		cl.Close()
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
