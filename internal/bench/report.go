package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Report targets: the names bench/run.sh passes with --target.
const (
	TargetSamsa = "samsa"
	TargetKfake = "kfake"
	TargetNull  = "null"
)

// ReadSummaries reads every *.json file in dir as a Summary. A file that is
// not a summary (empty because its run crashed, say) is returned as a
// summary carrying the decode error, named after the file, so that the
// report shows the failure instead of hiding it.
func ReadSummaries(dir string) ([]*Summary, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []*Summary
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		s := &Summary{}
		if err := json.Unmarshal(data, s); err != nil || s.Kind == "" {
			// bench/run.sh names files LABEL.TARGET.json, and
			// LABEL.TARGET.raw.json for raw produce runs.
			label, rest, _ := strings.Cut(strings.TrimSuffix(filepath.Base(p), ".json"), ".")
			target, variant, _ := strings.Cut(rest, ".")
			if err == nil {
				err = errors.New("no summary")
			}
			s = &Summary{Label: label, Target: target, Error: fmt.Sprintf("%s: %v", filepath.Base(p), err)}
			if variant == "raw" {
				s.Workload = &Workload{Raw: true}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// ProduceRateFromFile returns the produce records/s of the summary in path.
func ProduceRateFromFile(path string) (float64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var s Summary
	if err := json.Unmarshal(data, &s); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if s.Produce == nil || s.Produce.RecordsPerSec <= 0 {
		return 0, fmt.Errorf("%s: no produce rate", path)
	}
	return s.Produce.RecordsPerSec, nil
}

// reportRow is one line of the table: a metric of one workload for each
// target, and the machine limit it compares to, if any.
type reportRow struct {
	workload string
	metric   string
	values   map[string]float64 // target -> value; absent: not measured
	failed   map[string]bool
	limit    float64
	limitOf  string
}

// WriteReport prints the markdown comparison of the summaries in dir.
func WriteReport(w io.Writer, dir string) error {
	sums, err := ReadSummaries(dir)
	if err != nil {
		return err
	}
	if len(sums) == 0 {
		return fmt.Errorf("no *.json summaries in %s", dir)
	}
	return writeReport(w, sums)
}

func writeReport(w io.Writer, sums []*Summary) error {
	var disk *DiskResult
	var loop *LoopbackResult
	byLabel := map[string]*labelRuns{}
	var labels []string
	var failures []string
	for _, s := range sums {
		if s.Error != "" {
			name := s.Target
			if isRaw(s) {
				name += " (raw)"
			}
			failures = append(failures, fmt.Sprintf("%s %s: %s", s.Label, name, firstLine(s.Error)))
		}
		switch {
		case s.Disk != nil && s.Error == "":
			disk = s.Disk
			continue
		case s.Loopback != nil && s.Error == "":
			loop = s.Loopback
			continue
		case s.Kind == "disk" || s.Kind == "loopback" || s.Label == "":
			continue
		}
		runs := byLabel[s.Label]
		if runs == nil {
			runs = &labelRuns{kgo: map[string]*Summary{}, raw: map[string]*Summary{}}
			byLabel[s.Label] = runs
			labels = append(labels, s.Label)
		}
		if isRaw(s) {
			runs.raw[s.Target] = s
		} else {
			runs.kgo[s.Target] = s
		}
	}
	sort.Strings(labels)

	var rows []reportRow
	for _, label := range labels {
		rows = append(rows, workloadRows(label, byLabel[label], disk, loop)...)
	}

	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("| Workload | Metric | Samsa | kfake | Null broker (ack only) | Machine limit | Samsa/kfake | Samsa/limit |\n")
	p("|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		cell := func(t string) string {
			if v, ok := r.values[t]; ok {
				return formatFigure(v)
			}
			if r.failed[t] {
				return "failed"
			}
			return "–"
		}
		limit, vsLimit := "–", "–"
		if r.limitOf != "" && r.limit > 0 {
			limit = formatFigure(r.limit) + " (" + r.limitOf + ")"
			if v, ok := r.values[TargetSamsa]; ok {
				vsLimit = fmt.Sprintf("%.2f", v/r.limit)
			}
		}
		vsKfake := "–"
		if s, ok := r.values[TargetSamsa]; ok {
			if k, ok := r.values[TargetKfake]; ok && k > 0 {
				vsKfake = fmt.Sprintf("%.2f", s/k)
			}
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.workload, r.metric,
			cell(TargetSamsa), cell(TargetKfake), cell(TargetNull), limit, vsKfake, vsLimit)
	}
	p("\nMachine limits measured in the same run:\n\n")
	if disk != nil {
		p("- disk (%s), %d KiB sequential appends: page cache %.1f MB/s; fsync after each write %.1f MB/s; fsync every %d MiB %.1f MB/s\n",
			disk.Dir, disk.BlockBytes>>10, disk.PageCacheMBPerSec, disk.FsyncEachBlockMBPerSec, disk.FsyncEveryBytes>>20, disk.FsyncEveryMBPerSec)
		if disk.FillWriters > 0 {
			p("- page cache fill (%s), %d writers at once, no fsync, %.1f GB in all, as much as a produce workload writes, most of it into memory not touched lately: %.1f MB/s\n",
				disk.Dir, disk.FillWriters, float64(disk.FillBytes)/1e9, disk.PageCacheFillMBPerSec)
		}
	} else {
		p("- disk: not measured\n")
	}
	if loop != nil {
		p("- loopback TCP, %s from a page-cached file to a discarding reader: %.1f MB/s\n", loop.Method, loop.MBPerSec)
	} else {
		p("- loopback: not measured\n")
	}
	p("\nMB = 10^6 bytes of record payload. Lower is better for latency, CPU s/GB and RSS; higher for the rest.\n")
	if len(failures) > 0 {
		p("\nFailed runs:\n\n")
		for _, f := range failures {
			p("- %s\n", f)
		}
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// labelRuns are the runs of one workload label by target: the kgo
// producer's and the raw producer's (--raw), which the table shows as
// separate rows.
type labelRuns struct {
	kgo, raw map[string]*Summary
}

// isRaw tells a raw produce run from a kgo one of the same label. An e2e
// label has one kind of producer only, so its runs all count as kgo runs
// (the rows the e2e table reads), raw producer or not.
func isRaw(s *Summary) bool { return s.Kind != "e2e" && s.Workload != nil && s.Workload.Raw }

// workloadRows turns the runs of one label into table rows.
func workloadRows(label string, lr *labelRuns, disk *DiskResult, loop *LoopbackResult) []reportRow {
	// Describe the workload from the samsa run if it has one, else any.
	var ref *Summary
	for _, runs := range []map[string]*Summary{lr.kgo, lr.raw} {
		for _, t := range []string{TargetSamsa, TargetKfake, TargetNull} {
			if s := runs[t]; ref == nil && s != nil && s.Workload != nil && s.Kind != "" {
				ref = s
			}
		}
	}
	name := label
	kind := ""
	fsync := ""
	if ref != nil {
		name = describeWorkload(ref)
		kind = ref.Kind
		fsync = ref.Workload.Fsync
	}
	var rows []reportRow
	// keep makes the next row appear even with no figure in it (the
	// first row of the workload, the first raw row).
	keep := true
	runs := lr.kgo
	add := func(metric string, get func(*Summary) (float64, bool), limit float64, limitOf string) {
		r := reportRow{workload: name, metric: metric, values: map[string]float64{}, failed: map[string]bool{},
			limit: limit, limitOf: limitOf}
		any := false
		for t, s := range runs {
			if v, ok := get(s); ok {
				r.values[t] = v
				any = true
			} else if s.Error != "" {
				r.failed[t] = true
			}
		}
		if any || keep {
			rows = append(rows, r)
			name = "" // the workload is named on its first row only
		}
		keep = false
	}
	var netLimit float64
	if loop != nil {
		netLimit = loop.MBPerSec
	}
	produceLimit, produceLimitOf := netLimit, "loopback"
	// fillLimit is the second limit of produce with fsync off: how fast
	// this machine fills page cache in memory not touched lately.
	var fillLimit float64
	if fsync == "on" {
		produceLimit, produceLimitOf = 0, ""
		if disk != nil {
			produceLimit, produceLimitOf = disk.FsyncEachBlockMBPerSec, "disk fsync per MiB"
		}
	} else if disk != nil {
		fillLimit = disk.PageCacheFillMBPerSec
	}
	produceMBps := func(s *Summary) (float64, bool) {
		return pick(s.Produce != nil && s.Produce.Records > 0, func() float64 { return s.Produce.MBPerSec })
	}
	addFill := func(metric string) {
		if fillLimit > 0 {
			add(metric, produceMBps, fillLimit, "page cache fill")
		}
	}
	switch kind {
	case "e2e":
		add("achieved produce rate, records/s", func(s *Summary) (float64, bool) {
			return pick(s.Produce != nil, func() float64 { return s.Produce.RecordsPerSec })
		}, 0, "")
		for _, q := range []struct {
			name string
			get  func(Latency) float64
		}{
			{"e2e latency p50, ms", func(l Latency) float64 { return l.P50Ms }},
			{"e2e latency p99, ms", func(l Latency) float64 { return l.P99Ms }},
			{"e2e latency p99.9, ms", func(l Latency) float64 { return l.P999Ms }},
			{"e2e latency max, ms", func(l Latency) float64 { return l.MaxMs }},
		} {
			add(q.name, func(s *Summary) (float64, bool) {
				return pick(s.E2E != nil && s.E2E.Latency.Count > 0, func() float64 { return q.get(s.E2E.Latency) })
			}, 0, "")
		}
		add("load generator CPU s per GB produced (producers and consumer)", func(s *Summary) (float64, bool) {
			return clientCPUPerGB(s.Produce)
		}, 0, "")
	default:
		add("produce MB/s", produceMBps, produceLimit, produceLimitOf)
		addFill("produce MB/s against page cache fill")
		add("produce records/s", func(s *Summary) (float64, bool) {
			return pick(s.Produce != nil && s.Produce.Records > 0, func() float64 { return s.Produce.RecordsPerSec })
		}, 0, "")
		add("produce ack latency p99, ms", func(s *Summary) (float64, bool) {
			return pick(s.Produce != nil && s.Produce.Latency != nil && s.Produce.Latency.Count > 0,
				func() float64 { return s.Produce.Latency.P99Ms })
		}, 0, "")
		add("load generator CPU s per GB produced", func(s *Summary) (float64, bool) {
			return clientCPUPerGB(s.Produce)
		}, 0, "")
		if len(lr.raw) > 0 {
			runs, keep = lr.raw, true
			add("produce MB/s, raw (pre-built batches)", produceMBps, produceLimit, produceLimitOf)
			addFill("produce MB/s, raw, against page cache fill")
			add("produce ack latency p99, ms, raw (per request)", func(s *Summary) (float64, bool) {
				return pick(s.Produce != nil && s.Produce.Latency != nil && s.Produce.Latency.Count > 0,
					func() float64 { return s.Produce.Latency.P99Ms })
			}, 0, "")
			add("load generator CPU s per GB produced, raw", func(s *Summary) (float64, bool) {
				return clientCPUPerGB(s.Produce)
			}, 0, "")
			add("broker CPU s per GB produced, raw run", func(s *Summary) (float64, bool) {
				return pick(s.Broker != nil && s.Broker.BytesMoved > 0, func() float64 { return s.Broker.CPUSecondsPerGB })
			}, 0, "")
			add("broker peak RSS, MiB, raw run", func(s *Summary) (float64, bool) {
				return pick(s.Broker != nil && s.Broker.PeakRSSBytes > 0, func() float64 { return float64(s.Broker.PeakRSSBytes) / (1 << 20) })
			}, 0, "")
			runs = lr.kgo
		}
		readBack := "consume MB/s (one consumer, read back)"
		if ref != nil && ref.Workload.Group != "" {
			readBack = fmt.Sprintf("consume MB/s (consumer group of %d, %s protocol, read back)", ref.Workload.Consumers, ref.Workload.GroupProtocol)
		}
		add(readBack, func(s *Summary) (float64, bool) {
			return pick(s.Consume != nil && s.Consume.Records > 0, func() float64 { return s.Consume.MBPerSec })
		}, netLimit, "loopback")
		if ref != nil && ref.Workload.Group != "" {
			add("consumer group: seconds to the first record (joining)", func(s *Summary) (float64, bool) {
				return pick(s.Consume != nil && s.Consume.StartSeconds > 0, func() float64 { return s.Consume.StartSeconds })
			}, 0, "")
		}
		add("load generator CPU s per GB consumed", func(s *Summary) (float64, bool) {
			return clientCPUPerGB(s.Consume)
		}, 0, "")
		add("consume MB/s, raw fetch (no record decoding)", func(s *Summary) (float64, bool) {
			return pick(s.ConsumeRaw != nil && s.ConsumeRaw.Records > 0, func() float64 { return s.ConsumeRaw.MBPerSec })
		}, netLimit, "loopback")
		add("load generator CPU s per GB, raw fetch", func(s *Summary) (float64, bool) {
			return clientCPUPerGB(s.ConsumeRaw)
		}, 0, "")
	}
	add("broker CPU s per GB moved", func(s *Summary) (float64, bool) {
		return pick(s.Broker != nil && s.Broker.BytesMoved > 0, func() float64 { return s.Broker.CPUSecondsPerGB })
	}, 0, "")
	add("broker peak RSS, MiB", func(s *Summary) (float64, bool) {
		return pick(s.Broker != nil && s.Broker.PeakRSSBytes > 0, func() float64 { return float64(s.Broker.PeakRSSBytes) / (1 << 20) })
	}, 0, "")
	return rows
}

func clientCPUPerGB(t *Throughput) (float64, bool) {
	if t == nil || t.ClientCPUSeconds <= 0 || t.Bytes <= 0 {
		return 0, false
	}
	return t.ClientCPUSeconds / (float64(t.Bytes) / 1e9), true
}

func pick(ok bool, v func() float64) (float64, bool) {
	if !ok {
		return 0, false
	}
	return v(), true
}

func describeWorkload(s *Summary) string {
	wl := s.Workload
	size := fmt.Sprintf("%d B", wl.RecordSize)
	if wl.RecordSize >= 1024 && wl.RecordSize%1024 == 0 {
		size = fmt.Sprintf("%d KiB", wl.RecordSize/1024)
	}
	parts := []string{size, fmt.Sprintf("%d part.", wl.Partitions)}
	if wl.Acks != "" {
		parts = append(parts, "acks="+wl.Acks)
	}
	if wl.Fsync != "" {
		parts = append(parts, "fsync "+wl.Fsync)
	}
	if wl.Producers > 0 {
		unit := "producers"
		if wl.Producers == 1 {
			unit = "producer"
		}
		parts = append(parts, fmt.Sprintf("%d %s", wl.Producers, unit))
	}
	if s.Kind == "e2e" {
		parts = append(parts, fmt.Sprintf("e2e at %s records/s", formatFigure(wl.TargetRate)))
		if wl.Raw {
			parts = append(parts, "raw producer")
		}
		if wl.RawConsumer {
			parts = append(parts, "raw-fetch consumer")
		}
	}
	return s.Label + ": " + strings.Join(parts, ", ")
}

// formatFigure prints a figure with about three significant digits.
func formatFigure(v float64) string {
	switch {
	case v >= 100:
		return groupThousands(fmt.Sprintf("%.0f", v))
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func groupThousands(s string) string {
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}
