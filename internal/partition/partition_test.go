package partition

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/log"
)

func TestAppendAssignsDenseOffsets(t *testing.T) {
	p := openPartition(t, t.TempDir(), testConfig())
	requests := []struct {
		batches  []rb
		wantBase int64
	}{
		{[]rb{plain(3), plain(2)}, 0},
		{[]rb{plain(1)}, 5},
		{[]rb{plain(4), plain(1), plain(2)}, 6},
		{[]rb{idem(1, 0, 0, 2)}, 13},
		{[]rb{idem(2, 0, 0, 1), idem(3, 0, 0, 3)}, 15},
	}
	var sizes []int
	for i, r := range requests {
		res := mustAppend(t, p, request(r.batches...))
		if res.BaseOffset != r.wantBase {
			t.Fatalf("request %d: base offset %d, want %d", i, res.BaseOffset, r.wantBase)
		}
		if res.Duplicate || res.LogAppendTime != -1 || res.LogStartOffset != 0 {
			t.Fatalf("request %d: %+v", i, res)
		}
		for _, b := range r.batches {
			sizes = append(sizes, b.n)
		}
	}
	if hw := p.HighWatermark(); hw != 19 {
		t.Fatalf("high watermark %d, want 19", hw)
	}
	stored := readAll(t, p.Log())
	if len(stored) != len(sizes) {
		t.Fatalf("%d batches stored, want %d", len(stored), len(sizes))
	}
	next := int64(0)
	for i, b := range stored {
		if b.h.BaseOffset != next || int(b.h.NumRecords) != sizes[i] {
			t.Fatalf("batch %d: base %d with %d records, want base %d with %d", i, b.h.BaseOffset, b.h.NumRecords, next, sizes[i])
		}
		if b.h.PartitionLeaderEpoch != p.LeaderEpoch() {
			t.Fatalf("batch %d: leader epoch %d, want %d", i, b.h.PartitionLeaderEpoch, p.LeaderEpoch())
		}
		if b.values[len(b.values)-1] != "v"+string(rune('0'+sizes[i]-1)) {
			t.Fatalf("batch %d: values %q", i, b.values)
		}
		next = b.h.LastOffset() + 1
	}
}

func TestAppendRejectedRequestAppendsNothing(t *testing.T) {
	p := openPartition(t, t.TempDir(), testConfig())
	mustAppend(t, p, request(idem(1, 0, 0, 1)))
	mustAppend(t, p, request(idem(2, 3, 0, 1)))
	leo := p.HighWatermark()

	corrupt := request(plain(2))
	corrupt[len(corrupt)-1] ^= 0xff
	big := request(plain(1))
	cases := []struct {
		name    string
		records []byte
		cfg     func(*Config)
		want    error
	}{
		{"stale epoch after a valid batch", append(request(idem(1, 0, 1, 1)), request(idem(2, 2, 1, 1))...), nil, ErrInvalidProducerEpoch},
		{"sequence gap after a valid batch", append(request(plain(3)), request(idem(1, 0, 5, 1))...), nil, ErrOutOfOrderSequence},
		{"transactional batch outside a transaction", request(rb{pid: 5, epoch: 0, seq: 0, n: 1, attrs: attrTransactional}), nil, ErrTxnNotStarted},
		{"control batch", request(rb{pid: 5, epoch: 0, seq: -1, n: 1, attrs: attrControl}), nil, ErrTransactionalBatch},
		{"transactional batch after a plain one", append(request(plain(1)), request(rb{pid: 5, epoch: 0, seq: 0, n: 2, attrs: attrTransactional})...), nil, ErrTxnNotStarted},
		{"bad crc", corrupt, nil, log.ErrCorruptMessage},
		{"truncated", request(plain(2))[:70], nil, log.ErrCorruptMessage},
		{"empty", nil, nil, log.ErrInvalidRecord},
		{"too large", big, func(c *Config) { c.MaxMessageBytes = len(big) - 1 }, log.ErrMessageTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg != nil {
				saved := p.cfg
				tc.cfg(&p.cfg)
				defer func() { p.cfg = saved }()
			}
			res, err := p.Append(tc.records)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Append = %+v, %v; want %v", res, err, tc.want)
			}
			if got := p.HighWatermark(); got != leo {
				t.Fatalf("log end offset moved from %d to %d on a rejected request", leo, got)
			}
		})
	}
	// The valid batches of the rejected requests were not recorded as
	// appended: they are accepted now, at the old log end.
	res := mustAppend(t, p, request(idem(1, 0, 1, 1)))
	if res.BaseOffset != leo || res.Duplicate {
		t.Fatalf("after rejections: %+v, want a fresh append at %d", res, leo)
	}
	if n := len(readAll(t, p.Log())); n != 3 {
		t.Fatalf("%d batches in the log, want 3", n)
	}
}

