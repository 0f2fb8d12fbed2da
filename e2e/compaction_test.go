package e2e

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCompactedTopicKeepsLatestPerKey: the background cleaner compacts a
// compacted topic to the latest value per key (and drops keys whose latest
// value is a tombstone, with delete.retention.ms=0), keeping offsets.
func TestCompactedTopicKeepsLatestPerKey(t *testing.T) {
	tb := startBroker(t, t.TempDir(), map[string]string{"log.cleaner.backoff.ms": "50"})
	tb.createTopic("state", 1, map[string]*string{
		"cleanup.policy": ptr("compact"), "segment.bytes": ptr("1024"),
		"min.cleanable.dirty.ratio": ptr("0.01"), "delete.retention.ms": ptr("0"),
	})
	prod := tb.client(kgo.DefaultProduceTopic("state"), kgo.ProducerLinger(0))
	latest := map[string]string{}
	offsetOf := map[string]int64{}
	for round := 0; round < 20; round++ {
		for k := 0; k < 10; k++ {
			key := fmt.Sprintf("k%d", k)
			r := &kgo.Record{Key: []byte(key), Value: []byte(fmt.Sprintf("v%d-%d", k, round))}
			if k == 9 && round == 19 {
				r.Value = nil // a tombstone for k9
			}
			res, err := prod.ProduceSync(ctxT(t), r).First()
			if err != nil {
				t.Fatal(err)
			}
			latest[key], offsetOf[key] = string(r.Value), res.Offset
		}
	}
	// Roll past the last real records so they are cleanable.
	for i := 0; i < 30; i++ {
		if err := prod.ProduceSync(ctxT(t), &kgo.Record{Key: []byte(fmt.Sprintf("pad%d", i)), Value: make([]byte, 100)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var got []*kgo.Record
	// Wait for the state the test expects: one record per live key and
	// no k9 (its tombstone goes in the clean that covers its segment,
	// which may come after the one that drops the duplicates).
	waitFor(t, "the cleaner to compact the log", func() bool {
		got = tb.consumeAll("state")
		n, k9 := 0, false
		for _, r := range got {
			if r.Key[0] == 'k' {
				n++
				k9 = k9 || string(r.Key) == "k9"
			}
		}
		return n <= 9 && !k9
	})
	seen := map[string]bool{}
	prev := int64(-1)
	for _, r := range got {
		if r.Offset <= prev {
			t.Fatalf("offsets not increasing: %d after %d", r.Offset, prev)
		}
		prev = r.Offset
		key := string(r.Key)
		if key[0] != 'k' {
			continue
		}
		if seen[key] {
			t.Fatalf("key %s appears twice after compaction", key)
		}
		seen[key] = true
		if string(r.Value) != latest[key] || r.Offset != offsetOf[key] {
			t.Fatalf("key %s: %q at %d, want %q at %d", key, r.Value, r.Offset, latest[key], offsetOf[key])
		}
	}
	if len(seen) != 9 || seen["k9"] {
		t.Fatalf("keys after compaction: %v (k9's tombstone should be gone, k0-k8 present)", seen)
	}
}
