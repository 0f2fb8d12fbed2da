package api

import (
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
)

// handleDescribeConfigs describes topic, broker and group configs: topic
// configs are those of topicConfigs; of the broker's, only the defaults of
// topic configs can be changed at run time (broker_configs.go), the rest
// are read-only; group configs are those of groupConfigs.
func (b *Broker) handleDescribeConfigs(req *kmsg.DescribeConfigsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		var configs []kmsg.DescribeConfigsResponseResourceConfig
		var err error
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			configs, err = b.describeTopic(rr.ResourceName, req.IncludeSynonyms, req.IncludeDocumentation)
		case kmsg.ConfigResourceTypeBroker:
			if _, err = b.brokerScope(rr.ResourceName); err == nil {
				configs = b.describeBroker(req.IncludeDocumentation)
			}
		case kmsg.ConfigResourceTypeGroupConfig:
			configs, err = b.describeGroup(rr.ResourceName, req.IncludeSynonyms, req.IncludeDocumentation)
		default:
			err = errorf(kerr.InvalidRequest, "describing configs of resource type %d is not supported", rr.ResourceType)
		}
		if err == nil && rr.ConfigNames != nil {
			want := make(map[string]bool, len(rr.ConfigNames))
			for _, n := range rr.ConfigNames {
				want[n] = true
			}
			kept := configs[:0]
			for _, c := range configs {
				if want[c.Name] {
					kept = append(kept, c)
				}
			}
			configs = kept
		}
		res.ErrorCode, res.ErrorMessage = codeOf(err)
		res.Configs = configs
		resp.Resources = append(resp.Resources, res)
	}
	return resp
}

func (b *Broker) describeTopic(name string, synonyms, docs bool) ([]kmsg.DescribeConfigsResponseResourceConfig, error) {
	t, ok := b.meta.Topic(name)
	if !ok {
		return nil, errorf(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
	}
	layers := b.brokerConfigLayers()
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for _, k := range sortedTopicConfigNames() {
		def := topicConfigs[k]
		v, _ := b.topicConfigValue(t.Configs, k)
		c := kmsg.NewDescribeConfigsResponseResourceConfig()
		c.Name, c.Value = k, &v
		all := layers.topicSynonyms(k, def, t.Configs)
		c.Source = kmsg.ConfigSourceDefaultConfig
		if len(all) > 0 {
			c.Source = all[0].Source
		}
		c.IsDefault = c.Source == kmsg.ConfigSourceDefaultConfig
		c.ConfigType = def.typ
		if docs {
			d := def.doc
			c.Documentation = &d
		}
		if synonyms {
			c.ConfigSynonyms = all
		}
		out = append(out, c)
	}
	return out, nil
}

// brokerConfigLayers are the places a broker property can be set, in
// Kafka's order of precedence: this broker's dynamic configs, the
// cluster-wide dynamic ones, the properties file, the built-in defaults.
type brokerConfigLayers struct {
	node, cluster, static map[string]string
}

func (b *Broker) brokerConfigLayers() brokerConfigLayers {
	return brokerConfigLayers{
		node:    b.meta.BrokerConfigs(strconv.Itoa(int(b.cfg.NodeID))),
		cluster: b.meta.BrokerConfigs(""),
		static:  b.cfg.Props,
	}
}

// topicSynonyms lists where a topic config's value can come from, as
// Kafka's ConfigHelper.createTopicConfigEntry does: the topic's own value,
// then, layer by layer, every broker property that sets its default (the
// property and its aliases, such as log.retention.hours) that has a value
// there, without the entries before the first one of the property itself.
// So a property whose built-in default is null in Kafka (log.retention.ms,
// log.roll.ms, log.flush.interval.ms) lists nothing unless it is set, and
// an alias set alone (log.retention.hours) lists nothing either, as in
// Kafka, whose DescribeConfigs then reports the source as the default.
func (l brokerConfigLayers) topicSynonyms(k string, def topicConfigDef, explicit map[string]string) []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	var out []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
	add := func(name, value string, src kmsg.ConfigSource) {
		out = append(out, kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{Name: name, Value: &value, Source: src})
	}
	names := append([]string{def.broker}, def.aliases...)
	for _, layer := range []struct {
		values map[string]string
		src    kmsg.ConfigSource
	}{
		{l.node, kmsg.ConfigSourceDynamicBrokerConfig},
		{l.cluster, kmsg.ConfigSourceDynamicDefaultBrokerConfig},
		{l.static, kmsg.ConfigSourceStaticBrokerConfig},
	} {
		for _, n := range names {
			if v, ok := layer.values[n]; ok {
				add(n, v, layer.src)
			}
		}
	}
	for _, n := range names {
		if v, ok := builtinBrokerDefault(n, def); ok {
			add(n, v, kmsg.ConfigSourceDefaultConfig)
		}
	}
	for len(out) > 0 && out[0].Name != def.broker {
		out = out[1:]
	}
	if v, ok := explicit[k]; ok {
		topic := kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{Name: k, Value: &v, Source: kmsg.ConfigSourceDynamicTopicConfig}
		out = append([]kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{topic}, out...)
	}
	return out
}

