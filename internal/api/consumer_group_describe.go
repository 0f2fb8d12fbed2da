package api

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleConsumerGroupDescribe(req *kmsg.ConsumerGroupDescribeRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	toAssignment := func(a map[string][]int32) kmsg.Assignment {
		var out kmsg.Assignment
		names := make([]string, 0, len(a))
		for t := range a {
			names = append(names, t)
		}
		sort.Strings(names)
		for _, t := range names {
			tp := kmsg.NewAssignmentTopicPartition()
			tp.Topic, tp.Partitions = t, a[t]
			if mt, ok := b.meta.Topic(t); ok {
				tp.TopicID = mt.ID
			}
			out.TopicPartitions = append(out.TopicPartitions, tp)
		}
		return out
	}
	for _, id := range req.Groups {
		d := b.groups.DescribeConsumerGroup(id)
		g := kmsg.NewConsumerGroupDescribeResponseGroup()
		g.Group = id
		if d.Err != nil {
			g.ErrorCode, g.ErrorMessage = d.Err.Code, optString(d.ErrMessage)
			resp.Groups = append(resp.Groups, g)
			continue
		}
		g.State, g.Epoch, g.AssignmentEpoch, g.AssignorName = d.State, d.Epoch, d.AssignmentEpoch, d.Assignor
		g.AuthorizedOperations = authorizedOperations(req.IncludeAuthorizedOperations, groupOperations)
		for _, m := range d.Members {
			gm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
			gm.MemberID, gm.MemberEpoch, gm.ClientID, gm.ClientHost = m.MemberID, m.Epoch, m.ClientID, m.ClientHost
			gm.SubscribedTopics = m.SubscribedTopics
			gm.InstanceID, gm.RackID, gm.SubscribedTopicRegex = optString(m.InstanceID), optString(m.RackID), optString(m.SubscribedRegex)
			gm.Assignment, gm.TargetAssignment = toAssignment(m.Assignment), toAssignment(m.Target)
			gm.MemberType = 1 // consumer protocol
			g.Members = append(g.Members, gm)
		}
		resp.Groups = append(resp.Groups, g)
	}
	return resp
}

// optString is s as a nullable string: nil when empty.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
