package bench

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"
)

// helperPortEnv makes the test binary act as a kfake broker process, so
// that StartBroker can be tested with a real subprocess.
const helperPortEnv = "SAMSA_BENCH_TEST_KFAKE_PORT"

func TestMain(m *testing.M) {
	if port := os.Getenv(helperPortEnv); port != "" {
		os.Exit(runHelperBroker(port))
	}
	goleak.VerifyTestMain(m)
}

func runHelperBroker(port string) int {
	p, err := strconv.Atoi(port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(p))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	c.Close()
	return 0
}

func newKfake(t *testing.T) ClientConfig {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return ClientConfig{Brokers: c.ListenAddrs()}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestProduceThenConsumeCounts(t *testing.T) {
	cc := newKfake(t)
	ctx := testContext(t)
	for _, acks := range []string{"all", "1", "0"} {
		t.Run("acks="+acks, func(t *testing.T) {
			topic := "counts-" + acks
			run := ProduceRun{
				Produce: ProduceConfig{
					ClientConfig: cc, Topic: topic, RecordSize: 100, Records: 5000,
					Partitions: 3, Producers: 2, Acks: acks, BatchBytes: 16 << 10,
				},
				ConsumeAfter:    true,
				RawConsumeAfter: true,
			}
			sum, err := run.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			p, c := sum.Produce, sum.Consume
			if p.Records != 5000 || p.Bytes != 500_000 || p.Errors != 0 {
				t.Fatalf("produce: %d records, %d bytes, %d errors", p.Records, p.Bytes, p.Errors)
			}
			if p.Latency == nil || p.Latency.Count != 5000 {
				t.Fatalf("produce latency %+v", p.Latency)
			}
			if c == nil || c.Records != 5000 || c.Bytes != 500_000 {
				t.Fatalf("consume: %+v", c)
			}
			if r := sum.ConsumeRaw; r == nil || r.Records != 5000 || r.Bytes != 500_000 {
				t.Fatalf("raw consume: %+v", r)
			}
			if sum.Workload.Partitions != 3 || sum.Workload.Acks != acks || sum.Workload.Idempotent != (acks == "all") {
				t.Fatalf("workload %+v", sum.Workload)
			}
			if sum.Broker != nil {
				t.Fatal("broker stats without a started broker")
			}
		})
	}

	// A second reader of the acks=all topic, bounded by count.
	sum, err := RunConsume(ctx, ConsumeConfig{ClientConfig: cc, Topic: "counts-all", Records: 1234})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Consume.Records < 1234 || sum.Consume.Records > 5000 || sum.Workload.Partitions != 3 {
		t.Fatalf("consume 1234: got %d records, workload %+v", sum.Consume.Records, sum.Workload)
	}
	// And one reading everything: the same 5000 as produced.
	sum, err = RunConsume(ctx, ConsumeConfig{ClientConfig: cc, Topic: "counts-all"})
	if err != nil || sum.Consume.Records != 5000 || sum.Workload.RecordSize != 100 {
		t.Fatalf("consume all: %+v, %v", sum.Consume, err)
	}
}

func TestProduceWithRateAndExistingTopic(t *testing.T) {
	cc := newKfake(t)
	ctx := testContext(t)
	if _, err := EnsureTopic(ctx, cc, "existing", 5); err != nil {
		t.Fatal(err)
	}
	// Asking for 2 partitions of an existing 5-partition topic uses the 5.
	sum, err := RunProduce(ctx, ProduceConfig{
		ClientConfig: cc, Topic: "existing", RecordSize: 10, Records: 300,
		Partitions: 2, Producers: 3, Rate: 3000, Compression: "zstd", Linger: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Produce.Records != 300 || sum.Workload.Partitions != 5 || sum.Workload.Compression != "zstd" {
		t.Fatalf("produce %+v workload %+v", sum.Produce, sum.Workload)
	}
	// Raw reads count compressed records from the batch headers.
	sum, err = RunConsume(ctx, ConsumeConfig{ClientConfig: cc, Topic: "existing", Raw: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := sum.ConsumeRaw; r == nil || r.Records != 300 || r.Bytes <= 0 || sum.Consume != nil {
		t.Fatalf("raw consume of compressed batches: %+v", r)
	}
	if _, err := RunConsume(ctx, ConsumeConfig{ClientConfig: cc, Topic: "existing", Raw: true, Records: 5}); err == nil {
		t.Fatal("raw consume with a record count: no error")
	}
}

func TestProduceRejectsBadConfig(t *testing.T) {
	ctx := testContext(t)
	cc := ClientConfig{Brokers: []string{"127.0.0.1:1"}}
	for name, cfg := range map[string]ProduceConfig{
		"no bound":    {ClientConfig: cc, Topic: "t", Producers: 1},
		"no topic":    {ClientConfig: cc, Records: 1, Producers: 1},
		"bad acks":    {ClientConfig: cc, Topic: "t", Records: 1, Producers: 1, Acks: "2"},
		"bad codec":   {ClientConfig: cc, Topic: "t", Records: 1, Producers: 1, Compression: "brotli"},
		"no producer": {ClientConfig: cc, Topic: "t", Records: 1},
	} {
		if _, err := RunProduce(ctx, cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := RunE2E(ctx, E2EConfig{ProduceConfig: ProduceConfig{ClientConfig: cc, Topic: "t", Records: 1, Producers: 1, RecordSize: 100}}); err == nil {
		t.Error("e2e without a rate: no error")
	}
}

func TestE2ECountsEveryRecord(t *testing.T) {
	for _, c := range []struct{ rawProducer, rawConsumer bool }{{false, false}, {false, true}, {true, false}, {true, true}} {
		t.Run(fmt.Sprintf("raw producer=%v consumer=%v", c.rawProducer, c.rawConsumer), func(t *testing.T) {
			cc := newKfake(t)
			ctx := testContext(t)
			// Some records already in the topic must not be counted.
			if _, err := RunProduce(ctx, ProduceConfig{ClientConfig: cc, Topic: "e2e", RecordSize: 64, Records: 100, Partitions: 2, Producers: 1}); err != nil {
				t.Fatal(err)
			}
			sum, err := RunE2E(ctx, E2EConfig{ProduceConfig: ProduceConfig{
				ClientConfig: cc, Topic: "e2e", RecordSize: 64, Records: 400, Partitions: 2, Producers: 2, Rate: 4000,
				Raw: c.rawProducer, BatchBytes: 2 << 10,
			}, RawConsumer: c.rawConsumer})
			if err != nil {
				t.Fatal(err)
			}
			e := sum.E2E
			if sum.Produce.Records != 400 || e.Received != 400 || e.Missing != 0 || e.Latency.Count != 400 {
				t.Fatalf("produced %d, e2e %+v", sum.Produce.Records, e)
			}
			if e.Latency.P50Ms <= 0 || e.Latency.MaxMs < e.Latency.P99Ms || e.Latency.P99Ms < e.Latency.P50Ms {
				t.Fatalf("latency %+v", e.Latency)
			}
			if sum.Workload.RawConsumer != c.rawConsumer || sum.Workload.Raw != c.rawProducer {
				t.Fatalf("workload says raw producer %v, consumer %v", sum.Workload.Raw, sum.Workload.RawConsumer)
			}
		})
	}
	for name, c := range map[string]struct {
		cfg  ProduceConfig
		want string
	}{
		"raw consumer refuses compression": {ProduceConfig{Compression: "lz4"}, "raw e2e consumer reads uncompressed"},
		"raw producer refuses compression": {ProduceConfig{Compression: "lz4", Raw: true}, "raw e2e producer sends uncompressed"},
		"raw producer refuses acks=0":      {ProduceConfig{Acks: "0", Raw: true}, "raw e2e producer sends uncompressed"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := c.cfg
			cfg.ClientConfig = newKfake(t)
			cfg.Topic, cfg.RecordSize, cfg.Records, cfg.Partitions, cfg.Producers, cfg.Rate = "e2e", 64, 10, 1, 1, 1000
			_, err := RunE2E(testContext(t), E2EConfig{ProduceConfig: cfg, RawConsumer: !cfg.Raw})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
		})
	}
}

func TestStartBrokerMeasuresProcess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	spec := &BrokerSpec{
		Command:     "env " + helperPortEnv + "={port} " + exe + " -test.run=^$",
		DataDirBase: base,
	}
	sum, err := ProduceRun{
		Produce: ProduceConfig{Topic: "sub", RecordSize: 200, Records: 2000, Partitions: 2, Producers: 1,
			ClientConfig: ClientConfig{Brokers: []string{"unused"}}},
		ConsumeAfter: true,
		Broker:       spec,
	}.Run(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	b := sum.Broker
	if b == nil || b.PID <= 0 || b.PeakRSSBytes <= 0 || b.CPUSeconds < 0 {
		t.Fatalf("broker stats %+v", b)
	}
	if b.BytesMoved != 2*400_000 || sum.Consume.Records != 2000 || b.ProduceCPUSeconds+b.ConsumeCPUSeconds != b.CPUSeconds {
		t.Fatalf("moved %d bytes, consumed %d", b.BytesMoved, sum.Consume.Records)
	}
	if b.CPUSeconds > 0 && b.CPUSecondsPerGB != b.CPUSeconds/0.0008 {
		t.Fatalf("cpu/GB %g for %g s", b.CPUSecondsPerGB, b.CPUSeconds)
	}
	if sum.Workload.Fsync != "" {
		t.Fatalf("fsync %q reported for a foreign broker", sum.Workload.Fsync)
	}
	// The broker is gone and its directory removed.
	if err := syscall.Kill(b.PID, 0); err == nil {
		t.Fatalf("broker pid %d still running", b.PID)
	}
	if left, _ := filepath.Glob(filepath.Join(base, "*")); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestStopEndsWrapperChildren starts the broker behind a shell that also
// leaves a background process, as a wrapper command might: Stop must end both.
func TestStopEndsWrapperChildren(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := StartBroker(testContext(t), BrokerSpec{
		Command:     "sleep 300 & echo $! > {dir}/child.pid; env " + helperPortEnv + "={port} " + exe + " -test.run=^$",
		DataDirBase: t.TempDir(),
		KeepData:    true,
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(b.Dir, "data", "child.pid"))
	if err != nil {
		_ = b.Stop()
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		_ = b.Stop()
		t.Fatal(err)
	}
	if !processAlive(child) {
		_ = b.Stop()
		t.Fatalf("background child %d not running before Stop", child)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	// The child was killed; its parent (the shell) is gone, so init reaps it
	// at its own pace: wait for that rather than assume it.
	deadline := time.Now().Add(10 * time.Second)
	for processAlive(child) {
		if time.Now().After(deadline) {
			t.Fatalf("background child %d survived Stop", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if processAlive(b.PID()) {
		t.Fatalf("broker %d survived Stop", b.PID())
	}
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

func TestStartBrokerReportsEarlyExit(t *testing.T) {
	_, err := StartBroker(testContext(t), BrokerSpec{Command: "echo broken broker; exit 3", DataDirBase: t.TempDir()})
	if err == nil {
		t.Fatal("no error for a broker that exits")
	}
	if want := "broken broker"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q lacks the broker's output %q", err, want)
	}
}

func TestDiskLeavesNothingBehind(t *testing.T) {
	dir := t.TempDir()
	sum, err := RunDisk(testContext(t), DiskConfig{Dir: dir, BlockBytes: 256 << 10, MaxBytes: 4 << 20, FsyncEveryBytes: 1 << 20,
		FillWriters: 2, FillMaxBytes: 6 << 20, FillDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	d := sum.Disk
	if d.PageCacheMBPerSec <= 0 || d.FsyncEachBlockMBPerSec <= 0 || d.FsyncEveryMBPerSec <= 0 || d.FsyncEveryBytes != 1<<20 {
		t.Fatalf("disk %+v", d)
	}
	// The fill pass stops at its byte bound, shared by the writers.
	if d.FillWriters != 2 || d.FillBytes != 6<<20 || d.PageCacheFillMBPerSec <= 0 {
		t.Fatalf("fill pass %+v", d)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	if _, err := RunDisk(testContext(t), DiskConfig{Dir: filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("no error for a missing directory")
	}
}

func TestLoopbackSendsWholeFiles(t *testing.T) {
	const file = 4 << 20
	sum, err := RunLoopback(testContext(t), LoopbackConfig{Dir: t.TempDir(), FileBytes: file, Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l := sum.Loopback
	// The sender sends the file whole each time; the receiver must have
	// got every byte of at least one pass.
	if l.Bytes <= 0 || l.Bytes%file != 0 || l.MBPerSec <= 0 || l.Method != "sendfile" {
		t.Fatalf("loopback %+v", l)
	}
}