func TestAppendDuplicateReturnsOriginalOffsets(t *testing.T) {
	p := openPartition(t, t.TempDir(), testConfig())
	first := mustAppend(t, p, request(idem(1, 0, 0, 3)))
	mustAppend(t, p, request(plain(2)))
	second := mustAppend(t, p, request(idem(1, 0, 3, 2)))
	leo := p.HighWatermark()
	for _, tc := range []struct {
		b    rb
		want int64
	}{{idem(1, 0, 0, 3), first.BaseOffset}, {idem(1, 0, 3, 2), second.BaseOffset}} {
		res, err := p.Append(request(tc.b))
		if err != nil {
			t.Fatal(err)
		}
		if !res.Duplicate || res.BaseOffset != tc.want {
			t.Fatalf("retry of seq %d: %+v, want duplicate at %d", tc.b.seq, res, tc.want)
		}
		if res.Durable == nil {
			t.Fatal("duplicate with flush.messages=1 has no Durable: the original may not be on disk yet")
		}
		if err := res.Durable(); err != nil {
			t.Fatal(err)
		}
	}
	if p.HighWatermark() != leo {
		t.Fatal("duplicate appended")
	}
}

func TestAppendLogAppendTime(t *testing.T) {
	clk := newClock()
	cfg := testConfig()
	cfg.LogAppendTime = true
	cfg.Log.Now = clk.Now
	p := openPartition(t, t.TempDir(), cfg)

	want := clk.Now().UnixMilli()
	res := mustAppend(t, p, request(idem(1, 0, 0, 2), plain(3)))
	if res.LogAppendTime != want {
		t.Fatalf("LogAppendTime %d, want %d", res.LogAppendTime, want)
	}
	clk.Add(time.Minute)
	mustAppend(t, p, request(plain(1)))

	stored := readAll(t, p.Log())
	wantTs := []int64{want, want, want + time.Minute.Milliseconds()}
	for i, b := range stored {
		if !b.h.LogAppendTime() {
			t.Fatalf("batch %d: LogAppendTime attribute not set (attrs %#x)", i, b.h.Attributes)
		}
		if b.h.MaxTimestamp != wantTs[i] {
			t.Fatalf("batch %d: MaxTimestamp %d, want %d", i, b.h.MaxTimestamp, wantTs[i])
		}
		if b.h.BaseTimestamp != defaultCreateTime {
			t.Fatalf("batch %d: BaseTimestamp changed to %d", i, b.h.BaseTimestamp)
		}
	}
	// readAll validated the CRCs: the rewritten headers are consistent.

	// A retry gets the time of the original append, not the current time.
	clk.Add(time.Hour)
	dup, err := p.Append(request(idem(1, 0, 0, 2)))
	if err != nil || !dup.Duplicate || dup.LogAppendTime != want {
		t.Fatalf("retry: %+v, %v; want duplicate with LogAppendTime %d", dup, err, want)
	}

	// Producer state rebuilt from the log keeps the append time too.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(p.dir, snapshotFile)); err != nil {
		t.Fatal(err)
	}
	p2 := openPartition(t, p.dir, cfg)
	dup, err = p2.Append(request(idem(1, 0, 0, 2)))
	if err != nil || !dup.Duplicate || dup.LogAppendTime != want {
		t.Fatalf("retry after rebuild: %+v, %v; want duplicate with LogAppendTime %d", dup, err, want)
	}
}

