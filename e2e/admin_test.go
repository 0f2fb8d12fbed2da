package e2e

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestManualReplicaAssignment: CreateTopics and CreatePartitions with
// replica assignments (kafka-topics.sh --replica-assignment, kafka-go's
// and Terraform's admin calls) succeed when every partition is placed on
// this node, and get Kafka's error codes otherwise.
func TestManualReplicaAssignment(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	cl := tb.client()
	onNode := func(ps ...int32) []kmsg.CreateTopicsRequestTopicReplicaAssignment {
		var out []kmsg.CreateTopicsRequestTopicReplicaAssignment
		for _, p := range ps {
			out = append(out, kmsg.CreateTopicsRequestTopicReplicaAssignment{Partition: p, Replicas: []int32{1}})
		}
		return out
	}
	create := func(topic string, parts int32, rf int16, as []kmsg.CreateTopicsRequestTopicReplicaAssignment) kmsg.CreateTopicsResponseTopic {
		t.Helper()
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 10_000
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor, rt.ReplicaAssignment = topic, parts, rf, as
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0]
	}
	if got := create("assigned", -1, -1, onNode(2, 0, 1)); got.ErrorCode != 0 || got.NumPartitions != 3 || got.ReplicationFactor != 1 {
		t.Fatalf("create with every partition on node 1: error %d (%v), %d partitions, rf %d; want 3 partitions, rf 1",
			got.ErrorCode, strOf(got.ErrorMessage), got.NumPartitions, got.ReplicationFactor)
	}
	md, err := tb.admin().Metadata(ctxT(t), "assigned")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(md.Topics["assigned"].Partitions); n != 3 {
		t.Fatalf("metadata shows %d partitions, want 3", n)
	}
	for _, p := range md.Topics["assigned"].Partitions {
		if p.Leader != 1 || len(p.Replicas) != 1 || p.Replicas[0] != 1 {
			t.Fatalf("partition %d: leader %d, replicas %v; want node 1", p.Partition, p.Leader, p.Replicas)
		}
	}

	twice := onNode(0)
	twice[0].Replicas = []int32{1, 1}
	elsewhere := onNode(0, 1)
	elsewhere[1].Replicas = []int32{2}
	empty := onNode(0)
	empty[0].Replicas = nil
	for _, c := range []struct {
		name  string
		parts int32
		rf    int16
		as    []kmsg.CreateTopicsRequestTopicReplicaAssignment
		want  *kerr.Error
	}{
		{"counts-set", 2, -1, onNode(0, 1), kerr.InvalidRequest},
		{"rf-set", -1, 1, onNode(0, 1), kerr.InvalidRequest},
		{"gap", -1, -1, onNode(0, 2), kerr.InvalidReplicaAssignment},
		{"repeat", -1, -1, onNode(0, 0), kerr.InvalidReplicaAssignment},
		{"twice", -1, -1, twice, kerr.InvalidReplicaAssignment},
		{"elsewhere", -1, -1, elsewhere, kerr.InvalidReplicaAssignment},
		{"empty", -1, -1, empty, kerr.InvalidReplicaAssignment},
	} {
		got := create("bad-"+c.name, c.parts, c.rf, c.as)
		if got.ErrorCode != c.want.Code {
			t.Errorf("%s: error %d (%v), want %s", c.name, got.ErrorCode, strOf(got.ErrorMessage), c.want)
		}
	}
	if md, err := tb.admin().ListTopics(ctxT(t)); err != nil || len(md.Names()) != 1 {
		t.Fatalf("topics after the refused creates: %v %v, want only \"assigned\"", md.Names(), err)
	}

	grow := func(count int32, replicas ...[]int32) int16 {
		t.Helper()
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.TimeoutMillis = 10_000
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = "assigned", count
		for _, r := range replicas {
			rt.Assignment = append(rt.Assignment, kmsg.CreatePartitionsRequestTopicAssignment{Replicas: r})
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].ErrorCode
	}
	if code := grow(5, []int32{1}); code != kerr.InvalidReplicaAssignment.Code {
		t.Errorf("two new partitions with one assignment: error %d, want %s", code, kerr.InvalidReplicaAssignment)
	}
	if code := grow(5, []int32{1}, []int32{3}); code != kerr.InvalidReplicaAssignment.Code {
		t.Errorf("a new partition on broker 3: error %d, want %s", code, kerr.InvalidReplicaAssignment)
	}
	if code := grow(5, []int32{1}, []int32{1}); code != 0 {
		t.Fatalf("two new partitions on node 1: error %d", code)
	}
	md, err = tb.admin().Metadata(ctxT(t), "assigned")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(md.Topics["assigned"].Partitions); n != 5 {
		t.Fatalf("metadata shows %d partitions after growing, want 5", n)
	}
}

func strOf(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
