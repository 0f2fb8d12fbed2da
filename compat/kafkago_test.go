package compat

import (
	"context"
	"errors"
	"fmt"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// segmentio/kafka-go, in process: Writer, Reader (with and without a group)
// and Client for admin requests.
func kafkaGoClient() *client {
	return &client{
		name:   "kafka-go",
		driver: kafkaGoDriver{},
		na: map[string]string{
			"idempotent": "kafka-go has no idempotent producer",
			"txn": "kafka-go has no transactional producer, and its read_committed Reader returns records of aborted " +
				"transactions (it ignores the fetch response's aborted transactions: kafka-go issue 1332)",
		},
		apis: map[string][]int16{
			"config-alter": k(kmsg.AlterConfigs), // Client.AlterConfigs (the legacy API)
		},
	}
}

type kafkaGoDriver struct{}

// kafkaGoTransport gives each use its own connections and metadata cache, as
// a new process would have. kafka-go's shared DefaultTransport caches
// metadata for 6s and does not refresh it when a write fails with
// UNKNOWN_TOPIC_OR_PARTITION, so a topic created a moment ago by another
// client would stay unknown to later writers in this process.
func kafkaGoTransport() *kafka.Transport { return &kafka.Transport{} }

func kafkaGoAdmin(bootstrap string) (*kafka.Client, func()) {
	tr := kafkaGoTransport()
	return &kafka.Client{Addr: kafka.TCP(bootstrap), Timeout: 20 * time.Second, Transport: tr}, tr.CloseIdleConnections
}

func (kafkaGoDriver) version(context.Context) (string, error) {
	return moduleVersion("github.com/segmentio/kafka-go"), nil
}

func kafkaGoCodec(name string) (compress.Compression, error) {
	switch name {
	case "none":
		return 0, nil
	case "gzip":
		return kafka.Gzip, nil
	case "snappy":
		return kafka.Snappy, nil
	case "lz4":
		return kafka.Lz4, nil
	case "zstd":
		return kafka.Zstd, nil
	}
	return 0, fmt.Errorf("unknown codec %q", name)
}

func (kafkaGoDriver) createTopic(ctx context.Context, r adminReq) error {
	cl, done := kafkaGoAdmin(r.Bootstrap)
	defer done()
	resp, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: r.Topic, NumPartitions: int(r.Partitions), ReplicationFactor: 1},
	}})
	if err != nil {
		return err
	}
	return resp.Errors[r.Topic]
}

func (kafkaGoDriver) topicPartitions(ctx context.Context, r adminReq) (int32, error) {
	cl, done := kafkaGoAdmin(r.Bootstrap)
	defer done()
	resp, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{r.Topic}})
	if err != nil {
		return 0, err
	}
	for _, t := range resp.Topics {
		if t.Name == r.Topic {
			if t.Error != nil {
				return 0, t.Error
			}
			return int32(len(t.Partitions)), nil
		}
	}
	return 0, fmt.Errorf("topic %s not in metadata", r.Topic)
}

// fixedPartition routes every message to one partition (kafka-go's Writer
// ignores Message.Partition).
type fixedPartition int

func (p fixedPartition) Balance(_ kafka.Message, partitions ...int) int {
	for _, q := range partitions {
		if q == int(p) {
			return q
		}
	}
	// The partition is not (yet) in the writer's metadata; send to it
	// anyway so that the broker answers and the error surfaces.
	return int(p)
}

