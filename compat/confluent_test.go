package compat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// confluent-kafka-go, in process through cgo with the librdkafka it bundles.
func confluentGoClient() *client {
	return &client{
		name:   "confluent-kafka-go",
		driver: confluentGoDriver{},
		na:     map[string]string{},
		apis: map[string][]int16{
			"config-alter": k(kmsg.IncrementalAlterConfigs), // AdminClient.IncrementalAlterConfigs
		},
		versions: map[string][]versionNeed{
			// librdkafka's LZ4 feature still hangs on FindCoordinator
			// (`debug=feature`: "Feature LZ4: FindCoordinator (0..32767)").
			"produce-lz4": {{kmsg.FindCoordinator, -1, "librdkafka sends lz4 batches uncompressed unless the broker advertises FindCoordinator"}},
		},
	}
}

type confluentGoDriver struct{}

func (confluentGoDriver) version(context.Context) (string, error) {
	_, lib := kafka.LibraryVersion()
	return moduleVersion("github.com/confluentinc/confluent-kafka-go/v2") + " (bundled librdkafka " + lib + ")", nil
}

func confluentAdmin(bootstrap string) (*kafka.AdminClient, error) {
	return kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": bootstrap})
}

func (confluentGoDriver) createTopic(ctx context.Context, r adminReq) error {
	adm, err := confluentAdmin(r.Bootstrap)
	if err != nil {
		return err
	}
	defer adm.Close()
	res, err := adm.CreateTopics(ctx, []kafka.TopicSpecification{{Topic: r.Topic, NumPartitions: int(r.Partitions), ReplicationFactor: 1}})
	if err != nil {
		return err
	}
	for _, tr := range res {
		if tr.Error.Code() != kafka.ErrNoError {
			return tr.Error
		}
	}
	return nil
}

func (confluentGoDriver) topicPartitions(_ context.Context, r adminReq) (int32, error) {
	adm, err := confluentAdmin(r.Bootstrap)
	if err != nil {
		return 0, err
	}
	defer adm.Close()
	topic := r.Topic
	md, err := adm.GetMetadata(&topic, false, 10000)
	if err != nil {
		return 0, err
	}
	tm, ok := md.Topics[topic]
	if !ok {
		return 0, fmt.Errorf("topic %s not in metadata", topic)
	}
	if tm.Error.Code() != kafka.ErrNoError {
		return 0, tm.Error
	}
	return int32(len(tm.Partitions)), nil
}

func confluentMessage(topic *string, partition int32, r record) *kafka.Message {
	m := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: topic, Partition: partition}, Key: r.Key, Value: r.Value}
	if r.Timestamp != 0 {
		m.Timestamp = time.UnixMilli(r.Timestamp)
	}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
	}
	return m
}

// confluentSend produces rs and waits for every delivery report.
func confluentSend(ctx context.Context, p *kafka.Producer, topic string, partition int32, rs []record) error {
	dr := make(chan kafka.Event, len(rs))
	for _, r := range rs {
		if err := p.Produce(confluentMessage(&topic, partition, r), dr); err != nil {
			return err
		}
	}
	for range rs {
		select {
		case ev := <-dr:
			m, ok := ev.(*kafka.Message)
			if !ok {
				return fmt.Errorf("unexpected delivery event %v", ev)
			}
			if m.TopicPartition.Error != nil {
				return fmt.Errorf("delivery: %w", m.TopicPartition.Error)
			}
		case <-ctx.Done():
			return fmt.Errorf("waiting for delivery reports: %w", ctx.Err())
		}
	}
	return nil
}

func (confluentGoDriver) produce(ctx context.Context, r produceReq) error {
	p, err := kafka.NewProducer(&kafka.ConfigMap{
		"bootstrap.servers":  r.Bootstrap,
		"acks":               "all",
		"compression.codec":  r.Codec,
		"enable.idempotence": r.Idempotent,
		"linger.ms":          20,
	})
	if err != nil {
		return err
	}
	defer p.Close()
	return confluentSend(ctx, p, r.Topic, r.Partition, r.Records)
}

func fromConfluent(m *kafka.Message) record {
	out := record{Key: m.Key, Value: m.Value, Timestamp: m.Timestamp.UnixMilli(), Partition: m.TopicPartition.Partition, Offset: int64(m.TopicPartition.Offset)}
	for _, h := range m.Headers {
		out.Headers = append(out.Headers, header{h.Key, h.Value})
	}
	return out
}

