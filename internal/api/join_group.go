package api

import (
	"context"
	"time"

	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleJoinGroup(ctx context.Context, rc *server.RequestContext, req *kmsg.JoinGroupRequest) server.Reply {
	jr := coordinator.JoinRequest{
		Group: req.Group, MemberID: req.MemberID, ClientID: rc.ClientID,
		ProtocolType:         req.ProtocolType,
		SessionTimeout:       time.Duration(req.SessionTimeoutMillis) * time.Millisecond,
		RebalanceTimeout:     time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond,
		RequireKnownMemberID: req.Version >= 4,
		SkipAssignment:       req.Version >= 9,
	}
	if req.Version == 0 {
		jr.RebalanceTimeout = jr.SessionTimeout
	}
	if rc.ClientAddr != nil {
		jr.ClientHost = "/" + hostOf(rc.ClientAddr.String())
	}
	if req.InstanceID != nil {
		jr.InstanceID = *req.InstanceID
	}
	for _, p := range req.Protocols {
		jr.Protocols = append(jr.Protocols, coordinator.Protocol{Name: p.Name, Metadata: p.Metadata})
	}
	ch := b.groups.Join(jr)
	return func() server.Response {
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		var r coordinator.JoinResult
		select {
		case r = <-ch:
		case <-ctx.Done():
			r = coordinator.JoinResult{Err: kerr.NotCoordinator, MemberID: req.MemberID, Generation: -1} // shutting down: as Kafka answers when it unloads a group
		}
		resp.Generation, resp.MemberID = r.Generation, r.MemberID
		if r.Err != nil {
			resp.ErrorCode = r.Err.Code
			if r.Err == kerr.UnknownMemberID {
				resp.MemberID = req.MemberID
			}
			return server.Response{Msg: resp}
		}
		resp.LeaderID, resp.SkipAssignment = r.Leader, r.SkipAssignment
		pt, p := r.ProtocolType, r.Protocol
		resp.ProtocolType, resp.Protocol = &pt, &p
		for _, m := range r.Members {
			jm := kmsg.NewJoinGroupResponseMember()
			jm.MemberID, jm.ProtocolMetadata = m.MemberID, m.Metadata
			if m.InstanceID != "" {
				inst := m.InstanceID
				jm.InstanceID = &inst
			}
			resp.Members = append(resp.Members, jm)
		}
		return server.Response{Msg: resp}
	}
}

func hostOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[:i]
		}
	}
	return addr
}
