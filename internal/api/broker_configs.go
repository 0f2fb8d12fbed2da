package api

import (
	"errors"
	"maps"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/partition"
)

// Dynamic broker configs: the broker properties that are defaults of topic
// configs (log.retention.ms, log.cleanup.policy, log.segment.bytes, ...) and
// the log cleaner's throttles (cleanerConfigs) can be changed at run time,
// cluster-wide (resource name "") or for this
// broker (its node ID), as Kafka allows; they are kept in the metadata log
// and every partition picks them up at once. Other broker properties come
// from the properties file only.

type dynValue struct {
	value  string
	source kmsg.ConfigSource
}

// cleanerConfigs are the broker properties of the log cleaner that can be
// changed at run time, as Kafka's LogCleaner.ReconfigurableConfigs (of
// those, the ones Samsa's cleaner has); the cleaner picks them up before
// its next pass.
var cleanerConfigs = map[string]bool{
	"log.cleaner.backoff.ms":              true,
	"log.cleaner.dedupe.buffer.size":      true,
	"log.cleaner.io.max.bytes.per.second": true,
}

// validateBrokerConfig checks a dynamic broker property and returns its
// value normalised: a topic config's default with the topic config's
// rules, a cleaner property with the properties file's.
func validateBrokerConfig(k, v string) (string, error) {
	if tk, ok := topicKeyOf(k); ok {
		norm, err := validateTopicConfig(tk, v)
		if err != nil {
			reason := err.Error()
			if ae, ok := errors.AsType[*apiError](err); ok {
				reason = ae.msg
			}
			return "", errorf(kerr.InvalidConfig, "broker config %s: %s", k, reason)
		}
		return norm, nil
	}
	if cleanerConfigs[k] {
		if _, _, err := config.FromProperties(map[string]string{k: v}); err != nil {
			return "", errorf(kerr.InvalidConfig, "%v", err)
		}
		return v, nil
	}
	return "", errorf(kerr.InvalidRequest, "broker config %s cannot be changed at run time; set it in the properties file", k)
}

// cleanerSettings are the cleaner's current settings: the dynamic values
// over the properties file's.
func (b *Broker) cleanerSettings() (partition.CleanerSettings, time.Duration) {
	dedupe, ioMax, backoff := b.cfg.LogCleanerDedupeBufferSize, b.cfg.LogCleanerIOMaxBytesPerSec, b.cfg.LogCleanerBackoff
	props := map[string]string{}
	b.dynMu.RLock()
	for k := range cleanerConfigs {
		if v, ok := b.dynamic[k]; ok {
			props[k] = v.value
		}
	}
	b.dynMu.RUnlock()
	if len(props) > 0 {
		// Only the properties set at run time replace the file's. They were
		// validated with the same parser when set, so an error here means a
		// stored value this version no longer accepts: the file's stands.
		d, _, err := config.FromProperties(props)
		if err != nil {
			b.log.Warn("ignoring dynamic log cleaner configs", "configs", props, "err", err)
		} else {
			if _, ok := props["log.cleaner.dedupe.buffer.size"]; ok {
				dedupe = d.LogCleanerDedupeBufferSize
			}
			if _, ok := props["log.cleaner.io.max.bytes.per.second"]; ok {
				ioMax = d.LogCleanerIOMaxBytesPerSec
			}
			if _, ok := props["log.cleaner.backoff.ms"]; ok {
				backoff = d.LogCleanerBackoff
			}
		}
	}
	return partition.CleanerSettings{DedupeBufferBytes: dedupe, IOMaxBytesPerSecond: ioMax}, backoff
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
		norm, err := validateBrokerConfig(k, v)
		if err != nil {
			return err
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
	select {
	case b.cleanerWake <- struct{}{}:
	default:
	}
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
		if !ok && !cleanerConfigs[c.Name] {
			return nil, errorf(kerr.InvalidRequest, "broker config %s cannot be changed at run time; set it in the properties file", c.Name)
		}
		err := applyConfigOp(configs, c, func() (string, bool) {
			if !ok || topicConfigs[tk].typ != kmsg.ConfigTypeList {
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
