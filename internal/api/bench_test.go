package api

import (
	"context"
	"testing"

	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// benchBroker opens a broker with flushing left to the OS and a topic of
// parts partitions.
func benchBroker(b testing.TB, parts int32) *Broker {
	b.Helper()
	br := openTestBroker(b, map[string]string{"log.flush.interval.messages": "9223372036854775807"})
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.SetVersion(5)
	ct.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "bench", NumPartitions: parts, ReplicationFactor: 1}}
	resp := br.Handle(context.Background(), &server.RequestContext{APIKey: 19, APIVersion: 5}, ct)()
	if code := resp.Msg.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != 0 {
		b.Fatalf("create topic: error %d", code)
	}
	return br
}

// BenchmarkHandleProduce is the broker's side of one Produce request
// (already decoded) writing one small batch to each of 8 partitions, with
// acks=all and flushing left to the OS: validation, offsets, the page-cache
// write, indexes and the response. Allocations per request are reported.
func BenchmarkHandleProduce(b *testing.B) {
	const parts = 8
	br := benchBroker(b, parts)
	batch := smallBatch(10)
	req := produceRequest("bench", parts, batch)
	rc := &server.RequestContext{APIKey: 0, APIVersion: 9}
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(parts * len(batch)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp := br.Handle(ctx, rc, req)()
		if resp.Msg.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode != 0 {
			b.Fatal("produce failed")
		}
	}
}

// BenchmarkHandleFetch is the broker's side of one Fetch request reading
// 8 partitions that have data (the response's file parts are not sent).
func BenchmarkHandleFetch(b *testing.B) {
	const parts = 8
	br := benchBroker(b, parts)
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		br.Handle(ctx, &server.RequestContext{APIKey: 0, APIVersion: 9}, produceRequest("bench", parts, smallBatch(10)))()
	}
	fr := benchFetchRequest(parts, 500, 1<<20)
	rc := &server.RequestContext{APIKey: 1, APIVersion: 12}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp := br.Handle(ctx, rc, fr)()
		if len(resp.Body) == 0 {
			b.Fatal("empty fetch response")
		}
		if resp.Release != nil {
			resp.Release()
		}
	}
}

// benchFetchRequest is a sessionless Fetch v12 of topic "bench" that does not
// wait, reading partitions 0 to parts-1 from offset at most partMax bytes each.
func benchFetchRequest(parts int32, offset int64, partMax int32) *kmsg.FetchRequest {
	fr := kmsg.NewPtrFetchRequest()
	fr.SetVersion(12)
	fr.ReplicaID, fr.MaxWaitMillis, fr.MinBytes, fr.MaxBytes, fr.SessionEpoch = -1, 0, 1, 50<<20, -1
	ft := kmsg.FetchRequestTopic{Topic: "bench"}
	for p := int32(0); p < parts; p++ {
		ft.Partitions = append(ft.Partitions, kmsg.FetchRequestTopicPartition{Partition: p, FetchOffset: offset, PartitionMaxBytes: partMax, CurrentLeaderEpoch: -1, LogStartOffset: -1})
	}
	fr.Topics = []kmsg.FetchRequestTopic{ft}
	return fr
}
