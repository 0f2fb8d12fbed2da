package compat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// IBM/sarama, in process, with its default protocol version (the version a
// user gets without configuring one).
func saramaClient() *client {
	return &client{
		name:   "sarama",
		driver: saramaDriver{},
		na:     map[string]string{},
		apis: map[string][]int16{
			"config-alter": k(kmsg.IncrementalAlterConfigs), // ClusterAdmin.IncrementalAlterConfig
		},
	}
}

type saramaDriver struct{}

func saramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "samsa-compat"
	cfg.Net.DialTimeout = 10 * time.Second
	cfg.Net.ReadTimeout = 15 * time.Second
	cfg.Net.WriteTimeout = 10 * time.Second
	cfg.Metadata.Retry.Max = 5
	cfg.Metadata.Retry.Backoff = 200 * time.Millisecond
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Consumer.Return.Errors = true
	return cfg
}

func (saramaDriver) version(context.Context) (string, error) {
	return moduleVersion("github.com/IBM/sarama") + " (protocol " + sarama.DefaultVersion.String() + ")", nil
}

func saramaCodec(name string) (sarama.CompressionCodec, error) {
	switch name {
	case "none":
		return sarama.CompressionNone, nil
	case "gzip":
		return sarama.CompressionGZIP, nil
	case "snappy":
		return sarama.CompressionSnappy, nil
	case "lz4":
		return sarama.CompressionLZ4, nil
	case "zstd":
		return sarama.CompressionZSTD, nil
	}
	return 0, fmt.Errorf("unknown codec %q", name)
}

func (saramaDriver) createTopic(_ context.Context, r adminReq) error {
	adm, err := sarama.NewClusterAdmin([]string{r.Bootstrap}, saramaConfig())
	if err != nil {
		return err
	}
	defer adm.Close()
	return adm.CreateTopic(r.Topic, &sarama.TopicDetail{NumPartitions: r.Partitions, ReplicationFactor: 1}, false)
}

func (saramaDriver) topicPartitions(_ context.Context, r adminReq) (int32, error) {
	adm, err := sarama.NewClusterAdmin([]string{r.Bootstrap}, saramaConfig())
	if err != nil {
		return 0, err
	}
	defer adm.Close()
	mds, err := adm.DescribeTopics([]string{r.Topic})
	if err != nil {
		return 0, err
	}
	if len(mds) != 1 {
		return 0, fmt.Errorf("DescribeTopics returned %d topics", len(mds))
	}
	if mds[0].Err != sarama.ErrNoError {
		return 0, mds[0].Err
	}
	return int32(len(mds[0].Partitions)), nil
}

func saramaMessages(topic string, partition int32, rs []record) []*sarama.ProducerMessage {
	msgs := make([]*sarama.ProducerMessage, len(rs))
	for i, r := range rs {
		m := &sarama.ProducerMessage{Topic: topic, Partition: partition, Value: sarama.ByteEncoder(r.Value)}
		if r.Key != nil {
			m.Key = sarama.ByteEncoder(r.Key)
		}
		if r.Timestamp != 0 {
			m.Timestamp = time.UnixMilli(r.Timestamp)
		}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
		msgs[i] = m
	}
	return msgs
}

