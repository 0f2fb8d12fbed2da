package e2e

import (
	"context"
	"reflect"
	"sort"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func sortedOps(ops []kadm.ACLOperation) []kadm.ACLOperation {
	out := append([]kadm.ACLOperation(nil), ops...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// TestAuthorizedOperations: asked for, the operations a client may perform
// on a topic, the cluster and groups are every one Kafka supports for the
// resource type, as Kafka answers without an authorizer (KIP-430; what
// librdkafka's 0081_admin checks); not asked for, none.
func TestAuthorizedOperations(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic("t", 1, nil)
	cl := tb.client()
	adm := kadm.NewClient(cl)

	topicOps := []kadm.ACLOperation{kadm.OpRead, kadm.OpWrite, kadm.OpCreate, kadm.OpDelete, kadm.OpAlter,
		kadm.OpDescribe, kadm.OpDescribeConfigs, kadm.OpAlterConfigs}
	clusterOps := []kadm.ACLOperation{kadm.OpCreate, kadm.OpAlter, kadm.OpDescribe, kadm.OpClusterAction,
		kadm.OpDescribeConfigs, kadm.OpAlterConfigs, kadm.OpIdempotentWrite}
	groupOps := []kadm.ACLOperation{kadm.OpRead, kadm.OpDelete, kadm.OpDescribe, kadm.OpDescribeConfigs, kadm.OpAlterConfigs}

	md, err := adm.Metadata(kadm.WithAuthorizedOps(ctxT(t)), "t")
	if err != nil {
		t.Fatal(err)
	}
	if got := md.Topics["t"].AuthorizedOperations; !reflect.DeepEqual(got, topicOps) {
		t.Errorf("topic operations %v, want %v", got, topicOps)
	}
	md, err = adm.Metadata(ctxT(t), "t")
	if err != nil {
		t.Fatal(err)
	}
	if got := md.Topics["t"].AuthorizedOperations; len(got) != 0 {
		t.Errorf("topic operations not asked for: %v", got)
	}

	// The cluster's: DescribeCluster, and Metadata v8-10.
	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.IncludeClusterAuthorizedOperations = true
	dcResp, err := dc.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedOps(kadm.DecodeACLOperations(dcResp.ClusterAuthorizedOperations)); !reflect.DeepEqual(got, clusterOps) {
		t.Errorf("DescribeCluster: cluster operations %v, want %v", got, clusterOps)
	}
	mr := kmsg.NewPtrMetadataRequest()
	mr.SetVersion(10)
	mr.Topics = []kmsg.MetadataRequestTopic{}
	mr.IncludeClusterAuthorizedOperations = true
	c := dial(t, tb.addr)
	c.send(mr, 1)
	mResp := kmsg.NewPtrMetadataResponse()
	mResp.Version = 10
	c.recv(mResp, 1)
	if got := sortedOps(kadm.DecodeACLOperations(mResp.AuthorizedOperations)); !reflect.DeepEqual(got, clusterOps) {
		t.Errorf("Metadata v10: cluster operations %v, want %v", got, clusterOps)
	}

	// A classic group (kadm's DescribeGroups always asks) and a KIP-848 one.
	if err := adm.CommitAllOffsets(ctxT(t), "classic", kadm.Offsets{"t": {0: {Topic: "t", Partition: 0, At: 0}}}); err != nil {
		t.Fatal(err)
	}
	gs, err := adm.DescribeGroups(ctxT(t), "classic")
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedOps(gs["classic"].AuthorizedOperations); !reflect.DeepEqual(got, groupOps) {
		t.Errorf("DescribeGroups: operations %v, want %v", got, groupOps)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gc := tb.startGroupConsumer(ctx, "kip848", "t", kgo.ServerSideBalancer())
	defer func() { cancel(); <-gc.done }()
	waitFor(t, "the KIP-848 member to join", func() bool {
		cgs, err := adm.DescribeConsumerGroups(ctxT(t), "kip848")
		if err != nil || cgs["kip848"].Err != nil || len(cgs["kip848"].Members) != 1 {
			return false
		}
		if got := sortedOps(cgs["kip848"].AuthorizedOperations); !reflect.DeepEqual(got, groupOps) {
			t.Fatalf("DescribeConsumerGroups: operations %v, want %v", got, groupOps)
		}
		return true
	})
}