func TestAppendCreateTimeKeepsTimestamps(t *testing.T) {
	p := openPartition(t, t.TempDir(), testConfig())
	b := plain(3)
	b.ts = 1_600_000_000_000
	if res := mustAppend(t, p, request(b)); res.LogAppendTime != -1 {
		t.Fatalf("LogAppendTime %d with CreateTime", res.LogAppendTime)
	}
	h := readAll(t, p.Log())[0].h
	if h.LogAppendTime() || h.MaxTimestamp != b.ts+2 || h.BaseTimestamp != b.ts {
		t.Fatalf("stored header %+v", h)
	}
}

func TestWaiters(t *testing.T) {
	p := openPartition(t, t.TempDir(), testConfig())
	w1, w2 := NewWaiter(), NewWaiter()
	p.AddWaiter(w1)
	p.AddWaiter(w2)
	for _, w := range []*Waiter{w1, w2} {
		select {
		case <-w.C:
			t.Fatal("woken before any append")
		default:
		}
	}
	mustAppend(t, p, request(plain(1)))
	mustAppend(t, p, request(plain(1))) // a second wake-up must not block Append
	for i, w := range []*Waiter{w1, w2} {
		select {
		case <-w.C:
		default:
			t.Fatalf("waiter %d not woken by the append", i)
		}
	}

	p.RemoveWaiter(w1)
	mustAppend(t, p, request(plain(1)))
	select {
	case <-w1.C:
		t.Fatal("removed waiter woken")
	default:
	}
	select {
	case <-w2.C:
	default:
		t.Fatal("remaining waiter not woken")
	}

	// A rejected append wakes nobody.
	if _, err := p.Append(nil); err == nil {
		t.Fatal("empty append accepted")
	}
	select {
	case <-w2.C:
		t.Fatal("woken by a rejected append")
	default:
	}

	// AppendQuiet leaves the wake-up to the caller's Wake.
	if _, err := p.AppendQuiet(request(plain(1))); err != nil {
		t.Fatalf("AppendQuiet: %v", err)
	}
	select {
	case <-w2.C:
		t.Fatal("woken by AppendQuiet")
	default:
	}
	p.Wake()
	select {
	case <-w2.C:
	default:
		t.Fatal("not woken by Wake")
	}

	// A waiter blocked in another goroutine is released by an append.
	got := make(chan struct{})
	go func() {
		<-w2.C
		close(got)
	}()
	mustAppend(t, p, request(plain(1)))
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("blocked waiter not released")
	}

	// Close wakes the waiters so that long polls can end.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w2.C:
	default:
		t.Fatal("waiter not woken by Close")
	}
}

