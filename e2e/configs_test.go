package e2e

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func ptr(s string) *string { return &s }

func TestTopicConfigsRoundTrip(t *testing.T) {
	tb := startBroker(t, t.TempDir(), map[string]string{"log.retention.hours": "48"})
	adm := tb.admin()
	ctx := ctxT(t)
	tb.createTopic("cfg", 2, map[string]*string{"retention.ms": ptr("3600000")})
	describe := func() map[string]kadm.Config {
		rcs, err := adm.DescribeTopicConfigs(ctx, "cfg")
		if err != nil {
			t.Fatal(err)
		}
		rc, err := rcs.On("cfg", nil)
		if err != nil || rc.Err != nil {
			t.Fatal(err, rc.Err)
		}
		out := map[string]kadm.Config{}
		for _, c := range rc.Configs {
			out[c.Key] = c
		}
		return out
	}
	cs := describe()
	if v := cs["retention.ms"]; v.MaybeValue() != "3600000" || v.Source.String() != "DYNAMIC_TOPIC_CONFIG" {
		t.Fatalf("retention.ms = %q from %v", v.MaybeValue(), v.Source)
	}
	if v := cs["cleanup.policy"]; v.MaybeValue() != "delete" || v.Source.String() != "DEFAULT_CONFIG" {
		t.Fatalf("cleanup.policy = %q from %v", v.MaybeValue(), v.Source)
	}
	resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.DeleteConfig, Name: "retention.ms"},
		{Op: kadm.SetConfig, Name: "segment.bytes", Value: ptr("1048576")},
		{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: ptr("compact")},
	}, "cfg")
	if err != nil || resp[0].Err != nil {
		t.Fatalf("alter: %v %v", err, resp)
	}
	cs = describe()
	// The value comes from the static log.retention.hours; Kafka's
	// DescribeConfigs names the source only when log.retention.ms itself is
	// set (ConfigHelper drops the synonyms before it), so it says default.
	if v := cs["retention.ms"]; v.MaybeValue() != strconv.Itoa(48*3600*1000) || v.Source.String() != "DEFAULT_CONFIG" {
		t.Fatalf("after DELETE retention.ms = %q from %v", v.MaybeValue(), v.Source)
	}
	if v := cs["cleanup.policy"]; v.MaybeValue() != "delete,compact" { // APPEND adds to the end of the default, as in Kafka
		t.Fatalf("after APPEND cleanup.policy = %q", v.MaybeValue())
	}
	if v := cs["segment.bytes"]; v.MaybeValue() != "1048576" {
		t.Fatalf("segment.bytes = %q", v.MaybeValue())
	}
	// Invalid or unknown configs are refused with INVALID_CONFIG naming the key.
	for _, bad := range []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("soon")},
		{Op: kadm.SetConfig, Name: "no.such.config", Value: ptr("1")},
		{Op: kadm.AppendConfig, Name: "retention.ms", Value: ptr("1")},
		{Op: kadm.SetConfig, Name: "cleanup.policy", Value: ptr("forever")},
	} {
		resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{bad}, "cfg")
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(resp[0].Err, kerr.InvalidConfig) {
			t.Errorf("%s=%v: err %v, want INVALID_CONFIG", bad.Name, bad.Value, resp[0].Err)
		}
	}
	// The configs survive a restart.
	tb = tb.restart(map[string]string{"log.retention.hours": "48"})
	adm = tb.admin()
	cs = describe()
	if v := cs["cleanup.policy"]; v.MaybeValue() != "delete,compact" {
		t.Fatalf("after restart cleanup.policy = %q", v.MaybeValue())
	}
}

