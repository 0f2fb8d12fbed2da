package api

import (
	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleLeaveGroup(req *kmsg.LeaveGroupRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	var members []coordinator.LeaveMember
	if req.Version < 3 {
		members = []coordinator.LeaveMember{{MemberID: req.MemberID}}
	}
	for _, m := range req.Members {
		lm := coordinator.LeaveMember{MemberID: m.MemberID}
		if m.InstanceID != nil {
			lm.InstanceID = *m.InstanceID
		}
		members = append(members, lm)
	}
	top, errs := b.groups.Leave(req.Group, members)
	if top != nil {
		resp.ErrorCode = top.Code
		return resp
	}
	if req.Version < 3 {
		if errs[0] != nil {
			resp.ErrorCode = errs[0].Code
		}
		return resp
	}
	for i, m := range req.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = m.MemberID, m.InstanceID
		if errs[i] != nil {
			rm.ErrorCode = errs[i].Code
		}
		resp.Members = append(resp.Members, rm)
	}
	return resp
}
