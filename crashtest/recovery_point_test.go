package crashtest

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRecoveryScansOnlyPastRecoveryPoint checks that recovery after SIGKILL
// costs what was appended since the recorded recovery point, not the whole
// active segment, with flushing left to the OS:
//   - with the periodic checkpoint (log.flush.offset.checkpoint.interval.ms)
//     covering every record, the restart scans nothing;
//   - with the checkpoint off, after a clean restart (whose shutdown recorded
//     the recovery point) and more records, the restart scans exactly the
//     bytes appended since.
//
// Every acknowledged record is read back after each restart.
func TestRecoveryScansOnlyPastRecoveryPoint(t *testing.T) {
	const (
		topic = "rp"
		parts = int32(2)
	)
	osFlush := fmt.Sprintf("log.flush.interval.messages=%d", int64(math.MaxInt64))
	b := newBroker(t, osFlush, "log.flush.offset.checkpoint.interval.ms=100")
	b.start()
	createTopic(t, b.addr(), topic, parts, nil)

	var acks []ack
	next := make([]int64, parts) // log end offset per partition
	produce := func(n int) {
		cl := newClient(t, b.addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerBatchCompression(kgo.NoCompression()))
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for i := 0; i < n; i += 10 {
			var rs []*kgo.Record
			for j := range 10 {
				v := fmt.Sprintf("rp-%06d-", len(acks)+j) + strings.Repeat("x", 200)
				rs = append(rs, &kgo.Record{Partition: int32(j) % parts, Value: []byte(v)})
			}
			for _, res := range cl.ProduceSync(ctx, rs...) {
				if res.Err != nil {
					t.Fatalf("produce: %v", res.Err)
				}
				r := res.Record
				acks = append(acks, ack{partition: r.Partition, offset: r.Offset, value: string(r.Value)})
				next[r.Partition] = max(next[r.Partition], r.Offset+1)
			}
		}
	}
	valid := func(v string) bool { return strings.HasPrefix(v, "rp-") }
	verify := func(when string) {
		t.Helper()
		logs := readLog(t, b.addr(), topic, parts)
		checkAcked(t, logs, acks, valid)
		for p, pl := range logs {
			if pl.hwm != next[p] {
				t.Errorf("%s: partition %d high watermark %d, expected %d", when, p, pl.hwm, next[p])
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}

	// 1. The checkpoint covers everything: a SIGKILL costs no scan.
	produce(400)
	waitCond(t, 20*time.Second, "the checkpoint to cover every partition", func() error {
		for p := range parts {
			rp, err := readRecoveryPoint(b.dir, topic, p)
			if err != nil {
				return err
			}
			if rp.offset < next[p] {
				return fmt.Errorf("partition %d: recovery point %d, log end %d", p, rp.offset, next[p])
			}
		}
		return nil
	})
	b.kill()
	b.start()
	if lines := recoveredLines(t, b.runOutput(), topic); len(lines) > 0 {
		t.Errorf("restart after a checkpoint covering every record scanned data:\n%s", strings.Join(lines, "\n"))
	}
	verify("after SIGKILL following a checkpoint")

	// 2. No checkpoint: the clean shutdown's recovery point is the last.
	if took, err := b.terminate(); err != nil {
		t.Fatalf("SIGTERM: exit status %v after %v", err, took)
	}
	b.overrides = []string{osFlush, "log.flush.offset.checkpoint.interval.ms=0"}
	b.start()
	var recorded []recoveryPointFile
	for p := range parts {
		rp, err := readRecoveryPoint(b.dir, topic, p)
		if err != nil {
			t.Fatal(err)
		}
		if rp.offset != next[p] || rp.position <= 0 {
			t.Fatalf("partition %d: recovery point after the clean shutdown %+v, log end %d", p, rp, next[p])
		}
		recorded = append(recorded, rp)
	}
	produce(200)
	b.kill()
	sizes := make([]int64, parts)
	for p := range parts {
		path, _ := activeSegment(t, b.dir, topic, p)
		sizes[p] = fileSize(t, path)
	}
	b.start()
	scanned := map[int32]int64{}
	for _, line := range recoveredLines(t, b.runOutput(), topic) {
		m := regexp.MustCompile(` partition=(\d+) .*scanned_bytes=(\d+)`).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("cannot parse %q", line)
		}
		p, _ := strconv.Atoi(m[1])
		n, _ := strconv.ParseInt(m[2], 10, 64)
		scanned[int32(p)] = n
	}
	t.Logf("after SIGKILL: segments of %v bytes, recovery points %+v, scanned %v", sizes, recorded, scanned)
	for p := range parts {
		if want := sizes[p] - recorded[p].position; scanned[p] != want {
			t.Errorf("partition %d: recovery scanned %d bytes, expected the %d appended after the recovery point (segment of %d bytes)",
				p, scanned[p], want, sizes[p])
		}
	}
	verify("after SIGKILL with the checkpoint off")
}

// recoveryPointFile is what the tests read of a partition's recovery-point
// file: the offset, and the byte position in its segment (-1 if absent).
type recoveryPointFile struct {
	offset, position int64
}

func readRecoveryPoint(dir, topic string, p int32) (recoveryPointFile, error) {
	b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%s-%d", topic, p), "recovery-point"))
	if err != nil {
		return recoveryPointFile{}, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	rp := recoveryPointFile{position: -1}
	if rp.offset, err = strconv.ParseInt(lines[0], 10, 64); err != nil {
		return rp, fmt.Errorf("recovery point %q: %w", b, err)
	}
	if len(lines) > 1 {
		m := regexp.MustCompile(`\bposition=(\d+)\b`).FindStringSubmatch(lines[1])
		if m == nil {
			return rp, fmt.Errorf("recovery point %q has no position", b)
		}
		rp.position, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return rp, nil
}

// recoveredLines returns the broker's "recovered log" lines for topic.
func recoveredLines(t *testing.T, out, topic string) []string {
	t.Helper()
	var lines []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `msg="recovered log"`) && strings.Contains(line, " topic="+topic+" ") {
			lines = append(lines, line)
		}
	}
	return lines
}