func TestRetentionBySizeAndDeleteRecords(t *testing.T) {
	tb := startBroker(t, t.TempDir(), map[string]string{"log.retention.check.interval.ms": "50"})
	tb.createTopic("ret", 1, map[string]*string{"segment.bytes": ptr("4096"), "retention.bytes": ptr("8192")})
	prod := tb.client(kgo.DefaultProduceTopic("ret"), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	for i := 0; i < 100; i++ { // one ~1 KiB batch each: many segments
		if err := prod.ProduceSync(ctxT(t), &kgo.Record{Value: bytes.Repeat(val(i), 40)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := tb.admin()
	var start int64
	waitFor(t, "retention to delete old segments", func() bool {
		starts, err := adm.ListStartOffsets(ctxT(t), "ret")
		if err != nil {
			return false
		}
		o, _ := starts.Lookup("ret", 0)
		start = o.Offset
		return start > 50
	})
	// Fetching below the log start offset is out of range.
	cl := tb.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"ret": {0: kgo.NewOffset().At(0)}}),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()))
	fs := cl.PollFetches(ctxT(t))
	var gotErr error
	fs.EachError(func(_ string, _ int32, err error) { gotErr = err })
	if !errors.Is(gotErr, kerr.OffsetOutOfRange) {
		t.Fatalf("fetch at 0 below log start %d: %v, want OFFSET_OUT_OF_RANGE", start, gotErr)
	}
	// DeleteRecords moves the start further.
	to := kadm.Offsets{}
	to.Add(kadm.Offset{Topic: "ret", Partition: 0, At: 95})
	res, err := adm.DeleteRecords(ctxT(t), to)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := res.Lookup("ret", 0); r.Err != nil || r.LowWatermark != 95 {
		t.Fatalf("DeleteRecords: %+v", r)
	}
	if got := tb.consumeAll("ret"); len(got) != 5 || got[0].Offset != 95 {
		t.Fatalf("after DeleteRecords read %d records from %d", len(got), got[0].Offset)
	}
	// Log dirs report the partition.
	dirs, err := adm.DescribeAllLogDirs(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if p.Topic == "ret" && p.Size > 0 {
				found = true
			}
		})
	})
	if !found {
		t.Fatal("DescribeLogDirs does not list ret-0")
	}
}

func TestRetentionByTime(t *testing.T) {
	tb := startBroker(t, t.TempDir(), map[string]string{"log.retention.check.interval.ms": "50"})
	tb.createTopic("old", 1, map[string]*string{"retention.ms": ptr("60000")})
	prod := tb.client(kgo.DefaultProduceTopic("old"))
	// Records stamped two minutes ago are beyond retention.ms at once.
	old := time.Now().Add(-2 * time.Minute)
	for i := 0; i < 10; i++ {
		if err := prod.ProduceSync(ctxT(t), &kgo.Record{Value: val(i), Timestamp: old}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := tb.admin()
	waitFor(t, "time retention to empty the log", func() bool {
		starts, err := adm.ListStartOffsets(ctxT(t), "old")
		if err != nil {
			return false
		}
		o, _ := starts.Lookup("old", 0)
		return o.Offset == 10
	})
	// New records are kept and get the next offsets.
	if r, err := prod.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("new")}).First(); err != nil || r.Offset != 10 {
		t.Fatalf("produce after retention: offset %v err %v", r, err)
	}
}

func TestTopicRulesOnProduce(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic("isr", 1, map[string]*string{"min.insync.replicas": ptr("2")})
	tb.createTopic("compacted", 1, map[string]*string{"cleanup.policy": ptr("compact")})
	tb.createTopic("recent", 1, map[string]*string{"message.timestamp.before.max.ms": ptr("60000")})
	cl := tb.client(kgo.RecordRetries(0), kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.AllISRAcks()))
	err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "isr", Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.NotEnoughReplicas) {
		t.Errorf("acks=all with min.insync.replicas=2: %v, want NOT_ENOUGH_REPLICAS", err)
	}
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "compacted", Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.InvalidRecord) {
		t.Errorf("keyless record on compacted topic: %v, want INVALID_RECORD", err)
	}
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "compacted", Key: []byte("k"), Value: []byte("x")}).FirstErr(); err != nil {
		t.Errorf("keyed record on compacted topic: %v", err)
	}
	err = cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "recent", Value: []byte("x"), Timestamp: time.Now().Add(-time.Hour)}).FirstErr()
	if !errors.Is(err, kerr.InvalidTimestamp) {
		t.Errorf("hour-old record with before.max.ms=60000: %v, want INVALID_TIMESTAMP", err)
	}
}