func (saramaDriver) produce(_ context.Context, r produceReq) error {
	cfg := saramaConfig()
	cd, err := saramaCodec(r.Codec)
	if err != nil {
		return err
	}
	cfg.Producer.Compression = cd
	if r.Idempotent {
		cfg.Producer.Idempotent = true
		cfg.Net.MaxOpenRequests = 1
	}
	p, err := sarama.NewSyncProducer([]string{r.Bootstrap}, cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	return p.SendMessages(saramaMessages(r.Topic, r.Partition, r.Records))
}

func fromSarama(m *sarama.ConsumerMessage) record {
	out := record{Key: m.Key, Value: m.Value, Timestamp: m.Timestamp.UnixMilli(), Partition: m.Partition, Offset: m.Offset}
	for _, h := range m.Headers {
		out.Headers = append(out.Headers, header{string(h.Key), h.Value})
	}
	return out
}

func (saramaDriver) consume(ctx context.Context, r consumeReq) ([]record, error) {
	cfg := saramaConfig()
	if r.ReadCommitted {
		cfg.Consumer.IsolationLevel = sarama.ReadCommitted
	}
	c, err := sarama.NewConsumer([]string{r.Bootstrap}, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	pc, err := c.ConsumePartition(r.Topic, r.Partition, r.Offset)
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	var out []record
	for len(out) < r.Count {
		select {
		case m := <-pc.Messages():
			out = append(out, fromSarama(m))
		case err := <-pc.Errors():
			return out, err
		case <-ctx.Done():
			return out, fmt.Errorf("got %d of %d records: %w", len(out), r.Count, ctx.Err())
		}
	}
	return out, nil
}

// saramaGroupHandler collects count records from all claims, marks each,
// and commits synchronously once it has them all.
type saramaGroupHandler struct {
	count int
	mu    sync.Mutex
	out   []record
	done  chan struct{}
}

func (*saramaGroupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (*saramaGroupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *saramaGroupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			h.mu.Lock()
			if len(h.out) == h.count {
				h.mu.Unlock()
				return nil
			}
			h.out = append(h.out, fromSarama(m))
			sess.MarkMessage(m, "")
			all := len(h.out) == h.count
			h.mu.Unlock()
			if all {
				sess.Commit()
				close(h.done)
				return nil
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}

func (saramaDriver) groupConsume(ctx context.Context, r groupReq) ([]record, error) {
	cfg := saramaConfig()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	g, err := sarama.NewConsumerGroup([]string{r.Bootstrap}, r.Group, cfg)
	if err != nil {
		return nil, err
	}
	defer g.Close() // leaves the group
	h := &saramaGroupHandler{count: r.Count, done: make(chan struct{})}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	consumed := make(chan error, 1)
	go func() {
		// Consume returns at every rebalance; join again until done.
		for gctx.Err() == nil {
			if err := g.Consume(gctx, []string{r.Topic}, h); err != nil {
				consumed <- err
				return
			}
		}
		consumed <- nil
	}()
	var groupErr error
	for {
		select {
		case <-h.done:
			cancel()
			<-consumed
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.out, groupErr
		case err := <-g.Errors():
			groupErr = errors.Join(groupErr, err)
		case err := <-consumed:
			return nil, fmt.Errorf("consume: %w", errors.Join(err, groupErr))
		case <-ctx.Done():
			h.mu.Lock()
			n := len(h.out)
			h.mu.Unlock()
			return nil, fmt.Errorf("got %d of %d records: %w (group errors: %v)", n, r.Count, ctx.Err(), groupErr)
		}
	}
}

func (saramaDriver) txnProduce(_ context.Context, r txnReq) error {
	cfg := saramaConfig()
	cfg.Producer.Idempotent = true
	cfg.Producer.Transaction.ID = r.TransactionalID
	cfg.Net.MaxOpenRequests = 1
	p, err := sarama.NewSyncProducer([]string{r.Bootstrap}, cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.BeginTxn(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := p.SendMessages(saramaMessages(r.Topic, r.Partition, r.Aborted)); err != nil {
		return fmt.Errorf("produce in transaction: %w", err)
	}
	if err := p.AbortTxn(); err != nil {
		return fmt.Errorf("abort: %w", err)
	}
	if err := p.BeginTxn(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := p.SendMessages(saramaMessages(r.Topic, r.Partition, r.Committed)); err != nil {
		return fmt.Errorf("produce in transaction: %w", err)
	}
	if err := p.CommitTxn(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (saramaDriver) describeConfig(_ context.Context, r configReq) (string, error) {
	adm, err := sarama.NewClusterAdmin([]string{r.Bootstrap}, saramaConfig())
	if err != nil {
		return "", err
	}
	defer adm.Close()
	entries, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: r.Topic, ConfigNames: []string{r.Key}})
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.Name == r.Key {
			return e.Value, nil
		}
	}
	return "", fmt.Errorf("%s not described", r.Key)
}

func (saramaDriver) alterConfig(_ context.Context, r configReq) error {
	adm, err := sarama.NewClusterAdmin([]string{r.Bootstrap}, saramaConfig())
	if err != nil {
		return err
	}
	defer adm.Close()
	v := r.Value
	return adm.IncrementalAlterConfig(sarama.TopicResource, r.Topic,
		map[string]sarama.IncrementalAlterConfigsEntry{r.Key: {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &v}}, false)
}
