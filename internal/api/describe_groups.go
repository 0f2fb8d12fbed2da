package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/coordinator"
)

func (b *Broker) handleDescribeGroups(req *kmsg.DescribeGroupsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range req.Groups {
		d := b.groups.Describe(id)
		g := kmsg.NewDescribeGroupsResponseGroup()
		g.Group = id
		g.AuthorizedOperations = operationsNotRequested
		if d.Err != nil {
			g.ErrorCode = d.Err.Code
			resp.Groups = append(resp.Groups, g)
			continue
		}
		g.State, g.ProtocolType, g.Protocol = string(d.State), d.ProtocolType, d.Protocol
		if d.State == coordinator.Dead && req.Version >= 6 {
			// KIP-1043: from v6 a group that does not exist is an error,
			// where before it was an empty Dead group.
			g.ErrorCode, g.ErrorMessage = kerr.GroupIDNotFound.Code, optString("Group "+id+" not found.")
			resp.Groups = append(resp.Groups, g)
			continue
		}
		g.AuthorizedOperations = authorizedOperations(req.Version >= 3 && req.IncludeAuthorizedOperations, groupOperations)
		for _, m := range d.Members {
			gm := kmsg.NewDescribeGroupsResponseGroupMember()
			gm.MemberID, gm.ClientID, gm.ClientHost = m.MemberID, m.ClientID, m.ClientHost
			gm.ProtocolMetadata, gm.MemberAssignment = m.Metadata, m.Assignment
			if gm.MemberAssignment == nil {
				gm.MemberAssignment = []byte{}
			}
			gm.InstanceID = optString(m.InstanceID)
			g.Members = append(g.Members, gm)
		}
		resp.Groups = append(resp.Groups, g)
	}
	return resp
}
