package e2e

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestACLsSecurityDisabled: with no authorizer, the ACL APIs answer
// SECURITY_DISABLED as a Kafka broker without authorizer.class.name does
// (kafka-acls.sh then says "Security features are disabled"), on the
// connection, which stays open for the next request.
func TestACLsSecurityDisabled(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	adm := kadm.NewClient(tb.client())

	b := kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("t").Operations(kadm.OpRead).
		ResourcePatternType(kadm.ACLPatternLiteral)
	described, err := adm.DescribeACLs(ctxT(t), b)
	if err != nil {
		t.Fatalf("DescribeACLs: %v", err)
	}
	if len(described) != 1 || !errors.Is(described[0].Err, kerr.SecurityDisabled) {
		t.Errorf("DescribeACLs results %+v, want one SECURITY_DISABLED", described)
	}
	created, err := adm.CreateACLs(ctxT(t), b)
	if err != nil {
		t.Fatalf("CreateACLs: %v", err)
	}
	if len(created) != 1 || !errors.Is(created[0].Err, kerr.SecurityDisabled) {
		t.Errorf("CreateACLs results %+v, want one SECURITY_DISABLED", created)
	}
	deleted, err := adm.DeleteACLs(ctxT(t), kadm.NewACLs().AnyResource().Allow().AllowHosts().Operations(kadm.OpAny))
	if err != nil {
		t.Fatalf("DeleteACLs: %v", err)
	}
	if len(deleted) != 1 || !errors.Is(deleted[0].Err, kerr.SecurityDisabled) {
		t.Errorf("DeleteACLs results %+v, want one SECURITY_DISABLED", deleted)
	}

	// Every version, over one connection.
	c := dial(t, tb.addr)
	corr := int32(0)
	for v := int16(0); v <= 3; v++ {
		corr++
		req := kmsg.NewPtrDescribeACLsRequest()
		req.SetVersion(v)
		req.ResourceType, req.Operation, req.PermissionType = kmsg.ACLResourceTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		if v >= 1 {
			req.ResourcePatternType = kmsg.ACLResourcePatternTypeAny
		}
		c.send(req, corr)
		resp := kmsg.NewPtrDescribeACLsResponse()
		resp.SetVersion(v)
		c.recv(resp, corr)
		if resp.ErrorCode != kerr.SecurityDisabled.Code || resp.ErrorMessage == nil {
			t.Errorf("DescribeAcls v%d: error %d %v", v, resp.ErrorCode, resp.ErrorMessage)
		}
	}
}

// TestDescribeMissingGroup: DescribeGroups v6 (KIP-1043) answers
// GROUP_ID_NOT_FOUND for a group that does not exist, where v0-v5 answer an
// empty Dead group with no error.
func TestDescribeMissingGroup(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	adm := kadm.NewClient(tb.client())
	gs, err := adm.DescribeGroups(ctxT(t), "nobody")
	if err != nil {
		t.Fatal(err)
	}
	if g := gs["nobody"]; !errors.Is(g.Err, kerr.GroupIDNotFound) {
		t.Errorf("kadm (v6): %+v, want GROUP_ID_NOT_FOUND", g)
	}

	c := dial(t, tb.addr)
	for v := int16(5); v <= 6; v++ {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.SetVersion(v)
		req.Groups = []string{"nobody"}
		c.send(req, int32(v))
		resp := kmsg.NewPtrDescribeGroupsResponse()
		resp.SetVersion(v)
		c.recv(resp, int32(v))
		if len(resp.Groups) != 1 {
			t.Fatalf("v%d: %d groups", v, len(resp.Groups))
		}
		g := resp.Groups[0]
		wantCode := int16(0)
		if v >= 6 {
			wantCode = kerr.GroupIDNotFound.Code
		}
		if g.ErrorCode != wantCode || g.State != "Dead" || len(g.Members) != 0 {
			t.Errorf("v%d: error %d state %q members %d, want error %d, Dead, none", v, g.ErrorCode, g.State, len(g.Members), wantCode)
		}
		if v >= 6 && (g.ErrorMessage == nil || *g.ErrorMessage != "Group nobody not found.") {
			t.Errorf("v6: message %v", g.ErrorMessage)
		}
	}

	// ConsumerGroupDescribe (KIP-848) answers GROUP_ID_NOT_FOUND both for
	// a group that does not exist and for a classic one, with Kafka's
	// messages; the Java admin client then falls back to DescribeGroups.
	tb.createTopic("t", 1, nil)
	if err := adm.CommitAllOffsets(ctxT(t), "classic", kadm.Offsets{"t": {0: {Topic: "t", Partition: 0, At: 1}}}); err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{"nobody", "classic"}
	resp, err := req.RequestWith(ctxT(t), tb.client())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"nobody": "Group nobody not found.", "classic": "Group classic is not a consumer group."}
	if len(resp.Groups) != len(want) {
		t.Fatalf("ConsumerGroupDescribe: %d groups answered, want %d", len(resp.Groups), len(want))
	}
	for _, g := range resp.Groups {
		if g.ErrorCode != kerr.GroupIDNotFound.Code || g.ErrorMessage == nil || *g.ErrorMessage != want[g.Group] {
			t.Errorf("ConsumerGroupDescribe %s: error %d %v, want GROUP_ID_NOT_FOUND %q", g.Group, g.ErrorCode, g.ErrorMessage, want[g.Group])
		}
	}
}
