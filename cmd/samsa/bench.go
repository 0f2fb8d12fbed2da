package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/samsa-kafka/samsa/internal/bench"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load generator and machine-limit measurements",
		Long: `Benchmarks for any Kafka-compatible broker and for this machine.

produce, consume and e2e drive a broker with franz-go clients and report
records/s, MB/s (10^6 bytes of record payload) and latency percentiles; with
--start-broker they start the broker themselves and also report its CPU
seconds per GB moved and its peak RSS. disk and loopback measure what the
machine can do, for comparison. Progress goes to stderr once a second; --json
prints a machine-readable summary on stdout.

The load generator runs its own garbage collector less often than Go's
default (GOGC=400 unless GOGC is set): the clients allocate per record, and
with the default the collector took CPU the broker under test then lacked on
small machines. A broker it starts keeps its own settings.`,
		PersistentPreRun: func(*cobra.Command, []string) {
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(loadGeneratorGCPercent)
			}
		},
	}
	cmd.AddCommand(benchProduceCmd(), benchConsumeCmd(), benchE2ECmd(), benchDiskCmd(), benchLoopbackCmd(), benchReportCmd())
	return cmd
}

// loadGeneratorGCPercent is the load generator's GOGC. At 450k records/s
// of 1 KiB end to end on 2 cores it cut the load generator's CPU by a fifth
// and the p99 latency from 55-59 ms to 12-14 ms (side by side, two runs
// each); kfake and the null broker are measured with the same setting.
const loadGeneratorGCPercent = 400

// benchCommon holds the flags every broker-facing bench command shares.
type benchCommon struct {
	bootstrap   string
	json        bool
	quiet       bool
	label       string
	target      string
	startBroker bool
	brokerCmd   string
	fsync       bool
	dataDir     string
	keepData    bool
	cpuProfile  string
}

func (c *benchCommon) register(fs *pflag.FlagSet, brokerFlags bool) {
	fs.StringVar(&c.bootstrap, "bootstrap-server", "127.0.0.1:9092", "broker addresses, comma separated")
	fs.BoolVar(&c.json, "json", false, "print a JSON summary on stdout")
	fs.BoolVarP(&c.quiet, "quiet", "q", false, "no progress lines on stderr")
	fs.StringVar(&c.label, "label", "", "name of this run, copied into the summary")
	fs.StringVar(&c.target, "target", "", "name of the broker under test, copied into the summary")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the load generator to this file")
	if brokerFlags {
		fs.BoolVar(&c.startBroker, "start-broker", false, "start the broker as a subprocess (samsa serve, or --broker-cmd) and measure it")
		fs.StringVar(&c.brokerCmd, "broker-cmd", "", "with --start-broker: command to run instead of samsa serve; {port}, {addr} and {dir} are replaced")
		fs.BoolVar(&c.fsync, "fsync", true, "with --start-broker (samsa): fsync before acknowledging; false leaves flushing to the OS")
		fs.StringVar(&c.dataDir, "data-dir", "", "with --start-broker: where to make the broker's temporary data directory")
		fs.BoolVar(&c.keepData, "keep-data", false, "with --start-broker: keep the data directory and broker log")
	}
}

func (c *benchCommon) client() bench.ClientConfig {
	var brokers []string
	for _, b := range strings.Split(c.bootstrap, ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	return bench.ClientConfig{Brokers: brokers}
}

func (c *benchCommon) brokerSpec() *bench.BrokerSpec {
	if !c.startBroker {
		return nil
	}
	return &bench.BrokerSpec{Command: c.brokerCmd, Fsync: c.fsync, DataDirBase: c.dataDir, KeepData: c.keepData}
}

func (c *benchCommon) progress() *os.File {
	if c.quiet {
		return nil
	}
	return os.Stderr
}

// finish prints the summary and returns the run's error.
func (c *benchCommon) finish(cmd *cobra.Command, sum *bench.Summary, err error) error {
	if sum == nil {
		return err
	}
	sum.Label, sum.Target = c.label, c.target
	if err != nil {
		sum.Error = err.Error()
	}
	out := cmd.OutOrStdout()
	var werr error
	if c.json {
		werr = sum.WriteJSON(out)
	} else if sum.Error == "" || sum.Produce != nil || sum.Consume != nil {
		werr = sum.WriteText(out)
	}
	return errors.Join(err, werr)
}

func benchContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}

