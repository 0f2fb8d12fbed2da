package main

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/bench"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestProduceIsAcknowledged drives the null broker with the real bench
// producer and checks that every record is acknowledged and counted.
func TestProduceIsAcknowledged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(ln, 4)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.run(ln)
	}()
	defer func() {
		ln.Close()
		wg.Wait()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cc := bench.ClientConfig{Brokers: []string{ln.Addr().String()}}

	for _, acks := range []string{"all", "1", "0"} {
		topic := "null-" + acks
		sum, err := bench.RunProduce(ctx, bench.ProduceConfig{
			ClientConfig: cc, Topic: topic, RecordSize: 50, Records: 3000,
			Partitions: 3, Producers: 2, Acks: acks, BatchBytes: 8 << 10,
		})
		if err != nil {
			t.Fatalf("acks=%s: %v", acks, err)
		}
		if sum.Produce.Records != 3000 || sum.Produce.Errors != 0 || sum.Workload.Partitions != 3 {
			t.Fatalf("acks=%s: produce %+v, workload %+v", acks, sum.Produce, sum.Workload)
		}
		tp := s.lookup(topic)
		var stored int64
		for i := range tp.offsets {
			stored += tp.offsets[i].Load()
		}
		// With acks=0 the client does not wait for the broker, so the last
		// requests may still be in flight when the run ends.
		if (acks != "0" && stored != 3000) || stored > 3000 {
			t.Fatalf("acks=%s: broker counted %d records", acks, stored)
		}
	}
	// EnsureTopic finds the existing topic and keeps its 3 partitions.
	if n, err := bench.EnsureTopic(ctx, cc, "null-all", 9); err != nil || n != 3 {
		t.Fatalf("EnsureTopic on existing topic: %d, %v", n, err)
	}
}

func TestCountRecords(t *testing.T) {
	batch := make([]byte, 61+10)
	batch[11] = byte(len(batch) - 12) // batch length
	batch[16] = 2                     // magic
	batch[60] = 7                     // record count
	two := append(append([]byte{}, batch...), batch...)
	if n, ok := countRecords(two); !ok || n != 14 {
		t.Fatalf("two batches: %d, %v", n, ok)
	}
	for name, b := range map[string][]byte{
		"short":     batch[:40],
		"truncated": two[:len(two)-1],
		"magic 1":   append(append([]byte{}, batch[:16]...), append([]byte{1}, batch[17:]...)...),
	} {
		if _, ok := countRecords(b); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSkipHeader(t *testing.T) {
	// client ID "ab", then one tagged field of 2 bytes, then the body.
	b := []byte{0, 2, 'a', 'b', 1, 5, 2, 'x', 'y', 'B'}
	body, err := skipHeader(b, true)
	if err != nil || string(body) != "B" {
		t.Fatalf("flexible: %q, %v", body, err)
	}
	if body, err := skipHeader([]byte{0xff, 0xff, 'B'}, false); err != nil || string(body) != "B" {
		t.Fatalf("null client ID: %q, %v", body, err)
	}
	for _, bad := range [][]byte{{0}, {0, 5, 'a'}, {0, 0, 1, 5, 9}} {
		if _, err := skipHeader(bad, true); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}
