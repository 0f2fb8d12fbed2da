package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// SummaryVersion is bumped when a field of Summary changes meaning or goes
// away, so that scripts reading old result files can tell.
const SummaryVersion = 1

// Summary is the machine-readable result of one bench run (printed with
// --json). Throughput is in records and bytes of record payload (key plus
// value); MB means 10^6 bytes everywhere, including the machine limits, so
// that ratios between them are plain divisions.
type Summary struct {
	Version int    `json:"version"`
	Kind    string `json:"kind"` // produce, consume, e2e, disk, loopback
	// Label and Target are free-form names that scripts pass in to tell
	// runs apart (bench/run.sh: the workload and the broker under test).
	Label  string `json:"label,omitempty"`
	Target string `json:"target,omitempty"`
	// Error is set when the run failed; the figures present are partial.
	Error string `json:"error,omitempty"`

	Workload *Workload   `json:"workload,omitempty"`
	Produce  *Throughput `json:"produce,omitempty"`
	Consume  *Throughput `json:"consume,omitempty"`
	// ConsumeRaw is a read with plain Fetch requests that do not decode
	// records (see --raw): the broker's side of consuming, less the client.
	ConsumeRaw *Throughput     `json:"consume_raw,omitempty"`
	E2E        *E2EResult      `json:"e2e,omitempty"`
	Broker     *BrokerStats    `json:"broker,omitempty"`
	Disk       *DiskResult     `json:"disk,omitempty"`
	Loopback   *LoopbackResult `json:"loopback,omitempty"`
}

// Workload records the parameters a produce, consume or e2e run used.
type Workload struct {
	Topic       string  `json:"topic"`
	RecordSize  int     `json:"record_size"`
	Partitions  int32   `json:"partitions"`
	Producers   int     `json:"producers,omitempty"`
	Acks        string  `json:"acks,omitempty"`
	Idempotent  bool    `json:"idempotent,omitempty"`
	Compression string  `json:"compression,omitempty"`
	LingerMs    float64 `json:"linger_ms"`
	BatchBytes  int     `json:"batch_bytes,omitempty"`
	TargetRate  float64 `json:"target_rate"` // records/s, 0 = as fast as possible
	// Raw is set for produce runs with pre-built batches in plain Produce
	// requests (--raw) instead of a kgo producer; BatchRecords is then the
	// records in each batch, and produce latency is per request.
	Raw          bool `json:"raw,omitempty"`
	BatchRecords int  `json:"batch_records,omitempty"`
	// RawConsumer is set for e2e runs measured with raw fetches
	// (--consume-raw) instead of a kgo consumer.
	RawConsumer bool `json:"raw_consumer,omitempty"`
	// Group, Consumers and GroupProtocol describe a consume (or read-back)
	// by the members of a consumer group instead of one client reading the
	// partitions directly.
	Group         string `json:"group,omitempty"`
	Consumers     int    `json:"consumers,omitempty"`
	GroupProtocol string `json:"group_protocol,omitempty"`
	// Fsync is the flush policy the bench asked of a broker it started:
	// "on" (fsync before ack), "off" (left to the OS) or "" when the broker
	// was not started by the bench or ignores the setting.
	Fsync string `json:"fsync,omitempty"`
}

// Throughput is one direction of data flow.
type Throughput struct {
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	Errors        int64   `json:"errors,omitempty"`
	// ClientCPUSeconds is the CPU time the bench process itself used in
	// this phase (for e2e: producers and consumer together). On a small
	// machine the load generator competes with the broker for cores, and
	// a phase whose client used about a core is client-bound.
	ClientCPUSeconds float64 `json:"client_cpu_seconds,omitempty"`
	FirstError       string  `json:"first_error,omitempty"`
	// StartSeconds is, for a group read, the time from starting the
	// members to the first record (joining the group and being assigned
	// partitions); Seconds then runs from the first record to the last.
	StartSeconds float64 `json:"start_seconds,omitempty"`
	// Latency is, for produce, from the Produce call to the broker's
	// acknowledgement of that record; for raw produce, from writing a
	// Produce request to its response.
	Latency *Latency `json:"latency,omitempty"`
}

