package api

import (
	"context"

	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleSyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) server.Reply {
	sr := coordinator.SyncRequest{Group: req.Group, MemberID: req.MemberID, Generation: req.Generation,
		ProtocolType: req.ProtocolType, Protocol: req.Protocol, Assignments: map[string][]byte{}}
	if req.InstanceID != nil {
		sr.InstanceID = *req.InstanceID
	}
	for _, a := range req.GroupAssignment {
		sr.Assignments[a.MemberID] = a.MemberAssignment
	}
	ch := b.groups.Sync(sr)
	return func() server.Response {
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		var r coordinator.SyncResult
		select {
		case r = <-ch:
		case <-ctx.Done():
			r = coordinator.SyncResult{Err: kerr.NotCoordinator} // shutting down, as for JoinGroup
		}
		if r.Err != nil {
			resp.ErrorCode = r.Err.Code
			resp.MemberAssignment = []byte{}
			return server.Response{Msg: resp}
		}
		pt, p := r.ProtocolType, r.Protocol
		resp.ProtocolType, resp.Protocol = &pt, &p
		resp.MemberAssignment = r.Assignment
		return server.Response{Msg: resp}
	}
}
