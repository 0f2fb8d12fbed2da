package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// decodeBatch parses a v2 record batch with kmsg, checks its length and CRC,
// decompresses it with franz-go's decompressor and decodes every record.
func decodeBatch(t *testing.T, b []byte) (kmsg.RecordBatch, []kmsg.Record) {
	t.Helper()
	var batch kmsg.RecordBatch
	if err := batch.ReadFrom(b); err != nil {
		t.Fatalf("kmsg cannot read the batch: %v", err)
	}
	if int(batch.Length) != len(b)-12 {
		t.Fatalf("batch length %d, %d bytes", batch.Length, len(b))
	}
	if want := crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)); uint32(batch.CRC) != want {
		t.Fatalf("CRC %08x, want %08x", uint32(batch.CRC), want)
	}
	raw, err := kgo.DefaultDecompressor().Decompress(batch.Records, kgo.CompressionCodecType(batch.Attributes&7))
	if err != nil {
		t.Fatalf("decompress: %v", err)
	}
	var recs []kmsg.Record
	for len(raw) > 0 {
		l, n := binary.Varint(raw)
		if n <= 0 || l < 0 || int(l) > len(raw)-n {
			t.Fatalf("record %d: bad length", len(recs))
		}
		var r kmsg.Record
		if err := r.ReadFrom(raw[:n+int(l)]); err != nil {
			t.Fatalf("record %d: %v", len(recs), err)
		}
		recs = append(recs, r)
		raw = raw[n+int(l):]
	}
	return batch, recs
}

func TestBuildRecordBatch(t *testing.T) {
	value := payload(1000, 7)
	const ts = 1_700_000_000_123
	for _, name := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(name, func(t *testing.T) {
			codec, _, err := parseCompression(name)
			if err != nil {
				t.Fatal(err)
			}
			comp, err := kgo.DefaultCompressor(codec)
			if err != nil {
				t.Fatal(err)
			}
			b, err := buildRecordBatch(value, 300, ts, comp)
			if err != nil {
				t.Fatal(err)
			}
			batch, recs := decodeBatch(t, b)
			wantCodec := map[string]int16{"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}[name]
			if batch.Magic != 2 || batch.Attributes != wantCodec || batch.FirstOffset != 0 ||
				batch.ProducerID != -1 || batch.ProducerEpoch != -1 || batch.FirstSequence != -1 ||
				batch.NumRecords != 300 || batch.LastOffsetDelta != 299 ||
				batch.FirstTimestamp != ts || batch.MaxTimestamp != ts {
				t.Fatalf("batch header %+v", batch)
			}
			if name != "none" && len(b) > 300*1000/2 {
				t.Fatalf("%s batch of %d bytes: not compressed", name, len(b))
			}
			if len(recs) != 300 {
				t.Fatalf("%d records decoded, header says 300", len(recs))
			}
			for i, r := range recs {
				if r.OffsetDelta != int32(i) || r.TimestampDelta64 != 0 || r.Key != nil ||
					!bytes.Equal(r.Value, value) || len(r.Headers) != 0 {
					t.Fatalf("record %d: offset delta %d, key %q, %d value bytes", i, r.OffsetDelta, r.Key, len(r.Value))
				}
			}
			// A flipped byte anywhere after the CRC breaks it.
			b[len(b)-1] ^= 1
			if crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)) == binary.BigEndian.Uint32(b[17:]) {
				t.Fatal("CRC does not cover the records")
			}
		})
	}
	if _, err := buildRecordBatch(value, 0, ts, nil); err == nil {
		t.Fatal("empty batch built")
	}
	// An empty value is an empty value, not a null one.
	b, err := buildRecordBatch(nil, 2, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, recs := decodeBatch(t, b); len(recs) != 2 || recs[0].Value == nil || len(recs[0].Value) != 0 {
		t.Fatalf("empty values: %+v", recs)
	}
}

