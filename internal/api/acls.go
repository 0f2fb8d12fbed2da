package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Samsa has no authorizer: every principal may do everything, as a Kafka
// broker without authorizer.class.name. Kafka answers the ACL APIs then
// with SECURITY_DISABLED (AclApis: DescribeAcls as a whole, CreateAcls per
// creation, DeleteAcls per filter), so that kafka-acls.sh and admin clients
// report that ACLs are off instead of losing the connection.

// noAuthorizer is the message Kafka gives with CreateAcls and DeleteAcls
// results; its DescribeAcls answer words it differently (below).
const noAuthorizer = "No Authorizer is configured."

func (b *Broker) handleDescribeACLs(req *kmsg.DescribeACLsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	resp.ErrorCode = kerr.SecurityDisabled.Code
	resp.ErrorMessage = optString("No Authorizer is configured on the broker")
	return resp
}

func (b *Broker) handleCreateACLs(req *kmsg.CreateACLsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	for range req.Creations {
		r := kmsg.NewCreateACLsResponseResult()
		r.ErrorCode, r.ErrorMessage = kerr.SecurityDisabled.Code, optString(noAuthorizer)
		resp.Results = append(resp.Results, r)
	}
	return resp
}

func (b *Broker) handleDeleteACLs(req *kmsg.DeleteACLsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	for range req.Filters {
		r := kmsg.NewDeleteACLsResponseResult()
		r.ErrorCode, r.ErrorMessage = kerr.SecurityDisabled.Code, optString(noAuthorizer)
		resp.Results = append(resp.Results, r)
	}
	return resp
}