// Latency summarises a histogram of durations, in milliseconds.
type Latency struct {
	Count  uint64  `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// E2EResult is the end-to-end latency from the producer's send time, written
// into the record, to the consumer receiving it.
type E2EResult struct {
	Latency  Latency `json:"latency"`
	Received int64   `json:"received"`
	// Bytes is the record payload received (every e2e record has a value
	// of the record size and no key).
	Bytes int64 `json:"bytes"`
	// Missing is how many acknowledged records the consumer never saw.
	Missing int64   `json:"missing"`
	Warmup  float64 `json:"warmup_seconds"`
}

// BrokerStats describes the broker process when the bench started it.
type BrokerStats struct {
	Command string `json:"command"`
	PID     int    `json:"pid"`
	// CPUSeconds is user plus system CPU time the broker spent during the
	// measured phases (not its start-up).
	CPUSeconds        float64 `json:"cpu_seconds"`
	ProduceCPUSeconds float64 `json:"produce_cpu_seconds"`
	ConsumeCPUSeconds float64 `json:"consume_cpu_seconds,omitempty"`
	// ConsumeRawCPUSeconds is the broker's CPU time in the raw read-back.
	ConsumeRawCPUSeconds float64 `json:"consume_raw_cpu_seconds,omitempty"`
	// BytesMoved is the record payload produced plus consumed (by the
	// read-backs, or by the e2e consumer).
	BytesMoved      int64   `json:"bytes_moved"`
	CPUSecondsPerGB float64 `json:"cpu_seconds_per_gb"`
	// PeakRSSBytes is the process's high-water resident set (VmHWM).
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
}

// DiskResult is the sequential write bandwidth of a directory's file system.
type DiskResult struct {
	Dir        string `json:"dir"`
	BlockBytes int    `json:"block_bytes"`
	// PageCacheMBPerSec: writes with no fsync (the OS flushes later).
	PageCacheMBPerSec float64 `json:"page_cache_mb_per_sec"`
	// FsyncEachBlockMBPerSec: write one block, fsync, repeat.
	FsyncEachBlockMBPerSec float64 `json:"fsync_each_block_mb_per_sec"`
	// FsyncEveryMBPerSec: fsync after every FsyncEveryBytes, as a group
	// commit that gathers that much would.
	FsyncEveryBytes    int64   `json:"fsync_every_bytes"`
	FsyncEveryMBPerSec float64 `json:"fsync_every_mb_per_sec"`
	// PageCacheFillMBPerSec: FillWriters writers at once, no fsync, FillBytes
	// in all, most of it into memory not touched lately (DiskConfig); 0 when
	// not measured.
	PageCacheFillMBPerSec float64 `json:"page_cache_fill_mb_per_sec,omitempty"`
	FillWriters           int     `json:"fill_writers,omitempty"`
	FillBytes             int64   `json:"fill_bytes,omitempty"`
}

// LoopbackResult is TCP bandwidth over 127.0.0.1 from a page-cached file sent
// with sendfile to a receiver that discards.
type LoopbackResult struct {
	Method   string  `json:"method"`
	Bytes    int64   `json:"bytes"`
	Seconds  float64 `json:"seconds"`
	MBPerSec float64 `json:"mb_per_sec"`
}

func newThroughput(records, bytes int64, elapsed time.Duration) *Throughput {
	t := &Throughput{Records: records, Bytes: bytes, Seconds: elapsed.Seconds()}
	if s := elapsed.Seconds(); s > 0 {
		t.RecordsPerSec = float64(records) / s
		t.MBPerSec = float64(bytes) / 1e6 / s
	}
	return t
}

// LatencyOf summarises a histogram of nanosecond samples.
func LatencyOf(h *Histogram) Latency {
	ms := func(v int64) float64 { return float64(v) / 1e6 }
	return Latency{
		Count:  h.Count(),
		MeanMs: h.Mean() / 1e6,
		P50Ms:  ms(h.Percentile(50)),
		P99Ms:  ms(h.Percentile(99)),
		P999Ms: ms(h.Percentile(99.9)),
		MaxMs:  ms(h.Max()),
	}
}

// WriteJSON writes s as one indented JSON document.
func (s *Summary) WriteJSON(w io.Writer) error {
	s.Version = SummaryVersion
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// WriteText writes s for a person to read.
func (s *Summary) WriteText(w io.Writer) error {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	if wl := s.Workload; wl != nil {
		p("workload: topic=%s record-size=%d partitions=%d", wl.Topic, wl.RecordSize, wl.Partitions)
		if wl.Producers > 0 {
			p(" producers=%d acks=%s idempotent=%v compression=%s linger=%gms batch-bytes=%d",
				wl.Producers, wl.Acks, wl.Idempotent, wl.Compression, wl.LingerMs, wl.BatchBytes)
		}
		if wl.Raw {
			p(" raw (pre-built batches of %d records, non-idempotent)", wl.BatchRecords)
		}
		if wl.TargetRate > 0 {
			p(" rate=%g/s", wl.TargetRate)
		}
		if wl.Fsync != "" {
			p(" fsync=%s", wl.Fsync)
		}
		if wl.Group != "" {
			p(" group=%s consumers=%d group-protocol=%s", wl.Group, wl.Consumers, wl.GroupProtocol)
		}
		p("\n")
	}
	tp := func(name string, t *Throughput) {
		if t == nil {
			return
		}
		p("%s: %d records, %.1f MB in %.2fs: %.0f records/s, %.1f MB/s", name,
			t.Records, float64(t.Bytes)/1e6, t.Seconds, t.RecordsPerSec, t.MBPerSec)
		if t.StartSeconds > 0 {
			p(" after %.2fs to join the group", t.StartSeconds)
		}
		if t.ClientCPUSeconds > 0 {
			p(", load generator %.2f CPU s", t.ClientCPUSeconds)
		}
		if t.Errors > 0 {
			p(", %d errors (first: %s)", t.Errors, t.FirstError)
		}
		p("\n")
		if l := t.Latency; l != nil && l.Count > 0 {
			p("%s ack latency: %s\n", name, l)
		}
	}
	tp("produce", s.Produce)
	tp("consume", s.Consume)
	tp("consume (raw fetch)", s.ConsumeRaw)
	if e := s.E2E; e != nil {
		p("end-to-end latency: %s (received %d, missing %d, warm-up %.1fs excluded)\n",
			e.Latency, e.Received, e.Missing, e.Warmup)
	}
	if b := s.Broker; b != nil {
		p("broker pid %d: %.2f CPU s (produce %.2f, consume %.2f, raw consume %.2f) for %.1f MB moved = %.2f CPU s/GB, peak RSS %.1f MiB\n",
			b.PID, b.CPUSeconds, b.ProduceCPUSeconds, b.ConsumeCPUSeconds, b.ConsumeRawCPUSeconds, float64(b.BytesMoved)/1e6,
			b.CPUSecondsPerGB, float64(b.PeakRSSBytes)/(1<<20))
	}
	if d := s.Disk; d != nil {
		p("disk %s, %d KiB writes: page cache %.1f MB/s, fsync each write %.1f MB/s, fsync every %d MiB %.1f MB/s\n",
			d.Dir, d.BlockBytes>>10, d.PageCacheMBPerSec, d.FsyncEachBlockMBPerSec, d.FsyncEveryBytes>>20, d.FsyncEveryMBPerSec)
		if d.FillWriters > 0 {
			p("page cache fill, %d writers: %.1f MB in all, %.1f MB/s\n", d.FillWriters, float64(d.FillBytes)/1e6, d.PageCacheFillMBPerSec)
		}
	}
	if l := s.Loopback; l != nil {
		p("loopback TCP (%s): %.1f MB in %.2fs = %.1f MB/s\n", l.Method, float64(l.Bytes)/1e6, l.Seconds, l.MBPerSec)
	}
	if s.Error != "" {
		p("error: %s\n", s.Error)
	}
	return nil
}

func (l Latency) String() string {
	return fmt.Sprintf("p50 %.2fms p99 %.2fms p99.9 %.2fms max %.2fms mean %.2fms (n=%d)",
		l.P50Ms, l.P99Ms, l.P999Ms, l.MaxMs, l.MeanMs, l.Count)
}
