package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupOp is one IncrementalAlterConfigs operation on a group config.
type groupOp struct {
	name  string
	op    int8
	value string
}

func alterGroup(t *testing.T, b *Broker, group string, validateOnly bool, ops ...groupOp) kmsg.IncrementalAlterConfigsResponseResource {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.ValidateOnly = validateOnly
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	for _, o := range ops {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op = o.name, kmsg.IncrementalAlterConfigOp(o.op)
		if o.op != opDelete {
			v := o.value
			c.Value = &v
		}
		rr.Configs = append(rr.Configs, c)
	}
	req.Resources = append(req.Resources, rr)
	resp := b.handleIncrementalAlterConfigs(req).(*kmsg.IncrementalAlterConfigsResponse)
	if len(resp.Resources) != 1 {
		t.Fatalf("got %d resources, want 1", len(resp.Resources))
	}
	return resp.Resources[0]
}

func describeGroupConfigs(t *testing.T, b *Broker, group string, names ...string) kmsg.DescribeConfigsResponseResource {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms, req.IncludeDocumentation = true, true
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	rr.ConfigNames = names
	req.Resources = append(req.Resources, rr)
	resp := b.handleDescribeConfigs(req).(*kmsg.DescribeConfigsResponse)
	if len(resp.Resources) != 1 {
		t.Fatalf("got %d resources, want 1", len(resp.Resources))
	}
	return resp.Resources[0]
}

// Group configs are checked as Kafka's GroupConfig.validate checks them:
// known names, INTs of at least 1, within the broker's
// group.consumer.{min,max}.* bounds, and a session timeout above the
// heartbeat interval; every refusal is INVALID_CONFIG with Kafka's message.
func TestGroupConfigValidation(t *testing.T) {
	b := openTestBroker(t, map[string]string{"group.consumer.max.heartbeat.interval.ms": "60000"})
	const (
		session   = "consumer.session.timeout.ms"
		heartbeat = "consumer.heartbeat.interval.ms"
	)
	set := func(name, v string) groupOp { return groupOp{name, opSet, v} }
	for _, tc := range []struct {
		name string
		ops  []groupOp
		code int16
		msg  string
	}{
		{"session in bounds", []groupOp{set(session, "50000")}, 0, ""},
		{"session at min", []groupOp{set(session, "45000")}, 0, ""},
		{"session at max", []groupOp{set(session, "60000")}, 0, ""},
		{"session below min", []groupOp{set(session, "44999")}, kerr.InvalidConfig.Code,
			"consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms"},
		{"session above max", []groupOp{set(session, "60001")}, kerr.InvalidConfig.Code,
			"consumer.session.timeout.ms must be less than or equal to group.consumer.max.session.timeout.ms"},
		{"heartbeat below min", []groupOp{set(heartbeat, "4999")}, kerr.InvalidConfig.Code,
			"consumer.heartbeat.interval.ms must be greater than or equal to group.consumer.min.heartbeat.interval.ms"},
		{"heartbeat above max", []groupOp{set(heartbeat, "60001")}, kerr.InvalidConfig.Code,
			"consumer.heartbeat.interval.ms must be less than or equal to group.consumer.max.heartbeat.interval.ms"},
		{"heartbeat checked before session", []groupOp{set(session, "1"), set(heartbeat, "1")}, kerr.InvalidConfig.Code,
			"consumer.heartbeat.interval.ms must be greater than or equal to"},
		{"not a number", []groupOp{set(session, "45s")}, kerr.InvalidConfig.Code,
			"Invalid value 45s for configuration consumer.session.timeout.ms: Not a number of type INT"},
		{"beyond INT", []groupOp{set(session, "2147483648")}, kerr.InvalidConfig.Code, "Not a number of type INT"},
		{"zero", []groupOp{set(heartbeat, "0")}, kerr.InvalidConfig.Code, "Value must be at least 1"},
		{"heartbeat not below broker session", []groupOp{set(heartbeat, "45000")}, kerr.InvalidConfig.Code,
			"consumer.session.timeout.ms must be greater than consumer.heartbeat.interval.ms"},
		{"heartbeat equal to own session", []groupOp{set(session, "50000"), set(heartbeat, "50000")}, kerr.InvalidConfig.Code,
			"consumer.session.timeout.ms must be greater than consumer.heartbeat.interval.ms"},
		{"heartbeat below own session", []groupOp{set(session, "55000"), set(heartbeat, "50000")}, 0, ""},
		{"unknown name", []groupOp{set("session.timeout.ms", "50000")}, kerr.InvalidConfig.Code,
			"Unknown group config name: session.timeout.ms"},
		{"share group config", []groupOp{set("share.session.timeout.ms", "50000")}, kerr.InvalidConfig.Code,
			"Unknown group config name: share.session.timeout.ms (this broker has no share groups)"},
		{"streams group config", []groupOp{set("streams.num.standby.replicas", "1")}, kerr.InvalidConfig.Code,
			"(this broker has no streams groups)"},
		{"append", []groupOp{{session, opAppend, "50000"}}, kerr.InvalidConfig.Code, "not a list"},
		{"unknown op", []groupOp{{session, 7, "50000"}}, kerr.InvalidRequest.Code, "unknown operation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			group := "g-" + strings.ReplaceAll(tc.name, " ", "-")
			r := alterGroup(t, b, group, false, tc.ops...)
			if r.ErrorCode != tc.code || !strings.Contains(deref(r.ErrorMessage), tc.msg) {
				t.Fatalf("error %d %q, want %d containing %q", r.ErrorCode, deref(r.ErrorMessage), tc.code, tc.msg)
			}
			stored := b.meta.GroupConfigs(group)
			if tc.code != 0 && stored != nil {
				t.Fatalf("refused change stored %v", stored)
			}
			if tc.code == 0 && len(stored) != len(tc.ops) {
				t.Fatalf("stored %v after %d SETs", stored, len(tc.ops))
			}
		})
	}

	// A group resource needs a name, as in Kafka ("Default group resources
	// are not allowed").
	if r := alterGroup(t, b, "", false, set(session, "50000")); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("empty group name: error %d %q, want INVALID_REQUEST", r.ErrorCode, deref(r.ErrorMessage))
	}
	// validate_only checks without storing.
	if r := alterGroup(t, b, "g-validate", true, set(session, "50000")); r.ErrorCode != 0 {
		t.Fatalf("validate only: error %d %q", r.ErrorCode, deref(r.ErrorMessage))
	}
	if got := b.meta.GroupConfigs("g-validate"); got != nil {
		t.Fatalf("validate only stored %v", got)
	}
}

