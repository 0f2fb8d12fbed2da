package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleAlterPartitionReassignments answers AlterPartitionReassignments
// (KIP-455) as Kafka's KRaft controller
// (ReplicationControlManager.alterPartitionReassignments) answers in a
// cluster of one. The only valid target of a partition is [node.id], where
// it already is, so a valid reassignment completes at once with nothing to
// move; and as nothing is ever being moved, a cancellation (null replicas)
// finds no reassignment to cancel.
//
// The timeout is not used: Kafka's controller only fails a request that
// waited past it, and this answers at once.
func (b *Broker) handleAlterPartitionReassignments(req *kmsg.AlterPartitionAssignmentsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	// v1 (KIP-860) echoes the option. With AllowReplicationFactorChange
	// false Kafka also refuses a target of another length than the
	// partition's replicas, but only after the checks below, which let
	// through no target but [node.id]: the replication factor stays 1.
	resp.AllowReplicationFactorChange = req.AllowReplicationFactorChange
	for _, rt := range req.Topics {
		st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode, sp.ErrorMessage = codeOf(b.reassignPartition(rt.Topic, rp))
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// reassignPartition checks one partition's reassignment; a valid one
// changes nothing.
func (b *Broker) reassignPartition(topic string, rp kmsg.AlterPartitionAssignmentsRequestTopicPartition) error {
	if p, _ := b.partition(topic, rp.Partition); p == nil {
		return errorf(kerr.UnknownTopicOrPartition, "no such partition as %s-%d", topic, rp.Partition)
	}
	if rp.Replicas == nil {
		return errorf(kerr.NoReassignmentInProgress, "partition %s-%d is not being reassigned", topic, rp.Partition)
	}
	// Kafka checks a reassignment's target as a manual assignment at
	// creation, without the topic's replication factor.
	return b.checkReplicas(rp.Replicas, 0)
}

// handleListPartitionReassignments answers ListPartitionReassignments
// (KIP-455). Kafka lists only partitions being reassigned, and passes over
// named topics and partitions it does not know without an error
// (ReplicationControlManager.listPartitionReassignments); on one node no
// partition is ever being reassigned, so the list is always empty.
func (b *Broker) handleListPartitionReassignments(req *kmsg.ListPartitionReassignmentsRequest) kmsg.Response {
	return req.ResponseKind()
}
