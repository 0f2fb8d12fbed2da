package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// E2EConfig describes an end-to-end latency run: producers at a fixed rate
// stamp each record with its send time, and one consumer, reading the
// partitions directly from where they ended before the run, measures how
// long each record took to arrive.
type E2EConfig struct {
	ProduceConfig
	// Warmup is excluded from the latency histogram (records sent in the
	// first Warmup of the run are counted but not measured).
	Warmup time.Duration
	// DrainTimeout bounds the wait for the last records after producing
	// ends (default 30s).
	DrainTimeout time.Duration
	// RawConsumer reads with plain Fetch requests (Kafka's default fetch
	// sizes) and takes the send time from each value without decoding
	// records into objects, instead of a kgo consumer; uncompressed only.
	RawConsumer bool
}

// RunE2E runs an end-to-end latency workload.
func RunE2E(ctx context.Context, cfg E2EConfig) (*Summary, error) {
	sum := &Summary{Kind: "e2e"}
	if err := cfg.validate(); err != nil {
		return sum, err
	}
	if cfg.Rate <= 0 {
		return sum, errors.New("e2e needs a fixed --rate")
	}
	if cfg.RecordSize < 8 {
		return sum, fmt.Errorf("record size %d: e2e needs at least 8 bytes for the timestamp", cfg.RecordSize)
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	_, idem, acks, codec, err := cfg.producerOpts(0)
	if err != nil {
		return sum, err
	}
	var raw *rawProducers
	if cfg.Raw {
		if codec != "none" || acks == "0" {
			return sum, fmt.Errorf("the raw e2e producer sends uncompressed batches with acks 1 or all, not %s with acks %s", codec, acks)
		}
		if raw, err = newRawProducers(&cfg.ProduceConfig); err != nil {
			return sum, err
		}
		idem = false
	}
	parts, err := EnsureTopic(ctx, cfg.ClientConfig, cfg.Topic, cfg.Partitions)
	if err != nil {
		return sum, err
	}
	sum.Workload = cfg.workload(parts, idem, acks, codec)
	sum.Workload.RawConsumer = cfg.RawConsumer
	if raw != nil {
		sum.Workload.Raw = true
		sum.Workload.LingerMs = 0
		sum.Workload.BatchRecords = raw.perBatch
	}
	_, end, err := partitionOffsets(ctx, cfg.ClientConfig, cfg.Topic)
	if err != nil {
		return sum, err
	}

	cc := ConsumeConfig{ClientConfig: cfg.ClientConfig, Topic: cfg.Topic}
	if err := cc.validate(); err != nil {
		return sum, err
	}
	if cfg.RawConsumer && codec != "none" {
		return sum, fmt.Errorf("the raw e2e consumer reads uncompressed batches only, not %s", codec)
	}
	base := time.Now()
	warmupNs := int64(cfg.Warmup)
	rcv := &e2eReceiver{}
	cctx, stopConsumer := context.WithCancel(ctx)
	defer stopConsumer()
	var wg sync.WaitGroup
	if cfg.RawConsumer {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rcv.rawLoop(cctx, &cc, end, base, warmupNs)
		}()
	} else {
		cl, err := kgo.NewClient(cc.consumerOpts(end)...)
		if err != nil {
			return sum, err
		}
		defer cl.Close()
		if err := cl.Ping(ctx); err != nil {
			return sum, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rcv.loop(cctx, cl, base, warmupNs)
		}()
	}

	if raw != nil {
		raw.paced, raw.stampBase = true, base
		sum.Produce, err = raw.run(ctx)
	} else {
		p := &producers{cfg: &cfg.ProduceConfig, stamp: true, stampBase: base}
		sum.Produce, err = p.run(ctx)
	}
	var acked int64
	if sum.Produce != nil {
		acked = sum.Produce.Records
	}
	if err == nil {
		err = rcv.waitFor(ctx, acked, cfg.DrainTimeout)
	}
	stopConsumer()
	wg.Wait()

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	sum.E2E = &E2EResult{
		Latency:  LatencyOf(&rcv.hist),
		Received: rcv.received,
		Bytes:    rcv.received * int64(cfg.RecordSize),
		Missing:  max(0, acked-rcv.received),
		Warmup:   cfg.Warmup.Seconds(),
	}
	if err == nil && rcv.err != nil {
		err = rcv.err
	}
	return sum, err
}

type e2eReceiver struct {
	mu       sync.Mutex
	hist     Histogram
	received int64
	err      error
}

func (r *e2eReceiver) loop(ctx context.Context, cl *kgo.Client, base time.Time, warmupNs int64) {
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		now := int64(time.Since(base))
		r.mu.Lock()
		if err := firstFetchError(fs); err != nil && r.err == nil {
			r.err = err
		}
		fs.EachRecord(func(rec *kgo.Record) {
			r.received++
			if len(rec.Value) < 8 {
				return
			}
			sent := int64(binary.BigEndian.Uint64(rec.Value))
			if sent >= warmupNs {
				r.hist.Record(now - sent)
			}
		})
		r.mu.Unlock()
	}
}

// e2eRawVisitor collects the send times of a response's records and
// measures them when the response has been read whole, as loop does once
// PollFetches returns. One per fetching connection (one per partition
// leader).
type e2eRawVisitor struct {
	r        *e2eReceiver
	base     time.Time
	warmupNs int64
	sent     []int64
	n        int64
}

func (v *e2eRawVisitor) value(b []byte) {
	v.n++
	if len(b) >= 8 {
		if sent := int64(binary.BigEndian.Uint64(b)); sent >= v.warmupNs {
			v.sent = append(v.sent, sent)
		}
	}
}

func (v *e2eRawVisitor) end() {
	now := int64(time.Since(v.base))
	v.r.mu.Lock()
	v.r.received += v.n
	for _, s := range v.sent {
		v.r.hist.Record(now - s)
	}
	v.r.mu.Unlock()
	v.sent, v.n = v.sent[:0], 0
}

// rawLoop is loop with raw fetches from the offsets in from until ctx ends.
func (r *e2eReceiver) rawLoop(ctx context.Context, cc *ConsumeConfig, from map[int32]int64, base time.Time, warmupNs int64) {
	newVisitor := func() valueVisitor { return &e2eRawVisitor{r: r, base: base, warmupNs: warmupNs} }
	_, err := consumeRawWith(ctx, cc, from, nil, newVisitor)
	if err != nil {
		r.mu.Lock()
		if r.err == nil {
			r.err = fmt.Errorf("raw fetch: %w", err)
		}
		r.mu.Unlock()
	}
}

// waitFor waits until n records were received, the receiver failed, or no
// progress was made for timeout. It checks every few milliseconds, which is
// fine next to a timeout measured in seconds.
func (r *e2eReceiver) waitFor(ctx context.Context, n int64, timeout time.Duration) error {
	var last int64 = -1
	lastChange := time.Now()
	for {
		r.mu.Lock()
		got, err := r.received, r.err
		r.mu.Unlock()
		switch {
		case err != nil:
			return err
		case got >= n:
			return nil
		case got != last:
			last, lastChange = got, time.Now()
		case time.Since(lastChange) > timeout:
			return fmt.Errorf("consumer received %d of %d records, none in the last %v", got, n, timeout)
		}
		if err := (SystemClock{}).Sleep(ctx, 5*time.Millisecond); err != nil {
			return err
		}
	}
}
