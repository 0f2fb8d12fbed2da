package api

import (
	"math"
	"testing"

	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka's bit fields without an authorizer (AclEntry.supportedOperations,
// bit n for AclOperation code n), written out here rather than derived.
const (
	wantTopicOps   = 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<10 | 1<<11 // READ WRITE CREATE DELETE ALTER DESCRIBE DESCRIBE_CONFIGS ALTER_CONFIGS
	wantClusterOps = 1<<5 | 1<<7 | 1<<8 | 1<<9 | 1<<10 | 1<<11 | 1<<12       // CREATE ALTER DESCRIBE CLUSTER_ACTION DESCRIBE_CONFIGS ALTER_CONFIGS IDEMPOTENT_WRITE
	wantGroupOps   = 1<<3 | 1<<6 | 1<<8 | 1<<10 | 1<<11                      // READ DELETE DESCRIBE DESCRIBE_CONFIGS ALTER_CONFIGS
	notRequested   = math.MinInt32
)

// roundTrip encodes resp at its version and decodes it as a client would,
// so that fields the version lacks read as their defaults (into is a
// kmsg.NewPtr… value, which has them).
func roundTrip[R kmsg.Response](t *testing.T, resp, into R) R {
	t.Helper()
	into.SetVersion(resp.GetVersion())
	if err := into.ReadFrom(resp.AppendTo(nil)); err != nil {
		t.Fatalf("decode %T v%d: %v", resp, resp.GetVersion(), err)
	}
	return into
}

func TestMetadataAuthorizedOperations(t *testing.T) {
	b := openTestBroker(t, map[string]string{"auto.create.topics.enable": "false"})
	if _, err := b.createTopic("t", 1, 1, nil, false); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		version             int16
		topics, cluster     bool
		wantTopic, wantClus int32
	}{
		{8, true, true, wantTopicOps, wantClusterOps},
		{8, false, false, notRequested, notRequested},
		{10, false, true, notRequested, wantClusterOps},
		{10, true, false, wantTopicOps, notRequested},
		// v11 dropped the cluster's operations (KIP-700: DescribeCluster).
		{11, true, true, wantTopicOps, notRequested},
		{12, false, true, notRequested, notRequested},
	}
	for _, tc := range tests {
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(tc.version)
		req.IncludeTopicAuthorizedOperations, req.IncludeClusterAuthorizedOperations = tc.topics, tc.cluster
		for _, name := range []string{"t", "missing"} {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(name)
			req.Topics = append(req.Topics, rt)
		}
		resp := roundTrip(t, b.handleMetadata(req).(*kmsg.MetadataResponse), kmsg.NewPtrMetadataResponse())
		if resp.AuthorizedOperations != tc.wantClus {
			t.Errorf("v%d topics=%v cluster=%v: cluster operations %d, want %d", tc.version, tc.topics, tc.cluster, resp.AuthorizedOperations, tc.wantClus)
		}
		if len(resp.Topics) != 2 {
			t.Fatalf("v%d: %d topics", tc.version, len(resp.Topics))
		}
		for _, rt := range resp.Topics {
			if rt.AuthorizedOperations != tc.wantTopic {
				t.Errorf("v%d topics=%v cluster=%v: topic %s (error %d) operations %d, want %d",
					tc.version, tc.topics, tc.cluster, *rt.Topic, rt.ErrorCode, rt.AuthorizedOperations, tc.wantTopic)
			}
		}
	}
}

func TestDescribeClusterAuthorizedOperations(t *testing.T) {
	b := openTestBroker(t, nil)
	for _, requested := range []bool{true, false} {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.IncludeClusterAuthorizedOperations = requested
		resp := b.handleDescribeCluster(req).(*kmsg.DescribeClusterResponse)
		want := int32(notRequested)
		if requested {
			want = wantClusterOps
		}
		if resp.ClusterAuthorizedOperations != want {
			t.Errorf("requested=%v: %d, want %d", requested, resp.ClusterAuthorizedOperations, want)
		}
	}
}

func TestGroupsAuthorizedOperations(t *testing.T) {
	b := openTestBroker(t, nil)
	waitGroupsLoaded(t, b)
	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.Group, hb.MemberEpoch, hb.RebalanceTimeoutMillis = "g848", 0, 30000
	hb.SubscribedTopicNames, hb.Topics = []string{"t"}, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	rc := &server.RequestContext{APIKey: hb.Key(), ClientID: "test"}
	if resp := b.handleConsumerGroupHeartbeat(rc, hb).(*kmsg.ConsumerGroupHeartbeatResponse); resp.ErrorCode != 0 {
		t.Fatalf("heartbeat: error %d", resp.ErrorCode)
	}

	for _, tc := range []struct {
		version   int16
		requested bool
		want      int32
	}{
		{3, true, wantGroupOps},
		{5, true, wantGroupOps},
		{5, false, notRequested},
		{2, true, notRequested}, // before v3 there is no such field
	} {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.SetVersion(tc.version)
		req.Groups, req.IncludeAuthorizedOperations = []string{"g848", "unknown"}, tc.requested
		resp := roundTrip(t, b.handleDescribeGroups(req).(*kmsg.DescribeGroupsResponse), kmsg.NewPtrDescribeGroupsResponse())
		for _, g := range resp.Groups {
			if g.AuthorizedOperations != tc.want {
				t.Errorf("DescribeGroups v%d requested=%v: %s (%s) operations %d, want %d", tc.version, tc.requested, g.Group, g.State, g.AuthorizedOperations, tc.want)
			}
		}
	}

	for _, requested := range []bool{true, false} {
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups, req.IncludeAuthorizedOperations = []string{"g848", "unknown"}, requested
		resp := b.handleConsumerGroupDescribe(req).(*kmsg.ConsumerGroupDescribeResponse)
		for _, g := range resp.Groups {
			want := int32(notRequested)
			if requested && g.ErrorCode == 0 {
				want = wantGroupOps
			}
			if g.Group == "g848" && g.ErrorCode != 0 {
				t.Fatalf("ConsumerGroupDescribe g848: error %d", g.ErrorCode)
			}
			if g.AuthorizedOperations != want {
				t.Errorf("ConsumerGroupDescribe requested=%v: %s (error %d) operations %d, want %d", requested, g.Group, g.ErrorCode, g.AuthorizedOperations, want)
			}
		}
	}
}
