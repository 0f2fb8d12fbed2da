package api

import (
	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleOffsetFetch serves one group (v0-v7) or several (v8+). Nothing is
// transactional yet, so require_stable never finds pending offsets.
func (b *Broker) handleOffsetFetch(req *kmsg.OffsetFetchRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version < 8 {
		var topics map[string][]int32
		if req.Topics != nil {
			topics = map[string][]int32{}
			for _, t := range req.Topics {
				topics[t.Topic] = append(topics[t.Topic], t.Partitions...)
			}
		}
		offs, err := b.groups.Fetch(req.Group, topics)
		if err != nil {
			resp.ErrorCode = err.Code
			if req.Version < 2 { // no top-level error before v2: on each partition
				offs = unknownOffsets(topics)
			}
		}
		for _, o := range offs {
			i := len(resp.Topics) - 1
			if i < 0 || resp.Topics[i].Topic != o.Topic {
				resp.Topics = append(resp.Topics, kmsg.OffsetFetchResponseTopic{Topic: o.Topic})
				i++
			}
			p := fetchedPartition(o)
			if err != nil {
				p.ErrorCode = err.Code
			}
			resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, p)
		}
		return resp
	}
	for _, rg := range req.Groups {
		g := kmsg.NewOffsetFetchResponseGroup()
		g.Group = rg.Group
		var topics map[string][]int32
		if rg.Topics != nil {
			topics = map[string][]int32{}
			for _, t := range rg.Topics {
				topics[t.Topic] = append(topics[t.Topic], t.Partitions...)
			}
		}
		offs, err := b.groups.Fetch(rg.Group, topics)
		if err != nil {
			g.ErrorCode = err.Code
		}
		for _, o := range offs {
			i := len(g.Topics) - 1
			if i < 0 || g.Topics[i].Topic != o.Topic {
				g.Topics = append(g.Topics, kmsg.OffsetFetchResponseGroupTopic{Topic: o.Topic})
				i++
			}
			p := fetchedPartition(o)
			g.Topics[i].Partitions = append(g.Topics[i].Partitions, kmsg.OffsetFetchResponseGroupTopicPartition{
				Partition: p.Partition, Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: p.Metadata, ErrorCode: p.ErrorCode})
		}
		resp.Groups = append(resp.Groups, g)
	}
	return resp
}

func fetchedPartition(o coordinator.FetchedOffset) kmsg.OffsetFetchResponseTopicPartition {
	p := kmsg.NewOffsetFetchResponseTopicPartition()
	p.Partition, p.Offset, p.LeaderEpoch = o.Partition, o.Offset.Offset, o.LeaderEpoch
	md := o.Metadata
	p.Metadata = &md
	return p
}

func unknownOffsets(topics map[string][]int32) []coordinator.FetchedOffset {
	var out []coordinator.FetchedOffset
	for t, ps := range topics {
		for _, p := range ps {
			out = append(out, coordinator.FetchedOffset{Topic: t, Partition: p, Offset: coordinator.Offset{Offset: -1, LeaderEpoch: -1}})
		}
	}
	return out
}
