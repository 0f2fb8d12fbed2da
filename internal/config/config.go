// Package config holds the broker's configuration: Kafka's property names
// (server.properties) mapped to typed fields, their defaults in one place, and
// validation with errors that name the key. It owns parsing; it does not own
// per-topic configuration (that lives with the topic metadata).
package config

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Listener is one parsed entry of `listeners` / `advertised.listeners`.
type Listener struct {
	Name string // e.g. PLAINTEXT
	Host string
	Port int32
}

// Addr returns host:port.
func (l Listener) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port))) }

// Broker is the broker-wide configuration.
type Broker struct {
	NodeID              int32
	Listeners           []Listener
	AdvertisedListeners []Listener
	LogDirs             []string
	ClusterID           string // empty: generated on first start and kept in meta.properties

	NumPartitions            int32
	DefaultReplicationFactor int16
	AutoCreateTopics         bool
	// UncleanLeaderElection (unclean.leader.election.enable): with one
	// replica per partition there is never an out-of-sync replica to
	// elect, so it changes nothing here; kept as the default of the topic
	// config of that name.
	UncleanLeaderElection bool

	LogSegmentBytes        int64
	LogRollMs              int64
	LogRollJitterMs        int64 // log.roll.jitter.ms/hours: most random time taken off a segment's roll time
	LogIndexIntervalBytes  int
	LogIndexSizeMaxBytes   int
	LogFlushIntervalMsgs   int64 // 1: fsync before acknowledging
	LogFlushIntervalMs     int64 // 0: unset
	LogMessageTimestampLAT bool  // log.message.timestamp.type=LogAppendTime
	LogWritebackBytes      int64 // samsa.log.writeback.bytes; 0: left to the kernel
	LogPreallocateBytes    int64 // samsa.log.preallocate.bytes; 0: blocks allocated as written

	// LogFlushOffsetCheckpointInterval (log.flush.offset.checkpoint.interval.ms):
	// how often every log with data past its recovery point is fsynced and
	// the recovery point recorded, bounding what recovery after a crash
	// scans; 0 turns the periodic checkpoint off.
	LogFlushOffsetCheckpointInterval time.Duration

	MessageMaxBytes        int32
	SocketRequestMaxBytes  int32
	ConnectionsMaxIdle     time.Duration
	QueuedMaxRequests      int // per connection pipeline depth
	FetchMaxBytes          int32
	ShutdownTimeout        time.Duration
	OffsetsTopicPartitions int32

	GroupMinSessionTimeout     time.Duration // group.min.session.timeout.ms
	GroupMaxSessionTimeout     time.Duration // group.max.session.timeout.ms
	GroupInitialRebalanceDelay time.Duration // group.initial.rebalance.delay.ms
	GroupMaxSize               int           // group.max.size
	OffsetMetadataMaxBytes     int           // offset.metadata.max.bytes
	TxnStatePartitions         int32         // transaction.state.log.num.partitions
	TxnMaxTimeout              time.Duration // transaction.max.timeout.ms
	TxnAbortCheckInterval      time.Duration // transaction.abort.timed.out.transaction.cleanup.interval.ms
	OffsetsRetention           time.Duration // offsets.retention.minutes
	OffsetsRetentionCheck      time.Duration // offsets.retention.check.interval.ms
	ConsumerSessionTimeout     time.Duration // group.consumer.session.timeout.ms (KIP-848)
	ConsumerHeartbeatInterval  time.Duration // group.consumer.heartbeat.interval.ms (KIP-848)

	// The bounds of a KIP-848 group's own consumer.session.timeout.ms and
	// consumer.heartbeat.interval.ms (dynamic GROUP configs), as Kafka's
	// group.consumer.{min,max}.{session.timeout,heartbeat.interval}.ms.
	ConsumerMinSessionTimeout    time.Duration
	ConsumerMaxSessionTimeout    time.Duration
	ConsumerMinHeartbeatInterval time.Duration
	ConsumerMaxHeartbeatInterval time.Duration

	LogRetentionMs               int64 // log.retention.ms/minutes/hours; -1: forever
	LogRetentionBytes            int64 // log.retention.bytes; -1: no limit
	LogRetentionCheckInterval    time.Duration
	LogCleanupPolicy             string // log.cleanup.policy
	LogCleanerEnable             bool
	LogCleanerDedupeBufferSize   int64
	LogCleanerIOMaxBytesPerSec   float64
	LogCleanerDeleteRetentionMs  int64
	LogCleanerMinCleanableRatio  float64
	LogCleanerMinCompactionLagMs int64
	LogCleanerMaxCompactionLagMs int64
	LogCleanerBackoff            time.Duration
	CompressionType              string // compression.type
	MinInsyncReplicas            int32
	LogTimestampBeforeMaxMs      int64 // log.message.timestamp.before.max.ms
	LogTimestampAfterMaxMs       int64 // log.message.timestamp.after.max.ms
	LogSegmentDeleteDelayMs      int64 // log.segment.delete.delay.ms (topic: file.delete.delay.ms)

	// Props holds the properties as given (file plus overrides), so that
	// DescribeConfigs can tell a value set by the operator from a default.
	Props map[string]string
}

