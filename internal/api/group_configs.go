package api

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Dynamic group configs (resource type GROUP, KIP-848; Kafka's GroupConfig):
// a KIP-848 consumer group may have its own session timeout and heartbeat
// interval, set with IncrementalAlterConfigs or AlterConfigs and shown by
// DescribeConfigs. As in Kafka they are kept apart from the group's state
// (here in the metadata log), so a group need not exist to have them, and
// DeleteGroups leaves them in place. Classic groups are not affected.
//
// Kafka also knows share.* (KIP-932) and, from 4.1, streams.* (KIP-1071)
// group configs. This broker has neither share nor streams groups, so those
// names are refused with INVALID_CONFIG like any unknown name, rather than
// stored and never used (as unsupported topic configs are refused).

const (
	groupSessionTimeout    = "consumer.session.timeout.ms"
	groupHeartbeatInterval = "consumer.heartbeat.interval.ms"
)

// groupConfigDef is one supported group config: the broker properties that
// give its default and bound the values a group may set.
type groupConfigDef struct {
	broker, min, max string
	doc              string
	value            func(config.Broker) (def, lo, hi time.Duration)
}

var groupConfigs = map[string]groupConfigDef{
	groupSessionTimeout: {
		broker: "group.consumer.session.timeout.ms",
		min:    "group.consumer.min.session.timeout.ms",
		max:    "group.consumer.max.session.timeout.ms",
		doc:    "How long the coordinator waits for a heartbeat of a member of this consumer group (KIP-848 protocol) before it removes the member.",
		value: func(c config.Broker) (time.Duration, time.Duration, time.Duration) {
			return c.ConsumerSessionTimeout, c.ConsumerMinSessionTimeout, c.ConsumerMaxSessionTimeout
		},
	},
	groupHeartbeatInterval: {
		broker: "group.consumer.heartbeat.interval.ms",
		min:    "group.consumer.min.heartbeat.interval.ms",
		max:    "group.consumer.max.heartbeat.interval.ms",
		doc:    "The heartbeat interval given to the members of this consumer group (KIP-848 protocol).",
		value: func(c config.Broker) (time.Duration, time.Duration, time.Duration) {
			return c.ConsumerHeartbeatInterval, c.ConsumerMinHeartbeatInterval, c.ConsumerMaxHeartbeatInterval
		},
	},
}

// groupConfigCheckOrder is the order in which Kafka's GroupConfig checks
// values against their bounds, so the first error reported is Kafka's.
var groupConfigCheckOrder = []string{groupHeartbeatInterval, groupSessionTimeout}

// validateGroupConfigs checks a group's complete new config set and
// normalizes its values, as Kafka's GroupConfig.validate: known names only,
// INTs of at least 1, within the broker's bounds, and a session timeout
// above the heartbeat interval (taking the broker's value for the one the
// group does not set). Every error is INVALID_CONFIG.
func (b *Broker) validateGroupConfigs(configs map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		if _, ok := groupConfigs[k]; !ok {
			return errorf(kerr.InvalidConfig, "Unknown group config name: %s%s", k, unsupportedGroupKind(k))
		}
	}
	parsed := map[string]time.Duration{}
	for _, k := range groupConfigCheckOrder {
		v, ok := configs[k]
		if !ok {
			continue
		}
		ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return errorf(kerr.InvalidConfig, "Invalid value %s for configuration %s: Not a number of type INT", v, k)
		}
		if ms < 1 {
			return errorf(kerr.InvalidConfig, "Invalid value %s for configuration %s: Value must be at least 1", v, k)
		}
		def := groupConfigs[k]
		d := time.Duration(ms) * time.Millisecond
		_, lo, hi := def.value(b.cfg)
		if d < lo {
			return errorf(kerr.InvalidConfig, "%s must be greater than or equal to %s", k, def.min)
		}
		if d > hi {
			return errorf(kerr.InvalidConfig, "%s must be less than or equal to %s", k, def.max)
		}
		configs[k] = strconv.FormatInt(ms, 10)
		parsed[k] = d
	}
	if len(parsed) > 0 {
		session, okS := parsed[groupSessionTimeout]
		if !okS {
			session = b.cfg.ConsumerSessionTimeout
		}
		heartbeat, okH := parsed[groupHeartbeatInterval]
		if !okH {
			heartbeat = b.cfg.ConsumerHeartbeatInterval
		}
		if session <= heartbeat {
			return errorf(kerr.InvalidConfig, "%s must be greater than %s", groupSessionTimeout, groupHeartbeatInterval)
		}
	}
	return nil
}

