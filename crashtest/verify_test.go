package crashtest

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The log is read with raw Fetch requests rather than a kgo consumer: a
// consumer silently skips records below the offset it asked for, which
// would hide two batches claiming the same offsets. Here every batch is
// checked as it comes off the wire.

// record is one record as read back from the broker.
type record struct {
	offset int64
	value  string
}

// batch is one RecordBatch as read back from the broker.
type batch struct {
	raw        []byte
	base       int64
	producerID int64
	records    []record
}

func (b batch) lastOffset() int64 { return b.base + int64(len(b.records)) - 1 }

// partitionLog is a partition read from its start.
type partitionLog struct {
	logStart int64
	hwm      int64 // high watermark when the read started
	batches  []batch
}

func (p partitionLog) records() []record {
	var rs []record
	for _, b := range p.batches {
		rs = append(rs, b.records...)
	}
	return rs
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// newClient returns a client for addr with short retry backoffs, closed
// when the test ends. The tests kill the broker on purpose, so an EOF on a
// connection's first request is retried: kgo otherwise takes it for
// missing SASL and fails the request.
func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.DialTimeout(time.Second),
		kgo.AlwaysRetryEOF(),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.MetadataMinAge(100 * time.Millisecond),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates topic with n partitions and the given topic configs.
func createTopic(t *testing.T, addr, topic string, n int32, configs map[string]*string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl := newClient(t, addr)
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, n, 1, configs, topic)
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if resp.Err != nil {
		t.Fatalf("create topic %s: %v (%s)", topic, resp.Err, resp.ErrMessage)
	}
	cl.Close()
}

// topicID asks the broker for topic's ID (Fetch v13+ names topics by ID).
func topicID(ctx context.Context, cl *kgo.Client, topic string) ([16]byte, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return [16]byte{}, err
	}
	for _, t := range resp.Topics {
		if t.Topic != nil && *t.Topic == topic {
			if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
				return [16]byte{}, fmt.Errorf("metadata for %s: %w", topic, err)
			}
			return t.TopicID, nil
		}
	}
	return [16]byte{}, fmt.Errorf("metadata response has no topic %s", topic)
}

// readLog reads partitions 0..n-1 of topic from their start up to the high
// watermark each has when its read starts, checking the log's structure on
// the way (see readPartition). Any violation fails the test.
func readLog(t *testing.T, addr, topic string, n int32) []partitionLog {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := newClient(t, addr)
	defer cl.Close()
	id, err := topicID(ctx, cl, topic)
	if err != nil {
		t.Fatalf("read %s: %v", topic, err)
	}
	logs := make([]partitionLog, n)
	for p := range n {
		pl, err := readPartition(ctx, cl, topic, id, p)
		if err != nil {
			t.Fatalf("read %s-%d: %v", topic, p, err)
		}
		logs[p] = pl
	}
	return logs
}

// readPartition fetches a partition from offset 0 up to the high watermark
// of the first response. It checks that the log starts at 0, that batches
// are contiguous (each starts right after the previous one ends), that each
// has magic 2, a correct CRC-32C, no compression (the tests' producers
// send none), and records whose offset deltas run 0..n-1 exactly.
func readPartition(ctx context.Context, cl *kgo.Client, topic string, id [16]byte, p int32) (partitionLog, error) {
	var pl partitionLog
	next, target := int64(0), int64(-1)
	stalls := 0
	for target < 0 || next < target {
		sp, err := fetchOnce(ctx, cl, topic, id, p, next)
		if err != nil {
			return pl, err
		}
		if target < 0 {
			target, pl.hwm, pl.logStart = sp.HighWatermark, sp.HighWatermark, sp.LogStartOffset
			if sp.LogStartOffset != 0 {
				return pl, fmt.Errorf("log start offset is %d, expected 0 (nothing was deleted)", sp.LogStartOffset)
			}
		}
		bs, err := parseBatches(sp.RecordBatches, next)
		if err != nil {
			return pl, err
		}
		if len(bs) == 0 {
			if target <= next {
				break
			}
			if stalls++; stalls > 3 {
				return pl, fmt.Errorf("fetch at %d returned no complete batch although the high watermark is %d (%d bytes returned)",
					next, target, len(sp.RecordBatches))
			}
			continue
		}
		stalls = 0
		pl.batches = append(pl.batches, bs...)
		next = bs[len(bs)-1].lastOffset() + 1
	}
	return pl, nil
}

// fetchOnce sends one Fetch request for partition p at offset and returns
// the partition's part of the response, or its error.
func fetchOnce(ctx context.Context, cl *kgo.Client, topic string, id [16]byte, p int32, offset int64) (kmsg.FetchResponseTopicPartition, error) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 1
	req.MaxBytes = 8 << 20
	req.SessionEpoch = -1 // no fetch session
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = p
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = 4 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return kmsg.FetchResponseTopicPartition{}, fmt.Errorf("fetch at %d: %w", offset, err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return kmsg.FetchResponseTopicPartition{}, fmt.Errorf("fetch at %d: %w", offset, err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return kmsg.FetchResponseTopicPartition{}, fmt.Errorf("fetch at %d: response has %d topics, expected 1 with 1 partition", offset, len(resp.Topics))
	}
	sp := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(sp.ErrorCode); err != nil {
		return sp, fmt.Errorf("fetch at %d: %w", offset, err)
	}
	return sp, nil
}