func TestFlushPolicy(t *testing.T) {
	t.Run("flush.messages=1 returns Durable on every append", func(t *testing.T) {
		p := openPartition(t, t.TempDir(), testConfig())
		for range 3 {
			res, err := p.Append(request(plain(2)))
			if err != nil || res.Durable == nil {
				t.Fatalf("%+v, %v: want Durable", res, err)
			}
			if err := res.Durable(); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("flush.messages=5 counts records, not requests", func(t *testing.T) {
		cfg := testConfig()
		cfg.FlushMessages = 5
		p := openPartition(t, t.TempDir(), cfg)
		want := []bool{false, false, true, false, true} // 2, 4, 6 (flush) -> 0, 3, 6 (flush)
		for i, n := range []int{2, 2, 2, 3, 3} {
			res, err := p.Append(request(plain(n)))
			if err != nil {
				t.Fatal(err)
			}
			if (res.Durable != nil) != want[i] {
				t.Fatalf("append %d (%d records): Durable set %v, want %v", i, n, res.Durable != nil, want[i])
			}
			if res.Durable != nil {
				if err := res.Durable(); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

func TestFlushIfDue(t *testing.T) {
	clk := newClock()
	cfg := testConfig()
	cfg.FlushMessages = 1 << 40
	cfg.FlushMs = 100
	cfg.Log.Now = clk.Now
	p := openPartition(t, t.TempDir(), cfg)
	unflushed := func() int64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.unflushed
	}

	if err := p.FlushIfDue(); err != nil || unflushed() != 0 {
		t.Fatalf("idle partition: %v, unflushed %d", err, unflushed())
	}
	res := mustAppend(t, p, request(plain(2)))
	if res.Durable != nil {
		t.Fatal("Durable set although flush.messages is not reached")
	}
	clk.Add(60 * time.Millisecond)
	mustAppend(t, p, request(plain(1))) // does not move the oldest dirty time
	clk.Add(39 * time.Millisecond)
	if err := p.FlushIfDue(); err != nil || unflushed() != 3 {
		t.Fatalf("99 ms after the oldest append: %v, unflushed %d; want no flush", err, unflushed())
	}
	clk.Add(time.Millisecond)
	if err := p.FlushIfDue(); err != nil || unflushed() != 0 {
		t.Fatalf("100 ms after the oldest append: %v, unflushed %d; want a flush", err, unflushed())
	}
	clk.Add(time.Hour)
	if err := p.FlushIfDue(); err != nil || unflushed() != 0 {
		t.Fatalf("nothing new: %v, unflushed %d", err, unflushed())
	}

	// The next dirty period starts at the next append.
	mustAppend(t, p, request(plain(1)))
	clk.Add(50 * time.Millisecond)
	if err := p.FlushIfDue(); err != nil || unflushed() != 1 {
		t.Fatalf("50 ms after: %v, unflushed %d", err, unflushed())
	}
	clk.Add(50 * time.Millisecond)
	if err := p.FlushIfDue(); err != nil || unflushed() != 0 {
		t.Fatalf("100 ms after: %v, unflushed %d", err, unflushed())
	}

	// flush.ms unset: FlushIfDue never flushes.
	p.cfg.FlushMs = 0
	mustAppend(t, p, request(plain(1)))
	clk.Add(24 * time.Hour)
	if err := p.FlushIfDue(); err != nil || unflushed() != 1 {
		t.Fatalf("flush.ms=0: %v, unflushed %d", err, unflushed())
	}
}

func TestCloseReopenKeepsProducerState(t *testing.T) {
	for _, mode := range []string{"clean close", "crash"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			p := openPartition(t, dir, testConfig())
			a := mustAppend(t, p, request(idem(1, 0, 0, 5)))
			mustAppend(t, p, request(idem(2, 4, 0, 1)))
			b := mustAppend(t, p, request(idem(1, 0, 5, 2)))
			mustAppend(t, p, request(plain(3)))
			before := dump(p.producers)
			leo := p.HighWatermark()
			if mode == "crash" {
				crash(t, p)
			} else {
				if err := p.Close(); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(filepath.Join(dir, snapshotFile)); err != nil {
					t.Fatalf("no producer snapshot after Close: %v", err)
				}
				if _, err := p.Append(request(plain(1))); !errors.Is(err, ErrClosed) {
					t.Fatalf("Append after Close: %v, want ErrClosed", err)
				}
			}

			p = openPartition(t, dir, testConfig())
			if got := dump(p.producers); got != before {
				t.Fatalf("producer state after reopen:\n%s\nwant\n%s", got, before)
			}
			if p.HighWatermark() != leo {
				t.Fatalf("log end offset %d after reopen, want %d", p.HighWatermark(), leo)
			}
			for _, tc := range []struct {
				b    rb
				want int64
			}{{idem(1, 0, 0, 5), a.BaseOffset}, {idem(1, 0, 5, 2), b.BaseOffset}} {
				res, err := p.Append(request(tc.b))
				if err != nil || !res.Duplicate || res.BaseOffset != tc.want {
					t.Fatalf("retry after reopen: %+v, %v; want duplicate at %d", res, err, tc.want)
				}
			}
			if _, err := p.Append(request(idem(1, 0, 9, 1))); !errors.Is(err, ErrOutOfOrderSequence) {
				t.Fatalf("gap after reopen: %v", err)
			}
			if _, err := p.Append(request(idem(2, 3, 1, 1))); !errors.Is(err, ErrInvalidProducerEpoch) {
				t.Fatalf("old epoch after reopen: %v", err)
			}
			if res := mustAppend(t, p, request(idem(1, 0, 7, 1))); res.BaseOffset != leo || res.Duplicate {
				t.Fatalf("next in sequence after reopen: %+v", res)
			}
		})
	}
}

// A snapshot from a clean close followed by more appends and a crash: the
// state is the snapshot plus the scanned tail.
func TestReopenAfterSnapshotThenCrash(t *testing.T) {
	dir := t.TempDir()
	p := openPartition(t, dir, testConfig())
	mustAppend(t, p, request(idem(1, 0, 0, 2)))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openPartition(t, dir, testConfig())
	tail := mustAppend(t, p, request(idem(1, 0, 2, 2)))
	mustAppend(t, p, request(idem(3, 0, 0, 1)))
	want := dump(p.producers)
	crash(t, p)

	p = openPartition(t, dir, testConfig())
	if got := dump(p.producers); got != want {
		t.Fatalf("state:\n%s\nwant\n%s", got, want)
	}
	if res, err := p.Append(request(idem(1, 0, 2, 2))); err != nil || !res.Duplicate || res.BaseOffset != tail.BaseOffset {
		t.Fatalf("retry of the batch after the snapshot: %+v, %v", res, err)
	}
}

func TestCloseTwiceAndDelete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "topic-0")
	p := openPartition(t, dir, testConfig())
	mustAppend(t, p, request(plain(1)))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	p = openPartition(t, dir, testConfig())
	w := NewWaiter()
	p.AddWaiter(w)
	if err := p.Delete(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.C:
	default:
		t.Fatal("Delete did not wake the waiter")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("partition directory still there after Delete: %v", err)
	}
	if _, err := p.Append(request(plain(1))); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Delete: %v, want ErrClosed", err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	p := openPartition(t, t.TempDir(), testConfig())
	const producers, each = 4, 25
	var wg sync.WaitGroup
	bases := make(chan int64, producers*each)
	for pid := range int64(producers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range int32(each) {
				res, err := p.Append(request(idem(pid, 0, i*2, 2)))
				if err != nil {
					t.Errorf("producer %d append %d: %v", pid, i, err)
					return
				}
				if res.Durable != nil {
					if err := res.Durable(); err != nil {
						t.Error(err)
					}
				}
				bases <- res.BaseOffset
			}
		}()
	}
	wg.Wait()
	close(bases)
	seen := map[int64]bool{}
	for b := range bases {
		if b%2 != 0 || seen[b] {
			t.Fatalf("base offset %d odd or repeated", b)
		}
		seen[b] = true
	}
	if p.HighWatermark() != producers*each*2 || len(readAll(t, p.Log())) != producers*each {
		t.Fatalf("log end %d", p.HighWatermark())
	}
	for pid := range int64(producers) {
		if e := p.producers[pid]; e == nil || e.lastSeq() != each*2-1 {
			t.Fatalf("producer %d state %+v", pid, e)
		}
	}
}

func TestOpenReportsLogErrors(t *testing.T) {
	cfg := testConfig()
	cfg.Log.SegmentMs = -1
	if p, err := Open(t.TempDir(), "t", 3, cfg, false, discard()); err == nil {
		p.Close()
		t.Fatal("Open accepted an invalid log config")
	} else if want := "t-3"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not name the partition %s", err, want)
	}
}

// A produce request may carry several batches for one partition. Kafka
// validates each batch of an idempotent producer against the state as
// updated by the batches before it in the same request. Append checks every
// batch against the state from before the request, so the second in-order
// batch of a known producer is rejected as out of order, and a gap between
// two batches of one request goes undetected.
func TestAppendMultiBatchIdempotentRequest(t *testing.T) {
	p := openPartition(t, t.TempDir(), testConfig())
	mustAppend(t, p, request(idem(1, 0, 0, 2))) // producer 1 is known, last sequence 1

	res, err := p.Append(request(idem(1, 0, 2, 2), idem(1, 0, 4, 3)))
	if err != nil {
		t.Errorf("in-order two-batch request of a known producer rejected: %v", err)
	} else if res.BaseOffset != 2 || p.HighWatermark() != 7 {
		t.Errorf("two-batch request: %+v, log end %d; want base 2, log end 7", res, p.HighWatermark())
	}

	leo := p.HighWatermark()
	if _, err := p.Append(request(idem(2, 0, 0, 1), idem(2, 0, 5, 1))); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Errorf("request with a sequence gap between its own batches: err %v, want ErrOutOfOrderSequence", err)
	}
	if p.HighWatermark() != leo {
		t.Errorf("request with an internal sequence gap was appended (log end %d -> %d)", leo, p.HighWatermark())
	}
}

