package compat

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Each scenario returns a note for the matrix (caveats of a pass) or an
// error: errNA, errNotYet, or the failure. Every pass has compared real
// results; none returns nil on "no error" alone.

func topicName(c *client, id string) string { return "compat." + c.name + "." + id }

// needs checks that the broker advertises what scenario id needs from it
// with this client: the scenario's APIs, the client's extra APIs, and the
// versions the client insists on.
func (c *client) needs(e *env, id string, keys ...int16) error {
	if err := e.need(append(keys, c.apis[id]...)...); err != nil {
		return err
	}
	var missing []string
	whys := map[string]bool{}
	var why []string
	for _, vn := range c.versions[id] {
		r, ok := e.apis[vn.key.Int16()]
		switch {
		case !ok:
			missing = append(missing, kmsg.NameForKey(vn.key.Int16())+" (not advertised)")
		case vn.version >= 0 && (vn.version < r[0] || vn.version > r[1]):
			missing = append(missing, fmt.Sprintf("%s v%d (advertises v%d-%d)", kmsg.NameForKey(vn.key.Int16()), vn.version, r[0], r[1]))
		default:
			continue
		}
		if !whys[vn.why] {
			whys[vn.why] = true
			why = append(why, vn.why)
		}
	}
	if len(missing) > 0 {
		return errNotYet{missing: missing, why: strings.Join(why, "; ")}
	}
	return nil
}

func scenarioAdmin(ctx context.Context, e *env, c *client) (string, error) {
	if err := c.needs(e, "admin", k(kmsg.CreateTopics, kmsg.Metadata)...); err != nil {
		return "", err
	}
	topic := topicName(c, "admin")
	req := adminReq{Bootstrap: e.addr, Topic: topic, Partitions: 3}
	if err := c.driver.createTopic(ctx, req); err != nil {
		return "", fmt.Errorf("create topic %s with 3 partitions: %w", topic, err)
	}
	n, err := e.waitTopic(ctx, topic)
	if err != nil {
		return "", fmt.Errorf("franz-go metadata after the client created it: %w", err)
	}
	if n != 3 {
		return "", fmt.Errorf("franz-go metadata shows %d partitions, want 3", n)
	}
	got, err := c.driver.topicPartitions(ctx, req)
	if err != nil {
		return "", fmt.Errorf("client metadata: %w", err)
	}
	if got != 3 {
		return "", fmt.Errorf("client metadata shows %d partitions, want 3", got)
	}
	return "", nil
}

func scenarioProduce(ctx context.Context, e *env, c *client, cd codec) (string, error) {
	id := "produce-" + cd.name
	if reason, ok := c.na[id]; ok {
		return "", errNA{reason}
	}
	if err := c.needs(e, id, k(kmsg.Produce, kmsg.Metadata, kmsg.Fetch)...); err != nil {
		return "", err
	}
	return produceAndCheck(ctx, e, c, id, cd, false)
}

func scenarioIdempotent(ctx context.Context, e *env, c *client) (string, error) {
	if err := c.needs(e, "idempotent", k(kmsg.Produce, kmsg.InitProducerID, kmsg.Metadata, kmsg.Fetch)...); err != nil {
		return "", err
	}
	return produceAndCheck(ctx, e, c, "idempotent", allCodecs[0], true)
}

