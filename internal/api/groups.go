package api

import (
	"maps"
	"sync"
	"time"

	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/twmb/franz-go/pkg/kerr"
)

// internalLog lets a coordinator keep its records in the partitions of an
// internal topic (__consumer_offsets, __transaction_state). The topic is
// created the first time it is needed, as Kafka does.
type internalLog struct {
	b          *Broker
	topic      string
	partitions int32
	configs    map[string]string
	mu         sync.Mutex // serialises the lazy creation
}

func (o *internalLog) partition(p int32) (*partition.Partition, error) {
	if part, _ := o.b.partition(o.topic, p); part != nil {
		return part, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if part, _ := o.b.partition(o.topic, p); part != nil {
		return part, nil
	}
	if _, err := o.b.createTopic(o.topic, o.partitions, 1, maps.Clone(o.configs), false); err != nil {
		return nil, err
	}
	part, _ := o.b.partition(o.topic, p)
	if part == nil {
		return nil, errorf(kerr.UnknownTopicOrPartition, "%s-%d missing", o.topic, p)
	}
	return part, nil
}

func (o *internalLog) Append(p int32, batch []byte) (func() error, error) {
	part, err := o.partition(p)
	if err != nil {
		return nil, err
	}
	res, err := part.Append(batch)
	if err != nil {
		return nil, err
	}
	if res.Durable == nil {
		return func() error { return nil }, nil
	}
	return res.Durable, nil
}

func (o *internalLog) Replay(p int32, fn func(log.BatchHeader, log.Record) error) error {
	part, _ := o.b.partition(o.topic, p)
	if part == nil {
		return nil
	}
	off, end := part.LogStartOffset(), part.HighWatermark()
	for off < end {
		data, err := part.Log().ReadBytes(off, 1<<20, true)
		if err != nil {
			return err
		}
		if len(data) == 0 {
			break
		}
		for len(data) >= log.BatchHeaderSize {
			h, err := log.ParseBatchHeader(data)
			if err != nil || h.Size() > len(data) {
				return errorf(kerr.CorruptMessage, "%s-%d at %d: bad batch", o.topic, p, off)
			}
			recs, err := log.DecodeRecords(data[:h.Size()])
			if err != nil {
				return err
			}
			for _, r := range recs {
				if err := fn(h, r); err != nil {
					return err
				}
			}
			off = h.LastOffset() + 1
			data = data[h.Size():]
		}
	}
	return nil
}

// groupConfig maps broker properties to the coordinator's configuration.
func (b *Broker) groupConfig() coordinator.Config {
	return coordinator.Config{
		NumPartitions:          b.cfg.OffsetsTopicPartitions,
		MinSessionTimeout:      b.cfg.GroupMinSessionTimeout,
		MaxSessionTimeout:      b.cfg.GroupMaxSessionTimeout,
		InitialRebalanceDelay:  b.cfg.GroupInitialRebalanceDelay,
		MaxGroupSize:           b.cfg.GroupMaxSize,
		MaxMetadataBytes:       b.cfg.OffsetMetadataMaxBytes,
		ConsumerSessionTimeout: b.cfg.ConsumerSessionTimeout,
		GroupSessionTimeout:    b.consumerSessionTimeout,
	}
}

// startGroups creates the coordinator and replays __consumer_offsets in the
// background; group requests meanwhile get COORDINATOR_LOAD_IN_PROGRESS.
func (b *Broker) startGroups() {
	b.offsetsLog = &internalLog{b: b, topic: coordinator.OffsetsTopic, partitions: b.cfg.OffsetsTopicPartitions,
		configs: map[string]string{"cleanup.policy": "compact", "segment.bytes": "104857600"}} // as Kafka creates it
	b.groups = coordinator.New(b.groupConfig(), b.offsetsLog, b.topicInfos, nil, b.log)
	b.bgDone.Add(1)
	go func() {
		defer b.bgDone.Done()
		start := time.Now()
		if err := b.groups.Load(); err != nil {
			b.log.Error("loading consumer groups failed; group requests will keep failing", "err", err, "after", time.Since(start))
			return
		}
		// offsets.retention.minutes, checked every
		// offsets.retention.check.interval.ms.
		b.bgDone.Add(1)
		b.every(b.cfg.OffsetsRetentionCheck, func() { b.groups.ExpireOffsets(b.cfg.OffsetsRetention) })
	}()
}

func isInternalTopic(name string) bool {
	return name == coordinator.OffsetsTopic || name == coordinator.TxnStateTopic
}

// topicInfos lists the topics for server-side assignment. Internal topics
// are included, as in Kafka: a regex subscription may match them.
func (b *Broker) topicInfos() map[string]coordinator.TopicInfo {
	out := map[string]coordinator.TopicInfo{}
	for _, t := range b.meta.Topics() {
		out[t.Name] = coordinator.TopicInfo{ID: t.ID, Partitions: t.Partitions}
	}
	return out
}
