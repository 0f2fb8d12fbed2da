package crashtest

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// killCycles describes a produce / SIGKILL / restart / verify run.
type killCycles struct {
	rounds     int
	perRound   int64 // acknowledgements to wait for before each kill
	producers  int
	partitions int32
	overrides  []string // broker --override properties
	sigterm    bool     // stop with SIGTERM (graceful) instead of SIGKILL
}

// TestSIGKILLKeepsAcknowledgedRecords kills the broker with SIGKILL eight
// times while four idempotent producers write to six partitions, and after
// each restart reads every partition back: each acknowledged record must be
// at its acknowledged offset, offsets contiguous from 0, no value twice.
// The producer clients live through the crashes, so requests in flight at
// the kill are retried against the restarted broker and must be
// deduplicated by their sequence numbers, not appended again. Small
// segments make the log roll across the crashes.
func TestSIGKILLKeepsAcknowledgedRecords(t *testing.T) {
	runKillCycles(t, killCycles{rounds: 8, perRound: 6000, producers: 4, partitions: 6})
}

// TestFlushLeftToOS disables fsync-before-acknowledge: with
// log.flush.interval.messages at its maximum the broker acknowledges
// records that are only in the page cache. A process crash does not lose
// the page cache, so SIGKILL must still lose nothing acknowledged.
func TestFlushLeftToOS(t *testing.T) {
	runKillCycles(t, killCycles{rounds: 3, perRound: 8000, producers: 4, partitions: 4,
		overrides: []string{fmt.Sprintf("log.flush.interval.messages=%d", int64(math.MaxInt64))}})
}

// TestSIGTERMUnderLoad stops the broker gracefully while the producers are
// busy: it must exit 0 with the clean-shutdown marker, restart on the clean
// path, and the producers' retries of requests cut off by the shutdown must
// be deduplicated from the producer state saved at shutdown.
func TestSIGTERMUnderLoad(t *testing.T) {
	runKillCycles(t, killCycles{rounds: 3, perRound: 6000, producers: 4, partitions: 4, sigterm: true})
}

func runKillCycles(t *testing.T, c killCycles) {
	const topic = "crash"
	b := newBroker(t, c.overrides...)
	b.start()
	createTopic(t, b.addr(), topic, c.partitions, map[string]*string{"segment.bytes": ptr("65536")})
	l := startLoad(t, b.addr(), topic, c.producers)

	for round := 1; round <= c.rounds; round++ {
		// Allow more sends than the acknowledgements waited for, so that
		// requests are in flight when the broker dies.
		target := int64(round) * c.perRound
		l.allow(target + c.perRound/2)
		l.waitAcked(b, target, 30*time.Second)
		how := "SIGKILL"
		if c.sigterm {
			how = "SIGTERM"
			took, err := b.terminate()
			if err != nil {
				t.Fatalf("round %d: after SIGTERM under load the broker exited with %v after %v, expected status 0", round, err, took)
			}
			if !fileExists(filepath.Join(b.dir, cleanShutdownMarker)) {
				t.Errorf("round %d: no %s after SIGTERM", round, cleanShutdownMarker)
			}
		} else {
			b.kill()
		}
		killedAt := l.acked.Load()
		b.start()
		if c.sigterm && !strings.Contains(b.runOutput(), "clean_shutdown=true") {
			t.Errorf("round %d: the restart after SIGTERM did not take the clean path (no clean_shutdown=true in its log)", round)
		}
		// Every acknowledgement in the snapshot was sent before the read
		// below starts, so its offset is under the high watermark it sees.
		acks := l.snapshot()
		logs := readLog(t, b.addr(), topic, c.partitions)
		checkAcked(t, logs, acks, validLoadValue)
		inLog := 0
		for _, pl := range logs {
			inLog += len(pl.records())
		}
		t.Logf("round %d: %s after %d acknowledgements; after restart %d acknowledged records found, %d more records in the log (in flight at the stop: their retries must not duplicate them), high watermarks %v",
			round, how, killedAt, len(acks), inLog-len(acks), hwms(logs))
		if t.Failed() {
			t.FailNow()
		}
	}

	// Let everything buffered be acknowledged, then check the whole log:
	// with no record failed, the log must hold exactly the acknowledged
	// records (an unacknowledged record in the log would be a duplicate the
	// producer retried, or one it gave up on).
	l.stop(30 * time.Second)
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d records failed to produce (first: %v); the idempotent producers retry forever, so a failure means the broker refused a retry",
			n, l.failureList())
	}
	acks := l.snapshot()
	logs := readLog(t, b.addr(), topic, c.partitions)
	checkAcked(t, logs, acks, validLoadValue)
	total := 0
	for p, pl := range logs {
		n := len(pl.records())
		if n == 0 {
			t.Errorf("partition %d is empty; the load should reach every partition", p)
		}
		total += n
	}
	if l.failed.Load() == 0 && total != len(acks) {
		t.Errorf("the log holds %d records but %d were acknowledged and none failed", total, len(acks))
	}
	t.Logf("final: %d acknowledged records, %d in the log, high watermarks %v", len(acks), total, hwms(logs))
}

func ptr[T any](v T) *T { return &v }
