package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ConsumeConfig describes a consume workload: one client reads the topic's
// partitions directly (no group), from their start offsets, or the members
// of a consumer group share them (Group).
type ConsumeConfig struct {
	ClientConfig
	Topic string
	// Records, if positive, is how many records to read (waiting for them
	// to be produced if need be); otherwise the run reads until it reaches
	// the end offsets listed when it started.
	Records int64
	// IdleTimeout ends the run with an error when no record arrives for
	// this long (default 30s).
	IdleTimeout time.Duration
	// Raw reads with plain Fetch requests and counts records from the batch
	// headers instead of decoding them with a kgo consumer (see consumeRaw).
	// It reads until the end offsets listed at the start; Records must be 0.
	Raw bool
	// FetchMaxBytes and PartitionMaxBytes size the fetch requests; 0 means
	// the default of the reading mode (see fetchSizes).
	FetchMaxBytes     int32
	PartitionMaxBytes int32
	// Group, if set, reads as Consumers members of this consumer group
	// from its committed offsets (see consumeGroup), with GroupProtocol
	// (classic, the default, or consumer for KIP-848; validate fills it in).
	Group         string
	Consumers     int
	GroupProtocol string

	Progress         io.Writer
	ProgressInterval time.Duration
}

// fetchSizes returns the fetch response and per-partition limits. The kgo
// consumer defaults to 64 MiB and 16 MiB: with Kafka's 1 MiB per partition
// it made more, smaller fetches and read about 25% slower here. Raw reads
// default to Kafka's consumer defaults (fetch.max.bytes 50 MiB,
// max.partition.fetch.bytes 1 MiB), which made them about 25% faster than
// 16 MiB per partition: the smaller responses stay in the CPU caches on
// their way through the client.
func (c *ConsumeConfig) fetchSizes(raw bool) (fetchMax, partMax int32) {
	fetchMax, partMax = c.FetchMaxBytes, c.PartitionMaxBytes
	if fetchMax <= 0 {
		fetchMax = 64 << 20
		if raw {
			fetchMax = 50 << 20
		}
	}
	if partMax <= 0 {
		partMax = 16 << 20
		if raw {
			partMax = 1 << 20
		}
	}
	return fetchMax, partMax
}

func (c *ConsumeConfig) validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("no bootstrap servers")
	case c.Topic == "":
		return errors.New("no topic")
	case c.Raw && c.Records > 0:
		return errors.New("a raw read goes to the end offsets; it takes no record count")
	case c.Raw && c.Group != "":
		return errors.New("a raw read fetches partitions directly; it joins no group")
	case c.Group == "" && (c.Consumers > 1 || c.GroupProtocol != ""):
		return errors.New("more than one consumer, or a group protocol, needs a group")
	}
	if c.Group != "" {
		p, err := parseGroupProtocol(c.GroupProtocol)
		if err != nil {
			return err
		}
		c.GroupProtocol = p
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 30 * time.Second
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = time.Second
	}
	return nil
}

func (c *ConsumeConfig) consumerOpts(from map[int32]int64) []kgo.Opt {
	cc := c.ClientConfig
	cc.ClientID = "samsa-bench-consumer"
	fetchMax, partMax := c.fetchSizes(false)
	offsets := make(map[int32]kgo.Offset, len(from))
	for p, o := range from {
		offsets[p] = kgo.NewOffset().At(o)
	}
	return append(cc.opts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.Topic: offsets}),
		kgo.FetchMaxBytes(fetchMax),
		kgo.FetchMaxPartitionBytes(partMax),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
}

// RunConsume reads the topic and reports the throughput.
func RunConsume(ctx context.Context, cfg ConsumeConfig) (*Summary, error) {
	sum := &Summary{Kind: "consume"}
	if err := cfg.validate(); err != nil {
		return sum, err
	}
	start, end, err := partitionOffsets(ctx, cfg.ClientConfig, cfg.Topic)
	if err != nil {
		return sum, err
	}
	sum.Workload = &Workload{Topic: cfg.Topic, Partitions: int32(len(start))}
	cfg.describeGroup(sum.Workload)
	self := selfCPU()
	var t *Throughput
	if cfg.Raw {
		t, err = consumeRaw(ctx, &cfg, start, end)
		sum.ConsumeRaw = t
	} else {
		t, err = consume(ctx, &cfg, start, end)
		sum.Consume = t
	}
	if t != nil {
		t.ClientCPUSeconds = selfCPU() - self
		if t.Records > 0 {
			sum.Workload.RecordSize = int(t.Bytes / t.Records)
		}
	}
	return sum, err
}

// describeGroup records a group read's settings (validated) in w.
func (c *ConsumeConfig) describeGroup(w *Workload) {
	if c.Group != "" {
		w.Group, w.Consumers, w.GroupProtocol = c.Group, max(c.Consumers, 1), c.GroupProtocol
	}
}

// toRead returns, for a read from the offsets in from up to those in
// until, the partitions with records to read (by the end offset they must
// reach) and how many records the read wants: cfg.Records if set, else all
// of them.
func (c *ConsumeConfig) toRead(from, until map[int32]int64) (pending map[int32]int64, want int64) {
	pending = make(map[int32]int64)
	for p, e := range until {
		if s := from[p]; e > s {
			pending[p] = e
			want += e - s
		}
	}
	if c.Records > 0 {
		want = c.Records
	}
	return pending, want
}

// firstFetchError is the first error of a poll other than the end of its
// context (a poll's timeout, or the run's end).
func firstFetchError(fs kgo.Fetches) error {
	var first error
	fs.EachError(func(t string, p int32, err error) {
		if first == nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			first = fmt.Errorf("fetch %s/%d: %w", t, p, err)
		}
	})
	return first
}

// consume reads from the offsets in from until cfg.Records records arrived
// or, when cfg.Records is 0, until every partition reached its offset in
// until.
func consume(ctx context.Context, cfg *ConsumeConfig, from, until map[int32]int64) (*Throughput, error) {
	if cfg.Group != "" {
		return consumeGroup(ctx, cfg, from, until)
	}
	pending, want := cfg.toRead(from, until)
	if want == 0 {
		return newThroughput(0, 0, 0), nil
	}

	cl, err := kgo.NewClient(cfg.consumerOpts(from)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	var got Counter
	prog := startProgress(cfg.Progress, "consume", &got, cfg.ProgressInterval, nil)
	defer prog.Stop()

	begin := time.Now()
	lastData := begin
	var runErr error
	for runErr == nil {
		if cfg.Records > 0 && got.Records.Load() >= want {
			break
		}
		if cfg.Records <= 0 && len(pending) == 0 {
			break
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			runErr = err
			break
		}
		n := 0
		if err := firstFetchError(fs); err != nil && runErr == nil {
			runErr = err
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			got.Add(len(r.Value) + len(r.Key))
			if e, ok := pending[r.Partition]; ok && r.Offset+1 >= e {
				delete(pending, r.Partition)
			}
		})
		now := time.Now()
		if n > 0 {
			lastData = now
		} else if now.Sub(lastData) > cfg.IdleTimeout && runErr == nil {
			runErr = fmt.Errorf("no records for %v after %d of %d", cfg.IdleTimeout, got.Records.Load(), want)
		}
	}
	elapsed := time.Since(begin)
	return newThroughput(got.Records.Load(), got.Bytes.Load(), elapsed), runErr
}
