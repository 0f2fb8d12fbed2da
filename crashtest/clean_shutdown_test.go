package crashtest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// cleanShutdownMarker is the file a broker leaves in its data directory
// after a clean shutdown, so the next start can skip recovery.
const cleanShutdownMarker = ".samsa_cleanshutdown"

// TestCleanShutdownRestart stops the broker with SIGTERM: it must exit 0
// within exitTimeout and leave the clean-shutdown marker; the restart must
// take the clean path (no recovery scan), remove the marker at once (so a
// later crash is recovered), and serve byte-identical data. An idempotent
// producer that lives through the restart continues its sequences, and a
// SIGKILL after the clean restart still loses nothing.
func TestCleanShutdownRestart(t *testing.T) {
	const (
		topic = "clean"
		parts = int32(3)
	)
	b := newBroker(t)
	b.start()
	createTopic(t, b.addr(), topic, parts, map[string]*string{"segment.bytes": ptr("4096")})
	marker := filepath.Join(b.dir, cleanShutdownMarker)
	valid := func(v string) bool { return strings.HasPrefix(v, "clean-") }

	cl := newClient(t, b.addr(), kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	var acks []ack
	produce := func(from, to int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var rs []*kgo.Record
		for i := from; i < to; i++ {
			rs = append(rs, &kgo.Record{Value: fmt.Appendf(nil, "clean-%05d", i)})
		}
		for _, res := range cl.ProduceSync(ctx, rs...) {
			if res.Err != nil {
				t.Fatalf("produce %s: %v", res.Record.Value, res.Err)
			}
			acks = append(acks, ack{partition: res.Record.Partition, offset: res.Record.Offset, value: string(res.Record.Value)})
		}
	}
	produce(0, 600)
	before := readLog(t, b.addr(), topic, parts)
	checkAcked(t, before, acks, valid)
	if fileExists(marker) {
		t.Errorf("%s exists while the broker runs", cleanShutdownMarker)
	}

	took, err := b.terminate()
	if err != nil {
		t.Errorf("after SIGTERM the broker exited with %v, expected status 0", err)
	}
	t.Logf("SIGTERM -> exit took %v", took.Round(time.Millisecond))
	if !fileExists(marker) {
		t.Errorf("no %s in the data directory after a clean shutdown", cleanShutdownMarker)
	}

	start := time.Now()
	b.start()
	t.Logf("restart after clean shutdown took %v", time.Since(start).Round(time.Millisecond))
	out := b.runOutput()
	if !strings.Contains(out, "clean_shutdown=true") {
		t.Errorf("the restart did not report a clean shutdown (no clean_shutdown=true in its log)")
	}
	if strings.Contains(out, "truncating") || strings.Contains(out, "rebuilding") || strings.Contains(out, "deleting segment") {
		t.Errorf("the restart after a clean shutdown repaired the log; its output:\n%s", out)
	}
	if fileExists(marker) {
		t.Errorf("%s is still there after the restart: a crash now would skip recovery", cleanShutdownMarker)
	}
	after := readLog(t, b.addr(), topic, parts)
	if err := equalLogs(before, after); err != nil {
		t.Errorf("the log changed across a clean restart: %v", err)
	}

	// The same producer client continues: the broker restored its
	// sequence numbers, so the new records are accepted in order.
	produce(600, 900)
	for p, pl := range before {
		first := int64(-1)
		for _, a := range acks[600:] {
			if a.partition == int32(p) && (first < 0 || a.offset < first) {
				first = a.offset
			}
		}
		if first != pl.hwm {
			t.Errorf("partition %d: first record after the restart got offset %d, expected %d", p, first, pl.hwm)
		}
	}

	// A crash after the clean restart is recovered like any other.
	b.kill()
	b.start()
	if !strings.Contains(b.runOutput(), "clean_shutdown=false") {
		t.Errorf("the start after SIGKILL did not report an unclean shutdown (no clean_shutdown=false in its log)")
	}
	final := readLog(t, b.addr(), topic, parts)
	checkAcked(t, final, acks, valid)
	total := 0
	for _, pl := range final {
		total += len(pl.records())
	}
	if total != len(acks) {
		t.Errorf("the log holds %d records, %d were produced and acknowledged", total, len(acks))
	}
}
