package compat

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// header and record are the client-neutral form of Kafka records that the
// suite hands to every client and compares what comes back against. They
// are also the JSON the external client scripts read and write: []byte is
// base64, a nil key is JSON null (a null key on the wire).
type header struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

type record struct {
	Key       []byte   `json:"key"`
	Value     []byte   `json:"value"`
	Headers   []header `json:"headers"`
	Timestamp int64    `json:"timestamp"` // ms since the epoch; 0 on produce: the client picks it
	Partition int32    `json:"partition"`
	Offset    int64    `json:"offset"`
}

// codec is a Kafka compression codec; id is the batch attribute value.
type codec struct {
	name string
	id   uint8
	kgo  kgo.CompressionCodec
}

var allCodecs = []codec{
	{"none", 0, kgo.NoCompression()},
	{"gzip", 1, kgo.GzipCompression()},
	{"snappy", 2, kgo.SnappyCompression()},
	{"lz4", 3, kgo.Lz4Compression()},
	{"zstd", 4, kgo.ZstdCompression()},
}

// profile says what a client can put into a record, so the suite asks it only
// for what it can express (and says so in the cell's note).
type profile struct {
	noTimestamps string // non-empty: the client cannot set timestamps (why)
	// plainHeaders: the client can only send header values that are
	// printable ASCII without ',' and '=' (kcat's -H k=v), the same header
	// set for every record.
	plainHeaders string
	avoidBytes   []byte // bytes the client cannot carry in keys and values
	headerOrder  string // non-empty: the client loses the order of headers with different keys interleaved (why)
}

// makeRecords returns the records a client produces for one scenario: string
// keys, null keys, binary keys and values (every byte value), a large
// compressible value (so compressing codecs really compress), several
// headers with duplicate keys and binary values, and explicit, distinct
// timestamps close to now (so retention never deletes them).
func makeRecords(tag string, p profile) []record {
	base := time.Now().Add(-time.Hour).Truncate(time.Second).UnixMilli()
	all := make([]byte, 0, 256)
	for i := 0; i < 256; i++ {
		all = append(all, byte(i))
	}
	// Every value ends in a run of filler: clients may put any record in
	// a batch of its own, and librdkafka sends a batch uncompressed when
	// compressing does not make it smaller.
	fill := strings.Repeat("-filler", 40)
	rs := []record{
		{Key: []byte(tag + "-k0"), Value: []byte(tag + " value 0" + fill),
			Headers: []header{{"h-a", []byte("1")}, {"h-b", []byte("two")}}},
		{Key: nil, Value: append(all, fill...)},
		{Key: []byte{0x00, 0x01, 0xfe, 0xff, 'k'}, Value: []byte(strings.Repeat("compressible ", 150) + tag),
			Headers: []header{{"dup", []byte("first")}, {"dup", []byte("second")}, {"bin", []byte{0x00, 0xff, 0x7f, 0x80}}}},
		{Key: []byte(tag + "-k3"), Value: []byte("zażółć gęślą jaźń ✓ " + tag + fill),
			Headers: []header{{"h-a", []byte("x")}}},
		{Key: nil, Value: []byte(strings.Repeat("y", 900))},
		{Key: []byte(tag + "-k5"), Value: []byte(tag + " value 5" + fill),
			Headers: []header{{"h-a", []byte("1")}, {"h-b", []byte("two")}}},
	}
	for i := range rs {
		rs[i].Timestamp = base + int64(i)*1000
		if p.noTimestamps != "" {
			rs[i].Timestamp = 0
		}
		if p.plainHeaders != "" {
			rs[i].Headers = []header{{"h-a", []byte("1")}, {"h-b", []byte("two")}, {"h-a", []byte("3")}}
		}
		if len(p.avoidBytes) > 0 {
			rs[i].Key = scrub(rs[i].Key, p.avoidBytes)
			rs[i].Value = scrub(rs[i].Value, p.avoidBytes)
		}
	}
	return rs
}

// profileNotes lists what a client could not express, for the cell note.
func profileNotes(p profile) string {
	var n []string
	if p.noTimestamps != "" {
		n = append(n, "timestamps set by the client, checked to lie within the produce call ("+p.noTimestamps+")")
	}
	if p.plainHeaders != "" {
		n = append(n, "one ASCII header set for all records ("+p.plainHeaders+")")
	}
	if len(p.avoidBytes) > 0 {
		n = append(n, fmt.Sprintf("keys and values without bytes %x (the client's delimiters)", p.avoidBytes))
	}
	if p.headerOrder != "" {
		n = append(n, p.headerOrder)
	}
	return strings.Join(n, "; ")
}

func scrub(b, avoid []byte) []byte {
	if b == nil {
		return nil
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if bytes.IndexByte(avoid, c) >= 0 {
			c = '_'
		}
		out[i] = c
	}
	return out
}

// window is the time range a produce call ran in; records the client
// stamped itself must carry a timestamp inside it.
type window struct{ from, to int64 }

func (w window) contains(ts int64) bool { return ts >= w.from && ts <= w.to }

func timeWindow(start time.Time) window {
	return window{start.Add(-time.Second).UnixMilli(), time.Now().Add(time.Second).UnixMilli()}
}

