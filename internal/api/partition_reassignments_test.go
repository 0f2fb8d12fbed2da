package api

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A reassignment to [node.id] succeeds with nothing to move; any other
// target is INVALID_REPLICA_ASSIGNMENT, a cancellation finds nothing in
// progress, and an unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION.
func TestAlterPartitionReassignments(t *testing.T) {
	b := openElectionBroker(t) // node 3; t-0, t-1, __consumer_offsets-0
	cases := []struct {
		topic     string
		partition int32
		replicas  []int32
		want      *kerr.Error // nil: success
	}{
		{"t", 0, []int32{3}, nil},
		{"__consumer_offsets", 0, []int32{3}, nil},
		{"t", 1, nil, kerr.NoReassignmentInProgress},
		{"t", 1, []int32{}, kerr.InvalidReplicaAssignment},
		{"t", 1, []int32{3, 3}, kerr.InvalidReplicaAssignment},
		{"t", 1, []int32{1}, kerr.InvalidReplicaAssignment},
		{"t", 1, []int32{3, 4}, kerr.InvalidReplicaAssignment},
		{"t", 1, []int32{-1}, kerr.InvalidReplicaAssignment},
		{"t", 2, []int32{3}, kerr.UnknownTopicOrPartition},
		{"t", -1, nil, kerr.UnknownTopicOrPartition},
		{"nope", 0, []int32{3}, kerr.UnknownTopicOrPartition},
		{"nope", 0, nil, kerr.UnknownTopicOrPartition},
	}
	for _, version := range []int16{0, 1} {
		for _, allowRF := range []bool{true, false} {
			if version == 0 && !allowRF {
				continue // v0 cannot carry the option
			}
			for _, c := range cases {
				name := fmt.Sprintf("v%d allowRF=%v %s-%d %v", version, allowRF, c.topic, c.partition, c.replicas)
				req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
				req.SetVersion(version)
				req.AllowReplicationFactorChange = allowRF
				rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
				rt.Topic = c.topic
				rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
				rp.Partition, rp.Replicas = c.partition, c.replicas
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				resp := b.handleAlterPartitionReassignments(req).(*kmsg.AlterPartitionAssignmentsResponse)
				if resp.ErrorCode != 0 {
					t.Fatalf("%s: top-level error %d", name, resp.ErrorCode)
				}
				if resp.AllowReplicationFactorChange != allowRF {
					t.Errorf("%s: AllowReplicationFactorChange %v, want the request's", name, resp.AllowReplicationFactorChange)
				}
				if len(resp.Topics) != 1 || resp.Topics[0].Topic != c.topic || len(resp.Topics[0].Partitions) != 1 {
					t.Fatalf("%s: answered %+v", name, resp.Topics)
				}
				got := resp.Topics[0].Partitions[0]
				wantCode := int16(0)
				if c.want != nil {
					wantCode = c.want.Code
				}
				if got.Partition != c.partition || got.ErrorCode != wantCode {
					t.Errorf("%s: partition %d error %d (%s), want %d", name, got.Partition, got.ErrorCode, deref(got.ErrorMessage), wantCode)
				}
				if (c.want == nil) != (got.ErrorMessage == nil) {
					t.Errorf("%s: error message %s", name, deref(got.ErrorMessage))
				}
			}
		}
	}
	// Nothing moved: the partition count is unchanged.
	if p, _ := b.partition("t", 2); p != nil {
		t.Fatal("a reassignment created partition t-2")
	}
}

// No reassignment is ever in progress: every listing is empty, whether of
// everything, of known partitions, or of unknown ones (which Kafka passes
// over without an error).
func TestListPartitionReassignmentsEmpty(t *testing.T) {
	b := openElectionBroker(t)
	for _, topics := range [][]kmsg.ListPartitionReassignmentsRequestTopic{
		nil,
		{},
		{{Topic: "t", Partitions: []int32{0, 1}}},
		{{Topic: "t", Partitions: []int32{7}}, {Topic: "nope", Partitions: []int32{0}}},
	} {
		req := kmsg.NewPtrListPartitionReassignmentsRequest()
		req.Topics = topics
		resp := b.handleListPartitionReassignments(req).(*kmsg.ListPartitionReassignmentsResponse)
		if resp.ErrorCode != 0 || resp.ErrorMessage != nil || len(resp.Topics) != 0 {
			t.Fatalf("topics %+v: error %d (%s), %d topics; want none", topics, resp.ErrorCode, deref(resp.ErrorMessage), len(resp.Topics))
		}
	}
}