// IncrementalAlterConfigs changes only the named configs and DELETE
// removes one; the legacy AlterConfigs replaces the group's whole set.
func TestGroupConfigOps(t *testing.T) {
	b := openTestBroker(t, nil)
	if r := alterGroup(t, b, "g", false, groupOp{groupSessionTimeout, opSet, " 50000 "}); r.ErrorCode != 0 {
		t.Fatalf("set session: %q", deref(r.ErrorMessage))
	}
	if r := alterGroup(t, b, "g", false, groupOp{groupHeartbeatInterval, opSet, "6000"}); r.ErrorCode != 0 {
		t.Fatalf("set heartbeat: %q", deref(r.ErrorMessage))
	}
	got := b.meta.GroupConfigs("g")
	if got[groupSessionTimeout] != "50000" || got[groupHeartbeatInterval] != "6000" || len(got) != 2 {
		t.Fatalf("after two SETs: %v, want both (the value trimmed)", got)
	}
	if r := alterGroup(t, b, "g", false, groupOp{groupSessionTimeout, opDelete, ""}); r.ErrorCode != 0 {
		t.Fatalf("delete: %q", deref(r.ErrorMessage))
	}
	if got := b.meta.GroupConfigs("g"); len(got) != 1 || got[groupHeartbeatInterval] != "6000" {
		t.Fatalf("after DELETE: %v, want only the heartbeat interval", got)
	}

	legacy := func(configs map[string]string) kmsg.AlterConfigsResponseResource {
		req := kmsg.NewPtrAlterConfigsRequest()
		rr := kmsg.NewAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeGroupConfig, "g"
		for k, v := range configs {
			v := v
			rr.Configs = append(rr.Configs, kmsg.AlterConfigsRequestResourceConfig{Name: k, Value: &v})
		}
		req.Resources = append(req.Resources, rr)
		return b.handleAlterConfigs(req).(*kmsg.AlterConfigsResponse).Resources[0]
	}
	if r := legacy(map[string]string{groupSessionTimeout: "55000"}); r.ErrorCode != 0 {
		t.Fatalf("AlterConfigs: %q", deref(r.ErrorMessage))
	}
	if got := b.meta.GroupConfigs("g"); len(got) != 1 || got[groupSessionTimeout] != "55000" {
		t.Fatalf("after AlterConfigs: %v, want only the session timeout (the set is replaced)", got)
	}
	if r := legacy(map[string]string{groupSessionTimeout: "1"}); r.ErrorCode != kerr.InvalidConfig.Code {
		t.Fatalf("AlterConfigs with a bad value: error %d, want INVALID_CONFIG", r.ErrorCode)
	}
	if r := legacy(nil); r.ErrorCode != 0 {
		t.Fatalf("AlterConfigs with no configs: %q", deref(r.ErrorMessage))
	}
	if got := b.meta.GroupConfigs("g"); got != nil {
		t.Fatalf("after AlterConfigs with no configs: %v, want none", got)
	}
}

