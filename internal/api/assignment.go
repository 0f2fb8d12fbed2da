package api

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// checkReplicas checks the manual replica assignment of one partition, as
// Kafka does: not empty, no broker twice, every broker registered, and (rf >
// 0) as many replicas as the topic's other partitions have. This node is
// the only broker, so the one valid assignment is [node.id].
func (b *Broker) checkReplicas(replicas []int32, rf int) error {
	if len(replicas) == 0 {
		return errorf(kerr.InvalidReplicaAssignment, "the manual partition assignment includes an empty replica list")
	}
	for i, r := range replicas {
		if slices.Contains(replicas[:i], r) {
			return errorf(kerr.InvalidReplicaAssignment, "the manual partition assignment includes broker %d more than once", r)
		}
		if r != b.cfg.NodeID {
			return errorf(kerr.InvalidReplicaAssignment, "the manual partition assignment includes broker %d, but no such broker is registered (this cluster is node %d alone)", r, b.cfg.NodeID)
		}
	}
	if rf > 0 && len(replicas) != rf {
		return errorf(kerr.InvalidReplicaAssignment, "the manual partition assignment includes a partition with %d replica(s), but the topic's partitions have %d", len(replicas), rf)
	}
	return nil
}

// assignedPartitions checks the manual replica assignment of a CreateTopics
// topic and returns its partition count. Kafka requires the counts to be
// left to the assignment (-1) and the partitions to be numbered 0 to n-1.
func (b *Broker) assignedPartitions(rt kmsg.CreateTopicsRequestTopic) (int32, error) {
	if rt.NumPartitions != -1 {
		return 0, errorf(kerr.InvalidRequest, "a manual partition assignment was specified, but numPartitions was not set to -1")
	}
	if rt.ReplicationFactor != -1 {
		return 0, errorf(kerr.InvalidRequest, "a manual partition assignment was specified, but replicationFactor was not set to -1")
	}
	n := int32(len(rt.ReplicaAssignment))
	seen := make([]bool, n)
	for _, a := range rt.ReplicaAssignment {
		if a.Partition < 0 || a.Partition >= n || seen[a.Partition] {
			return 0, errorf(kerr.InvalidReplicaAssignment, "the manual partition assignment's partitions must be numbered 0 to %d, each once (got partition %d)", n-1, a.Partition)
		}
		seen[a.Partition] = true
		if err := b.checkReplicas(a.Replicas, len(rt.ReplicaAssignment[0].Replicas)); err != nil {
			return 0, err
		}
	}
	return n, nil
}
