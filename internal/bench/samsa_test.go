package bench

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/api"
	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kgo"
)

// newSamsa starts a Samsa broker in this process, as `samsa serve` does,
// with flushing left to the OS and any further properties given as
// name=value pairs, and stops it when the test ends.
func newSamsa(t *testing.T, props ...string) ClientConfig {
	t.Helper()
	m := map[string]string{
		"listeners":                   "PLAINTEXT://127.0.0.1:0",
		"log.dirs":                    t.TempDir(),
		"log.flush.interval.messages": noFlushInterval,
	}
	for _, kv := range props {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("property %q: want name=value", kv)
		}
		m[k] = v
	}
	cfg, _, err := config.FromProperties(m)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Listeners[0].Addr())
	if err != nil {
		t.Fatal(err)
	}
	cfg.AdvertisedListeners[0].Port = int32(ln.Addr().(*net.TCPAddr).Port)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	broker, err := api.Open(cfg, logger)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	srv := server.New(api.ServerConfig(cfg), broker, logger)
	srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shut down: %v", err)
		}
		if err := broker.Close(); err != nil {
			t.Errorf("close broker: %v", err)
		}
	})
	return ClientConfig{Brokers: []string{ln.Addr().String()}}
}

// TestRawProduceSamsa produces raw batches into a real Samsa broker, bounded
// by count and then by time, and reads everything back with the kgo
// consumer of `bench consume` and record by record.
func TestRawProduceSamsa(t *testing.T) {
	cc := newSamsa(t)
	ctx := testContext(t)
	const topic, size = "raw", 1000
	var acked int64
	for _, cfg := range []ProduceConfig{
		{Records: 20_000, Acks: "all", Producers: 2},
		{Duration: 300 * time.Millisecond, Acks: "1", Producers: 1, MaxInflight: 2},
		{Records: 3000, Acks: "all", Producers: 1, Compression: "zstd"},
		{Records: 3000, Acks: "0", Producers: 2},
	} {
		cfg.ClientConfig, cfg.Topic, cfg.RecordSize, cfg.Partitions = cc, topic, size, 4
		cfg.BatchBytes, cfg.Raw = 64<<10, true
		sum, err := RunProduce(ctx, cfg)
		if err != nil {
			t.Fatalf("acks=%s %s: %v", cfg.Acks, cfg.Compression, err)
		}
		p := sum.Produce
		if p.Records <= 0 || p.Bytes != p.Records*size || p.Errors != 0 {
			t.Fatalf("acks=%s: produce %+v", cfg.Acks, p)
		}
		if cfg.Records > 0 && p.Records != cfg.Records {
			t.Fatalf("acks=%s: %d records acknowledged, %d asked for", cfg.Acks, p.Records, cfg.Records)
		}
		if cfg.Acks != "0" && (p.Latency == nil || p.Latency.Count == 0) {
			t.Fatalf("acks=%s: no latencies", cfg.Acks)
		}
		acked += p.Records
	}

	// acks=0 requests have no answer: the run ended after the broker read
	// them, which may be before it appended the last; wait for that.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, end, err := partitionOffsets(ctx, cc, topic)
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, o := range end {
			total += o
		}
		if total == acked {
			break
		}
		if total > acked || time.Now().After(deadline) {
			t.Fatalf("end offsets add up to %d, %d records acknowledged", total, acked)
		}
		if err := (SystemClock{}).Sleep(ctx, 10*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}

	sum, err := RunConsume(ctx, ConsumeConfig{ClientConfig: cc, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	if c := sum.Consume; c.Records != acked || c.Bytes != acked*size {
		t.Fatalf("read back %d records, %d bytes; %d acknowledged", c.Records, c.Bytes, acked)
	}

	// Record by record: every value has the size asked for, no key, and
	// offsets run without gaps.
	cl, err := kgo.NewClient(append(cc.opts(), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	next := map[int32]int64{}
	for n := int64(0); n < acked; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if len(r.Value) != size || r.Key != nil || r.Offset != next[r.Partition] {
				t.Fatalf("%d/%d: %d value bytes, key %q, want offset %d", r.Partition, r.Offset, len(r.Value), r.Key, next[r.Partition])
			}
			next[r.Partition]++
		})
	}
}
