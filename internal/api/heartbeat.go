package api

import "github.com/twmb/franz-go/pkg/kmsg"

func (b *Broker) handleHeartbeat(req *kmsg.HeartbeatRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	inst := ""
	if req.InstanceID != nil {
		inst = *req.InstanceID
	}
	if err := b.groups.Heartbeat(req.Group, req.MemberID, inst, req.Generation); err != nil {
		resp.ErrorCode = err.Code
	}
	return resp
}
