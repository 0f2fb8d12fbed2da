package api

import (
	"errors"
	"maps"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Dynamic broker configs: the broker properties that are defaults of topic
// configs (log.retention.ms, log.cleanup.policy, log.segment.bytes, ...) can
// be changed at run time, cluster-wide (resource name "") or for this
// broker (its node ID), as Kafka allows; they are kept in the metadata log
// and every partition picks them up at once. Other broker properties come
// from the properties file only.

type dynValue struct {
	value  string
	source kmsg.ConfigSource
}

// topicKeyOf maps a dynamic broker property to its topic config.
func topicKeyOf(brokerKey string) (string, bool) {
	for k, def := range topicConfigs {
		if def.broker == brokerKey {
			return k, true
		}
	}
	return "", false
}

// loadDynamicConfigs merges the stored scopes: this broker's values win
// over the cluster-wide ones.
func (b *Broker) loadDynamicConfigs() {
	dyn := map[string]dynValue{}
	for k, v := range b.meta.BrokerConfigs("") {
		dyn[k] = dynValue{v, kmsg.ConfigSourceDynamicDefaultBrokerConfig}
	}
	for k, v := range b.meta.BrokerConfigs(strconv.Itoa(int(b.cfg.NodeID))) {
		dyn[k] = dynValue{v, kmsg.ConfigSourceDynamicBrokerConfig}
	}
	b.dynMu.Lock()
	b.dynamic = dyn
	b.dynMu.Unlock()
}

// brokerScope checks a broker resource name and returns its scope.
func (b *Broker) brokerScope(name string) (string, error) {
	if name == "" || name == strconv.Itoa(int(b.cfg.NodeID)) {
		return name, nil
	}
	return "", errorf(kerr.InvalidRequest, "this is broker %d, not %s", b.cfg.NodeID, name)
}

// setBrokerConfigs validates and stores a scope's dynamic configs, then
// reconfigures every partition.
func (b *Broker) setBrokerConfigs(scope string, configs map[string]string, validateOnly bool) error {
	for k, v := range configs {
		tk, ok := topicKeyOf(k)
		if !ok {
			return errorf(kerr.InvalidRequest, "broker config %s cannot be changed at run time; set it in the properties file", k)
		}
		norm, err := validateTopicConfig(tk, v)
		if err != nil {
			reason := err.Error()
			if ae, ok := errors.AsType[*apiError](err); ok {
				reason = ae.msg
			}
			return errorf(kerr.InvalidConfig, "broker config %s: %s", k, reason)
		}
		configs[k] = norm
	}
	if validateOnly {
		return nil
	}
	if err := b.meta.SetBrokerConfigs(scope, configs); err != nil {
		return err
	}
	b.loadDynamicConfigs()
	b.log.Info("altered broker configs", "scope", scope, "configs", configs)
	return b.reconfigurePartitions()
}

// reconfigurePartitions applies the current defaults to every partition.
func (b *Broker) reconfigurePartitions() error {
	b.mu.RLock()
	topics := make([]*topicState, 0, len(b.topics))
	for _, t := range b.topics {
		topics = append(topics, t)
	}
	b.mu.RUnlock()
	for _, t := range topics {
		b.mu.RLock()
		explicit, ps := maps.Clone(t.meta.Configs), append(t.partitions[:0:0], t.partitions...)
		b.mu.RUnlock()
		pc, err := b.partitionConfig(explicit)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if err := p.SetConfig(pc); err != nil {
				return err
			}
		}
	}
	return nil
}

// incrementalBrokerConfigs applies IncrementalAlterConfigs operations to a
// copy of a scope's dynamic configs.
func (b *Broker) incrementalBrokerConfigs(scope string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig) (map[string]string, error) {
	configs := b.meta.BrokerConfigs(scope)
	if configs == nil {
		configs = map[string]string{}
	}
	for _, c := range ops {
		tk, ok := topicKeyOf(c.Name)
		if !ok {
			return nil, errorf(kerr.InvalidRequest, "broker config %s cannot be changed at run time; set it in the properties file", c.Name)
		}
		err := applyConfigOp(configs, c, func() (string, bool) {
			if topicConfigs[tk].typ != kmsg.ConfigTypeList {
				return "", false
			}
			cur, ok := configs[c.Name]
			if !ok {
				cur, _ = b.brokerDefault(topicConfigs[tk])
			}
			return cur, true
		})
		if err != nil {
			return nil, err
		}
	}
	return configs, nil
}