// Defaults returns the configuration a broker started with no file uses.
func Defaults() Broker {
	l := Listener{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092}
	return Broker{
		NodeID:                   1,
		Listeners:                []Listener{l},
		LogDirs:                  []string{"./samsa-data"},
		NumPartitions:            1,
		DefaultReplicationFactor: 1,
		AutoCreateTopics:         true,
		LogSegmentBytes:          1 << 30,
		LogRollMs:                7 * 24 * 3600 * 1000,
		LogIndexIntervalBytes:    4096,
		LogIndexSizeMaxBytes:     10 << 20,
		LogFlushIntervalMsgs:     1,
		LogWritebackBytes:        4 << 20,
		LogPreallocateBytes:      8 << 20,
		MessageMaxBytes:          1048588,
		SocketRequestMaxBytes:    104857600,
		ConnectionsMaxIdle:       10 * time.Minute,
		QueuedMaxRequests:        500,
		FetchMaxBytes:            55 << 20,
		ShutdownTimeout:          30 * time.Second,
		OffsetsTopicPartitions:   50,

		LogFlushOffsetCheckpointInterval: 60 * time.Second,

		GroupMinSessionTimeout:       6 * time.Second,
		GroupMaxSessionTimeout:       30 * time.Minute,
		GroupInitialRebalanceDelay:   3 * time.Second,
		GroupMaxSize:                 math.MaxInt32,
		OffsetMetadataMaxBytes:       4096,
		LogRetentionMs:               7 * 24 * 3600 * 1000,
		LogRetentionBytes:            -1,
		LogRetentionCheckInterval:    5 * time.Minute,
		LogCleanupPolicy:             "delete",
		LogCleanerEnable:             true,
		LogCleanerDedupeBufferSize:   128 << 20,
		LogCleanerIOMaxBytesPerSec:   math.MaxFloat64,
		LogCleanerDeleteRetentionMs:  24 * 3600 * 1000,
		LogCleanerMinCleanableRatio:  0.5,
		LogCleanerMaxCompactionLagMs: math.MaxInt64,
		LogCleanerBackoff:            15 * time.Second,
		CompressionType:              "producer",
		MinInsyncReplicas:            1,
		LogTimestampBeforeMaxMs:      math.MaxInt64,
		LogTimestampAfterMaxMs:       math.MaxInt64,
		LogSegmentDeleteDelayMs:      60000,
		ConsumerSessionTimeout:       45 * time.Second,
		OffsetsRetention:             7 * 24 * time.Hour,
		TxnStatePartitions:           50,
		TxnMaxTimeout:                15 * time.Minute,
		TxnAbortCheckInterval:        10 * time.Second,
		OffsetsRetentionCheck:        10 * time.Minute,
		ConsumerHeartbeatInterval:    5 * time.Second,

		ConsumerMinSessionTimeout:    45 * time.Second,
		ConsumerMaxSessionTimeout:    60 * time.Second,
		ConsumerMinHeartbeatInterval: 5 * time.Second,
		ConsumerMaxHeartbeatInterval: 15 * time.Second,
	}
}