func (kafkaGoDriver) produce(ctx context.Context, r produceReq) error {
	cd, err := kafkaGoCodec(r.Codec)
	if err != nil {
		return err
	}
	w := &kafka.Writer{
		Addr:         kafka.TCP(r.Bootstrap),
		Topic:        r.Topic,
		Balancer:     fixedPartition(r.Partition),
		RequiredAcks: kafka.RequireAll,
		Compression:  cd,
		BatchSize:    len(r.Records),
		BatchTimeout: 50 * time.Millisecond,
		Transport:    kafkaGoTransport(),
	}
	defer w.Close()
	msgs := make([]kafka.Message, len(r.Records))
	for i, rec := range r.Records {
		m := kafka.Message{Key: rec.Key, Value: rec.Value}
		if rec.Timestamp != 0 {
			m.Time = time.UnixMilli(rec.Timestamp)
		}
		for _, h := range rec.Headers {
			m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
		msgs[i] = m
	}
	return w.WriteMessages(ctx, msgs...)
}

func fromKafkaGo(m kafka.Message) record {
	out := record{Key: m.Key, Value: m.Value, Timestamp: m.Time.UnixMilli(), Partition: int32(m.Partition), Offset: m.Offset}
	for _, h := range m.Headers {
		out.Headers = append(out.Headers, header{h.Key, h.Value})
	}
	return out
}

func (kafkaGoDriver) consume(ctx context.Context, r consumeReq) ([]record, error) {
	cfg := kafka.ReaderConfig{
		Brokers:   []string{r.Bootstrap},
		Topic:     r.Topic,
		Partition: int(r.Partition),
		MinBytes:  1,
		MaxBytes:  10 << 20,
		MaxWait:   250 * time.Millisecond,
	}
	if r.ReadCommitted {
		cfg.IsolationLevel = kafka.ReadCommitted
	}
	rd := kafka.NewReader(cfg)
	defer rd.Close()
	if err := rd.SetOffset(r.Offset); err != nil {
		return nil, err
	}
	var out []record
	for len(out) < r.Count {
		m, err := rd.ReadMessage(ctx)
		if err != nil {
			return out, fmt.Errorf("got %d of %d records: %w", len(out), r.Count, err)
		}
		out = append(out, fromKafkaGo(m))
	}
	return out, nil
}

func (kafkaGoDriver) groupConsume(ctx context.Context, r groupReq) ([]record, error) {
	rd := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        []string{r.Bootstrap},
		GroupID:        r.Group,
		Topic:          r.Topic,
		StartOffset:    kafka.FirstOffset,
		CommitInterval: 0, // CommitMessages commits synchronously
		MinBytes:       1,
		MaxBytes:       10 << 20,
		MaxWait:        250 * time.Millisecond,
	})
	var out []record
	var msgs []kafka.Message
	for len(out) < r.Count {
		m, err := rd.FetchMessage(ctx)
		if err != nil {
			return out, errors.Join(fmt.Errorf("got %d of %d records: %w", len(out), r.Count, err), rd.Close())
		}
		out = append(out, fromKafkaGo(m))
		msgs = append(msgs, m)
	}
	if err := rd.CommitMessages(ctx, msgs...); err != nil {
		return out, errors.Join(fmt.Errorf("commit: %w", err), rd.Close())
	}
	if err := rd.Close(); err != nil { // leaves the group
		return out, fmt.Errorf("close: %w", err)
	}
	return out, nil
}

func (kafkaGoDriver) txnProduce(context.Context, txnReq) error {
	return errors.New("kafka-go has no transactional producer")
}

func (kafkaGoDriver) describeConfig(ctx context.Context, r configReq) (string, error) {
	cl, done := kafkaGoAdmin(r.Bootstrap)
	defer done()
	resp, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: r.Topic, ConfigNames: []string{r.Key}},
	}})
	if err != nil {
		return "", err
	}
	for _, res := range resp.Resources {
		if res.Error != nil {
			return "", res.Error
		}
		for _, e := range res.ConfigEntries {
			if e.ConfigName == r.Key {
				return e.ConfigValue, nil
			}
		}
	}
	return "", fmt.Errorf("%s not described", r.Key)
}

func (kafkaGoDriver) alterConfig(ctx context.Context, r configReq) error {
	cl, done := kafkaGoAdmin(r.Bootstrap)
	defer done()
	resp, err := cl.AlterConfigs(ctx, &kafka.AlterConfigsRequest{Resources: []kafka.AlterConfigRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: r.Topic, Configs: []kafka.AlterConfigRequestConfig{{Name: r.Key, Value: r.Value}}},
	}})
	if err != nil {
		return err
	}
	for _, err := range resp.Errors {
		if err != nil {
			return err
		}
	}
	return nil
}
