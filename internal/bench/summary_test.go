package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fullSummary() *Summary {
	var h Histogram
	for i := int64(1); i <= 1000; i++ {
		h.Record(i * int64(time.Millisecond) / 10)
	}
	lat := LatencyOf(&h)
	prod := newThroughput(1000, 1_024_000, 2*time.Second)
	prod.Latency = &lat
	return &Summary{
		Kind: "produce", Label: "01-x", Target: TargetSamsa,
		Workload: &Workload{Topic: "t", RecordSize: 1024, Partitions: 8, Producers: 1, Acks: "all", Fsync: "off"},
		Produce:  prod,
		Consume:  newThroughput(1000, 1_024_000, time.Second),
		E2E:      &E2EResult{Latency: lat, Received: 1000},
		Broker:   &BrokerStats{PID: 7, CPUSeconds: 1.5, BytesMoved: 2_048_000, CPUSecondsPerGB: 732.4, PeakRSSBytes: 64 << 20},
	}
}

// TestSummaryJSONShape pins the field names that scripts (bench/run.sh, the
// report) read.
func TestSummaryJSONShape(t *testing.T) {
	var buf bytes.Buffer
	sum := fullSummary()
	sum.Workload.Raw, sum.Workload.BatchRecords = true, 1014
	if err := sum.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	get := func(path string) any {
		var cur any = m
		for _, k := range strings.Split(path, ".") {
			obj, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = obj[k]
		}
		return cur
	}
	for path, want := range map[string]any{
		"version":                 float64(SummaryVersion),
		"kind":                    "produce",
		"label":                   "01-x",
		"target":                  "samsa",
		"workload.record_size":    float64(1024),
		"workload.partitions":     float64(8),
		"workload.acks":           "all",
		"workload.fsync":          "off",
		"workload.raw":            true,
		"workload.batch_records":  float64(1014),
		"produce.records":         float64(1000),
		"produce.bytes":           float64(1_024_000),
		"produce.seconds":         float64(2),
		"produce.records_per_sec": float64(500),
		"produce.mb_per_sec":      0.512,
		"produce.latency.count":   float64(1000),
		"produce.latency.max_ms":  100.0,
		"consume.mb_per_sec":      1.024,
		"e2e.received":            float64(1000),
		"broker.cpu_seconds":      1.5,
		"broker.peak_rss_bytes":   float64(64 << 20),
	} {
		if got := get(path); got != want {
			t.Errorf("%s = %v (%T), want %v", path, got, got, want)
		}
	}
	if p50, _ := get("produce.latency.p50_ms").(float64); p50 < 50 || p50 > 50*(1+1.0/histSubCount) {
		t.Errorf("produce.latency.p50_ms = %v, want 50 within a bucket", p50)
	}
	for _, path := range []string{"produce.latency.p99_ms", "produce.latency.p999_ms", "e2e.latency.p999_ms", "broker.cpu_seconds_per_gb"} {
		if _, ok := get(path).(float64); !ok {
			t.Errorf("%s missing", path)
		}
	}
	// Absent parts are left out, not written as null.
	buf.Reset()
	if err := (&Summary{Kind: "loopback", Loopback: &LoopbackResult{Method: "sendfile"}}).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"produce"`, `"broker"`, `"error"`, `"disk"`} {
		if strings.Contains(buf.String(), k) {
			t.Errorf("empty summary has %s: %s", k, buf.String())
		}
	}
}

func TestSummaryText(t *testing.T) {
	var buf bytes.Buffer
	sum := fullSummary()
	sum.Workload.Group, sum.Workload.Consumers, sum.Workload.GroupProtocol = "rb", 2, GroupProtocolConsumer
	sum.Consume.StartSeconds = 0.25
	if err := sum.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"produce: 1000 records", "500 records/s", "consume: 1000 records", "p99 ", "peak RSS 64.0 MiB",
		"group=rb consumers=2 group-protocol=consumer", "after 0.25s to join the group"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestReport(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, s *Summary) {
		var buf bytes.Buffer
		if err := s.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	samsa := fullSummary()
	samsa.Produce.MBPerSec = 300
	samsa.Consume.MBPerSec = 900
	samsa.Broker.CPUSecondsPerGB = 1
	samsa.Produce.ClientCPUSeconds = 0.5
	write("01-x.samsa.json", samsa)
	kfake := fullSummary()
	kfake.Target = TargetKfake
	kfake.Produce.MBPerSec = 150
	kfake.Broker.CPUSecondsPerGB = 4
	write("01-x.kfake.json", kfake)
	null := fullSummary()
	null.Target, null.Consume, null.Broker.CPUSecondsPerGB = TargetNull, nil, 0.25
	null.Produce.MBPerSec = 600
	write("01-x.null.json", null)
	// Raw produce runs of the same workload: rows of their own.
	for target, mbps := range map[string]float64{TargetSamsa: 900, TargetKfake: 450, TargetNull: 1100} {
		raw := fullSummary()
		raw.Target, raw.Consume = target, nil
		raw.Workload.Raw, raw.Workload.BatchRecords = true, 1014
		raw.Produce.MBPerSec = mbps
		raw.Produce.ClientCPUSeconds = 0.1
		raw.Broker.CPUSecondsPerGB = mbps / 1000
		raw.Broker.PeakRSSBytes = 100 << 20
		write("01-x."+target+".raw.json", raw)
	}
	// An e2e run with the raw producer reads like any other e2e run.
	for target, p99 := range map[string]float64{TargetSamsa: 4.5, TargetKfake: 90} {
		e := fullSummary()
		e.Kind, e.Label, e.Target, e.Consume = "e2e", "03-e", target, nil
		e.Workload.Raw, e.Workload.RawConsumer, e.Workload.TargetRate = true, true, 500
		e.E2E.Latency.P99Ms = p99
		write("03-e."+target+".json", e)
	}
	// A read-back by a consumer group: its own row names, and the join time.
	for target, mbps := range map[string]float64{TargetSamsa: 800, TargetKfake: 200} {
		g := fullSummary()
		g.Label, g.Target = "04-g", target
		g.Workload.Group, g.Workload.Consumers, g.Workload.GroupProtocol = "rb", 4, GroupProtocolClassic
		g.Consume.MBPerSec, g.Consume.StartSeconds = mbps, 3.05
		write("04-g."+target+".json", g)
	}
	write("limit.loopback.json", &Summary{Kind: "loopback", Loopback: &LoopbackResult{Method: "sendfile", MBPerSec: 1200}})
	write("limit.disk.json", &Summary{Kind: "disk", Disk: &DiskResult{Dir: "/d", BlockBytes: 1 << 20, FsyncEachBlockMBPerSec: 100, FsyncEveryBytes: 8 << 20,
		PageCacheFillMBPerSec: 600, FillWriters: 2, FillBytes: 3e9}})
	for _, name := range []string{"02-y.samsa.json", "02-y.kfake.raw.json"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	var out bytes.Buffer
	if err := WriteReport(&out, dir); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	// The kgo run's broker row keeps the kgo figures.
	if !strings.Contains(s, "|  | broker CPU s per GB moved | 1.00 | 4.00 | 0.25 |") {
		t.Errorf("kgo broker row mixed with raw figures:\n%s", s)
	}
	for _, want := range []string{
		"| 01-x: 1 KiB, 8 part., acks=all, fsync off, 1 producer | produce MB/s | 300 | 150 | 600 | 1,200 (loopback) | 2.00 | 0.25 |",
		"| consume MB/s (one consumer, read back) | 900 | 1.02 | – | 1,200 (loopback) | 878.91 | 0.75 |",
		"| broker CPU s per GB moved | 1.00 | 4.00 | 0.25 | – | 0.25 | – |",
		"| load generator CPU s per GB produced | 488 | – | – | – | – | – |",
		"loopback TCP, sendfile from a page-cached file to a discarding reader: 1200.0 MB/s",
		"fsync after each write 100.0 MB/s",
		"02-y samsa: 02-y.samsa.json:",
		"| 02-y | produce MB/s | failed | – | – |",
		"|  | produce MB/s, raw (pre-built batches) | 900 | 450 | 1,100 | 1,200 (loopback) | 2.00 | 0.75 |",
		"|  | produce MB/s against page cache fill | 300 | 150 | 600 | 600 (page cache fill) | 2.00 | 0.50 |",
		"|  | produce MB/s, raw, against page cache fill | 900 | 450 | 1,100 | 600 (page cache fill) | 2.00 | 1.50 |",
		"page cache fill (/d), 2 writers at once, no fsync, 3.0 GB in all",
		"|  | load generator CPU s per GB produced, raw | 97.7 | 97.7 | 97.7 | – | 1.00 | – |",
		"|  | broker CPU s per GB produced, raw run | 0.90 | 0.45 | 1.10 | – | 2.00 | – |",
		"|  | broker peak RSS, MiB, raw run | 100 | 100 | 100 | – | 1.00 | – |",
		"02-y kfake (raw): 02-y.kfake.raw.json:",
		"| 03-e: 1 KiB, 8 part., acks=all, fsync off, 1 producer, e2e at 500 records/s, raw producer, raw-fetch consumer | achieved produce rate, records/s | 500 | 500 |",
		"|  | e2e latency p99, ms | 4.50 | 90.0 | – | – | 0.05 | – |",
		"|  | consume MB/s (consumer group of 4, classic protocol, read back) | 800 | 200 | – | 1,200 (loopback) | 4.00 | 0.67 |",
		"|  | consumer group: seconds to the first record (joining) | 3.05 | 3.05 | – | – | 1.00 | – |",
		"|  | produce MB/s, raw (pre-built batches) | – | failed | – |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
}

func TestFormatFigure(t *testing.T) {
	for v, want := range map[float64]string{1234567: "1,234,567", 123: "123", 12.34: "12.3", 1.234: "1.23", 0: "0.00"} {
		if got := formatFigure(v); got != want {
			t.Errorf("formatFigure(%g) = %q, want %q", v, got, want)
		}
	}
}

func TestParseProc(t *testing.T) {
	stat := []byte("4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 130 0 0 20 0 5 0 100 1000 200 rest")
	cpu, err := parseProcStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if cpu != 3.8 {
		t.Fatalf("cpu = %g, want 3.8 (380 ticks)", cpu)
	}
	if _, err := parseProcStatCPU([]byte("12 (x) S 1 2")); err == nil {
		t.Fatal("short stat parsed")
	}
	status := []byte("Name:\tx\nVmPeak:\t 9 kB\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n")
	hwm, rss, err := parseProcStatus(status)
	if err != nil || hwm != 2<<20 || rss != 1<<20 {
		t.Fatalf("hwm %d rss %d err %v", hwm, rss, err)
	}
	if _, _, err := parseProcStatus([]byte("VmHWM: lots\n")); err == nil {
		t.Fatal("bad status parsed")
	}
	// Our own process: some CPU used already, and a resident set.
	st, err := ReadProcStats(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.PeakRSSBytes <= 0 || st.RSSBytes <= 0 || st.PeakRSSBytes < st.RSSBytes || st.CPUSeconds < 0 {
		t.Fatalf("own stats %+v", st)
	}
}
