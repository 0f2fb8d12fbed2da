package e2e

import (
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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

// TestDynamicCleanerConfigs: the cleaner's throttles are dynamic broker
// configs, as in Kafka (LogCleaner.ReconfigurableConfigs): changed per
// broker (IncrementalAlterConfigs) or cluster-wide (AlterConfigs), described as
// dynamic and writable, kept across a restart, validated like the
// properties file, and a new log.cleaner.backoff.ms applies at once (here
// the static one is an hour, so only the dynamic one can get the log
// cleaned). Other cleaner properties stay static (INVALID_REQUEST).
func TestDynamicCleanerConfigs(t *testing.T) {
	tb := startBroker(t, t.TempDir(), map[string]string{"log.cleaner.backoff.ms": "3600000"})
	tb.createTopic("dyn", 1, map[string]*string{
		"cleanup.policy": ptr("compact"), "segment.bytes": ptr("1024"), "min.cleanable.dirty.ratio": ptr("0.01"),
	})
	prod := tb.client(kgo.DefaultProduceTopic("dyn"), kgo.ProducerLinger(0))
	for i := 0; i < 60; i++ {
		if err := prod.ProduceSync(ctxT(t), &kgo.Record{Key: []byte("same"), Value: make([]byte, 100)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := tb.admin()
	if err := setBrokerConfig(t, adm, true, "log.cleaner.backoff.ms", "50"); err != nil {
		t.Fatalf("set log.cleaner.backoff.ms: %v", err)
	}
	if err := setBrokerConfig(t, adm, false, "log.cleaner.io.max.bytes.per.second", "1048576"); err != nil {
		t.Fatalf("set log.cleaner.io.max.bytes.per.second: %v", err)
	}
	waitFor(t, "the cleaner, on its dynamic backoff, to compact the log", func() bool {
		n := 0
		for _, r := range tb.consumeAll("dyn") {
			if string(r.Key) == "same" {
				n++
			}
		}
		return n < 60 // the active segment's records stay
	})

	if err := setBrokerConfig(t, adm, true, "log.cleaner.dedupe.buffer.size", "1024"); !errors.Is(err, kerr.InvalidConfig) {
		t.Errorf("dedupe buffer below 1 MiB: %v, want INVALID_CONFIG", err)
	}
	if err := setBrokerConfig(t, adm, true, "log.cleaner.enable", "false"); !errors.Is(err, kerr.InvalidRequest) {
		t.Errorf("log.cleaner.enable: %v, want INVALID_REQUEST (static)", err)
	}

	describe := func(tb *testBroker) map[string]kmsg.DescribeConfigsResponseResourceConfig {
		t.Helper()
		req := kmsg.NewPtrDescribeConfigsRequest()
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
		req.Resources = append(req.Resources, rr)
		resp, err := req.RequestWith(ctxT(t), tb.client())
		if err != nil || resp.Resources[0].ErrorCode != 0 {
			t.Fatalf("describe broker: %v %+v", err, resp)
		}
		out := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
		for _, c := range resp.Resources[0].Configs {
			out[c.Name] = c
		}
		return out
	}
	check := func(b *testBroker) {
		t.Helper()
		cs := describe(b)
		for name, want := range map[string]string{
			"log.cleaner.backoff.ms":              "50 DYNAMIC_BROKER_CONFIG",
			"log.cleaner.io.max.bytes.per.second": "1048576 DYNAMIC_DEFAULT_BROKER_CONFIG",
			"log.cleaner.dedupe.buffer.size":      "134217728 DEFAULT_CONFIG",
		} {
			c, ok := cs[name]
			if !ok || c.Value == nil {
				t.Errorf("%s: not described", name)
				continue
			}
			if got := *c.Value + " " + c.Source.String(); got != want || c.ReadOnly {
				t.Errorf("%s = %q (read-only %v), want %q, writable", name, got, c.ReadOnly, want)
			}
		}
	}
	check(tb)              // as set
	check(tb.restart(nil)) // and as kept in the metadata log
}
