//go:build !race

// The race detector's sync.Pool drops items at random, so allocation counts
// are only meaningful without it; test.sh runs these tests a second time
// without -race.

package api

import (
	"context"
	"testing"

	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Allocation budgets of the hot paths, per request of 8 partitions. They
// guard against a change that starts decoding records or copying data on
// produce or fetch (allocations that grow with the records moved), and
// against creeping per-request garbage. Raise one only with a reason.
const (
	produceAllocBudget = 24
	fetchAllocBudget   = 12
)

// TestProduceAllocationsDoNotGrowWithRecords: a Produce request is
// validated and appended without decoding its records, so a batch of 1,000
// records costs no more allocations than one of 10.
func TestProduceAllocationsDoNotGrowWithRecords(t *testing.T) {
	const parts = 8
	br := benchBroker(t, parts)
	rc := &server.RequestContext{APIKey: 0, APIVersion: 9}
	ctx := context.Background()
	allocs := func(records int) float64 {
		req := produceRequest("bench", parts, smallBatch(records))
		var failed int16
		n := testing.AllocsPerRun(200, func() {
			resp := br.Handle(ctx, rc, req)()
			for _, p := range resp.Msg.(*kmsg.ProduceResponse).Topics[0].Partitions {
				failed |= p.ErrorCode
			}
		})
		if failed != 0 {
			t.Fatalf("produce of %d-record batches failed: error %d", records, failed)
		}
		return n
	}
	small, large := allocs(10), allocs(1000)
	t.Logf("allocations per 8-partition produce: %v with 10-record batches, %v with 1,000-record batches", small, large)
	if small > produceAllocBudget {
		t.Errorf("a produce request allocates %v times, budget %d", small, produceAllocBudget)
	}
	if large > small+1 {
		t.Errorf("allocations grow with the records: %v for 10-record batches, %v for 1,000-record batches", small, large)
	}
}

// TestFetchAllocationsDoNotGrowWithBytes: a Fetch response refers to file
// ranges that go to the socket with sendfile, so reading 1 MiB per
// partition costs no more allocations than reading one batch.
func TestFetchAllocationsDoNotGrowWithBytes(t *testing.T) {
	const parts = 8
	br := benchBroker(t, parts)
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		resp := br.Handle(ctx, &server.RequestContext{APIKey: 0, APIVersion: 9}, produceRequest("bench", parts, smallBatch(100)))()
		if code := resp.Msg.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("produce: error %d", code)
		}
	}
	rc := &server.RequestContext{APIKey: 1, APIVersion: 12}
	allocs := func(partMax int32) (float64, int) {
		fr := benchFetchRequest(parts, 0, partMax)
		size := 0
		n := testing.AllocsPerRun(200, func() {
			resp := br.Handle(ctx, rc, fr)()
			size = 0
			for _, part := range resp.Body {
				size += len(part.Bytes) + int(part.Size)
			}
			if resp.Release != nil {
				resp.Release()
			}
		})
		return n, size
	}
	small, smallSize := allocs(1)
	large, largeSize := allocs(1 << 20)
	t.Logf("allocations per 8-partition fetch: %v for a %d-byte response, %v for a %d-byte response", small, smallSize, large, largeSize)
	if largeSize < 10*smallSize {
		t.Fatalf("the large fetch returned %d bytes and the small one %d: the test does not compare what it means to", largeSize, smallSize)
	}
	if large > fetchAllocBudget {
		t.Errorf("a fetch request allocates %v times, budget %d", large, fetchAllocBudget)
	}
	if large > small+1 {
		t.Errorf("allocations grow with the bytes fetched: %v for %d bytes, %v for %d bytes", small, smallSize, large, largeSize)
	}
}