// builtinBrokerDefault is the built-in default of a broker property that
// sets a topic config's default, where Kafka has one: Kafka's defaults of
// log.retention.ms and .minutes, log.roll.ms, log.roll.jitter.ms and
// log.flush.interval.ms are null (the hours properties and Long.MAX_VALUE
// stand in), so they have none here either.
func builtinBrokerDefault(name string, def topicConfigDef) (string, bool) {
	d := &builtinDefaults
	switch name {
	case "log.retention.ms", "log.retention.minutes", "log.roll.ms", "log.roll.jitter.ms", "log.flush.interval.ms":
		return "", false
	case "log.retention.hours":
		return i64(d.LogRetentionMs / 3_600_000), true
	case "log.roll.hours":
		return i64(d.LogRollMs / 3_600_000), true
	case "log.roll.jitter.hours":
		return i64(d.LogRollJitterMs / 3_600_000), true
	case def.broker:
		return def.brokerV(*d), true
	}
	return "", false
}

// builtinDefaults are the broker's built-in settings (config.Defaults).
var builtinDefaults = config.Defaults()

func (b *Broker) describeBroker(docs bool) []kmsg.DescribeConfigsResponseResourceConfig {
	cfg := b.cfg
	listeners := func() string {
		var s []string
		for _, l := range cfg.Listeners {
			s = append(s, l.Name+"://"+l.Addr())
		}
		return strings.Join(s, ",")
	}
	adv := cfg.AdvertisedListeners[0]
	values := []struct {
		name, value string
		typ         kmsg.ConfigType
	}{
		{"node.id", strconv.Itoa(int(cfg.NodeID)), kmsg.ConfigTypeInt},
		{"listeners", listeners(), kmsg.ConfigTypeString},
		{"advertised.listeners", adv.Name + "://" + adv.Addr(), kmsg.ConfigTypeString},
		{"log.dirs", strings.Join(cfg.LogDirs, ","), kmsg.ConfigTypeString},
		{"num.partitions", strconv.Itoa(int(cfg.NumPartitions)), kmsg.ConfigTypeInt},
		{"default.replication.factor", strconv.Itoa(int(cfg.DefaultReplicationFactor)), kmsg.ConfigTypeInt},
		{"auto.create.topics.enable", strconv.FormatBool(cfg.AutoCreateTopics), kmsg.ConfigTypeBoolean},
		{"socket.request.max.bytes", strconv.Itoa(int(cfg.SocketRequestMaxBytes)), kmsg.ConfigTypeInt},
		{"connections.max.idle.ms", i64(cfg.ConnectionsMaxIdle.Milliseconds()), kmsg.ConfigTypeLong},
		{"queued.max.requests", strconv.Itoa(cfg.QueuedMaxRequests), kmsg.ConfigTypeInt},
		{"fetch.max.bytes", strconv.Itoa(int(cfg.FetchMaxBytes)), kmsg.ConfigTypeInt},
		{"log.retention.check.interval.ms", i64(cfg.LogRetentionCheckInterval.Milliseconds()), kmsg.ConfigTypeLong},
		{"log.flush.offset.checkpoint.interval.ms", i64(cfg.LogFlushOffsetCheckpointInterval.Milliseconds()), kmsg.ConfigTypeInt},
		{"samsa.log.writeback.bytes", i64(cfg.LogWritebackBytes), kmsg.ConfigTypeLong},
		{"samsa.log.preallocate.bytes", i64(cfg.LogPreallocateBytes), kmsg.ConfigTypeLong},
		{"log.cleaner.enable", strconv.FormatBool(cfg.LogCleanerEnable), kmsg.ConfigTypeBoolean},
		{"log.cleaner.dedupe.buffer.size", i64(cfg.LogCleanerDedupeBufferSize), kmsg.ConfigTypeLong},
		{"log.cleaner.io.max.bytes.per.second", f64(cfg.LogCleanerIOMaxBytesPerSec), kmsg.ConfigTypeDouble},
		{"log.cleaner.backoff.ms", i64(cfg.LogCleanerBackoff.Milliseconds()), kmsg.ConfigTypeLong},
		{"offsets.topic.num.partitions", strconv.Itoa(int(cfg.OffsetsTopicPartitions)), kmsg.ConfigTypeInt},
		{"group.initial.rebalance.delay.ms", i64(cfg.GroupInitialRebalanceDelay.Milliseconds()), kmsg.ConfigTypeInt},
		{"group.min.session.timeout.ms", i64(cfg.GroupMinSessionTimeout.Milliseconds()), kmsg.ConfigTypeInt},
		{"group.max.session.timeout.ms", i64(cfg.GroupMaxSessionTimeout.Milliseconds()), kmsg.ConfigTypeInt},
		{"group.max.size", strconv.Itoa(cfg.GroupMaxSize), kmsg.ConfigTypeInt},
		{"group.consumer.session.timeout.ms", i64(cfg.ConsumerSessionTimeout.Milliseconds()), kmsg.ConfigTypeInt},
		{"group.consumer.min.session.timeout.ms", i64(cfg.ConsumerMinSessionTimeout.Milliseconds()), kmsg.ConfigTypeInt},
		{"group.consumer.max.session.timeout.ms", i64(cfg.ConsumerMaxSessionTimeout.Milliseconds()), kmsg.ConfigTypeInt},
		{"group.consumer.heartbeat.interval.ms", i64(cfg.ConsumerHeartbeatInterval.Milliseconds()), kmsg.ConfigTypeInt},
		{"group.consumer.min.heartbeat.interval.ms", i64(cfg.ConsumerMinHeartbeatInterval.Milliseconds()), kmsg.ConfigTypeInt},
		{"group.consumer.max.heartbeat.interval.ms", i64(cfg.ConsumerMaxHeartbeatInterval.Milliseconds()), kmsg.ConfigTypeInt},
	}
	var out []kmsg.DescribeConfigsResponseResourceConfig
	add := func(name, value string, typ kmsg.ConfigType, doc string) {
		c := kmsg.NewDescribeConfigsResponseResourceConfig()
		c.Name, c.Value, c.ReadOnly, c.ConfigType = name, &value, true, typ
		c.Source = kmsg.ConfigSourceDefaultConfig
		if _, set := cfg.Props[name]; set {
			c.Source = kmsg.ConfigSourceStaticBrokerConfig
		}
		c.IsDefault = c.Source == kmsg.ConfigSourceDefaultConfig
		if docs && doc != "" {
			c.Documentation = &doc
		}
		out = append(out, c)
	}
	for _, v := range values {
		add(v.name, v.value, v.typ, "")
		if cleanerConfigs[v.name] {
			c := &out[len(out)-1]
			c.ReadOnly = false // can be changed at run time (cluster-wide or per broker)
			b.dynMu.RLock()
			dv, set := b.dynamic[v.name]
			b.dynMu.RUnlock()
			if set {
				c.Value, c.Source, c.IsDefault = &dv.value, dv.source, false
			}
		}
	}
	for _, def := range topicConfigs {
		v, src := b.brokerDefault(def)
		add(def.broker, v, def.typ, def.doc)
		c := &out[len(out)-1]
		c.Source, c.IsDefault = src, src == kmsg.ConfigSourceDefaultConfig
		c.ReadOnly = false // can be changed at run time (cluster-wide or per broker)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