func TestBatchRecordsFillBatchBytes(t *testing.T) {
	for _, tc := range []struct{ size, batchBytes int }{
		{1024, 1 << 20}, {100, 16 << 10}, {0, 4096}, {127, 1000}, {5000, 4096},
	} {
		n := batchRecords(tc.size, tc.batchBytes)
		value := payload(tc.size, 1)
		b, err := buildRecordBatch(value, n, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		// As many as fit: n fit (or n is the one record that must go),
		// n+1 do not.
		if n > 1 && len(b) > tc.batchBytes {
			t.Errorf("size %d in %d: %d records take %d bytes", tc.size, tc.batchBytes, n, len(b))
		}
		more, err := buildRecordBatch(value, n+1, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(more) <= tc.batchBytes {
			t.Errorf("size %d in %d: %d records fit in %d bytes, batchRecords said %d", tc.size, tc.batchBytes, n+1, len(more), n)
		}
	}
}

// rawRun produces with Raw set and reads the topic back with both readers.
func rawRun(t *testing.T, ctx context.Context, cfg ProduceConfig) *Summary {
	t.Helper()
	cfg.Raw = true
	sum, err := ProduceRun{Produce: cfg, ConsumeAfter: true, RawConsumeAfter: true}.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Workload == nil || !sum.Workload.Raw || sum.Workload.Idempotent || sum.Workload.BatchRecords <= 0 {
		t.Fatalf("workload %+v", sum.Workload)
	}
	return sum
}

func TestRawProduceKfake(t *testing.T) {
	cc := newKfake(t)
	ctx := testContext(t)
	for _, acks := range []string{"all", "1", "0"} {
		t.Run("acks="+acks, func(t *testing.T) {
			// 16 KiB batches of 100 B records over 3 partitions: 5000 is
			// not a whole number of requests, so the last one is cut.
			sum := rawRun(t, ctx, ProduceConfig{
				ClientConfig: cc, Topic: "raw-" + acks, RecordSize: 100, Records: 5000,
				Partitions: 3, Producers: 2, Acks: acks, BatchBytes: 16 << 10, MaxInflight: 3,
			})
			p := sum.Produce
			if p.Records != 5000 || p.Bytes != 500_000 || p.Errors != 0 {
				t.Fatalf("produce: %d records, %d bytes, %d errors", p.Records, p.Bytes, p.Errors)
			}
			perRequest := int64(3 * sum.Workload.BatchRecords)
			requests := uint64((5000 + perRequest - 1) / perRequest)
			if acks == "0" {
				if p.Latency.Count != 0 {
					t.Fatalf("acks=0 has latencies: %+v", p.Latency)
				}
			} else if p.Latency.Count != requests {
				t.Fatalf("latency count %d, want one per request (%d)", p.Latency.Count, requests)
			}
			if c := sum.Consume; c.Records != 5000 || c.Bytes != 500_000 {
				t.Fatalf("read back: %+v", c)
			}
			if r := sum.ConsumeRaw; r.Records != 5000 || r.Bytes != 500_000 {
				t.Fatalf("raw read back: %+v", r)
			}
		})
	}
	// Compressed batches: kfake validates them and kgo decodes them back.
	for _, codec := range []string{"lz4", "zstd"} {
		sum := rawRun(t, ctx, ProduceConfig{
			ClientConfig: cc, Topic: "raw-" + codec, RecordSize: 200, Records: 3000, Partitions: 2,
			Producers: 1, Compression: codec, BatchBytes: 32 << 10,
		})
		if sum.Produce.Records != 3000 || sum.Consume.Records != 3000 || sum.Consume.Bytes != 600_000 ||
			sum.Workload.Compression != codec {
			t.Fatalf("%s: produced %+v, read %+v", codec, sum.Produce, sum.Consume)
		}
	}
}

func TestRawProduceRate(t *testing.T) {
	cc := newKfake(t)
	// 2 partitions x 10 records per request; 400 records at 2000/s is 20
	// requests over about 0.2 s.
	start := time.Now()
	sum, err := RunProduce(testContext(t), ProduceConfig{
		ClientConfig: cc, Topic: "rate", RecordSize: 100, Records: 400, Partitions: 2,
		Producers: 1, Rate: 2000, Raw: true,
		BatchBytes: 61 + 10*109, // a record of 100 B takes 109 bytes
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Workload.BatchRecords != 10 || sum.Produce.Records != 400 {
		t.Fatalf("workload %+v, produce %+v", sum.Workload, sum.Produce)
	}
	// The 20th request is due 19/100 s after the first.
	if d := time.Since(start); d < 190*time.Millisecond {
		t.Fatalf("400 records at 2000/s took %v", d)
	}
}

func TestRawProduceErrorCodeEndsRun(t *testing.T) {
	cc := newKfake(t)
	// 2 MiB batches exceed kfake's message.max.bytes (about 1 MiB).
	start := time.Now()
	sum, err := RunProduce(testContext(t), ProduceConfig{
		ClientConfig: cc, Topic: "big", RecordSize: 10_000, Duration: time.Minute,
		Partitions: 2, Producers: 2, BatchBytes: 2 << 20, Raw: true,
	})
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("error %v, want MESSAGE_TOO_LARGE", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("the run took %v to fail", d)
	}
	if p := sum.Produce; p == nil || p.Records != 0 || p.Errors <= 0 || !strings.Contains(p.FirstError, "MESSAGE_TOO_LARGE") {
		t.Fatalf("produce %+v", sum.Produce)
	}
}

func TestRawProduceBrokerGoneEndsRun(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			c.Close()
		}
	})
	cc := ClientConfig{Brokers: c.ListenAddrs()}
	ctx := testContext(t)
	if _, err := EnsureTopic(ctx, cc, "gone", 1); err != nil {
		t.Fatal(err)
	}
	type result struct {
		sum *Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := RunProduce(ctx, ProduceConfig{
			ClientConfig: cc, Topic: "gone", RecordSize: 100, Duration: time.Minute,
			Producers: 1, BatchBytes: 16 << 10, Raw: true,
		})
		done <- result{sum, err}
	}()
	// Once records arrive, the broker goes away.
	cl, err := kgo.NewClient(cc.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	for {
		ends, err := adm.ListEndOffsets(ctx, "gone")
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := ends.Lookup("gone", 0); ok && o.Offset > 0 {
			break
		}
		if err := (SystemClock{}).Sleep(ctx, 10*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	start := time.Now()
	c.Close()
	closed = true
	select {
	case r := <-done:
		if r.err == nil {
			t.Fatalf("no error after the broker went away: %+v", r.sum.Produce)
		}
		if r.sum.Produce == nil || r.sum.Produce.Records <= 0 {
			t.Fatalf("records acknowledged before the broker went away are lost: %+v", r.sum.Produce)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not end within 30s of the broker going away")
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("the run took %v to notice", d)
	}
}

func TestRawProduceStartedBroker(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sum, err := ProduceRun{
		Produce: ProduceConfig{Topic: "sub", RecordSize: 200, Records: 4000, Partitions: 2, Producers: 1,
			BatchBytes: 64 << 10, Raw: true, ClientConfig: ClientConfig{Brokers: []string{"unused"}}},
		Broker: &BrokerSpec{Command: "env " + helperPortEnv + "={port} " + exe + " -test.run=^$", DataDirBase: t.TempDir()},
	}.Run(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	b := sum.Broker
	if b == nil || b.BytesMoved != 800_000 || b.PeakRSSBytes <= 0 || b.ProduceCPUSeconds != b.CPUSeconds {
		t.Fatalf("broker stats %+v", b)
	}
	if sum.Produce.Records != 4000 || !sum.Workload.Raw {
		t.Fatalf("produce %+v workload %+v", sum.Produce, sum.Workload)
	}
}

// TestE2EStartedBroker checks that an e2e run counts what its consumer
// read as moved, like the read-backs of a produce run.
func TestE2EStartedBroker(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sum, err := E2ERun{
		E2E: E2EConfig{ProduceConfig: ProduceConfig{Topic: "e2e", RecordSize: 200, Records: 2000, Partitions: 2, Producers: 1,
			Rate: 20000, ClientConfig: ClientConfig{Brokers: []string{"unused"}}}},
		Broker: &BrokerSpec{Command: "env " + helperPortEnv + "={port} " + exe + " -test.run=^$", DataDirBase: t.TempDir()},
	}.Run(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if sum.E2E.Received != 2000 || sum.E2E.Bytes != 400_000 {
		t.Fatalf("e2e %+v", sum.E2E)
	}
	if b := sum.Broker; b == nil || b.BytesMoved != 800_000 {
		t.Fatalf("broker stats %+v", b)
	}
}
