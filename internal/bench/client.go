package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ClientConfig is what every bench client needs to reach the cluster.
type ClientConfig struct {
	Brokers []string
	// ClientID is sent to the broker; it helps reading broker logs.
	ClientID string
}

func (c ClientConfig) opts() []kgo.Opt {
	id := c.ClientID
	if id == "" {
		id = "samsa-bench"
	}
	return []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(id),
		// A broker that stops answering should fail the run, not hang it.
		kgo.RequestTimeoutOverhead(30 * time.Second),
		kgo.RetryTimeout(30 * time.Second),
	}
}

// parseAcks maps the --acks flag to a kgo option and whether idempotent
// writes are possible (they require acks=all).
func parseAcks(s string) (kgo.Acks, string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "all", "-1", "":
		return kgo.AllISRAcks(), "all", nil
	case "1", "leader":
		return kgo.LeaderAck(), "1", nil
	case "0", "none":
		return kgo.NoAck(), "0", nil
	}
	return kgo.Acks{}, "", fmt.Errorf("acks %q: want all, 1 or 0", s)
}

func parseCompression(s string) (kgo.CompressionCodec, string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none":
		return kgo.NoCompression(), "none", nil
	case "gzip":
		return kgo.GzipCompression(), "gzip", nil
	case "snappy":
		return kgo.SnappyCompression(), "snappy", nil
	case "lz4":
		return kgo.Lz4Compression(), "lz4", nil
	case "zstd":
		return kgo.ZstdCompression(), "zstd", nil
	}
	return kgo.CompressionCodec{}, "", fmt.Errorf("compression %q: want none, gzip, snappy, lz4 or zstd", s)
}

// EnsureTopic creates topic with the given number of partitions and
// replication factor 1 unless it exists, and waits until every partition has
// a leader. It returns the number of partitions the topic has, which may
// differ from partitions if it existed already. partitions <= 0 asks for the
// broker's default.
func EnsureTopic(ctx context.Context, cc ClientConfig, topic string, partitions int32) (int32, error) {
	// kgo answers repeated metadata requests from a cache younger than
	// MetadataMinAge (5s by default), which would hide the new topic.
	cl, err := kgo.NewClient(append(cc.opts(), kgo.MetadataMinAge(10*time.Millisecond))...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	ready := func() (int32, bool, error) {
		td, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return 0, false, err
		}
		t, ok := td[topic]
		if !ok || t.Err != nil || len(t.Partitions) == 0 {
			return 0, false, nil
		}
		for _, p := range t.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return 0, false, nil
			}
		}
		return int32(len(t.Partitions)), true, nil
	}
	if n, ok, err := ready(); err != nil {
		return 0, fmt.Errorf("list topic %s: %w", topic, err)
	} else if ok {
		return n, nil
	}
	if partitions <= 0 {
		partitions = -1
	}
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return 0, fmt.Errorf("create topic %s: %w", topic, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, ok, err := ready()
		if ok {
			return n, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("partitions have no leader")
			}
			return 0, fmt.Errorf("topic %s not ready after create: %w", topic, err)
		}
		if err := (SystemClock{}).Sleep(ctx, 50*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

// partitionOffsets lists the start and end offsets of every partition of
// topic.
func partitionOffsets(ctx context.Context, cc ClientConfig, topic string) (start, end map[int32]int64, err error) {
	cl, err := kgo.NewClient(cc.opts()...)
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	collect := func(lo kadm.ListedOffsets, err error) (map[int32]int64, error) {
		if err != nil {
			return nil, err
		}
		if err := lo.Error(); err != nil {
			return nil, err
		}
		m := make(map[int32]int64)
		lo.Each(func(o kadm.ListedOffset) {
			if o.Topic == topic {
				m[o.Partition] = o.Offset
			}
		})
		if len(m) == 0 {
			return nil, fmt.Errorf("topic %s has no partitions", topic)
		}
		return m, nil
	}
	if start, err = collect(adm.ListStartOffsets(ctx, topic)); err != nil {
		return nil, nil, fmt.Errorf("list start offsets of %s: %w", topic, err)
	}
	if end, err = collect(adm.ListEndOffsets(ctx, topic)); err != nil {
		return nil, nil, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	return start, end, nil
}

// payload returns n bytes of random capital letters, like Kafka's own
// producer perf tool: compressible, but not trivially.
func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = 'A' + byte(r.IntN(26))
	}
	return b
}
