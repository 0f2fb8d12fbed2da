package partition

import (
	"context"
	"fmt"
	"testing"

	"github.com/samsa-kafka/samsa/internal/log"
)

// TestCleanRemovesAbortedTransactions: compaction drops the batches of
// aborted transactions (whose records must not supersede older values),
// compacts committed transactional records like any other, and keeps the
// markers.
func TestCleanRemovesAbortedTransactions(t *testing.T) {
	cfg := testConfig()
	cfg.Compact, cfg.MinCleanableRatio, cfg.DeleteRetentionMs = true, 0, -1
	cfg.Log.SegmentBytes = 300
	p := openPartition(t, t.TempDir(), cfg)
	p.SetTxnVerifier(func(int64, int16) error { return nil })
	put := func(pid int64, txn bool, key, value string) {
		t.Helper()
		mustAppend(t, p, log.EncodeBatch(log.BatchSpec{Timestamp: defaultCreateTime, ProducerID: pid, ProducerEpoch: 0, Transactional: txn},
			[]log.Record{{Key: []byte(key), Value: []byte(value)}}))
	}
	put(-1, false, "a", "a1")
	put(7, true, "a", "a-aborted") // must not supersede a1
	put(7, true, "c", "c-aborted")
	writeMarker(t, p, 7, false)
	put(8, true, "b", "b1")
	put(8, true, "b", "b2")
	writeMarker(t, p, 8, true)
	for i := 0; i < 20; i++ { // roll past everything above
		put(-1, false, fmt.Sprintf("pad%d", i), "x")
	}
	if _, cleaned, err := p.MaybeClean(context.Background(), CleanerSettings{}); err != nil || !cleaned {
		t.Fatalf("MaybeClean: cleaned %v, err %v", cleaned, err)
	}
	values := map[string][]string{}
	markers := 0
	for off := p.LogStartOffset(); off < p.HighWatermark(); {
		data, err := p.Log().ReadBytes(off, 1<<20, true)
		if err != nil {
			t.Fatal(err)
		}
		for len(data) > 0 {
			h, err := log.ParseBatchHeader(data)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := log.DecodeRecords(data[:h.Size()])
			if err != nil {
				t.Fatal(err)
			}
			if h.IsControl() {
				markers++
			} else {
				for _, r := range recs {
					values[string(r.Key)] = append(values[string(r.Key)], string(r.Value))
				}
			}
			off = h.LastOffset() + 1
			data = data[h.Size():]
		}
	}
	if got := values["a"]; len(got) != 1 || got[0] != "a1" {
		t.Errorf("key a: %v, want [a1] (the aborted value removed, not superseding)", got)
	}
	if got := values["c"]; len(got) != 0 {
		t.Errorf("key c: %v, want nothing (only written by the aborted transaction)", got)
	}
	if got := values["b"]; len(got) != 1 || got[0] != "b2" {
		t.Errorf("key b: %v, want [b2] (committed records compacted)", got)
	}
	if markers != 2 {
		t.Errorf("%d markers left, want 2", markers)
	}
}