// Checkpoint saves the producer state with the recovery point: after a
// crash the state is that snapshot plus the batches appended after it (the
// marker producer exists only in the snapshot, which proves it was used),
// and duplicates from before and after the checkpoint are still detected.
func TestCheckpointSnapshotThenCrash(t *testing.T) {
	dir := t.TempDir()
	p := openPartition(t, dir, testConfig())
	before := mustAppend(t, p, request(idem(1, 0, 0, 2)))
	if err := p.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, snapshotFile))
	if err != nil {
		t.Fatalf("no snapshot after Checkpoint: %v", err)
	}
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil || s.Offset != 2 || len(s.Producers) != 1 {
		t.Fatalf("snapshot %s: %v", data, err)
	}
	// Doctor the snapshot: a producer only it knows shows whether
	// recovery started from it rather than from the log's start.
	marked := map[int64]*producerEntry{99: {Epoch: 7, Batches: []batchMeta{{0, 0, 0, 0, -1}}}}
	for id, e := range s.Producers {
		marked[id] = e
	}
	doctored, _ := json.Marshal(snapshot{Offset: s.Offset, Producers: marked, Txns: s.Txns})
	if err := os.WriteFile(filepath.Join(dir, snapshotFile), doctored, 0o644); err != nil {
		t.Fatal(err)
	}
	// Nothing new: a second checkpoint leaves the snapshot alone.
	if err := p.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	after := mustAppend(t, p, request(idem(1, 0, 2, 2)))
	crash(t, p)

	p = openPartition(t, dir, testConfig())
	if _, ok := p.producers[99]; !ok {
		t.Fatalf("recovery did not start from the checkpoint's snapshot: %s", dump(p.producers))
	}
	for _, c := range []struct {
		name string
		req  []byte
		want AppendResult
	}{
		{"before the checkpoint", request(idem(1, 0, 0, 2)), before},
		{"after the checkpoint", request(idem(1, 0, 2, 2)), after},
	} {
		res, err := p.Append(c.req)
		if err != nil || !res.Duplicate || res.BaseOffset != c.want.BaseOffset {
			t.Fatalf("retry of the batch %s: %+v, %v", c.name, res, err)
		}
	}
}

func TestSetConfigDuringAppends(t *testing.T) {
	// SetConfig replaces the config under mu; appends and FlushIfDue must
	// read it under mu too (go test -race catches a reader that does not).
	p := openPartition(t, t.TempDir(), testConfig())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20 {
			cfg := p.Config()
			cfg.FlushMs = int64(i + 1)
			if err := p.SetConfig(cfg); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range 20 {
		if _, err := p.Append(request(plain(1))); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if err := p.FlushIfDue(); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	if p.HighWatermark() != 20 || p.Config().FlushMs != 20 {
		t.Fatalf("log end %d, flush.ms %d", p.HighWatermark(), p.Config().FlushMs)
	}
}
