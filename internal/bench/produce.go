package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ProduceConfig describes a produce workload.
type ProduceConfig struct {
	ClientConfig
	Topic      string
	RecordSize int
	// Records is the total to produce across all producers; Duration bounds
	// the run in time. At least one must be set; with both, whichever ends
	// first stops the run.
	Records  int64
	Duration time.Duration
	// Partitions is used when the topic has to be created (0: broker
	// default).
	Partitions int32
	// Producers is the number of independent clients, each with its own
	// connections and goroutines.
	Producers int
	Acks      string // all, 1 or 0
	// NoIdempotence turns idempotent writes off with acks=all; they are
	// always off with acks 1 and 0.
	NoIdempotence bool
	// MaxInflight is the produce requests in flight per broker per client
	// when idempotence is off (kgo allows 5 with it on).
	MaxInflight int
	Compression string
	Linger      time.Duration
	BatchBytes  int
	// Rate is the target in records/s across all producers; 0 is as fast as
	// possible.
	Rate float64
	// Raw sends pre-built record batches in plain Produce requests on
	// connections of our own instead of producing with kgo, so that the
	// client costs almost nothing (see produce_raw.go). Raw writes are
	// never idempotent; Linger and NoIdempotence do not apply, and
	// MaxInflight always does.
	Raw bool
	// Progress, if set, receives a line per ProgressInterval (default 1s).
	Progress         io.Writer
	ProgressInterval time.Duration
}

func (c *ProduceConfig) validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("no bootstrap servers")
	case c.Topic == "":
		return errors.New("no topic")
	case c.RecordSize < 0:
		return fmt.Errorf("record size %d is negative", c.RecordSize)
	case c.Records <= 0 && c.Duration <= 0:
		return errors.New("set a record count or a duration")
	case c.Producers <= 0:
		return fmt.Errorf("producers %d: want at least 1", c.Producers)
	case c.Rate < 0:
		return fmt.Errorf("rate %g is negative", c.Rate)
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = 1 << 20
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = 5
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = time.Second
	}
	return nil
}

// workload describes c for the summary.
func (c *ProduceConfig) workload(partitions int32, idempotent bool, acks, compression string) *Workload {
	return &Workload{
		Topic:       c.Topic,
		RecordSize:  c.RecordSize,
		Partitions:  partitions,
		Producers:   c.Producers,
		Acks:        acks,
		Idempotent:  idempotent,
		Compression: compression,
		LingerMs:    float64(c.Linger) / float64(time.Millisecond),
		BatchBytes:  c.BatchBytes,
		TargetRate:  c.Rate,
	}
}

// producerOpts are the kgo options for one bench producer: big batches and
// buffers so that the client keeps the broker busy.
func (c *ProduceConfig) producerOpts(id int) ([]kgo.Opt, bool, string, string, error) {
	acks, acksName, err := parseAcks(c.Acks)
	if err != nil {
		return nil, false, "", "", err
	}
	codec, codecName, err := parseCompression(c.Compression)
	if err != nil {
		return nil, false, "", "", err
	}
	cc := c.ClientConfig
	cc.ClientID = fmt.Sprintf("samsa-bench-producer-%d", id)
	opts := append(cc.opts(),
		kgo.DefaultProduceTopic(c.Topic),
		kgo.RequiredAcks(acks),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(c.Linger),
		kgo.ProducerBatchMaxBytes(int32(c.BatchBytes)),
		// Stick to one partition until a batch's worth went to it, so that
		// batches fill up before the partitioner moves on.
		kgo.RecordPartitioner(kgo.UniformBytesPartitioner(c.BatchBytes, false, false, nil)),
		kgo.MaxBufferedRecords(1<<20),
		kgo.MaxBufferedBytes(max(32<<20, 8*c.BatchBytes)),
		kgo.RecordDeliveryTimeout(60*time.Second),
	)
	idempotent := acksName == "all" && !c.NoIdempotence
	if !idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(c.MaxInflight))
	}
	return opts, idempotent, acksName, codecName, nil
}

// producers runs Producers clients until the record count or duration is
// reached and every record is acknowledged (or failed).
type producers struct {
	cfg *ProduceConfig
	// stamp, when set, writes the send time (nanoseconds since stampBase)
	// into the first 8 bytes of every value, for end-to-end latency.
	stamp     bool
	stampBase time.Time

	acked    Counter
	issued   atomic.Int64
	stopped  atomic.Bool
	errCount atomic.Int64
	firstErr atomic.Pointer[error]

	histMu sync.Mutex
	hist   Histogram
}

// prodRec is a pooled record with its send time and a promise bound to it
// once, so that producing allocates nothing per record.
type prodRec struct {
	rec     kgo.Record
	sent    time.Time
	promise func(*kgo.Record, error)
	p       *producer
}

// producer is the state of one client: its record pool and the histogram
// of its acknowledgement latencies (kgo calls a client's promises serially;
// mu is for the final merge).
type producer struct {
	set  *producers
	pool sync.Pool
	mu   sync.Mutex
	hist Histogram
}

func (p *producer) get(value []byte, stamp bool, size int) *prodRec {
	if pr, ok := p.pool.Get().(*prodRec); ok {
		v := pr.rec.Value
		pr.rec = kgo.Record{Value: v}
		if !stamp {
			pr.rec.Value = value
		}
		return pr
	}
	pr := &prodRec{p: p}
	pr.promise = func(_ *kgo.Record, err error) { pr.p.finish(pr, err) }
	if stamp {
		pr.rec.Value = make([]byte, size)
		copy(pr.rec.Value, value)
	} else {
		pr.rec.Value = value
	}
	return pr
}

