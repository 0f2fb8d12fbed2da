package api

import (
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleCreatePartitions(req *kmsg.CreatePartitionsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		st.ErrorCode, st.ErrorMessage = codeOf(b.createPartitions(rt, req.ValidateOnly))
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (b *Broker) createPartitions(rt kmsg.CreatePartitionsRequestTopic, validateOnly bool) error {
	t, ok := b.meta.Topic(rt.Topic)
	if !ok {
		return errorf(kerr.UnknownTopicOrPartition, "topic %q does not exist", rt.Topic)
	}
	switch {
	case rt.Count < t.Partitions:
		return errorf(kerr.InvalidPartitions, "topic %q has %d partitions; the count can only grow", rt.Topic, t.Partitions)
	case rt.Count == t.Partitions:
		return errorf(kerr.InvalidPartitions, "topic %q already has %d partitions", rt.Topic, t.Partitions)
	case rt.Count > maxPartitionsPerTopic:
		return errorf(kerr.InvalidPartitions, "partition count %d is above the limit of %d", rt.Count, maxPartitionsPerTopic)
	case len(rt.Assignment) > 0 && len(rt.Assignment) != int(rt.Count-t.Partitions):
		return errorf(kerr.InvalidReplicaAssignment, "attempted to add %d additional partitions, but %d assignments were given", rt.Count-t.Partitions, len(rt.Assignment))
	}
	for _, a := range rt.Assignment {
		if err := b.checkReplicas(a.Replicas, 1); err != nil {
			return err
		}
	}
	if validateOnly {
		return nil
	}
	var opened []*partition.Partition
	err := b.meta.SetPartitions(rt.Topic, rt.Count, func(t metadata.Topic) error {
		for i := t.Partitions; i < rt.Count; i++ {
			p, err := b.openPartition(t, i, true)
			if err != nil {
				for _, p := range opened {
					p.Delete()
				}
				return err
			}
			opened = append(opened, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.mu.Lock()
	if ts := b.topics[rt.Topic]; ts != nil {
		ts.partitions = append(ts.partitions, opened...)
		ts.meta.Partitions = rt.Count
	}
	b.mu.Unlock()
	b.log.Info("added partitions", "topic", rt.Topic, "count", rt.Count)
	return nil
}
