package api

import (
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Authorized operations (KIP-430): Metadata, DescribeCluster, DescribeGroups
// and ConsumerGroupDescribe tell a client that asks what it may do with a
// topic, the cluster or a group, as a bit field with bit n set for the
// AclOperation of code n. Samsa has no authorizer, and Kafka without one
// answers every operation the resource type supports
// (AuthHelper.authorizedOperations: `case None => supportedOps`, the sets of
// AclEntry.supportedOperations).
var (
	topicOperations = aclOperations(kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationCreate,
		kmsg.ACLOperationDelete, kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe,
		kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs)
	clusterOperations = aclOperations(kmsg.ACLOperationCreate, kmsg.ACLOperationClusterAction,
		kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs, kmsg.ACLOperationIdempotentWrite,
		kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe)
	groupOperations = aclOperations(kmsg.ACLOperationRead, kmsg.ACLOperationDescribe, kmsg.ACLOperationDelete,
		kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs)
)

// operationsNotRequested is the answer when the request did not ask for
// authorized operations (the schemas' default).
const operationsNotRequested int32 = math.MinInt32

func aclOperations(ops ...kmsg.ACLOperation) int32 {
	var bits int32
	for _, op := range ops {
		bits |= 1 << op
	}
	return bits
}

// authorizedOperations is ops when they were asked for.
func authorizedOperations(requested bool, ops int32) int32 {
	if !requested {
		return operationsNotRequested
	}
	return ops
}