// startProfile starts a CPU profile if asked; the returned func stops it.
func (c *benchCommon) startProfile() (func(), error) {
	if c.cpuProfile == "" {
		return func() {}, nil
	}
	f, err := os.Create(c.cpuProfile)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// benchProduceFlags registers the producer flags shared by produce and e2e.
func benchProduceFlags(fs *pflag.FlagSet, pc *bench.ProduceConfig, linger time.Duration) {
	fs.StringVar(&pc.Topic, "topic", "samsa-bench", "topic (created if missing)")
	fs.IntVar(&pc.RecordSize, "record-size", 1024, "bytes of value per record")
	fs.Int64Var(&pc.Records, "records", 0, "records to produce in total (0: until --duration)")
	fs.DurationVar(&pc.Duration, "duration", 0, "how long to produce (0: until --records)")
	fs.Int32Var(&pc.Partitions, "partitions", 8, "partitions when creating the topic")
	fs.IntVar(&pc.Producers, "producers", 1, "independent producer clients")
	fs.StringVar(&pc.Acks, "acks", "all", "all (-1), 1 or 0")
	fs.BoolVar(&pc.NoIdempotence, "no-idempotence", false, "turn idempotent writes off with acks=all")
	fs.IntVar(&pc.MaxInflight, "max-inflight", 5, "produce requests in flight per broker without idempotence (and always with --raw)")
	fs.StringVar(&pc.Compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	fs.DurationVar(&pc.Linger, "linger", linger, "how long a partition's batch waits for more records")
	fs.IntVar(&pc.BatchBytes, "batch-bytes", 1<<20, "maximum bytes per record batch")
	fs.Float64Var(&pc.Rate, "rate", 0, "target records/s across all producers (0: as fast as possible)")
}

func benchProduceCmd() *cobra.Command {
	var (
		common     benchCommon
		pc         bench.ProduceConfig
		cc         bench.ConsumeConfig
		consume    bool
		consumeRaw bool
	)
	cmd := &cobra.Command{
		Use:   "produce",
		Short: "Produce as fast as possible (or at --rate) and report throughput and ack latency",
		Long: `Produces with --producers franz-go clients as fast as possible, or at --rate
records/s, and reports throughput and send-to-ack latency.

With --raw each producer is instead one connection per partition leader
sending pre-built record batches in plain Produce requests, one batch of
--batch-bytes per partition in each request, --max-inflight requests
pipelined; the client then costs almost nothing, so the figure is the
broker's and the network's rather than the client library's. Raw writes are
NOT idempotent (producer ID -1: the same batches are sent again and again and
the broker assigns new offsets each time); --linger and --no-idempotence do
not apply, --rate paces whole requests, and latency is per request.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pc.Records <= 0 && pc.Duration <= 0 {
				pc.Duration = 10 * time.Second
			}
			if !consume && (cc.Group != "" || cmd.Flags().Changed("consumers") || cc.GroupProtocol != "") {
				return errors.New("--group, --consumers and --group-protocol describe the --consume read-back; add --consume")
			}
			ctx, cancel := benchContext(cmd)
			defer cancel()
			pc.ClientConfig = common.client()
			pc.Progress = common.progress()
			stop, err := common.startProfile()
			if err != nil {
				return err
			}
			defer stop()
			run := bench.ProduceRun{Produce: pc, ConsumeAfter: consume, RawConsumeAfter: consumeRaw, Consume: cc, Broker: common.brokerSpec(), Log: os.Stderr}
			sum, err := run.Run(ctx)
			return common.finish(cmd, sum, err)
		},
	}
	fs := cmd.Flags()
	common.register(fs, true)
	benchProduceFlags(fs, &pc, 5*time.Millisecond)
	fs.BoolVar(&pc.Raw, "raw", false, "send pre-built batches in plain Produce requests instead of using franz-go (non-idempotent; see above)")
	fs.BoolVar(&consume, "consume", false, "afterwards, read the whole topic back with one consumer and report that too")
	fs.BoolVar(&consumeRaw, "consume-raw", false, "afterwards, read the whole topic back with raw fetches that do not decode records (after --consume if both)")
	fs.Int32Var(&cc.FetchMaxBytes, "fetch-max-bytes", 0, "with --consume: bytes per fetch response (0: 64 MiB for the kgo consumer, Kafka's 50 MiB for --consume-raw)")
	fs.Int32Var(&cc.PartitionMaxBytes, "partition-max-bytes", 0, "with --consume: bytes per partition per fetch (0: 16 MiB for the kgo consumer, Kafka's 1 MiB for --consume-raw)")
	benchGroupFlags(fs, &cc, "with --consume: ")
	return cmd
}

// benchGroupFlags registers the consumer group flags of consume and of
// produce's read-back.
func benchGroupFlags(fs *pflag.FlagSet, cc *bench.ConsumeConfig, prefix string) {
	fs.StringVar(&cc.Group, "group", "", prefix+"read as members of this consumer group, from its committed offsets (or the log start), committing at the end; the throughput is timed from the first record, the join time reported apart")
	fs.IntVar(&cc.Consumers, "consumers", 1, prefix+"with --group: members of the group, each its own client")
	fs.StringVar(&cc.GroupProtocol, "group-protocol", "", prefix+"with --group: classic (JoinGroup/SyncGroup; the default) or consumer (KIP-848)")
}

func benchConsumeCmd() *cobra.Command {
	var (
		common benchCommon
		cc     bench.ConsumeConfig
	)
	cmd := &cobra.Command{
		Use:   "consume",
		Short: "Read a topic from the beginning (direct partition reads, or a consumer group) and report throughput",
		Long: `Reads every partition of the topic from its start offset with one client, no
group, until it reaches the end offsets listed at the start, or until
--records records arrived. With --group, --consumers members of that
consumer group share the partitions instead, starting from the group's
committed offsets (the log start where it has none) and committing what they
read when done; the time until the first record (joining the group, at least
group.initial.rebalance.delay.ms with the classic protocol) is reported
apart from the throughput. With --raw, one loop per partition leader sends
plain Fetch requests and counts records from the batch headers (payload bytes
from the record length fields of uncompressed batches; compressed batches
count their compressed size).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := benchContext(cmd)
			defer cancel()
			cc.ClientConfig = common.client()
			cc.Progress = common.progress()
			stop, err := common.startProfile()
			if err != nil {
				return err
			}
			defer stop()
			sum, err := bench.RunConsume(ctx, cc)
			return common.finish(cmd, sum, err)
		},
	}
	fs := cmd.Flags()
	common.register(fs, false)
	fs.StringVar(&cc.Topic, "topic", "samsa-bench", "topic to read")
	fs.Int64Var(&cc.Records, "records", 0, "records to read (0: until caught up with the end offsets at start)")
	fs.BoolVar(&cc.Raw, "raw", false, "read with plain Fetch requests, counting records from batch headers without decoding them (the broker's side without the client's)")
	fs.DurationVar(&cc.IdleTimeout, "idle-timeout", 30*time.Second, "fail when no record arrives for this long")
	fs.Int32Var(&cc.FetchMaxBytes, "fetch-max-bytes", 0, "bytes per fetch response (0: 64 MiB, or Kafka's 50 MiB with --raw)")
	fs.Int32Var(&cc.PartitionMaxBytes, "partition-max-bytes", 0, "bytes per partition per fetch (0: 16 MiB, or Kafka's 1 MiB with --raw)")
	benchGroupFlags(fs, &cc, "")
	return cmd
}

func benchE2ECmd() *cobra.Command {
	var (
		common       benchCommon
		ec           bench.E2EConfig
		rateFrom     string
		rateFraction float64
	)
	cmd := &cobra.Command{
		Use:   "e2e",
		Short: "Produce at a fixed rate and measure end-to-end latency to a consumer",
		Long: `Producers send at --rate records/s with the send time in each value; one
consumer reading the partitions directly measures the time to arrival.
Reports p50, p99, p99.9 and max, excluding --warmup.

With --raw each producer is one connection per partition leader that builds
plain Produce requests itself (non-idempotent, uncompressed): whenever a
request slot is free it sends every record due so far, each stamped with the
time it fell due; records stick to a partition for --batch-bytes, as the
franz-go producer's partitioner is set to do. With --consume-raw as
well, the load generator spends little CPU of its own, so the latency is the
broker's and the network's rather than the client library's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rateFrom != "" {
				r, err := bench.ProduceRateFromFile(rateFrom)
				if err != nil {
					return err
				}
				ec.Rate = r * rateFraction
			}
			if ec.Records <= 0 && ec.Duration <= 0 {
				ec.Duration = 10 * time.Second
			}
			ctx, cancel := benchContext(cmd)
			defer cancel()
			ec.ClientConfig = common.client()
			ec.Progress = common.progress()
			stop, err := common.startProfile()
			if err != nil {
				return err
			}
			defer stop()
			sum, err := bench.E2ERun{E2E: ec, Broker: common.brokerSpec(), Log: os.Stderr}.Run(ctx)
			return common.finish(cmd, sum, err)
		},
	}
	fs := cmd.Flags()
	common.register(fs, true)
	benchProduceFlags(fs, &ec.ProduceConfig, 0)
	fs.Lookup("rate").DefValue = "10000"
	ec.Rate = 10000
	fs.DurationVar(&ec.Warmup, "warmup", time.Second, "leave records sent in the first this long out of the percentiles")
	fs.StringVar(&rateFrom, "rate-from", "", "take the rate from this produce --json summary's records/s, times --rate-fraction")
	fs.Float64Var(&rateFraction, "rate-fraction", 0.5, "with --rate-from: fraction of that rate")
	fs.BoolVar(&ec.Raw, "raw", false, "produce with plain Produce requests built by the load generator instead of franz-go (non-idempotent, uncompressed, acks 1 or all; see above)")
	fs.BoolVar(&ec.RawConsumer, "consume-raw", false, "measure with a consumer of plain Fetch requests that reads each send time from the value without decoding records into objects (uncompressed only; the broker's latency with less of the client's CPU)")
	return cmd
}

func benchDiskCmd() *cobra.Command {
	var (
		common benchCommon
		dc     bench.DiskConfig
	)
	cmd := &cobra.Command{
		Use:   "disk",
		Short: "Sequential write bandwidth of a directory, with and without fsync",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := benchContext(cmd)
			defer cancel()
			dc.Progress = common.progress()
			sum, err := bench.RunDisk(ctx, dc)
			return common.finish(cmd, sum, err)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&common.json, "json", false, "print a JSON summary on stdout")
	fs.BoolVarP(&common.quiet, "quiet", "q", false, "no progress lines on stderr")
	fs.StringVar(&common.label, "label", "", "name of this run, copied into the summary")
	fs.StringVar(&dc.Dir, "dir", os.TempDir(), "directory to write in (use the broker's data directory's file system)")
	fs.IntVar(&dc.BlockBytes, "block-bytes", 1<<20, "bytes per write")
	fs.Int64Var(&dc.MaxBytes, "max-bytes", 1<<30, "bytes per pass at most")
	fs.DurationVar(&dc.MaxDuration, "duration", 3*time.Second, "time per pass at most")
	fs.Int64Var(&dc.FsyncEveryBytes, "fsync-every", 8<<20, "bytes between fsyncs in the group-commit pass")
	fs.IntVar(&dc.FillWriters, "fill-writers", 0, "writers of a fourth pass, page cache fill: as much as a produce workload writes, most of it into memory not touched lately (0: no such pass)")
	fs.DurationVar(&dc.FillDuration, "fill-duration", 0, "time of the page cache fill pass (0: --duration)")
	fs.Int64Var(&dc.FillMaxBytes, "fill-max-bytes", 0, "bytes of the page cache fill pass at most, all writers together (0: half of the available memory)")
	return cmd
}

func benchLoopbackCmd() *cobra.Command {
	var (
		common benchCommon
		lc     bench.LoopbackConfig
	)
	cmd := &cobra.Command{
		Use:   "loopback",
		Short: "TCP bandwidth over 127.0.0.1 with sendfile from a page-cached file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := benchContext(cmd)
			defer cancel()
			sum, err := bench.RunLoopback(ctx, lc)
			return common.finish(cmd, sum, err)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&common.json, "json", false, "print a JSON summary on stdout")
	fs.StringVar(&common.label, "label", "", "name of this run, copied into the summary")
	fs.StringVar(&lc.Dir, "dir", "", "directory for the source file (default: system temp dir)")
	fs.Int64Var(&lc.FileBytes, "file-bytes", 64<<20, "size of the source file")
	fs.DurationVar(&lc.Duration, "duration", 3*time.Second, "how long to send")
	fs.IntVar(&lc.ReadBufferBytes, "read-bytes", 64<<10, "receiver's read size (64 KiB was the fastest on the machines tried)")
	return cmd
}

func benchReportCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Markdown table from the JSON summaries that bench/run.sh collects",
		Long: `Reads DIR/*.json (summaries with --label and --target set; targets samsa,
kfake and null; kinds disk and loopback for the machine limits) and prints
a markdown table with absolute figures and the ratios Samsa/kfake and
Samsa/limit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.WriteReport(cmd.OutOrStdout(), dir)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".", "directory of JSON summaries")
	return cmd
}
