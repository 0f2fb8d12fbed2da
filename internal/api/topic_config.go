package api

import (
	"math"
	"strconv"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicConfigDef describes one per-topic config this broker implements: its
// valid range, the broker property it falls back to, and its documentation.
type topicConfigDef struct {
	min, max   int64
	broker     string
	typ        kmsg.ConfigType
	doc        string
	enumValues []string
}

// topicConfigs are the per-topic configs this broker implements. Others
// (retention, compaction, ...) are refused with INVALID_CONFIG until they are
// implemented, so that a user is never told a setting took effect when it
// did not.
var topicConfigs = map[string]topicConfigDef{
	"segment.bytes":          {14, math.MaxInt32, "log.segment.bytes", kmsg.ConfigTypeInt, "Segment file size of the log; a new segment is rolled before a batch would exceed it.", nil},
	"segment.ms":             {1, math.MaxInt64, "log.roll.ms", kmsg.ConfigTypeLong, "Time after which a segment is rolled even if not full.", nil},
	"segment.index.bytes":    {4, math.MaxInt32, "log.index.size.max.bytes", kmsg.ConfigTypeInt, "Maximum size of a segment's offset and time index; the segment rolls when an index is full.", nil},
	"index.interval.bytes":   {0, math.MaxInt32, "log.index.interval.bytes", kmsg.ConfigTypeInt, "How many log bytes between sparse offset-index entries.", nil},
	"max.message.bytes":      {0, math.MaxInt32, "message.max.bytes", kmsg.ConfigTypeInt, "Largest record batch size allowed.", nil},
	"flush.messages":         {1, math.MaxInt64, "log.flush.interval.messages", kmsg.ConfigTypeLong, "Messages appended before the log is fsynced; 1 means fsync before acknowledging (Samsa's single-node default).", nil},
	"flush.ms":               {0, math.MaxInt64, "log.flush.interval.ms", kmsg.ConfigTypeLong, "Maximum time data stays in the page cache before an fsync.", nil},
	"message.timestamp.type": {0, 0, "log.message.timestamp.type", kmsg.ConfigTypeString, "CreateTime keeps the producer's timestamps; LogAppendTime stamps batches with the broker's clock.", []string{"CreateTime", "LogAppendTime"}},
}

// validateTopicConfig checks one topic config value.
func validateTopicConfig(k, v string) error {
	def, ok := topicConfigs[k]
	if !ok {
		return errorf(kerr.InvalidConfig, "topic config %s is not supported by this broker yet", k)
	}
	if def.enumValues != nil {
		for _, e := range def.enumValues {
			if v == e {
				return nil
			}
		}
		return errorf(kerr.InvalidConfig, "invalid value %q for config %s: want one of %v", v, k, def.enumValues)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < def.min || n > def.max {
		return errorf(kerr.InvalidConfig, "invalid value %q for config %s: want an integer in [%d, %d]", v, k, def.min, def.max)
	}
	return nil
}

// partitionConfig resolves a topic's explicit configs over the broker's.
func (b *Broker) partitionConfig(configs map[string]string) (partition.Config, error) {
	c := partition.Config{
		Log: log.Config{
			SegmentBytes:       b.cfg.LogSegmentBytes,
			SegmentMs:          b.cfg.LogRollMs,
			SegmentIndexBytes:  b.cfg.LogIndexSizeMaxBytes,
			IndexIntervalBytes: b.cfg.LogIndexIntervalBytes,
		},
		MaxMessageBytes: int(b.cfg.MessageMaxBytes),
		FlushMessages:   b.cfg.LogFlushIntervalMsgs,
		FlushMs:         b.cfg.LogFlushIntervalMs,
		LogAppendTime:   b.cfg.LogMessageTimestampLAT,
	}
	for k, v := range configs {
		if err := validateTopicConfig(k, v); err != nil {
			return c, err
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "segment.bytes":
			c.Log.SegmentBytes = n
		case "segment.ms":
			c.Log.SegmentMs = n
		case "segment.index.bytes":
			c.Log.SegmentIndexBytes = int(n)
		case "index.interval.bytes":
			c.Log.IndexIntervalBytes = int(n)
		case "max.message.bytes":
			c.MaxMessageBytes = int(n)
		case "flush.messages":
			c.FlushMessages = n
		case "flush.ms":
			c.FlushMs = n
		case "message.timestamp.type":
			c.LogAppendTime = v == "LogAppendTime"
		}
	}
	return c, nil
}

// brokerConfigValue is the broker's value of a topic config's fallback
// property, and whether the operator set it.
func (b *Broker) brokerConfigValue(topicKey string) (name, value string, set bool) {
	c, _ := b.partitionConfig(nil)
	name = topicConfigs[topicKey].broker
	switch topicKey {
	case "segment.bytes":
		value = strconv.FormatInt(c.Log.SegmentBytes, 10)
	case "segment.ms":
		value = strconv.FormatInt(c.Log.SegmentMs, 10)
	case "segment.index.bytes":
		value = strconv.Itoa(c.Log.SegmentIndexBytes)
	case "index.interval.bytes":
		value = strconv.Itoa(c.Log.IndexIntervalBytes)
	case "max.message.bytes":
		value = strconv.Itoa(c.MaxMessageBytes)
	case "flush.messages":
		value = strconv.FormatInt(c.FlushMessages, 10)
	case "flush.ms":
		value = strconv.FormatInt(c.FlushMs, 10)
		if c.FlushMs == 0 {
			value = strconv.FormatInt(math.MaxInt64, 10)
		}
	case "message.timestamp.type":
		value = "CreateTime"
		if c.LogAppendTime {
			value = "LogAppendTime"
		}
	}
	_, set = b.cfg.Props[name]
	return name, value, set
}

// topicConfigValue returns a topic config's effective value and its source.
func (b *Broker) topicConfigValue(explicit map[string]string, name string) (string, int8) {
	if v, ok := explicit[name]; ok {
		return v, int8(kmsg.ConfigSourceDynamicTopicConfig)
	}
	_, v, set := b.brokerConfigValue(name)
	if set {
		return v, int8(kmsg.ConfigSourceStaticBrokerConfig)
	}
	return v, int8(kmsg.ConfigSourceDefaultConfig)
}
