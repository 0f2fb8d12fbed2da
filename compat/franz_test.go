package compat

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// franz-go (kgo + kadm), in process. It is also the suite's reference
// reader, but here it is the client under test like any other.
func franzClient() *client {
	return &client{
		name:   "franz-go",
		driver: franzDriver{},
		na:     map[string]string{},
		apis: map[string][]int16{
			"config-alter": k(kmsg.IncrementalAlterConfigs), // kadm.AlterTopicConfigs
		},
	}
}

type franzDriver struct{}

func (franzDriver) version(context.Context) (string, error) {
	return moduleVersion("github.com/twmb/franz-go") + " (kadm " + moduleVersion("github.com/twmb/franz-go/pkg/kadm") + ")", nil
}

func franzAdmin(bootstrap string) (*kadm.Client, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return nil, err
	}
	return kadm.NewClient(cl), nil
}

func (franzDriver) createTopic(ctx context.Context, r adminReq) error {
	adm, err := franzAdmin(r.Bootstrap)
	if err != nil {
		return err
	}
	defer adm.Close()
	resp, err := adm.CreateTopic(ctx, r.Partitions, 1, nil, r.Topic)
	if err != nil {
		return err
	}
	if resp.Err != nil {
		return fmt.Errorf("%w: %s", resp.Err, resp.ErrMessage)
	}
	return nil
}

func (franzDriver) topicPartitions(ctx context.Context, r adminReq) (int32, error) {
	adm, err := franzAdmin(r.Bootstrap)
	if err != nil {
		return 0, err
	}
	defer adm.Close()
	tds, err := adm.ListTopics(ctx, r.Topic)
	if err != nil {
		return 0, err
	}
	td, ok := tds[r.Topic]
	if !ok {
		return 0, fmt.Errorf("topic %s not listed", r.Topic)
	}
	if td.Err != nil {
		return 0, td.Err
	}
	return int32(len(td.Partitions)), nil
}

func kgoCodec(name string) (kgo.CompressionCodec, error) {
	for _, cd := range allCodecs {
		if cd.name == name {
			return cd.kgo, nil
		}
	}
	return kgo.CompressionCodec{}, fmt.Errorf("unknown codec %q", name)
}

func (franzDriver) produce(ctx context.Context, r produceReq) error {
	cd, err := kgoCodec(r.Codec)
	if err != nil {
		return err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(r.Bootstrap),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(cd),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	}
	if !r.Idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	krs := make([]*kgo.Record, len(r.Records))
	for i, rec := range r.Records {
		rec.Partition = r.Partition
		krs[i] = toKgo(r.Topic, rec)
	}
	return cl.ProduceSync(ctx, krs...).FirstErr()
}

func (franzDriver) consume(ctx context.Context, r consumeReq) ([]record, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(r.Bootstrap),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.Topic: {r.Partition: kgo.NewOffset().At(r.Offset)}}),
	}
	if r.ReadCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return pollKgo(ctx, cl, r.Count)
}

func pollKgo(ctx context.Context, cl *kgo.Client, count int) ([]record, error) {
	var out []record
	for len(out) < count {
		fs := cl.PollRecords(ctx, count-len(out))
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("got %d of %d records: %w", len(out), count, err)
		}
		if fs.IsClientClosed() {
			return out, errors.New("client closed")
		}
		for _, fe := range fs.Errors() {
			return out, fmt.Errorf("fetch %s[%d]: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(kr *kgo.Record) { out = append(out, fromKgo(kr)) })
	}
	return out, nil
}

func (franzDriver) groupConsume(ctx context.Context, r groupReq) ([]record, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(r.Bootstrap),
		kgo.ConsumerGroup(r.Group),
		kgo.ConsumeTopics(r.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	)
	if err != nil {
		return nil, err
	}
	defer cl.Close() // leaves the group
	out, err := pollKgo(ctx, cl, r.Count)
	if err != nil {
		return out, err
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		return out, fmt.Errorf("commit: %w", err)
	}
	return out, nil
}

func (franzDriver) txnProduce(ctx context.Context, r txnReq) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(r.Bootstrap),
		kgo.TransactionalID(r.TransactionalID),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	for _, step := range []struct {
		recs []record
		end  kgo.TransactionEndTry
	}{{r.Aborted, kgo.TryAbort}, {r.Committed, kgo.TryCommit}} {
		if err := cl.BeginTransaction(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		krs := make([]*kgo.Record, len(step.recs))
		for i, rec := range step.recs {
			rec.Partition = r.Partition
			krs[i] = toKgo(r.Topic, rec)
		}
		if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
			return fmt.Errorf("produce in transaction: %w", err)
		}
		if err := cl.EndTransaction(ctx, step.end); err != nil {
			return fmt.Errorf("end transaction (commit=%v): %w", step.end, err)
		}
	}
	return nil
}

func (franzDriver) describeConfig(ctx context.Context, r configReq) (string, error) {
	adm, err := franzAdmin(r.Bootstrap)
	if err != nil {
		return "", err
	}
	defer adm.Close()
	rcs, err := adm.DescribeTopicConfigs(ctx, r.Topic)
	if err != nil {
		return "", err
	}
	rc, err := rcs.On(r.Topic, nil)
	if err != nil {
		return "", err
	}
	if rc.Err != nil {
		return "", fmt.Errorf("%w: %s", rc.Err, rc.ErrMessage)
	}
	for _, c := range rc.Configs {
		if c.Key == r.Key {
			return c.MaybeValue(), nil
		}
	}
	return "", fmt.Errorf("%s not described", r.Key)
}

func (franzDriver) alterConfig(ctx context.Context, r configReq) error {
	adm, err := franzAdmin(r.Bootstrap)
	if err != nil {
		return err
	}
	defer adm.Close()
	resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: r.Key, Value: kmsg.StringPtr(r.Value)}}, r.Topic)
	if err != nil {
		return err
	}
	resp, err := resps.On(r.Topic, nil)
	if err != nil {
		return err
	}
	if resp.Err != nil {
		return fmt.Errorf("%w: %s", resp.Err, resp.ErrMessage)
	}
	return nil
}
