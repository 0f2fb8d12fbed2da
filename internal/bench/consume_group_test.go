package bench

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// committedAtEnd fails the test unless group has committed the end offset
// of every partition of topic.
func committedAtEnd(ctx context.Context, t *testing.T, cc ClientConfig, group, topic string) {
	t.Helper()
	_, end, err := partitionOffsets(ctx, cc, topic)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(cc.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	committed, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for p, e := range end {
		if o, ok := committed.Lookup(topic, p); !ok || o.Err != nil || o.At != e {
			t.Errorf("group %s, partition %d: committed %+v, end offset %d", group, p, o, e)
		}
	}
}

// TestGroupConsumeSamsa reads a Samsa topic back as consumer groups: a read
// starts from the group's committed offsets and commits where it ended,
// with one member and with several, by either group protocol.
func TestGroupConsumeSamsa(t *testing.T) {
	cc := newSamsa(t, "group.initial.rebalance.delay.ms=100")
	ctx := testContext(t)
	const topic, size = "grouped", 100
	produce := func(n int64) {
		t.Helper()
		sum, err := RunProduce(ctx, ProduceConfig{ClientConfig: cc, Topic: topic, RecordSize: size,
			Records: n, Partitions: 4, Producers: 1, Acks: "all", BatchBytes: 16 << 10})
		if err != nil || sum.Produce.Records != n {
			t.Fatalf("produce %d: %+v, %v", n, sum.Produce, err)
		}
	}

	// A produce run's read-back by a group of one.
	run := ProduceRun{
		Produce: ProduceConfig{ClientConfig: cc, Topic: topic, RecordSize: size, Records: 3000,
			Partitions: 4, Producers: 1, Acks: "all", BatchBytes: 16 << 10},
		ConsumeAfter: true,
		Consume:      ConsumeConfig{Group: "readback"},
	}
	sum, err := run.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := sum.Consume; c == nil || c.Records != 3000 || c.Bytes != 3000*size || c.StartSeconds <= 0 {
		t.Fatalf("read-back: %+v", c)
	}
	if w := sum.Workload; w.Group != "readback" || w.Consumers != 1 || w.GroupProtocol != GroupProtocolClassic {
		t.Fatalf("workload %+v", w)
	}
	committedAtEnd(ctx, t, cc, "readback", topic)

	// The same group again: nothing left to read.
	sum, err = RunConsume(ctx, ConsumeConfig{ClientConfig: cc, Topic: topic, Group: "readback"})
	if err != nil || sum.Consume.Records != 0 {
		t.Fatalf("second read: %+v, %v", sum.Consume, err)
	}

	// After more records, only those, shared by two members.
	produce(1000)
	sum, err = RunConsume(ctx, ConsumeConfig{ClientConfig: cc, Topic: topic, Group: "readback", Consumers: 2})
	// A partition that moved between the members may be read twice.
	if err != nil || sum.Consume.Records < 1000 || sum.Consume.Records > 2000 {
		t.Fatalf("read of the new records: %+v, %v", sum.Consume, err)
	}
	committedAtEnd(ctx, t, cc, "readback", topic)

	// New groups read everything, by either protocol.
	for _, proto := range []string{GroupProtocolClassic, GroupProtocolConsumer} {
		group := "fresh-" + proto
		sum, err = RunConsume(ctx, ConsumeConfig{ClientConfig: cc, Topic: topic, Group: group, Consumers: 3, GroupProtocol: proto})
		if err != nil || sum.Consume.Records < 4000 || sum.Workload.GroupProtocol != proto || sum.Workload.Consumers != 3 {
			t.Fatalf("%s: %+v, workload %+v, %v", proto, sum.Consume, sum.Workload, err)
		}
		committedAtEnd(ctx, t, cc, group, topic)
	}
	// Bounded by count: at least that many, and the run ends.
	sum, err = RunConsume(ctx, ConsumeConfig{ClientConfig: cc, Topic: topic, Group: "counted", Records: 1500})
	if err != nil || sum.Consume.Records < 1500 || sum.Consume.Records > 4000 {
		t.Fatalf("counted: %+v, %v", sum.Consume, err)
	}
}

func TestGroupConsumeRejectsBadConfig(t *testing.T) {
	for _, c := range []ConsumeConfig{
		{Group: "g", Raw: true},
		{Consumers: 2},
		{GroupProtocol: GroupProtocolConsumer},
		{Group: "g", GroupProtocol: "eager"},
	} {
		c.Brokers, c.Topic = []string{"127.0.0.1:1"}, "t"
		if err := c.validate(); err == nil {
			t.Errorf("%+v: accepted", c)
		}
	}
}

// TestGroupConsumeKfake reads a kfake topic as a group: kfake answers the
// committed offsets of a group it does not know with GROUP_ID_NOT_FOUND.
func TestGroupConsumeKfake(t *testing.T) {
	cc := newKfake(t)
	ctx := testContext(t)
	sum, err := RunProduce(ctx, ProduceConfig{ClientConfig: cc, Topic: "kg", RecordSize: 100,
		Records: 2000, Partitions: 3, Producers: 1, Acks: "all", BatchBytes: 16 << 10})
	if err != nil || sum.Produce.Records != 2000 {
		t.Fatalf("produce: %+v, %v", sum.Produce, err)
	}
	sum, err = RunConsume(ctx, ConsumeConfig{ClientConfig: cc, Topic: "kg", Group: "k", Consumers: 2})
	if err != nil || sum.Consume.Records < 2000 {
		t.Fatalf("group read: %+v, %v", sum.Consume, err)
	}
	committedAtEnd(ctx, t, cc, "k", "kg")
}
