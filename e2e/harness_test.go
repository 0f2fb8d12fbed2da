// Package e2e runs the real broker in-process on a real socket and drives it
// with real Kafka clients (franz-go) and raw protocol frames.
package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/api"
	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type testBroker struct {
	t    *testing.T
	dir  string
	addr string
	srv  *server.Server
	b    *api.Broker
	up   bool
}

// startBroker runs a broker on a free port with its data in dir.
func startBroker(t *testing.T, dir string, props map[string]string) *testBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startBrokerOn(t, dir, ln, props)
}

func startBrokerOn(t *testing.T, dir string, ln net.Listener, props map[string]string) *testBroker {
	t.Helper()
	all := map[string]string{
		"listeners":                        "PLAINTEXT://" + ln.Addr().String(),
		"log.dirs":                         dir,
		"group.initial.rebalance.delay.ms": "0",
		"offsets.topic.num.partitions":     "5",
	}
	for k, v := range props {
		all[k] = v
	}
	cfg, _, err := config.FromProperties(all)
	if err != nil {
		t.Fatal(err)
	}
	level := slog.LevelWarn
	if os.Getenv("E2E_DEBUG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	b, err := api.Open(cfg, logger)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	srv := server.New(api.ServerConfig(cfg), b, logger)
	srv.Serve(ln)
	tb := &testBroker{t: t, dir: dir, addr: ln.Addr().String(), srv: srv, b: b, up: true}
	t.Cleanup(tb.stop)
	return tb
}

// stop shuts the broker down cleanly.
func (tb *testBroker) stop() {
	if !tb.up {
		return
	}
	tb.up = false
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tb.srv.Shutdown(ctx); err != nil {
		tb.t.Errorf("shutdown: %v", err)
	}
	if err := tb.b.Close(); err != nil {
		tb.t.Errorf("close broker: %v", err)
	}
}

// restart stops the broker cleanly and starts it again on the same port.
func (tb *testBroker) restart(props map[string]string) *testBroker {
	tb.stop()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", tb.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		tb.t.Fatal(err)
	}
	return startBrokerOn(tb.t, tb.dir, ln, props)
}

func (tb *testBroker) client(opts ...kgo.Opt) *kgo.Client {
	tb.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(tb.addr), kgo.MetadataMinAge(100 * time.Millisecond)}, opts...)...)
	if err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Cleanup(cl.Close)
	return cl
}

func (tb *testBroker) admin() *kadm.Client { return kadm.NewClient(tb.client()) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (tb *testBroker) createTopic(name string, partitions int32, configs map[string]*string) {
	tb.t.Helper()
	resp, err := tb.admin().CreateTopic(ctxT(tb.t), partitions, 1, configs, name)
	if err != nil || resp.Err != nil {
		tb.t.Fatalf("create topic %s: %v %v", name, err, resp.Err)
	}
}

// consumeAll reads every partition of topic from its start up to its end
// offset at call time (offsets may have gaps on compacted topics; the
// record just before the end offset must be a data record).
func (tb *testBroker) consumeAll(topic string, opts ...kgo.Opt) []*kgo.Record {
	tb.t.Helper()
	ctx := ctxT(tb.t)
	ends, err := tb.admin().ListEndOffsets(ctx, topic)
	if err != nil {
		tb.t.Fatal(err)
	}
	starts, err := tb.admin().ListStartOffsets(ctx, topic)
	if err != nil {
		tb.t.Fatal(err)
	}
	offsets := map[int32]kgo.Offset{}
	pending := map[int32]int64{} // partition -> end offset still to reach
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(topic, o.Partition)
		if o.Err != nil || s.Err != nil {
			tb.t.Fatalf("offsets of %d: %v %v", o.Partition, o.Err, s.Err)
		}
		offsets[o.Partition] = kgo.NewOffset().AtStart()
		if o.Offset > s.Offset {
			pending[o.Partition] = o.Offset
		}
	})
	cl := tb.client(append([]kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets})}, opts...)...)
	var out []*kgo.Record
	for len(pending) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			tb.t.Fatalf("consumed %d records, partitions %v not at their end before timeout", len(out), pending)
		}
		fs.EachError(func(t string, p int32, err error) { tb.t.Fatalf("fetch %s-%d: %v", t, p, err) })
		for _, r := range fs.Records() {
			out = append(out, r)
			if end, ok := pending[r.Partition]; ok && r.Offset+1 >= end {
				delete(pending, r.Partition)
			}
		}
	}
	return out
}

func key(i int) []byte { return []byte("k" + strconv.Itoa(i)) }
func val(i int) []byte { return []byte(fmt.Sprintf("value-%06d-%s", i, "payload")) }

func fmtSscan(v string, i *int) (int, error) { return fmt.Sscanf(v, "value-%06d", i) }