// withOffsets returns want with partition p and offsets from first on, the
// way a fresh single-producer partition assigns them.
func withOffsets(want []record, p int32, first int64) []record {
	out := make([]record, len(want))
	for i, r := range want {
		r.Partition = p
		r.Offset = first + int64(i)
		out[i] = r
	}
	return out
}

// compareRecords checks got against want record by record, byte for byte.
// A want timestamp of 0 means the client chose it: it must lie in w.
func compareRecords(want, got []record, w window) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d records, want %d; got %s", len(got), len(want), summarize(got))
	}
	for i := range want {
		if err := compareRecord(want[i], got[i], w); err != nil {
			return fmt.Errorf("record %d (offset %d): %w", i, want[i].Offset, err)
		}
	}
	return nil
}

func compareRecord(want, got record, w window) error {
	switch {
	case got.Partition != want.Partition || got.Offset != want.Offset:
		return fmt.Errorf("at partition %d offset %d, want partition %d offset %d", got.Partition, got.Offset, want.Partition, want.Offset)
	case (want.Key == nil) != (got.Key == nil):
		return fmt.Errorf("key null=%v, want null=%v (key %s)", got.Key == nil, want.Key == nil, show(got.Key))
	case !bytes.Equal(want.Key, got.Key):
		return fmt.Errorf("key %s, want %s", show(got.Key), show(want.Key))
	case !bytes.Equal(want.Value, got.Value):
		return fmt.Errorf("value %s, want %s", show(got.Value), show(want.Value))
	case want.Timestamp != 0 && got.Timestamp != want.Timestamp:
		return fmt.Errorf("timestamp %d, want %d", got.Timestamp, want.Timestamp)
	case want.Timestamp == 0 && !w.contains(got.Timestamp):
		return fmt.Errorf("timestamp %d outside the produce window [%d, %d]", got.Timestamp, w.from, w.to)
	case len(got.Headers) != len(want.Headers):
		return fmt.Errorf("headers %s, want %s", showHeaders(got.Headers), showHeaders(want.Headers))
	}
	for i := range want.Headers {
		if want.Headers[i].Key != got.Headers[i].Key || !bytes.Equal(want.Headers[i].Value, got.Headers[i].Value) {
			return fmt.Errorf("headers %s, want %s", showHeaders(got.Headers), showHeaders(want.Headers))
		}
	}
	return nil
}

func show(b []byte) string {
	if b == nil {
		return "null"
	}
	const max = 48
	s := fmt.Sprintf("%q", b)
	if len(b) > max {
		s = fmt.Sprintf("%q…(%d bytes)", b[:max], len(b))
	}
	return s
}

func showHeaders(hs []header) string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = fmt.Sprintf("%s=%s", h.Key, show(h.Value))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func summarize(rs []record) string {
	parts := make([]string, 0, len(rs))
	for i, r := range rs {
		if i == 8 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("p%d@%d key=%s", r.Partition, r.Offset, show(r.Key)))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func fromKgo(r *kgo.Record) record {
	out := record{Key: r.Key, Value: r.Value, Timestamp: r.Timestamp.UnixMilli(), Partition: r.Partition, Offset: r.Offset}
	for _, h := range r.Headers {
		out.Headers = append(out.Headers, header{h.Key, h.Value})
	}
	return out
}

func toKgo(topic string, r record) *kgo.Record {
	kr := &kgo.Record{Topic: topic, Partition: r.Partition, Key: r.Key, Value: r.Value}
	if r.Timestamp != 0 {
		kr.Timestamp = time.UnixMilli(r.Timestamp)
	}
	for _, h := range r.Headers {
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return kr
}

// franzRead reads count records of one partition from offset with franz-go,
// the suite's reference reader, and returns them with franz-go's view of
// each (codec, producer id). It fails if fewer arrive before ctx ends.
func franzRead(ctx context.Context, addr string, topic string, partition int32, offset int64, count int, readCommitted bool) ([]record, []*kgo.Record, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(offset)}}),
	}
	if readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	var out []record
	var raw []*kgo.Record
	for len(out) < count {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out, raw, fmt.Errorf("franz-go read %s[%d] from %d: got %d of %d records before %v", topic, partition, offset, len(out), count, ctx.Err())
		}
		for _, fe := range fs.Errors() {
			return out, raw, fmt.Errorf("franz-go read %s[%d]: %w", topic, partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, fromKgo(r))
			raw = append(raw, r)
		})
	}
	return out, raw, nil
}

// franzProduce writes records with franz-go (non-idempotent, acks=all) as
// one batch per call, compressed with cd.
func franzProduce(ctx context.Context, e *env, topic string, cd codec, rs []record) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(e.addr),
		kgo.DisableIdempotentWrite(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(cd.kgo),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	krs := make([]*kgo.Record, len(rs))
	for i, r := range rs {
		krs[i] = toKgo(topic, r)
	}
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		return fmt.Errorf("franz-go produce to %s: %w", topic, err)
	}
	return nil
}

// endOffset is the high watermark of one partition, from franz-go.
func endOffset(ctx context.Context, e *env, topic string, partition int32) (int64, error) {
	lo, err := e.admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	o, ok := lo.Lookup(topic, partition)
	if !ok {
		return 0, fmt.Errorf("list end offsets of %s: partition %d missing", topic, partition)
	}
	if o.Err != nil {
		return 0, fmt.Errorf("list end offsets of %s[%d]: %w", topic, partition, o.Err)
	}
	return o.Offset, nil
}