// TestCompressionTypeRecompresses: with compression.type=zstd the broker
// stores every batch as zstd whatever the producer sent, and consumers read
// the same records.
func TestCompressionTypeRecompresses(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic("zs", 1, map[string]*string{"compression.type": ptr("zstd")})
	prod := tb.client(kgo.DefaultProduceTopic("zs"), kgo.ProducerBatchCompression(kgo.GzipCompression()))
	for i := 0; i < 20; i++ {
		if err := prod.ProduceSync(ctxT(t), &kgo.Record{Key: key(i), Value: val(i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	got := tb.consumeAll("zs")
	if len(got) != 20 || !bytes.Equal(got[7].Value, val(7)) || got[7].Offset != 7 {
		t.Fatalf("read back %d records", len(got))
	}
	// The stored batches are zstd (codec 4 in the attributes).
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxWaitMillis, req.MaxBytes, req.SessionEpoch = 11, 100, 1<<20, -1
	tds, err := tb.admin().ListTopics(ctxT(t), "zs")
	if err != nil {
		t.Fatal(err)
	}
	// The client picks the version; give the topic by name and by ID.
	req.Topics = []kmsg.FetchRequestTopic{{Topic: "zs", TopicID: tds["zs"].ID,
		Partitions: []kmsg.FetchRequestTopicPartition{{PartitionMaxBytes: 1 << 20, CurrentLeaderEpoch: -1}}}}
	resp, err := req.RequestWith(ctxT(t), tb.client())
	if err != nil {
		t.Fatal(err)
	}
	if ec := resp.Topics[0].Partitions[0].ErrorCode; ec != 0 || resp.ErrorCode != 0 {
		t.Fatalf("fetch error %d / %d", ec, resp.ErrorCode)
	}
	raw := resp.Topics[0].Partitions[0].RecordBatches
	n := 0
	for len(raw) >= 61 {
		size := int(binary.BigEndian.Uint32(raw[8:])) + 12
		if codec := binary.BigEndian.Uint16(raw[21:]) & 7; codec != 4 {
			t.Fatalf("stored batch %d has codec %d, want zstd (4)", n, codec)
		}
		raw = raw[size:]
		n++
	}
	if n == 0 {
		t.Fatal("no batches fetched")
	}
}

// TestDynamicBrokerConfigs: topic defaults changed at run time on the
// broker (cluster-wide, then for this broker) reach existing topics at
// once, with the right sources, and survive a restart.
func TestDynamicBrokerConfigs(t *testing.T) {
	tb := startBroker(t, t.TempDir(), nil)
	tb.createTopic("dyn", 1, nil)
	retention := func() (string, string) {
		rcs, err := tb.admin().DescribeTopicConfigs(ctxT(t), "dyn")
		if err != nil {
			t.Fatal(err)
		}
		rc, _ := rcs.On("dyn", nil)
		for _, c := range rc.Configs {
			if c.Key == "retention.ms" {
				return c.MaybeValue(), c.Source.String()
			}
		}
		t.Fatal("no retention.ms")
		return "", ""
	}
	alter := func(broker string, v string) {
		t.Helper()
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		res := kmsg.NewIncrementalAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeBroker, broker
		res.Configs = []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "log.retention.ms", Op: 0, Value: &v}}
		req.Resources = append(req.Resources, res)
		resp, err := req.RequestWith(ctxT(t), tb.client())
		if err != nil || resp.Resources[0].ErrorCode != 0 {
			t.Fatalf("alter broker %q: %v %+v", broker, err, resp)
		}
	}
	if v, src := retention(); v != "604800000" || src != "DEFAULT_CONFIG" {
		t.Fatalf("initially %s from %s", v, src)
	}
	alter("", "3600000")
	if v, src := retention(); v != "3600000" || src != "DYNAMIC_DEFAULT_BROKER_CONFIG" {
		t.Fatalf("cluster-wide: %s from %s", v, src)
	}
	alter("1", "60000")
	if v, src := retention(); v != "60000" || src != "DYNAMIC_BROKER_CONFIG" {
		t.Fatalf("per broker: %s from %s", v, src)
	}
	tb = tb.restart(nil)
	if v, src := retention(); v != "60000" || src != "DYNAMIC_BROKER_CONFIG" {
		t.Fatalf("after restart: %s from %s", v, src)
	}
}

// TestTopicConfigSynonyms: DescribeConfigs lists a topic config's synonyms
// as Kafka's ConfigHelper does: the topic's value, then the broker property
// behind its default in every layer that sets it (this broker's dynamic
// configs, the cluster-wide ones, the properties file, the built-in
// default), nothing for a property whose default Kafka leaves null
// (log.retention.ms), and the first of them as the config's source.
func TestTopicConfigSynonyms(t *testing.T) {
	tb := startBroker(t, t.TempDir(), map[string]string{"log.segment.bytes": "268435456", "log.retention.ms": "7200000"})
	tb.createTopic("syn", 1, map[string]*string{"max.message.bytes": ptr("2000000")})
	adm := tb.admin()
	if err := setBrokerConfig(t, adm, true, "log.segment.bytes", "536870912"); err != nil {
		t.Fatal(err)
	}
	if err := setBrokerConfig(t, adm, false, "log.segment.bytes", "134217728"); err != nil {
		t.Fatal(err)
	}

	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms = true
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "syn"
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctxT(t), tb.client())
	if err != nil || resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("DescribeConfigs: %v %+v", err, resp)
	}
	got := map[string]string{}
	for _, c := range resp.Resources[0].Configs {
		s := c.Source.String() + " |"
		for _, syn := range c.ConfigSynonyms {
			s += " " + syn.Source.String() + ":" + syn.Name + "=" + *syn.Value
		}
		got[c.Name] = s
	}
	for name, want := range map[string]string{
		"segment.bytes": "DYNAMIC_BROKER_CONFIG | DYNAMIC_BROKER_CONFIG:log.segment.bytes=536870912" +
			" DYNAMIC_DEFAULT_BROKER_CONFIG:log.segment.bytes=134217728 STATIC_BROKER_CONFIG:log.segment.bytes=268435456" +
			" DEFAULT_CONFIG:log.segment.bytes=1073741824",
		"retention.ms":      "STATIC_BROKER_CONFIG | STATIC_BROKER_CONFIG:log.retention.ms=7200000 DEFAULT_CONFIG:log.retention.hours=168",
		"segment.ms":        "DEFAULT_CONFIG |",
		"max.message.bytes": "DYNAMIC_TOPIC_CONFIG | DYNAMIC_TOPIC_CONFIG:max.message.bytes=2000000 DEFAULT_CONFIG:message.max.bytes=1048588",
		"cleanup.policy":    "DEFAULT_CONFIG | DEFAULT_CONFIG:log.cleanup.policy=delete",
	} {
		if got[name] != want {
			t.Errorf("%s: %s\nwant %s", name, got[name], want)
		}
	}
}