func (p *producer) finish(pr *prodRec, err error) {
	s := p.set
	if err != nil {
		s.errCount.Add(1)
		s.firstErr.CompareAndSwap(nil, &err)
	} else {
		lat := time.Since(pr.sent)
		p.mu.Lock()
		p.hist.RecordDuration(lat)
		p.mu.Unlock()
		s.acked.Add(len(pr.rec.Value) + len(pr.rec.Key))
	}
	p.pool.Put(pr)
}

// run connects every client, then produces until the record count or the
// duration is reached and every record is acknowledged or failed; the time
// reported runs from the first send to the last acknowledgement.
func (s *producers) run(ctx context.Context) (*Throughput, error) {
	c := s.cfg
	size := c.RecordSize
	if s.stamp && size < 8 {
		size = 8
	}
	value := payload(size, 1)

	clients := make([]*kgo.Client, c.Producers)
	defer func() {
		for _, cl := range clients {
			if cl != nil {
				cl.Close()
			}
		}
	}()
	for i := range clients {
		opts, _, _, _, err := c.producerOpts(i)
		if err != nil {
			return nil, err
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, fmt.Errorf("producer %d: %w", i, err)
		}
		clients[i] = cl
		// Connect and learn the partitions before the clock starts.
		if err := cl.Ping(ctx); err != nil {
			return nil, fmt.Errorf("producer %d: %w", i, err)
		}
	}

	prog := startProgress(c.Progress, "produce", &s.acked, c.ProgressInterval, s.progressExtra)
	defer prog.Stop()

	start := time.Now()
	if c.Duration > 0 {
		t := time.AfterFunc(c.Duration, func() { s.stopped.Store(true) })
		defer t.Stop()
	}
	prods := make([]*producer, len(clients))
	var wg sync.WaitGroup
	for i, cl := range clients {
		p := &producer{set: s}
		prods[i] = p
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.produceLoop(ctx, cl, p, value, size)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	for _, p := range prods {
		p.mu.Lock()
		s.histMu.Lock()
		s.hist.Merge(&p.hist)
		s.histMu.Unlock()
		p.mu.Unlock()
	}
	t := newThroughput(s.acked.Records.Load(), s.acked.Bytes.Load(), elapsed)
	lat := LatencyOf(&s.hist)
	t.Latency = &lat
	t.Errors = s.errCount.Load()
	first := s.firstErr.Load()
	if first != nil {
		t.FirstError = (*first).Error()
	}
	if err := ctx.Err(); err != nil {
		return t, err
	}
	if t.Errors > 0 && t.Records == 0 && first != nil {
		return t, fmt.Errorf("every record failed: %w", *first)
	}
	return t, nil
}

func (s *producers) produceLoop(ctx context.Context, cl *kgo.Client, p *producer, value []byte, size int) {
	c := s.cfg
	lim := NewLimiter(nil, c.Rate/float64(c.Producers))
	for !s.stopped.Load() && ctx.Err() == nil {
		if c.Records > 0 && s.issued.Add(1) > c.Records {
			break
		}
		now, err := lim.Wait(ctx)
		if err != nil {
			break
		}
		pr := p.get(value, s.stamp, size)
		// One clock read per record: the send time is also the record's
		// timestamp (kgo would read the clock again for a zero one).
		pr.sent = now
		pr.rec.Timestamp = now
		if s.stamp {
			binary.BigEndian.PutUint64(pr.rec.Value, uint64(pr.sent.Sub(s.stampBase)))
		}
		cl.Produce(ctx, &pr.rec, pr.promise)
	}
	// Wait for every record to be acknowledged; the run's time includes it.
	// Flush fails only when ctx ends, which run reports.
	_ = cl.Flush(ctx)
}

func (s *producers) progressExtra() string {
	if n := s.errCount.Load(); n > 0 {
		return fmt.Sprintf("%d errors", n)
	}
	return ""
}

// newSummary is the summary of a produce run before it has figures. A raw
// run is marked raw from the start, so that reports tell a failed one from
// a failed kgo run.
func (c *ProduceConfig) newSummary() *Summary {
	sum := &Summary{Kind: "produce"}
	if c.Raw {
		sum.Workload = &Workload{Topic: c.Topic, RecordSize: c.RecordSize, Partitions: c.Partitions, Producers: c.Producers, Raw: true}
	}
	return sum
}

// RunProduce creates the topic if needed and runs a produce workload.
func RunProduce(ctx context.Context, cfg ProduceConfig) (*Summary, error) {
	sum := cfg.newSummary()
	if err := cfg.validate(); err != nil {
		return sum, err
	}
	if cfg.Raw {
		return sum, runRawProduce(ctx, &cfg, sum)
	}
	_, idem, acks, codec, err := cfg.producerOpts(0)
	if err != nil {
		return sum, err
	}
	parts, err := EnsureTopic(ctx, cfg.ClientConfig, cfg.Topic, cfg.Partitions)
	if err != nil {
		return sum, err
	}
	sum.Workload = cfg.workload(parts, idem, acks, codec)
	s := &producers{cfg: &cfg}
	sum.Produce, err = s.run(ctx)
	return sum, err
}