// unsupportedGroupKind says why a group config Kafka knows is refused here.
func unsupportedGroupKind(name string) string {
	switch {
	case strings.HasPrefix(name, "share."):
		return " (this broker has no share groups)"
	case strings.HasPrefix(name, "streams."):
		return " (this broker has no streams groups)"
	}
	return ""
}

// setGroupConfigs validates and stores a group's complete config set; the
// next heartbeat of the group's members uses it. alterResource has refused
// the empty (default) group.
func (b *Broker) setGroupConfigs(group string, configs map[string]string, validateOnly bool) error {
	if err := b.validateGroupConfigs(configs); err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	if err := b.meta.SetGroupConfigs(group, configs); err != nil {
		return err
	}
	b.log.Info("altered group configs", "group", group, "configs", configs)
	return nil
}

// incrementalGroupConfigs applies IncrementalAlterConfigs operations to a
// copy of a group's configs. No group config is a list, so APPEND and
// SUBTRACT are refused, as Kafka's controller does.
func (b *Broker) incrementalGroupConfigs(group string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig) (map[string]string, error) {
	configs := b.meta.GroupConfigs(group)
	if configs == nil {
		configs = map[string]string{}
	}
	for _, c := range ops {
		if err := applyConfigOp(configs, c, func() (string, bool) { return "", false }); err != nil {
			return nil, err
		}
	}
	return configs, nil
}

// groupDefault is a group config's broker default and its source.
func (b *Broker) groupDefault(def groupConfigDef) (string, kmsg.ConfigSource) {
	d, _, _ := def.value(b.cfg)
	src := kmsg.ConfigSourceDefaultConfig
	if _, set := b.cfg.Props[def.broker]; set {
		src = kmsg.ConfigSourceStaticBrokerConfig
	}
	return i64(d.Milliseconds()), src
}

// describeGroup describes a group's configs, as Kafka's ConfigHelper: every
// supported config, the group's own value (source GROUP_CONFIG) or else the
// broker property it defaults to, whose source is STATIC_BROKER_CONFIG when
// set in the properties file and DEFAULT_CONFIG otherwise. The group need
// not exist.
func (b *Broker) describeGroup(group string, synonyms, docs bool) ([]kmsg.DescribeConfigsResponseResourceConfig, error) {
	if group == "" {
		return nil, errorf(kerr.InvalidRequest, "Group name must not be empty")
	}
	set := b.meta.GroupConfigs(group)
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for _, k := range slices.Sorted(maps.Keys(groupConfigs)) {
		def := groupConfigs[k]
		bv, bsrc := b.groupDefault(def)
		v, src := bv, bsrc
		gv, own := set[k]
		if own {
			v, src = gv, kmsg.ConfigSourceGroupConfig
		}
		c := kmsg.NewDescribeConfigsResponseResourceConfig()
		c.Name, c.Value = k, &v
		c.Source = src
		c.IsDefault = src == kmsg.ConfigSourceDefaultConfig
		c.ConfigType = kmsg.ConfigTypeInt
		if docs {
			d := def.doc
			c.Documentation = &d
		}
		if synonyms {
			if own {
				c.ConfigSynonyms = append(c.ConfigSynonyms, kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{
					Name: k, Value: &gv, Source: kmsg.ConfigSourceGroupConfig})
			}
			c.ConfigSynonyms = append(c.ConfigSynonyms, kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{
				Name: def.broker, Value: &bv, Source: bsrc})
		}
		out = append(out, c)
	}
	return out, nil
}

// consumerSessionTimeout is the session timeout of a KIP-848 group's
// members: the group's consumer.session.timeout.ms, else the broker's.
func (b *Broker) consumerSessionTimeout(group string) time.Duration {
	return b.groupDuration(group, groupSessionTimeout)
}

// consumerHeartbeatInterval is the heartbeat interval given to a KIP-848
// group's members: the group's consumer.heartbeat.interval.ms, else the
// broker's.
func (b *Broker) consumerHeartbeatInterval(group string) time.Duration {
	return b.groupDuration(group, groupHeartbeatInterval)
}

// groupDuration is a group's value of a config, kept within the broker's
// current bounds: values were checked when set, but the bounds may have
// been changed in the properties file since (Kafka evaluates stored group
// configs the same way).
func (b *Broker) groupDuration(group, name string) time.Duration {
	def, lo, hi := groupConfigs[name].value(b.cfg)
	v, ok := b.meta.GroupConfig(group, name)
	if !ok {
		return def
	}
	ms, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return def
	}
	return min(max(time.Duration(ms)*time.Millisecond, lo), hi)
}
