package api

import (
	"math"
	"strconv"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/twmb/franz-go/pkg/kerr"
)

// topicConfigs are the per-topic configs this broker implements, each
// falling back to a broker setting. Others (retention, compaction, ...) are
// refused with INVALID_CONFIG until they are implemented, so that a user is
// never told a setting took effect when it did not.
var topicConfigs = map[string]struct{ min, max int64 }{
	"segment.bytes":          {14, math.MaxInt32},
	"segment.ms":             {1, math.MaxInt64},
	"segment.index.bytes":    {4, math.MaxInt32},
	"index.interval.bytes":   {0, math.MaxInt32},
	"max.message.bytes":      {0, math.MaxInt32},
	"flush.messages":         {1, math.MaxInt64},
	"flush.ms":               {0, math.MaxInt64},
	"message.timestamp.type": {},
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
		lim, ok := topicConfigs[k]
		if !ok {
			return c, errorf(kerr.InvalidConfig, "topic config %s is not supported by this broker yet", k)
		}
		if k == "message.timestamp.type" {
			switch v {
			case "CreateTime":
				c.LogAppendTime = false
			case "LogAppendTime":
				c.LogAppendTime = true
			default:
				return c, errorf(kerr.InvalidConfig, "invalid value %q for config %s: want CreateTime or LogAppendTime", v, k)
			}
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lim.min || n > lim.max {
			return c, errorf(kerr.InvalidConfig, "invalid value %q for config %s: want an integer in [%d, %d]", v, k, lim.min, lim.max)
		}
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
		}
	}
	return c, nil
}

// topicConfigValue returns a topic config's effective value and its source
// (DescribeConfigs source codes: 1 topic, 4 static broker, 5 default).
func (b *Broker) topicConfigValue(explicit map[string]string, name string) (string, int8) {
	if v, ok := explicit[name]; ok {
		return v, 1
	}
	c, _ := b.partitionConfig(nil)
	switch name {
	case "segment.bytes":
		return strconv.FormatInt(c.Log.SegmentBytes, 10), 5
	case "segment.ms":
		return strconv.FormatInt(c.Log.SegmentMs, 10), 5
	case "segment.index.bytes":
		return strconv.Itoa(c.Log.SegmentIndexBytes), 5
	case "index.interval.bytes":
		return strconv.Itoa(c.Log.IndexIntervalBytes), 5
	case "max.message.bytes":
		return strconv.Itoa(c.MaxMessageBytes), 5
	case "flush.messages":
		return strconv.FormatInt(c.FlushMessages, 10), 5
	case "flush.ms":
		if c.FlushMs == 0 {
			return strconv.FormatInt(math.MaxInt64, 10), 5
		}
		return strconv.FormatInt(c.FlushMs, 10), 5
	case "message.timestamp.type":
		if c.LogAppendTime {
			return "LogAppendTime", 5
		}
		return "CreateTime", 5
	}
	return "", 5
}
