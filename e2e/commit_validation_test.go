package e2e

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestCommitWithMadeUpMemberID: librdkafka makes up a member ID when a
// consumer starts and sends it with generation -1 when the consumer has not
// joined a group (assign(), or the KIP-848 protocol before its first
// heartbeat). Kafka accepts such an OffsetCommit for a group that is empty
// or does not exist, and so must Samsa; a generation that names no group is
// GROUP_ID_NOT_FOUND from OffsetCommit v9 and ILLEGAL_GENERATION before.
func TestCommitWithMadeUpMemberID(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic("cv", 1, nil)
	// kgo sends the newest version both sides know; v8 is pinned by
	// limiting the client to Kafka 3.0's versions.
	clients := map[int16]*kgo.Client{9: tb.client(), 8: tb.client(kgo.MaxVersions(kversion.V3_0_0()))}
	commit := func(version int16, group string, gen int32) int16 {
		t.Helper()
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation, req.MemberID = group, gen, "rdkafka-6c1f0d2e-made-up"
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "cv"
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = 0, 5
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := clients[version].Broker(1).Request(ctxT(t), req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
	}
	if code := commit(9, "assigned", -1); code != 0 {
		t.Fatalf("commit with a made-up member ID and generation -1: %v", kerr.ErrorForCode(code))
	}
	offsets, err := tb.admin().FetchOffsets(ctxT(t), "assigned")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offsets.Lookup("cv", 0); !ok || o.At != 5 {
		t.Fatalf("committed offset %+v (found %v), want 5", o, ok)
	}
	// The group now exists, empty (offsets, no members): the same again.
	if code := commit(9, "assigned", -1); code != 0 {
		t.Fatalf("commit with a made-up member ID and generation -1 to an empty group: %v", kerr.ErrorForCode(code))
	}
	if code := commit(9, "nobody", 3); code != kerr.GroupIDNotFound.Code {
		t.Fatalf("v9 commit with a generation to a missing group: %v, want GROUP_ID_NOT_FOUND", kerr.ErrorForCode(code))
	}
	if code := commit(8, "nobody", 3); code != kerr.IllegalGeneration.Code {
		t.Fatalf("v8 commit with a generation to a missing group: %v, want ILLEGAL_GENERATION", kerr.ErrorForCode(code))
	}
}