// parseBatches splits a fetch response's record set into batches, checking
// each. A trailing partial batch (allowed by the protocol) is ignored. The
// first batch must start at next.
func parseBatches(data []byte, next int64) ([]batch, error) {
	var out []batch
	for len(data) >= 12 {
		length := int64(int32(binary.BigEndian.Uint32(data[8:12])))
		size := 12 + length
		if length < 49 {
			return out, fmt.Errorf("batch at offset %d has length %d", next, length)
		}
		if int64(len(data)) < size {
			break // partial batch at the end of the response
		}
		raw := data[:size]
		data = data[size:]
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(raw); err != nil {
			return out, fmt.Errorf("batch at offset %d: %w", next, err)
		}
		if rb.FirstOffset != next {
			return out, fmt.Errorf("batch starts at offset %d, expected %d (gap or overlap)", rb.FirstOffset, next)
		}
		if rb.Magic != 2 {
			return out, fmt.Errorf("batch at %d has magic %d", next, rb.Magic)
		}
		if sum := crc32.Checksum(raw[21:], castagnoli); sum != uint32(rb.CRC) {
			return out, fmt.Errorf("batch at %d: crc %08x, computed %08x", next, uint32(rb.CRC), sum)
		}
		if c := rb.Attributes & 7; c != 0 {
			return out, fmt.Errorf("batch at %d is compressed (codec %d); the tests produce uncompressed batches", next, c)
		}
		if rb.NumRecords < 1 || rb.LastOffsetDelta != rb.NumRecords-1 {
			return out, fmt.Errorf("batch at %d has %d records and last offset delta %d", next, rb.NumRecords, rb.LastOffsetDelta)
		}
		b := batch{raw: raw, base: rb.FirstOffset, producerID: rb.ProducerID}
		recs := rb.Records
		for i := range rb.NumRecords {
			l, n := binary.Varint(recs)
			if n <= 0 || l < 0 || int64(len(recs)-n) < l {
				return out, fmt.Errorf("batch at %d: record %d has a bad length", next, i)
			}
			var r kmsg.Record
			if err := r.ReadFrom(recs[:n+int(l)]); err != nil {
				return out, fmt.Errorf("batch at %d: record %d: %w", next, i, err)
			}
			recs = recs[n+int(l):]
			if r.OffsetDelta != i {
				return out, fmt.Errorf("batch at %d: record %d has offset delta %d", next, i, r.OffsetDelta)
			}
			b.records = append(b.records, record{offset: rb.FirstOffset + int64(i), value: string(r.Value)})
		}
		if len(recs) != 0 {
			return out, fmt.Errorf("batch at %d: %d bytes after its %d records", next, len(recs), rb.NumRecords)
		}
		out = append(out, b)
		next = b.lastOffset() + 1
	}
	return out, nil
}

// ack is a record the broker acknowledged.
type ack struct {
	partition int32
	offset    int64
	value     string
}

// checkAcked fails the test unless every acknowledged record is in logs at
// its acknowledged offset with its value, and no value appears twice. valid
// reports whether a value read back is one the test could have produced.
func checkAcked(t *testing.T, logs []partitionLog, acks []ack, valid func(string) bool) {
	t.Helper()
	type pos struct {
		partition int32
		offset    int64
	}
	byValue := map[string]pos{}
	byPos := map[pos]string{}
	var problems []string
	report := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		} else if len(problems) == 20 {
			problems = append(problems, "(more problems not shown)")
		}
	}
	total := 0
	for p, pl := range logs {
		for _, r := range pl.records() {
			total++
			here := pos{int32(p), r.offset}
			byPos[here] = r.value
			if !valid(r.value) {
				report("partition %d offset %d holds %q, which no producer sent", p, r.offset, short(r.value))
			}
			if prev, dup := byValue[r.value]; dup {
				report("value %q appears twice: partition %d offset %d and partition %d offset %d",
					short(r.value), prev.partition, prev.offset, p, r.offset)
				continue
			}
			byValue[r.value] = here
		}
	}
	missing := 0
	for _, a := range acks {
		got, ok := byPos[pos{a.partition, a.offset}]
		switch {
		case !ok:
			missing++
			report("acknowledged record %q at partition %d offset %d is missing (high watermark %d)",
				short(a.value), a.partition, a.offset, logs[a.partition].hwm)
		case got != a.value:
			missing++
			report("acknowledged record %q at partition %d offset %d: the log holds %q there", short(a.value), a.partition, a.offset, short(got))
		}
	}
	if len(problems) > 0 {
		t.Errorf("%d acknowledged records checked against %d records read back; %d not where acknowledged:\n  %s",
			len(acks), total, missing, strings.Join(problems, "\n  "))
	}
}

// short abbreviates a value for messages: the test values are unique in
// their first 20 bytes and padded after that.
func short(v string) string {
	if len(v) <= 24 {
		return v
	}
	return v[:20] + "..."
}

// hwms lists the high watermarks of logs.
func hwms(logs []partitionLog) []int64 {
	out := make([]int64, len(logs))
	for i, l := range logs {
		out[i] = l.hwm
	}
	return out
}

// equalLogs reports the first difference between two reads of the same
// topic, comparing batches byte for byte.
func equalLogs(a, b []partitionLog) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d partitions vs %d", len(a), len(b))
	}
	for p := range a {
		if a[p].hwm != b[p].hwm {
			return fmt.Errorf("partition %d: high watermark %d vs %d", p, a[p].hwm, b[p].hwm)
		}
		if len(a[p].batches) != len(b[p].batches) {
			return fmt.Errorf("partition %d: %d batches vs %d", p, len(a[p].batches), len(b[p].batches))
		}
		for i := range a[p].batches {
			x, y := a[p].batches[i], b[p].batches[i]
			if !slices.Equal(x.raw, y.raw) {
				return fmt.Errorf("partition %d: batch %d (offset %d) differs", p, i, x.base)
			}
		}
	}
	return nil
}
