package api

import (
	"context"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// smallBatch is an uncompressed RecordBatch v2 of n records without keys
// or a producer ID, stamped now.
func smallBatch(n int) []byte {
	return keyBatch(time.Now().UnixMilli(), make([][]byte, n)...)
}

// TestProduceWakesFetchOnceAppended checks that a fetch waiting on several
// partitions is answered with every partition a produce request wrote, not
// only the first one appended.
func TestProduceWakesFetchOnceAppended(t *testing.T) {
	b := openTestBroker(t, nil)
	ctx := context.Background()
	const parts = 4
	handle := func(req kmsg.Request) server.Response {
		t.Helper()
		rc := &server.RequestContext{APIKey: req.Key(), APIVersion: req.GetVersion()}
		return b.Handle(ctx, rc, req)()
	}

	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.SetVersion(5)
	ct.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "w", NumPartitions: parts, ReplicationFactor: 1}}
	if code := handle(ct).Msg.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != 0 {
		t.Fatalf("create topic: error %d", code)
	}

	fr := kmsg.NewPtrFetchRequest()
	fr.SetVersion(12)
	fr.ReplicaID, fr.MaxWaitMillis, fr.MinBytes, fr.MaxBytes, fr.SessionEpoch = -1, 30_000, 1, 1<<20, -1
	ft := kmsg.FetchRequestTopic{Topic: "w"}
	for p := int32(0); p < parts; p++ {
		ft.Partitions = append(ft.Partitions, kmsg.FetchRequestTopicPartition{Partition: p, PartitionMaxBytes: 1 << 20, CurrentLeaderEpoch: -1, LogStartOffset: -1})
	}
	fr.Topics = []kmsg.FetchRequestTopic{ft}
	reply := b.Handle(ctx, &server.RequestContext{APIKey: 1, APIVersion: 12}, fr)
	answered := make(chan server.Response, 1)
	go func() { answered <- reply() }()

	// Produce only once the fetch waits on every partition.
	deadline := time.Now().Add(10 * time.Second)
	for {
		waiting := 0
		for p := int32(0); p < parts; p++ {
			if part, _ := b.partition("w", p); part != nil {
				waiting += part.Waiters()
			}
		}
		if waiting == parts {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fetch waits on %d of %d partitions", waiting, parts)
		}
		time.Sleep(time.Millisecond)
	}

	for _, sp := range handle(produceRequest("w", parts, smallBatch(3))).Msg.(*kmsg.ProduceResponse).Topics[0].Partitions {
		if sp.ErrorCode != 0 {
			t.Fatalf("produce to partition %d: error %d", sp.Partition, sp.ErrorCode)
		}
	}

	var resp server.Response
	select {
	case resp = <-answered:
	case <-time.After(10 * time.Second):
		t.Fatal("fetch not answered after the produce")
	}
	body := flatten(t, resp.Body)
	if resp.Release != nil {
		resp.Release()
	}
	got := kmsg.NewPtrFetchResponse()
	got.SetVersion(12)
	if err := got.ReadFrom(body); err != nil {
		t.Fatalf("decoding the fetch response: %v", err)
	}
	if len(got.Topics) != 1 || len(got.Topics[0].Partitions) != parts {
		t.Fatalf("fetch response: %+v", got.Topics)
	}
	for _, rp := range got.Topics[0].Partitions {
		if rp.ErrorCode != 0 || rp.HighWatermark != 3 || len(rp.RecordBatches) == 0 {
			t.Errorf("partition %d: error %d, high watermark %d, %d bytes of records; want the produced batch",
				rp.Partition, rp.ErrorCode, rp.HighWatermark, len(rp.RecordBatches))
		}
	}
}
