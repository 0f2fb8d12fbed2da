package partition

import (
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/log"
)

// TestLastStableOffsetWithoutTransactions checks that LastStableOffset
// follows transactions (the first offset of the oldest open one, else the
// log end offset, also after a reopen with one open), and that without an
// open transaction it answers while an append holds the partition lock,
// while with one it waits for the append.
func TestLastStableOffsetWithoutTransactions(t *testing.T) {
	dir := t.TempDir()
	p := openPartition(t, dir, testConfig())
	p.SetTxnVerifier(func(int64, int16) error { return nil })
	txnBatch := func(pid int64) []byte {
		return log.EncodeBatch(log.BatchSpec{Timestamp: defaultCreateTime, ProducerID: pid, ProducerEpoch: 0, Transactional: true},
			[]log.Record{{Value: []byte("x")}})
	}

	mustAppend(t, p, request(plain(3)))
	if got := p.LastStableOffset(); got != 3 {
		t.Fatalf("no transaction: LSO %d, want 3", got)
	}
	// An append in progress holds mu: without a transaction the LSO does
	// not wait for it.
	var lso int64
	if whileLocked(p, 2*time.Second, func() { lso = p.LastStableOffset() }) {
		t.Fatal("LastStableOffset waited for the partition lock without a transaction")
	}
	if lso != 3 {
		t.Errorf("LSO during an append: %d, want 3", lso)
	}

	res := mustAppend(t, p, txnBatch(7)) // opens a transaction at offset 3
	mustAppend(t, p, request(plain(2)))
	if got := p.LastStableOffset(); got != res.BaseOffset {
		t.Fatalf("open transaction from %d: LSO %d", res.BaseOffset, got)
	}
	// With one open, the lock is needed: the answer waits for the append.
	if !whileLocked(p, 50*time.Millisecond, func() { lso = p.LastStableOffset() }) {
		t.Fatalf("LSO %d returned while the lock was held with a transaction open", lso)
	}
	if lso != res.BaseOffset {
		t.Fatalf("LSO after the lock: %d, want %d", lso, res.BaseOffset)
	}

	// Reopened with the transaction still open, the state comes back.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openPartition(t, dir, testConfig())
	p.SetTxnVerifier(func(int64, int16) error { return nil })
	if got := p.LastStableOffset(); got != res.BaseOffset {
		t.Fatalf("reopened with a transaction open: LSO %d, want %d", got, res.BaseOffset)
	}
	writeMarker(t, p, 7, true)
	if got, leo := p.LastStableOffset(), p.HighWatermark(); got != leo {
		t.Fatalf("after the commit: LSO %d, log end %d", got, leo)
	}
	if p.txnOpen.Load() {
		t.Fatal("no transaction is open, but txnOpen is still set")
	}

	// An aborted transaction, then a read_committed read while an append
	// holds the lock: it does not wait, and lists the aborted span.
	ab := mustAppend(t, p, txnBatch(9))
	writeMarker(t, p, 9, false)
	mustAppend(t, p, request(plain(1)))
	var got struct {
		rr      log.ReadResult
		aborted []AbortedTxn
		err     error
	}
	if whileLocked(p, 2*time.Second, func() { got.rr, got.aborted, got.err = p.ReadCommitted(0, 1<<20, true) }) {
		t.Fatal("ReadCommitted waited for the partition lock without a transaction open")
	}
	if got.err != nil {
		t.Fatal(got.err)
	}
	defer got.rr.Release()
	if len(got.aborted) != 1 || got.aborted[0].ProducerID != 9 || got.aborted[0].FirstOffset != ab.BaseOffset {
		t.Fatalf("aborted %+v, want producer 9 from %d", got.aborted, ab.BaseOffset)
	}
	if got.rr.Size == 0 {
		t.Fatal("read_committed read returned nothing below the LSO")
	}
}

// whileLocked holds p.mu, as an append does across its write, runs f and
// reports whether f waited for the lock (had not returned within wait). f
// has returned when whileLocked does.
func whileLocked(p *Partition, wait time.Duration, f func()) (waited bool) {
	p.mu.Lock()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
		waited = true
	}
	p.mu.Unlock()
	<-done
	return waited
}