// ParseProperties reads Java-properties text: key=value or key: value lines,
// '#' and '!' comments, trailing backslash continues a line.
func ParseProperties(r io.Reader) (map[string]string, error) {
	props := make(map[string]string)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var pending string
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if pending == "" && (line == "" || line[0] == '#' || line[0] == '!') {
			continue
		}
		if strings.HasSuffix(line, `\`) && !strings.HasSuffix(line, `\\`) {
			pending += strings.TrimSuffix(line, `\`)
			continue
		}
		line = pending + line
		pending = ""
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			return nil, fmt.Errorf("line %d: %q is not key=value", n, line)
		}
		props[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	if pending != "" {
		// A continuation backslash on the last line: keep what it has.
		i := strings.IndexAny(pending, "=:")
		if i < 0 {
			return nil, fmt.Errorf("line %d: %q is not key=value", n, pending)
		}
		props[strings.TrimSpace(pending[:i])] = strings.TrimSpace(pending[i+1:])
	}
	return props, sc.Err()
}

// Load builds the configuration from an optional properties file and
// key=value overrides (applied after the file). Unknown keys are returned in
// ignored so the caller can warn about them, as Kafka does.
func Load(file string, overrides []string) (cfg Broker, ignored []string, err error) {
	props := make(map[string]string)
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return cfg, nil, fmt.Errorf("config file: %w", err)
		}
		defer f.Close()
		if props, err = ParseProperties(f); err != nil {
			return cfg, nil, fmt.Errorf("config file %s: %w", file, err)
		}
	}
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			return cfg, nil, fmt.Errorf("override %q: want key=value", o)
		}
		props[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return FromProperties(props)
}

// FromProperties applies props over the defaults and validates the result.
func FromProperties(props map[string]string) (Broker, []string, error) {
	c := Defaults()
	c.Props = props
	var ignored []string
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic; "log.roll.hours" sorts before "log.roll.ms", so ms wins
	for _, k := range keys {
		v := props[k]
		var err error
		switch k {
		case "node.id", "broker.id":
			c.NodeID, err = parseInt32(v, 0, math.MaxInt32)
		case "listeners":
			c.Listeners, err = ParseListeners(v)
		case "advertised.listeners":
			c.AdvertisedListeners, err = ParseListeners(v)
		case "log.dirs", "log.dir":
			c.LogDirs = splitList(v)
			if len(c.LogDirs) == 0 {
				err = fmt.Errorf("empty")
			} else if len(c.LogDirs) > 1 {
				err = fmt.Errorf("only one log directory is supported so far")
			}
		case "cluster.id":
			c.ClusterID = v
		case "num.partitions":
			c.NumPartitions, err = parseInt32(v, 1, 1<<20)
		case "default.replication.factor":
			var n int32
			n, err = parseInt32(v, 1, math.MaxInt16)
			c.DefaultReplicationFactor = int16(n)
		case "auto.create.topics.enable":
			c.AutoCreateTopics, err = strconv.ParseBool(v)
		case "log.segment.bytes":
			var n int32
			n, err = parseInt32(v, 14, math.MaxInt32)
			c.LogSegmentBytes = int64(n)
		case "log.roll.ms":
			c.LogRollMs, err = parseInt64(v, 1, math.MaxInt64)
		case "log.roll.hours":
			c.LogRollMs, err = parseUnitsAsMs(v, 1, time.Hour)
		case "log.roll.jitter.ms":
			c.LogRollJitterMs, err = parseInt64(v, 0, math.MaxInt64)
		case "log.roll.jitter.hours":
			c.LogRollJitterMs, err = parseUnitsAsMs(v, 0, time.Hour)
		case "unclean.leader.election.enable":
			c.UncleanLeaderElection, err = strconv.ParseBool(v)
		case "log.index.interval.bytes":
			var n int32
			n, err = parseInt32(v, 0, math.MaxInt32)
			c.LogIndexIntervalBytes = int(n)
		case "samsa.log.writeback.bytes":
			c.LogWritebackBytes, err = parseInt64(v, 0, math.MaxInt64)
		case "samsa.log.preallocate.bytes":
			c.LogPreallocateBytes, err = parseInt64(v, 0, math.MaxInt32)
		case "log.index.size.max.bytes":
			var n int32
			n, err = parseInt32(v, 4, math.MaxInt32)
			c.LogIndexSizeMaxBytes = int(n)
		case "log.flush.interval.messages":
			c.LogFlushIntervalMsgs, err = parseInt64(v, 1, math.MaxInt64)
		case "log.flush.interval.ms":
			c.LogFlushIntervalMs, err = parseInt64(v, 0, math.MaxInt64)
		case "log.flush.offset.checkpoint.interval.ms":
			// Kafka: an int, at least 0 (0 runs its checkpoint only once).
			var ms int32
			ms, err = parseInt32(v, 0, math.MaxInt32)
			c.LogFlushOffsetCheckpointInterval = time.Duration(ms) * time.Millisecond
		case "log.message.timestamp.type":
			switch v {
			case "CreateTime":
				c.LogMessageTimestampLAT = false
			case "LogAppendTime":
				c.LogMessageTimestampLAT = true
			default:
				err = fmt.Errorf("want CreateTime or LogAppendTime")
			}
		case "message.max.bytes":
			c.MessageMaxBytes, err = parseInt32(v, 0, math.MaxInt32)
		case "socket.request.max.bytes":
			c.SocketRequestMaxBytes, err = parseInt32(v, 1, math.MaxInt32)
		case "connections.max.idle.ms":
			var ms int64
			ms, err = parseInt64(v, 1, math.MaxInt64)
			c.ConnectionsMaxIdle = time.Duration(ms) * time.Millisecond
		case "queued.max.requests":
			var n int32
			n, err = parseInt32(v, 1, 1<<20)
			c.QueuedMaxRequests = int(n)
		case "fetch.max.bytes":
			c.FetchMaxBytes, err = parseInt32(v, 1024, math.MaxInt32)
		case "controlled.shutdown.timeout.ms", "samsa.shutdown.timeout.ms":
			c.ShutdownTimeout, err = parseMillis(v)
		case "group.min.session.timeout.ms":
			c.GroupMinSessionTimeout, err = parseMillis(v)
		case "group.max.session.timeout.ms":
			c.GroupMaxSessionTimeout, err = parseMillis(v)
		case "group.initial.rebalance.delay.ms":
			c.GroupInitialRebalanceDelay, err = parseMillis(v)
		case "group.max.size":
			var n int32
			n, err = parseInt32(v, 1, math.MaxInt32)
			c.GroupMaxSize = int(n)
		case "offset.metadata.max.bytes":
			var n int32
			n, err = parseInt32(v, 0, math.MaxInt32)
			c.OffsetMetadataMaxBytes = int(n)
		case "group.consumer.session.timeout.ms":
			c.ConsumerSessionTimeout, err = parseMillis(v)
		case "group.consumer.heartbeat.interval.ms":
			c.ConsumerHeartbeatInterval, err = parseMillis(v)
		case "group.consumer.min.session.timeout.ms":
			c.ConsumerMinSessionTimeout, err = parseIntMillis(v)
		case "group.consumer.max.session.timeout.ms":
			c.ConsumerMaxSessionTimeout, err = parseIntMillis(v)
		case "group.consumer.min.heartbeat.interval.ms":
			c.ConsumerMinHeartbeatInterval, err = parseIntMillis(v)
		case "group.consumer.max.heartbeat.interval.ms":
			c.ConsumerMaxHeartbeatInterval, err = parseIntMillis(v)
		case "log.retention.hours":
			c.LogRetentionMs, err = parseUnitsAsMs(v, -1, time.Hour)
		case "log.retention.minutes":
			c.LogRetentionMs, err = parseUnitsAsMs(v, -1, time.Minute)
		case "log.retention.ms": // sorts after hours and minutes, so it wins
			c.LogRetentionMs, err = parseInt64(v, -1, math.MaxInt64)
		case "log.retention.bytes":
			c.LogRetentionBytes, err = parseInt64(v, -1, math.MaxInt64)
		case "log.retention.check.interval.ms":
			c.LogRetentionCheckInterval, err = parseMillis(v)
			if err == nil && c.LogRetentionCheckInterval == 0 {
				err = fmt.Errorf("must be positive")
			}
		case "log.cleanup.policy":
			c.LogCleanupPolicy, err = ParseCleanupPolicy(v)
		case "log.cleaner.enable":
			c.LogCleanerEnable, err = strconv.ParseBool(v)
		case "log.cleaner.dedupe.buffer.size":
			c.LogCleanerDedupeBufferSize, err = parseInt64(v, 1<<20, math.MaxInt64)
		case "log.cleaner.io.max.bytes.per.second":
			c.LogCleanerIOMaxBytesPerSec, err = parseFloat(v, 1, math.MaxFloat64)
		case "log.cleaner.delete.retention.ms":
			c.LogCleanerDeleteRetentionMs, err = parseInt64(v, 0, math.MaxInt64)
		case "log.cleaner.min.cleanable.ratio":
			c.LogCleanerMinCleanableRatio, err = parseFloat(v, 0, 1)
		case "log.cleaner.min.compaction.lag.ms":
			c.LogCleanerMinCompactionLagMs, err = parseInt64(v, 0, math.MaxInt64)
		case "log.cleaner.max.compaction.lag.ms":
			c.LogCleanerMaxCompactionLagMs, err = parseInt64(v, 1, math.MaxInt64)
		case "log.cleaner.backoff.ms":
			c.LogCleanerBackoff, err = parseMillis(v)
			if err == nil && c.LogCleanerBackoff == 0 {
				err = fmt.Errorf("must be positive")
			}
		case "compression.type":
			c.CompressionType, err = parseEnum(v, "producer", "uncompressed", "gzip", "snappy", "lz4", "zstd")
		case "min.insync.replicas":
			c.MinInsyncReplicas, err = parseInt32(v, 1, math.MaxInt32)
		case "log.message.timestamp.before.max.ms":
			c.LogTimestampBeforeMaxMs, err = parseInt64(v, 0, math.MaxInt64)
		case "log.message.timestamp.after.max.ms":
			c.LogTimestampAfterMaxMs, err = parseInt64(v, 0, math.MaxInt64)
		case "log.segment.delete.delay.ms":
			c.LogSegmentDeleteDelayMs, err = parseInt64(v, 0, math.MaxInt64)
		case "transaction.state.log.num.partitions":
			c.TxnStatePartitions, err = parseInt32(v, 1, 1<<16)
		case "transaction.max.timeout.ms":
			c.TxnMaxTimeout, err = parseMillis(v)
		case "transaction.abort.timed.out.transaction.cleanup.interval.ms":
			c.TxnAbortCheckInterval, err = parseMillis(v)
			if err == nil && c.TxnAbortCheckInterval == 0 {
				err = fmt.Errorf("must be positive")
			}
		case "offsets.retention.minutes":
			var m int64
			m, err = parseInt64(v, 1, math.MaxInt32)
			c.OffsetsRetention = time.Duration(m) * time.Minute
		case "offsets.retention.check.interval.ms":
			c.OffsetsRetentionCheck, err = parseMillis(v)
			if err == nil && c.OffsetsRetentionCheck == 0 {
				err = fmt.Errorf("must be positive")
			}
		case "offsets.topic.num.partitions":
			c.OffsetsTopicPartitions, err = parseInt32(v, 1, 1<<16)
		default:
			ignored = append(ignored, k)
		}
		if err != nil {
			return c, ignored, fmt.Errorf("invalid value %q for configuration %s: %w", v, k, err)
		}
	}
	if len(c.AdvertisedListeners) == 0 {
		c.AdvertisedListeners = c.Listeners
	}
	if len(c.Listeners) != 1 || len(c.AdvertisedListeners) != 1 {
		return c, ignored, fmt.Errorf("configuration listeners: exactly one listener is supported so far")
	}
	if c.AdvertisedListeners[0].Host == "" || c.AdvertisedListeners[0].Host == "0.0.0.0" {
		return c, ignored, fmt.Errorf("configuration advertised.listeners: a routable host is required")
	}
	return c, ignored, nil
}

// ParseListeners parses "NAME://host:port,NAME://host:port".
func ParseListeners(v string) ([]Listener, error) {
	var out []Listener
	for _, item := range splitList(v) {
		name, addr, ok := strings.Cut(item, "://")
		if !ok {
			return nil, fmt.Errorf("listener %q: want NAME://host:port", item)
		}
		if name != "PLAINTEXT" {
			return nil, fmt.Errorf("listener %q: only PLAINTEXT is supported so far", item)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("listener %q: %w", item, err)
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("listener %q: bad port", item)
		}
		out = append(out, Listener{Name: name, Host: host, Port: int32(p)})
	}
	return out, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func parseInt64(v string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not an integer")
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("must be in [%d, %d]", lo, hi)
	}
	return n, nil
}

// ParseCleanupPolicy accepts Kafka's cleanup.policy lists: delete, compact,
// or both. It returns the list as Kafka describes it: the items in the
// order given, without spaces (and without repeats).
func ParseCleanupPolicy(v string) (string, error) {
	var items []string
	for _, p := range splitList(v) {
		if p != "delete" && p != "compact" {
			return "", fmt.Errorf("want delete, compact or both")
		}
		if !slices.Contains(items, p) {
			items = append(items, p)
		}
	}
	if len(items) == 0 {
		return "", fmt.Errorf("want delete, compact or both")
	}
	return strings.Join(items, ","), nil
}

// CleanupPolicyHas reports whether a cleanup.policy list (as returned by
// ParseCleanupPolicy) names policy ("delete" or "compact").
func CleanupPolicyHas(list, policy string) bool {
	return slices.Contains(splitList(list), policy)
}

func parseFloat(v string, lo, hi float64) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("not a number")
	}
	if f < lo || f > hi {
		return 0, fmt.Errorf("must be in [%g, %g]", lo, hi)
	}
	return f, nil
}

func parseEnum(v string, allowed ...string) (string, error) {
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", fmt.Errorf("want one of %v (others are not supported yet)", allowed)
}

// parseUnitsAsMs parses a Kafka INT property counted in unit (hours,
// minutes), at least lo, into milliseconds; -1 (where lo allows it) stays
// -1, Kafka's "no limit".
func parseUnitsAsMs(v string, lo int64, unit time.Duration) (int64, error) {
	n, err := parseInt64(v, lo, math.MaxInt32)
	if n < 0 {
		return -1, err
	}
	return n * unit.Milliseconds(), err
}

func parseMillis(v string) (time.Duration, error) {
	ms, err := parseInt64(v, 0, math.MaxInt64/int64(time.Millisecond))
	return time.Duration(ms) * time.Millisecond, err
}

// parseIntMillis parses a Kafka INT milliseconds config that must be at
// least 1.
func parseIntMillis(v string) (time.Duration, error) {
	ms, err := parseInt32(v, 1, math.MaxInt32)
	return time.Duration(ms) * time.Millisecond, err
}

func parseInt32(v string, lo, hi int32) (int32, error) {
	n, err := parseInt64(v, int64(lo), int64(hi))
	return int32(n), err
}
