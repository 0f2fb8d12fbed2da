package api

import (
	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleOffsetCommit(rc *server.RequestContext, req *kmsg.OffsetCommitRequest) server.Reply {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	cr := coordinator.CommitRequest{Group: req.Group, MemberID: req.MemberID, Generation: req.Generation,
		Offsets: map[string]map[int32]coordinator.Offset{}, Version: req.Version}
	if req.InstanceID != nil {
		cr.InstanceID = *req.InstanceID
	}
	// Per-partition checks first; valid partitions are committed together.
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			epoch := rp.LeaderEpoch
			if req.Version < 6 {
				epoch = -1
			}
			sp.ErrorCode = b.stageCommit(cr.Offsets, rt.Topic, rp.Partition, rp.Offset, epoch, rp.Metadata)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	top, durable := b.groups.Commit(cr)
	setAll := func(code int16) {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if resp.Topics[i].Partitions[j].ErrorCode == 0 {
					resp.Topics[i].Partitions[j].ErrorCode = code
				}
			}
		}
	}
	if top != nil {
		setAll(top.Code)
		return now(rc, resp)
	}
	return func() server.Response {
		if err := durable(); err != nil {
			b.log.Error("offset commit not durable", "group", req.Group, "err", err)
			setAll(kerr.UnknownServerError.Code)
		}
		return server.Response{Msg: resp}
	}
}

// stageCommit checks one partition of an (transactional) offset commit and,
// if it may be committed, adds it to offsets. It returns the partition's
// error code.
func (b *Broker) stageCommit(offsets map[string]map[int32]coordinator.Offset, topic string, partition int32,
	offset int64, leaderEpoch int32, metadata *string) int16 {
	md := ""
	if metadata != nil {
		md = *metadata
	}
	switch p, _ := b.partition(topic, partition); {
	case p == nil:
		return kerr.UnknownTopicOrPartition.Code
	case len(md) > b.cfg.OffsetMetadataMaxBytes:
		return kerr.OffsetMetadataTooLarge.Code
	}
	if offsets[topic] == nil {
		offsets[topic] = map[int32]coordinator.Offset{}
	}
	offsets[topic][partition] = coordinator.Offset{Offset: offset, LeaderEpoch: leaderEpoch, Metadata: md}
	return 0
}
