package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestPacedRequestDecodes builds paced Produce requests in every request
// format (v3-v8, flexible v9-v12, topic IDs from v13) and reads them back
// with kmsg: the header, the partitions the records stick to, each batch
// (CRC included, by decodeBatch) and every record's stamp and value.
func TestPacedRequestDecodes(t *testing.T) {
	const size, perBatch = 100, 7
	topicID := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	for _, version := range []int16{3, 8, 9, 12, 13} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			s := &rawProducers{cfg: &ProduceConfig{RecordSize: size}, acks: -1, topic: "paced", topicID: topicID, perBatch: perBatch}
			l := &rawLeader{partitions: []int32{0, 3, 5}, version: version}
			r := &pacedRequest{s: s, l: l, value: payload(size, 9)}
			// Records sent so far; the next request's records continue the
			// stamps and the partition they stick to.
			var sent int64
			want := []struct {
				n     int
				parts []int32
				each  []int
			}{
				{5, []int32{0}, []int{5}},
				{r.room() - 5, []int32{0, 3, 5}, []int{2, 7, 7}}, // room is a full circle less what 0 has
				{10, []int32{0, 3}, []int{7, 3}},
				{1, []int32{3}, []int{1}},
			}
			for i, w := range want {
				if i == 1 && r.room() != 2+7+7 {
					t.Fatalf("room %d after 5 records, want %d", r.room(), 2+7+7)
				}
				const first, step = 1_000_000, 250.0
				frame, np := r.build(int32(i+1), w.n, first+int64(float64(sent)*step), step)
				if np != len(w.parts) {
					t.Fatalf("request %d names %d partitions, want %d", i, np, len(w.parts))
				}
				if got := binary.BigEndian.Uint32(frame); int(got) != len(frame)-4 {
					t.Fatalf("frame size %d, %d bytes follow", got, len(frame)-4)
				}
				if key, v, corr := binary.BigEndian.Uint16(frame[4:]), int16(binary.BigEndian.Uint16(frame[6:])), binary.BigEndian.Uint32(frame[8:]); key != 0 || v != version || corr != uint32(i+1) {
					t.Fatalf("header: key %d, version %d, correlation %d", key, v, corr)
				}
				req := kmsg.NewPtrProduceRequest()
				req.SetVersion(version)
				body := frame[14+len(rawProducerClientID):]
				if req.IsFlexible() {
					body = body[1:] // header tags
				}
				if err := req.ReadFrom(body); err != nil {
					t.Fatalf("request %d: kmsg cannot read it: %v", i, err)
				}
				if req.Acks != -1 || req.TimeoutMillis != rawProduceTimeoutMs || req.TransactionID != nil || len(req.Topics) != 1 {
					t.Fatalf("request %d: acks %d, timeout %d, txn %v, %d topics", i, req.Acks, req.TimeoutMillis, req.TransactionID, len(req.Topics))
				}
				rt := req.Topics[0]
				if version >= 13 && rt.TopicID != topicID || version < 13 && rt.Topic != "paced" {
					t.Fatalf("request %d names topic %q / %x", i, rt.Topic, rt.TopicID)
				}
				if len(rt.Partitions) != len(w.parts) {
					t.Fatalf("request %d: %d partitions, want %v", i, len(rt.Partitions), w.parts)
				}
				for j, rp := range rt.Partitions {
					if rp.Partition != w.parts[j] {
						t.Fatalf("request %d: partition %d, want %d", i, rp.Partition, w.parts[j])
					}
					batch, recs := decodeBatch(t, rp.Records)
					if len(recs) != w.each[j] || int(batch.NumRecords) != w.each[j] || batch.ProducerID != -1 || batch.Attributes != 0 {
						t.Fatalf("request %d, partition %d: %d records (header %d), producer %d, attributes %d; want %d",
							i, rp.Partition, len(recs), batch.NumRecords, batch.ProducerID, batch.Attributes, w.each[j])
					}
					for k, rec := range recs {
						stamp := first + int64(float64(sent)*step)
						if got := int64(binary.BigEndian.Uint64(rec.Value)); got != stamp {
							t.Fatalf("record %d stamped %d, want %d", sent, got, stamp)
						}
						if len(rec.Value) != size || !bytes.Equal(rec.Value[8:], r.value[8:]) || rec.Key != nil || rec.OffsetDelta != int32(k) {
							t.Fatalf("record %d: value %d bytes, key %q, offset delta %d", sent, len(rec.Value), rec.Key, rec.OffsetDelta)
						}
						sent++
					}
				}
			}
		})
	}
}