// produceAndCheck has the client produce the standard records to a fresh
// one-partition topic, then reads them back with franz-go and compares them
// byte for byte, and checks the batches' codec (and producer id when
// idempotent) and that nothing else landed in the partition.
func produceAndCheck(ctx context.Context, e *env, c *client, id string, cd codec, idempotent bool) (string, error) {
	topic := topicName(c, id)
	if _, err := e.createTopic(ctx, topic, 1); err != nil {
		return "", err
	}
	want := makeRecords(c.name+"-"+id, c.profile)
	start := time.Now()
	err := c.driver.produce(ctx, produceReq{Bootstrap: e.addr, Topic: topic, Codec: cd.name, Idempotent: idempotent, Records: want})
	if err != nil {
		return "", fmt.Errorf("produce: %w", err)
	}
	w := timeWindow(start)
	got, raw, err := franzRead(ctx, e.addr, topic, 0, 0, len(want), false)
	if err != nil {
		return "", fmt.Errorf("cross check: %w", err)
	}
	if err := compareRecords(withOffsets(want, 0, 0), got, w); err != nil {
		return "", fmt.Errorf("cross check, franz-go read back: %w", err)
	}
	for _, r := range raw {
		if ct := r.Attrs.CompressionType(); ct != cd.id {
			return "", fmt.Errorf("record at offset %d is in a batch with codec %s, want %s", r.Offset, codecName(ct), cd.name)
		}
		if idempotent && r.ProducerID < 0 {
			return "", fmt.Errorf("record at offset %d is in a batch without producer id (%d): not idempotent", r.Offset, r.ProducerID)
		}
		if !idempotent && r.ProducerID >= 0 {
			// Not wrong for Kafka, but the suite asked for a plain
			// producer; say so rather than hide it.
			return "", fmt.Errorf("record at offset %d carries producer id %d although the client was asked for a non-idempotent producer", r.Offset, r.ProducerID)
		}
	}
	hwm, err := endOffset(ctx, e, topic, 0)
	if err != nil {
		return "", err
	}
	if hwm != int64(len(want)) {
		return "", fmt.Errorf("high watermark %d after producing %d records (duplicates or lost records)", hwm, len(want))
	}
	if idempotent {
		return fmt.Sprintf("producer id %d, epoch %d", raw[0].ProducerID, raw[0].ProducerEpoch), nil
	}
	return "", nil
}

func codecName(id uint8) string {
	for _, cd := range allCodecs {
		if cd.id == id {
			return cd.name
		}
	}
	return fmt.Sprintf("unknown(%d)", id)
}

// scenarioConsume: the client produces records, franz-go appends a batch in
// every codec the client can decode, and the client reads the partition from
// the start and from an offset inside a compressed batch.
func scenarioConsume(ctx context.Context, e *env, c *client) (string, error) {
	if err := c.needs(e, "consume", k(kmsg.Produce, kmsg.Fetch, kmsg.ListOffsets, kmsg.Metadata)...); err != nil {
		return "", err
	}
	topic := topicName(c, "consume")
	if _, err := e.createTopic(ctx, topic, 1); err != nil {
		return "", err
	}
	own := makeRecords(c.name+"-own", c.profile)
	start := time.Now()
	if err := c.driver.produce(ctx, produceReq{Bootstrap: e.addr, Topic: topic, Codec: "none", Records: own}); err != nil {
		return "", fmt.Errorf("produce: %w", err)
	}
	w := timeWindow(start)
	want := withOffsets(own, 0, 0)
	mid := int64(-1)
	var codecs []string
	for _, cd := range []codec{allCodecs[1], allCodecs[2], allCodecs[3], allCodecs[4], allCodecs[0]} {
		if _, na := c.na["produce-"+cd.name]; na {
			continue
		}
		rs := makeRecords(c.name+"-franz-"+cd.name, c.profile)
		for i := range rs {
			if rs[i].Timestamp == 0 {
				rs[i].Timestamp = time.Now().Add(-time.Minute).UnixMilli() + int64(i)
			}
		}
		if mid < 0 && cd.id != 0 {
			mid = int64(len(want)) + 2
		}
		if err := franzProduce(ctx, e, topic, cd, rs); err != nil {
			return "", err
		}
		want = append(want, withOffsets(rs, 0, int64(len(want)))...)
		codecs = append(codecs, cd.name)
	}
	truth, _, err := franzRead(ctx, e.addr, topic, 0, 0, len(want), false)
	if err != nil {
		return "", fmt.Errorf("franz-go read of the log: %w", err)
	}
	if err := compareRecords(want, truth, w); err != nil {
		return "", fmt.Errorf("franz-go read of the log: %w", err)
	}
	got, err := c.driver.consume(ctx, consumeReq{Bootstrap: e.addr, Topic: topic, Offset: 0, Count: len(truth)})
	if err != nil {
		return "", fmt.Errorf("consume from the beginning: %w", err)
	}
	if err := compareRecords(truth, got, w); err != nil {
		return "", fmt.Errorf("consume from the beginning: %w", err)
	}
	if mid < 0 {
		mid = 3
	}
	got, err = c.driver.consume(ctx, consumeReq{Bootstrap: e.addr, Topic: topic, Offset: mid, Count: len(truth) - int(mid)})
	if err != nil {
		return "", fmt.Errorf("consume from offset %d: %w", mid, err)
	}
	if err := compareRecords(truth[mid:], got, w); err != nil {
		return "", fmt.Errorf("consume from offset %d: %w", mid, err)
	}
	return fmt.Sprintf("%d records (own + franz-go batches %s), also from offset %d inside a compressed batch",
		len(truth), strings.Join(codecs, ","), mid), nil
}

