package api

import (
	"io"
	"log/slog"
	"testing"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// openTestBroker opens a broker with its data in a temporary directory and
// the given extra properties; it is closed when the test ends.
func openTestBroker(tb testing.TB, props map[string]string) *Broker {
	tb.Helper()
	all := map[string]string{"log.dirs": tb.TempDir()}
	for k, v := range props {
		all[k] = v
	}
	cfg, _, err := config.FromProperties(all)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := Open(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { b.Close() })
	return b
}

// produceRequest is an acks=all Produce v9 request writing a copy of batch
// to each of the topic's first parts partitions.
func produceRequest(topic string, parts int32, batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks, req.TimeoutMillis = -1, 30_000
	rt := kmsg.ProduceRequestTopic{Topic: topic}
	for p := int32(0); p < parts; p++ {
		rt.Partitions = append(rt.Partitions, kmsg.ProduceRequestTopicPartition{Partition: p, Records: append([]byte(nil), batch...)})
	}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	return req
}
