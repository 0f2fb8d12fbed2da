package api

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicConfigDef describes one per-topic config: how to validate it, the
// broker property whose value is its default, and its documentation.
type topicConfigDef struct {
	typ      kmsg.ConfigType
	min, max float64  // numeric types
	enum     []string // string types: the allowed values
	broker   string   // the broker property it falls back to
	aliases  []string // other broker properties that set it (log.retention.hours, ...)
	brokerV  func(c config.Broker) string
	doc      string
}

func i64(v int64) string   { return strconv.FormatInt(v, 10) }
func f64(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// topicConfigs are the per-topic configs this broker implements. Any other
// key is refused with INVALID_CONFIG, so a user is never told a setting
// took effect when it did not.
var topicConfigs = map[string]topicConfigDef{
	"cleanup.policy": {typ: kmsg.ConfigTypeList, broker: "log.cleanup.policy",
		brokerV: func(c config.Broker) string { return c.LogCleanupPolicy },
		doc:     "delete: drop old segments by retention.ms/retention.bytes; compact: keep the latest record per key; or both."},
	"retention.ms": {typ: kmsg.ConfigTypeLong, min: -1, max: math.MaxInt64, broker: "log.retention.ms",
		aliases: []string{"log.retention.minutes", "log.retention.hours"},
		brokerV: func(c config.Broker) string { return i64(c.LogRetentionMs) },
		doc:     "How long a segment is kept after its newest record, with cleanup.policy=delete; -1 keeps data forever."},
	"retention.bytes": {typ: kmsg.ConfigTypeLong, min: -1, max: math.MaxInt64, broker: "log.retention.bytes",
		brokerV: func(c config.Broker) string { return i64(c.LogRetentionBytes) },
		doc:     "Largest size a partition's log may grow to before its oldest segments are deleted; -1: no limit."},
	"delete.retention.ms": {typ: kmsg.ConfigTypeLong, min: 0, max: math.MaxInt64, broker: "log.cleaner.delete.retention.ms",
		brokerV: func(c config.Broker) string { return i64(c.LogCleanerDeleteRetentionMs) },
		doc:     "How long tombstones are kept on compacted topics."},
	"min.cleanable.dirty.ratio": {typ: kmsg.ConfigTypeDouble, min: 0, max: 1, broker: "log.cleaner.min.cleanable.ratio",
		brokerV: func(c config.Broker) string { return f64(c.LogCleanerMinCleanableRatio) },
		doc:     "Share of not-yet-compacted bytes that makes a log eligible for cleaning."},
	"min.compaction.lag.ms": {typ: kmsg.ConfigTypeLong, min: 0, max: math.MaxInt64, broker: "log.cleaner.min.compaction.lag.ms",
		brokerV: func(c config.Broker) string { return i64(c.LogCleanerMinCompactionLagMs) },
		doc:     "Records younger than this are never compacted."},
	"max.compaction.lag.ms": {typ: kmsg.ConfigTypeLong, min: 1, max: math.MaxInt64, broker: "log.cleaner.max.compaction.lag.ms",
		brokerV: func(c config.Broker) string { return i64(c.LogCleanerMaxCompactionLagMs) },
		doc:     "Records older than this make the log eligible for cleaning whatever its dirty ratio."},
	"segment.bytes": {typ: kmsg.ConfigTypeInt, min: 14, max: math.MaxInt32, broker: "log.segment.bytes",
		brokerV: func(c config.Broker) string { return i64(c.LogSegmentBytes) },
		doc:     "Segment file size of the log; a new segment is rolled before a batch would exceed it."},
	"segment.ms": {typ: kmsg.ConfigTypeLong, min: 1, max: math.MaxInt64, broker: "log.roll.ms",
		aliases: []string{"log.roll.hours"},
		brokerV: func(c config.Broker) string { return i64(c.LogRollMs) },
		doc:     "Time after which a segment is rolled even if not full."},
	"segment.jitter.ms": {typ: kmsg.ConfigTypeLong, min: 0, max: math.MaxInt64, broker: "log.roll.jitter.ms",
		aliases: []string{"log.roll.jitter.hours"},
		brokerV: func(c config.Broker) string { return i64(c.LogRollJitterMs) },
		doc:     "Most random time (at most segment.ms) taken off each segment's roll time, so that partitions created together do not all roll at once."},
	"unclean.leader.election.enable": {typ: kmsg.ConfigTypeBoolean, broker: "unclean.leader.election.enable",
		brokerV: func(c config.Broker) string { return strconv.FormatBool(c.UncleanLeaderElection) },
		doc:     "Whether a replica that is not in sync may become leader. Accepted for compatibility: a partition's only replica is always in sync, so it changes nothing on one node."},
	"segment.index.bytes": {typ: kmsg.ConfigTypeInt, min: 4, max: math.MaxInt32, broker: "log.index.size.max.bytes",
		brokerV: func(c config.Broker) string { return strconv.Itoa(c.LogIndexSizeMaxBytes) },
		doc:     "Maximum size of a segment's offset and time index; the segment rolls when an index is full."},
	"index.interval.bytes": {typ: kmsg.ConfigTypeInt, min: 0, max: math.MaxInt32, broker: "log.index.interval.bytes",
		brokerV: func(c config.Broker) string { return strconv.Itoa(c.LogIndexIntervalBytes) },
		doc:     "How many log bytes between sparse offset-index entries."},
	"max.message.bytes": {typ: kmsg.ConfigTypeInt, min: 0, max: math.MaxInt32, broker: "message.max.bytes",
		brokerV: func(c config.Broker) string { return i64(int64(c.MessageMaxBytes)) },
		doc:     "Largest record batch size allowed."},
	"flush.messages": {typ: kmsg.ConfigTypeLong, min: 1, max: math.MaxInt64, broker: "log.flush.interval.messages",
		brokerV: func(c config.Broker) string { return i64(c.LogFlushIntervalMsgs) },
		doc:     "Messages appended before the log is fsynced; 1 means fsync before acknowledging (Samsa's single-node default)."},
	"flush.ms": {typ: kmsg.ConfigTypeLong, min: 0, max: math.MaxInt64, broker: "log.flush.interval.ms",
		brokerV: func(c config.Broker) string {
			if c.LogFlushIntervalMs == 0 {
				return i64(math.MaxInt64)
			}
			return i64(c.LogFlushIntervalMs)
		},
		doc: "Maximum time data stays in the page cache before an fsync."},
	"message.timestamp.type": {typ: kmsg.ConfigTypeString, enum: []string{"CreateTime", "LogAppendTime"}, broker: "log.message.timestamp.type",
		brokerV: func(c config.Broker) string {
			if c.LogMessageTimestampLAT {
				return "LogAppendTime"
			}
			return "CreateTime"
		},
		doc: "CreateTime keeps the producer's timestamps; LogAppendTime stamps batches with the broker's clock."},
	"message.timestamp.before.max.ms": {typ: kmsg.ConfigTypeLong, min: 0, max: math.MaxInt64, broker: "log.message.timestamp.before.max.ms",
		brokerV: func(c config.Broker) string { return i64(c.LogTimestampBeforeMaxMs) },
		doc:     "With CreateTime, batches whose timestamps lie further in the past are refused (INVALID_TIMESTAMP)."},
	"message.timestamp.after.max.ms": {typ: kmsg.ConfigTypeLong, min: 0, max: math.MaxInt64, broker: "log.message.timestamp.after.max.ms",
		brokerV: func(c config.Broker) string { return i64(c.LogTimestampAfterMaxMs) },
		doc:     "With CreateTime, batches whose timestamps lie further in the future are refused (INVALID_TIMESTAMP)."},
	"compression.type": {typ: kmsg.ConfigTypeString, enum: []string{"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"}, broker: "compression.type",
		brokerV: func(c config.Broker) string { return c.CompressionType },
		doc:     "producer stores batches as sent; any other value makes the broker rewrite every batch with that codec."},
	"min.insync.replicas": {typ: kmsg.ConfigTypeInt, min: 1, max: math.MaxInt32, broker: "min.insync.replicas",
		brokerV: func(c config.Broker) string { return i64(int64(c.MinInsyncReplicas)) },
		doc:     "acks=all produce needs this many in-sync replicas (one node: anything above 1 gets NOT_ENOUGH_REPLICAS)."},
	"file.delete.delay.ms": {typ: kmsg.ConfigTypeLong, min: 0, max: math.MaxInt64, broker: "log.segment.delete.delay.ms",
		brokerV: func(c config.Broker) string { return i64(c.LogSegmentDeleteDelayMs) },
		doc:     "Accepted for compatibility: deleted segments stay readable by in-flight fetches without a delay (reference counted), so files go at once."},
}

// intBound prints an integer bound kept as a float64 (MaxInt64 does not
// survive the round trip through float64 exactly).
func intBound(f float64) string {
	if f >= math.MaxInt64 {
		return i64(math.MaxInt64)
	}
	return i64(int64(f))
}

func sortedTopicConfigNames() []string {
	names := make([]string, 0, len(topicConfigs))
	for k := range topicConfigs {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// validateTopicConfig checks one topic config value and returns it
// normalised.
func validateTopicConfig(k, v string) (string, error) {
	def, ok := topicConfigs[k]
	if !ok {
		return "", errorf(kerr.InvalidConfig, "topic config %s is not supported by this broker", k)
	}
	switch def.typ {
	case kmsg.ConfigTypeList: // cleanup.policy
		p, err := config.ParseCleanupPolicy(v)
		if err != nil {
			return "", errorf(kerr.InvalidConfig, "invalid value %q for config %s: %v", v, k, err)
		}
		return p, nil
	case kmsg.ConfigTypeString:
		for _, e := range def.enum {
			if v == e {
				return v, nil
			}
		}
		return "", errorf(kerr.InvalidConfig, "invalid value %q for config %s: want one of %v", v, k, def.enum)
	case kmsg.ConfigTypeBoolean: // Kafka's parse: true or false, in any case
		switch strings.ToLower(v) {
		case "true", "false":
			return strings.ToLower(v), nil
		}
		return "", errorf(kerr.InvalidConfig, "invalid value %q for config %s: want true or false", v, k)
	case kmsg.ConfigTypeDouble:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < def.min || f > def.max {
			return "", errorf(kerr.InvalidConfig, "invalid value %q for config %s: want a number in [%g, %g]", v, k, def.min, def.max)
		}
		return v, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || float64(n) < def.min || float64(n) > def.max {
		return "", errorf(kerr.InvalidConfig, "invalid value %q for config %s: want an integer in [%s, %s]", v, k, intBound(def.min), intBound(def.max))
	}
	return v, nil
}

// effectiveTopicConfig resolves every topic config: explicit values over
// the broker's.
func (b *Broker) effectiveTopicConfig(explicit map[string]string) map[string]string {
	out := make(map[string]string, len(topicConfigs))
	for k, def := range topicConfigs {
		out[k], _ = b.brokerDefault(def)
	}
	for k, v := range explicit {
		out[k] = v
	}
	return out
}

// preallocateBytes is the reservation ahead of a partition's active
// segment: none when every append is fsynced (flush.messages=1). Then each
// fsync also converts the reserved blocks it wrote to written ones, and
// produce with fsync on measured 10-15% slower with preallocation (1 KiB
// records, 8 partitions, 4 producers), against less CPU with flushing left
// to the OS.
func preallocateBytes(configured, flushMessages int64) int64 {
	if flushMessages == 1 {
		return 0
	}
	return configured
}

// partitionConfig resolves a topic's explicit configs over the broker's
// into what a partition runs with.
func (b *Broker) partitionConfig(explicit map[string]string) (partition.Config, error) {
	for k, v := range explicit {
		if _, err := validateTopicConfig(k, v); err != nil {
			return partition.Config{}, err
		}
	}
	e := b.effectiveTopicConfig(explicit)
	n := func(k string) int64 { v, _ := strconv.ParseInt(e[k], 10, 64); return v }
	policy := e["cleanup.policy"]
	c := partition.Config{
		Log: log.Config{
			SegmentBytes:       n("segment.bytes"),
			SegmentMs:          n("segment.ms"),
			SegmentJitterMs:    n("segment.jitter.ms"),
			SegmentIndexBytes:  int(n("segment.index.bytes")),
			IndexIntervalBytes: int(n("index.interval.bytes")),
			WritebackBytes:     b.cfg.LogWritebackBytes,
			PreallocateBytes:   preallocateBytes(b.cfg.LogPreallocateBytes, n("flush.messages")),
		},
		MaxMessageBytes:      int(n("max.message.bytes")),
		FlushMessages:        n("flush.messages"),
		FlushMs:              n("flush.ms"),
		LogAppendTime:        e["message.timestamp.type"] == "LogAppendTime",
		Compact:              config.CleanupPolicyHas(policy, "compact"),
		Delete:               config.CleanupPolicyHas(policy, "delete"),
		RetentionMs:          n("retention.ms"),
		RetentionBytes:       n("retention.bytes"),
		TimestampBeforeMaxMs: n("message.timestamp.before.max.ms"),
		TimestampAfterMaxMs:  n("message.timestamp.after.max.ms"),
		MinInsyncReplicas:    int(n("min.insync.replicas")),
		DeleteRetentionMs:    n("delete.retention.ms"),
		MinCompactionLagMs:   n("min.compaction.lag.ms"),
		MaxCompactionLagMs:   n("max.compaction.lag.ms"),
	}
	c.MinCleanableRatio, _ = strconv.ParseFloat(e["min.cleanable.dirty.ratio"], 64)
	if ct := e["compression.type"]; ct != "producer" {
		c.Recompress = true
		c.RecompressCodec = map[string]int8{"uncompressed": log.CompressionNone, "gzip": log.CompressionGzip,
			"snappy": log.CompressionSnappy, "lz4": log.CompressionLZ4, "zstd": log.CompressionZstd}[ct]
	}
	if c.FlushMs == math.MaxInt64 {
		c.FlushMs = 0
	}
	return c, nil
}

// topicConfigValue returns a topic config's effective value and its source.
func (b *Broker) topicConfigValue(explicit map[string]string, name string) (string, kmsg.ConfigSource) {
	if v, ok := explicit[name]; ok {
		return v, kmsg.ConfigSourceDynamicTopicConfig
	}
	return b.brokerDefault(topicConfigs[name])
}

// brokerDefault is the broker's value of a topic config's fallback
// property and where it comes from: set at run time (AlterConfigs on the
// broker, per broker or cluster-wide), in the properties file (or one of
// its aliases), or the built-in default.
func (b *Broker) brokerDefault(def topicConfigDef) (string, kmsg.ConfigSource) {
	b.dynMu.RLock()
	v, ok := b.dynamic[def.broker]
	b.dynMu.RUnlock()
	if ok {
		return v.value, v.source
	}
	for _, k := range append([]string{def.broker}, def.aliases...) {
		if _, set := b.cfg.Props[k]; set {
			return def.brokerV(b.cfg), kmsg.ConfigSourceStaticBrokerConfig
		}
	}
	return def.brokerV(b.cfg), kmsg.ConfigSourceDefaultConfig
}
