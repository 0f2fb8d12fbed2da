package api

import (
	"maps"
	"slices"
	"strings"

	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleAlterConfigs replaces a topic's configs with the given set (the
// legacy, non-incremental API: keys not named return to their defaults).
func (b *Broker) handleAlterConfigs(req *kmsg.AlterConfigsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		res := kmsg.NewAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		// A topic's or a group's new configs are the request's, complete.
		explicit := func() (map[string]string, error) {
			configs := map[string]string{}
			for _, c := range rr.Configs {
				if c.Value == nil {
					return nil, errorf(kerr.InvalidConfig, "null value for config %s", c.Name)
				}
				configs[c.Name] = *c.Value
			}
			return configs, nil
		}
		err := b.alterResource(rr.ResourceType, rr.ResourceName, req.ValidateOnly,
			explicit,
			func(string) (map[string]string, error) {
				configs := map[string]string{}
				for _, c := range rr.Configs {
					if c.Value != nil {
						configs[c.Name] = *c.Value
					}
				}
				return configs, nil
			},
			explicit)
		res.ErrorCode, res.ErrorMessage = codeOf(err)
		resp.Resources = append(resp.Resources, res)
	}
	return resp
}

// Incremental operations (KIP-339).
const (
	opSet      = 0
	opDelete   = 1
	opAppend   = 2
	opSubtract = 3
)

func (b *Broker) handleIncrementalAlterConfigs(req *kmsg.IncrementalAlterConfigsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range req.Resources {
		res := kmsg.NewIncrementalAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		err := b.alterResource(rr.ResourceType, rr.ResourceName, req.ValidateOnly,
			func() (map[string]string, error) {
				t, ok := b.meta.Topic(rr.ResourceName)
				if !ok {
					return nil, errorf(kerr.UnknownTopicOrPartition, "topic %q does not exist", rr.ResourceName)
				}
				configs := maps.Clone(t.Configs)
				for _, c := range rr.Configs {
					if err := b.applyIncremental(configs, c); err != nil {
						return nil, err
					}
				}
				return configs, nil
			},
			func(scope string) (map[string]string, error) {
				return b.incrementalBrokerConfigs(scope, rr.Configs)
			},
			func() (map[string]string, error) {
				return b.incrementalGroupConfigs(rr.ResourceName, rr.Configs)
			})
		res.ErrorCode, res.ErrorMessage = codeOf(err)
		resp.Resources = append(resp.Resources, res)
	}
	return resp
}

// alterResource applies one resource of an AlterConfigs or
// IncrementalAlterConfigs request: topic, broker or group builds the
// resource's complete new config set (broker is given the scope the
// resource name selects), which then replaces the old one.
func (b *Broker) alterResource(typ kmsg.ConfigResourceType, name string, validateOnly bool,
	topic func() (map[string]string, error), broker func(scope string) (map[string]string, error),
	group func() (map[string]string, error)) error {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		configs, err := topic()
		if err != nil {
			return err
		}
		return b.setTopicConfigs(name, configs, validateOnly)
	case kmsg.ConfigResourceTypeBroker:
		scope, err := b.brokerScope(name)
		if err != nil {
			return err
		}
		configs, err := broker(scope)
		if err != nil {
			return err
		}
		return b.setBrokerConfigs(scope, configs, validateOnly)
	case kmsg.ConfigResourceTypeGroupConfig:
		if name == "" {
			return errorf(kerr.InvalidRequest, "Default group resources are not allowed.")
		}
		configs, err := group()
		if err != nil {
			return err
		}
		return b.setGroupConfigs(name, configs, validateOnly)
	}
	return errorf(kerr.InvalidRequest, "altering configs of resource type %d is not supported", typ)
}

func (b *Broker) applyIncremental(configs map[string]string, c kmsg.IncrementalAlterConfigsRequestResourceConfig) error {
	def, ok := topicConfigs[c.Name]
	if !ok {
		return errorf(kerr.InvalidConfig, "topic config %s is not supported by this broker", c.Name)
	}
	return applyConfigOp(configs, c, func() (string, bool) {
		if def.typ != kmsg.ConfigTypeList {
			return "", false
		}
		cur, _ := b.topicConfigValue(configs, c.Name)
		return cur, true
	})
}

// applyConfigOp applies one IncrementalAlterConfigs operation to a
// resource's explicit configs. list says whether c.Name is a list config
// and, if it is, its current value (explicit or default), which APPEND and
// SUBTRACT start from; they are refused on other configs.
func applyConfigOp(configs map[string]string, c kmsg.IncrementalAlterConfigsRequestResourceConfig, list func() (string, bool)) error {
	switch c.Op {
	case opSet:
		if c.Value == nil {
			return errorf(kerr.InvalidConfig, "null value for config %s", c.Name)
		}
		configs[c.Name] = *c.Value
	case opDelete:
		delete(configs, c.Name)
	case opAppend, opSubtract:
		cur, ok := list()
		if !ok {
			return errorf(kerr.InvalidConfig, "config %s is not a list; APPEND and SUBTRACT apply to lists only", c.Name)
		}
		next, err := applyListOp(cur, c)
		if err != nil {
			return err
		}
		configs[c.Name] = next
	default:
		return errorf(kerr.InvalidRequest, "unknown operation %d for config %s", c.Op, c.Name)
	}
	return nil
}

// setTopicConfigs validates and stores a topic's explicit configs, and
// applies them to its open partitions at once.
func (b *Broker) setTopicConfigs(name string, configs map[string]string, validateOnly bool) error {
	if _, ok := b.meta.Topic(name); !ok {
		return errorf(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
	}
	for k, v := range configs {
		norm, err := validateTopicConfig(k, v)
		if err != nil {
			return err
		}
		configs[k] = norm
	}
	pc, err := b.partitionConfig(configs)
	if err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	if err := b.meta.SetConfigs(name, configs); err != nil {
		return err
	}
	b.mu.Lock()
	var ps []*partition.Partition
	if ts := b.topics[name]; ts != nil {
		ts.meta.Configs = maps.Clone(configs)
		ps = ts.partitions
	}
	b.mu.Unlock()
	for _, p := range ps {
		if err := p.SetConfig(pc); err != nil {
			return err
		}
	}
	b.log.Info("altered topic configs", "topic", name, "configs", configs)
	return nil
}

// applyListOp applies APPEND or SUBTRACT to a list value.
func applyListOp(cur string, c kmsg.IncrementalAlterConfigsRequestResourceConfig) (string, error) {
	items := splitComma(cur)
	value := ""
	if c.Value != nil {
		value = *c.Value
	}
	for _, v := range splitComma(value) {
		idx := slices.Index(items, v)
		if c.Op == opAppend && idx < 0 {
			items = append(items, v)
		}
		if c.Op == opSubtract && idx >= 0 {
			items = append(items[:idx], items[idx+1:]...)
		}
	}
	if len(items) == 0 {
		return "", errorf(kerr.InvalidConfig, "config %s cannot be empty", c.Name)
	}
	return strings.Join(items, ","), nil
}

func splitComma(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
