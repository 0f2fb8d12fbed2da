package api

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Election types of ElectLeaders v1+ (KIP-460); v0 has no field and means
// preferred.
const (
	electPreferred int8 = 0
	electUnclean   int8 = 1
)

// handleElectLeaders answers ElectLeaders (KIP-183, KIP-460) as Kafka's
// KRaft controller (ReplicationControlManager.electLeaders) answers in a
// cluster of one: every partition's only replica, this node, is both its
// preferred replica and its leader, so neither a preferred nor an unclean
// election is ever needed.
func (b *Broker) handleElectLeaders(req *kmsg.ElectLeadersRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	if req.Topics != nil && len(req.Topics) == 0 {
		// Kafka's controller answers an empty (not null) list before it
		// looks at the election type.
		return resp
	}
	if req.ElectionType != electPreferred && req.ElectionType != electUnclean {
		// Kafka fails the whole request (ElectLeadersRequest.getErrorResponse):
		// the top-level code, and the same code on every partition named, so
		// that a client reading only the partitions sees it too.
		msg := fmt.Sprintf("unknown election type %d", req.ElectionType)
		resp.ErrorCode = kerr.InvalidRequest.Code
		for _, rt := range req.Topics {
			st := kmsg.NewElectLeadersResponseTopic()
			st.Topic = rt.Topic
			for _, idx := range rt.Partitions {
				sp := kmsg.NewElectLeadersResponseTopicPartition()
				sp.Partition, sp.ErrorCode, sp.ErrorMessage = idx, kerr.InvalidRequest.Code, &msg
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	if req.Topics == nil {
		// Null elects every partition. Kafka's controller lists every topic
		// but leaves out the partitions that already have the leader wanted
		// (ELECTION_NOT_NEEDED), which here is all of them.
		for _, t := range b.meta.Topics() {
			st := kmsg.NewElectLeadersResponseTopic()
			st.Topic = t.Name
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	for _, rt := range req.Topics {
		st := kmsg.NewElectLeadersResponseTopic()
		st.Topic = rt.Topic
		for _, idx := range rt.Partitions {
			sp := kmsg.NewElectLeadersResponseTopicPartition()
			sp.Partition = idx
			sp.ErrorCode, sp.ErrorMessage = codeOf(b.electLeader(rt.Topic, idx))
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// electLeader is the outcome of electing one partition's leader, of either
// type: there is nothing to elect, unless the partition does not exist.
func (b *Broker) electLeader(topic string, idx int32) error {
	if p, _ := b.partition(topic, idx); p == nil {
		return errorf(kerr.UnknownTopicOrPartition, "no such partition as %s-%d", topic, idx)
	}
	return errorf(kerr.ElectionNotNeeded, "the leader of %s-%d is already node %d, its preferred and only replica", topic, idx, b.cfg.NodeID)
}