// TestPacedRequestRoomNamesEachPartitionOnce fills requests to the brim
// from every position: no request names a partition twice.
func TestPacedRequestRoomNamesEachPartitionOnce(t *testing.T) {
	s := &rawProducers{cfg: &ProduceConfig{RecordSize: 16}, acks: 1, topic: "t", perBatch: 3}
	l := &rawLeader{partitions: []int32{0, 1, 2, 3}, version: 9}
	r := &pacedRequest{s: s, l: l, value: payload(16, 1)}
	for i := range 20 {
		r.build(1, 1+i%3, 0, 1) // move the start around
		frame, np := r.build(2, r.room(), 0, 1)
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(9)
		if err := req.ReadFrom(frame[14+len(rawProducerClientID)+1:]); err != nil {
			t.Fatal(err)
		}
		seen := map[int32]bool{}
		for _, rp := range req.Topics[0].Partitions {
			if seen[rp.Partition] {
				t.Fatalf("partition %d named twice", rp.Partition)
			}
			seen[rp.Partition] = true
		}
		if np != len(seen) || np != len(l.partitions) {
			t.Fatalf("%d partitions named, %d distinct, %d exist", np, len(seen), len(l.partitions))
		}
	}
}

// TestRawE2ESamsa runs the raw end-to-end workload against a real Samsa
// broker: every record arrives, stamped in the order it fell due, and the
// records are readable by a kgo consumer.
func TestRawE2ESamsa(t *testing.T) {
	cc := newSamsa(t)
	ctx := testContext(t)
	const n, size = 5000, 200
	sum, err := RunE2E(ctx, E2EConfig{ProduceConfig: ProduceConfig{
		ClientConfig: cc, Topic: "raw-e2e", RecordSize: size, Records: n, Partitions: 3, Producers: 2, Rate: 20_000,
		Raw: true, BatchBytes: 16 << 10, Acks: "all",
	}, RawConsumer: true})
	if err != nil {
		t.Fatal(err)
	}
	if e := sum.E2E; sum.Produce.Records != n || e.Received != n || e.Missing != 0 || e.Latency.Count == 0 {
		t.Fatalf("produced %d, e2e %+v", sum.Produce.Records, e)
	}
	cl, err := kgo.NewClient(append(cc.opts(), kgo.ConsumeTopics("raw-e2e"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Each producer connection stamps its records in schedule order, so
	// in a partition the stamps of one connection never go back; with two
	// producers, two increasing sequences interleave.
	last := map[int32][2]int64{}
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			stamp := int64(binary.BigEndian.Uint64(r.Value))
			l := last[r.Partition]
			switch {
			case len(r.Value) != size:
				t.Fatalf("%d/%d: %d bytes", r.Partition, r.Offset, len(r.Value))
			case stamp <= 0 || stamp > int64(time.Minute):
				t.Fatalf("%d/%d: stamp %d", r.Partition, r.Offset, stamp)
			case stamp >= l[0]:
				l[0] = stamp
			case stamp >= l[1]:
				l[1] = stamp
			default:
				t.Fatalf("%d/%d: stamp %d after %v", r.Partition, r.Offset, stamp, l)
			}
			last[r.Partition] = l
		})
	}
}