// scenarioCompacted: franz-go writes the same keys in several rounds, one
// batch per round, into a compacted topic whose segments hold one batch
// each; once the cleaner has removed every round but the last two (the
// last is in the active segment, which is never cleaned), the client reads
// the partition from the start and from an offset the cleaner removed. It
// must get exactly what is left, skipping the emptied segments.
func scenarioCompacted(ctx context.Context, e *env, c *client) (string, error) {
	if err := c.needs(e, "consume", k(kmsg.Produce, kmsg.Fetch, kmsg.ListOffsets, kmsg.Metadata, kmsg.CreateTopics)...); err != nil {
		return "", err
	}
	topic := topicName(c, "compacted")
	str := func(s string) *string { return &s }
	if _, err := e.createTopicWith(ctx, topic, 1, map[string]*string{
		"cleanup.policy":            str("compact"),
		"segment.bytes":             str("1024"), // smaller than a round's batch: a segment each
		"min.cleanable.dirty.ratio": str("0.01"),
	}); err != nil {
		return "", err
	}
	const rounds = 6
	var recs []record
	for _, r := range makeRecords(c.name+"-compacted", c.profile) {
		if r.Key == nil {
			continue // a compacted topic refuses records without a key
		}
		if r.Timestamp == 0 {
			r.Timestamp = time.Now().Add(-time.Minute).UnixMilli() + int64(len(recs))
		}
		recs = append(recs, r)
	}
	n := len(recs)
	for range rounds {
		if err := franzProduce(ctx, e, topic, allCodecs[0], recs); err != nil {
			return "", err
		}
	}
	// What the cleaner leaves: the last two rounds, where they were written.
	want := append(withOffsets(recs, 0, int64((rounds-2)*n)), withOffsets(recs, 0, int64((rounds-1)*n))...)
	w := timeWindow(time.Now())
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last error
	for {
		rctx, rcancel := context.WithTimeout(wctx, 5*time.Second)
		truth, _, err := franzRead(rctx, e.addr, topic, 0, 0, len(want), false)
		rcancel()
		if err == nil {
			if err = compareRecords(want, truth, w); err == nil {
				break
			}
		}
		last = err
		select {
		case <-wctx.Done():
			return "", fmt.Errorf("the broker did not compact %s to the last two of %d rounds within 30 s (franz-go read: %v)", topic, rounds, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
	got, err := c.driver.consume(ctx, consumeReq{Bootstrap: e.addr, Topic: topic, Offset: 0, Count: len(want)})
	if err != nil {
		return "", fmt.Errorf("consume from the beginning: %w", err)
	}
	if err := compareRecords(want, got, w); err != nil {
		return "", fmt.Errorf("consume from the beginning: %w", err)
	}
	got, err = c.driver.consume(ctx, consumeReq{Bootstrap: e.addr, Topic: topic, Offset: 1, Count: len(want)})
	if err != nil {
		return "", fmt.Errorf("consume from removed offset 1: %w", err)
	}
	if err := compareRecords(want, got, w); err != nil {
		return "", fmt.Errorf("consume from removed offset 1: %w", err)
	}
	return fmt.Sprintf("%d records left of %d (offsets %d-%d), read from offset 0 and from removed offset 1 across %d emptied segments",
		len(want), rounds*n, want[0].Offset, want[len(want)-1].Offset, rounds-2), nil
}

// scenarioGroup: a consumer in a group reads and commits everything and
// exits; more records arrive; a new consumer in the same group must get
// exactly the new ones.
func scenarioGroup(ctx context.Context, e *env, c *client) (string, error) {
	if err := c.needs(e, "group", append(groupAPIs, k(kmsg.Fetch, kmsg.ListOffsets, kmsg.Metadata)...)...); err != nil {
		return "", err
	}
	topic := topicName(c, "group")
	n, err := e.createTopic(ctx, topic, 3)
	if err != nil {
		return "", err
	}
	group := "compat." + c.name + ".group"
	const perPartition = 4
	batch := func(round int, first int64) ([]record, error) {
		var rs []record
		for p := int32(0); p < n; p++ {
			var prs []record
			for i := 0; i < perPartition; i++ {
				prs = append(prs, record{
					Key:       []byte(fmt.Sprintf("round%d-p%d-%d", round, p, i)),
					Value:     []byte(fmt.Sprintf("value of round %d partition %d record %d", round, p, i)),
					Headers:   []header{{"round", []byte(fmt.Sprint(round))}},
					Timestamp: time.Now().Add(-time.Minute).UnixMilli() + int64(i),
					Partition: p,
				})
			}
			if err := franzProduce(ctx, e, topic, allCodecs[0], prs); err != nil {
				return nil, err
			}
			rs = append(rs, withOffsets(prs, p, first)...)
		}
		return rs, nil
	}
	for round := 1; round <= 2; round++ {
		want, err := batch(round, int64((round-1)*perPartition))
		if err != nil {
			return "", err
		}
		got, err := c.driver.groupConsume(ctx, groupReq{Bootstrap: e.addr, Topic: topic, Group: group, Count: len(want)})
		if err != nil {
			return "", fmt.Errorf("consumer %d in group %s: %w", round, group, err)
		}
		sort.Slice(got, func(i, j int) bool {
			if got[i].Partition != got[j].Partition {
				return got[i].Partition < got[j].Partition
			}
			return got[i].Offset < got[j].Offset
		})
		if err := compareRecords(want, got, window{}); err != nil {
			what := "consumer %d: %w"
			if round == 2 {
				what = "consumer %d (restarted; must resume from the commits of consumer 1): %w"
			}
			return "", fmt.Errorf(what, round, err)
		}
		if err := checkCommitted(ctx, e, topic, group, n, int64(round*perPartition)); err != nil {
			return "", fmt.Errorf("after consumer %d: %w", round, err)
		}
	}
	return fmt.Sprintf("%d partitions, %d records per consumer", n, int(n)*perPartition), nil
}

func checkCommitted(ctx context.Context, e *env, topic, group string, partitions int32, want int64) error {
	offs, err := e.admin.FetchOffsets(ctx, group)
	if err != nil {
		return fmt.Errorf("fetch committed offsets of group %s: %w", group, err)
	}
	for p := int32(0); p < partitions; p++ {
		o, ok := offs.Lookup(topic, p)
		switch {
		case !ok:
			return fmt.Errorf("group %s has no committed offset for %s[%d], want %d", group, topic, p, want)
		case o.Err != nil:
			return fmt.Errorf("committed offset of %s[%d]: %w", topic, p, o.Err)
		case o.At != want:
			return fmt.Errorf("group %s committed offset %d for %s[%d], want %d", group, o.At, topic, p, want)
		}
	}
	return nil
}

// scenarioTxn: one aborted transaction, then one committed, from one
// transactional producer; read_committed readers see only the committed
// records, read_uncommitted sees both, with a control marker after each.
func scenarioTxn(ctx context.Context, e *env, c *client) (string, error) {
	if err := c.needs(e, "txn", k(kmsg.InitProducerID, kmsg.AddPartitionsToTxn, kmsg.EndTxn, kmsg.FindCoordinator, kmsg.Produce, kmsg.Fetch, kmsg.ListOffsets)...); err != nil {
		return "", err
	}
	topic := topicName(c, "txn")
	if _, err := e.createTopic(ctx, topic, 1); err != nil {
		return "", err
	}
	aborted := makeRecords(c.name+"-aborted", c.profile)[:3]
	committed := makeRecords(c.name+"-committed", c.profile)
	start := time.Now()
	err := c.driver.txnProduce(ctx, txnReq{Bootstrap: e.addr, Topic: topic, TransactionalID: "compat." + c.name + ".txn", Aborted: aborted, Committed: committed})
	if err != nil {
		return "", fmt.Errorf("transactional produce: %w", err)
	}
	w := timeWindow(start)
	// Aborted records at 0..2, the abort marker at 3, committed records
	// from 4, the commit marker after them.
	na := int64(len(aborted))
	wantAll := append(withOffsets(aborted, 0, 0), withOffsets(committed, 0, na+1)...)
	all, raw, err := franzRead(ctx, e.addr, topic, 0, 0, len(wantAll), false)
	if err != nil {
		return "", fmt.Errorf("franz-go read_uncommitted: %w", err)
	}
	if err := compareRecords(wantAll, all, w); err != nil {
		return "", fmt.Errorf("franz-go read_uncommitted (expects aborted records, abort marker, committed records): %w", err)
	}
	for _, r := range raw {
		if !r.Attrs.IsTransactional() {
			return "", fmt.Errorf("record at offset %d is not in a transactional batch", r.Offset)
		}
	}
	hwm, err := endOffset(ctx, e, topic, 0)
	if err != nil {
		return "", err
	}
	if wantHWM := na + 1 + int64(len(committed)) + 1; hwm != wantHWM {
		return "", fmt.Errorf("high watermark %d, want %d (records plus two control markers)", hwm, wantHWM)
	}
	truth := all[na:]
	rc, _, err := franzRead(ctx, e.addr, topic, 0, 0, len(truth), true)
	if err != nil {
		return "", fmt.Errorf("franz-go read_committed: %w", err)
	}
	if err := compareRecords(truth, rc, w); err != nil {
		return "", fmt.Errorf("franz-go read_committed: %w", err)
	}
	got, err := c.driver.consume(ctx, consumeReq{Bootstrap: e.addr, Topic: topic, Count: len(truth), ReadCommitted: true})
	if err != nil {
		return "", fmt.Errorf("client read_committed: %w", err)
	}
	if err := compareRecords(truth, got, w); err != nil {
		return "", fmt.Errorf("client read_committed: %w", err)
	}
	return "", nil
}

// topicConfig is franz-go's view of one topic config.
func topicConfig(ctx context.Context, e *env, topic, key string) (string, error) {
	rcs, err := e.admin.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return "", fmt.Errorf("franz-go describe configs: %w", err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		return "", fmt.Errorf("franz-go describe configs: %w", err)
	}
	if rc.Err != nil {
		return "", fmt.Errorf("franz-go describe configs: %w", rc.Err)
	}
	for _, cfg := range rc.Configs {
		if cfg.Key == key {
			return cfg.MaybeValue(), nil
		}
	}
	return "", fmt.Errorf("franz-go describe configs: %s missing", key)
}

const configKey = "retention.ms"

// scenarioConfigDescribe: the client describes retention.ms of a topic and
// must see what franz-go sees.
func scenarioConfigDescribe(ctx context.Context, e *env, c *client) (string, error) {
	if err := c.needs(e, "config-describe", k(kmsg.DescribeConfigs, kmsg.Metadata)...); err != nil {
		return "", err
	}
	topic := topicName(c, "config-describe")
	if _, err := e.createTopic(ctx, topic, 1); err != nil {
		return "", err
	}
	want, err := topicConfig(ctx, e, topic, configKey)
	if err != nil {
		return "", err
	}
	got, err := c.driver.describeConfig(ctx, configReq{Bootstrap: e.addr, Topic: topic, Key: configKey})
	if err != nil {
		return "", fmt.Errorf("describe %s: %w", configKey, err)
	}
	if got != want {
		return "", fmt.Errorf("client describes %s=%q, franz-go %q", configKey, got, want)
	}
	if want == "" {
		return "", fmt.Errorf("%s described as empty", configKey)
	}
	return fmt.Sprintf("%s=%s", configKey, got), nil
}

// scenarioConfigAlter: the client alters retention.ms of a topic; franz-go
// and the client then describe the new value.
func scenarioConfigAlter(ctx context.Context, e *env, c *client) (string, error) {
	if err := c.needs(e, "config-alter", k(kmsg.DescribeConfigs, kmsg.Metadata)...); err != nil {
		return "", err
	}
	topic := topicName(c, "config-alter")
	if _, err := e.createTopic(ctx, topic, 1); err != nil {
		return "", err
	}
	before, err := topicConfig(ctx, e, topic, configKey)
	if err != nil {
		return "", err
	}
	req := configReq{Bootstrap: e.addr, Topic: topic, Key: configKey, Value: "123456789"}
	if req.Value == before {
		req.Value = "987654321"
	}
	if err := c.driver.alterConfig(ctx, req); err != nil {
		return "", fmt.Errorf("alter %s to %s: %w", configKey, req.Value, err)
	}
	after, err := topicConfig(ctx, e, topic, configKey)
	if err != nil {
		return "", err
	}
	if after != req.Value {
		return "", fmt.Errorf("after the client altered %s to %s, franz-go describes %q", configKey, req.Value, after)
	}
	if _, na := c.na["config-describe"]; na {
		return fmt.Sprintf("%s %s → %s", configKey, before, req.Value), nil
	}
	got, err := c.driver.describeConfig(ctx, req)
	if err != nil {
		return "", fmt.Errorf("describe %s after alter: %w", configKey, err)
	}
	if got != req.Value {
		return "", fmt.Errorf("after altering %s to %s the client describes %q", configKey, req.Value, got)
	}
	return fmt.Sprintf("%s %s → %s", configKey, before, req.Value), nil
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