// TestKafkaTopicConfigsWithoutReplicas: segment.jitter.ms and
// unclean.leader.election.enable are accepted like Kafka's (tools and
// infrastructure-as-code set them), validated, kept and described; a
// boolean is true or false in any case, anything else INVALID_CONFIG.
func TestKafkaTopicConfigsWithoutReplicas(t *testing.T) {
	tb := startBroker(t, t.TempDir(), map[string]string{"log.roll.jitter.hours": "1"})
	adm := tb.admin()
	resp, err := adm.CreateTopic(ctxT(t), 1, 1, map[string]*string{
		"unclean.leader.election.enable": ptr("TRUE"),
	}, "jit")
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctxT(t), "jit")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("jit", nil)
	if err != nil || rc.Err != nil {
		t.Fatal(err, rc.Err)
	}
	got := map[string]string{}
	for _, c := range rc.Configs {
		got[c.Key] = c.MaybeValue() + " " + c.Source.String()
	}
	for k, want := range map[string]string{
		"unclean.leader.election.enable": "true DYNAMIC_TOPIC_CONFIG",
		// From log.roll.jitter.hours alone, which Kafka does not name as
		// the source (see TestTopicConfigsRoundTrip).
		"segment.jitter.ms": "3600000 DEFAULT_CONFIG",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	for _, bad := range []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "unclean.leader.election.enable", Value: ptr("yes")},
		{Op: kadm.SetConfig, Name: "segment.jitter.ms", Value: ptr("-1")},
	} {
		r, err := adm.AlterTopicConfigs(ctxT(t), []kadm.AlterConfig{bad}, "jit")
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(r[0].Err, kerr.InvalidConfig) {
			t.Errorf("%s=%s: %v, want INVALID_CONFIG", bad.Name, *bad.Value, r[0].Err)
		}
	}
	r, err := adm.AlterTopicConfigs(ctxT(t), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.jitter.ms", Value: ptr("60000")}}, "jit")
	if err != nil || r[0].Err != nil {
		t.Fatalf("set segment.jitter.ms: %v %v", err, r[0].Err)
	}
	rcs, err = adm.DescribeTopicConfigs(ctxT(t), "jit")
	if err != nil {
		t.Fatal(err)
	}
	if rc, err = rcs.On("jit", nil); err != nil || rc.Err != nil {
		t.Fatal(err, rc.Err)
	}
	for _, c := range rc.Configs {
		if c.Key == "segment.jitter.ms" && c.MaybeValue()+" "+c.Source.String() != "60000 DYNAMIC_TOPIC_CONFIG" {
			t.Errorf("segment.jitter.ms after the alter: %s %s, want 60000 DYNAMIC_TOPIC_CONFIG", c.MaybeValue(), c.Source)
		}
	}
}

// setBrokerConfig sets one dynamic broker config, for broker 1 with
// IncrementalAlterConfigs (node) or cluster-wide with AlterConfigs, and
// returns the broker's answer for it; a failed request fails the test.
func setBrokerConfig(t *testing.T, adm *kadm.Client, node bool, name, value string) error {
	t.Helper()
	ac := []kadm.AlterConfig{{Op: kadm.SetConfig, Name: name, Value: ptr(value)}}
	var resp kadm.AlterConfigsResponses
	var err error
	if node {
		resp, err = adm.AlterBrokerConfigs(ctxT(t), ac, 1)
	} else {
		resp, err = adm.AlterBrokerConfigsState(ctxT(t), ac)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(resp) != 1 {
		t.Fatalf("alter %s: %d answers", name, len(resp))
	}
	return resp[0].Err
}
