package api

import "github.com/twmb/franz-go/pkg/kmsg"

func (b *Broker) handleOffsetDelete(req *kmsg.OffsetDeleteRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	topics := map[string][]int32{}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			topics[t.Topic] = append(topics[t.Topic], p.Partition)
		}
	}
	top, errs := b.groups.DeleteOffsets(req.Group, topics)
	if top != nil {
		resp.ErrorCode = top.Code
		return resp
	}
	for _, t := range req.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = t.Topic
		for _, p := range t.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition = p.Partition
			if err := errs[t.Topic][p.Partition]; err != nil {
				sp.ErrorCode = err.Code
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
