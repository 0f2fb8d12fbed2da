package e2e

import (
	"bytes"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var codecs = map[string]kgo.CompressionCodec{
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

// TestProduceConsumeAllCodecs produces keyed records with headers and
// timestamps over many partitions with every codec (franz-go's default
// idempotent producer), and reads them back byte for byte, also after a
// clean restart.
func TestProduceConsumeAllCodecs(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	const perCodec = 400
	names := []string{"none", "gzip", "snappy", "lz4", "zstd"}
	for _, name := range names {
		topic := "codec-" + name
		tb.createTopic(topic, 8, nil)
		cl := tb.client(kgo.ProducerBatchCompression(codecs[name]), kgo.ProducerLinger(5*time.Millisecond))
		ts := time.UnixMilli(1_700_000_000_000)
		var recs []*kgo.Record
		for i := 0; i < perCodec; i++ {
			r := &kgo.Record{Topic: topic, Key: key(i % 50), Value: val(i), Timestamp: ts.Add(time.Duration(i) * time.Millisecond),
				Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(fmt.Sprint(i))}}}
			if i%10 == 0 {
				r.Key = nil // null keys too
			}
			recs = append(recs, r)
		}
		if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
			t.Fatalf("%s: produce: %v", name, err)
		}
	}
	check := func(tb *testBroker) {
		for _, name := range names {
			got := tb.consumeAll("codec-" + name)
			if len(got) != perCodec {
				t.Fatalf("%s: got %d records, want %d", name, len(got), perCodec)
			}
			byPart := map[int32][]*kgo.Record{}
			for _, r := range got {
				byPart[r.Partition] = append(byPart[r.Partition], r)
			}
			seen := map[string]bool{}
			for p, rs := range byPart {
				for i, r := range rs {
					if r.Offset != int64(i) {
						t.Fatalf("%s: partition %d record %d has offset %d", name, p, i, r.Offset)
					}
				}
			}
			for _, r := range got {
				var i int
				fmt.Sscanf(string(r.Value), "value-%06d", &i)
				if !bytes.Equal(r.Value, val(i)) || seen[string(r.Value)] {
					t.Fatalf("%s: unexpected or duplicate value %q", name, r.Value)
				}
				seen[string(r.Value)] = true
				wantKey := key(i % 50)
				if i%10 == 0 {
					wantKey = nil
				}
				if !bytes.Equal(r.Key, wantKey) || (r.Key == nil) != (wantKey == nil) {
					t.Fatalf("%s: record %d key %q, want %q", name, i, r.Key, wantKey)
				}
				if len(r.Headers) != 1 || r.Headers[0].Key != "h" || string(r.Headers[0].Value) != fmt.Sprint(i) {
					t.Fatalf("%s: record %d headers %v", name, i, r.Headers)
				}
				if want := time.UnixMilli(1_700_000_000_000 + int64(i)); !r.Timestamp.Equal(want) {
					t.Fatalf("%s: record %d timestamp %v, want %v", name, i, r.Timestamp, want)
				}
			}
		}
	}
	check(tb)
	tb = tb.restart(nil)
	check(tb)
}

// TestConsumeFromOffsetAndLongPoll reads from a given offset and checks that
// a waiting fetch wakes up when data arrives.
func TestConsumeFromOffsetAndLongPoll(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic("lp", 1, nil)
	prod := tb.client(kgo.DefaultProduceTopic("lp"))
	for i := 0; i < 10; i++ {
		if err := prod.ProduceSync(ctxT(t), &kgo.Record{Value: val(i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cons := tb.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"lp": {0: kgo.NewOffset().At(7)}}),
		kgo.FetchMaxWait(5*time.Second))
	ctx := ctxT(t)
	var got []*kgo.Record
	for len(got) < 3 {
		got = append(got, cons.PollFetches(ctx).Records()...)
	}
	if got[0].Offset != 7 || !bytes.Equal(got[0].Value, val(7)) {
		t.Fatalf("first record offset %d value %q", got[0].Offset, got[0].Value)
	}
	// Now the consumer long-polls; a produce must wake it well before the
	// 5 s max wait (the test only asserts delivery, not timing).
	done := make(chan []*kgo.Record)
	go func() { done <- cons.PollFetches(ctx).Records() }()
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("late")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	rs := <-done
	if len(rs) != 1 || rs[0].Offset != 10 || string(rs[0].Value) != "late" {
		t.Fatalf("long poll got %v", rs)
	}
}

// TestManyPartitionsConcurrentProducers checks offsets stay dense and
// nothing is lost or duplicated with several producers at once.
func TestManyPartitionsConcurrentProducers(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic("many", 32, nil)
	const producers, each = 4, 500
	errs := make(chan error, producers)
	for p := 0; p < producers; p++ {
		cl := tb.client(kgo.DefaultProduceTopic("many"), kgo.ProducerLinger(time.Millisecond))
		go func(p int) {
			var recs []*kgo.Record
			for i := 0; i < each; i++ {
				recs = append(recs, &kgo.Record{Key: key(i), Value: val(p*each + i)})
			}
			errs <- cl.ProduceSync(ctxT(t), recs...).FirstErr()
		}(p)
	}
	for p := 0; p < producers; p++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got := tb.consumeAll("many")
	if len(got) != producers*each {
		t.Fatalf("got %d records, want %d", len(got), producers*each)
	}
	var vals []string
	next := map[int32]int64{}
	for _, r := range got {
		if r.Offset != next[r.Partition] {
			t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
		}
		next[r.Partition]++
		vals = append(vals, string(r.Value))
	}
	sort.Strings(vals)
	for i := 1; i < len(vals); i++ {
		if vals[i] == vals[i-1] {
			t.Fatalf("duplicate %s", vals[i])
		}
	}
}
