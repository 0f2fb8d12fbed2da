package e2e

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
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

// TestLeaderElectionAndReassignment: what kafka-leader-election.sh,
// kafka-reassign-partitions.sh and kadm ask get the answers of a one-node
// Kafka: no leader election is ever needed, the one assignment a partition
// can have is this node, which it already has, and nothing is ever being
// reassigned. The broker is node 2, so nothing passes by assuming node 1.
func TestLeaderElectionAndReassignment(t *testing.T) {
	const node = 2
	tb := startBroker(t, t.TempDir(), map[string]string{"node.id": "2"})
	tb.createTopic("moves", 2, nil)
	cl := tb.client()
	adm := kadm.NewClient(cl)
	ctx := ctxT(t)
	adm.FindGroupCoordinators(ctx, "g") // creates __consumer_offsets (5 partitions here)
	md, err := adm.Metadata(ctx, "__consumer_offsets")
	if err != nil || len(md.Topics["__consumer_offsets"].Partitions) != 5 {
		t.Fatalf("__consumer_offsets: %v, %d partitions; want 5", err, len(md.Topics["__consumer_offsets"].Partitions))
	}

	versions, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	advertised := map[int16][2]int16{}
	for _, k := range versions.ApiKeys {
		advertised[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	for key, want := range map[int16][2]int16{43: {0, 2}, 45: {0, 1}, 46: {0, 0}} {
		if advertised[key] != want {
			t.Errorf("%s advertised as %v, want %v", kmsg.NameForKey(key), advertised[key], want)
		}
	}

	// ElectLeaders of named partitions, both election types.
	var named kadm.TopicsSet
	named.Add("moves", 0, 1, 2)
	named.Add("__consumer_offsets", 0)
	named.Add("nope", 0)
	for _, how := range []kadm.ElectLeadersHow{kadm.ElectPreferredReplica, kadm.ElectLiveReplica} {
		rs, err := adm.ElectLeaders(ctx, how, named)
		if err != nil {
			t.Fatalf("ElectLeaders %d: %v", how, err)
		}
		for _, c := range []struct {
			topic     string
			partition int32
			want      error
		}{
			{"moves", 0, kerr.ElectionNotNeeded},
			{"moves", 1, kerr.ElectionNotNeeded},
			{"__consumer_offsets", 0, kerr.ElectionNotNeeded},
			{"moves", 2, kerr.UnknownTopicOrPartition},
			{"nope", 0, kerr.UnknownTopicOrPartition},
		} {
			r, ok := rs[c.topic][c.partition]
			if !ok {
				t.Fatalf("ElectLeaders %d: no result for %s-%d in %v", how, c.topic, c.partition, rs)
			}
			if !errors.Is(r.Err, c.want) || r.How != how {
				t.Errorf("ElectLeaders %d: %s-%d: %v (%s) by %d, want %v", how, c.topic, c.partition, r.Err, r.ErrMessage, r.How, c.want)
			}
		}
	}

	// ElectLeaders of every partition lists every topic, without the
	// partitions that needed no election: all of them.
	all, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all["moves"] == nil || all["__consumer_offsets"] == nil || len(all["moves"])+len(all["__consumer_offsets"]) != 0 {
		t.Fatalf("ElectLeaders of all partitions: %v, want moves and __consumer_offsets without partitions", all)
	}

	// An unknown election type fails the request, at the top and on each
	// partition.
	elect := kmsg.NewPtrElectLeadersRequest()
	elect.ElectionType = 7
	elect.Topics = []kmsg.ElectLeadersRequestTopic{{Topic: "moves", Partitions: []int32{0}}}
	eresp, err := elect.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if eresp.ErrorCode != kerr.InvalidRequest.Code || len(eresp.Topics) != 1 || len(eresp.Topics[0].Partitions) != 1 ||
		eresp.Topics[0].Partitions[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("election type 7: error %d, topics %+v; want INVALID_REQUEST", eresp.ErrorCode, eresp.Topics)
	}

	// AlterPartitionReassignments, v1 with and without KIP-860's
	// ForbidAlterRf.
	var alter kadm.AlterPartitionAssignmentsReq
	alter.Assign("moves", 0, []int32{node})
	alter.CancelAssign("moves", 1)
	alter.Assign("__consumer_offsets", 0, []int32{node})
	alter.Assign("__consumer_offsets", 1, []int32{})
	alter.Assign("__consumer_offsets", 2, []int32{node, node})
	alter.Assign("__consumer_offsets", 3, []int32{1})
	alter.Assign("__consumer_offsets", 4, []int32{node, 3})
	alter.Assign("moves", 5, []int32{node})
	alter.Assign("nope", 0, []int32{node})
	want := map[string]map[int32]error{
		"moves":              {0: nil, 1: kerr.NoReassignmentInProgress, 5: kerr.UnknownTopicOrPartition},
		"__consumer_offsets": {0: nil, 1: kerr.InvalidReplicaAssignment, 2: kerr.InvalidReplicaAssignment, 3: kerr.InvalidReplicaAssignment, 4: kerr.InvalidReplicaAssignment},
		"nope":               {0: kerr.UnknownTopicOrPartition},
	}
	for _, actx := range []context.Context{ctx, kadm.ForbidAlterRf(ctx)} {
		rs, err := adm.AlterPartitionAssignments(actx, alter)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		rs.Each(func(r kadm.AlterPartitionAssignmentsResponse) {
			n++
			w, ok := want[r.Topic][r.Partition]
			if !ok {
				t.Errorf("unexpected result for %s-%d", r.Topic, r.Partition)
			}
			if !errors.Is(r.Err, w) {
				t.Errorf("reassign %s-%d: %v (%s), want %v", r.Topic, r.Partition, r.Err, r.ErrMessage, w)
			}
		})
		if n != 9 {
			t.Fatalf("reassignment answered %d partitions, want 9", n)
		}
	}
	md, err = adm.Metadata(ctx, "moves")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range md.Topics["moves"].Partitions {
		if p.Leader != node || len(p.Replicas) != 1 || p.Replicas[0] != node {
			t.Fatalf("after the reassignments moves-%d: leader %d, replicas %v; want node %d", p.Partition, p.Leader, p.Replicas, node)
		}
	}
	if n := len(md.Topics["moves"].Partitions); n != 2 {
		t.Fatalf("moves has %d partitions after the reassignments, want 2", n)
	}

	// ListPartitionReassignments: empty for named partitions, known or
	// not, and (kadm sends no request for nil) for everything.
	var listed kadm.TopicsSet
	listed.Add("moves", 0, 1, 9)
	listed.Add("nope", 0)
	ls, err := adm.ListPartitionReassignments(ctx, listed)
	if err != nil || len(ls) != 0 {
		t.Fatalf("ListPartitionReassignments: %v, %v; want nothing", ls, err)
	}
	lresp, err := kmsg.NewPtrListPartitionReassignmentsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if lresp.ErrorCode != 0 || len(lresp.Topics) != 0 {
		t.Fatalf("ListPartitionReassignments of everything: error %d, %d topics; want none", lresp.ErrorCode, len(lresp.Topics))
	}
}
