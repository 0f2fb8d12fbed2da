package e2e

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// alterGroupConfigs sends one IncrementalAlterConfigs for a GROUP resource
// (kadm has no helper for groups) and returns its error code and message.
func alterGroupConfigs(t *testing.T, cl *kgo.Client, group string, configs ...kmsg.IncrementalAlterConfigsRequestResourceConfig) (int16, string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	rr.Configs = configs
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Resources) != 1 {
		t.Fatalf("IncrementalAlterConfigs answered %d resources", len(resp.Resources))
	}
	r := resp.Resources[0]
	msg := ""
	if r.ErrorMessage != nil {
		msg = *r.ErrorMessage
	}
	return r.ErrorCode, msg
}

func setGroupConfig(name, value string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Op, c.Value = name, kmsg.IncrementalAlterConfigOpSet, &value
	return c
}

func deleteGroupConfig(name string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Op = name, kmsg.IncrementalAlterConfigOpDelete
	return c
}

type describedConfig struct {
	value  string
	source kmsg.ConfigSource
}

// describeGroupConfigs describes a GROUP resource's configs by name.
func describeGroupConfigs(t *testing.T, cl *kgo.Client, group string) map[string]describedConfig {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Resources) != 1 || resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("DescribeConfigs of group %s: %+v", group, resp.Resources)
	}
	out := map[string]describedConfig{}
	for _, c := range resp.Resources[0].Configs {
		v := ""
		if c.Value != nil {
			v = *c.Value
		}
		out[c.Name] = describedConfig{v, c.Source}
	}
	return out
}

// consumerHeartbeatInterval joins group with a raw KIP-848
// ConsumerGroupHeartbeat, returns the heartbeat interval the broker
// answered, and leaves again.
func consumerHeartbeatInterval(t *testing.T, cl *kgo.Client, group, topic string) int32 {
	t.Helper()
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Group, req.MemberEpoch, req.RebalanceTimeoutMillis = group, 0, 30000
	req.SubscribedTopicNames, req.Topics = []string{topic}, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("ConsumerGroupHeartbeat to %s: %v", group, err)
	}
	leave := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	leave.Group, leave.MemberID, leave.MemberEpoch = group, *resp.MemberID, -1
	if _, err := leave.RequestWith(ctxT(t), cl); err != nil {
		t.Fatal(err)
	}
	return resp.HeartbeatIntervalMillis
}

// TestGroupConfigs follows what a Kafka 4 user does with kafka-configs.sh
// --entity-type groups (and confluent-kafka-go's TestAdminConfig): set a
// group config before the group exists, describe it, have KIP-848 members
// use it, keep it across a restart and a DeleteGroups, and delete it.
func TestGroupConfigs(t *testing.T) {
	const (
		group   = "cfg-group"
		session = "consumer.session.timeout.ms"
		hbeat   = "consumer.heartbeat.interval.ms"
	)
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic("cfg-topic", 2, nil)
	cl := tb.client()

	// Before any config: the broker's defaults.
	cs := describeGroupConfigs(t, cl, group)
	if cs[session] != (describedConfig{"45000", kmsg.ConfigSourceDefaultConfig}) ||
		cs[hbeat] != (describedConfig{"5000", kmsg.ConfigSourceDefaultConfig}) || len(cs) != 2 {
		t.Fatalf("defaults described as %v", cs)
	}

	// Set on a group that does not exist yet.
	if code, msg := alterGroupConfigs(t, cl, group, setGroupConfig(session, "50000"), setGroupConfig(hbeat, "6000")); code != 0 {
		t.Fatalf("set: %v %s", kerr.ErrorForCode(code), msg)
	}
	check := func(when string) {
		t.Helper()
		cs := describeGroupConfigs(t, cl, group)
		if cs[session] != (describedConfig{"50000", kmsg.ConfigSourceGroupConfig}) ||
			cs[hbeat] != (describedConfig{"6000", kmsg.ConfigSourceGroupConfig}) {
			t.Fatalf("%s: described as %v, want both from GROUP_CONFIG", when, cs)
		}
		if got := consumerHeartbeatInterval(t, cl, group, "cfg-topic"); got != 6000 {
			t.Fatalf("%s: ConsumerGroupHeartbeat answered interval %d, want the group's 6000", when, got)
		}
	}
	check("after set")
	if got := consumerHeartbeatInterval(t, cl, "other-group", "cfg-topic"); got != 5000 {
		t.Fatalf("another group got heartbeat interval %d, want the broker's 5000", got)
	}

	// Refused values: INVALID_CONFIG, and nothing changes.
	for _, bad := range []kmsg.IncrementalAlterConfigsRequestResourceConfig{
		setGroupConfig(session, "1000"),                    // below group.consumer.min.session.timeout.ms
		setGroupConfig(hbeat, "60000"),                     // above group.consumer.max.heartbeat.interval.ms
		setGroupConfig(session, "soon"),                    // not an INT
		setGroupConfig("share.session.timeout.ms", "5000"), // no share groups here
		setGroupConfig("no.such.config", "1"),
	} {
		if code, msg := alterGroupConfigs(t, cl, group, bad); code != kerr.InvalidConfig.Code || msg == "" {
			t.Errorf("%s=%s: %v %q, want INVALID_CONFIG with a message", bad.Name, *bad.Value, kerr.ErrorForCode(code), msg)
		}
	}
	check("after refused changes")

	// A KIP-848 consumer in the configured group consumes.
	prod := tb.client(kgo.DefaultProduceTopic("cfg-topic"))
	if err := prod.ProduceSync(ctxT(t), &kgo.Record{Value: val(1)}, &kgo.Record{Value: val(2)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gc := tb.startGroupConsumer(ctx, group, "cfg-topic", kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer()))
	waitFor(t, "the KIP-848 consumer to read both records", func() bool { return gc.count() >= 2 })
	cancel()
	<-gc.done
	gc.cl.Close()

	// The configs survive a restart.
	tb = tb.restart(nil)
	cl = tb.client()
	check("after restart")

	// DeleteGroups removes the group but not its configs, as in Kafka,
	// where they are kept apart from the group.
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{group}
	dresp, err := del.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(dresp.Groups) != 1 || dresp.Groups[0].ErrorCode != 0 {
		t.Fatalf("DeleteGroups: %+v", dresp.Groups)
	}
	check("after DeleteGroups")

	// DELETE returns the group to the broker's values.
	if code, msg := alterGroupConfigs(t, cl, group, deleteGroupConfig(session), deleteGroupConfig(hbeat)); code != 0 {
		t.Fatalf("delete: %v %s", kerr.ErrorForCode(code), msg)
	}
	cs = describeGroupConfigs(t, cl, group)
	if cs[session] != (describedConfig{"45000", kmsg.ConfigSourceDefaultConfig}) ||
		cs[hbeat] != (describedConfig{"5000", kmsg.ConfigSourceDefaultConfig}) {
		t.Fatalf("after DELETE described as %v", cs)
	}
	if got := consumerHeartbeatInterval(t, cl, group, "cfg-topic"); got != 5000 {
		t.Fatalf("after DELETE: heartbeat interval %d, want the broker's 5000", got)
	}
}