// confluentPoll reads count messages, failing on consumer errors.
func confluentPoll(ctx context.Context, c *kafka.Consumer, count int) ([]record, error) {
	var out []record
	var lastErr error
	for len(out) < count {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("got %d of %d records: %w (last client error: %v)", len(out), count, err, lastErr)
		}
		switch ev := c.Poll(100).(type) {
		case *kafka.Message:
			if ev.TopicPartition.Error != nil {
				return out, ev.TopicPartition.Error
			}
			out = append(out, fromConfluent(ev))
		case kafka.Error:
			// librdkafka reports transient errors too; a fatal one or an
			// error on every poll until the deadline fails the cell.
			if ev.IsFatal() {
				return out, ev
			}
			lastErr = ev
		}
	}
	return out, nil
}

func (confluentGoDriver) consume(ctx context.Context, r consumeReq) ([]record, error) {
	iso := "read_uncommitted"
	if r.ReadCommitted {
		iso = "read_committed"
	}
	// group.id is required by the Go binding; assign() uses no group.
	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers":  r.Bootstrap,
		"group.id":           "compat.confluent-kafka-go.assign",
		"enable.auto.commit": false,
		"isolation.level":    iso,
	})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	topic := r.Topic
	if err := c.Assign([]kafka.TopicPartition{{Topic: &topic, Partition: r.Partition, Offset: kafka.Offset(r.Offset)}}); err != nil {
		return nil, err
	}
	return confluentPoll(ctx, c, r.Count)
}

func (confluentGoDriver) groupConsume(ctx context.Context, r groupReq) ([]record, error) {
	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers":  r.Bootstrap,
		"group.id":           r.Group,
		"enable.auto.commit": false,
		"auto.offset.reset":  "earliest",
	})
	if err != nil {
		return nil, err
	}
	if err := c.Subscribe(r.Topic, nil); err != nil {
		c.Close()
		return nil, err
	}
	out, err := confluentPoll(ctx, c, r.Count)
	if err != nil {
		return out, errors.Join(err, c.Close())
	}
	if _, err := c.Commit(); err != nil {
		return out, errors.Join(fmt.Errorf("commit: %w", err), c.Close())
	}
	if err := c.Close(); err != nil { // leaves the group
		return out, fmt.Errorf("close: %w", err)
	}
	return out, nil
}

func (confluentGoDriver) txnProduce(ctx context.Context, r txnReq) error {
	p, err := kafka.NewProducer(&kafka.ConfigMap{
		"bootstrap.servers": r.Bootstrap,
		"transactional.id":  r.TransactionalID,
	})
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.InitTransactions(ctx); err != nil {
		return fmt.Errorf("init transactions: %w", err)
	}
	if err := p.BeginTransaction(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := confluentSend(ctx, p, r.Topic, r.Partition, r.Aborted); err != nil {
		return fmt.Errorf("produce in transaction: %w", err)
	}
	if err := p.AbortTransaction(ctx); err != nil {
		return fmt.Errorf("abort: %w", err)
	}
	if err := p.BeginTransaction(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := confluentSend(ctx, p, r.Topic, r.Partition, r.Committed); err != nil {
		return fmt.Errorf("produce in transaction: %w", err)
	}
	if err := p.CommitTransaction(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (confluentGoDriver) describeConfig(ctx context.Context, r configReq) (string, error) {
	adm, err := confluentAdmin(r.Bootstrap)
	if err != nil {
		return "", err
	}
	defer adm.Close()
	res, err := adm.DescribeConfigs(ctx, []kafka.ConfigResource{{Type: kafka.ResourceTopic, Name: r.Topic}})
	if err != nil {
		return "", err
	}
	for _, rr := range res {
		if rr.Error.Code() != kafka.ErrNoError {
			return "", rr.Error
		}
		if e, ok := rr.Config[r.Key]; ok {
			return e.Value, nil
		}
	}
	return "", fmt.Errorf("%s not described", r.Key)
}

func (confluentGoDriver) alterConfig(ctx context.Context, r configReq) error {
	adm, err := confluentAdmin(r.Bootstrap)
	if err != nil {
		return err
	}
	defer adm.Close()
	res, err := adm.IncrementalAlterConfigs(ctx, []kafka.ConfigResource{{Type: kafka.ResourceTopic, Name: r.Topic,
		Config: []kafka.ConfigEntry{{Name: r.Key, Value: r.Value, IncrementalOperation: kafka.AlterConfigOpTypeSet}}}})
	if err != nil {
		return err
	}
	for _, rr := range res {
		if rr.Error.Code() != kafka.ErrNoError {
			return rr.Error
		}
	}
	return nil
}
