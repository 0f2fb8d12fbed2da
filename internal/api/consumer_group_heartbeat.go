package api

import (
	"time"

	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleConsumerGroupHeartbeat serves the KIP-848 consumer group protocol.
// The session timeout and heartbeat interval are the group's dynamic configs
// when set (group_configs.go), read on every heartbeat so a change applies
// at the member's next one, as in Kafka.
func (b *Broker) handleConsumerGroupHeartbeat(rc *server.RequestContext, req *kmsg.ConsumerGroupHeartbeatRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	hr := coordinator.HeartbeatRequest{
		Group: req.Group, MemberID: req.MemberID, MemberEpoch: req.MemberEpoch,
		InstanceID: req.InstanceID, RackID: req.RackID,
		RebalanceTimeout:     time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond,
		SubscribedTopicNames: req.SubscribedTopicNames, SubscribedTopicRegex: req.SubscribedTopicRegex,
		ServerAssignor: req.ServerAssignor, ClientID: rc.ClientID,
		SessionTimeout: b.consumerSessionTimeout(req.Group),
		TopicNamesByID: b.topicNameByID,
	}
	if rc.ClientAddr != nil {
		hr.ClientHost = "/" + hostOf(rc.ClientAddr.String())
	}
	if req.Topics != nil {
		hr.Owned = map[[16]byte][]int32{}
		for _, t := range req.Topics {
			hr.Owned[t.TopicID] = append(hr.Owned[t.TopicID], t.Partitions...)
		}
	}
	r := b.groups.ConsumerHeartbeat(hr)
	if r.Err != nil {
		resp.ErrorCode = r.Err.Code
		if r.ErrMessage != "" {
			msg := r.ErrMessage
			resp.ErrorMessage = &msg
		}
		return resp
	}
	id := r.MemberID
	resp.MemberID, resp.MemberEpoch = &id, r.Epoch
	resp.HeartbeatIntervalMillis = int32(b.consumerHeartbeatInterval(req.Group).Milliseconds())
	if r.Assignment != nil {
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		for tid, ps := range r.Assignment {
			a.Topics = append(a.Topics, kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{TopicID: tid, Partitions: ps})
		}
		resp.Assignment = &a
	}
	return resp
}
