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

// minVersionOf is the first ListOffsets version that may ask for a special
// timestamp (Kafka's ReplicaManager.timestampMinSupportedVersion); any
// other negative timestamp is UNSUPPORTED_VERSION at every version.
var minVersionOf = map[int64]int16{
	latestTimestamp:        1,
	earliestTimestamp:      1,
	maxTimestamp:           7,
	earliestLocalTimestamp: 8,
	latestTieredTimestamp:  9,
}

func (b *Broker) handleListOffsets(req *kmsg.ListOffsetsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	// A partition named twice is INVALID_REQUEST, answered once, as Kafka
	// (which keys its answers by partition) does.
	type tp struct {
		topic     string
		partition int32
	}
	count := map[tp]int{}
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			count[tp{rt.Topic, rp.Partition}]++
		}
	}
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			switch n := count[tp{rt.Topic, rp.Partition}]; {
			case n < 0:
				continue // already answered
			case n > 1:
				count[tp{rt.Topic, rp.Partition}] = -1
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.InvalidRequest.Code
				sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			st.Partitions = append(st.Partitions, b.listOffset(rt.Topic, rp, req.Version, req.IsolationLevel == 1))
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (b *Broker) listOffset(topic string, rp kmsg.ListOffsetsRequestTopicPartition, version int16, readCommitted bool) kmsg.ListOffsetsResponseTopicPartition {
	sp := kmsg.NewListOffsetsResponseTopicPartition()
	sp.Partition = rp.Partition
	sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
	if since, special := minVersionOf[rp.Timestamp]; rp.Timestamp < 0 && (!special || version < since) {
		sp.ErrorCode = kerr.UnsupportedVersion.Code
		return sp
	}
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
	default: // max timestamp, or a timestamp
		var off, ts int64
		var ok bool
		var err error
		if rp.Timestamp == maxTimestamp {
			ts, off, ok, err = p.Log().MaxTimestamp()
		} else {
			off, ts, ok, err = p.Log().OffsetForTimestamp(rp.Timestamp)
		}
		// As Kafka's ReplicaManager.fetchOffset: an offset a consumer of
		// this isolation level cannot read yet (at or past the last stable
		// offset for read_committed) is no answer.
		limit := p.HighWatermark()
		if readCommitted {
			limit = p.LastStableOffset()
		}
		switch {
		case err != nil:
			b.log.Error("ListOffsets by timestamp", "topic", topic, "partition", rp.Partition, "timestamp", rp.Timestamp, "err", err)
			sp.ErrorCode = kerr.KafkaStorageError.Code
		case ok && off < limit:
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = ts, off, epoch
		}
	}
	return sp
}