// DescribeConfigs of a group lists every supported config with the group's
// value (GROUP_CONFIG) or the broker property it falls back to
// (STATIC_BROKER_CONFIG when set in the properties, else DEFAULT_CONFIG),
// whether or not the group exists.
func TestDescribeGroupConfigs(t *testing.T) {
	b := openTestBroker(t, map[string]string{"group.consumer.heartbeat.interval.ms": "6000"})
	byName := func(r kmsg.DescribeConfigsResponseResource) map[string]kmsg.DescribeConfigsResponseResourceConfig {
		t.Helper()
		if r.ErrorCode != 0 {
			t.Fatalf("describe: error %d %q", r.ErrorCode, deref(r.ErrorMessage))
		}
		m := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
		for _, c := range r.Configs {
			m[c.Name] = c
		}
		return m
	}
	type synonym struct {
		name, value string
		source      kmsg.ConfigSource
	}
	check := func(c kmsg.DescribeConfigsResponseResourceConfig, value string, source kmsg.ConfigSource, synonyms ...synonym) {
		t.Helper()
		if deref(c.Value) != value || c.Source != source || c.IsDefault != (source == kmsg.ConfigSourceDefaultConfig) ||
			c.ReadOnly || c.ConfigType != kmsg.ConfigTypeInt || c.Documentation == nil || *c.Documentation == "" {
			t.Errorf("%s = %q source %v default %v read-only %v type %v doc %v; want %q source %v",
				c.Name, deref(c.Value), c.Source, c.IsDefault, c.ReadOnly, c.ConfigType, c.Documentation != nil, value, source)
		}
		var got []synonym
		for _, s := range c.ConfigSynonyms {
			got = append(got, synonym{s.Name, deref(s.Value), s.Source})
		}
		if len(got) != len(synonyms) {
			t.Errorf("%s synonyms %v, want %v", c.Name, got, synonyms)
			return
		}
		for i := range got {
			if got[i] != synonyms[i] {
				t.Errorf("%s synonyms %v, want %v", c.Name, got, synonyms)
			}
		}
	}

	configs := byName(describeGroupConfigs(t, b, "no-such-group"))
	if len(configs) != 2 {
		t.Fatalf("described %d configs, want 2: %v", len(configs), configs)
	}
	check(configs[groupSessionTimeout], "45000", kmsg.ConfigSourceDefaultConfig,
		synonym{"group.consumer.session.timeout.ms", "45000", kmsg.ConfigSourceDefaultConfig})
	check(configs[groupHeartbeatInterval], "6000", kmsg.ConfigSourceStaticBrokerConfig,
		synonym{"group.consumer.heartbeat.interval.ms", "6000", kmsg.ConfigSourceStaticBrokerConfig})

	if r := alterGroup(t, b, "no-such-group", false, groupOp{groupSessionTimeout, opSet, "50000"}); r.ErrorCode != 0 {
		t.Fatalf("set: %q", deref(r.ErrorMessage))
	}
	configs = byName(describeGroupConfigs(t, b, "no-such-group"))
	check(configs[groupSessionTimeout], "50000", kmsg.ConfigSourceGroupConfig,
		synonym{groupSessionTimeout, "50000", kmsg.ConfigSourceGroupConfig},
		synonym{"group.consumer.session.timeout.ms", "45000", kmsg.ConfigSourceDefaultConfig})
	check(configs[groupHeartbeatInterval], "6000", kmsg.ConfigSourceStaticBrokerConfig,
		synonym{"group.consumer.heartbeat.interval.ms", "6000", kmsg.ConfigSourceStaticBrokerConfig})

	// Another group keeps the defaults; named configs filter the answer.
	configs = byName(describeGroupConfigs(t, b, "other", groupSessionTimeout))
	if len(configs) != 1 {
		t.Fatalf("described %d configs when one was named", len(configs))
	}
	check(configs[groupSessionTimeout], "45000", kmsg.ConfigSourceDefaultConfig,
		synonym{"group.consumer.session.timeout.ms", "45000", kmsg.ConfigSourceDefaultConfig})

	if r := describeGroupConfigs(t, b, ""); r.ErrorCode != kerr.InvalidRequest.Code || len(r.Configs) != 0 {
		t.Fatalf("empty group name: error %d with %d configs, want INVALID_REQUEST", r.ErrorCode, len(r.Configs))
	}
}

