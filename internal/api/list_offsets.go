package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Special timestamps of ListOffsets.
const (
	latestTimestamp        = -1
	earliestTimestamp      = -2
	maxTimestamp           = -3 // KIP-734
	earliestLocalTimestamp = -4 // KIP-405: no tiering, so the same as earliest
	latestTieredTimestamp  = -5 // KIP-1005: nothing is tiered
)

func (b *Broker) handleListOffsets(req *kmsg.ListOffsetsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			st.Partitions = append(st.Partitions, b.listOffset(rt.Topic, rp, req.IsolationLevel == 1))
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (b *Broker) listOffset(topic string, rp kmsg.ListOffsetsRequestTopicPartition, readCommitted bool) kmsg.ListOffsetsResponseTopicPartition {
	sp := kmsg.NewListOffsetsResponseTopicPartition()
	sp.Partition = rp.Partition
	sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
	p, _ := b.partition(topic, rp.Partition)
	if p == nil {
		sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
		return sp
	}
	epoch := p.LeaderEpoch()
	switch {
	case rp.CurrentLeaderEpoch > epoch:
		sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
		return sp
	case rp.CurrentLeaderEpoch >= 0 && rp.CurrentLeaderEpoch < epoch:
		sp.ErrorCode = kerr.FencedLeaderEpoch.Code
		return sp
	}
	switch rp.Timestamp {
	case latestTimestamp:
		sp.Offset, sp.LeaderEpoch = p.HighWatermark(), epoch
		if readCommitted {
			sp.Offset = p.LastStableOffset()
		}
	case earliestTimestamp, earliestLocalTimestamp:
		sp.Offset, sp.LeaderEpoch = p.LogStartOffset(), epoch
	case latestTieredTimestamp:
		// Nothing is tiered: Kafka answers offset -1 here.
	case maxTimestamp:
		ts, off, ok, err := p.Log().MaxTimestamp()
		if err != nil {
			b.log.Error("ListOffsets max timestamp", "topic", topic, "partition", rp.Partition, "err", err)
			sp.ErrorCode = kerr.KafkaStorageError.Code
		} else if ok {
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = ts, off, epoch
		}
	default:
		if rp.Timestamp < 0 {
			sp.ErrorCode = kerr.InvalidRequest.Code
			return sp
		}
		off, ts, ok, err := p.Log().OffsetForTimestamp(rp.Timestamp)
		if err != nil {
			b.log.Error("ListOffsets by timestamp", "topic", topic, "partition", rp.Partition, "err", err)
			sp.ErrorCode = kerr.KafkaStorageError.Code
		} else if ok {
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = ts, off, epoch
		}
	}
	return sp
}