// A KIP-848 member's heartbeat answer carries its group's heartbeat
// interval and its session uses the group's session timeout; other groups
// keep the broker's. A value outside bounds narrowed since it was set is
// held to them.
func TestGroupConfigsApplyToConsumerHeartbeat(t *testing.T) {
	b := openTestBroker(t, nil)
	waitGroupsLoaded(t, b)
	if r := alterGroup(t, b, "tuned", false,
		groupOp{groupSessionTimeout, opSet, "50000"}, groupOp{groupHeartbeatInterval, opSet, "7000"}); r.ErrorCode != 0 {
		t.Fatalf("set: %q", deref(r.ErrorMessage))
	}
	heartbeat := func(group string) *kmsg.ConsumerGroupHeartbeatResponse {
		t.Helper()
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Group, req.MemberEpoch, req.RebalanceTimeoutMillis = group, 0, 30000
		req.SubscribedTopicNames = []string{"t"}
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		rc := &server.RequestContext{APIKey: req.Key(), APIVersion: 0, ClientID: "test"}
		resp := b.handleConsumerGroupHeartbeat(rc, req).(*kmsg.ConsumerGroupHeartbeatResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("heartbeat of %s: error %d %q", group, resp.ErrorCode, deref(resp.ErrorMessage))
		}
		return resp
	}
	if got := heartbeat("tuned").HeartbeatIntervalMillis; got != 7000 {
		t.Errorf("tuned group: heartbeat interval %d, want the group's 7000", got)
	}
	if got := heartbeat("plain").HeartbeatIntervalMillis; got != 5000 {
		t.Errorf("plain group: heartbeat interval %d, want the broker's 5000", got)
	}
	if got := b.consumerSessionTimeout("tuned"); got != 50*time.Second {
		t.Errorf("tuned group: session timeout %v, want 50s", got)
	}
	if got := b.consumerSessionTimeout("plain"); got != 45*time.Second {
		t.Errorf("plain group: session timeout %v, want 45s", got)
	}
	b.cfg.ConsumerMaxSessionTimeout = 48 * time.Second
	if got := b.consumerSessionTimeout("tuned"); got != 48*time.Second {
		t.Errorf("tuned group after the maximum fell to 48s: session timeout %v", got)
	}
}

// waitGroupsLoaded waits until the group coordinator has replayed
// __consumer_offsets and answers requests.
func waitGroupsLoaded(t *testing.T, b *Broker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		req := kmsg.NewPtrListGroupsRequest()
		resp := b.handleListGroups(req).(*kmsg.ListGroupsResponse)
		if resp.ErrorCode == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("groups not loaded: error %d", resp.ErrorCode)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
